import Kerberos
import NTLM

/// The schemes ntlmproxy speaks to an upstream.
public enum HTTPAuthScheme: String, Hashable, Sendable, CaseIterable {
    case basic = "Basic"
    case ntlm = "NTLM"
    case negotiate = "Negotiate"
}

/// Why authenticating to an upstream failed.
public enum HTTPAuthError: Error, Hashable, Sendable, CustomStringConvertible {
    /// The upstream offered no scheme we may use (the offered scheme names are listed).
    case noUsableScheme(offered: [String])
    /// A challenge header could not be parsed.
    case malformedChallenge(AuthHeaderError)
    /// The upstream's NTLM/SPNEGO token was invalid.
    case protocolError(NTLMError)
    /// The upstream rejected the credential (a failed logon). Never retried automatically.
    case rejected(scheme: HTTPAuthScheme, user: String)
    /// The upstream kept asking for more legs than any handshake needs.
    case tooManyLegs
    /// The upstream closed the connection in the middle of every handshake we tried.
    case connectionClosedDuringHandshake
    /// Basic would send the password in clear text over plain HTTP and was not allowed.
    case basicNotAllowed
    /// Kerberos was required (or was the only way) and no ticket could be had, or the KDC
    /// refused the credential, or the server's mutual authentication failed.
    case kerberos(KerberosError)
    /// The upstream refused our Kerberos ticket (wrong service keys, clock skew, no such
    /// mechanism there). Not a failed logon: the KDC accepted the credential.
    case kerberosTicketRefused(service: String)

    public var description: String {
        switch self {
        case .noUsableScheme(let offered):
            return "upstream offers no usable authentication scheme (offered: \(offered.isEmpty ? "none" : offered.joined(separator: ", ")))"
        case .malformedChallenge(let error): return "malformed challenge from upstream: \(error)"
        case .protocolError(let error): return "invalid authentication token from upstream: \(error)"
        case .rejected(let scheme, let user): return "upstream rejected the \(scheme.rawValue) credential of \(user)"
        case .tooManyLegs: return "upstream asked for too many authentication legs"
        case .connectionClosedDuringHandshake: return "upstream closed the connection during the authentication handshake"
        case .basicNotAllowed: return "Basic authentication over plain HTTP is not allowed for this upstream"
        case .kerberos(let error): return "\(error)"
        case .kerberosTicketRefused(let service): return "upstream refused the Kerberos ticket for \(service)"
        }
    }
}

/// One scheme's side of an HTTP authentication exchange (RFC 9110 §11): it produces the
/// `Authorization` values and consumes the server's challenge tokens.
public protocol HTTPAuthenticator: Sendable {
    var scheme: HTTPAuthScheme { get }
    /// NTLM (raw or in SPNEGO) authenticates the connection: every leg must go over the same
    /// connection, and the connection stays authenticated afterwards (RFC 4559 §4; MS-NTHT).
    var isConnectionBound: Bool { get }
    /// The first credentials to send.
    mutating func initialAuthorization() throws(HTTPAuthError) -> String
    /// The next credentials answering `challenge` (our scheme's challenge from a 401/407), or
    /// `nil` when the challenge means the server refused what we sent.
    mutating func nextAuthorization(for challenge: AuthChallenge) throws(HTTPAuthError) -> String?
    /// The TLS channel bindings of the connection the next leg goes over (the handshake may
    /// have moved to a new connection since the authenticator was made).
    mutating func useChannelBindings(_ bindings: ChannelBindings?)
}

extension HTTPAuthenticator {
    public mutating func useChannelBindings(_ bindings: ChannelBindings?) {}
}

/// Basic (RFC 7617): one leg, the password in every request.
public struct BasicAuthenticator: HTTPAuthenticator {
    public let scheme = HTTPAuthScheme.basic
    public let isConnectionBound = false
    let value: String

    public init(user: String, password: Password) {
        value = "Basic " + Base64.encode(Array("\(user):\(password.revealForBasic())".utf8))
    }

    public mutating func initialAuthorization() throws(HTTPAuthError) -> String { value }
    public mutating func nextAuthorization(for challenge: AuthChallenge) throws(HTTPAuthError) -> String? { nil }
}

/// Raw NTLM (`Authorization: NTLM <base64>`): Type 1, then Type 3 answering the Type 2.
public struct NTLMAuthenticator: HTTPAuthenticator {
    public let scheme = HTTPAuthScheme.ntlm
    public let isConnectionBound = true
    var initiator: NTLMInitiator
    var sentType3 = false

    public init(credentials: NTLMCredentials, policy: NTLMInitiatorPolicy = .default, channelBindings: ChannelBindings? = nil, targetName: String? = nil) {
        initiator = NTLMInitiator(credentials: credentials, policy: policy, channelBindings: channelBindings, targetName: targetName)
    }

    public mutating func initialAuthorization() throws(HTTPAuthError) -> String {
        sentType3 = false
        return "NTLM " + Base64.encode(initiator.negotiate())
    }

    public mutating func nextAuthorization(for challenge: AuthChallenge) throws(HTTPAuthError) -> String? {
        // A bare `NTLM` after our Type 3 is the server's "no" (MS-NTHT 2.2.2).
        guard !sentType3, let token = challenge.token68 else { return nil }
        guard let type2 = Base64.decode(token) else { throw .malformedChallenge(.invalidBase64) }
        do {
            let type3 = try initiator.authenticate(challenge: type2)
            sentType3 = true
            return "NTLM " + Base64.encode(type3)
        } catch {
            throw .protocolError(error)
        }
    }

    /// The signing context, once the Type 3 was produced.
    public var session: NTLMSession? { initiator.session }

    public mutating func useChannelBindings(_ bindings: ChannelBindings?) {
        initiator.channelBindings = bindings
    }
}

/// `Negotiate` (RFC 4559) carrying NTLM inside SPNEGO, for servers that offer only
/// Negotiate when no Kerberos ticket is at hand (Kerberos: `KerberosAuthenticator`).
public struct NegotiateNTLMAuthenticator: HTTPAuthenticator {
    public let scheme = HTTPAuthScheme.negotiate
    public let isConnectionBound = true
    var spnego: SPNEGOInitiator
    var legs = 0

    public init(credentials: NTLMCredentials, policy: NTLMInitiatorPolicy = .default, channelBindings: ChannelBindings? = nil, targetName: String? = nil) {
        spnego = SPNEGOInitiator(ntlm: NTLMInitiator(credentials: credentials, policy: policy, channelBindings: channelBindings, targetName: targetName))
    }

    public mutating func initialAuthorization() throws(HTTPAuthError) -> String {
        legs = 0
        do {
            return "Negotiate " + Base64.encode(try spnego.initialToken())
        } catch {
            throw .protocolError(error)
        }
    }

    public mutating func nextAuthorization(for challenge: AuthChallenge) throws(HTTPAuthError) -> String? {
        guard let token = challenge.token68 else { return nil }
        guard let bytes = Base64.decode(token) else { throw .malformedChallenge(.invalidBase64) }
        legs += 1
        guard legs <= 2 else { return nil }
        do {
            guard let next = try spnego.step(bytes) else { return nil }
            return "Negotiate " + Base64.encode(next)
        } catch {
            throw .protocolError(error)
        }
    }

    public mutating func useChannelBindings(_ bindings: ChannelBindings?) {
        spnego.channelBindings = bindings
    }

    /// Checks the server's final token (with the 2xx), which carries its mechListMIC.
    public mutating func verifyFinal(_ challenge: AuthChallenge) throws(HTTPAuthError) {
        guard let token = challenge.token68, let bytes = Base64.decode(token) else { return }
        do {
            _ = try spnego.step(bytes)
        } catch {
            throw .protocolError(error)
        }
    }
}
