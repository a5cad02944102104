import NTLM

/// A value read from a cntlm.conf, with the 1-based line it came from.
public struct CntlmSetting<Value: Sendable>: Sendable {
    public var value: Value
    public var line: Int
    public init(_ value: Value, line: Int) {
        self.value = value
        self.line = line
    }
}

extension CntlmSetting: Equatable where Value: Equatable {}
extension CntlmSetting: Hashable where Value: Hashable {}

/// cntlm's `Auth` keyword.
public enum CntlmAuthMode: String, Hashable, Sendable, CaseIterable {
    case ntlmv2 = "NTLMv2"
    case ntlm2sr = "NTLM2SR"
    case nt = "NT"
    case ntlm = "NTLM"
    case lm = "LM"
}

/// `host:port` (Proxy), or `[host:]port` (Listen, SOCKS5Proxy) with `host == nil` for a bare port.
public struct CntlmEndpoint: Hashable, Sendable, CustomStringConvertible {
    public var host: String?
    public var port: UInt16
    public init(host: String?, port: UInt16) {
        self.host = host
        self.port = port
    }

    public var description: String {
        guard let host else { return String(port) }
        return host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)"
    }
}

/// `Tunnel [lhost:]lport:rhost:rport`.
public struct CntlmTunnel: Hashable, Sendable {
    public var listen: CntlmEndpoint
    public var remoteHost: String
    public var remotePort: UInt16
    public init(listen: CntlmEndpoint, remoteHost: String, remotePort: UInt16) {
        self.listen = listen
        self.remoteHost = remoteHost
        self.remotePort = remotePort
    }
}

/// `Allow` / `Deny` rule, kept in file order (cntlm evaluates them in order).
public struct CntlmAccessRule: Hashable, Sendable {
    public var allow: Bool
    /// `127.0.0.1`, `10.0.0.0/8`, `0/0`, ... as written.
    public var pattern: String
    public init(allow: Bool, pattern: String) {
        self.allow = allow
        self.pattern = pattern
    }
}

/// `SOCKS5User user:password`.
public struct CntlmSOCKS5User: Hashable, Sendable, CustomStringConvertible {
    public var username: String
    public var password: Password
    public init(username: String, password: Password) {
        self.username = username
        self.password = password
    }

    public var description: String { "\(username):\(password)" }
}

/// `Header Name: value`.
public struct CntlmHeader: Hashable, Sendable {
    public var name: String
    public var value: String
    public init(name: String, value: String) {
        self.name = name
        self.value = value
    }
}

/// cntlm's `PassNTLMv2`: NTOWFv2(password, user, domain), already complemented back to the
/// standard 16 bytes. Password-equivalent for that user and domain.
public struct CntlmNTLMv2Hash: Hashable, Sendable, RedactedSecret {
    public static let redactedName = "NTLMv2Hash"
    public let bytes: [UInt8]
    public init(bytes: [UInt8]) { self.bytes = bytes }
}

/// An existing cntlm.conf (cntlm 0.92 syntax) read into values with their line numbers.
public struct CntlmConfiguration: Sendable, CustomStringConvertible {
    public var username: CntlmSetting<String>?
    public var domain: CntlmSetting<String>?
    public var workstation: CntlmSetting<String>?
    public var password: CntlmSetting<Password>?
    public var passNT: CntlmSetting<NTHash>?
    public var passLM: CntlmSetting<LMHash>?
    public var passNTLMv2: CntlmSetting<CntlmNTLMv2Hash>?
    public var auth: CntlmSetting<CntlmAuthMode>?
    public var proxies: [CntlmSetting<CntlmEndpoint>] = []
    /// One entry per pattern (a `NoProxy` line may list several).
    public var noProxy: [CntlmSetting<String>] = []
    public var listen: [CntlmSetting<CntlmEndpoint>] = []
    public var gateway: CntlmSetting<Bool>?
    public var accessRules: [CntlmSetting<CntlmAccessRule>] = []
    public var tunnels: [CntlmSetting<CntlmTunnel>] = []
    /// Repeatable, as in cntlm (one SOCKS5 listener per line).
    public var socks5Proxies: [CntlmSetting<CntlmEndpoint>] = []
    public var socks5Users: [CntlmSetting<CntlmSOCKS5User>] = []
    public var headers: [CntlmSetting<CntlmHeader>] = []
    /// Ignored keywords and lines; never carry a value.
    public var warnings: [ConfigurationWarning] = []
    /// The file it was read from, as given to the parser (for messages).
    public var path: String?

    public init() {}

    /// A summary with every secret redacted (header values are hidden too: they may hold tokens).
    public var description: String {
        var parts: [String] = []
        func add(_ name: String, _ text: String?) { if let text { parts.append("\(name)=\(text)") } }
        add("Username", username?.value)
        add("Domain", domain?.value)
        add("Workstation", workstation?.value)
        add("Password", password.map { "\($0.value)" })
        add("PassNT", passNT.map { "\($0.value)" })
        add("PassLM", passLM.map { "\($0.value)" })
        add("PassNTLMv2", passNTLMv2.map { "\($0.value)" })
        add("Auth", auth?.value.rawValue)
        for proxy in proxies { add("Proxy", proxy.value.description) }
        if !noProxy.isEmpty { add("NoProxy", noProxy.map(\.value).joined(separator: ",")) }
        for address in listen { add("Listen", address.value.description) }
        add("Gateway", gateway.map { $0.value ? "yes" : "no" })
        for rule in accessRules { add(rule.value.allow ? "Allow" : "Deny", rule.value.pattern) }
        for tunnel in tunnels {
            add("Tunnel", "\(tunnel.value.listen):\(tunnel.value.remoteHost):\(tunnel.value.remotePort)")
        }
        for socks in socks5Proxies { add("SOCKS5Proxy", socks.value.description) }
        for user in socks5Users { add("SOCKS5User", user.value.description) }
        for header in headers { add("Header", "\(header.value.name): <redacted>") }
        return "CntlmConfiguration(" + parts.joined(separator: ", ") + ")"
    }
}

/// Reads cntlm.conf text the way cntlm 0.92 does: one `Keyword value` per line, keywords
/// case-insensitive, `#` starts a comment (also mid-line, so a value cannot contain `#`),
/// trailing whitespace trimmed, no quoting (quotes are part of the value).
public enum CntlmConfigurationParser {
    /// Throws the first malformed value of a known keyword; unknown keywords, `Flags` and
    /// ignored lines become `warnings`. No message carries a password, hash or header value.
    public static func parse(_ text: String, file: String? = nil) throws(ConfigurationError) -> CntlmConfiguration {
        var result = CntlmConfiguration()
        result.path = file
        var seen: [String: Int] = [:]
        let lines = text.utf8.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false)
        for (index, rawLine) in lines.enumerated() {
            let lineNumber = index + 1
            let keyword: String, rawValue: String?
            switch split(String(decoding: rawLine, as: UTF8.self)) {
            case .blank:
                continue
            case .malformed:
                result.warnings.append(ConfigurationWarning(file: file, line: lineNumber,
                                                            message: "not a \"Keyword value\" line; ignored"))
                continue
            case .entry(let word, let text):
                keyword = word
                rawValue = text
            }
            func warn(_ message: String, key: String = keyword) {
                result.warnings.append(ConfigurationWarning(file: file, line: lineNumber, keyPath: key, message: message))
            }
            func fail(_ message: String, key: String) -> ConfigurationError {
                ConfigurationError(file: file, line: lineNumber, keyPath: key, message: message)
            }
            guard let value = rawValue else {
                warn("no value; ignored")
                continue
            }
            guard let known = Keyword(rawValue: keyword.lowercased()) else {
                if unsupportedKeywords.contains(keyword.lowercased()) {
                    warn("not supported by ntlmproxy; ignored")
                } else {
                    warn("unknown keyword; ignored")
                }
                continue
            }
            let key = known.name
            if !known.isRepeatable {
                if let first = seen[known.rawValue] {
                    warn("repeated; the value on line \(first) is used", key: key)
                    continue
                }
                seen[known.rawValue] = lineNumber
            }
            func setting<T: Sendable>(_ value: T) -> CntlmSetting<T> { CntlmSetting(value, line: lineNumber) }
            switch known {
            case .username: result.username = setting(value)
            case .domain: result.domain = setting(value)
            case .workstation: result.workstation = setting(value)
            case .password: result.password = setting(Password(value))
            case .passNT:
                guard let bytes = CntlmHashes.decode(value), let hash = try? NTHash(bytes: bytes) else {
                    throw fail("not a cntlm NT hash (32 hex digits, as printed by cntlm -H)", key: key)
                }
                result.passNT = setting(hash)
            case .passLM:
                guard let bytes = CntlmHashes.decode(value), let hash = try? LMHash(bytes: bytes) else {
                    throw fail("not a cntlm LM hash (32 hex digits, as printed by cntlm -H)", key: key)
                }
                result.passLM = setting(hash)
            case .passNTLMv2:
                guard let bytes = CntlmHashes.decode(value), bytes.count == 16 else {
                    throw fail("not a cntlm NTLMv2 hash (32 hex digits, as printed by cntlm -H)", key: key)
                }
                result.passNTLMv2 = setting(CntlmNTLMv2Hash(bytes: bytes))
            case .auth:
                guard let mode = CntlmAuthMode.allCases.first(where: { $0.rawValue.lowercased() == value.lowercased() }) else {
                    throw fail("unknown mode \"\(value)\" (expected NTLMv2, NTLM2SR, NT, NTLM or LM)", key: key)
                }
                result.auth = setting(mode)
            case .proxy:
                guard let endpoint = endpoint(value, requireHost: true) else {
                    throw fail("expected host:port, got \"\(value)\"", key: key)
                }
                result.proxies.append(setting(endpoint))
            case .noProxy:
                let patterns = value.split(whereSeparator: { $0 == "," || $0 == " " || $0 == "\t" })
                result.noProxy += patterns.map { setting(String($0)) }
            case .listen:
                guard let endpoint = endpoint(value, requireHost: false) else {
                    throw fail("expected port or host:port, got \"\(value)\"", key: key)
                }
                result.listen.append(setting(endpoint))
            case .gateway:
                switch value.lowercased() {
                case "yes": result.gateway = setting(true)
                case "no": result.gateway = setting(false)
                default: throw fail("expected yes or no, got \"\(value)\"", key: key)
                }
            case .allow, .deny:
                guard !value.contains(where: \.isWhitespace) else {
                    throw fail("expected one address or network (IP[/mask]), got \"\(value)\"", key: key)
                }
                result.accessRules.append(setting(CntlmAccessRule(allow: known == .allow, pattern: value)))
            case .tunnel:
                guard let tunnel = tunnel(value) else {
                    throw fail("expected [lhost:]lport:rhost:rport, got \"\(value)\"", key: key)
                }
                result.tunnels.append(setting(tunnel))
            case .socks5Proxy:
                guard let endpoint = endpoint(value, requireHost: false) else {
                    throw fail("expected port or host:port, got \"\(value)\"", key: key)
                }
                result.socks5Proxies.append(setting(endpoint))
            case .socks5User:
                guard let colon = value.firstIndex(of: ":"), colon != value.startIndex else {
                    throw fail("expected user:password (value not shown)", key: key)
                }
                let user = CntlmSOCKS5User(username: String(value[..<colon]),
                                           password: Password(String(value[value.index(after: colon)...])))
                result.socks5Users.append(setting(user))
            case .header:
                guard let colon = value.firstIndex(of: ":"), colon != value.startIndex,
                      value[..<colon].allSatisfy(isTokenCharacter)
                else { throw fail("expected \"Name: value\" (value not shown)", key: key) }
                let headerValue = value[value.index(after: colon)...].drop(while: { $0 == " " || $0 == "\t" })
                result.headers.append(setting(CntlmHeader(name: String(value[..<colon]), value: String(headerValue))))
            case .flags:
                warn("ignored: ntlmproxy negotiates flags itself", key: key)
            }
        }
        return result
    }

    private enum Keyword: String {
        case username, domain, workstation, password
        case passNT = "passnt", passLM = "passlm", passNTLMv2 = "passntlmv2"
        case auth, proxy, noProxy = "noproxy", listen, gateway, allow, deny, tunnel
        case socks5Proxy = "socks5proxy", socks5User = "socks5user", header, flags

        var isRepeatable: Bool {
            switch self {
            case .proxy, .noProxy, .listen, .allow, .deny, .tunnel, .socks5Proxy, .socks5User, .header: return true
            default: return false
            }
        }

        /// The spelling of cntlm's documentation, used in messages.
        var name: String {
            switch self {
            case .username: return "Username"
            case .domain: return "Domain"
            case .workstation: return "Workstation"
            case .password: return "Password"
            case .passNT: return "PassNT"
            case .passLM: return "PassLM"
            case .passNTLMv2: return "PassNTLMv2"
            case .auth: return "Auth"
            case .proxy: return "Proxy"
            case .noProxy: return "NoProxy"
            case .listen: return "Listen"
            case .gateway: return "Gateway"
            case .allow: return "Allow"
            case .deny: return "Deny"
            case .tunnel: return "Tunnel"
            case .socks5Proxy: return "SOCKS5Proxy"
            case .socks5User: return "SOCKS5User"
            case .header: return "Header"
            case .flags: return "Flags"
            }
        }
    }

    /// cntlm keywords that have no ntlmproxy equivalent.
    private static let unsupportedKeywords: Set<String> = [
        "isascannersize", "isascanneragent", "ntlmtobasic", "pidfile", "uid",
    ]

    private enum Line {
        case blank
        /// cntlm skips it: no keyword, or the keyword not followed by whitespace.
        case malformed
        /// A keyword with its value, or with nil when the line has no value.
        case entry(String, String?)
    }

    private static func split(_ line: String) -> Line {
        var text = Substring(line)
        if let hash = text.firstIndex(of: "#") { text = text[..<hash] }
        text = text.drop(while: { $0.isWhitespace })
        while let last = text.last, last.isWhitespace { text = text.dropLast() }
        guard !text.isEmpty else { return .blank }
        let keywordEnd = text.firstIndex(where: { !($0.isASCII && ($0.isLetter || $0.isNumber)) }) ?? text.endIndex
        let keyword = String(text[..<keywordEnd])
        guard !keyword.isEmpty else { return .malformed }
        guard keywordEnd != text.endIndex else { return .entry(keyword, nil) }
        guard text[keywordEnd].isWhitespace else { return .malformed }
        return .entry(keyword, String(text[keywordEnd...].drop(while: { $0.isWhitespace })))
    }

    /// `port`, `host:port`, `[v6]:port`; a host is required for Proxy. cntlm also accepts
    /// `host port` for Proxy.
    static func endpoint(_ text: String, requireHost: Bool) -> CntlmEndpoint? {
        if let port = port(Substring(text)) { return requireHost ? nil : CntlmEndpoint(host: nil, port: port) }
        let separators: Set<Character> = [":", " ", "\t"]
        guard let split = text.lastIndex(where: { separators.contains($0) }) else { return nil }
        var host = text[..<split]
        while let last = host.last, last == " " || last == "\t" { host = host.dropLast() }
        if host.hasPrefix("["), host.hasSuffix("]") { host = host.dropFirst().dropLast() }
        guard let port = port(text[text.index(after: split)...]), isHost(host) else { return nil }
        return CntlmEndpoint(host: String(host), port: port)
    }

    static func tunnel(_ text: String) -> CntlmTunnel? {
        let parts = text.split(separator: ":", omittingEmptySubsequences: false)
        let local: CntlmEndpoint
        switch parts.count {
        case 3:
            guard let port = port(parts[0]) else { return nil }
            local = CntlmEndpoint(host: nil, port: port)
        case 4:
            guard isHost(parts[0]), let port = port(parts[1]) else { return nil }
            local = CntlmEndpoint(host: String(parts[0]), port: port)
        default:
            return nil
        }
        let remoteHost = parts[parts.count - 2]
        guard isHost(remoteHost), let remotePort = port(parts[parts.count - 1]) else { return nil }
        return CntlmTunnel(listen: local, remoteHost: String(remoteHost), remotePort: remotePort)
    }

    /// 1...65535, digits only.
    static func port(_ text: Substring) -> UInt16? {
        guard !text.isEmpty, text.count <= 5, text.allSatisfy({ $0.isASCII && $0.isNumber }),
              let value = UInt16(text), value > 0 else { return nil }
        return value
    }

    /// Host text: letters, digits, `-`, `.`, `_`, and `:` for IPv6 literals.
    static func isHost(_ text: Substring) -> Bool {
        !text.isEmpty && text.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || "-._:".contains($0)) }
    }

    static func isTokenCharacter(_ character: Character) -> Bool {
        character.isASCII && (character.isLetter || character.isNumber || "!#$%&'*+-.^_`|~".contains(character))
    }
}
