import SwiftASN1

/// SPNEGO framing of Kerberos tokens (RFC 4178, RFC 4559 §4), as pure functions: the
/// Kerberos tokens themselves come from the system GSSAPI, SPNEGO around them is ours, so that
/// one SPNEGO implementation serves NTLM and Kerberos on both sides.
///
/// HTTP Kerberos completes in one leg: the client's NegTokenInit offers krb5 with the AP-REQ
/// as its optimistic token; the server answers accept-completed with the AP-REP. When the
/// mechanism chosen is the initiator's first, the mechListMIC exchange is optional
/// (RFC 4178 §5) and neither side sends one.
public enum SPNEGOKerberos {
    /// The client's first token: a NegTokenInit offering Kerberos 5 only, carrying `apReq` (a
    /// krb5 InitialContextToken) as the optimistic mechToken.
    public static func initialToken(apReq: [UInt8]) throws(SPNEGOError) -> [UInt8] {
        try SPNEGOToken.initial(NegTokenInit(mechTypes: [SPNEGOMechanism.kerberos5.oid], mechToken: apReq)).serialize()
    }

    /// What the server said to our Kerberos NegTokenInit.
    public struct ServerReply: Hashable, Sendable {
        public var negState: NegTokenResp.NegState?
        /// The AP-REP (mutual authentication), if the server sent one.
        public var responseToken: [UInt8]?
    }

    /// Reads the server's NegTokenResp (untrusted bytes). A reject, or a mechanism other than
    /// Kerberos, throws `noAcceptableMechanism`.
    public static func serverReply(_ bytes: [UInt8]) throws(SPNEGOError) -> ServerReply {
        // Some servers answer with the bare krb5 token (no SPNEGO around it).
        if isKerberos5InitialContextToken(bytes) {
            return ServerReply(negState: .acceptCompleted, responseToken: bytes)
        }
        guard let response = try SPNEGOToken(derEncoded: bytes).negTokenResp else {
            throw .unexpectedChoice(tag: SPNEGOToken.negTokenInitIdentifier)
        }
        if response.negState == .reject { throw .noAcceptableMechanism }
        if let mech = response.supportedMechanism.map({ $0.isKerberos }), !mech { throw .noAcceptableMechanism }
        if response.supportedMech != nil && response.supportedMechanism == nil { throw .noAcceptableMechanism }
        return ServerReply(negState: response.negState, responseToken: response.responseToken)
    }

    /// A client's Kerberos offer: the OID it named Kerberos by (Windows uses Microsoft's legacy
    /// OID first) and its AP-REQ.
    public struct KerberosOffer: Hashable, Sendable {
        public let mech: ASN1ObjectIdentifier
        public let apReq: [UInt8]
    }

    /// The Kerberos token of a client's NegTokenInit, when Kerberos is its first (preferred)
    /// mechanism and it sent an optimistic token.
    public static func optimisticKerberosOffer(in negTokenInit: NegTokenInit) -> KerberosOffer? {
        guard let first = negTokenInit.mechTypes.first, SPNEGOMechanism(oid: first)?.isKerberos == true,
              let token = negTokenInit.mechToken, !token.isEmpty
        else { return nil }
        return KerberosOffer(mech: first, apReq: token)
    }

    /// The same for the bytes of a `Negotiate` token; `nil` for anything else (NTLM first, a
    /// response token, malformed bytes).
    public static func optimisticKerberosOffer(inToken bytes: [UInt8]) -> KerberosOffer? {
        guard let initial = try? SPNEGOToken(derEncoded: bytes).negTokenInit else { return nil }
        return optimisticKerberosOffer(in: initial)
    }

    /// The acceptor's final token: accept-completed for the client's Kerberos OID, with the
    /// AP-REP when there is one (RFC 4178 §5: Kerberos was the client's first choice, so no
    /// mechListMIC is needed).
    public static func acceptCompleted(_ offer: KerberosOffer, apRep: [UInt8]?) throws(SPNEGOError) -> [UInt8] {
        try SPNEGOToken.response(NegTokenResp(negState: .acceptCompleted, supportedMech: offer.mech, responseToken: apRep.flatMap { $0.isEmpty ? nil : $0 })).serialize()
    }

    /// The DER contents of the krb5 mechanism OID, 1.2.840.113554.1.2.2.
    static let kerberos5OIDContents: [UInt8] = [0x2A, 0x86, 0x48, 0x86, 0xF7, 0x12, 0x01, 0x02, 0x02]

    /// Whether `bytes` start like a raw Kerberos 5 InitialContextToken (RFC 2743 §3.1:
    /// `[APPLICATION 0]`, a length, then the krb5 OID) — what some clients send under
    /// `Negotiate` without SPNEGO. Reads only what it checks; never traps.
    public static func isKerberos5InitialContextToken(_ bytes: [UInt8]) -> Bool {
        guard bytes.count > 2, bytes[0] == 0x60 else { return false }
        var index = 1
        let lengthByte = bytes[index]
        index += 1
        if lengthByte & 0x80 != 0 {
            let count = Int(lengthByte & 0x7F)
            guard count >= 1, count <= 4 else { return false }
            index += count
        }
        let oid = kerberos5OIDContents
        guard index + 2 + oid.count <= bytes.count, bytes[index] == 0x06, Int(bytes[index + 1]) == oid.count else { return false }
        return Array(bytes[(index + 2)..<(index + 2 + oid.count)]) == oid
    }
}
