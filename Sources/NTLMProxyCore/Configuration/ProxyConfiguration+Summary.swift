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

    static func summary(of listener: ListenerConfiguration) -> [String] {
        let address = "\(listener.address)\(listener.address.isLoopback ? " (loopback)" : " (reachable from the network)")"
        let tls = listener.tls.map { "TLS on (cert \($0.certificateFile), key \($0.privateKeyFile))" } ?? "TLS off"
        var lines = ["\(listener.name): \(listener.mode.name) on \(address), \(tls)"]
        switch listener.mode {
        case .gateway(let gateway):
            var backend = "backend: \(gateway.backend)"
            if gateway.backend.scheme == .https {
                backend += ", trust roots: \(gateway.trustRootsFile ?? "system store")"
            }
            lines.append(backend)
            lines.append("credential: \(gateway.credential.name) (\(gateway.credential.qualifiedUser), \(gateway.credential.source))")
            var auth = "auth: NTLM/Negotiate, Basic \(gateway.allowBasic ? "on" : "off"), NTLMv1 \(gateway.allowNTLMv1 ? "on" : "off")"
            if gateway.backend.scheme == .https { auth += ", channel bindings \(gateway.channelBindings ? "on" : "off")" }
            lines.append(auth)
        case .acceptor(let acceptor):
            lines.append("backend: \(acceptor.backend.map { "\($0)" } ?? "none (built-in who-am-I page)")")
            lines.append("users: \(acceptor.users.count) from \(acceptor.usersFile), domain \(acceptor.domain)")
            lines.append("identity header: \(acceptor.identityHeader) (a client's own copy is stripped)")
            let basic: String
            switch acceptor.basic {
            case .automatic: basic = listener.tls == nil ? "off (no TLS)" : "on (TLS)"
            case .enabled: basic = "on (allow-basic)"
            case .disabled: basic = "off (allow-basic: false)"
            }
            let padding = acceptor.pad401To > 0 ? "401 bodies padded to \(acceptor.pad401To) bytes" : "no 401 padding"
            lines.append("auth: NTLM/Negotiate, Basic \(basic), NTLMv1 \(acceptor.allowNTLMv1 ? "on" : "off"), \(padding)")
        }
        let limits = listener.limits
        lines.append(
            "limits: \(limits.maxConnections) connections, idle timeout \(ConfigurationDuration.format(limits.idleTimeout)), "
                + "max header \(limits.maxHeaderBytes) bytes, request timeout \(ConfigurationDuration.format(limits.requestTimeout))")
        return [lines[0]] + lines.dropFirst().map { "  " + $0 }
    }
}
