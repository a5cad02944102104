import ArgumentParser
import Dispatch
import Logging
import NTLMProxyCore
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Starts a configuration's listeners and serves until SIGINT or SIGTERM.
enum Serving {
    static func run(_ configuration: ProxyConfiguration, globals: GlobalOptions, announce: ((ProxyRuntime) -> Void)? = nil) async throws {
        LoggingSetup.bootstrap(level: globals.resolvedLogLevel(configured: configuration.logging.levelIsExplicit ? configuration.logging.level : nil))
        let logger = Logger(label: "ntlmproxy")
        for warning in configuration.warnings { logger.warning("\(warning)") }
        let runtime: ProxyRuntime
        do {
            runtime = try await ProxyRuntime.start(configuration, logger: logger)
        } catch {
            StandardError.write("ntlmproxy: \(error)\n")
            throw ExitCode.failure
        }
        announce?(runtime)
        try await runUntilSignal(logger: logger) {
            try await runtime.run()
        }
    }

    /// Runs `body` in a task that is cancelled on SIGINT/SIGTERM.
    static func runUntilSignal(logger: Logger, _ body: @escaping @Sendable () async throws -> Void) async throws {
        let task = Task { try await body() }
        let sources = [SIGINT, SIGTERM].map { number -> DispatchSourceSignal in
            signal(number, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: number, queue: .global())
            source.setEventHandler {
                logger.notice("signal \(number): shutting down")
                task.cancel()
            }
            source.resume()
            return source
        }
        defer { sources.forEach { $0.cancel() } }
        do {
            try await task.value
        } catch is CancellationError {
            return
        }
    }
}
