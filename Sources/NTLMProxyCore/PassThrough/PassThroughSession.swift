import Logging
import NIOConcurrencyHelpers
import NIOCore
import NTLMHTTP

/// One client connection of a pass-through listener and the pin it may open: the upstream
/// connection that carries this client's own handshake and nothing else (design invariant 1).
///
/// Driven by the connection's task, except for `backendClosed`, which the pin reports from an
/// event loop: a backend that closes the pinned connection between requests closes the client
/// connection at once; one that closes during a request ends it after that response.
final class PassThroughSession: Sendable {
    private struct State {
        var pinID: UInt64?
        var lifecycle: PinLifecycle
        /// `DOMAIN\user` from the client's last Type 3 (as claimed; the backend verified it).
        var user: String?
        var inRequest = false
        var backendClosed = false
    }

    let connection: ServerConnection
    let pin: ConnectionPin
    private let registry: PinRegistry
    private let state: NIOLockedValueBox<State>
    private let logger: Logger

    init(connection: ServerConnection, registry: PinRegistry, limits: PinLimits, logger: Logger) {
        let state = NIOLockedValueBox(State(lifecycle: PinLifecycle(limits: limits)))
        let channel = connection.channel
        self.connection = connection
        self.registry = registry
        self.state = state
        self.logger = logger
        self.pin = ConnectionPin(bindsForLife: true, onConnectionClosed: {
            let idle = state.withLockedValue { state -> Bool in
                state.backendClosed = true
                return !state.inRequest
            }
            // Between requests: stop reading the client, so that the wait for its next request
            // ends and the connection closes once the last response has gone out (a full
            // close here could drop a response still being written). Where input cannot be
            // closed alone (TLS), the next request finds the pin gone and closes instead.
            if idle { channel?.close(mode: .input, promise: nil) }
        })
    }

    var pinID: UInt64? { state.withLockedValue { $0.pinID } }
    var user: String? { state.withLockedValue { $0.user } }

    /// Opens the pin if it is not open yet; false when the listener has `maxPins` open.
    func openPin() -> Bool {
        if pinID != nil { return true }
        guard let id = registry.open() else { return false }
        state.withLockedValue { state in
            state.pinID = id
            state.lifecycle = PinLifecycle(limits: state.lifecycle.limits)
        }
        logger.info("pin created", metadata: metadata(pinID: id, user: nil))
        return true
    }

    /// Whether the pin already carried a request (so its backend connection was in use).
    var pinCarriedRequests: Bool { state.withLockedValue { $0.lifecycle.requests > 1 } }

    /// A request starts on the pin. `.backendClosed` when the backend already closed the pin:
    /// the request must not go to another backend connection, the client connection is
    /// closed instead.
    func beginPinnedRequest() -> PinLifecycle.EndReason? {
        if pin.hasLostItsConnection {
            state.withLockedValue { $0.backendClosed = true }
            return .backendClosed
        }
        state.withLockedValue { state in
            state.inRequest = true
            state.lifecycle.requestStarted()
        }
        return nil
    }

    /// The backend accepted a Type 3 (answered it with anything but 401): the connection now
    /// acts for the user it names.
    func authenticated(as user: String) {
        let (id, changed) = state.withLockedValue { state -> (UInt64?, Bool) in
            defer { state.user = user }
            return (state.pinID, state.user != user)
        }
        if let id, changed {
            logger.info("pin authenticated", metadata: metadata(pinID: id, user: user))
        }
    }

    /// Whether a limit ends the pin after the response about to be written.
    func limitReached(midHandshake: Bool) -> PinLifecycle.EndReason? {
        state.withLockedValue { state in
            guard state.pinID != nil else { return nil }
            if state.backendClosed { return .backendClosed }
            return state.lifecycle.limitReached(midHandshake: midHandshake)
        }
    }

    /// The request is over; `.backendClosed` if the backend closed the pin meanwhile.
    func finishRequest() -> PinLifecycle.EndReason? {
        state.withLockedValue { state in
            state.inRequest = false
            return state.backendClosed ? .backendClosed : nil
        }
    }

    /// The client connection ends: the pin's upstream connection is closed with it.
    func end(_ reason: PinLifecycle.EndReason) {
        let (id, user, requests, age, backendClosed) = state.withLockedValue { state in
            defer { state.pinID = nil }
            return (state.pinID, state.user, state.lifecycle.requests, ContinuousClock.now - state.lifecycle.opened, state.backendClosed)
        }
        guard let id else { return }
        pin.close()
        registry.close()
        var fields = metadata(pinID: id, user: user)
        fields["reason"] = "\(backendClosed && reason == .clientClosed ? PinLifecycle.EndReason.backendClosed.rawValue : reason.rawValue)"
        fields["requests"] = "\(requests)"
        fields["seconds"] = "\(age.components.seconds)"
        logger.info("pin closed", metadata: fields)
    }

    private func metadata(pinID: UInt64, user: String?) -> Logger.Metadata {
        var fields: Logger.Metadata = ["pin": "\(pinID)", "client": "\(connection.clientDescription)"]
        if let user { fields["user"] = "\(user)" }
        return fields
    }
}
