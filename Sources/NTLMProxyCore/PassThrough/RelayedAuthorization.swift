import NIOHTTP1
import NTLM
import NTLMHTTP

/// What a client's `Authorization` says about a connection-bound handshake, read (never
/// verified) so that pass-through can pin and log. The header itself is relayed unchanged.
struct RelayedAuthorization: Hashable, Sendable {
    /// Which message of a handshake the header carries.
    enum Leg: Hashable, Sendable {
        /// No NTLM/Negotiate `Authorization` (none, or Basic/Bearer, which are per request).
        case none
        /// NTLM Type 1 or a SPNEGO NegTokenInit carrying one: a handshake (re)starts.
        case negotiate
        /// NTLM Type 3 (raw or in a SPNEGO NegTokenResp): the client's identity as it claims
        /// it, `DOMAIN\user`; the backend decides whether it holds.
        case authenticate(user: String)
        /// A Kerberos AP-REQ (or anything else under Negotiate): the user is inside the
        /// encrypted ticket and unknown to us.
        case opaque
    }

    /// The header's scheme is NTLM or Negotiate: the connection carries an identity.
    let bindsConnection: Bool
    let leg: Leg

    init(_ headers: HTTPHeaders) {
        // The scheme word alone decides pinning: a malformed token under NTLM still goes to
        // the backend over this client's own connection (the backend rejects it there).
        let values = headers["authorization"]
        let schemes = values.map { $0.split(separator: " ", maxSplits: 1).first.map { $0.lowercased() } ?? "" }
        guard let index = schemes.firstIndex(where: { $0 == "ntlm" || $0 == "negotiate" }) else {
            bindsConnection = false
            leg = .none
            return
        }
        bindsConnection = true
        guard let value = try? AuthorizationValue(parsing: values[index]), let token = try? value.decodedToken() else {
            leg = .opaque
            return
        }
        leg = value.hasScheme("NTLM") ? Self.ntlmLeg(token) : Self.negotiateLeg(token)
    }

    /// MS-NLMP 2.2.1: "NTLMSSP\0" then the message type, little-endian, at offset 8.
    static func ntlmLeg(_ token: [UInt8]) -> Leg {
        let signature: [UInt8] = Array("NTLMSSP".utf8) + [0]
        guard token.count >= 12, Array(token[0..<8]) == signature else { return .opaque }
        switch token[8] {
        case 1: return .negotiate
        case 3:
            guard let message = try? AuthenticateMessage(bytes: token) else { return .opaque }
            return .authenticate(user: message.domain.isEmpty ? message.user : "\(message.domain)\\\(message.user)")
        default: return .opaque
        }
    }

    static func negotiateLeg(_ token: [UInt8]) -> Leg {
        guard let spnego = try? SPNEGOToken(derEncoded: token) else {
            // A raw NTLMSSP token under Negotiate (some clients skip SPNEGO), or Kerberos.
            return ntlmLeg(token)
        }
        switch spnego {
        case .initial(let initial):
            guard let inner = initial.mechToken else { return .negotiate }
            let leg = ntlmLeg(inner)
            return leg == .opaque ? .opaque : leg
        case .response(let response):
            guard let inner = response.responseToken else { return .opaque }
            return ntlmLeg(inner)
        }
    }
}
