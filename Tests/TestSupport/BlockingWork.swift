import Dispatch

/// Runs synchronous, blocking work (a child process's pipe round trips, say) in the current
/// task but on a thread outside Swift's cooperative pool, so that it cannot hold up the other
/// tests' tasks: on a 2-CPU machine the pool has two threads. Unlike `offload`, the work stays
/// in the test's task, so `#expect` and `Issue.record` inside it belong to that test.
public func runBlocking<T>(_ work: () throws -> T) async throws -> T {
    try await withTaskExecutorPreference(BlockingWorkExecutor.shared) { try work() }
}

/// A task executor on one serial dispatch queue of its own (threads outside the cooperative
/// pool). Blocking jobs queue behind each other, never behind or in front of the pool's.
final class BlockingWorkExecutor: TaskExecutor, @unchecked Sendable {
    static let shared = BlockingWorkExecutor()
    private let queue = DispatchQueue(label: "ntlmproxy.tests.blocking-work")

    func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        queue.async { job.runSynchronously(on: self.asUnownedTaskExecutor()) }
    }
}
