import Foundation
import NTLM
import Testing

/// Decodes hex digits (either case) into bytes. Whitespace anywhere is ignored, so vectors can
/// be pasted as printed in MS-NLMP ("01 23 45 ..."). Never traps: malformed input (odd digit
/// count, a non-hex character) records an `Issue` at the caller and returns `[]`.
func hexBytes(_ s: String, sourceLocation: SourceLocation = #_sourceLocation) -> [UInt8] {
    var out: [UInt8] = []
    out.reserveCapacity(s.utf8.count / 2)
    var high: UInt8? = nil
    for c in s.utf8 {
        let nibble: UInt8
        switch c {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): nibble = c - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): nibble = c - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): nibble = c - UInt8(ascii: "A") + 10
        case UInt8(ascii: " "), UInt8(ascii: "\t"), UInt8(ascii: "\n"), UInt8(ascii: "\r"): continue
        default:
            Issue.record("hexBytes: invalid character \(String(UnicodeScalar(c))) in \"\(s)\"", sourceLocation: sourceLocation)
            return []
        }
        if let h = high {
            out.append(h << 4 | nibble)
            high = nil
        } else {
            high = nibble
        }
    }
    if high != nil {
        Issue.record("hexBytes: odd number of hex digits in \"\(s)\"", sourceLocation: sourceLocation)
        return []
    }
    return out
}

extension Array where Element == UInt8 {
    /// Lowercase hex, no separators.
    var hex: String { HexCoding.encode(self) }
}
