import Logging
import NIOConcurrencyHelpers
import NIOCore

/// What a pooled connection is for: an endpoint and the credential it was opened for (`nil`
/// for requests without one). A connection never changes key, so a connection authenticated
/// with one credential is never handed to a request with another (design invariant 2).
struct PoolKey: Hashable, Sendable, CustomStringConvertible {
    var endpoint: Endpoint
    var credential: HTTPCredential?

    var description: String {
        "\(endpoint) as \(credential?.qualifiedUser ?? "anonymous")"
    }
}

/// Idle kept-alive connections by key, the live connections (closed on shutdown), and the
/// per-host memory of which scheme the server asked for, so that the next request there
/// authenticates before sending its body.
final class ConnectionPool: Sendable {
    private struct State {
        var idle: [PoolKey: [HTTP1Connection]] = [:]
        var live: [Int: HTTP1Connection] = [:]
        var schemes: [Endpoint: HTTPAuthScheme] = [:]
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
            state.withLockedValue { state in
                state.live[connection.id] = nil
                state.idle[connection.key]?.removeAll { $0 === connection }
                if state.idle[connection.key]?.isEmpty == true { state.idle[connection.key] = nil }
            }
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

    /// Called on the connection's event loop when a delivered response completed on a
    /// reusable connection.
    private func release(_ connection: HTTP1Connection) {
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

    func rememberedScheme(for endpoint: Endpoint) -> HTTPAuthScheme? {
        state.withLockedValue { $0.schemes[endpoint] }
    }

    func remember(_ scheme: HTTPAuthScheme, for endpoint: Endpoint) {
        state.withLockedValue { state in
            if state.schemes.count >= Self.maximumRememberedSchemes { state.schemes.removeAll() }
            state.schemes[endpoint] = scheme
        }
    }

    func forgetScheme(for endpoint: Endpoint) {
        _ = state.withLockedValue { $0.schemes.removeValue(forKey: endpoint) }
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
