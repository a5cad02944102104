import NIOCore
import NTLM

extension ConfigurationParser {
    static let commonListenerKeys = ["name", "listen", "mode", "tls", "limits"]
    static let gatewayKeys = ["backend", "credential", "tls-trust-roots", "channel-bindings", "auth"]
    static let acceptorKeys = ["users-file", "backend", "identity-header", "domain", "allow-basic", "allow-ntlmv1", "pad-401-to", "kerberos", "winbind"]
    static let socks5Keys = ["via", "users"]
    static let tunnelKeys = ["via", "target"]
    static let supportedModes = ["gateway", "pass-through", "acceptor", "forward", "socks5", "tunnel"]
    /// Designed (see DESIGN.md) but not in this version.

    /// The keys a listener of `mode` may have besides the common ones; socks5 and tunnel
    /// listeners take the forward keys too when they have no `via:`.
    static func modeKeys(_ mode: String, hasVia: Bool) -> [String] {
        switch mode {
        case "gateway": return gatewayKeys
        case "pass-through": return passThroughKeys
        case "acceptor": return acceptorKeys
        case "forward": return forwardKeys
        case "socks5": return socks5Keys + (hasVia ? [] : forwardKeys)
        default: return tunnelKeys + (hasVia ? [] : forwardKeys)
        }
    }

    /// Whether the entry is a socks5/tunnel listener that borrows a forward listener's
    /// settings (`via:`), so it is parsed once the forward listeners are known.
    static func needsForwardListeners(_ node: ConfigurationNode) -> Bool {
        guard let map = try? node.mapping(), let mode = try? map["mode"]?.nonEmptyString().lowercased() else { return false }
        return (mode == "socks5" || mode == "tunnel") && map["via"] != nil
    }

    /// One `listeners:` entry, plus the nodes of its name and address for cross-checks.
    /// `forwards` holds the forward listeners' settings by name, for `via:`.
    mutating func parseListener(
        _ node: ConfigurationNode, credentials: [CredentialConfiguration], forwards: [String: ForwardConfiguration] = [:]
    ) throws(ConfigurationError) -> (ListenerConfiguration, name: ConfigurationNode, listen: ConfigurationNode) {
        let map = try node.mapping()

        let modeNode = try map.required("mode", hint: ConfigurationParser.supportedModes.joined(separator: ", "))
        var mode = try modeNode.nonEmptyString().lowercased()
        if mode == "passthrough" { mode = "pass-through" }
        guard ConfigurationParser.supportedModes.contains(mode) else {
            throw modeNode.error("unknown mode \(modeNode.shownValue) (supported: \(ConfigurationParser.supportedModes.joined(separator: ", ")))")
        }
        let modeKeys = ConfigurationParser.modeKeys(mode, hasVia: map["via"] != nil)
        try map.checkKeys(allowed: ConfigurationParser.commonListenerKeys + modeKeys, context: " for a \(mode) listener")
        if mode == "socks5" || mode == "tunnel", let tlsNode = map["tls"] {
            throw tlsNode.error("a \(mode) listener carries raw TCP: tls is not available for it")
        }

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
        switch mode {
        case "gateway":
            let gateway = try parseGateway(map, credentials: credentials)
            if !address.isLoopback {
                warnings.append(listenNode.warning(
                    "gateway listens on \(address), not loopback: anyone who can reach it makes requests as \(gateway.credential.qualifiedUser)"))
            }
            listenerMode = .gateway(gateway)
        case "pass-through":
            listenerMode = .passThrough(try parsePassThrough(map))
        case "acceptor":
            let acceptor = try parseAcceptor(map)
            if acceptor.basic == .enabled, tls == nil {
                warnings.append((map["allow-basic"] ?? listenNode).warning(
                    "Basic is enabled without TLS: passwords cross the network in clear text"))
            }
            listenerMode = .acceptor(acceptor)
        case "forward":
            listenerMode = .forward(try parseForward(map, credentials: credentials, address: address, listenNode: listenNode, hasTLS: tls != nil))
        default:
            let forward = try borrowedForward(
                map, mode: mode, credentials: credentials, forwards: forwards, address: address, listenNode: listenNode)
            if mode == "socks5" {
                let users = try map["users"].map { node throws(ConfigurationError) in try parseSOCKS5Users(node) } ?? []
                if users.isEmpty, !address.isLoopback {
                    warnings.append(listenNode.warning("SOCKS5 on \(address) without users: clients allowed by the access rules need no password"))
                }
                listenerMode = .socks5(SOCKS5Configuration(forward: forward, users: users, via: try map["via"]?.nonEmptyString()))
            } else {
                let target = try hostAndPort(try map.required("target", hint: "HOST:PORT the tunnel leads to"), what: "tunnel target")
                listenerMode = .tunnel(StaticTunnelConfiguration(
                    forward: forward, targetHost: target.host, targetPort: target.port, via: try map["via"]?.nonEmptyString()))
            }
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

    /// `winbind: {helper, helpers, queue, timeout, require-group}` (or `winbind: true` for the
    /// defaults).
    mutating func parseWinbind(_ node: ConfigurationNode) throws(ConfigurationError) -> NTLMAuthHelperConfiguration {
        var helper = NTLMAuthHelperConfiguration()
        if let enabled = try? node.bool() {
            guard enabled else { throw node.error("winbind: false means nothing; leave it out (or give users-file)") }
            return helper
        }
        let map = try node.mapping()
        try map.checkKeys(allowed: ["helper", "helpers", "queue", "timeout", "require-group"])
        if let value = map["helper"] {
            let command: [String]
            if let list = try? value.sequence() {
                var items: [String] = []
                for item in list { items.append(try item.nonEmptyString()) }
                command = items
            } else {
                command = [try value.nonEmptyString()]
            }
            guard let program = command.first, program.hasPrefix("/") else {
                throw value.error("the helper is the absolute path of ntlm_auth, then its arguments (e.g. [/usr/bin/ntlm_auth, --configfile=/etc/samba/smb.conf])")
            }
            if let problem = ConfigurationFiles.checkExecutable(program) { throw value.error("helper \(program): \(problem)") }
            helper.command = command
        }
        if let value = map["helpers"] { helper.maximumHelpers = try value.int(in: 1...256) }
        if let value = map["queue"] { helper.queueLimit = try value.int(in: 0...100_000) }
        if let value = map["timeout"] { helper.timeout = TimeAmount(try value.duration()) }
        if let value = map["require-group"] { helper.requireGroup = try value.nonEmptyString() }
        return helper
    }

    mutating func parseAcceptor(_ map: ConfigurationMapping) throws(ConfigurationError) -> AcceptorConfiguration {
        var domain = AcceptorConfiguration.defaultDomain
        if let node = map["domain"] {
            domain = try node.nonEmptyString()
            guard domain.count <= 15, domain.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-" || $0 == "_") }) else {
                throw node.error("expected a NetBIOS domain name: at most 15 letters, digits, '-' or '_'")
            }
        }
        if map["users-file"] != nil, let winbind = map["winbind"] {
            throw winbind.error("give either users-file or winbind (one place checks NTLM logons)")
        }
        guard map["users-file"] != nil || map["winbind"] != nil || map["kerberos"] != nil else {
            throw map.owner.error("missing users-file (or winbind: for the domain, or kerberos: for Kerberos only)")
        }
        var usersPath = ""
        var users = NTLMUserStore()
        if let usersNode = map["users-file"] {
            usersPath = try existingFile(usersNode, what: "users file")
            users = try UsersFile.load(path: usersPath, defaultDomain: domain)
            warnIfShared(usersPath, node: usersNode, what: "users file")
            if users.count == 0 { warnings.append(usersNode.warning("the users file \(usersPath) has no users: nobody can log in")) }
        }

        var acceptor = AcceptorConfiguration(usersFile: usersPath, users: users, domain: domain)
        if let node = map["winbind"] { acceptor.domainHelper = try parseWinbind(node) }
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
        if let node = map["kerberos"] {
            let kerberos = try node.mapping()
            try kerberos.checkKeys(allowed: ["keytab", "principal"])
            var settings = AcceptorKerberosConfiguration(keytab: nil)
            if let value = kerberos["keytab"] {
                let path = try existingFile(value, what: "keytab")
                warnIfShared(path, node: value, what: "keytab")
                settings.keytab = path
            }
            if let value = kerberos["principal"] { settings.principal = try value.nonEmptyString() }
            acceptor.kerberos = settings
        }
        if let node = map["allow-ntlmv1"] { acceptor.allowNTLMv1 = try node.bool() }
        if let node = map["pad-401-to"] { acceptor.pad401To = try node.int(in: 0...65536) }
        return acceptor
    }

    /// The forward settings of a socks5/tunnel listener: the named forward listener's (`via:`),
    /// or its own forward keys.
    mutating func borrowedForward(
        _ map: ConfigurationMapping, mode: String, credentials: [CredentialConfiguration], forwards: [String: ForwardConfiguration],
        address: ListenAddress, listenNode: ConfigurationNode
    ) throws(ConfigurationError) -> ForwardConfiguration {
        guard let viaNode = map["via"] else {
            guard map["parents"] != nil else {
                throw map.owner.error("a \(mode) listener needs via: (the name of a forward listener) or its own parents:")
            }
            let forward = try parseForward(map, credentials: credentials, address: address, listenNode: listenNode, hasTLS: false)
            if forward.clientAuthentication != .none, let node = map["client-auth"] {
                throw node.error("a \(mode) listener has no HTTP client authentication; client-auth must be none")
            }
            return forward
        }
        let name = try viaNode.nonEmptyString()
        guard var forward = forwards[name] else {
            let known = forwards.isEmpty ? "there are no forward listeners" : "forward listeners: \(forwards.keys.sorted().joined(separator: ", "))"
            throw viaNode.error("no forward listener named \"\(ConfigurationNode.shorten(name))\" (\(known))")
        }
        if forward.clientAuthentication != .none {
            throw viaNode.error(
                "forward listener \"\(name)\" uses client-auth \(Self.name(of: forward.clientAuthentication)), which a \(mode) listener cannot do: give it its own parents: instead")
        }
        if !address.isLoopback, forward.access.rules.isEmpty {
            warnings.append(listenNode.warning(
                "listening on \(address), but only loopback clients are allowed until you add access rules (to \"\(name)\")"))
        }
        forward.clientAuthentication = .none
        return forward
    }

    /// RFC 1929 users: `[{name, password-env | password-file | password}]`.
    mutating func parseSOCKS5Users(_ node: ConfigurationNode) throws(ConfigurationError) -> [SOCKS5UserConfiguration] {
        var users: [SOCKS5UserConfiguration] = []
        var lines: [String: Int?] = [:]
        for item in try node.sequence() {
            let map = try item.mapping()
            let sources = ["password", "password-env", "password-file"]
            try map.checkKeys(allowed: ["name"] + sources, context: " for a SOCKS5 user")
            let nameNode = try map.required("name")
            let name = try nameNode.nonEmptyString()
            // RFC 1929: UNAME and PASSWD are 1-255 bytes each.
            guard name.utf8.count <= 255 else { throw nameNode.error("at most 255 bytes (RFC 1929)") }
            if let first = lines[name] {
                throw nameNode.error("duplicate SOCKS5 user \"\(ConfigurationNode.shorten(name))\"\(first.map { " (first on line \($0))" } ?? "")")
            }
            lines[name] = nameNode.line
            let present = sources.compactMap { key in map[key].map { (key, $0) } }
            guard let (key, sourceNode) = present.first else {
                throw item.error("missing secret: give exactly one of \(sources.joined(separator: ", "))")
            }
            if present.count > 1 {
                throw present[1].1.error("more than one secret source (\(present.map(\.0).joined(separator: ", "))): give exactly one")
            }
            let password: String
            switch key {
            case "password":
                warnings.append(sourceNode.warning("password written in the configuration file; prefer password-file or password-env"))
                password = try sourceNode.string()
            case "password-env":
                password = try environmentValue(try sourceNode.nonEmptyString(), node: sourceNode)
            default:
                let path = try existingFile(sourceNode, what: "password file")
                warnIfShared(path, node: sourceNode, what: "password file")
                password = try firstLine(of: path, node: sourceNode, what: "password file")
            }
            guard (1...255).contains(password.utf8.count) else {
                throw sourceNode.error("a SOCKS5 password must be 1-255 bytes (RFC 1929); value <redacted>")
            }
            users.append(SOCKS5UserConfiguration(name: name, password: Password(password)))
        }
        return users
    }
}
