/// Where a listener binds: `host:port`. The host defaults to `127.0.0.1` (loopback by
/// default, design invariant 8); IPv6 literals are written in brackets, `[::1]:8080`.
public struct ListenAddress: Hashable, Sendable, CustomStringConvertible {
    /// `127.0.0.1`, `0.0.0.0`, `::1`, `::`, or a host name such as `localhost` (no brackets).
    public var host: String
    /// 1-65535 from a configuration file; 0 (any free port) is accepted from code, for tests.
    public var port: Int

    public static let defaultHost = "127.0.0.1"

    public init(host: String = ListenAddress.defaultHost, port: Int) {
        self.host = host
        self.port = port
    }

    /// Why a `listen:` value was rejected.
    public enum ParseError: Error, Hashable, Sendable, CustomStringConvertible {
        case malformed
        case portOutOfRange(String)
        case badHost(String)

        public var description: String {
            switch self {
            case .malformed: return "expected HOST:PORT, [IPV6]:PORT or PORT"
            case .portOutOfRange(let port): return "port \(port) out of range (1-65535)"
            case .badHost(let host): return "invalid host \"\(host)\""
            }
        }
    }

    /// Parses `PORT`, `:PORT`, `HOST:PORT` or `[IPV6]:PORT`.
    public init(parsing text: String) throws(ParseError) {
        let text = text.trimmingASCIIWhitespace()
        var host = ListenAddress.defaultHost
        var portText: Substring
        if text.hasPrefix("[") {
            guard let close = text.firstIndex(of: "]") else { throw .malformed }
            host = String(text[text.index(after: text.startIndex)..<close])
            let rest = text[text.index(after: close)...]
            guard rest.hasPrefix(":") else { throw .malformed }
            portText = rest.dropFirst()
            guard !host.isEmpty, host.allSatisfy({ $0.isHexDigit || $0 == ":" || $0 == "." || $0 == "%" || $0.isLetter || $0.isNumber }),
                host.contains(":")
            else { throw .badHost(host) }
        } else if let colon = text.lastIndex(of: ":") {
            let hostPart = text[..<colon]
            guard !hostPart.contains(":") else { throw .malformed }  // unbracketed IPv6
            if !hostPart.isEmpty { host = String(hostPart) }
            portText = text[text.index(after: colon)...]
            guard ListenAddress.isValidHostName(host) else { throw .badHost(host) }
        } else {
            portText = Substring(text)
        }
        guard !portText.isEmpty, portText.allSatisfy({ $0.isASCII && $0.isNumber }) else { throw .malformed }
        guard portText.count <= 6, let port = Int(portText), (1...65535).contains(port) else {
            throw .portOutOfRange(String(portText))
        }
        self.init(host: host, port: port)
    }

    /// Whether only this machine can connect (127.0.0.0/8, `::1`, `localhost`).
    public var isLoopback: Bool {
        host == "::1" || host.lowercased() == "localhost" || host.hasPrefix("127.")
    }

    /// `127.0.0.1:3128`, `[::1]:3128`.
    public var description: String {
        host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)"
    }

    static func isValidHostName(_ host: String) -> Bool {
        guard !host.isEmpty, host.count <= 253 else { return false }
        return host.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-" || $0 == "." || $0 == "_") }
    }
}

extension StringProtocol {
    /// Without leading and trailing spaces, tabs and line breaks.
    func trimmingASCIIWhitespace() -> String {
        let isSpace: (Character) -> Bool = { $0 == " " || $0 == "\t" || $0 == "\n" || $0 == "\r" || $0 == "\r\n" }
        guard let first = firstIndex(where: { !isSpace($0) }), let last = lastIndex(where: { !isSpace($0) }) else { return "" }
        return String(self[first...last])
    }
}
