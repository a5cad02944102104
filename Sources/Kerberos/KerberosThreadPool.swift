import NIOPosix

/// Where GSSAPI calls run. They may block — on the KDC (seconds, if it does not answer), on
/// DNS, on a keytab or a replay cache on disk — so never on an event loop or the Swift
/// concurrency pool: on a small pool of threads of their own.
enum KerberosThreadPool {
    static let shared: NIOThreadPool = {
        let pool = NIOThreadPool(numberOfThreads: 4)
        pool.start()
        return pool
    }()

    /// Runs `body` on the pool and returns its result.
    static func run<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
        try await shared.runIfActive(body)
    }
}
