import NTLM
import NTLMHTTP

extension CntlmConfiguration {
    /// Reads and parses a cntlm.conf (`ntlmproxy run --cntlm-config FILE`); messages name the
    /// file as given.
    public static func load(path: String) throws(ConfigurationError) -> CntlmConfiguration {
        let text: String
        do {
            text = try ConfigurationFiles.readText(path, limit: 1 << 20)
        } catch {
            throw ConfigurationError(file: path, message: "cannot read cntlm configuration: \(error)")
        }
        return try CntlmConfigurationParser.parse(text, file: path)
    }

    /// Whether the file holds the secret itself (`Password`, `PassNT` or `PassNTLMv2`); if not,
    /// the caller asks for the password, as cntlm does, and passes it to
    /// `makeProxyConfiguration(password:)`.
    public var hasSecret: Bool { password != nil || passNT != nil || passNTLMv2 != nil }

    /// The ntlmproxy configuration that does what this cntlm.conf does: one forward listener
    /// per `Listen`, one tunnel listener per `Tunnel`, one SOCKS5 listener per `SOCKS5Proxy`,
    /// all sharing the parents (`Proxy`, NTLM, in order), `NoProxy`, `Allow`/`Deny`, `Header`
    /// and `Auth`. The parser's warnings (unknown keywords, `Flags`) come along with their lines.
    ///
    /// - Parameter password: the password when the file holds none (typed at a prompt, or from
    ///   `NTLMPROXY_PASSWORD`), with where it came from.
    /// - Throws: a located `ConfigurationError` for what cannot work (no `Username`, no secret,
    ///   a `PassNTLMv2` with an NTLMv1 `Auth`, a NoProxy pattern ntlmproxy cannot read, ...).
    public func makeProxyConfiguration(password fallback: (Password, SecretSource)? = nil) throws(ConfigurationError) -> ProxyConfiguration {
        var mapping = CntlmMapping(configuration: self)
        return try mapping.run(fallback: fallback)
    }
}

/// One conversion of a parsed cntlm.conf, gathering warnings on the way.
struct CntlmMapping {
    let configuration: CntlmConfiguration
    var warnings: [ConfigurationWarning]

    init(configuration: CntlmConfiguration) {
        self.configuration = configuration
        self.warnings = configuration.warnings
    }

    var file: String? { configuration.path }

    func error(_ key: String, line: Int?, _ message: String) -> ConfigurationError {
        ConfigurationError(file: file, line: line, keyPath: key, message: message)
    }

    mutating func warn(_ key: String, line: Int?, _ message: String) {
        warnings.append(ConfigurationWarning(file: file, line: line, keyPath: key, message: message))
    }

    mutating func run(fallback: (Password, SecretSource)?) throws(ConfigurationError) -> ProxyConfiguration {
        let variant = configuration.auth.map { NTLMResponseVariant(cntlm: $0.value) } ?? .v2
        if let auth = configuration.auth, variant.isWeak {
            warn("Auth", line: auth.line,
                 "\(auth.value.rawValue) is NTLMv1 (weak: a captured exchange gives the password hash away); use only for a parent that refuses NTLMv2")
        }
        if let auth = configuration.auth, auth.value == .lm {
            warn("Auth", line: auth.line, "LM-only responses are not sent; the NT response goes along with the LM one")
        }
        let credential = try makeCredential(variant: variant, fallback: fallback)

        var forward = ForwardConfiguration(credential: credential, ntlmPolicy: variant.policy)
        guard !configuration.proxies.isEmpty else {
            throw error("Proxy", line: nil, "no Proxy line: give at least one parent proxy (Proxy host:port)")
        }
        var seenParents: [String: Int] = [:]
        for proxy in configuration.proxies {
            let parent = ParentProxyConfiguration(host: proxy.value.host ?? "", port: Int(proxy.value.port), scheme: .ntlm, line: proxy.line)
            if let first = seenParents[parent.name] {
                warn("Proxy", line: proxy.line, "\(parent.name) is already listed on line \(first); ignored")
                continue
            }
            seenParents[parent.name] = proxy.line
            forward.parents.append(parent)
        }
        forward.noProxy = try noProxyRules()
        forward.access = try accessRules()
        forward.addHeaders = try headers()
        return ProxyConfiguration(
            credentials: [credential], listeners: try listeners(forward: forward), warnings: warnings, sourceFile: file)
    }

    // MARK: Credential

    mutating func makeCredential(variant: NTLMResponseVariant, fallback: (Password, SecretSource)?) throws(ConfigurationError) -> CredentialConfiguration {
        guard let username = configuration.username else {
            throw error("Username", line: nil, "no Username line: the account to authenticate as is required")
        }
        let user = username.value
        let domain = configuration.domain?.value ?? ""
        let workstation = configuration.workstation?.value ?? ""
        let qualified = domain.isEmpty ? user : "\(domain)\\\(user)"
        func credential(_ ntlm: NTLMCredentials, _ source: SecretSource) -> CredentialConfiguration {
            CredentialConfiguration(name: "cntlm", httpCredential: HTTPCredential(ntlm: ntlm), source: source)
        }

        if let password = configuration.password {
            warn("Password", line: password.line,
                 "password written in the cntlm configuration; `ntlmproxy hash --user '\(qualified)'` prints the PassNTLMv2 line to use instead")
            for (keyword, line) in [("PassNT", configuration.passNT?.line), ("PassNTLMv2", configuration.passNTLMv2?.line)] {
                if let line { warn(keyword, line: line, "ignored: Password is used") }
            }
            let ntlm = NTLMCredentials(user: user, domain: domain, workstation: workstation, password: password.value)
            return credential(ntlm, .cntlmConfiguration(keyword: "Password", path: file))
        }
        if let passNT = configuration.passNT {
            if let v2 = configuration.passNTLMv2,
                v2.value.bytes != CntlmHashes.ntlmv2Hash(ntHash: passNT.value, user: user, domain: domain)
            {
                warn("PassNTLMv2", line: v2.line,
                     "does not belong to PassNT (line \(passNT.line)) for user \(user), domain \"\(domain)\": one of them is stale; PassNT is used")
            }
            if variant == .ntlmWithLM, configuration.passLM == nil {
                warn("PassNT", line: passNT.line, "Auth \(configuration.auth?.value.rawValue ?? "") without PassLM: the NT response fills the LM slot")
            }
            let ntlm = NTLMCredentials(user: user, domain: domain, workstation: workstation, ntHash: passNT.value, lmHash: configuration.passLM?.value)
            return credential(ntlm, .cntlmConfiguration(keyword: "PassNT", path: file))
        }
        if let v2 = configuration.passNTLMv2 {
            if variant != .v2, let auth = configuration.auth {
                throw error("Auth", line: auth.line,
                            "Auth \(auth.value.rawValue) needs PassNT or Password: PassNTLMv2 (line \(v2.line)) serves NTLMv2 only")
            }
            let ntlm: NTLMCredentials
            do {
                ntlm = try NTLMCredentials(user: user, domain: domain, workstation: workstation, ntowfv2: v2.value.bytes)
            } catch {
                throw self.error("PassNTLMv2", line: v2.line, "not a 16-byte NTLMv2 hash (value not shown)")
            }
            return credential(ntlm, .cntlmConfiguration(keyword: "PassNTLMv2", path: file))
        }
        if let lm = configuration.passLM, fallback == nil {
            throw error("PassLM", line: lm.line, "PassLM alone is not enough: add PassNTLMv2 or PassNT (`ntlmproxy hash --user '\(qualified)'` prints them)")
        }
        guard let (password, source) = fallback else {
            throw error("Password", line: nil,
                        "no password for \(qualified): add PassNTLMv2 (`ntlmproxy hash --user '\(qualified)'`), or give it at start (NTLMPROXY_PASSWORD, --password-file or the prompt)")
        }
        return credential(NTLMCredentials(user: user, domain: domain, workstation: workstation, password: password), source)
    }

    // MARK: Routing

    func noProxyRules() throws(ConfigurationError) -> NoProxyRules {
        var patterns: [HostPattern] = []
        for entry in configuration.noProxy {
            do {
                patterns.append(try HostPattern(parsing: entry.value))
            } catch {
                let hint = entry.value.contains("?") ? " ('?' wildcards are not supported: use '*')" : ""
                throw self.error("NoProxy", line: entry.line, "\(error)\(hint)")
            }
        }
        return NoProxyRules(patterns: patterns)
    }

    func accessRules() throws(ConfigurationError) -> AddressACL {
        var acl = AddressACL()
        for rule in configuration.accessRules {
            do {
                try acl.append(rule.value.allow ? .allow : .deny, rule.value.pattern)
            } catch {
                throw self.error(rule.value.allow ? "Allow" : "Deny", line: rule.line, "\(error)")
            }
        }
        return acl
    }

    func headers() throws(ConfigurationError) -> [HTTPHeaderField] {
        var fields: [HTTPHeaderField] = []
        for header in configuration.headers {
            guard !ConfigurationParser.reservedHeaderNames.contains(header.value.name.lowercased()) else {
                throw error("Header", line: header.line, "\(header.value.name) cannot be set here: the proxy manages it")
            }
            fields.append(HTTPHeaderField(name: header.value.name, value: header.value.value))
        }
        return fields
    }

    // MARK: Listeners

    mutating func listeners(forward: ForwardConfiguration) throws(ConfigurationError) -> [ListenerConfiguration] {
        let gateway = configuration.gateway?.value ?? false
        // cntlm's gateway mode binds every interface; otherwise a bare port is loopback only.
        let defaultHost = gateway ? "0.0.0.0" : ListenAddress.defaultHost
        if let setting = configuration.gateway, gateway {
            warn("Gateway", line: setting.line, "ports given without a host listen on every interface (0.0.0.0)")
        }
        if configuration.listen.isEmpty && configuration.tunnels.isEmpty && configuration.socks5Proxies.isEmpty {
            throw error("Listen", line: nil, "no Listen line: give the port to serve (Listen 3128)")
        }
        var listeners: [ListenerConfiguration] = []
        var addresses: [ListenAddress: Int] = [:]
        var exposed: [Int] = []
        func address(_ endpoint: CntlmEndpoint) -> ListenAddress {
            ListenAddress(host: endpoint.host ?? defaultHost, port: Int(endpoint.port))
        }
        func add(_ kind: String, _ address: ListenAddress, line: Int, key: String, mode: ListenerConfiguration.Mode) throws(ConfigurationError) {
            if let first = addresses[address] {
                throw error(key, line: line, "address \(address) is already used (line \(first))")
            }
            addresses[address] = line
            if !address.isLoopback { exposed.append(line) }
            var name = "\(kind)-\(address.port)"
            if listeners.contains(where: { $0.name == name }) { name += "-\(listeners.count + 1)" }
            listeners.append(ListenerConfiguration(name: name, address: address, mode: mode, line: line))
        }
        for listen in configuration.listen {
            try add("forward", address(listen.value), line: listen.line, key: "Listen", mode: .forward(forward))
        }
        let via = listeners.first?.name
        for tunnel in configuration.tunnels {
            let mode = ListenerConfiguration.Mode.tunnel(StaticTunnelConfiguration(
                forward: forward, targetHost: tunnel.value.remoteHost.lowercased(), targetPort: Int(tunnel.value.remotePort), via: via))
            try add("tunnel", address(tunnel.value.listen), line: tunnel.line, key: "Tunnel", mode: mode)
        }
        let users = configuration.socks5Users.map { SOCKS5UserConfiguration(name: $0.value.username, password: $0.value.password) }
        if let first = configuration.socks5Users.first {
            if configuration.socks5Proxies.isEmpty {
                warn("SOCKS5User", line: first.line, "ignored: there is no SOCKS5Proxy line")
            } else {
                warn("SOCKS5User", line: first.line, "SOCKS5 passwords are written in the cntlm configuration; make it mode 0600")
            }
        }
        for socks in configuration.socks5Proxies {
            try add("socks5", address(socks.value), line: socks.line, key: "SOCKS5Proxy", mode: .socks5(SOCKS5Configuration(forward: forward, users: users, via: via)))
        }
        if let line = exposed.first, forward.access.rules.isEmpty {
            warn("Allow", line: line, "a port listens beyond loopback, but only loopback clients are allowed until you add Allow rules")
        }
        return listeners
    }
}
