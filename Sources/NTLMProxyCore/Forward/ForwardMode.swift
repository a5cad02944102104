import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOHTTP1
import NTLMHTTP

/// Forward mode: local tools use the listener as their HTTP proxy; requests go to a parent
/// proxy that wants NTLM/Negotiate/Basic (407), or directly for NoProxy hosts, and `CONNECT`
/// becomes a byte tunnel.
///
/// Per client connection:
/// - the client's address must pass the access list (loopback only by default);
/// - with `client-auth: basic` every request carries the client's own Basic credential,
///   which authenticates upstream as that user (a pool per client credential);
///   with `relay` the client's own `Proxy-Authorization` goes to the parent over an
///   upstream connection pinned to this client connection;
/// - origin authentication (`Authorization: NTLM/Negotiate`, or a 401 offering them) pins
///   the upstream connection to this client connection from then on, so a Type 3 follows
///   its Type 1 and no other client ever rides an origin-authenticated connection;
/// - a parent that rejected a credential does not see it again within the lockout window.
public struct ForwardMode: ConnectionHandler {
    public let upstreams: ForwardUpstreams
    let router: ForwardRouter
    let credentials: ClientCredentialCache
    public let viaName: String

    public init(upstreams: ForwardUpstreams, viaName: String = "ntlmproxy") {
        self.upstreams = upstreams
        router = ForwardRouter(configuration: upstreams.configuration)
        credentials = ClientCredentialCache(
            defaultDomain: upstreams.configuration.credential?.httpCredential.domain ?? "",
            authentication: upstreams.configuration.clientCredentialAuthentication)
        self.viaName = viaName
    }

    var configuration: ForwardConfiguration { upstreams.configuration }

    public func serve(_ connection: ServerConnection, logger: Logger) async {
        guard clientPermitted(connection.remoteAddress) else {
            logger.warning("client refused by the access list", metadata: ["client": "\(connection.clientDescription)"])
            // A response answers a request (RFC 9112 §9.3): wait for the first head. Written
            // earlier, it would reach NIO's pipelining handler with no request in flight, which
            // asserts in debug builds and drops the connection in release ones.
            guard (try? await connection.nextRequestHead()) != nil else { return }
            let (head, body) = ForwardPages.page(.forbidden, "this proxy does not serve \(connection.remoteAddress?.ipAddress ?? "your address") (see the listener's access rules)", version: .http1_1, keepAlive: false)
            try? await connection.writeResponse(head, body: body)
            return
        }
        let session = ForwardClientSession()
        defer { session.pin.close() }
        do {
            while let head = try await connection.nextRequestHead() {
                let started = ContinuousClock.now
                let keepGoing: Bool
                if head.method == .CONNECT {
                    keepGoing = try await handleConnect(head, on: connection, session: session, started: started, logger: logger)
                } else {
                    keepGoing = try await handleRequest(head, on: connection, session: session, started: started, logger: logger)
                }
                if !keepGoing { return }
            }
        } catch let error as HTTPParserError {
            logger.warning("bad request: \(error)", metadata: ["client": "\(connection.clientDescription)"])
        } catch {
            logger.debug("connection closed: \(error)")
        }
    }

    func clientPermitted(_ address: SocketAddress?) -> Bool {
        guard let text = address?.ipAddress, let ip = IPAddress(parsing: text) else {
            // A Unix socket or an unknown peer: only if the rules allow everyone.
            return false
        }
        return configuration.access.permits(ip)
    }

    // MARK: Client credentials

    /// What goes upstream for this request, or the 407 the client must answer first.
    enum ClientIdentity {
        /// The configured credential (per parent).
        case configured
        /// The client's own credential from Basic.
        case client(HTTPCredential)
        /// The client's own Proxy-Authorization, relayed.
        case relay
    }

    func clientIdentity(_ head: HTTPRequestHead) -> Result<ClientIdentity, ForwardPages.Refusal> {
        switch configuration.clientAuthentication {
        case .none:
            return .success(.configured)
        case .relay:
            return .success(.relay)
        case .basic(let realm):
            do throws(ClientCredentialCache.Failure) {
                return .success(.client(try credentials.credential(from: head.headers["proxy-authorization"])))
            } catch .malformed {
                return .failure(.init(status: .badRequest, message: "malformed Proxy-Authorization: Basic credentials", basicRealm: nil))
            } catch {
                return .failure(.init(status: .proxyAuthenticationRequired, message: "this proxy needs your Windows user name and password (DOMAIN\\user)", basicRealm: realm))
            }
        }
    }

    /// The request target and the client's identity, or the refusal to answer with (a target
    /// that is not a proxy request, missing or malformed client credentials).
    func admit(_ head: HTTPRequestHead) -> Result<(ProxyRequestTarget, ClientIdentity), ForwardPages.Refusal> {
        let target: ProxyRequestTarget
        do {
            target = try ProxyRequestTarget(parsing: head.uri, isConnect: head.method == .CONNECT)
        } catch {
            return .failure(ForwardPages.Refusal(status: .badRequest, message: "\(error)"))
        }
        return clientIdentity(head).map { (target, $0) }
    }

    func upstreamCredential(_ identity: ClientIdentity, parent: ParentProxyConfiguration) -> HTTPCredential? {
        guard parent.scheme != .none else { return nil }
        switch identity {
        case .configured: return configuration.credential(for: parent)?.httpCredential
        case .client(let credential): return credential
        case .relay: return nil
        }
    }

    /// The lockout page when `credential` is blocked at `parent`.
    func lockoutRefusal(parent: ParentProxyConfiguration, credential: HTTPCredential?, identity: ClientIdentity) -> ForwardPages.Refusal? {
        guard let credential,
              let remaining = upstreams.lockout.remainingBlock(upstream: parent.name, credentialID: credential.lockoutID)
        else { return nil }
        return ForwardPages.lockout(parent: parent, user: credential.qualifiedUser, remaining: remaining, identity: identity, configuration: configuration)
    }

    func recordRejection(parent: ParentProxyConfiguration, credential: HTTPCredential, logger: Logger) {
        upstreams.lockout.recordRejection(upstream: parent.name, credentialID: credential.lockoutID)
        logger.error("parent \(parent.name) rejected the credential of \(credential.qualifiedUser); it will not be sent to that parent again for \(upstreams.lockout.window.components.seconds) s (to avoid locking the account)")
    }

    // MARK: Plain requests

    func handleRequest(_ head: HTTPRequestHead, on connection: ServerConnection, session: ForwardClientSession, started: ContinuousClock.Instant, logger: Logger) async throws -> Bool {
        let keepAlive = HopByHopHeaders.keepAlive(version: head.version, headers: head.headers)
        let target: ProxyRequestTarget
        let identity: ClientIdentity
        switch admit(head) {
        case .success(let admitted): (target, identity) = admitted
        case .failure(let refusal):
            return try await refuse(refusal, head: head, on: connection, keepAlive: keepAlive, started: started, logger: logger)
        }

        var headers = head.headers
        let relayedAuthorization = headers["proxy-authorization"]
        HopByHopHeaders.strip(&headers)
        if case .relay = identity {
            for value in relayedAuthorization { headers.add(name: "Proxy-Authorization", value: value) }
        }
        for field in configuration.addHeaders { headers.replaceOrAdd(name: field.name, value: field.value) }
        headers.add(name: "Via", value: "\(head.version.major).\(head.version.minor) \(viaName)")
        // Origin authentication that binds the connection (RFC 4559 style): from now on this
        // client connection keeps its own upstream connection.
        if Self.carriesConnectionAuthorization(head.headers) { session.originAuthenticated = true }
        if case .relay = identity { session.originAuthenticated = true }

        let (continueGate, body) = ContinueGate.forRequest(head, on: connection)

        let route = router.route(host: target.host, port: target.port)
        var failures: [String] = []
        var response: NTLMHTTPResponse? = nil
        var usedParent: ParentProxyConfiguration? = nil
        var usedCredential: HTTPCredential? = nil
        let candidates: [ParentProxyConfiguration?]
        switch route {
        case .direct: candidates = [nil]
        case .parents(let parents): candidates = upstreams.ordered(parents)
        }
        attempts: for parent in candidates {
            let request = NTLMHTTPRequest(url: head.uri, method: head.method, headers: headers, body: body)
            let pin = session.originAuthenticated ? session.pin : nil
            do {
                if let parent {
                    let credential = upstreamCredential(identity, parent: parent)
                    if let refusal = lockoutRefusal(parent: parent, credential: credential, identity: identity) {
                        return try await refuse(refusal, head: head, on: connection, keepAlive: keepAlive && !continueGate.leavesBodyUnread, started: started, logger: logger)
                    }
                    response = try await upstreams.client(for: parent).execute(request, credential: credential, via: ForwardUpstreams.proxyServer(parent), pin: pin)
                    upstreams.recordSuccess(parent)
                    usedCredential = credential
                } else {
                    response = try await upstreams.directClient.execute(request, credential: nil, pin: pin)
                }
                usedParent = parent
                break attempts
            } catch where ForwardUpstreams.isUnreachable(error) {
                if let parent {
                    upstreams.recordFailure(parent, error)
                    failures.append("\(parent.name): \(error)")
                } else {
                    failures.append("\(error)")
                }
            } catch let error as NTLMHTTPClientError {
                if let parent, let refusal = ForwardPages.kdcRejected(error, credential: upstreamCredential(identity, parent: parent), identity: identity, configuration: configuration) {
                    return try await refuse(refusal, head: head, on: connection, keepAlive: keepAlive && !continueGate.leavesBodyUnread, started: started, logger: logger)
                }
                let status: HTTPResponseStatus = (error == .timeout || error == .idleTimeout) ? .gatewayTimeout : .badGateway
                let via = parent.map { " via parent \($0.name)" } ?? ""
                return try await refuse(ForwardPages.Refusal(status: status, message: "\(target.authority)\(via): \(error)"), head: head, on: connection, keepAlive: false, started: started, logger: logger)
            }
        }
        guard let response else {
            let message = route == .direct
                ? "cannot reach \(target.authority): \(failures.joined(separator: "; "))"
                : "no parent proxy could be reached: \(failures.joined(separator: "; "))"
            return try await refuse(ForwardPages.Refusal(status: .badGateway, message: message), head: head, on: connection, keepAlive: keepAlive && !continueGate.leavesBodyUnread, started: started, logger: logger)
        }

        if response.authenticationFailure != nil, let parent = usedParent, let credential = usedCredential {
            recordRejection(parent: parent, credential: credential, logger: logger)
            _ = try? await response.body.drain(upTo: 1 << 20)
            let refusal = ForwardPages.rejected(parent: parent, user: credential.qualifiedUser, identity: identity, configuration: configuration, window: upstreams.lockout.window)
            return try await refuse(refusal, head: head, on: connection, keepAlive: keepAlive && !continueGate.leavesBodyUnread, started: started, logger: logger)
        }

        var relay = ResponseRelay(viaName: viaName)
        if case .relay = identity, response.status == .proxyAuthenticationRequired {
            relay.restoring = response.headers["proxy-authenticate"].map { ("Proxy-Authenticate", $0) }
        }
        if response.status == .unauthorized, Self.offersConnectionAuthentication(response.headers) {
            session.originAuthenticated = true
        }
        // A client that asked `Expect: 100-continue` and never got to send its body cannot
        // continue on this connection (RFC 9110 §10.1.1).
        let stays = keepAlive && !continueGate.leavesBodyUnread
        do {
            try await relay.write(response, for: head, on: connection, keepAlive: stays)
        } catch {
            AccessLog.record(logger, head, status: error.status, user: usedCredential?.qualifiedUser, started: started, interrupted: error)
            throw error
        }
        AccessLog.record(logger, head, status: Int(response.status.code), user: usedCredential?.qualifiedUser, started: started)
        return stays
    }

    /// Writes a refusal page and says whether the connection goes on.
    func refuse(_ refusal: ForwardPages.Refusal, head: HTTPRequestHead, on connection: ServerConnection, keepAlive: Bool, started: ContinuousClock.Instant, logger: Logger) async throws -> Bool {
        let (response, body) = refusal.render(version: head.version, keepAlive: keepAlive)
        try await connection.writeResponse(response, body: body)
        AccessLog.record(logger, head, status: Int(refusal.status.code), started: started)
        if refusal.status.code >= 500 || refusal.status == .forbidden {
            logger.warning("\(head.method) \(refusal.status.code): \(refusal.message)")
        }
        return keepAlive
    }

    static func carriesConnectionAuthorization(_ headers: HTTPHeaders) -> Bool {
        headers["authorization"].contains { value in
            let scheme = value.split(separator: " ", maxSplits: 1).first.map { $0.lowercased() } ?? ""
            return scheme == "ntlm" || scheme == "negotiate"
        }
    }

    static func offersConnectionAuthentication(_ headers: HTTPHeaders) -> Bool {
        guard let challenges = try? AuthChallenge.parse(fieldValues: headers["www-authenticate"]) else { return false }
        return challenges.contains { $0.hasScheme("NTLM") || $0.hasScheme("Negotiate") }
    }
}

/// What one client connection keeps between its requests.
final class ForwardClientSession: Sendable {
    /// The upstream connection of this client connection once origin authentication (or
    /// relay) made it personal; closed with the client connection.
    let pin = ConnectionPin()
    private let flags = NIOLockedValueBox(false)

    var originAuthenticated: Bool {
        get { flags.withLockedValue { $0 } }
        set { flags.withLockedValue { $0 = newValue } }
    }
}
