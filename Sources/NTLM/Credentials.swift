/// Who the initiator authenticates as: user, domain, workstation and the password's hashes.
///
/// A password given here is converted to its NT (and LM) hash at once and not kept.
/// The NTLMv2 response key (NTOWFv2) is computed once here too, since it depends only on the
/// credential, which makes each later handshake cheap.
public struct NTLMCredentials: Hashable, Sendable, CustomStringConvertible {
    public let user: String
    /// The user's domain exactly as configured. NTOWFv2 uses it as given (MS-NLMP 3.3.2),
    /// not the server's target name.
    public let domain: String
    public let workstation: String
    /// All zeros when the credential was built from NTOWFv2 alone (see `hasNTHash`).
    public let ntHash: NTHash
    /// Present only when built from a password of at most 14 characters or given explicitly.
    public let lmHash: LMHash?
    /// `false` when the credential was built from NTOWFv2 alone (cntlm's `PassNTLMv2`): it
    /// can then answer with NTLMv2 only, and `NTLMInitiator` refuses NTLMv1/LM policies.
    public let hasNTHash: Bool
    /// NTOWFv2(password, user, domain).
    let responseKeyNTv2: [UInt8]
    /// The HMAC-MD5 state keyed with NTOWFv2, computed once per credential.
    let responseKeyNTv2MAC: HMACMD5

    public init(user: String, domain: String, workstation: String = "", password: Password) {
        let lm: LMHash? = password.value.unicodeScalars.count <= 14 ? LMHash(password: password) : nil
        self.init(user: user, domain: domain, workstation: workstation, ntHash: NTHash(password: password), lmHash: lm)
    }

    public init(user: String, domain: String, workstation: String = "", ntHash: NTHash, lmHash: LMHash? = nil) {
        self.user = user
        self.domain = domain
        self.workstation = workstation
        self.ntHash = ntHash
        self.lmHash = lmHash
        self.hasNTHash = true
        self.responseKeyNTv2 = NTLMCrypto.ntowfv2(ntHash: ntHash.bytes, user: user, domain: domain)
        self.responseKeyNTv2MAC = HMACMD5(key: responseKeyNTv2)
    }

    /// From NTOWFv2(password, user, domain) alone, the value cntlm's `PassNTLMv2` holds (after
    /// undoing cntlm's complement). That key is bound to this exact user and domain (MS-NLMP
    /// 3.3.2 hashes both into it), so they must be the ones it was computed for; a mismatch
    /// shows only as a rejected logon. Only NTLMv2 responses can be computed from it.
    public init(user: String, domain: String, workstation: String = "", ntowfv2: [UInt8]) throws(NTLMError) {
        guard ntowfv2.count == 16 else { throw .invalidFieldLength(field: "NTOWFv2", length: ntowfv2.count) }
        self.user = user
        self.domain = domain
        self.workstation = workstation
        self.ntHash = try NTHash(bytes: [UInt8](repeating: 0, count: 16))
        self.lmHash = nil
        self.hasNTHash = false
        self.responseKeyNTv2 = ntowfv2
        self.responseKeyNTv2MAC = HMACMD5(key: ntowfv2)
    }

    /// Parses `DOMAIN\user`, `user@domain` or a bare `user` (domain empty).
    public static func splitUserName(_ name: String) -> (domain: String, user: String) {
        if let slash = name.firstIndex(of: "\\") {
            return (String(name[..<slash]), String(name[name.index(after: slash)...]))
        }
        if let at = name.lastIndex(of: "@") {
            return (String(name[name.index(after: at)...]), String(name[..<at]))
        }
        return ("", name)
    }

    public var description: String {
        "NTLMCredentials(\(domain.isEmpty ? "" : domain + "\\")\(user), workstation: \(workstation), secrets redacted)"
    }

    public static func == (lhs: NTLMCredentials, rhs: NTLMCredentials) -> Bool {
        lhs.user == rhs.user && lhs.domain == rhs.domain && lhs.workstation == rhs.workstation
            && lhs.ntHash == rhs.ntHash && lhs.lmHash == rhs.lmHash
            && lhs.hasNTHash == rhs.hasNTHash && lhs.responseKeyNTv2 == rhs.responseKeyNTv2
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(user)
        hasher.combine(domain)
        hasher.combine(workstation)
        hasher.combine(ntHash)
        // Credentials built from NTOWFv2 alone all share the zero NT hash.
        if !hasNTHash { hasher.combine(responseKeyNTv2) }
    }
}
