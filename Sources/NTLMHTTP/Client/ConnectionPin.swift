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
    }

    private let state = NIOLockedValueBox(State())

    public init() {}

    deinit {
        state.withLockedValue { $0.connection }?.close()
    }

    /// Closes the held connection, if any (a request running on it fails). The pin can be
    /// used again afterwards.
    public func close() {
        let connection = state.withLockedValue { state -> HTTP1Connection? in
            defer { state = State() }
            return state.connection
        }
        connection?.close()
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
                state = State()
                return (nil, connection)
            }
            state.owner = owner
            return (connection, nil)
        }
        stale?.close()
        return found
    }

    /// The request `owner` now uses `connection`: the pin holds it from now on (closing
    /// another one it held). False when another request is using the pin.
    func adopt(_ connection: HTTP1Connection, owner: ObjectIdentifier) -> Bool {
        let (adopted, replaced) = state.withLockedValue { state -> (Bool, HTTP1Connection?) in
            if let busy = state.owner, busy != owner { return (false, nil) }
            let previous = state.connection === connection ? nil : state.connection
            state.connection = connection
            state.owner = owner
            return (true, previous)
        }
        replaced?.close()
        return adopted
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

    /// Stops holding `connection` without closing it (it closed, or became a tunnel).
    func forget(_ connection: HTTP1Connection) {
        state.withLockedValue { state in
            if state.connection === connection { state = State() }
        }
    }

    /// The connection held, for tests.
    var heldConnection: HTTP1Connection? {
        state.withLockedValue { $0.connection }
    }
}
