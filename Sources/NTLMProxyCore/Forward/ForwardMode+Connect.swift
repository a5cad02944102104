import Logging
import NIOCore
import NIOHTTP1
import NTLMHTTP

extension ForwardMode {
    /// How opening a byte tunnel to host:port went, through the route's parents or directly.
    enum TunnelAttempt {
        case established(OpenedTunnel, parent: ParentProxyConfiguration?)
        /// The parent answered the CONNECT with something other than 2xx.
        case refused(ProxyTunnelRefusal, parent: ParentProxyConfiguration, credential: HTTPCredential?)
        /// We refuse before asking anyone (lockout).
        case blocked(ForwardPages.Refusal)
        /// Nothing could be reached, or the exchange failed.
        case failed(TunnelOpenError, status: HTTPResponseStatus)
    }

    /// Opens a tunnel along the route of host:port, failing over between parents on connect
    /// failures and timeouts only.
    func openUpstreamTunnel(host: String, port: Int, identity: ClientIdentity, headers: HTTPHeaders, pin: ConnectionPin?, logger: Logger) async -> TunnelAttempt {
        let authority = ParentProxyConfiguration.authority(host: host, port: port)
        switch router.route(host: host, port: port) {
        case .direct:
            do {
                let channel = try await DirectConnector.connect(host: host, port: port, timeout: configuration.connectTimeout, group: upstreams.group)
                return .established(OpenedTunnel(channel: channel, initialBytes: nil), parent: nil)
            } catch {
                switch error {
                case .timedOut: return .failed(.timedOut("connecting to \(authority) timed out"), status: .gatewayTimeout)
                default: return .failed(.unreachable("\(error)"), status: .badGateway)
                }
            }
        case .parents(let parents):
            var failures: [String] = []
            var sawTimeout = false
            for parent in upstreams.ordered(parents) {
                let credential = upstreamCredential(identity, parent: parent)
                if let refusal = lockoutRefusal(parent: parent, credential: credential, identity: identity) {
                    return .blocked(refusal)
                }
                do {
                    let result = try await upstreams.client(for: parent).openTunnel(
                        host: host, port: port, via: ForwardUpstreams.proxyServer(parent), credential: credential,
                        headers: headers, pin: pin, timeout: configuration.connectTimeout * 3, logger: logger)
                    upstreams.recordSuccess(parent)
                    switch result {
                    case .established(let tunnel):
                        return .established(OpenedTunnel(channel: tunnel.channel, initialBytes: tunnel.initialBytes), parent: parent)
                    case .refused(let refusal):
                        if refusal.authenticationFailure != nil, let credential {
                            recordRejection(parent: parent, credential: credential, logger: logger)
                        }
                        return .refused(refusal, parent: parent, credential: credential)
                    }
                } catch where ForwardUpstreams.isUnreachable(error) {
                    upstreams.recordFailure(parent, error)
                    if case .connectTimeout = error as? NTLMHTTPClientError { sawTimeout = true }
                    failures.append("\(parent.name): \(error)")
                } catch {
                    if let refusal = ForwardPages.kdcRejected(error, credential: credential, identity: identity, configuration: configuration) {
                        return .blocked(refusal)
                    }
                    let timedOut = (error as? NTLMHTTPClientError).map { $0 == .timeout || $0 == .idleTimeout } ?? false
                    let message = "CONNECT \(authority) via parent \(parent.name): \(error)"
                    return timedOut ? .failed(.timedOut(message), status: .gatewayTimeout) : .failed(.failed(message), status: .badGateway)
                }
            }
            let message = "no parent proxy could be reached: \(failures.joined(separator: "; "))"
            return sawTimeout && failures.count == parents.count
                ? .failed(.timedOut(message), status: .gatewayTimeout)
                : .failed(.unreachable(message), status: .badGateway)
        }
    }

    /// `CONNECT host:port`: a tunnel through the parent (its 407 handshake done by us) or
    /// directly; the client gets `200 Connection established` and raw bytes, or a refusal
    /// page after which its connection stays usable. Returns whether to read another request.
    func handleConnect(_ head: HTTPRequestHead, on connection: ServerConnection, session: ForwardClientSession, started: ContinuousClock.Instant, logger: Logger) async throws -> Bool {
        let keepAlive = HopByHopHeaders.keepAlive(version: head.version, headers: head.headers)
        let target: ProxyRequestTarget
        let identity: ClientIdentity
        switch admit(head) {
        case .success(let admitted): (target, identity) = admitted
        case .failure(let refusal):
            return try await refuseConnect(refusal, head: head, on: connection, keepAlive: keepAlive, started: started, logger: logger)
        }
        var headers = HTTPHeaders()
        if let agent = head.headers.first(name: "user-agent") { headers.add(name: "User-Agent", value: agent) }
        if case .relay = identity {
            for value in head.headers["proxy-authorization"] { headers.add(name: "Proxy-Authorization", value: value) }
        }
        for field in configuration.addHeaders { headers.replaceOrAdd(name: field.name, value: field.value) }
        let pin: ConnectionPin? = { if case .relay = identity { return session.pin } else { return nil } }()

        switch await openUpstreamTunnel(host: target.host, port: target.port, identity: identity, headers: headers, pin: pin, logger: logger) {
        case .established(let tunnel, let parent):
            logger.debug("tunnel open", metadata: ["target": "\(target.authority)", "via": "\(parent?.name ?? "direct")"])
            let statistics = try await connection.startTunnel(to: tunnel.channel, initialBytesToClient: tunnel.initialBytes)
            AccessLog.record(logger, head, status: 200, started: started)
            logger.debug("tunnel closed", metadata: ["target": "\(target.authority)", "bytes-from-client": "\(statistics.bytesClientToUpstream)", "bytes-to-client": "\(statistics.bytesUpstreamToClient)"])
            return false
        case .refused(let refusal, let parent, let credential):
            if refusal.authenticationFailure != nil, let credential {
                let page = ForwardPages.rejected(parent: parent, user: credential.qualifiedUser, identity: identity, configuration: configuration, window: upstreams.lockout.window)
                return try await refuseConnect(page, head: head, on: connection, keepAlive: keepAlive, started: started, logger: logger)
            }
            // The parent's own answer (403 for a forbidden port, 407 in relay mode, 502 ...).
            var headers = refusal.headers
            let challenges = headers["proxy-authenticate"]
            HopByHopHeaders.strip(&headers)
            headers.remove(name: "content-length")
            if case .relay = identity {
                for value in challenges { headers.add(name: "Proxy-Authenticate", value: value) }
            }
            headers.add(name: "Content-Length", value: String(refusal.body.readableBytes))
            headers.add(name: "Via", value: "1.1 \(viaName)")
            SimpleResponses.connectionHeader(&headers, version: head.version, keepAlive: keepAlive)
            try await connection.refuseConnect(HTTPResponseHead(version: head.version, status: refusal.status, headers: headers), body: refusal.body, keepAlive: keepAlive)
            AccessLog.record(logger, head, status: Int(refusal.status.code), started: started)
            return keepAlive
        case .blocked(let refusal):
            return try await refuseConnect(refusal, head: head, on: connection, keepAlive: keepAlive, started: started, logger: logger)
        case .failed(let error, let status):
            return try await refuseConnect(ForwardPages.Refusal(status: status, message: "\(error)"), head: head, on: connection, keepAlive: keepAlive, started: started, logger: logger)
        }
    }

    func refuseConnect(_ refusal: ForwardPages.Refusal, head: HTTPRequestHead, on connection: ServerConnection, keepAlive: Bool, started: ContinuousClock.Instant, logger: Logger) async throws -> Bool {
        let (response, body) = refusal.render(version: head.version, keepAlive: keepAlive)
        try await connection.refuseConnect(response, body: body, keepAlive: keepAlive)
        AccessLog.record(logger, head, status: Int(refusal.status.code), started: started)
        if refusal.status.code >= 500 || refusal.status == .forbidden {
            logger.warning("CONNECT \(refusal.status.code): \(refusal.message)")
        }
        return keepAlive
    }
}

/// SOCKS5 and static tunnels open their streams through the same routing, parents, pools
/// and lockout guard, with the configured credential.
extension ForwardMode: TunnelOpening {
    public func openTunnel(host: String, port: Int, client: SocketAddress?, logger: Logger) async throws(TunnelOpenError) -> OpenedTunnel {
        guard clientPermitted(client) else {
            throw .notAllowed("client \(client?.ipAddress ?? "unknown") is not allowed by the access rules")
        }
        switch await openUpstreamTunnel(host: host, port: port, identity: .configured, headers: [:], pin: nil, logger: logger) {
        case .established(let tunnel, _):
            return tunnel
        case .refused(let refusal, let parent, _):
            if refusal.authenticationFailure != nil || refusal.status == .proxyAuthenticationRequired {
                throw .authenticationFailed("parent \(parent.name) rejected the credential (\(refusal.status.code))")
            }
            throw .notAllowed("parent \(parent.name) refused CONNECT \(ParentProxyConfiguration.authority(host: host, port: port)): \(refusal.status.code) \(refusal.status.reasonPhrase)")
        case .blocked(let refusal):
            throw .authenticationFailed(refusal.message)
        case .failed(let error, _):
            throw error
        }
    }
}
