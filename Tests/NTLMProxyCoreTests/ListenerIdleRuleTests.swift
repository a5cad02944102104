import Logging
import NIOCore
import NIOHTTP1
import NTLMTestSupport
import Testing
@testable import NTLMProxyCore

/// The idle timeout of HTTP listeners, plain and tunnel-capable (forward mode), end to end: an
/// answer that takes longer than the idle timeout is not cut off (the client sends nothing
/// while it waits or downloads), and the connection idle after its answer is closed (4 s: the
/// client has that long to send its head under a loaded parallel run). The exact clock
/// rule is checked on a virtual clock in HTTPIdleTimeoutHandlerTests.
@Suite("Listener idle rule")
struct ListenerIdleRuleTests {
    /// Answers every request after `delay`.
    struct SlowHandler: ConnectionHandler {
        let delay: Duration

        func serve(_ connection: ServerConnection, logger: Logger) async {
            do {
                while let head = try await connection.nextRequestHead() {
                    try await Task.sleep(for: delay)
                    let (response, body) = SimpleResponses.text(.ok, "slow answer\n", version: head.version, keepAlive: true)
                    try await connection.writeResponse(response, body: body)
                }
            } catch {}
        }
    }

    @Test(arguments: [false, true])
    func aSlowAnswerOutlastsTheIdleTimeoutThenTheIdleConnectionCloses(allowsTunnels: Bool) async throws {
        let options = ListenerOptions(port: 0, idleTimeout: .seconds(4), allowsTunnels: allowsTunnels)
        let listener = try await ProxyListener.bind(options, handler: SlowHandler(delay: .seconds(7)), logger: Logger(label: "test.idle"))
        let task = Task { try await listener.serve() }
        let (connection, response) = try await RawHTTPConnection.connectAndRequest(port: listener.port, "GET", "/slow")
        #expect(response.status == 200, "\(response.text)")
        #expect(await connection.isClosedByPeer(), "idle after its answer, the connection is closed")
        task.cancel()
        await listener.close()
    }
}
