import Kerberos

extension ProxyConfiguration {
    /// What `check-config` prints: every listener (mode, address, TLS, backend, credential
    /// user, auth options, limits), every credential with where its secret comes from, and
    /// the warnings. Never contains a secret.
    public func renderSummary() -> String {
        var lines: [String] = []
        if let sourceFile { lines.append("configuration: \(sourceFile)") }
        lines.append("logging: level \(logging.level.rawValue)")

        lines.append("credentials:\(credentials.isEmpty ? " none" : "")")
        for credential in credentials {
            lines.append("  \(credential)")
            lines.append("    \(credential.authenticationSummary)")
        }
        if credentials.contains(where: { $0.kerberos != nil }) || listeners.contains(where: { $0.acceptor?.kerberos != nil }) {
            lines.append("kerberos: \(KerberosAvailability.current())")
        }

        lines.append("listeners:")
        for listener in listeners {
            lines.append(contentsOf: ProxyConfiguration.summary(of: listener).map { "  " + $0 })
        }

        if warnings.isEmpty {
            lines.append("warnings: none")
        } else {
            lines.append("warnings:")
            for warning in warnings { lines.append("  \(warning)") }
        }
        return lines.joined(separator: "\n")
    }

    /// `backend: URL`, and for https the trust roots used to verify it.
    static func backendLine(_ backend: BackendURL, trustRoots: String?) -> String {
        guard backend.scheme == .https else { return "backend: \(backend)" }
        return "backend: \(backend), trust roots: \(trustRoots ?? "system store")"
    }

    /// What a credential answers with: `Kerberos, else NTLM/Negotiate`, `Kerberos only`, ...
    static func mechanisms(of credential: CredentialConfiguration) -> String {
        switch credential.authentication.mode {
        case .auto: return credential.kerberos == nil ? "NTLM/Negotiate" : "Kerberos, else NTLM/Negotiate"
        case .kerberos: return "Kerberos only"
        case .ntlm: return "NTLM/Negotiate"
        case .basic: return "Basic only"
        }
    }

    static func summary(of listener: ListenerConfiguration) -> [String] {
        let address = "\(listener.address)\(listener.address.isLoopback ? " (loopback)" : " (reachable from the network)")"
        let tls = listener.tls.map { "TLS on (cert \($0.certificateFile), key \($0.privateKeyFile))" } ?? "TLS off"
        var lines = ["\(listener.name): \(listener.mode.name) on \(address), \(tls)"]
        switch listener.mode {
        case .gateway(let gateway):
            lines.append(backendLine(gateway.backend, trustRoots: gateway.trustRootsFile))
            lines.append("credential: \(gateway.credential.name) (\(gateway.credential.qualifiedUser), \(gateway.credential.source))")
            var auth = "auth: \(Self.mechanisms(of: gateway.credential)), Basic \(gateway.allowBasic ? "on" : "off"), NTLMv1 \(gateway.allowNTLMv1 ? "on" : "off")"
            if gateway.backend.scheme == .https { auth += ", channel bindings \(gateway.channelBindings ? "on" : "off")" }
            lines.append(auth)
        case .passThrough(let passThrough):
            lines.append(backendLine(passThrough.backend, trustRoots: passThrough.trustRootsFile))
            lines.append("auth: the clients' own NTLM/Negotiate, relayed over a backend connection pinned to each client connection")
            lines.append("public paths: \(passThrough.publicPaths.isEmpty ? "none" : passThrough.publicPaths.joined(separator: ", "))")
            let pins = passThrough.pins
            let lifetime = pins.maxLifetime.map { ConfigurationDuration.format($0) } ?? "unlimited"
            lines.append("pins: at most \(pins.maxPins), idle timeout \(ConfigurationDuration.format(listener.idleTimeout)), max requests \(pins.maxRequests == 0 ? "unlimited" : "\(pins.maxRequests)"), max lifetime \(lifetime)")
            lines.append(passThrough.pad401To > 0 ? "401 bodies padded to \(passThrough.pad401To) bytes" : "no 401 padding")
        case .acceptor(let acceptor):
            lines.append("backend: \(acceptor.backend.map { "\($0)" } ?? "none (built-in who-am-I page)")")
            if let helper = acceptor.domainHelper {
                let group = helper.requireGroup.map { ", members of \($0) only" } ?? ""
                lines.append("users: the domain through \(helper.arguments.joined(separator: " ")) (at most \(helper.helperLimit) helpers, \(helper.waitingLimit) waiting, \(ConfigurationDuration.format(Duration(helper.requestTimeout))) per logon\(group)), domain \(acceptor.domain)")
            } else if acceptor.usersFile.isEmpty {
                lines.append("users: none (Kerberos only: NTLM and Basic are not offered)")
            } else {
                lines.append("users: \(acceptor.users.count) from \(acceptor.usersFile), domain \(acceptor.domain)")
            }
            lines.append("identity header: \(acceptor.identityHeader) (a client's own copy is stripped)")
            if let kerberos = acceptor.kerberos {
                lines.append("kerberos: \(kerberos) (Negotiate tickets; the header carries user@REALM)")
            }
            let basic: String
            switch acceptor.basic {
            case .automatic: basic = listener.tls == nil ? "off (no TLS)" : "on (TLS)"
            case .enabled: basic = "on (allow-basic)"
            case .disabled: basic = "off (allow-basic: false)"
            }
            let padding = acceptor.pad401To > 0 ? "401 bodies padded to \(acceptor.pad401To) bytes" : "no 401 padding"
            lines.append("auth: NTLM/Negotiate, Basic \(basic), NTLMv1 \(acceptor.allowNTLMv1 ? "on" : "off"), \(padding)")
        case .forward(let forward):
            lines += Self.forwardSummary(forward)
        case .socks5(let socks):
            if let via = socks.via { lines.append("routing: as forward listener \(via)") } else { lines += Self.forwardSummary(socks.forward) }
            lines.append("SOCKS5 users: \(socks.users.isEmpty ? "none (no authentication)" : socks.users.map(\.name).joined(separator: ", "))")
        case .tunnel(let tunnel):
            lines.append("tunnel to: \(ParentProxyConfiguration.authority(host: tunnel.targetHost, port: tunnel.targetPort))")
            if let via = tunnel.via { lines.append("routing: as forward listener \(via)") } else { lines += Self.forwardSummary(tunnel.forward) }
        }
        let limits = listener.limits
        lines.append(
            "limits: \(limits.maxConnections) connections, idle timeout \(ConfigurationDuration.format(limits.idleTimeout)), "
                + "max header \(limits.maxHeaderBytes) bytes, request timeout \(ConfigurationDuration.format(limits.requestTimeout))")
        return [lines[0]] + lines.dropFirst().map { "  " + $0 }
    }

    static func forwardSummary(_ forward: ForwardConfiguration) -> [String] {
        var lines: [String] = []
        if forward.parents.isEmpty {
            lines.append("parents: none (direct)")
        } else {
            lines.append("parents (failover in this order): " + forward.parents.map { "\($0)" }.joined(separator: ", "))
        }
        if let credential = forward.credential {
            lines.append("credential: \(credential.name) (\(credential.qualifiedUser), \(credential.source))")
        }
        if !forward.rules.rules.isEmpty {
            lines.append("rules: " + forward.rules.rules.map { rule in
                switch rule.target {
                case .direct: return "\(rule.pattern) -> direct"
                case .parent(let name): return "\(rule.pattern) -> \(name)"
                }
            }.joined(separator: ", "))
        }
        if !forward.noProxy.patterns.isEmpty {
            lines.append("no-proxy: " + forward.noProxy.patterns.map(\.text).joined(separator: ", "))
        }
        let access = forward.access.rules.isEmpty ? "loopback only" : forward.access.rules.map { "\($0.action == .allow ? "allow" : "deny") \($0.block)" }.joined(separator: ", ") + " (else loopback only)"
        lines.append("clients: \(access)")
        switch forward.clientAuthentication {
        case .none: lines.append("client auth: none")
        case .basic(let realm): lines.append("client auth: Basic (realm \"\(realm)\"), each client's own credential upstream (\(forward.clientCredentialAuthentication.mode.rawValue))")
        case .relay: lines.append("client auth: relay (the client's own NTLM/Negotiate, pinned parent connection)")
        }
        let variant = NTLMResponseVariant(policy: forward.ntlmPolicy)
        lines.append("parent auth: NTLM as \(variant), allow-basic \(forward.allowBasic ? "on" : "off")")
        if !forward.addHeaders.isEmpty {
            // Values may be tokens: names only.
            lines.append("added headers: " + forward.addHeaders.map(\.name).joined(separator: ", ") + " (values not shown)")
        }
        lines.append("lockout window: \(ConfigurationDuration.format(forward.lockoutWindow)), parent retry every \(ConfigurationDuration.format(forward.parentRetryInterval))")
        lines.append(
            "parent connections: connect timeout \(ConfigurationDuration.format(forward.connectTimeout)), "
                + "\(forward.idleConnectionsPerParent) idle kept per parent and credential for \(ConfigurationDuration.format(forward.idleConnectionTimeout))")
        return lines
    }
}

extension ProxyConfiguration {
    /// What `check-config` adds about Kerberos, by asking the Kerberos library: the library,
    /// each credential's ticket source (a ticket cache is read; a client keytab gets a ticket
    /// from the KDC; a password is never sent — it could count as a failed logon), each
    /// acceptor's service keytab. Empty when nothing here uses Kerberos.
    public func kerberosChecks() async -> [String] {
        let users = credentials.compactMap { credential in credential.kerberos.map { (credential.name, $0) } }
        let acceptors = listeners.compactMap { listener in listener.acceptor?.kerberos.map { (listener.name, $0) } }
        guard !users.isEmpty || !acceptors.isEmpty else { return [] }
        var lines = ["kerberos checks:"]
        let availability = KerberosAvailability.current()
        lines.append("  \(availability)")
        guard availability.isAvailable else { return lines }
        for (name, kerberos) in users {
            lines.append("  credential \(name): \(await kerberos.report(contactKDC: false))")
        }
        for (name, settings) in acceptors {
            switch await KerberosAcceptor(keytab: settings.keytab, principal: settings.principal).check() {
            case .success(let principal): lines.append("  listener \(name): service keytab usable (\(principal))")
            case .failure(let error): lines.append("  listener \(name): service keytab unusable — \(error)")
            }
        }
        return lines
    }
}
