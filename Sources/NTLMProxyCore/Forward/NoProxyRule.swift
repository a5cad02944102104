/// One entry of a NoProxy list or of a per-host routing rule, as cntlm and curl users write it.
///
/// | entry | matches |
/// |---|---|
/// | `*` | every host |
/// | `intranet.corp` | exactly that name |
/// | `*.corp.example` | names below `corp.example` (not `corp.example` itself) |
/// | `.corp.example` | `corp.example` and every name below it |
/// | `10.*`, `web-*.corp` | a glob: `*` matches any run of characters, dots included |
/// | `10.0.0.0/8`, `192.168.1.5`, `fd00::/8`, `[fd00::]/8`, `::1`, `[::1]` | literal IP hosts in the block |
/// | `localhost` | the name `localhost` and any loopback literal (127.0.0.0/8, `::1`) |
/// | any of the above + `:port` (`intranet.corp:8080`, `[::1]:443`, `*:8443`) | only on that port |
///
/// Names compare case-insensitively and a trailing dot is ignored. Names are never resolved:
/// an IP rule only matches a host that is written as an IP literal.
public struct HostPattern: Hashable, Sendable, CustomStringConvertible {
    public enum Kind: Hashable, Sendable {
        case any
        case exact(String)
        /// Strict subdomains of the name (`*.corp.example`).
        case subdomains(of: String)
        /// The name and its subdomains (`.corp.example`).
        case domain(String)
        case glob(String)
        case block(CIDRBlock)
        case localhost
    }

    public let kind: Kind
    /// When set, the pattern only matches this port.
    public let port: Int?
    /// The entry as written (trimmed).
    public let text: String

    public var description: String { text }

    public init(parsing raw: String) throws(AddressRuleError) {
        let text = raw.trimmingASCIIWhitespace()
        guard !text.isEmpty else { throw .emptyEntry }
        self.text = text
        if text.first == "[" {
            guard let close = text.firstIndex(of: "]") else { throw .invalidIPv6(text) }
            let bracketed = String(text[...close])
            let rest = text[text.index(after: close)...]
            if rest.first == ":" {
                kind = .block(try CIDRBlock(parsing: bracketed))
                port = try Self.parsePort(rest.dropFirst(), entry: text)
            } else if rest.isEmpty || rest.first == "/" {
                kind = .block(try CIDRBlock(parsing: text))
                port = nil
            } else {
                throw .invalidHostPattern(text)
            }
            return
        }
        let colons = text.reduce(0) { $0 + ($1 == ":" ? 1 : 0) }
        if text.contains("/") || colons >= 2 {
            kind = .block(try CIDRBlock(parsing: text))
            port = nil
            return
        }
        var host = text[...]
        if colons == 1, let colon = text.firstIndex(of: ":") {
            host = text[..<colon]
            port = try Self.parsePort(text[text.index(after: colon)...], entry: text)
        } else {
            port = nil
        }
        kind = try Self.kind(of: host.lowercased(), entry: text)
    }

    public init(kind: Kind, port: Int? = nil) {
        self.kind = kind
        self.port = port
        let base: String
        switch kind {
        case .any: base = "*"
        case .exact(let name), .glob(let name): base = name
        case .subdomains(let name): base = "*." + name
        case .domain(let name): base = "." + name
        case .block(let block):
            base = block.prefixLength == block.network.maximumPrefixLength ? "\(block.network)" : block.description
        case .localhost: base = "localhost"
        }
        if let port {
            if case .block(let block) = kind, case .v6 = block.network {
                text = "[\(base)]:\(port)"
            } else {
                text = "\(base):\(port)"
            }
        } else {
            text = base
        }
    }

    /// Whether a request for `host` (a name, an IP literal, or a bracketed IPv6 literal) on
    /// `port` matches this pattern.
    public func matches(host: String, port: Int) -> Bool {
        if let own = self.port, own != port { return false }
        let (name, address) = Self.normalize(host)
        switch kind {
        case .any: return true
        case .exact(let exact): return name == exact
        case .subdomains(let parent): return name.hasSuffix("." + parent)
        case .domain(let domain): return name == domain || name.hasSuffix("." + domain)
        case .glob(let glob): return Self.globMatches(Array(glob.utf8), Array(name.utf8))
        case .block(let block): return address.map(block.contains) ?? false
        case .localhost: return name == "localhost" || (address?.isLoopback ?? false)
        }
    }

    static func normalize(_ host: String) -> (name: String, address: IPAddress?) {
        var name = host.trimmingASCIIWhitespace().lowercased()
        if name.first == "[", name.last == "]", name.count >= 2 {
            name = String(name.dropFirst().dropLast())
        }
        if name.count > 1, name.last == "." { name.removeLast() }
        return (name, IPAddress(parsing: name))
    }

    private static func kind(of host: String, entry: String) throws(AddressRuleError) -> Kind {
        if host == "*" { return .any }
        if host.hasPrefix("*.") {
            let parent = strippingTrailingDot(host.dropFirst(2))
            guard isValidName(parent) else { throw .invalidHostPattern(entry) }
            return .subdomains(of: parent)
        }
        if host.hasPrefix(".") {
            let domain = strippingTrailingDot(host.dropFirst())
            guard isValidName(domain) else { throw .invalidHostPattern(entry) }
            return .domain(domain)
        }
        let name = strippingTrailingDot(host[...])
        if name.contains("*") {
            guard isValidName(name.replacingStars()) else { throw .invalidHostPattern(entry) }
            return .glob(name)
        }
        if !name.isEmpty, name.utf8.allSatisfy({ ($0 >= 0x30 && $0 <= 0x39) || $0 == 0x2E }) {
            return .block(try CIDRBlock(parsing: name))
        }
        if name == "localhost" { return .localhost }
        guard isValidName(name) else { throw .invalidHostPattern(entry) }
        return .exact(name)
    }

    private static func strippingTrailingDot(_ text: Substring) -> String {
        text.last == "." ? String(text.dropLast()) : String(text)
    }

    /// Letters, digits, `-` and `_` in non-empty dot-separated labels.
    private static func isValidName(_ name: String) -> Bool {
        guard !name.isEmpty, name.utf8.count <= 253 else { return false }
        return name.split(separator: ".", omittingEmptySubsequences: false).allSatisfy { label in
            !label.isEmpty && label.utf8.allSatisfy { byte in
                (byte >= 0x61 && byte <= 0x7A) || (byte >= 0x30 && byte <= 0x39) || byte == 0x2D || byte == 0x5F
            }
        }
    }

    private static func parsePort(_ digits: Substring, entry: String) throws(AddressRuleError) -> Int {
        guard (1...5).contains(digits.utf8.count), digits.utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }),
              let port = Int(digits), (1...65535).contains(port)
        else { throw .invalidPort(entry) }
        return port
    }

    /// `*` matches any run of bytes (dots included); every other byte matches itself.
    private static func globMatches(_ pattern: [UInt8], _ text: [UInt8]) -> Bool {
        var p = 0, t = 0
        var star = -1, resume = 0
        while t < text.count {
            if p < pattern.count, pattern[p] == UInt8(ascii: "*") {
                star = p
                resume = t
                p += 1
            } else if p < pattern.count, pattern[p] == text[t] {
                p += 1
                t += 1
            } else if star >= 0 {
                p = star + 1
                resume += 1
                t = resume
            } else {
                return false
            }
        }
        while p < pattern.count, pattern[p] == UInt8(ascii: "*") { p += 1 }
        return p == pattern.count
    }
}

extension String {
    /// Each `*` replaced by a letter, to validate a glob's other characters as a name.
    fileprivate func replacingStars() -> String {
        String(map { $0 == "*" ? "x" : $0 })
    }
}

/// The hosts reached directly instead of through a parent proxy (cntlm `NoProxy`, curl
/// `NO_PROXY`). The list is separated by commas and/or spaces; see ``HostPattern`` for the
/// entry syntax. An empty or blank list has no entries; an empty entry between commas
/// (`a,,b`, a trailing comma) is an error.
public struct NoProxyRules: Sendable, Hashable {
    public let patterns: [HostPattern]

    public static let none = NoProxyRules(patterns: [])

    public init(patterns: [HostPattern]) {
        self.patterns = patterns
    }

    public init(parsing list: String) throws(AddressRuleError) {
        guard !list.trimmingASCIIWhitespace().isEmpty else {
            self.patterns = []
            return
        }
        var patterns: [HostPattern] = []
        for piece in list.split(separator: ",", omittingEmptySubsequences: false) {
            let entries = piece.split(whereSeparator: { $0 == " " || $0 == "\t" || $0 == "\r" || $0 == "\n" })
            guard !entries.isEmpty else { throw .emptyEntry }
            for entry in entries {
                patterns.append(try HostPattern(parsing: String(entry)))
            }
        }
        self.patterns = patterns
    }

    /// Whether any entry matches `host` on `port`.
    public func matches(host: String, port: Int) -> Bool {
        patterns.contains { $0.matches(host: host, port: port) }
    }
}

/// Routes a host to a direct connection or to a named parent proxy.
public struct HostRule: Sendable, Hashable {
    public enum Target: Sendable, Hashable {
        case direct
        /// The parent proxy with this configured name.
        case parent(String)
    }

    public let pattern: HostPattern
    public let target: Target

    public init(pattern: HostPattern, target: Target) {
        self.pattern = pattern
        self.target = target
    }

    /// `pattern` uses the ``HostPattern`` syntax.
    public init(pattern: String, target: Target) throws(AddressRuleError) {
        self.init(pattern: try HostPattern(parsing: pattern), target: target)
    }
}

/// Ordered per-host routing rules: the first rule whose pattern matches decides.
public struct HostRouter: Sendable, Hashable {
    public let rules: [HostRule]

    public init(rules: [HostRule]) {
        self.rules = rules
    }

    /// The target of the first matching rule, or `nil` when none matches (the caller then
    /// applies its default: NoProxy, then the parent list).
    public func route(host: String, port: Int) -> HostRule.Target? {
        rules.first { $0.pattern.matches(host: host, port: port) }?.target
    }
}
