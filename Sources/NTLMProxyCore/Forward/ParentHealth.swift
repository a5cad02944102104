/// Which parent proxies are reachable, as a value-type state machine.
///
/// A parent is marked down when a connection to it fails or times out — never when it
/// rejects a credential (that is the lockout guard's business). A down parent is skipped
/// while another is up, and retried in the background every `retryInterval` (Px #250: one
/// timeout marked a parent dead forever). When every candidate is down they are all tried
/// anyway, in order: a request should not fail only because of old news.
public struct ParentHealth: Sendable {
    public enum State: Hashable, Sendable {
        case up
        /// Down since `since`; `failures` consecutive connection failures.
        case down(since: ContinuousClock.Instant, failures: Int)
    }

    private(set) var states: [String: State] = [:]

    public init() {}

    public func state(of parent: String) -> State {
        states[parent] ?? .up
    }

    public func isUp(_ parent: String) -> Bool {
        if case .down = state(of: parent) { return false }
        return true
    }

    /// `candidates` in the order to try them: the reachable ones first (in their order),
    /// then the down ones (in their order), so a request still has somewhere to go.
    public func ordered<Parent>(_ candidates: [Parent], name: (Parent) -> String) -> [Parent] {
        let up = candidates.filter { isUp(name($0)) }
        let down = candidates.filter { !isUp(name($0)) }
        return up + down
    }

    /// A connection to `parent` failed or timed out. Returns true when this changed the
    /// parent from up to down (worth one warning line).
    @discardableResult
    public mutating func recordFailure(_ parent: String, at now: ContinuousClock.Instant = .now) -> Bool {
        switch state(of: parent) {
        case .up:
            states[parent] = .down(since: now, failures: 1)
            return true
        case .down(let since, let failures):
            states[parent] = .down(since: since, failures: failures + 1)
            return false
        }
    }

    /// A connection to `parent` succeeded. Returns true when it was down before.
    @discardableResult
    public mutating func recordSuccess(_ parent: String) -> Bool {
        guard case .down = state(of: parent) else { return false }
        states[parent] = nil
        return true
    }

    /// The parents currently down (for the background re-try).
    public var downParents: [String] {
        states.compactMap { name, state in
            if case .down = state { return name }
            return nil
        }.sorted()
    }
}
