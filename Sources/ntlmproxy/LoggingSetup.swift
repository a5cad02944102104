#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif
import Logging

/// Process-wide logging: swift-log's `StreamLogHandler` on stderr at one level.
enum LoggingSetup {
    private static let once = OnceFlag()

    /// Bootstraps `LoggingSystem` (which may happen only once per process); later calls
    /// are ignored, so every subcommand can call it first thing.
    static func bootstrap(level: Logger.Level) {
        guard once.claim() else { return }
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = level
            return handler
        }
    }
}

/// A flag that can be claimed exactly once, from any thread.
private final class OnceFlag: @unchecked Sendable {
    // Allocated so the mutex has a stable address (`&storedProperty` does not guarantee one).
    private let mutex: UnsafeMutablePointer<pthread_mutex_t>
    private var claimed = false

    init() {
        mutex = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
        mutex.initialize(to: pthread_mutex_t())
        pthread_mutex_init(mutex, nil)
    }

    deinit {
        pthread_mutex_destroy(mutex)
        mutex.deinitialize(count: 1)
        mutex.deallocate()
    }

    /// `true` for the first caller only.
    func claim() -> Bool {
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        if claimed { return false }
        claimed = true
        return true
    }
}
