/// The target of a request sent to a forward proxy: absolute-form (`GET http://host/path`,
/// RFC 9112 §3.2.2) or authority-form (`CONNECT host:port`, §3.2.3). Parsed without
/// Foundation and without trapping on any input.
public struct ProxyRequestTarget: Hashable, Sendable {
    public enum Form: Hashable, Sendable {
        case absolute(scheme: String)
        case authority
    }

    public var form: Form
    /// Lowercased; an IPv6 address without brackets.
    public var host: String
    public var port: Int

    public enum ParseError: Error, Hashable, Sendable, CustomStringConvertible {
        /// An origin-form target (`GET /path`): the client did not use us as a proxy.
        case notAProxyRequest
        case unsupportedScheme
        case invalidAuthority(String)

        public var description: String {
            switch self {
            case .notAProxyRequest: return "this is a forward proxy: send absolute-form requests (http_proxy=http://this-host:port) or CONNECT"
            case .unsupportedScheme: return "only http:// and https:// targets can be forwarded"
            case .invalidAuthority(let why): return "invalid request target: \(why)"
            }
        }
    }

    /// `host:port` for logs and `CONNECT`, brackets around IPv6.
    public var authority: String { ParentProxyConfiguration.authority(host: host, port: port) }

    /// Parses the request target of a CONNECT (`isConnect`) or of any other method.
    public init(parsing uri: String, isConnect: Bool) throws(ParseError) {
        if isConnect {
            form = .authority
            (host, port) = try Self.parseAuthority(Substring(uri), defaultPort: nil)
            return
        }
        guard let separator = uri.range(of: "://") else { throw .notAProxyRequest }
        let scheme = uri[..<separator.lowerBound].lowercased()
        let defaultPort: Int
        switch scheme {
        case "http": defaultPort = 80
        case "https": defaultPort = 443
        default: throw .unsupportedScheme
        }
        let rest = uri[separator.upperBound...]
        let authorityEnd = rest.firstIndex { $0 == "/" || $0 == "?" || $0 == "#" } ?? rest.endIndex
        form = .absolute(scheme: scheme)
        (host, port) = try Self.parseAuthority(rest[..<authorityEnd], defaultPort: defaultPort)
    }

    static func parseAuthority(_ text: Substring, defaultPort: Int?) throws(ParseError) -> (String, Int) {
        guard !text.contains("@") else { throw .invalidAuthority("user information is not allowed") }
        var host: Substring
        var portText: Substring?
        if text.first == "[" {
            guard let close = text.firstIndex(of: "]") else { throw .invalidAuthority("unterminated IPv6 address") }
            host = text[text.index(after: text.startIndex)..<close]
            let after = text[text.index(after: close)...]
            if let first = after.first {
                guard first == ":" else { throw .invalidAuthority("garbage after IPv6 address") }
                portText = after.dropFirst()
            }
        } else if let colon = text.lastIndex(of: ":") {
            host = text[..<colon]
            portText = text[text.index(after: colon)...]
            guard !host.contains(":") else { throw .invalidAuthority("an IPv6 address needs brackets") }
        } else {
            host = text
        }
        guard !host.isEmpty, host.utf8.count <= 255, host.utf8.allSatisfy(Self.isHostByte) else {
            throw .invalidAuthority("invalid host")
        }
        let port: Int
        if let portText {
            guard !portText.isEmpty, portText.utf8.count <= 5, portText.utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }),
                  let value = Int(portText), (1...65535).contains(value)
            else { throw .invalidAuthority("invalid port") }
            port = value
        } else if let defaultPort {
            port = defaultPort
        } else {
            throw .invalidAuthority("CONNECT needs host:port")
        }
        return (host.lowercased(), port)
    }

    private static func isHostByte(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "0")...UInt8(ascii: "9"),
             UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "_"), UInt8(ascii: ":"), UInt8(ascii: "%"):
            return true
        default:
            return false
        }
    }
}
