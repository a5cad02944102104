/// A secret byte string whose `description` never shows its contents.
///
/// All keys, hashes and passwords in this module use redacting types so that string
/// interpolation into a log line or error cannot leak them (design invariant 6).
public protocol RedactedSecret: CustomStringConvertible, CustomDebugStringConvertible, CustomReflectable {
    static var redactedName: String { get }
}

extension RedactedSecret {
    public var description: String { "\(Self.redactedName)(redacted)" }
    public var debugDescription: String { description }
    public var customMirror: Mirror { Mirror(self, children: [], displayStyle: .struct) }
}

/// The NT one-way function of a password, MD4(UTF-16LE(password)) (MS-NLMP 3.3.1 NTOWFv1).
/// It is password-equivalent for NTLM: treat it as the password itself.
public struct NTHash: Hashable, Sendable, RedactedSecret {
    public static let redactedName = "NTHash"
    /// The 16 hash bytes.
    public let bytes: [UInt8]

    public init(bytes: [UInt8]) throws(NTLMError) {
        guard bytes.count == 16 else { throw .invalidFieldLength(field: "NTHash", length: bytes.count) }
        self.bytes = bytes
    }

    public init(password: Password) {
        bytes = MD4.hash(TextEncoding.utf16LE(password.value))
    }

    /// Parses 32 hex digits.
    public init(hex: String) throws(NTLMError) {
        guard let bytes = HexCoding.decode(hex) else { throw .invalidString(field: "NTHash") }
        try self.init(bytes: bytes)
    }

    /// The hash as 32 lowercase hex digits. Only for the operator's own tools (`ntlmproxy hash`).
    public func revealHex() -> String { HexCoding.encode(bytes) }
}

/// The LAN Manager one-way function of a password (MS-NLMP 3.3.1 LMOWFv1). Weak; only used
/// when LM is explicitly enabled.
public struct LMHash: Hashable, Sendable, RedactedSecret {
    public static let redactedName = "LMHash"
    public let bytes: [UInt8]

    public init(bytes: [UInt8]) throws(NTLMError) {
        guard bytes.count == 16 else { throw .invalidFieldLength(field: "LMHash", length: bytes.count) }
        self.bytes = bytes
    }

    /// LMOWFv1: the uppercased password, OEM, padded or cut to 14 bytes, split in two 7-byte
    /// DES keys each encrypting "KGS!@#$%".
    public init(password: Password) {
        var key = TextEncoding.oem(TextEncoding.windowsUppercase(password.value))
        if key.count > 14 { key = Array(key[0..<14]) }
        key += [UInt8](repeating: 0, count: 14 - key.count)
        let magic: [UInt8] = Array("KGS!@#$%".utf8)
        let first = (try? DES.encrypt56(key7: Array(key[0..<7]), block: magic)) ?? []
        let second = (try? DES.encrypt56(key7: Array(key[7..<14]), block: magic)) ?? []
        bytes = first + second
    }

    public init(hex: String) throws(NTLMError) {
        guard let bytes = HexCoding.decode(hex) else { throw .invalidString(field: "LMHash") }
        try self.init(bytes: bytes)
    }

    public func revealHex() -> String { HexCoding.encode(bytes) }
}

/// A plaintext password. Converted to hashes as soon as possible and never stored by the
/// contexts in this module.
public struct Password: Hashable, Sendable, RedactedSecret, ExpressibleByStringLiteral {
    public static let redactedName = "Password"
    let value: String
    public init(_ value: String) { self.value = value }
    public init(stringLiteral value: String) { self.value = value }

    /// The plaintext, for the one protocol that sends it (HTTP Basic over TLS, or where the
    /// operator explicitly allowed it). Never log the result.
    public func revealForBasic() -> String { value }

    /// The plaintext, for the two consumers that need more than the NT hash: a Kerberos
    /// password credential (the KDC derives its keys from the password and a salt) and a
    /// domain helper verifying a Basic logon. Never log the result.
    public func revealForKerberos() -> String { value }
}

/// A 16-byte session key (SessionBaseKey, KeyExchangeKey, ExportedSessionKey, signing or
/// sealing key).
public struct SessionKey: Hashable, Sendable, RedactedSecret {
    public static let redactedName = "SessionKey"
    public let bytes: [UInt8]
    public init(bytes: [UInt8]) { self.bytes = bytes }
}

/// Hex encoding (lowercase) and strict decoding (either case), without Foundation.
public enum HexCoding {
    public static func encode(_ bytes: [UInt8]) -> String {
        let digits: [UInt8] = Array("0123456789abcdef".utf8)
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count * 2)
        for byte in bytes {
            out.append(digits[Int(byte >> 4)])
            out.append(digits[Int(byte & 0x0F)])
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// The bytes of an even-length hex string, or `nil` if it has any other character.
    public static func decode(_ string: String) -> [UInt8]? {
        let utf8 = Array(string.utf8)
        guard utf8.count % 2 == 0 else { return nil }
        var out: [UInt8] = []
        out.reserveCapacity(utf8.count / 2)
        var index = 0
        while index + 1 < utf8.count {
            guard let high = nibble(utf8[index]), let low = nibble(utf8[index + 1]) else { return nil }
            out.append(high << 4 | low)
            index += 2
        }
        return out
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

extension NTHash {
    /// NTOWFv2 for `user` in `domain` (MS-NLMP 3.3.2), the "NTLMv2 hash" some tools store
    /// (cntlm's PassNTLMv2 holds its complement). Password-equivalent for NTLMv2.
    public func ntlmv2Hash(user: String, domain: String) -> [UInt8] {
        NTLMCrypto.ntowfv2(ntHash: bytes, user: user, domain: domain)
    }
}
