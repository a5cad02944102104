import NTLM

extension ConfigurationParser {
    static let forwardKeys = [
        "parents", "credential", "rules", "no-proxy", "access", "client-auth", "client-mechanism", "realm", "lockout-window", "parent-retry",
        "connect-timeout", "idle-connections", "idle-timeout", "headers", "ntlm", "allow-basic",
    ]
    static let parentKeys = ["address", "name", "scheme", "credential"]
    /// Header fields the proxy itself manages (framing, hop-by-hop, proxy authentication).
    static let reservedHeaderNames: Set<String> = [
        "host", "content-length", "transfer-encoding", "connection", "keep-alive", "proxy-connection", "te", "trailer",
        "upgrade", "expect", "proxy-authorization", "proxy-authenticate",
    ]

    /// The forward settings of a `mode: forward` listener (or of a socks5/tunnel listener that
    /// has no `via:`), checked against the listener's address and TLS.
    mutating func parseForward(
        _ map: ConfigurationMapping, credentials: [CredentialConfiguration], address: ListenAddress, listenNode: ConfigurationNode,
        hasTLS: Bool
    ) throws(ConfigurationError) -> ForwardConfiguration {
        var forward = ForwardConfiguration()
        if let node = map["credential"] { forward.credential = try namedCredential(node, in: credentials) }
        if let node = map["parents"] { forward.parents = try parseParents(node, credentials: credentials) }
        if let node = map["client-auth"] {
            let text = try node.nonEmptyString().lowercased()
            switch text {
            case "none": forward.clientAuthentication = .none
            case "basic": forward.clientAuthentication = .basic(realm: try map["realm"]?.nonEmptyString() ?? "ntlmproxy")
            case "relay": forward.clientAuthentication = .relay
            default: throw node.error("unknown client-auth \(node.shownValue) (one of: none, basic, relay)")
            }
        }
        if let node = map["realm"] {
            guard case .basic = forward.clientAuthentication else { throw node.error("realm is used only with client-auth: basic") }
        }
        if let node = map["client-mechanism"] {
            guard case .basic = forward.clientAuthentication else { throw node.error("client-mechanism is used only with client-auth: basic") }
            guard let mode = CredentialAuthentication.Mode(name: try node.nonEmptyString()), mode != .basic else {
                throw node.error("unknown client-mechanism \(node.shownValue) (one of: auto, kerberos, ntlm)")
            }
            forward.clientCredentialAuthentication.mode = mode
        }
        if let node = map["rules"] { forward.rules = try parseRules(node, parents: forward.parents) }
        if let node = map["no-proxy"] { forward.noProxy = try parseNoProxy(node) }
        if let node = map["access"] { forward.access = try parseAccess(node) }
        if let node = map["lockout-window"] { forward.lockoutWindow = try node.duration() }
        if let node = map["parent-retry"] { forward.parentRetryInterval = try node.duration() }
        if let node = map["connect-timeout"] { forward.connectTimeout = try node.duration() }
        if let node = map["idle-connections"] { forward.idleConnectionsPerParent = try node.int(in: 0...100_000) }
        if let node = map["idle-timeout"] { forward.idleConnectionTimeout = try node.duration() }
        if let node = map["headers"] { forward.addHeaders = try parseHeaders(node) }
        if let node = map["ntlm"] {
            let text = try node.nonEmptyString()
            guard let variant = NTLMResponseVariant(parsing: text) else {
                throw node.error("unknown NTLM variant \(node.shownValue) (v2, v1, or cntlm's NTLMv2, NTLM2SR, NT, NTLM, LM)")
            }
            forward.ntlmPolicy = variant.policy
            if variant.isWeak {
                warnings.append(node.warning(
                    "\(variant.cntlmName) is NTLMv1 (weak: a captured exchange gives the password hash away); use only for a parent that refuses NTLMv2"))
            }
            if text.lowercased() == "lm" {
                warnings.append(node.warning("LM-only responses are not sent; NTLM (NT and LM responses) is used instead"))
            }
        }
        if let node = map["allow-basic"] { forward.allowBasic = try node.bool() }
        try checkForward(forward, map: map, address: address, listenNode: listenNode, hasTLS: hasTLS)
        return forward
    }

    /// The cross-checks between a forward listener's keys.
    mutating func checkForward(
        _ forward: ForwardConfiguration, map: ConfigurationMapping, address: ListenAddress, listenNode: ConfigurationNode, hasTLS: Bool
    ) throws(ConfigurationError) {
        let parentNodes = (try? map["parents"]?.sequence()) ?? []
        let clientsBringCredentials = forward.clientAuthentication != .none
        if clientsBringCredentials {
            guard !forward.parents.isEmpty else {
                throw (map["client-auth"] ?? map.owner).error(
                    "client-auth \(Self.name(of: forward.clientAuthentication)) needs at least one parent (the client's own credential goes to a parent)")
            }
            if let node = map["credential"] {
                warnings.append(node.warning("ignored with client-auth \(Self.name(of: forward.clientAuthentication)): each client's own credential goes upstream"))
            }
        }
        for (index, parent) in forward.parents.enumerated() {
            let node = index < parentNodes.count ? parentNodes[index] : map.owner
            if forward.clientAuthentication == .relay, parent.scheme == .basic {
                throw node.error("parent \"\(parent.name)\": relay passes the client's NTLM/Negotiate handshake on; a Basic parent cannot take it")
            }
            if clientsBringCredentials, parent.credential != nil {
                warnings.append(node.warning("parent \"\(parent.name)\": credential ignored with client-auth \(Self.name(of: forward.clientAuthentication))"))
            }
            guard !clientsBringCredentials, parent.scheme != .none else { continue }
            guard let credential = forward.credential(for: parent) else {
                throw node.error(
                    "parent \"\(parent.name)\" needs a credential for scheme \(parent.scheme.rawValue): set credential: on the listener or the parent, or scheme: none")
            }
            if parent.scheme == .basic || (parent.scheme == .auto && forward.allowBasic) {
                if !credential.allowBasic {
                    let what = parent.scheme == .basic ? "scheme basic" : "allow-basic"
                    throw (parent.scheme == .basic ? node : (map["allow-basic"] ?? node)).error(
                        "\(what) sends the password: credential \"\(credential.name)\" must set allow-basic: true (its password is otherwise not kept)")
                }
                warnings.append(node.warning("parent \"\(parent.name)\": Basic sends \(credential.qualifiedUser)'s password in clear text to the parent"))
            }
        }
        if !address.isLoopback, forward.access.rules.isEmpty {
            warnings.append(listenNode.warning("listening on \(address), but only loopback clients are allowed until you add access rules"))
        }
        if case .basic = forward.clientAuthentication, !address.isLoopback, !hasTLS {
            warnings.append((map["client-auth"] ?? listenNode).warning(
                "client-auth basic on a plain-HTTP listener reachable from the network: clients' passwords cross it in clear text"))
        }
        if forward.clientAuthentication == .none, !forward.access.rules.isEmpty, let credential = forward.credential,
            forward.access.rules.contains(where: { $0.action == .allow && !$0.block.isLoopbackOnly })
        {
            warnings.append((map["access"] ?? listenNode).warning(
                "clients allowed by access: reach the parents as \(credential.qualifiedUser) without authenticating"))
        }
    }

    static func name(of authentication: ForwardClientAuthentication) -> String {
        switch authentication {
        case .none: return "none"
        case .basic: return "basic"
        case .relay: return "relay"
        }
    }

    /// A `credential: NAME` reference.
    func namedCredential(_ node: ConfigurationNode, in credentials: [CredentialConfiguration]) throws(ConfigurationError) -> CredentialConfiguration {
        let name = try node.nonEmptyString()
        guard let credential = credentials.first(where: { $0.name == name }) else {
            let known = credentials.isEmpty ? "none are defined under credentials:" : "defined: \(credentials.map(\.name).joined(separator: ", "))"
            throw node.error("no credential named \"\(ConfigurationNode.shorten(name))\" (\(known))")
        }
        return credential
    }

    /// `host:port` or `[ipv6]:port`, both parts required.
    func hostAndPort(_ node: ConfigurationNode, what: String) throws(ConfigurationError) -> (host: String, port: Int) {
        let text = try node.nonEmptyString()
        let address: ListenAddress
        do {
            address = try ListenAddress(parsing: text)
        } catch {
            throw node.error("bad \(what) \(node.shownValue): \(error)")
        }
        guard text.contains(":"), !text.hasPrefix(":") else {
            throw node.error("bad \(what) \(node.shownValue): expected HOST:PORT or [IPV6]:PORT (the host is required)")
        }
        return (address.host.lowercased(), address.port)
    }

    mutating func parseParents(_ node: ConfigurationNode, credentials: [CredentialConfiguration]) throws(ConfigurationError) -> [ParentProxyConfiguration] {
        var parents: [ParentProxyConfiguration] = []
        var lines: [String: Int?] = [:]
        for item in try node.sequence() {
            let parent: ParentProxyConfiguration
            let nameNode: ConfigurationNode
            if case .scalar = item.node {
                let (host, port) = try hostAndPort(item, what: "parent address")
                parent = ParentProxyConfiguration(host: host, port: port, line: item.line)
                nameNode = item
            } else {
                let map = try item.mapping()
                try map.checkKeys(allowed: Self.parentKeys, context: " for a parent")
                let (host, port) = try hostAndPort(try map.required("address", hint: "HOST:PORT"), what: "parent address")
                var name: String? = nil
                if let node = map["name"] {
                    let text = try node.nonEmptyString()
                    guard Self.isValidName(text) else { throw node.error("parent names may use letters, digits, '-', '_' and '.' (at most 64)") }
                    guard text.lowercased() != "direct" else { throw node.error("\"direct\" is reserved (rules use it for no parent)") }
                    name = text
                }
                var scheme = ParentAuthScheme.auto
                if let node = map["scheme"] {
                    let text = try node.nonEmptyString().lowercased()
                    guard let value = ParentAuthScheme(rawValue: text) else {
                        throw node.error("unknown scheme \(node.shownValue) (one of: \(ParentAuthScheme.allCases.map(\.rawValue).joined(separator: ", ")))")
                    }
                    scheme = value
                }
                let credential = try map["credential"].map { node throws(ConfigurationError) in try namedCredential(node, in: credentials) }
                if let node = map["credential"], scheme == .none {
                    warnings.append(node.warning("ignored: scheme none sends no credential"))
                }
                parent = ParentProxyConfiguration(name: name, host: host, port: port, scheme: scheme, credential: credential, line: item.line)
                nameNode = map["name"] ?? item
            }
            if let first = lines[parent.name] {
                throw nameNode.error("duplicate parent \"\(parent.name)\"\(first.map { " (first on line \($0))" } ?? "")")
            }
            lines[parent.name] = item.line
            parents.append(parent)
        }
        return parents
    }

    /// `rules: [{hosts: PATTERN(S), via: direct|PARENT}]`, in order.
    func parseRules(_ node: ConfigurationNode, parents: [ParentProxyConfiguration]) throws(ConfigurationError) -> HostRouter {
        var rules: [HostRule] = []
        for item in try node.sequence() {
            let map = try item.mapping()
            try map.checkKeys(allowed: ["hosts", "via"], context: " for a rule")
            let viaNode = try map.required("via", hint: "direct or a parent's name")
            let via = try viaNode.nonEmptyString()
            let target: HostRule.Target
            if via.lowercased() == "direct" {
                target = .direct
            } else if let parent = parents.first(where: { $0.name == via || $0.name == via.lowercased() }) {
                target = .parent(parent.name)
            } else {
                let known = parents.isEmpty ? "no parents are defined" : "parents: \(parents.map(\.name).joined(separator: ", "))"
                throw viaNode.error("no parent named \"\(ConfigurationNode.shorten(via))\" (direct, or one of the \(known))")
            }
            for pattern in try hostPatterns(try map.required("hosts", hint: "a host pattern or a list of them")) {
                rules.append(HostRule(pattern: pattern, target: target))
            }
        }
        return HostRouter(rules: rules)
    }

    func parseNoProxy(_ node: ConfigurationNode) throws(ConfigurationError) -> NoProxyRules {
        NoProxyRules(patterns: try hostPatterns(node))
    }

    /// A list of host patterns, or one string of them separated by commas or spaces.
    func hostPatterns(_ node: ConfigurationNode) throws(ConfigurationError) -> [HostPattern] {
        let entries: [ConfigurationNode]
        if case .sequence = node.node { entries = try node.sequence() } else { entries = [node] }
        var patterns: [HostPattern] = []
        for entry in entries {
            do {
                patterns += try NoProxyRules(parsing: try entry.string()).patterns
            } catch let error as ConfigurationError {
                throw error
            } catch {
                throw entry.error("\(error)")
            }
        }
        return patterns
    }

    /// `access: ["allow 10.0.0.0/8", "deny 0/0"]`, kept in order (first match decides).
    func parseAccess(_ node: ConfigurationNode) throws(ConfigurationError) -> AddressACL {
        var acl = AddressACL()
        for item in try node.sequence() {
            let words = try item.nonEmptyString().split(whereSeparator: { $0 == " " || $0 == "\t" })
            guard words.count == 2, let action = ["allow": AddressACL.Action.allow, "deny": .deny][words[0].lowercased()] else {
                throw item.error("expected \"allow CIDR\" or \"deny CIDR\" (like \"allow 10.0.0.0/8\", \"deny 0/0\"), found \(item.shownValue)")
            }
            do {
                try acl.append(action, String(words[1]))
            } catch {
                throw item.error("\(error)")
            }
        }
        return acl
    }

    /// `headers: {Name: value}`; values never appear in a message (they may be tokens).
    func parseHeaders(_ node: ConfigurationNode) throws(ConfigurationError) -> [HTTPHeaderField] {
        var fields: [HTTPHeaderField] = []
        for entry in try node.mapping().entries {
            // `string()` shows no scalar in its errors, so the value stays out of messages.
            let located = entry.value
            guard !entry.key.isEmpty, entry.key.allSatisfy(CntlmConfigurationParser.isTokenCharacter) else {
                throw located.error("not a valid HTTP header name")
            }
            guard !Self.reservedHeaderNames.contains(entry.key.lowercased()) else {
                throw located.error("\(entry.key) cannot be set here: the proxy manages it")
            }
            let value = try located.string()
            guard !value.unicodeScalars.contains(where: { $0.value < 0x20 && $0 != "\t" || $0.value == 0x7F }) else {
                throw located.error("the value has a control character (line break?); value not shown")
            }
            fields.append(HTTPHeaderField(name: entry.key, value: value.trimmingASCIIWhitespace()))
        }
        return fields
    }
}

extension CIDRBlock {
    /// Whether every address in the block is a loopback address.
    var isLoopbackOnly: Bool {
        if self == .ipv6Loopback { return true }
        guard case .v4 = network else { return false }
        return prefixLength >= 8 && CIDRBlock.ipv4Loopback.contains(network)
    }
}
