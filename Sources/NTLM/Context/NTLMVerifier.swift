/// What an acceptor hands to a verifier: the identity claimed in a Type 3 and the proof,
/// with the challenge it answers. A verifier checks the proof against the password it knows
/// (a local hash store) or asks someone who does (a domain controller via Samba).
public struct NTLMVerificationRequest: Sendable {
    /// Which kind of proof the client sent.
    public enum ResponseKind: Hashable, Sendable {
        case ntlmv2
        /// NTLMv1 with extended session security (the "NTLM2 session response").
        case ntlmv1ExtendedSessionSecurity
        case ntlmv1
        /// Only an LM or LMv2 response.
        case lm
    }

    /// The user name as sent.
    public let user: String
    /// The domain as sent (may be empty). NTLMv2 proofs are computed with exactly this.
    public let domain: String
    /// The domain to look the user up in: `domain`, or the acceptor's default if it is empty.
    public let lookupDomain: String
    public let workstation: String
    public let serverChallenge: [UInt8]
    public let lmChallengeResponse: [UInt8]
    public let ntChallengeResponse: [UInt8]
    public let flags: NegotiateFlags
    public let kind: ResponseKind
}

/// A verifier's positive answer: the canonical identity and the SessionBaseKey, which the
/// acceptor needs to check the MIC and set up signing.
public struct NTLMVerifiedUser: Hashable, Sendable {
    public var user: String
    public var domain: String
    /// The SessionBaseKey (MS-NLMP 3.3), if the verifier can provide it.
    public var sessionBaseKey: SessionKey?
    /// The first 8 bytes of the LM hash, needed only for NTLMv1 with LM_KEY.
    public var lmSessionKey: SessionKey?

    public init(user: String, domain: String, sessionBaseKey: SessionKey?, lmSessionKey: SessionKey? = nil) {
        self.user = user
        self.domain = domain
        self.sessionBaseKey = sessionBaseKey
        self.lmSessionKey = lmSessionKey
    }
}

/// Checks NTLM proofs. The local hash store is one; a Samba `ntlm_auth` pool is another.
public protocol NTLMVerifier: Sendable {
    func verify(_ request: NTLMVerificationRequest) async throws(NTLMRejection) -> NTLMVerifiedUser
}

/// A verifier that answers without waiting (no I/O), usable from synchronous code.
public protocol NTLMSynchronousVerifier: NTLMVerifier {
    func verifySynchronously(_ request: NTLMVerificationRequest) throws(NTLMRejection) -> NTLMVerifiedUser
}

extension NTLMSynchronousVerifier {
    public func verify(_ request: NTLMVerificationRequest) async throws(NTLMRejection) -> NTLMVerifiedUser {
        try verifySynchronously(request)
    }
}

extension NTLMVerificationRequest {
    /// The 8-byte challenge the NT response answers: the server challenge, except for NTLMv1
    /// with extended session security, which answers MD5(ServerChallenge || ClientChallenge)
    /// truncated to 8 bytes (MS-NLMP 3.3.1). For a verifier that takes a challenge as given,
    /// such as Samba's winbindd.
    public var effectiveChallenge: [UInt8] {
        guard kind == .ntlmv1ExtendedSessionSecurity, lmChallengeResponse.count >= 8 else { return serverChallenge }
        return Array(NTLMCrypto.md5(serverChallenge, Array(lmChallengeResponse.prefix(8))).prefix(8))
    }
}
