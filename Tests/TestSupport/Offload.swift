import Foundation

/// Runs blocking work on a thread of its own. Not on the Swift concurrency pool (two threads
/// on a 2-core machine: blocking one would starve the in-process servers under test), and
/// not on Dispatch's global queue either: on Linux its pool grows by about one thread per
/// second when its workers block, so a dozen parallel tests waiting there stall for seconds.
public func offload<T: Sendable>(_ work: @escaping @Sendable () -> T) async -> T {
    await withCheckedContinuation { continuation in
        startThread { continuation.resume(returning: work()) }
    }
}

public func offload<T: Sendable>(_ work: @escaping @Sendable () throws -> T) async throws -> T {
    try await withCheckedThrowingContinuation { continuation in
        startThread { continuation.resume(with: Result { try work() }) }
    }
}

/// A detached OS thread (small stack) running `body`.
public func startThread(_ body: @escaping @Sendable () -> Void) {
    let thread = Thread(block: body)
    thread.stackSize = 1 << 20
    thread.start()
}

