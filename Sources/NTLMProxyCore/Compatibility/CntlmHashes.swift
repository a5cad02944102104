import NTLM

/// cntlm's stored hashes (`PassNT`, `PassLM`, `PassNTLMv2`, printed by `cntlm -H`) are the
/// bitwise complement (each byte XOR 0xFF) of the standard values. These helpers convert both
/// ways so an existing cntlm.conf works unchanged.
public enum CntlmHashes {
    /// The complement of `bytes` as uppercase hex, cntlm's format.
    public static func complement(_ bytes: [UInt8]) -> String {
        let digits: [Character] = Array("0123456789ABCDEF")
        var out = ""
        for byte in bytes {
            let value = byte ^ 0xFF
            out.append(digits[Int(value >> 4)])
            out.append(digits[Int(value & 0x0F)])
        }
        return out
    }

    /// Parses a cntlm hash (hex, any case) back into the standard bytes.
    public static func decode(_ hex: String) -> [UInt8]? {
        let utf8 = Array(hex.utf8)
        guard utf8.count % 2 == 0, !utf8.isEmpty else { return nil }
        var out: [UInt8] = []
        var index = 0
        while index + 1 < utf8.count {
            guard let high = nibble(utf8[index]), let low = nibble(utf8[index + 1]) else { return nil }
            out.append((high << 4 | low) ^ 0xFF)
            index += 2
        }
        return out
    }

    /// NTOWFv2 for the user, as cntlm's PassNTLMv2 holds it (before complementing).
    public static func ntlmv2Hash(ntHash: NTHash, user: String, domain: String) -> [UInt8] {
        ntHash.ntlmv2Hash(user: user, domain: domain)
    }

    private static func nibble(_ c: UInt8) -> UInt8? {
        switch c {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): return c - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): return c - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): return c - UInt8(ascii: "A") + 10
        default: return nil
        }
    }
}
