/// The limits of one pin as a value-type state machine: requests counted, age measured, and
/// the decision whether the pin (with its client connection) ends after a response.
struct PinLifecycle: Sendable {
    /// Why a pin ended, for the log.
    enum EndReason: String, Sendable {
        case clientClosed = "client closed the connection"
        case backendClosed = "backend closed the connection"
        case maxRequests = "max-requests reached"
        case maxLifetime = "max-lifetime reached"
        case upstreamError = "upstream error"
        case clientError = "client error"
        case continueNotSent = "client body left unread (Expect: 100-continue refused)"
        case pinLimit = "max-pins reached"
    }

    let limits: PinLimits
    let opened: ContinuousClock.Instant
    private(set) var requests = 0

    init(limits: PinLimits, opened: ContinuousClock.Instant = .now) {
        self.limits = limits
        self.opened = opened
    }

    mutating func requestStarted() {
        requests += 1
    }

    /// Whether a limit ends the pin after the response now being written. A 401 that
    /// continues a handshake (`midHandshake`) never ends it: the client's next leg must
    /// reach the same backend connection, and closing there would only make the browser
    /// start over.
    func limitReached(now: ContinuousClock.Instant = .now, midHandshake: Bool) -> EndReason? {
        guard !midHandshake else { return nil }
        if limits.maxRequests > 0, requests >= limits.maxRequests { return .maxRequests }
        if let lifetime = limits.maxLifetime, now - opened >= lifetime { return .maxLifetime }
        return nil
    }
}
