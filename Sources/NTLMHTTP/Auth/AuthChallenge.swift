/// One challenge from a `WWW-Authenticate` or `Proxy-Authenticate` field (RFC 9110 §11.6.1,
/// §11.7.1): a scheme followed by either a token68 or a list of auth-params.
///
///     challenge  = auth-scheme [ 1*SP ( token68 / #auth-param ) ]
///     auth-param = token BWS "=" BWS ( token / quoted-string )
///     token68    = 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"="
public struct AuthChallenge: Hashable, Sendable {
    /// The scheme as sent (compare with `hasScheme`, schemes are case-insensitive).
    public var scheme: String
    /// The token68 (for NTLM and Negotiate, the base64 message), if any.
    public var token68: String?
    /// The auth-params in order, names lowercased, quoted values unescaped.
    public var parameters: [Parameter]

    /// A name=value auth-param.
    public struct Parameter: Hashable, Sendable {
        public var name: String
        public var value: String
        public init(name: String, value: String) {
            self.name = name
            self.value = value
        }
    }

    public init(scheme: String, token68: String? = nil, parameters: [Parameter] = []) {
        self.scheme = scheme
        self.token68 = token68
        self.parameters = parameters
    }

    public func hasScheme(_ name: String) -> Bool {
        scheme.lowercased() == name.lowercased()
    }

    /// The value of the auth-param `name` (case-insensitive), e.g. `realm`.
    public func parameter(_ name: String) -> String? {
        let wanted = name.lowercased()
        return parameters.first { $0.name == wanted }?.value
    }

    /// The field value form: `Scheme token68` or `Scheme a="b", c=d`.
    public var headerValue: String {
        if let token68 { return "\(scheme) \(token68)" }
        if parameters.isEmpty { return scheme }
        let rendered = parameters.map { "\($0.name)=\"\(Self.escapeQuoted($0.value))\"" }
        return "\(scheme) " + rendered.joined(separator: ", ")
    }

    public static func escapeQuoted(_ value: String) -> String {
        var out = ""
        for character in value {
            if character == "\"" || character == "\\" { out.append("\\") }
            out.append(character)
        }
        return out
    }

    /// Parses all challenges in the given field values (one field may carry several
    /// challenges; several fields are concatenated, RFC 9110 §5.3).
    public static func parse(fieldValues: [String], maximumLength: Int = 64 * 1024) throws(AuthHeaderError) -> [AuthChallenge] {
        var challenges: [AuthChallenge] = []
        var total = 0
        for value in fieldValues {
            total += value.utf8.count
            guard total <= maximumLength else { throw .tooLong(limit: maximumLength) }
            var parser = AuthHeaderParser(Array(value.utf8))
            challenges += try parser.parseChallenges()
        }
        return challenges
    }
}

/// Why an authentication header could not be parsed. Carries positions, never content.
public enum AuthHeaderError: Error, Hashable, Sendable, CustomStringConvertible {
    case empty
    case expectedScheme(offset: Int)
    case unexpectedCharacter(offset: Int)
    case unterminatedQuotedString(offset: Int)
    case tooLong(limit: Int)
    case invalidBase64
    case unsupportedScheme(String)

    public var description: String {
        switch self {
        case .empty: return "empty authentication header"
        case .expectedScheme(let offset): return "expected an auth-scheme at offset \(offset)"
        case .unexpectedCharacter(let offset): return "unexpected character at offset \(offset)"
        case .unterminatedQuotedString(let offset): return "unterminated quoted-string starting at offset \(offset)"
        case .tooLong(let limit): return "authentication header longer than \(limit) bytes"
        case .invalidBase64: return "invalid base64 in authentication header"
        case .unsupportedScheme(let scheme): return "unsupported authentication scheme \(scheme.prefix(32))"
        }
    }
}

/// A hand-written recursive-descent parser over the UTF-8 bytes of one field value.
struct AuthHeaderParser {
    let bytes: [UInt8]
    var index = 0

    init(_ bytes: [UInt8]) { self.bytes = bytes }

    static func isTokenChar(_ c: UInt8) -> Bool {
        // tchar = "!" / "#" / "$" / "%" / "&" / "'" / "*" / "+" / "-" / "." / "^" / "_" / "`" / "|" / "~" / DIGIT / ALPHA
        switch c {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "0")...UInt8(ascii: "9"):
            return true
        default:
            return Array("!#$%&'*+-.^_`|~".utf8).contains(c)
        }
    }

    static func isToken68Char(_ c: UInt8) -> Bool {
        switch c {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "0")...UInt8(ascii: "9"):
            return true
        default:
            return c == UInt8(ascii: "-") || c == UInt8(ascii: ".") || c == UInt8(ascii: "_")
                || c == UInt8(ascii: "~") || c == UInt8(ascii: "+") || c == UInt8(ascii: "/")
        }
    }

    static func isWhitespace(_ c: UInt8) -> Bool { c == 0x20 || c == 0x09 }

    var atEnd: Bool { index >= bytes.count }
    var current: UInt8? { index < bytes.count ? bytes[index] : nil }

    mutating func skipWhitespace() {
        while let c = current, Self.isWhitespace(c) { index += 1 }
    }

    /// Skips whitespace and empty list elements (`, ,`).
    mutating func skipListSeparators() {
        while let c = current, Self.isWhitespace(c) || c == UInt8(ascii: ",") { index += 1 }
    }

    mutating func readToken() -> String? {
        let start = index
        while let c = current, Self.isTokenChar(c) { index += 1 }
        guard index > start else { return nil }
        return String(decoding: bytes[start..<index], as: UTF8.self)
    }

    mutating func parseChallenges() throws(AuthHeaderError) -> [AuthChallenge] {
        var challenges: [AuthChallenge] = []
        skipListSeparators()
        if atEnd { throw .empty }
        while !atEnd {
            challenges.append(try parseChallenge())
            skipWhitespace()
            if atEnd { break }
            guard current == UInt8(ascii: ",") else { throw .unexpectedCharacter(offset: index) }
            skipListSeparators()
        }
        return challenges
    }

    mutating func parseChallenge() throws(AuthHeaderError) -> AuthChallenge {
        guard let scheme = readToken() else { throw .expectedScheme(offset: index) }
        var challenge = AuthChallenge(scheme: scheme)
        guard let c = current, Self.isWhitespace(c) else { return challenge }
        skipWhitespace()
        if atEnd || current == UInt8(ascii: ",") { return challenge }
        if let token68 = tryToken68() {
            challenge.token68 = token68
            return challenge
        }
        // #auth-param: params separated by commas, until an element that is not `token =`.
        while true {
            challenge.parameters.append(try parseParameter())
            let save = index
            skipWhitespace()
            guard current == UInt8(ascii: ",") else { index = save; break }
            skipListSeparators()
            if atEnd { break }
            if !looksLikeParameter() {
                // The next element is a new challenge; leave the comma for the caller.
                index = save
                break
            }
        }
        return challenge
    }

    /// A token68 is a run of token68 characters and padding that is followed by the end of
    /// the element (end, whitespace then comma/end, or a comma), not by a parameter value.
    mutating func tryToken68() -> String? {
        let start = index
        var end = index
        while end < bytes.count, Self.isToken68Char(bytes[end]) { end += 1 }
        guard end > start else { return nil }
        while end < bytes.count, bytes[end] == UInt8(ascii: "=") { end += 1 }
        var after = end
        while after < bytes.count, Self.isWhitespace(bytes[after]) { after += 1 }
        guard after == bytes.count || bytes[after] == UInt8(ascii: ",") else { return nil }
        // `x=` alone is ambiguous (a token68 with padding, or a parameter without a value);
        // RFC 9110's grammar makes it a token68, and base64 padding needs exactly that.
        index = end
        return String(decoding: bytes[start..<end], as: UTF8.self)
    }

    func looksLikeParameter() -> Bool {
        var probe = index
        let start = probe
        while probe < bytes.count, Self.isTokenChar(bytes[probe]) { probe += 1 }
        guard probe > start else { return false }
        while probe < bytes.count, Self.isWhitespace(bytes[probe]) { probe += 1 }
        return probe < bytes.count && bytes[probe] == UInt8(ascii: "=")
    }

    mutating func parseParameter() throws(AuthHeaderError) -> AuthChallenge.Parameter {
        guard let name = readToken() else { throw .unexpectedCharacter(offset: index) }
        skipWhitespace()
        guard current == UInt8(ascii: "=") else { throw .unexpectedCharacter(offset: index) }
        index += 1
        skipWhitespace()
        if current == UInt8(ascii: "\"") {
            return .init(name: name.lowercased(), value: try readQuotedString())
        }
        guard let value = readToken() else { throw .unexpectedCharacter(offset: index) }
        return .init(name: name.lowercased(), value: value)
    }

    /// quoted-string = DQUOTE *( qdtext / quoted-pair ) DQUOTE (RFC 9110 §5.6.4).
    mutating func readQuotedString() throws(AuthHeaderError) -> String {
        let start = index
        index += 1
        var value: [UInt8] = []
        while let c = current {
            index += 1
            switch c {
            case UInt8(ascii: "\""):
                return String(decoding: value, as: UTF8.self)
            case UInt8(ascii: "\\"):
                guard let escaped = current else { throw .unterminatedQuotedString(offset: start) }
                value.append(escaped)
                index += 1
            case 0x00..<0x09, 0x0A..<0x20, 0x7F:
                throw .unexpectedCharacter(offset: index - 1)
            default:
                value.append(c)
            }
        }
        throw .unterminatedQuotedString(offset: start)
    }
}
