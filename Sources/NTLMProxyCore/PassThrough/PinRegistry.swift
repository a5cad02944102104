import NIOConcurrencyHelpers

/// The pins of one pass-through listener: how many are open (bounded by `maxPins`) and the
/// next pin id. Ids are process-unique counters, never addresses, so a recycled client
/// address and port can never be mistaken for an earlier session.
public final class PinRegistry: Sendable {
    private struct State {
        var open = 0
        var nextID: UInt64 = 1
    }

    public let maxPins: Int
    private let state = NIOLockedValueBox(State())

    public init(maxPins: Int) {
        self.maxPins = maxPins
    }

    /// A new pin id, or `nil` when `maxPins` are open.
    func open() -> UInt64? {
        state.withLockedValue { state in
            guard state.open < maxPins else { return nil }
            state.open += 1
            defer { state.nextID += 1 }
            return state.nextID
        }
    }

    func close() {
        state.withLockedValue { state in state.open = max(0, state.open - 1) }
    }

    /// Pins open now.
    public var openPins: Int { state.withLockedValue { $0.open } }
}
