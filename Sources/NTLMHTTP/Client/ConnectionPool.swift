import Logging
import NIOConcurrencyHelpers
import NIOCore

/// What a pooled connection is for: an endpoint, the credential it was opened for (`nil`
/// for requests without one), and the proxy it goes to (then `endpoint` is the proxy's, and
/// the credential is the one the proxy knows). A connection never changes key, so a
/// connection authenticated with one credential is never handed to a request with another
/// (design invariant 2), and a connection to proxy P is never taken for a direct request to
/// host P.
struct PoolKey: Hashable, Sendable, CustomStringConvertible {
    var endpoint: Endpoint
    var credential: HTTPCredential?
    var proxy: HTTPProxyServer? = nil

    var description: String {
        let place = proxy.map { "proxy \($0)" } ?? "\(endpoint)"
        return "\(place) as \(credential?.qualifiedUser ?? "anonymous")"
    }

    /// The upstream without the credential: what the scheme memory is keyed by.
    var upstream: PoolKey { PoolKey(endpoint: endpoint, credential: nil, proxy: proxy) }
}

/// A pin, weakly: a pin dropped by its owner does not stay alive through the pool.
private struct WeakPin {
    weak var pin: ConnectionPin?
}

/// Idle kept-alive connections by key, the live connections (closed on shutdown), which
/// connections belong to a ``ConnectionPin`` (they go back there, never into the shared
/// pool), and the per-upstream memory of which scheme the server or proxy asked for, so that
/// the next request there authenticates before sending its body.
final class ConnectionPool: Sendable {
    private struct State {
        var idle: [PoolKey: [HTTP1Connection]] = [:]
        var live: [Int: HTTP1Connection] = [:]
        var pinned: [Int: WeakPin] = [:]
        var mechanisms: [PoolKey: HTTPAuthMechanism] = [:]
        var nextID = 1
        var isShutdown = false
    }

    /// Bound on the scheme memory; it is cleared when full (it is only an optimisation).
    static let maximumRememberedSchemes = 4096

    private let state = NIOLockedValueBox(State())
    let maximumIdlePerKey: Int
    let idleTimeout: TimeAmount
    let logger: Logger

    init(maximumIdlePerKey: Int, idleTimeout: TimeAmount, logger: Logger) {
        self.maximumIdlePerKey = maximumIdlePerKey
        self.idleTimeout = idleTimeout
        self.logger = logger
    }

    func nextConnectionID() throws(NTLMHTTPClientError) -> Int {
        let id: Int? = state.withLockedValue { state in
            guard !state.isShutdown else { return nil }
            defer { state.nextID += 1 }
            return state.nextID
        }
        guard let id else { throw .shutDown }
        return id
    }

    /// Tracks a new connection until it closes; it returns to the pool through `release`.
    func register(_ connection: HTTP1Connection) throws(NTLMHTTPClientError) {
        let accepted = state.withLockedValue { state -> Bool in
            guard !state.isShutdown else { return false }
            state.live[connection.id] = connection
            return true
        }
        guard accepted else {
            connection.close()
            throw .shutDown
        }
        connection.channel.closeFuture.whenComplete { [self] _ in
            let pin = state.withLockedValue { state -> ConnectionPin? in
                state.live[connection.id] = nil
                state.idle[connection.key]?.removeAll { $0 === connection }
                if state.idle[connection.key]?.isEmpty == true { state.idle[connection.key] = nil }
                return state.pinned.removeValue(forKey: connection.id)?.pin
            }
            pin?.connectionClosed(connection)
        }
        let handler = connection.handler
        connection.eventLoop.execute { [self] in
            handler.value.onReusable = { [self] in self.release(connection) }
        }
    }

    /// The most recently used idle connection for `key` that is still open.
    func take(_ key: PoolKey) -> HTTP1Connection? {
        state.withLockedValue { state in
            while let connection = state.idle[key]?.popLast() {
                if connection.channel.isActive { return connection }
            }
            state.idle[key] = nil
            return nil
        }
    }

    /// `connection` belongs to `pin` from now on: when reusable it goes back there, never
    /// into the shared pool.
    func assign(_ connection: HTTP1Connection, to pin: ConnectionPin) {
        state.withLockedValue { state in
            guard state.live[connection.id] != nil else { return }
            state.pinned[connection.id] = WeakPin(pin: pin)
        }
    }

    /// Forgets `connection` for good (it became a tunnel): no pool, no pin, no shutdown.
    func detach(_ connection: HTTP1Connection) {
        let pin = state.withLockedValue { state -> ConnectionPin? in
            state.live[connection.id] = nil
            state.idle[connection.key]?.removeAll { $0 === connection }
            if state.idle[connection.key]?.isEmpty == true { state.idle[connection.key] = nil }
            return state.pinned.removeValue(forKey: connection.id)?.pin
        }
        pin?.forget(connection)
    }

    /// Called on the connection's event loop when a delivered response completed on a
    /// reusable connection: back into its pin if it has one, else into the pool.
    private func release(_ connection: HTTP1Connection) {
        let pinned = state.withLockedValue { state -> WeakPin? in
            guard !state.isShutdown, state.live[connection.id] != nil else { return nil }
            return state.pinned[connection.id]
        }
        if let pinned {
            if let pin = pinned.pin, pin.checkIn(connection) {
                logger.trace("connection back in its pin", metadata: ["connection": "\(connection)", "key": "\(connection.key)"])
            } else {
                connection.close()
            }
            return
        }
        let pooled = state.withLockedValue { state -> Bool in
            guard !state.isShutdown, state.live[connection.id] != nil else { return false }
            var list = state.idle[connection.key] ?? []
            guard list.count < maximumIdlePerKey else { return false }
            list.append(connection)
            state.idle[connection.key] = list
            return true
        }
        guard pooled else {
            connection.close()
            return
        }
        logger.trace("connection back in the pool", metadata: ["connection": "\(connection)", "key": "\(connection.key)"])
        connection.handler.value.scheduleIdleExpiry(in: idleTimeout) { [self] in expire(connection) }
    }

    private func expire(_ connection: HTTP1Connection) {
        let removed = state.withLockedValue { state -> Bool in
            guard var list = state.idle[connection.key], let index = list.firstIndex(where: { $0 === connection }) else { return false }
            list.remove(at: index)
            state.idle[connection.key] = list.isEmpty ? nil : list
            return true
        }
        if removed {
            logger.trace("idle connection expired", metadata: ["connection": "\(connection)"])
            connection.close()
        }
    }

    /// The mechanism that last worked with (or was asked for by) the upstream of `key`
    /// (origin or proxy, whatever the credential; a handshake adapts it to its credential).
    func rememberedMechanism(for key: PoolKey) -> HTTPAuthMechanism? {
        state.withLockedValue { $0.mechanisms[key.upstream] }
    }

    func remember(_ mechanism: HTTPAuthMechanism, for key: PoolKey) {
        state.withLockedValue { state in
            if state.mechanisms.count >= Self.maximumRememberedSchemes { state.mechanisms.removeAll() }
            state.mechanisms[key.upstream] = mechanism
        }
    }

    func forgetScheme(for key: PoolKey) {
        _ = state.withLockedValue { $0.mechanisms.removeValue(forKey: key.upstream) }
    }

    /// Idle connections per key, for tests and diagnostics.
    func idleCount(for key: PoolKey) -> Int {
        state.withLockedValue { $0.idle[key]?.count ?? 0 }
    }

    /// Closes every connection, idle or busy, and refuses new ones.
    func shutdown() async {
        let connections = state.withLockedValue { state -> [HTTP1Connection] in
            state.isShutdown = true
            state.idle.removeAll()
            return Array(state.live.values)
        }
        for connection in connections {
            connection.fail(.shutDown)
        }
        for connection in connections {
            try? await connection.channel.closeFuture.get()
        }
    }
}
