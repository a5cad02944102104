import NTLM

/// The settings of `ntlmproxy forward` as typed, and their translation into a
/// `ProxyConfiguration` with the same checks as the YAML loader (errors name the flag).
///
/// Access rules from `--allow`/`--deny` cannot keep their relative order on a command line,
/// so the most specific block decides (longest prefix first; `deny` before `allow` for the
/// same length). With a cntlm.conf (`--cntlm-config`), its settings are the base and the
/// flags given change them: `--parent` replaces the parents, `--listen` the forward ports,
/// `--no-proxy`/`--allow`/`--deny`/`--tunnel`/`--socks5` add to the file's.
public struct ForwardCommandLine: Sendable {
    /// `nil`: 127.0.0.1:3128, or the cntlm.conf's `Listen` ports.
    public var listen: String?
    public var parents: [String] = []
    public var noProxy: [String] = []
    public var allow: [String] = []
    public var deny: [String] = []
    /// `none`, `basic` or `relay`.
    public var clientAuthentication: String?
    /// `auto`, `ntlm`, `negotiate`, `basic` or `none`, for every parent.
    public var scheme: String?
    /// `[host:]port` of a SOCKS5 listener (no authentication).
    public var socks5: String?
    /// `[lhost:]lport:host:port` each.
    public var tunnels: [String] = []
    public var ntlmv1 = false
    public var allowBasic = false
    /// `--auth` and `--spn`, for clients' own credentials under `--client-auth basic`.
    public var clientCredentialAuthentication = CredentialAuthentication(mode: .auto)

    public static let defaultListen = "127.0.0.1:3128"

    public init() {}

    /// Whether the parents need the configured credential (`--user`).
    public var needsCredential: Bool {
        let auth = clientAuthentication?.lowercased() ?? "none"
        return auth == "none" && scheme?.lowercased() != "none"
    }

    /// - Parameters:
    ///   - credential: from `--user` and the password source; replaces a cntlm.conf's.
    ///   - cntlm: the configuration read from `--cntlm-config`, if any.
    public func makeConfiguration(credential: CredentialConfiguration?, cntlm: ProxyConfiguration? = nil) throws(ConfigurationError) -> ProxyConfiguration {
        var warnings = cntlm?.warnings ?? []
        var forward = cntlm?.listeners.lazy.compactMap(\.forward).first ?? ForwardConfiguration()
        if let credential { forward.credential = credential }

        if !parents.isEmpty {
            forward.parents = []
            for text in parents {
                let (host, port) = try Self.hostAndPort(text, flag: "--parent")
                let parent = ParentProxyConfiguration(host: host, port: port)
                guard forward.parent(named: parent.name) == nil else {
                    throw ConfigurationError(keyPath: "--parent", message: "\(parent.name) is given twice")
                }
                forward.parents.append(parent)
            }
        }
        if let scheme {
            guard let value = ParentAuthScheme(rawValue: scheme.lowercased()) else {
                throw ConfigurationError(keyPath: "--scheme", message: "unknown scheme \"\(scheme)\" (one of: \(ParentAuthScheme.allCases.map(\.rawValue).joined(separator: ", ")))")
            }
            for index in forward.parents.indices { forward.parents[index].scheme = value }
        }
        if let text = clientAuthentication {
            switch text.lowercased() {
            case "none": forward.clientAuthentication = .none
            case "basic":
                forward.clientAuthentication = .basic(realm: "ntlmproxy")
                guard clientCredentialAuthentication.mode != .basic else {
                    throw ConfigurationError(keyPath: "--auth", message: "--client-auth basic takes auto, kerberos or ntlm (the clients' own credentials go to the parent with those)")
                }
                forward.clientCredentialAuthentication = clientCredentialAuthentication
            case "relay": forward.clientAuthentication = .relay
            default: throw ConfigurationError(keyPath: "--client-auth", message: "unknown value \"\(text)\" (one of: none, basic, relay)")
            }
        }
        if !noProxy.isEmpty {
            var patterns = forward.noProxy.patterns
            for list in noProxy {
                do {
                    patterns += try NoProxyRules(parsing: list).patterns
                } catch {
                    throw ConfigurationError(keyPath: "--no-proxy", message: "\(error)")
                }
            }
            forward.noProxy = NoProxyRules(patterns: patterns)
        }
        forward.access = try access(after: forward.access)
        if ntlmv1 { forward.ntlmPolicy = NTLMResponseVariant.ntlm2sr.policy }
        if allowBasic { forward.allowBasic = true }
        try Self.check(forward)

        var listeners: [ListenerConfiguration] = []
        if let cntlm {
            listeners = cntlm.listeners.filter { listen == nil || $0.mode.name != "forward" }
        }
        if listen != nil || cntlm == nil {
            let address = try Self.listenAddress(listen ?? Self.defaultListen, flag: "--listen")
            listeners.insert(ListenerConfiguration(name: "forward", address: address, mode: .forward(forward)), at: 0)
        }
        let via = listeners.first { $0.mode.name == "forward" }?.name
        if let socks5 {
            let address = try Self.listenAddress(socks5, flag: "--socks5")
            listeners.append(ListenerConfiguration(name: "socks5", address: address, mode: .socks5(SOCKS5Configuration(forward: forward, via: via))))
        }
        for text in tunnels {
            guard let tunnel = CntlmConfigurationParser.tunnel(text) else {
                throw ConfigurationError(keyPath: "--tunnel", message: "expected [lhost:]lport:host:port, got \"\(text)\"")
            }
            let address = ListenAddress(host: tunnel.listen.host ?? ListenAddress.defaultHost, port: Int(tunnel.listen.port))
            let mode = ListenerConfiguration.Mode.tunnel(StaticTunnelConfiguration(
                forward: forward, targetHost: tunnel.remoteHost.lowercased(), targetPort: Int(tunnel.remotePort), via: via))
            listeners.append(ListenerConfiguration(name: "tunnel-\(address.port)", address: address, mode: mode))
        }

        // SOCKS and tunnel clients bring no credential of their own: the configured one is needed.
        if forward.clientAuthentication != .none, listeners.contains(where: { $0.mode.name == "socks5" || $0.mode.name == "tunnel" }) {
            var plain = forward
            plain.clientAuthentication = .none
            try Self.check(plain)
        }

        // Every listener routes with the same (changed) settings; names and addresses unique.
        var names = Set<String>(), addresses = Set<ListenAddress>()
        for index in listeners.indices {
            listeners[index].mode = Self.replacingForward(of: listeners[index].mode, with: forward)
            let listener = listeners[index]
            guard addresses.insert(listener.address).inserted else {
                throw ConfigurationError(message: "address \(listener.address) is used twice")
            }
            if !names.insert(listener.name).inserted { listeners[index].name += "-\(index + 1)" }
            if !listener.address.isLoopback, forward.access.rules.isEmpty, cntlm == nil {
                warnings.append(ConfigurationWarning(
                    keyPath: listener.name, message: "listening on \(listener.address), but only loopback clients are allowed until you add --allow rules"))
            }
            if case .forward = listener.mode, case .basic = forward.clientAuthentication, !listener.address.isLoopback {
                warnings.append(ConfigurationWarning(
                    keyPath: "--client-auth", message: "Basic on a plain-HTTP listener reachable from the network: clients' passwords cross it in clear text"))
            }
        }
        if ntlmv1 {
            warnings.append(ConfigurationWarning(keyPath: "--ntlmv1", message: "NTLMv1 responses can be cracked from a capture; use only for a parent that refuses NTLMv2"))
        }
        let credentials = forward.credential.map { [$0] } ?? []
        return ProxyConfiguration(logging: cntlm?.logging ?? LoggingConfiguration(), credentials: credentials, listeners: listeners, warnings: warnings, sourceFile: cntlm?.sourceFile)
    }

    /// The file's rules first, then the flags' (most specific first).
    func access(after existing: AddressACL) throws(ConfigurationError) -> AddressACL {
        var added = AddressACL()
        for (flag, specs, action) in [("--deny", deny, AddressACL.Action.deny), ("--allow", allow, .allow)] {
            for spec in specs {
                do {
                    try added.append(action, spec)
                } catch {
                    throw ConfigurationError(keyPath: flag, message: "\(error)")
                }
            }
        }
        // Stable: deny rules were added first, so they win ties.
        let ordered = added.rules.enumerated().sorted { left, right in
            left.element.block.prefixLength != right.element.block.prefixLength
                ? left.element.block.prefixLength > right.element.block.prefixLength : left.offset < right.offset
        }.map(\.element)
        return AddressACL(rules: existing.rules + ordered)
    }

    static func check(_ forward: ForwardConfiguration) throws(ConfigurationError) {
        switch forward.clientAuthentication {
        case .none:
            for parent in forward.parents where parent.scheme != .none {
                guard let credential = forward.credential(for: parent) else {
                    throw ConfigurationError(keyPath: "--user", message: "parent \(parent.name) needs a credential: give --user DOMAIN\\user (or --scheme none)")
                }
                if (parent.scheme == .basic || (parent.scheme == .auto && forward.allowBasic)) && !credential.allowBasic {
                    throw ConfigurationError(keyPath: "--scheme", message: "Basic needs the password itself; the credential keeps only its hash")
                }
            }
        case .basic, .relay:
            guard !forward.parents.isEmpty else {
                throw ConfigurationError(keyPath: "--client-auth", message: "clients' own credentials go to a parent: give --parent")
            }
            if forward.clientAuthentication == .relay, forward.parents.contains(where: { $0.scheme == .basic }) {
                throw ConfigurationError(keyPath: "--client-auth", message: "relay passes the client's NTLM/Negotiate handshake on; a Basic parent cannot take it")
            }
        }
    }

    static func replacingForward(of mode: ListenerConfiguration.Mode, with forward: ForwardConfiguration) -> ListenerConfiguration.Mode {
        switch mode {
        case .forward: return .forward(forward)
        case .socks5(var socks):
            socks.forward = forward
            socks.forward.clientAuthentication = .none
            return .socks5(socks)
        case .tunnel(var tunnel):
            tunnel.forward = forward
            tunnel.forward.clientAuthentication = .none
            return .tunnel(tunnel)
        case .gateway, .acceptor, .passThrough: return mode
        }
    }

    static func listenAddress(_ text: String, flag: String) throws(ConfigurationError) -> ListenAddress {
        do {
            return try ListenAddress(parsing: text)
        } catch {
            throw ConfigurationError(keyPath: flag, message: "\(text): \(error)")
        }
    }

    /// `host:port` or `[ipv6]:port` from a flag (`--parent`), both parts required.
    public static func hostAndPort(_ text: String, flag: String) throws(ConfigurationError) -> (host: String, port: Int) {
        let trimmed = text.trimmingASCIIWhitespace()
        let address = try listenAddress(trimmed, flag: flag)
        guard trimmed.contains(":"), !trimmed.hasPrefix(":") else {
            throw ConfigurationError(keyPath: flag, message: "\(text): expected HOST:PORT or [IPV6]:PORT (the host is required)")
        }
        return (address.host.lowercased(), address.port)
    }
}
