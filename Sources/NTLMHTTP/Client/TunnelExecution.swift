import Logging
import NIOCore
import NIOHTTP1
import NTLM

/// One `openTunnel`: `CONNECT` legs to a proxy over one or more connections, as
/// `AuthHandshake` directs (Type 1 → 407 with Type 2, its body drained → Type 3 on the same
/// connection → 2xx), read with ``ConnectResponseReader`` instead of NIO's HTTP decoder.
///
/// - A kept connection authenticated for (proxy, credential) — from the pin, else the pool —
///   is used first, without `Proxy-Authorization`; a fresh 407 restarts the handshake there.
/// - A new connection authenticates at once with the scheme the proxy asked for before.
/// - On 2xx the connection leaves the client for good, as a raw channel (``ProxyTunnel``).
/// - On any other final answer it is closed, except in relay mode (a pin and no credential):
///   the caller runs its own handshake over several `CONNECT`s, so a connection the proxy
///   keeps open goes back into the pin.
struct TunnelExecution: ClientExecution {
    let client: NTLMHTTPClient
    let proxy: HTTPProxyServer
    let request: ConnectRequestHead
    let credential: HTTPCredential?
    let pin: ConnectionPin?
    let deadline: NIODeadline?
    let cancellation: RequestCancellation
    let logger: Logger
    var connection: HTTP1Connection?
    var connect: NIOLoopBound<ProxyConnectHandler>?
    var handshake: AuthHandshake?
    /// The current connection is held by the pin.
    var pinned = false
    var legs = 0
    var connectionsOpened = 0

    var key: PoolKey { PoolKey(endpoint: proxy.endpoint, credential: credential, proxy: proxy) }

    // MARK: The leg loop

    mutating func run() async throws -> ProxyTunnelResult {
        var action: AuthHandshake.Action
        var reused = false
        if let kept = pin?.checkOut(key, owner: pinOwner) ?? client.pool.take(key) {
            do {
                try await use(kept)
                reused = true
            } catch let error as NTLMHTTPClientError where error == .connectionClosed {
                kept.close()
            }
        }
        if reused {
            // It carries our identity already (or needed none): no Proxy-Authorization.
            action = startHandshake(preemptive: false)
        } else {
            try await openConnection()
            action = startHandshake(preemptive: true)
        }
        while true {
            let authorization: String?
            switch action {
            case .send(let value, _):
                authorization = value
            case .reconnect(let value, _):
                // The handshake restarts from its first leg on a new connection.
                authorization = value
                connection?.close()
                try await openConnection()
                reused = false
            case .obtainKerberosTicket:
                guard var running = handshake else { throw NTLMHTTPClientError.remoteProtocolError("internal: no handshake") }
                action = await obtainKerberosTicket(for: &running)
                handshake = running
                continue
            case .fail(let error):
                connection?.close()
                throw NTLMHTTPClientError.authentication(error)
            case .deliver, .deliverRejected:
                connection?.close()
                throw NTLMHTTPClientError.remoteProtocolError("internal: no response to deliver")
            }
            guard let current = connection, let connect else { throw NTLMHTTPClientError.connectionClosed }

            let event: ConnectResponseReader.Event
            do {
                event = try await sendLeg(authorization: authorization, on: current, connect: connect)
            } catch let error as NTLMHTTPClientError where reused && error == .connectionClosed && !cancellation.isCancelled {
                // A kept connection the proxy had closed while it was idle: start over once on
                // a new connection (no response came, so no tunnel was made).
                logger.debug("kept proxy connection was closed by the proxy; retrying CONNECT on a new connection", metadata: ["connection": "\(current)"])
                reused = false
                current.close()
                try await openConnection()
                action = startHandshake(preemptive: true)
                continue
            }
            reused = false

            switch event {
            case .established(let head, let rest):
                if authorization != nil, let running = handshake, let mechanism = running.mechanism {
                    // The tunnel takes the connection; the mechanism is remembered for the
                    // proxy's next connections.
                    if let remembered = running.mechanismToRemember { client.pool.remember(remembered, for: key) }
                    logger.debug("authenticated", metadata: ["mechanism": "\(mechanism)", "user": "\(running.credential.qualifiedUser)", "connection": "\(current)", "proxy": "\(proxy)"])
                }
                let tunnel = try await handOff(head: head, rest: rest, on: current, connect: connect)
                return .established(tunnel)
            case .refused(let head, let body, let reusable):
                guard var running = handshake else {
                    return await refuse(head, body: body, reusable: reusable, failure: nil)
                }
                let next = running.received(status: Int(head.status.code), challengeValues: head.headers["proxy-authenticate"], connectionClosing: !reusable)
                handshake = running
                switch next {
                case .deliver:
                    // Not a 407 (403 for a forbidden port, 502 ...): the proxy's answer.
                    return await refuse(head, body: body, reusable: false, failure: nil)
                case .deliverRejected(let error):
                    client.pool.forgetScheme(for: key)
                    logger.warning("proxy rejected the credential", metadata: ["scheme": "\(running.scheme?.rawValue ?? "-")", "user": "\(running.credential.qualifiedUser)", "proxy": "\(proxy)"])
                    return await refuse(head, body: body, reusable: false, failure: error)
                case .fail(let error):
                    throw abandonHandshake(error, on: current, upstream: ["proxy": "\(proxy)"])
                case .send, .reconnect, .obtainKerberosTicket:
                    rememberScheme(of: running, sentAuthorization: authorization)
                    RequestExecution.logChallenge(head, challengeHeader: "Proxy-Authenticate", scheme: running.scheme, user: running.credential.qualifiedUser, leg: legs, logger: logger)
                    action = next
                }
            }
        }
    }

    /// A handshake for a `CONNECT` with a credential (see `makeHandshake`). Without a
    /// credential the `CONNECT` goes as given and whatever comes back is the answer.
    mutating func startHandshake(preemptive: Bool) -> AuthHandshake.Action {
        guard let credential, let connection else {
            handshake = nil
            return .send(authorization: nil, withBody: false)
        }
        let (fresh, action) = makeHandshake(
            credential: credential, target: .proxy, host: proxy.host, policy: client.configuration.authentication,
            channelBindings: nil, on: connection, freshConnection: preemptive)
        handshake = fresh
        return action
    }

    // MARK: Connections

    /// The exchange moves to `connection`: pinned if there is a pin, with the `CONNECT`
    /// handler in front of its HTTP handlers.
    mutating func use(_ connection: HTTP1Connection) async throws {
        try adopt(connection)
        connect = try await connection.beginConnectExchanges(readIdleTimeout: TimeAmount(client.configuration.readIdleTimeout))
    }

    mutating func openConnection() async throws {
        // The connection to a proxy is plain TCP.
        let fresh = try await connectNew(tls: false)
        connectionsOpened += 1
        logger.trace("connected", metadata: ["connection": "\(fresh)", "proxy": "\(proxy)"])
        try await use(fresh)
    }

    // MARK: Legs and endings

    mutating func sendLeg(authorization: String?, on connection: HTTP1Connection, connect: NIOLoopBound<ProxyConnectHandler>) async throws -> ConnectResponseReader.Event {
        legs += 1
        var head = request
        if let authorization { head.headers.replaceOrAdd(name: "Proxy-Authorization", value: authorization) }
        return try await connection.connectExchange(connect, request: head.serialize(), skipLimit: client.configuration.maximumChallengeBodyBytes, deadline: deadline)
    }

    /// The tunnel: our handlers removed, the connection out of the pool's bookkeeping.
    mutating func handOff(head: HTTPResponseHead, rest: ByteBuffer?, on connection: HTTP1Connection, connect: NIOLoopBound<ProxyConnectHandler>) async throws -> ProxyTunnel {
        let late = try await connection.handOffAsTunnel(connect)
        client.pool.detach(connection)
        cancellation.release()
        self.connection = nil
        var initial = rest
        if var late {
            if var bytes = initial {
                bytes.writeBuffer(&late)
                initial = bytes
            } else {
                initial = late
            }
        }
        logger.debug("CONNECT \(request.authority) → \(head.status.code)", metadata: [
            "proxy": "\(proxy)", "legs": "\(legs)", "connection": "\(connection)", "new-connections": "\(connectionsOpened)",
            "user": "\(credential?.qualifiedUser ?? "-")", "initial-bytes": "\(initial?.readableBytes ?? 0)",
        ])
        return ProxyTunnel(channel: connection.channel, initialBytes: initial, status: head.status, headers: head.headers)
    }

    /// The proxy's refusal. The connection closes, unless in relay mode it stays usable: then
    /// it goes back into the pin for the caller's next `CONNECT`.
    mutating func refuse(_ head: HTTPResponseHead, body: ByteBuffer, reusable: Bool, failure: HTTPAuthError?) async -> ProxyTunnelResult {
        logger.debug("CONNECT \(request.authority) → \(head.status.code)", metadata: [
            "proxy": "\(proxy)", "legs": "\(legs)", "new-connections": "\(connectionsOpened)",
            "user": "\(credential?.qualifiedUser ?? "-")", "kept": "\(reusable && credential == nil && pinned)",
        ])
        let refusal = ProxyTunnelRefusal(status: head.status, headers: head.headers, body: body, authenticationFailure: failure)
        guard let current = connection else { return .refused(refusal) }
        if reusable && credential == nil && pinned, let pin, let connect {
            do {
                try await current.endConnectExchanges(connect)
                if pin.checkIn(current) {
                    self.connection = nil
                    cancellation.release()
                    return .refused(refusal)
                }
            } catch {
                // Closed below.
            }
        }
        current.close()
        self.connection = nil
        return .refused(refusal)
    }
}
