extension ConfigurationParser {
    static let commonListenerKeys = ["name", "listen", "mode", "tls", "limits"]
    static let gatewayKeys = ["backend", "credential", "tls-trust-roots", "channel-bindings", "auth"]
    static let acceptorKeys = ["users-file", "backend", "identity-header", "domain", "allow-basic", "allow-ntlmv1", "pad-401-to"]
    static let supportedModes = ["gateway", "acceptor"]
    /// Designed (see DESIGN.md) but not in this version.
    static let futureModes = ["forward", "pass-through", "passthrough"]

    /// One `listeners:` entry, plus the nodes of its name and address for cross-checks.
    mutating func parseListener(
        _ node: ConfigurationNode, credentials: [CredentialConfiguration]
    ) throws(ConfigurationError) -> (ListenerConfiguration, name: ConfigurationNode, listen: ConfigurationNode) {
        let map = try node.mapping()

        let modeNode = try map.required("mode", hint: ConfigurationParser.supportedModes.joined(separator: " or "))
        let mode = try modeNode.nonEmptyString().lowercased()
        if ConfigurationParser.futureModes.contains(mode) {
            throw modeNode.error(
                "mode \"\(mode)\" is not yet supported in this version (supported: \(ConfigurationParser.supportedModes.joined(separator: ", ")))")
        }
        guard ConfigurationParser.supportedModes.contains(mode) else {
            throw modeNode.error("unknown mode \(modeNode.shownValue) (supported: \(ConfigurationParser.supportedModes.joined(separator: ", ")))")
        }
        let modeKeys = mode == "gateway" ? ConfigurationParser.gatewayKeys : ConfigurationParser.acceptorKeys
        try map.checkKeys(allowed: ConfigurationParser.commonListenerKeys + modeKeys, context: " for a \(mode) listener")

        let nameNode = try map.required("name")
        let name = try nameNode.nonEmptyString()
        guard ConfigurationParser.isValidName(name) else {
            throw nameNode.error("listener names may use letters, digits, '-', '_' and '.' (at most 64)")
        }

        let listenNode = try map.required("listen", hint: "HOST:PORT or PORT")
        let address: ListenAddress
        do {
            address = try ListenAddress(parsing: try listenNode.string())
        } catch let error as ListenAddress.ParseError {
            throw listenNode.error("bad listen address \(listenNode.shownValue): \(error)")
        } catch let error as ConfigurationError {
            throw error
        } catch {
            throw listenNode.error("bad listen address")
        }

        let tls = try map["tls"].map { node throws(ConfigurationError) in try parseTLS(node) }
        let limits = try map["limits"].map { node throws(ConfigurationError) in try parseLimits(node) } ?? .default

        let listenerMode: ListenerConfiguration.Mode
        if mode == "gateway" {
            let gateway = try parseGateway(map, credentials: credentials)
            if !address.isLoopback {
                warnings.append(listenNode.warning(
                    "gateway listens on \(address), not loopback: anyone who can reach it makes requests as \(gateway.credential.qualifiedUser)"))
            }
            listenerMode = .gateway(gateway)
        } else {
            let acceptor = try parseAcceptor(map)
            if acceptor.basic == .enabled, tls == nil {
                warnings.append((map["allow-basic"] ?? listenNode).warning(
                    "Basic is enabled without TLS: passwords cross the network in clear text"))
            }
            listenerMode = .acceptor(acceptor)
        }
        let listener = ListenerConfiguration(name: name, address: address, mode: listenerMode, tls: tls, limits: limits, line: node.line)
        return (listener, nameNode, listenNode)
    }

    func parseTLS(_ node: ConfigurationNode) throws(ConfigurationError) -> ListenerTLSConfiguration {
        let map = try node.mapping()
        try map.checkKeys(allowed: ["cert", "key"])
        let cert = try existingFile(try map.required("cert", hint: "PEM certificate chain"), what: "certificate file")
        let key = try existingFile(try map.required("key", hint: "PEM private key"), what: "private key file")
        return ListenerTLSConfiguration(certificateFile: cert, privateKeyFile: key)
    }

    func parseLimits(_ node: ConfigurationNode) throws(ConfigurationError) -> ListenerLimits {
        let map = try node.mapping()
        try map.checkKeys(allowed: ["max-connections", "idle-timeout", "max-header-bytes", "request-timeout"])
        var limits = ListenerLimits()
        if let value = map["max-connections"] { limits.maxConnections = try value.int(in: 1...1_000_000) }
        if let value = map["idle-timeout"] { limits.idleTimeout = try value.duration() }
        if let value = map["max-header-bytes"] { limits.maxHeaderBytes = try value.int(in: 1024...(16 << 20)) }
        if let value = map["request-timeout"] { limits.requestTimeout = try value.duration() }
        return limits
    }

    func backend(_ node: ConfigurationNode) throws(ConfigurationError) -> BackendURL {
        do {
            return try BackendURL(parsing: try node.string())
        } catch let error as BackendURL.ParseError {
            throw node.error(error.description)
        } catch let error as ConfigurationError {
            throw error
        } catch {
            throw node.error("not a URL")
        }
    }

    mutating func parseGateway(_ map: ConfigurationMapping, credentials: [CredentialConfiguration]) throws(ConfigurationError) -> GatewayConfiguration {
        let backendURL = try backend(try map.required("backend", hint: "http:// or https:// URL of the origin"))
        let credentialNode = try map.required("credential", hint: "the name of an entry under credentials:")
        let credentialName = try credentialNode.nonEmptyString()
        guard let credential = credentials.first(where: { $0.name == credentialName }) else {
            let known = credentials.isEmpty ? "none are defined under credentials:" : "defined: \(credentials.map(\.name).joined(separator: ", "))"
            throw credentialNode.error("no credential named \"\(ConfigurationNode.shorten(credentialName))\" (\(known))")
        }
        var gateway = GatewayConfiguration(backend: backendURL, credential: credential)
        if let node = map["tls-trust-roots"] {
            gateway.trustRootsFile = try existingFile(node, what: "trust roots file")
            if backendURL.scheme != .https { warnings.append(node.warning("ignored: the backend is not https")) }
        }
        if let node = map["channel-bindings"] { gateway.channelBindings = try node.bool() }
        if let node = map["auth"] {
            let auth = try node.mapping()
            try auth.checkKeys(allowed: ["allow-basic", "ntlmv1"])
            if let value = auth["allow-basic"] {
                gateway.allowBasic = try value.bool()
                if gateway.allowBasic, !credential.allowBasic {
                    throw value.error("credential \"\(credential.name)\" must set allow-basic: true too (its password is otherwise not kept)")
                }
                if gateway.allowBasic, backendURL.scheme != .https {
                    warnings.append(value.warning("Basic to a plain http backend sends the password in clear text"))
                }
            }
            if let value = auth["ntlmv1"] { gateway.allowNTLMv1 = try value.bool() }
        }
        return gateway
    }

    mutating func parseAcceptor(_ map: ConfigurationMapping) throws(ConfigurationError) -> AcceptorConfiguration {
        var domain = AcceptorConfiguration.defaultDomain
        if let node = map["domain"] {
            domain = try node.nonEmptyString()
            guard domain.count <= 15, domain.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-" || $0 == "_") }) else {
                throw node.error("expected a NetBIOS domain name: at most 15 letters, digits, '-' or '_'")
            }
        }
        let usersNode = try map.required("users-file", hint: "DOMAIN\\user:NTHASH lines")
        let usersPath = try existingFile(usersNode, what: "users file")
        let users = try UsersFile.load(path: usersPath, defaultDomain: domain)
        warnIfShared(usersPath, node: usersNode, what: "users file")
        if users.count == 0 { warnings.append(usersNode.warning("the users file \(usersPath) has no users: nobody can log in")) }

        var acceptor = AcceptorConfiguration(usersFile: usersPath, users: users, domain: domain)
        if let node = map["backend"] { acceptor.backend = try backend(node) }
        if let node = map["identity-header"] {
            let header = try node.nonEmptyString()
            guard header.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || "!#$%&'*+-.^_`|~".contains($0)) }) else {
                throw node.error("not a valid HTTP header name \(node.shownValue)")
            }
            let reserved = ["authorization", "proxy-authorization", "host", "content-length", "transfer-encoding", "connection", "cookie", "upgrade"]
            guard !reserved.contains(header.lowercased()) else {
                throw node.error("\(header) cannot carry the identity (it is a protocol header)")
            }
            acceptor.identityHeader = header
        }
        if let node = map["allow-basic"] { acceptor.basic = try node.bool() ? .enabled : .disabled }
        if let node = map["allow-ntlmv1"] { acceptor.allowNTLMv1 = try node.bool() }
        if let node = map["pad-401-to"] { acceptor.pad401To = try node.int(in: 0...65536) }
        return acceptor
    }
}
