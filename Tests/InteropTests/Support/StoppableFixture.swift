/// Something a test starts and must stop whatever happens: an in-process proxy, a CLI
/// process, a fixture of the test's own. `use` runs the test's body with it, then stops it.
protocol StoppableFixture: Sendable {
    func stop() async
    /// The error `use` throws when the body failed (a CLI adds its log to it).
    func failure(_ error: any Error) -> any Error
}

extension StoppableFixture {
    func failure(_ error: any Error) -> any Error { error }

    /// Runs `body` with `self`, then stops it, also when `body` throws.
    func use<T>(_ body: (Self) async throws -> T) async throws -> T {
        do {
            let value = try await body(self)
            await stop()
            return value
        } catch {
            await stop()
            throw failure(error)
        }
    }
}

extension CLIProcess: StoppableFixture {
    /// The process log goes with an error of the test's body.
    func failure(_ error: any Error) -> any Error { ForwardCLI.ForwardFailure(error: error, log: process.log) }

    func stop() async { await process.stop() }
}
