/// Why an acceptor refused an authentication attempt.
///
/// The cases are detailed for the operator's log; an HTTP client should only ever see a
/// plain 401. No case carries a response, hash or key.
public enum NTLMRejection: Error, Hashable, Sendable {
    /// The message could not be parsed.
    case malformed(NTLMError)
    /// A message arrived out of order (for example a Type 3 before any Type 2).
    case unexpectedMessage(String)
    /// An anonymous logon (empty user and responses), refused unless enabled.
    case anonymousRefused
    /// An NTLMv1 response, refused unless NTLMv1 is enabled.
    case ntlmv1Refused
    /// An LM or LMv2-only response, refused unless LM is enabled.
    case lmRefused
    /// The user is not known to the verifier.
    case unknownUser(domain: String, user: String)
    /// The response does not prove the password (wrong password).
    case invalidResponse(domain: String, user: String)
    /// The NTLMv2 blob's timestamp lies outside the accepted window.
    case timestampOutOfWindow
    /// MsvAvFlags announced a MIC but the message has no MIC field.
    case micMissing
    /// The MIC does not match the three messages (tampering, or a broken client).
    case micInvalid
    /// The client's channel bindings do not match this connection (or are missing when
    /// required).
    case channelBindingsMismatch
    /// The verifier could not be reached or failed (a helper process down, a timeout).
    /// Not the user's fault, and not a failed logon.
    case verifierUnavailable(String)
    /// The verifier knows the user but refuses them (disabled account, missing group).
    case accessDenied(String)
}

extension NTLMRejection: CustomStringConvertible {
    public var description: String {
        switch self {
        case .malformed(let error): return "malformed NTLM message: \(error)"
        case .unexpectedMessage(let what): return "unexpected NTLM message: \(what)"
        case .anonymousRefused: return "anonymous NTLM logon refused"
        case .ntlmv1Refused: return "NTLMv1 response refused (NTLMv1 is disabled)"
        case .lmRefused: return "LM response refused (LM is disabled)"
        case .unknownUser(let domain, let user): return "unknown user \(domain)\\\(user)"
        case .invalidResponse(let domain, let user): return "wrong password for \(domain)\\\(user)"
        case .timestampOutOfWindow: return "NTLMv2 timestamp outside the accepted window"
        case .micMissing: return "MIC announced but missing"
        case .micInvalid: return "MIC does not match"
        case .channelBindingsMismatch: return "channel bindings do not match"
        case .verifierUnavailable(let why): return "credential verifier unavailable: \(why)"
        case .accessDenied(let why): return "access denied: \(why)"
        }
    }

    /// Whether this rejection counts as a failed logon (a wrong credential) as opposed to a
    /// protocol or infrastructure problem.
    public var isCredentialFailure: Bool {
        switch self {
        case .unknownUser, .invalidResponse: return true
        default: return false
        }
    }
}
