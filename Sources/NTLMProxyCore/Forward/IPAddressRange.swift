/// Why an address, address block, ACL entry or host pattern could not be parsed.
///
/// Every case carries the offending text exactly as it was given (after trimming surrounding
/// whitespace), so that a configuration error can point at the entry to fix.
public enum AddressRuleError: Error, Hashable, Sendable, CustomStringConvertible {
    /// An empty entry: an empty string, or nothing between two commas of a list.
    case emptyEntry
    /// Not four dot-separated decimal parts, a non-digit, or a leading zero (`01.2.3.4`).
    case invalidIPv4(String)
    /// Four decimal parts, but one of them is above 255.
    case ipv4OctetOutOfRange(String)
    /// Malformed IPv6 text: bad group, more than one `::`, wrong group count, unbalanced brackets.
    case invalidIPv6(String)
    /// A `%` zone separator with nothing after it (`fe80::1%`).
    case emptyZone(String)
    /// The text after `/` is not a decimal prefix length.
    case invalidPrefixLength(String)
    /// A prefix length larger than the family allows (32 for IPv4, 128 for IPv6).
    case prefixLengthOutOfRange(String, maximum: Int)
    /// A host name or wildcard pattern that is not well formed (`*.`, `a..b`, `ho st`).
    case invalidHostPattern(String)
    /// A port that is not a decimal number in 1...65535.
    case invalidPort(String)

    public var description: String {
        switch self {
        case .emptyEntry: return "empty entry"
        case .invalidIPv4(let text): return "invalid IPv4 address '\(text)'"
        case .ipv4OctetOutOfRange(let text): return "IPv4 address '\(text)' has a part above 255"
        case .invalidIPv6(let text): return "invalid IPv6 address '\(text)'"
        case .emptyZone(let text): return "empty zone after '%' in '\(text)'"
        case .invalidPrefixLength(let text): return "invalid prefix length in '\(text)'"
        case .prefixLengthOutOfRange(let text, let maximum):
            return "prefix length in '\(text)' is above \(maximum)"
        case .invalidHostPattern(let text): return "invalid host pattern '\(text)'"
        case .invalidPort(let text): return "invalid port in '\(text)'"
        }
    }
}

/// An IPv4 or IPv6 address as plain integers (network byte order, most significant first).
public enum IPAddress: Hashable, Sendable, CustomStringConvertible {
    case v4(UInt32)
    /// The high and the low 64 bits of the 128-bit address.
    case v6(UInt64, UInt64)

    /// Parses a literal address; `nil` when the text is not one. See ``parse(_:)`` for the grammar.
    public init?(parsing text: String) {
        guard let address = try? Self.parse(text) else { return nil }
        self = address
    }

    /// Parses a literal address, throwing the precise reason on failure.
    ///
    /// - IPv4: strict dotted quad, exactly four decimal parts in 0...255, no leading zeros
    ///   except the single digit `0`.
    /// - IPv6: RFC 4291 text form with at most one `::`, an optional embedded IPv4 tail
    ///   (`::ffff:10.1.2.3`), an optional zone (`fe80::1%eth0`, discarded) and optional
    ///   surrounding brackets (`[::1]`).
    public static func parse(_ text: String) throws(AddressRuleError) -> IPAddress {
        let trimmed = text.trimmingASCIIWhitespace()
        guard !trimmed.isEmpty else { throw .emptyEntry }
        var body = trimmed[...]
        if body.first == "[" || body.last == "]" {
            guard body.count >= 2, body.first == "[", body.last == "]" else { throw .invalidIPv6(trimmed) }
            body = body.dropFirst().dropLast()
            guard body.contains(":") else { throw .invalidIPv6(trimmed) }
        }
        guard body.contains(":") else {
            return .v4(try parseIPv4(body, original: trimmed))
        }
        if let percent = body.firstIndex(of: "%") {
            guard body.index(after: percent) < body.endIndex else { throw .emptyZone(trimmed) }
            body = body[..<percent]
        }
        let (high, low) = try parseIPv6(body, original: trimmed)
        return .v6(high, low)
    }

    /// `true` for 127.0.0.0/8, `::1` and the IPv4-mapped form of 127.0.0.0/8.
    public var isLoopback: Bool {
        switch unmappedIPv4 {
        case .v4(let value): return value >> 24 == 127
        case .v6(let high, let low): return high == 0 && low == 1
        }
    }

    /// An IPv4-mapped IPv6 address (`::ffff:a.b.c.d`) as the IPv4 address; anything else unchanged.
    public var unmappedIPv4: IPAddress {
        if case .v6(0, let low) = self, low >> 32 == 0xFFFF {
            return .v4(UInt32(truncatingIfNeeded: low))
        }
        return self
    }

    public var description: String {
        switch self {
        case .v4(let value):
            return Self.dottedQuad(value)
        case .v6(let high, let low):
            if high == 0, low >> 32 == 0xFFFF {
                return "::ffff:" + Self.dottedQuad(UInt32(truncatingIfNeeded: low))
            }
            var groups: [UInt16] = []
            for shift in stride(from: 48, through: 0, by: -16) {
                groups.append(UInt16(truncatingIfNeeded: high >> UInt64(shift)))
            }
            for shift in stride(from: 48, through: 0, by: -16) {
                groups.append(UInt16(truncatingIfNeeded: low >> UInt64(shift)))
            }
            // Longest run of at least two zero groups (first one on a tie), per RFC 5952.
            var bestStart = -1, bestLength = 0, index = 0
            while index < 8 {
                guard groups[index] == 0 else { index += 1; continue }
                var end = index
                while end < 8, groups[end] == 0 { end += 1 }
                if end - index > bestLength { bestStart = index; bestLength = end - index }
                index = end
            }
            let hex = groups.map { String($0, radix: 16) }
            guard bestLength >= 2 else { return hex.joined(separator: ":") }
            let head = hex[0..<bestStart].joined(separator: ":")
            let tail = hex[(bestStart + bestLength)...].joined(separator: ":")
            return head + "::" + tail
        }
    }

    private static func dottedQuad(_ value: UInt32) -> String {
        "\(value >> 24).\((value >> 16) & 0xFF).\((value >> 8) & 0xFF).\(value & 0xFF)"
    }

    static func parseIPv4(_ text: Substring, original: String) throws(AddressRuleError) -> UInt32 {
        let parts = text.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 4 else { throw .invalidIPv4(original) }
        var value: UInt32 = 0
        var outOfRange = false
        for part in parts {
            guard !part.isEmpty, part.utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }) else {
                throw .invalidIPv4(original)
            }
            guard part.count == 1 || part.first != "0" else { throw .invalidIPv4(original) }
            guard let octet = UInt32(part), octet <= 255 else {
                outOfRange = true
                continue
            }
            value = value << 8 | octet
        }
        if outOfRange { throw .ipv4OctetOutOfRange(original) }
        return value
    }

    private static func parseIPv6(_ text: Substring, original: String) throws(AddressRuleError) -> (UInt64, UInt64) {
        var groups: [UInt16]
        if let gap = firstDoubleColon(in: text) {
            let tail = text[gap.upperBound...]
            guard firstDoubleColon(in: tail) == nil else { throw .invalidIPv6(original) }
            let head = try groupsOf(text[..<gap.lowerBound], ipv4Tail: false, original: original)
            let rest = try groupsOf(tail, ipv4Tail: true, original: original)
            guard head.count + rest.count <= 7 else { throw .invalidIPv6(original) }
            groups = head + Array(repeating: 0, count: 8 - head.count - rest.count) + rest
        } else {
            groups = try groupsOf(text, ipv4Tail: true, original: original)
            guard groups.count == 8 else { throw .invalidIPv6(original) }
        }
        var high: UInt64 = 0, low: UInt64 = 0
        for group in groups[0..<4] { high = high << 16 | UInt64(group) }
        for group in groups[4..<8] { low = low << 16 | UInt64(group) }
        return (high, low)
    }

    private static func groupsOf(_ text: Substring, ipv4Tail: Bool, original: String) throws(AddressRuleError) -> [UInt16] {
        guard !text.isEmpty else { return [] }
        let parts = text.split(separator: ":", omittingEmptySubsequences: false)
        var groups: [UInt16] = []
        for (index, part) in parts.enumerated() {
            if ipv4Tail, index == parts.count - 1, part.contains(".") {
                guard let v4 = try? parseIPv4(part, original: original) else { throw .invalidIPv6(original) }
                groups.append(UInt16(truncatingIfNeeded: v4 >> 16))
                groups.append(UInt16(truncatingIfNeeded: v4))
                continue
            }
            guard (1...4).contains(part.utf8.count), part.utf8.allSatisfy(isHexDigit),
                  let group = UInt16(part, radix: 16)
            else { throw .invalidIPv6(original) }
            groups.append(group)
        }
        return groups
    }

    private static func isHexDigit(_ byte: UInt8) -> Bool {
        (byte >= 0x30 && byte <= 0x39) || (byte >= 0x41 && byte <= 0x46) || (byte >= 0x61 && byte <= 0x66)
    }

    private static func firstDoubleColon(in text: Substring) -> Range<Substring.Index>? {
        var index = text.startIndex
        while index < text.endIndex {
            let next = text.index(after: index)
            if text[index] == ":", next < text.endIndex, text[next] == ":" {
                return index..<text.index(after: next)
            }
            index = next
        }
        return nil
    }
}

/// An address block in CIDR notation: `10.0.0.0/8`, `fd00::/8`, or a single address
/// (`127.0.0.1` is `/32`, `::1` is `/128`).
///
/// Host bits below the prefix are cleared (`10.1.2.3/8` is `10.0.0.0/8`, as cntlm does).
/// Blocks inside `::ffff:0:0/96` are stored as the equivalent IPv4 block and addresses are
/// compared after unmapping, so `::ffff:10.1.2.3` is in `10.0.0.0/8` and `10.1.2.3` is in
/// `::ffff:10.0.0.0/104`.
public struct CIDRBlock: Hashable, Sendable, CustomStringConvertible {
    public let network: IPAddress
    public let prefixLength: Int

    public static let ipv4Loopback = CIDRBlock(masking: .v4(0x7F00_0000), prefixLength: 8)
    public static let ipv6Loopback = CIDRBlock(masking: .v6(0, 1), prefixLength: 128)
    public static let anyIPv4 = CIDRBlock(masking: .v4(0), prefixLength: 0)
    public static let anyIPv6 = CIDRBlock(masking: .v6(0, 0), prefixLength: 0)

    /// A block from an address and a prefix length (0...32 or 0...128).
    public init(address: IPAddress, prefixLength: Int) throws(AddressRuleError) {
        let maximum = address.maximumPrefixLength
        guard (0...maximum).contains(prefixLength) else {
            throw .prefixLengthOutOfRange("\(address)/\(prefixLength)", maximum: maximum)
        }
        self.init(masking: address, prefixLength: prefixLength)
    }

    /// Parses `address[/prefix]`; the address may be bracketed (`[fd00::]/8`).
    public init(parsing text: String) throws(AddressRuleError) {
        let trimmed = text.trimmingASCIIWhitespace()
        guard !trimmed.isEmpty else { throw .emptyEntry }
        guard let slash = trimmed.lastIndex(of: "/") else {
            let address = try IPAddress.parse(trimmed)
            self.init(masking: address, prefixLength: address.maximumPrefixLength)
            return
        }
        let address = try IPAddress.parse(String(trimmed[..<slash]))
        let digits = trimmed[trimmed.index(after: slash)...]
        guard (1...3).contains(digits.utf8.count), digits.utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }),
              let length = Int(digits)
        else { throw .invalidPrefixLength(trimmed) }
        let maximum = address.maximumPrefixLength
        guard length <= maximum else { throw .prefixLengthOutOfRange(trimmed, maximum: maximum) }
        self.init(masking: address, prefixLength: length)
    }

    private init(masking address: IPAddress, prefixLength: Int) {
        var address = address
        var length = prefixLength
        if case .v6(0, let low) = address, low >> 32 == 0xFFFF, length >= 96 {
            address = .v4(UInt32(truncatingIfNeeded: low))
            length -= 96
        }
        self.prefixLength = length
        self.network = Self.masked(address, length)
    }

    /// `true` when `address` lies inside this block (IPv4-mapped IPv6 addresses count as IPv4).
    public func contains(_ address: IPAddress) -> Bool {
        let candidate = address.unmappedIPv4
        switch (network, candidate) {
        case (.v4, .v4), (.v6, .v6):
            return Self.masked(candidate, prefixLength) == network
        default:
            return false
        }
    }

    public var description: String {
        "\(network)/\(prefixLength)"
    }

    private static func masked(_ address: IPAddress, _ length: Int) -> IPAddress {
        switch address {
        case .v4(let value):
            let mask: UInt32 = length <= 0 ? 0 : (length >= 32 ? .max : ~(UInt32.max >> UInt32(length)))
            return .v4(value & mask)
        case .v6(let high, let low):
            let highMask: UInt64 = length <= 0 ? 0 : (length >= 64 ? .max : ~(UInt64.max >> UInt64(length)))
            let lowLength = length - 64
            let lowMask: UInt64 = lowLength <= 0 ? 0 : (lowLength >= 64 ? .max : ~(UInt64.max >> UInt64(lowLength)))
            return .v6(high & highMask, low & lowMask)
        }
    }
}

extension IPAddress {
    var maximumPrefixLength: Int {
        if case .v4 = self { return 32 }
        return 128
    }
}

