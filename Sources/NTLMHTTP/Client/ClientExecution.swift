import Logging
import NIOCore

/// What `RequestExecution` and `TunnelExecution` share: one call of the client that runs over
/// connections it opens or takes from the pool (or a pin), under a deadline and cancellation.
protocol ClientExecution {
    associatedtype Outcome: Sendable
    var client: NTLMHTTPClient { get }
    var key: PoolKey { get }
    var pin: ConnectionPin? { get }
    var deadline: NIODeadline? { get }
    var cancellation: RequestCancellation { get }
    var logger: Logger { get }
    var connection: HTTP1Connection? { get set }
    /// The current connection is held by the pin.
    var pinned: Bool { get set }

    mutating func run() async throws -> Outcome
}

extension ClientExecution {
    /// Identifies this call to the pin.
    var pinOwner: ObjectIdentifier { ObjectIdentifier(cancellation) }

    /// The call moves to `connection`; with a pin, the pin holds it from now on (a pinned
    /// connection stays pinned for its life and never returns to the shared pool).
    mutating func adopt(_ connection: HTTP1Connection) throws(NTLMHTTPClientError) {
        try cancellation.use(connection)
        self.connection = connection
        pinned = false
        let adopted: Bool
        do {
            adopted = try pin?.adopt(connection, owner: pinOwner) ?? false
        } catch {
            // A pin bound for life lost its connection: this one is nobody's.
            connection.close()
            self.connection = nil
            throw error
        }
        if let pin, adopted {
            client.pool.assign(connection, to: pin)
            pinned = true
        }
    }

    /// A new connection for `key`, registered in the pool; its connect timeout is cut to
    /// what is left before the deadline.
    func connectNew(tls: Bool) async throws -> HTTP1Connection {
        var timeout = TimeAmount(client.configuration.connectTimeout)
        if let deadline {
            let remaining = deadline - .now()
            guard remaining > .zero else { throw NTLMHTTPClientError.timeout }
            timeout = min(timeout, remaining)
        }
        let id = try client.pool.nextConnectionID()
        let tlsContext = tls ? try client.tlsContext() : nil
        let fresh = try await HTTP1Connection.connect(
            id: id, key: key, group: client.eventLoopGroup, tlsContext: tlsContext,
            timeout: timeout, readIdleTimeout: TimeAmount(client.configuration.readIdleTimeout))
        try client.pool.register(fresh)
        return fresh
    }

    /// The handshake cannot go on: the upstream's remembered scheme is forgotten, the
    /// connection closed, and the error to throw returned.
    func abandonHandshake(_ error: HTTPAuthError, on connection: HTTP1Connection, upstream: Logger.Metadata) -> NTLMHTTPClientError {
        client.pool.forgetScheme(for: key)
        connection.close()
        logger.debug("authentication failed", metadata: upstream.merging(["error": "\(error)"]) { _, new in new })
        return .authentication(error)
    }

    /// A challenge answered a leg sent without authorization: next time, authenticate on the
    /// first leg (before any body goes out).
    func rememberScheme(of handshake: AuthHandshake, sentAuthorization authorization: String?) {
        if authorization == nil, let scheme = handshake.scheme {
            client.pool.remember(scheme, for: key)
        }
    }
}

extension NTLMHTTPClient {
    /// The deadline of a call given `timeout`, else ``Configuration/requestTimeout``.
    func deadline(for timeout: Duration?) -> NIODeadline? {
        (timeout ?? configuration.requestTimeout).map { NIODeadline.now() + TimeAmount($0) }
    }

    /// Runs `execution` so that cancelling the awaiting task closes its connection and
    /// throws ``NTLMHTTPClientError/cancelled``; on any error its current connection fails.
    func perform<Execution: ClientExecution>(_ execution: Execution) async throws -> Execution.Outcome {
        var execution = execution
        let cancellation = execution.cancellation
        return try await withTaskCancellationHandler {
            do {
                guard !Task.isCancelled else { throw NTLMHTTPClientError.cancelled }
                return try await execution.run()
            } catch {
                execution.connection?.fail((error as? NTLMHTTPClientError) ?? .connectionClosed)
                if cancellation.isCancelled || error is CancellationError { throw NTLMHTTPClientError.cancelled }
                throw error
            }
        } onCancel: {
            cancellation.cancel()
        }
    }
}
