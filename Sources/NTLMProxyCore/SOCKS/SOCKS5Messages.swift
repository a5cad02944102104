import NTLM

// SOCKS5 (RFC 1928) and its username/password subnegotiation (RFC 1929) as value types with
// parsing functions over `[UInt8]` and serializers (the server-side handshake state machine is
// in SOCKS5ServerHandshake.swift).
// Parsers distinguish "need more bytes" (`.incomplete`) from "malformed" (a thrown
// `SOCKS5Error`) and never trap on untrusted input.

/// The outcome of parsing a message from the front of a byte buffer.
public enum SOCKS5ParseResult<Value: Sendable>: Sendable {
    /// A whole message: the value and how many bytes of the buffer it used.
    case complete(Value, consumed: Int)
    /// The buffer holds a valid prefix; read more bytes and parse again.
    case incomplete
}

extension SOCKS5ParseResult: Equatable where Value: Equatable {}

/// An authentication method number (RFC 1928 section 3).
public struct SOCKS5AuthenticationMethod: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    public var rawValue: UInt8
    public init(rawValue: UInt8) { self.rawValue = rawValue }

    public static let noAuthenticationRequired = SOCKS5AuthenticationMethod(rawValue: 0x00)
    public static let gssapi = SOCKS5AuthenticationMethod(rawValue: 0x01)
    public static let usernamePassword = SOCKS5AuthenticationMethod(rawValue: 0x02)
    public static let noAcceptableMethods = SOCKS5AuthenticationMethod(rawValue: 0xFF)

    public var description: String {
        switch rawValue {
        case 0x00: return "no authentication"
        case 0x01: return "GSSAPI"
        case 0x02: return "username/password"
        case 0xFF: return "no acceptable methods"
        default: return "method \(rawValue)"
        }
    }
}

/// VER NMETHODS METHODS: the client's first message.
public struct SOCKS5ClientGreeting: Hashable, Sendable {
    public var methods: [SOCKS5AuthenticationMethod]
    public init(methods: [SOCKS5AuthenticationMethod]) { self.methods = methods }

    public static func parse(_ bytes: [UInt8]) throws(SOCKS5Error) -> SOCKS5ParseResult<SOCKS5ClientGreeting> {
        guard let version = bytes.first else { return .incomplete }
        guard version == 5 else { throw .unsupportedVersion(version) }
        guard bytes.count >= 2 else { return .incomplete }
        let count = Int(bytes[1])
        guard count > 0 else { throw .noAuthenticationMethods }
        guard bytes.count >= 2 + count else { return .incomplete }
        let methods = bytes[2..<(2 + count)].map { SOCKS5AuthenticationMethod(rawValue: $0) }
        return .complete(SOCKS5ClientGreeting(methods: methods), consumed: 2 + count)
    }

    /// Serializes at most 255 methods (the rest are dropped).
    public func serialize() -> [UInt8] {
        let listed = methods.prefix(255).map(\.rawValue)
        return [5, UInt8(listed.count)] + listed
    }
}

/// VER METHOD: the server's answer to the greeting.
public struct SOCKS5MethodSelection: Hashable, Sendable {
    public var method: SOCKS5AuthenticationMethod
    public init(method: SOCKS5AuthenticationMethod) { self.method = method }

    public static func parse(_ bytes: [UInt8]) throws(SOCKS5Error) -> SOCKS5ParseResult<SOCKS5MethodSelection> {
        guard let version = bytes.first else { return .incomplete }
        guard version == 5 else { throw .unsupportedVersion(version) }
        guard bytes.count >= 2 else { return .incomplete }
        return .complete(SOCKS5MethodSelection(method: SOCKS5AuthenticationMethod(rawValue: bytes[1])), consumed: 2)
    }

    public func serialize() -> [UInt8] { [5, method.rawValue] }
}

/// RFC 1929: VER(1) ULEN UNAME PLEN PASSWD. The password is a redacting `Password`.
public struct SOCKS5UsernamePasswordRequest: Hashable, Sendable, CustomStringConvertible {
    public var username: String
    public var password: Password
    public init(username: String, password: Password) {
        self.username = username
        self.password = password
    }

    public var description: String { "SOCKS5UsernamePasswordRequest(username: \(username), password: \(password))" }

    public static func parse(_ bytes: [UInt8]) throws(SOCKS5Error) -> SOCKS5ParseResult<SOCKS5UsernamePasswordRequest> {
        guard let version = bytes.first else { return .incomplete }
        guard version == 1 else { throw .unsupportedVersion(version) }
        guard bytes.count >= 2 else { return .incomplete }
        let userLength = Int(bytes[1])
        guard userLength > 0 else { throw .emptyUsername }
        guard bytes.count >= 3 + userLength else { return .incomplete }
        let passwordLength = Int(bytes[2 + userLength])
        let end = 3 + userLength + passwordLength
        guard bytes.count >= end else { return .incomplete }
        guard let username = SOCKS5Text.utf8(bytes[2..<(2 + userLength)]),
              let password = SOCKS5Text.utf8(bytes[(3 + userLength)..<end])
        else { throw .invalidCredentialEncoding }
        return .complete(SOCKS5UsernamePasswordRequest(username: username, password: Password(password)), consumed: end)
    }

    /// Serializes the request; nil if the username is empty or either field exceeds 255 bytes.
    public func serialize() -> [UInt8]? {
        let user = Array(username.utf8)
        let pass = Array(password.revealForBasic().utf8)
        guard !user.isEmpty, user.count <= 255, pass.count <= 255 else { return nil }
        return [1, UInt8(user.count)] + user + [UInt8(pass.count)] + pass
    }
}

/// RFC 1929 reply: VER(1) STATUS (0 is success).
public struct SOCKS5UsernamePasswordReply: Hashable, Sendable {
    public var succeeded: Bool
    public init(succeeded: Bool) { self.succeeded = succeeded }

    public static func parse(_ bytes: [UInt8]) throws(SOCKS5Error) -> SOCKS5ParseResult<SOCKS5UsernamePasswordReply> {
        guard let version = bytes.first else { return .incomplete }
        guard version == 1 else { throw .unsupportedVersion(version) }
        guard bytes.count >= 2 else { return .incomplete }
        return .complete(SOCKS5UsernamePasswordReply(succeeded: bytes[1] == 0), consumed: 2)
    }

    public func serialize() -> [UInt8] { [1, succeeded ? 0 : 1] }
}

/// The CMD field of a request.
public struct SOCKS5Command: RawRepresentable, Hashable, Sendable {
    public var rawValue: UInt8
    public init(rawValue: UInt8) { self.rawValue = rawValue }
    public static let connect = SOCKS5Command(rawValue: 1)
    public static let bind = SOCKS5Command(rawValue: 2)
    public static let udpAssociate = SOCKS5Command(rawValue: 3)
}

/// DST.ADDR / BND.ADDR with its ATYP.
public enum SOCKS5Address: Hashable, Sendable, CustomStringConvertible {
    /// ATYP 1: four bytes.
    case ipv4([UInt8])
    /// ATYP 3: a host name (1...255 bytes of host text).
    case domainName(String)
    /// ATYP 4: sixteen bytes.
    case ipv6([UInt8])

    public static let unspecifiedIPv4 = SOCKS5Address.ipv4([0, 0, 0, 0])

    /// The host as text to connect to: `192.0.2.1`, `example.com`, `2001:db8::1`.
    public var host: String {
        switch self {
        case .ipv4(let bytes): return bytes.map(String.init).joined(separator: ".")
        case .domainName(let name): return name
        case .ipv6(let bytes): return SOCKS5Text.ipv6(bytes)
        }
    }

    public var description: String { host }

    /// Parses ATYP and the address from `bytes[offset...]`; returns the address and the index
    /// just past it.
    static func parse(_ bytes: [UInt8], at offset: Int) throws(SOCKS5Error) -> (SOCKS5Address, end: Int)? {
        guard bytes.count > offset else { return nil }
        switch bytes[offset] {
        case 1:
            guard bytes.count >= offset + 5 else { return nil }
            return (.ipv4(Array(bytes[(offset + 1)..<(offset + 5)])), offset + 5)
        case 3:
            guard bytes.count > offset + 1 else { return nil }
            let length = Int(bytes[offset + 1])
            guard length > 0 else { throw .invalidDomainName }
            let end = offset + 2 + length
            guard bytes.count >= end else { return nil }
            guard let name = SOCKS5Text.hostName(bytes[(offset + 2)..<end]) else { throw .invalidDomainName }
            return (.domainName(name), end)
        case 4:
            guard bytes.count >= offset + 17 else { return nil }
            return (.ipv6(Array(bytes[(offset + 1)..<(offset + 17)])), offset + 17)
        default:
            throw .unsupportedAddressType(bytes[offset])
        }
    }

    /// ATYP and address bytes; nil for a wrongly sized address or a name outside 1...255 bytes.
    func serialize() -> [UInt8]? {
        switch self {
        case .ipv4(let bytes): return bytes.count == 4 ? [1] + bytes : nil
        case .ipv6(let bytes): return bytes.count == 16 ? [4] + bytes : nil
        case .domainName(let name):
            let utf8 = Array(name.utf8)
            guard (1...255).contains(utf8.count) else { return nil }
            return [3, UInt8(utf8.count)] + utf8
        }
    }
}

/// VER CMD RSV ATYP DST.ADDR DST.PORT with CMD = CONNECT (the only command supported).
public struct SOCKS5ConnectRequest: Hashable, Sendable {
    public var address: SOCKS5Address
    public var port: UInt16
    public init(address: SOCKS5Address, port: UInt16) {
        self.address = address
        self.port = port
    }

    public var host: String { address.host }

    /// BIND and UDP ASSOCIATE throw `.unsupportedCommand` as soon as CMD is read. RSV is ignored.
    public static func parse(_ bytes: [UInt8]) throws(SOCKS5Error) -> SOCKS5ParseResult<SOCKS5ConnectRequest> {
        guard let version = bytes.first else { return .incomplete }
        guard version == 5 else { throw .unsupportedVersion(version) }
        guard bytes.count >= 2 else { return .incomplete }
        guard bytes[1] == SOCKS5Command.connect.rawValue else { throw .unsupportedCommand(bytes[1]) }
        guard let parsed = try SOCKS5Address.parse(bytes, at: 3) else { return .incomplete }
        let (address, end) = parsed
        guard bytes.count >= end + 2 else { return .incomplete }
        let port = UInt16(bytes[end]) << 8 | UInt16(bytes[end + 1])
        return .complete(SOCKS5ConnectRequest(address: address, port: port), consumed: end + 2)
    }

    public func serialize() -> [UInt8]? {
        guard let address = address.serialize() else { return nil }
        return [5, SOCKS5Command.connect.rawValue, 0] + address + [UInt8(port >> 8), UInt8(port & 0xFF)]
    }
}

/// The REP field of a reply.
public struct SOCKS5ReplyCode: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    public var rawValue: UInt8
    public init(rawValue: UInt8) { self.rawValue = rawValue }

    public static let succeeded = SOCKS5ReplyCode(rawValue: 0x00)
    public static let generalFailure = SOCKS5ReplyCode(rawValue: 0x01)
    public static let notAllowedByRuleset = SOCKS5ReplyCode(rawValue: 0x02)
    public static let networkUnreachable = SOCKS5ReplyCode(rawValue: 0x03)
    public static let hostUnreachable = SOCKS5ReplyCode(rawValue: 0x04)
    public static let connectionRefused = SOCKS5ReplyCode(rawValue: 0x05)
    public static let ttlExpired = SOCKS5ReplyCode(rawValue: 0x06)
    public static let commandNotSupported = SOCKS5ReplyCode(rawValue: 0x07)
    public static let addressTypeNotSupported = SOCKS5ReplyCode(rawValue: 0x08)

    public var description: String {
        switch rawValue {
        case 0x00: return "succeeded"
        case 0x01: return "general SOCKS server failure"
        case 0x02: return "connection not allowed by ruleset"
        case 0x03: return "network unreachable"
        case 0x04: return "host unreachable"
        case 0x05: return "connection refused"
        case 0x06: return "TTL expired"
        case 0x07: return "command not supported"
        case 0x08: return "address type not supported"
        default: return "reply \(rawValue)"
        }
    }
}

/// VER REP RSV ATYP BND.ADDR BND.PORT.
public struct SOCKS5Reply: Hashable, Sendable {
    public var code: SOCKS5ReplyCode
    public var boundAddress: SOCKS5Address
    public var boundPort: UInt16
    public init(code: SOCKS5ReplyCode, boundAddress: SOCKS5Address = .unspecifiedIPv4, boundPort: UInt16 = 0) {
        self.code = code
        self.boundAddress = boundAddress
        self.boundPort = boundPort
    }

    public static func parse(_ bytes: [UInt8]) throws(SOCKS5Error) -> SOCKS5ParseResult<SOCKS5Reply> {
        guard let version = bytes.first else { return .incomplete }
        guard version == 5 else { throw .unsupportedVersion(version) }
        guard bytes.count >= 2 else { return .incomplete }
        guard let parsed = try SOCKS5Address.parse(bytes, at: 3) else { return .incomplete }
        let (address, end) = parsed
        guard bytes.count >= end + 2 else { return .incomplete }
        let port = UInt16(bytes[end]) << 8 | UInt16(bytes[end + 1])
        return .complete(SOCKS5Reply(code: SOCKS5ReplyCode(rawValue: bytes[1]), boundAddress: address, boundPort: port), consumed: end + 2)
    }

    /// A wrongly sized bound address is replaced by 0.0.0.0 so a reply can always be sent.
    public func serialize() -> [UInt8] {
        let address = boundAddress.serialize() ?? [1, 0, 0, 0, 0]
        return [5, code.rawValue, 0] + address + [UInt8(boundPort >> 8), UInt8(boundPort & 0xFF)]
    }
}

enum SOCKS5Text {
    /// Strict UTF-8 decoding: nil if the bytes do not round-trip.
    static func utf8(_ bytes: ArraySlice<UInt8>) -> String? {
        let text = String(decoding: bytes, as: UTF8.self)
        return text.utf8.elementsEqual(bytes) ? text : nil
    }

    /// Host text: labels of letters, digits, `-` and `_` (1...63 bytes) separated by dots, an
    /// optional final dot. IPv4 literals pass as well.
    static func hostName(_ bytes: ArraySlice<UInt8>) -> String? {
        var labelLength = 0
        for byte in bytes {
            switch byte {
            case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
                 UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "-"), UInt8(ascii: "_"):
                labelLength += 1
                guard labelLength <= 63 else { return nil }
            case UInt8(ascii: "."):
                guard labelLength > 0 else { return nil }
                labelLength = 0
            default:
                return nil
            }
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// RFC 5952 text: lowercase groups, the longest run (two or more) of zero groups as `::`.
    static func ipv6(_ bytes: [UInt8]) -> String {
        guard bytes.count == 16 else { return bytes.map { String($0, radix: 16) }.joined(separator: ":") }
        let groups = (0..<8).map { UInt16(bytes[2 * $0]) << 8 | UInt16(bytes[2 * $0 + 1]) }
        var bestStart = -1, bestLength = 0, start = -1
        for index in 0...8 {
            if index < 8 && groups[index] == 0 {
                if start < 0 { start = index }
            } else if start >= 0 {
                if index - start > bestLength { bestStart = start; bestLength = index - start }
                start = -1
            }
        }
        let text = { (range: Range<Int>) in groups[range].map { String($0, radix: 16) }.joined(separator: ":") }
        guard bestLength >= 2 else { return text(0..<8) }
        return text(0..<bestStart) + "::" + text((bestStart + bestLength)..<8)
    }
}
