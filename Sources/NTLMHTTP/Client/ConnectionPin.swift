import NIOConcurrencyHelpers

/// Keeps one client connection's upstream connection, so that everything that client sends
/// goes over the same upstream connection and no other client's request ever does (design
/// invariant 1).
///
/// A request executed with a pin first uses the pin's connection if it is open and has the
/// same endpoint, proxy and credential; otherwise an idle pooled one, otherwise a new one.
/// After the response body ends, a reusable connection goes back into the pin — never into
/// the shared pool — and a pinned connection stays pinned for its whole life. A pin holds at
/// most one connection: a request for another endpoint closes the one it held.
///
/// Use one pin per client connection, for one request at a time (a request made while
/// another one is using the pin runs unpinned), and ``close()`` it when the client connection
/// ends (a pin that is deinitialized closes its connection too). Used for the client's own
/// NTLM handshake relayed upstream (origin NTLM through a proxy, `Proxy-Authorization`
/// relayed with no credential of ours, pass-through to an origin), where the Type 1, 2 and 3
/// must stay on one upstream connection.
public final class ConnectionPin: Sendable {
    private struct State {
        var connection: HTTP1Connection?
        /// The request using the connection now (its cancellation object), if any.
        var owner: ObjectIdentifier?
        /// A pin that binds for life has held a connection: it never takes another.
        var bound = false

        /// Holds nothing now (a pin that binds for life stays bound).
        mutating func release() {
            connection = nil
            owner = nil
        }
    }

    private let state = NIOLockedValueBox(State())
    private let onConnectionClosed: (@Sendable () -> Void)?
    private let bindsForLife: Bool

    /// With `bindsForLife`, the first connection the pin holds is the only one it ever
    /// will: once it is gone, requests with the pin fail with
    /// ``NTLMHTTPClientError/pinnedConnectionLost`` instead of moving to another connection
    /// (pass-through: one client connection, one backend connection, design invariant 1).
    /// `onConnectionClosed` runs (on an event loop; keep it short) when a connection the pin
    /// holds closes by itself — the server closed it, or a request on it failed — but not
    /// when ``close()`` closes it.
    public init(bindsForLife: Bool = false, onConnectionClosed: (@Sendable () -> Void)? = nil) {
        self.bindsForLife = bindsForLife
        self.onConnectionClosed = onConnectionClosed
    }

    deinit {
        state.withLockedValue { $0.connection }?.close()
    }

    /// Closes the held connection, if any (a request running on it fails). The pin can be
    /// used again afterwards.
    public func close() {
        let connection = state.withLockedValue { state -> HTTP1Connection? in
            defer { state.release() }
            return state.connection
        }
        connection?.close()
    }

    /// A pin that binds for life held a connection and that connection is gone: every
    /// request with it fails with ``NTLMHTTPClientError/pinnedConnectionLost``.
    public var hasLostItsConnection: Bool {
        guard bindsForLife else { return false }
        let (bound, connection) = state.withLockedValue { ($0.bound, $0.connection) }
        return bound && !(connection?.channel.isActive ?? false)
    }

    /// Whether the pin holds an open connection.
    public var isHoldingConnection: Bool {
        state.withLockedValue { $0.connection }?.channel.isActive ?? false
    }

    // MARK: Used by the client

    /// The held connection for a request with `key`, if it is open and free; the request
    /// (`owner`) then uses it. A held connection for another key is closed and dropped.
    func checkOut(_ key: PoolKey, owner: ObjectIdentifier) -> HTTP1Connection? {
        let (found, stale) = state.withLockedValue { state -> (HTTP1Connection?, HTTP1Connection?) in
            guard let connection = state.connection else { return (nil, nil) }
            if let busy = state.owner, busy != owner { return (nil, nil) }
            guard connection.key == key, connection.channel.isActive else {
                state.release()
                return (nil, connection)
            }
            state.owner = owner
            return (connection, nil)
        }
        stale?.close()
        return found
    }

    /// The request `owner` now uses `connection`: the pin holds it from now on (closing
    /// another one it held). False when another request is using the pin; throws when the
    /// pin binds for life and `connection` is not the one it is bound to.
    func adopt(_ connection: HTTP1Connection, owner: ObjectIdentifier) throws(NTLMHTTPClientError) -> Bool {
        enum Outcome { case busy, adopted(replacing: HTTP1Connection?), lost }
        let outcome = state.withLockedValue { state -> Outcome in
            if let busy = state.owner, busy != owner { return .busy }
            if state.connection === connection {
                state.owner = owner
                return .adopted(replacing: nil)
            }
            if bindsForLife && state.bound { return .lost }
            let previous = state.connection
            state.connection = connection
            state.owner = owner
            state.bound = true
            return .adopted(replacing: previous)
        }
        switch outcome {
        case .busy: return false
        case .lost: throw .pinnedConnectionLost
        case .adopted(let replaced):
            replaced?.close()
            return true
        }
    }

    /// `connection` closed (the pool watches every connection): if the pin still held it,
    /// it holds nothing now and `onConnectionClosed` runs.
    func connectionClosed(_ connection: HTTP1Connection) {
        let wasHeld = state.withLockedValue { state -> Bool in
            guard state.connection === connection else { return false }
            state.release()
            return true
        }
        if wasHeld { onConnectionClosed?() }
    }

    /// A request on `connection` completed and the connection may carry another: it stays
    /// held. False when the pin no longer holds it (closed or replaced meanwhile).
    func checkIn(_ connection: HTTP1Connection) -> Bool {
        state.withLockedValue { state in
            guard state.connection === connection else { return false }
            state.owner = nil
            return true
        }
    }

    /// Stops holding `connection` without closing it (it became a tunnel).
    func forget(_ connection: HTTP1Connection) {
        state.withLockedValue { state in
            if state.connection === connection { state.release() }
        }
    }

    /// The connection held, for tests.
    var heldConnection: HTTP1Connection? {
        state.withLockedValue { $0.connection }
    }
}
