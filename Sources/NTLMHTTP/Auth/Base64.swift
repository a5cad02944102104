/// Strict standard base64 (RFC 4648 §4), without Foundation: the hot path of every NTLM
/// header. Decoding rejects invalid characters, bad padding and non-zero trailing bits.
public enum Base64 {
    static let alphabet: [UInt8] = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".utf8)
    static let reverse: [UInt8] = {
        var table = [UInt8](repeating: 0xFF, count: 256)
        for (index, c) in alphabet.enumerated() { table[Int(c)] = UInt8(index) }
        return table
    }()

    public static func encode(_ bytes: [UInt8]) -> String {
        var out: [UInt8] = []
        out.reserveCapacity((bytes.count + 2) / 3 * 4)
        var index = 0
        while index + 2 < bytes.count {
            let value = UInt32(bytes[index]) << 16 | UInt32(bytes[index + 1]) << 8 | UInt32(bytes[index + 2])
            out.append(alphabet[Int(value >> 18 & 0x3F)])
            out.append(alphabet[Int(value >> 12 & 0x3F)])
            out.append(alphabet[Int(value >> 6 & 0x3F)])
            out.append(alphabet[Int(value & 0x3F)])
            index += 3
        }
        let rest = bytes.count - index
        if rest == 1 {
            let value = UInt32(bytes[index]) << 16
            out.append(alphabet[Int(value >> 18 & 0x3F)])
            out.append(alphabet[Int(value >> 12 & 0x3F)])
            out.append(UInt8(ascii: "="))
            out.append(UInt8(ascii: "="))
        } else if rest == 2 {
            let value = UInt32(bytes[index]) << 16 | UInt32(bytes[index + 1]) << 8
            out.append(alphabet[Int(value >> 18 & 0x3F)])
            out.append(alphabet[Int(value >> 12 & 0x3F)])
            out.append(alphabet[Int(value >> 6 & 0x3F)])
            out.append(UInt8(ascii: "="))
        }
        return String(decoding: out, as: UTF8.self)
    }

    public static func decode(_ string: String) -> [UInt8]? {
        decode(utf8: Array(string.utf8))
    }

    public static func decode(utf8 input: [UInt8]) -> [UInt8]? {
        guard input.count % 4 == 0 else { return nil }
        if input.isEmpty { return [] }
        var padding = 0
        if input[input.count - 1] == UInt8(ascii: "=") { padding += 1 }
        if input.count >= 2 && input[input.count - 2] == UInt8(ascii: "=") { padding += 1 }
        var out: [UInt8] = []
        out.reserveCapacity(input.count / 4 * 3)
        var index = 0
        while index < input.count {
            var value: UInt32 = 0
            let isLast = index + 4 == input.count
            for offset in 0..<4 {
                let c = input[index + offset]
                let sextet: UInt8
                if c == UInt8(ascii: "=") {
                    // Padding only at the very end.
                    guard isLast, offset >= 4 - padding else { return nil }
                    sextet = 0
                } else {
                    sextet = reverse[Int(c)]
                    guard sextet != 0xFF else { return nil }
                }
                value = value << 6 | UInt32(sextet)
            }
            out.append(UInt8(truncatingIfNeeded: value >> 16))
            if !(isLast && padding == 2) { out.append(UInt8(truncatingIfNeeded: value >> 8)) }
            if !(isLast && padding >= 1) { out.append(UInt8(truncatingIfNeeded: value)) }
            if isLast {
                // Non-canonical encodings (non-zero bits under the padding) are rejected.
                if padding == 1 && value & 0xFF != 0 { return nil }
                if padding == 2 && value & 0xFFFF != 0 { return nil }
            }
            index += 4
        }
        return out
    }
}
