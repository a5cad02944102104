/// An `http://` or `https://` URL of a backend (the origin a gateway or acceptor forwards
/// to). Parsed strictly: no user info (credentials belong in `credentials:`), no query or
/// fragment; the path, if any, is a prefix put before each request's path.
public struct BackendURL: Hashable, Sendable, CustomStringConvertible {
    public enum Scheme: String, Hashable, Sendable {
        case http
        case https

        public var defaultPort: Int { self == .http ? 80 : 443 }
    }

    public var scheme: Scheme
    /// Host name or IP literal (IPv6 without brackets).
    public var host: String
    /// Explicit or the scheme's default.
    public var port: Int
    /// Starts with `/`; `/` when the URL has no path.
    public var path: String

    public init(scheme: Scheme, host: String, port: Int? = nil, path: String = "/") {
        self.scheme = scheme
        self.host = host
        self.port = port ?? scheme.defaultPort
        self.path = path.isEmpty ? "/" : path
    }

    /// Why a URL was rejected; messages echo the URL only with any user info removed.
    public enum ParseError: Error, Hashable, Sendable, CustomStringConvertible {
        case notAURL(String)
        case unsupportedScheme(String)
        case userInfoNotAllowed
        case badPort(String)
        case queryNotAllowed

        public var description: String {
            switch self {
            case .notAURL(let text): return "not a URL (\"\(text)\"): expected http://HOST[:PORT][/PATH] or https://..."
            case .unsupportedScheme(let scheme): return "unsupported scheme \"\(scheme)\" (use http or https)"
            case .userInfoNotAllowed: return "user name or password in the URL is not allowed; put them in credentials:"
            case .badPort(let port): return "port \(port) out of range (1-65535)"
            case .queryNotAllowed: return "a backend URL cannot have a query or fragment"
            }
        }
    }

    /// Parses `http://host[:port][/path]` or `https://...`.
    public init(parsing text: String) throws(ParseError) {
        let text = text.trimmingASCIIWhitespace()
        guard let schemeEnd = text.firstRange(of: "://") else { throw .notAURL(BackendURL.redacted(text)) }
        let schemeText = text[..<schemeEnd.lowerBound].lowercased()
        guard !schemeText.isEmpty, schemeText.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "+" || $0 == "-" || $0 == ".") })
        else { throw .notAURL(BackendURL.redacted(text)) }
        guard let scheme = Scheme(rawValue: schemeText) else { throw .unsupportedScheme(schemeText) }
        let rest = text[schemeEnd.upperBound...]
        let authorityEnd = rest.firstIndex(where: { $0 == "/" || $0 == "?" || $0 == "#" }) ?? rest.endIndex
        let authority = rest[..<authorityEnd]
        let pathPart = rest[authorityEnd...]
        if authority.contains("@") { throw .userInfoNotAllowed }
        if pathPart.contains("?") || pathPart.contains("#") { throw .queryNotAllowed }

        var host: String
        var portText: Substring?
        if authority.hasPrefix("[") {
            guard let close = authority.firstIndex(of: "]") else { throw .notAURL(BackendURL.redacted(text)) }
            host = String(authority[authority.index(after: authority.startIndex)..<close])
            let after = authority[authority.index(after: close)...]
            if !after.isEmpty {
                guard after.hasPrefix(":") else { throw .notAURL(BackendURL.redacted(text)) }
                portText = after.dropFirst()
            }
            guard host.contains(":"), host.allSatisfy({ $0.isHexDigit || $0 == ":" || $0 == "." }) else {
                throw .notAURL(BackendURL.redacted(text))
            }
        } else if let colon = authority.firstIndex(of: ":") {
            host = String(authority[..<colon])
            portText = authority[authority.index(after: colon)...]
        } else {
            host = String(authority)
        }
        if !authority.hasPrefix("[") {
            guard ListenAddress.isValidHostName(host) else { throw .notAURL(BackendURL.redacted(text)) }
        }
        var port: Int?
        if let portText {
            guard !portText.isEmpty, portText.allSatisfy({ $0.isASCII && $0.isNumber }) else { throw .notAURL(BackendURL.redacted(text)) }
            guard portText.count <= 6, let value = Int(portText), (1...65535).contains(value) else { throw .badPort(String(portText)) }
            port = value
        }
        guard pathPart.allSatisfy({ $0.isASCII && !$0.isWhitespace }) else { throw .notAURL(BackendURL.redacted(text)) }
        self.init(scheme: scheme, host: host.lowercased(), port: port, path: String(pathPart))
    }

    /// `https://intranet.example:8443/app`.
    public var description: String {
        let hostText = host.contains(":") ? "[\(host)]" : host
        let portText = port == scheme.defaultPort ? "" : ":\(port)"
        return "\(scheme.rawValue)://\(hostText)\(portText)\(path)"
    }

    /// Removes `user:password@` from something that looks like a URL before echoing it.
    static func redacted(_ text: String) -> String {
        var shown = text
        if let at = shown.lastIndex(of: "@") {
            let start = shown.firstRange(of: "://")?.upperBound ?? shown.startIndex
            if start <= at { shown.replaceSubrange(start..<at, with: "<redacted>") }
        }
        if shown.count > 200 { shown = String(shown.prefix(200)) + "..." }
        return shown
    }
}
