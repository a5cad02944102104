import NIOConcurrencyHelpers

/// Cancels an `execute`: closes whichever connection the request is on at that moment.
final class RequestCancellation: Sendable {
    private let state = NIOLockedValueBox<(cancelled: Bool, connection: HTTP1Connection?)>((false, nil))

    var isCancelled: Bool { state.withLockedValue { $0.cancelled } }

    /// The request moved to `connection`; fails at once if it was cancelled meanwhile.
    func use(_ connection: HTTP1Connection) throws(NTLMHTTPClientError) {
        let cancelled = state.withLockedValue { state -> Bool in
            if !state.cancelled { state.connection = connection }
            return state.cancelled
        }
        if cancelled {
            connection.fail(.cancelled)
            throw .cancelled
        }
    }

    /// The connection is no longer the request's (it became a tunnel): a late cancellation
    /// must not close it.
    func release() {
        state.withLockedValue { $0.connection = nil }
    }

    func cancel() {
        let connection = state.withLockedValue { state -> HTTP1Connection? in
            state.cancelled = true
            return state.connection
        }
        connection?.fail(.cancelled)
    }
}
