import NTLM

/// cntlm's stored hashes (`PassNT`, `PassLM`, `PassNTLMv2`, printed by `cntlm -H`) are the
/// bitwise complement (each byte XOR 0xFF) of the standard values. These helpers convert both
/// ways so an existing cntlm.conf works unchanged.
public enum CntlmHashes {
    /// The complement of `bytes` as uppercase hex, cntlm's format.
    public static func complement(_ bytes: [UInt8]) -> String {
        HexCoding.encode(bytes.map { $0 ^ 0xFF }).uppercased()
    }

    /// Parses a cntlm hash (hex, any case) back into the standard bytes.
    public static func decode(_ hex: String) -> [UInt8]? {
        guard let bytes = HexCoding.decode(hex), !bytes.isEmpty else { return nil }
        return bytes.map { $0 ^ 0xFF }
    }

    /// NTOWFv2 for the user, as cntlm's PassNTLMv2 holds it (before complementing).
    public static func ntlmv2Hash(ntHash: NTHash, user: String, domain: String) -> [UInt8] {
        ntHash.ntlmv2Hash(user: user, domain: domain)
    }
}
