import NTLM
import NTLMHTTP

/// One request in Samba's `ntlm_auth --helper-protocol=ntlm-server-1` protocol
/// (source3/utils/ntlm_auth.c, `manage_ntlm_server_1_request`): `Key: value` lines, a value
/// that is not plain printable ASCII as `Key:: base64`, and a line `.` that ends the request.
///
/// Either a challenge/response pair from an NTLM Type 3 (`LANMAN-Challenge`, `NT-Response`,
/// `LANMAN-Response` in hex, checked by winbindd's PAM_AUTH_CRAP) or a plaintext password
/// for HTTP Basic (`Password`, checked by winbindd's PAM_AUTH).
///
/// The encoder refuses what would make the helper answer out of turn: ntlm_auth answers a
/// bad `LANMAN-Challenge` (not 8 bytes), `NT-Response` (under 24 bytes) or `LANMAN-Response`
/// (not 24 bytes) at once with an `Error:` answer and then answers the `.` as well.
/// `description` and reflection never show the proof.
public struct NTLMServerHelperRequest: Sendable, CustomStringConvertible, CustomDebugStringConvertible, CustomReflectable {
    /// What proves the user's password.
    public enum Proof: Sendable {
        /// The server challenge and the client's responses from a Type 3.
        case challengeResponse(challenge: [UInt8], lmResponse: [UInt8], ntResponse: [UInt8])
        /// A plaintext password (HTTP Basic).
        case plaintext(Password)
    }

    /// The user name as the client sent it.
    public var user: String
    /// The domain to check the user in; empty lets ntlm_auth use winbind's own domain.
    public var domain: String
    public var proof: Proof
    /// Ask for `User-Session-Key` (the SessionBaseKey), needed for the MIC and signing.
    public var requestsUserSessionKey: Bool
    /// Ask for `LANMAN-Session-Key` (the first 8 bytes of the LM hash), needed only for
    /// NTLMv1 with LM_KEY or "request non-NT session key".
    public var requestsLMSessionKey: Bool

    public init(user: String, domain: String, proof: Proof, requestsUserSessionKey: Bool = true, requestsLMSessionKey: Bool = false) {
        self.user = user
        self.domain = domain
        self.proof = proof
        self.requestsUserSessionKey = requestsUserSessionKey
        self.requestsLMSessionKey = requestsLMSessionKey
    }

    /// The request for what an acceptor extracted from a Type 3: the user in its lookup
    /// domain, the challenge and both responses, the user session key always and the LM
    /// session key only where the key exchange of that NTLMv1 variant needs it.
    ///
    /// winbindd checks a response against the challenge it is given and knows nothing of
    /// extended session security, so an NTLMv1 response with ESS goes with the challenge it
    /// really answers (`effectiveChallenge`) and without its LM field, which then only
    /// carries the client challenge (as Samba's own NTLMSSP server does).
    public init(_ request: NTLMVerificationRequest) {
        let lmKeyFlags: NegotiateFlags = [.lmKey, .requestNonNTSessionKey]
        let needsLMKey = (request.kind == .ntlmv1 || request.kind == .lm) && !request.flags.intersection(lmKeyFlags).isEmpty
        let extended = request.kind == .ntlmv1ExtendedSessionSecurity
        self.init(user: request.user, domain: request.lookupDomain,
                  proof: .challengeResponse(challenge: request.effectiveChallenge, lmResponse: extended ? [] : request.lmChallengeResponse,
                                            ntResponse: request.ntChallengeResponse),
                  requestsUserSessionKey: true, requestsLMSessionKey: needsLMKey)
    }

    /// A plaintext logon (HTTP Basic). ntlm_auth answers it with `Authenticated: Yes|No` only.
    public init(user: String, domain: String, password: Password) {
        self.init(user: user, domain: domain, proof: .plaintext(password), requestsUserSessionKey: false)
    }

    public var isPlaintext: Bool {
        if case .plaintext = proof { return true }
        return false
    }

    /// The request's bytes, ending with the `.` line.
    public func encoded() throws(NTLMServerHelperError) -> [UInt8] {
        var lines = Lines()
        guard !user.isEmpty, !user.unicodeScalars.contains("\0") else { throw .invalidValue(field: "Username") }
        guard !domain.unicodeScalars.contains("\0") else { throw .invalidValue(field: "NT-Domain") }
        switch proof {
        case .plaintext(let password):
            let plaintext = password.revealForBasic()
            guard !plaintext.unicodeScalars.contains("\0") else { throw .invalidValue(field: "Password") }
            if domain.isEmpty {
                // Without NT-Domain, ntlm_auth would build "(null)\user"; a full user name
                // without a separator is looked up in winbind's own domain.
                lines.text("Full-Username", user)
            } else {
                lines.text("Username", user)
                lines.text("NT-Domain", domain)
            }
            lines.text("Password", plaintext)
        case .challengeResponse(let challenge, let lmResponse, let ntResponse):
            guard challenge.count == 8 else { throw .invalidLength(field: "LANMAN-Challenge", length: challenge.count) }
            guard ntResponse.isEmpty || ntResponse.count >= 24 else {
                throw .invalidLength(field: "NT-Response", length: ntResponse.count)
            }
            // An LM response of any other length is left out: the NT response proves the
            // password, and ntlm_auth refuses LM responses that are not 24 bytes.
            let sendsLM = lmResponse.count == 24
            guard !ntResponse.isEmpty || sendsLM else { throw .missingResponse }
            lines.text("Username", user)
            if !domain.isEmpty { lines.text("NT-Domain", domain) }
            lines.plain("LANMAN-Challenge", HexCoding.encode(challenge))
            if !ntResponse.isEmpty { lines.plain("NT-Response", HexCoding.encode(ntResponse)) }
            if sendsLM { lines.plain("LANMAN-Response", HexCoding.encode(lmResponse)) }
            if requestsUserSessionKey { lines.plain("Request-User-Session-Key", "Yes") }
            if requestsLMSessionKey { lines.plain("Request-LanMan-Session-Key", "Yes") }
        }
        lines.bytes += Array(".\n".utf8)
        return lines.bytes
    }

    /// The request `.` alone: ntlm_auth answers `Error: No username supplied!` without
    /// asking winbindd anything, so it shows the helper is up and speaks the protocol without
    /// a logon attempt (nothing in winbindd's audit log, nothing towards a lockout).
    public static let probe: [UInt8] = Array(".\n".utf8)

    /// Whether `value` can go as `Key: value`. ntlm_auth splits a line at the first `:: `
    /// (base64) or else the first `: `, so a value with a colon, a non-ASCII or control
    /// character, or spaces at its ends travels as base64.
    static func isPlain(_ value: String) -> Bool {
        guard value.first != " ", value.last != " " else { return false }
        return value.utf8.allSatisfy { $0 >= 0x20 && $0 < 0x7F && $0 != UInt8(ascii: ":") }
    }

    private struct Lines {
        var bytes: [UInt8] = []

        mutating func plain(_ key: String, _ value: String) {
            bytes += Array("\(key): \(value)\n".utf8)
        }

        mutating func text(_ key: String, _ value: String) {
            if NTLMServerHelperRequest.isPlain(value) {
                plain(key, value)
            } else {
                bytes += Array("\(key):: \(Base64.encode(Array(value.utf8)))\n".utf8)
            }
        }
    }

    public var description: String {
        let kind = isPlaintext ? "plaintext" : "challenge/response"
        return "ntlm-server-1 \(kind) request for \(domain.isEmpty ? "" : domain + "\\")\(user)"
    }

    public var debugDescription: String { description }

    public var customMirror: Mirror {
        Mirror(self, children: ["user": user, "domain": domain], displayStyle: .struct)
    }
}
