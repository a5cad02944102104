import NIOConcurrencyHelpers

/// Remembers credentials an upstream rejected, so they are not sent again until a window
/// passes (design invariant 7). A domain locks an account after a few failed logons; a proxy
/// that retries a wrong password for every client request does that within seconds.
///
/// Only a real rejection (401/407 answering our final leg) counts; timeouts and resets do
/// not.
public final class LockoutGuard: Sendable {
    /// How long a rejected credential stays blocked for an upstream.
    public let window: Duration
    private let blocked = NIOLockedValueBox<[Key: ContinuousClock.Instant]>([:])

    struct Key: Hashable {
        var upstream: String
        var credential: String
    }

    public init(window: Duration = .seconds(300)) {
        self.window = window
    }

    /// Records that `upstream` rejected `credentialID`.
    public func recordRejection(upstream: String, credentialID: String) {
        let until = ContinuousClock.now.advanced(by: window)
        blocked.withLockedValue { $0[Key(upstream: upstream, credential: credentialID)] = until }
    }

    /// If the credential is blocked for the upstream, how long it still is.
    public func remainingBlock(upstream: String, credentialID: String) -> Duration? {
        let key = Key(upstream: upstream, credential: credentialID)
        return blocked.withLockedValue { entries -> Duration? in
            guard let until = entries[key] else { return nil }
            let now = ContinuousClock.now
            if until <= now {
                entries[key] = nil
                return nil
            }
            return now.duration(to: until)
        }
    }

    /// Forgets every rejection (the operator changed the configuration).
    public func reset() {
        blocked.withLockedValue { $0.removeAll() }
    }
}
