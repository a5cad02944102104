import NTLMTestSupport
import Foundation
import Crypto
import Logging
import NIOConcurrencyHelpers
import NIOCore
import NTLM
import NTLMHTTP
import Testing
@testable import NTLMProxyCore

/// Gateway mode end to end on 127.0.0.1: client → gateway → our acceptor (the NTLM origin)
/// → echo backend. Interop against Apache and squid is in InteropTests.
@Suite("Gateway mode")
struct GatewayModeTests {
    final class Counters: Sendable {
        let rejected = NIOLockedValueBox(0)
        let authenticated = NIOLockedValueBox(0)
    }

    struct Stack {
        let gateway: ProxyListener
        let origin: ProxyListener
        let backend: ProxyListener
        let tasks: [Task<Void, Error>]
        let clients: [NTLMHTTPClient]
        let counters: Counters

        func stop() async {
            for task in tasks { task.cancel() }
            for listener in [gateway, origin, backend] { await listener.close() }
            for client in clients { try? await client.shutdown() }
        }
    }

    static func start(password: String = "Alice-Pass1", logs: NIOLockedValueBox<[String]>? = nil) async throws -> Stack {
        let counters = Counters()
        let (backend, backendTask) = try await EchoBackend.start()
        let originClient = NTLMHTTPClient()
        let originForwarder = Forwarder(client: originClient, backend: try BackendURL(parsing: "http://127.0.0.1:\(backend.port)/"), credential: nil)
        let originMode = AcceptorMode(settings: AcceptorSession.Settings(policy: NTLMAcceptorPolicy(netbiosDomain: "CORP"), users: AcceptorModeTests.users, allowBasic: false), forwarder: originForwarder, observer: { event in
            switch event {
            case .rejected: counters.rejected.withLockedValue { $0 += 1 }
            case .authenticated: counters.authenticated.withLockedValue { $0 += 1 }
            default: break
            }
        })
        let origin = try await ProxyListener.bind(ListenerOptions(port: 0), handler: originMode, logger: Logger(label: "test.origin"))
        var gatewayConfiguration = NTLMHTTPClient.Configuration()
        gatewayConfiguration.authentication.preemptiveScheme = .ntlm
        let gatewayClient = NTLMHTTPClient(configuration: gatewayConfiguration)
        let credential = HTTPCredential(userName: "CORP\\alice", password: Password(password))
        let gatewayMode = GatewayMode(forwarder: Forwarder(client: gatewayClient, backend: try BackendURL(parsing: "http://127.0.0.1:\(origin.port)/"), credential: credential))
        let gatewayLogger = logs.map { box in Logger(label: "test.gateway") { _ in CapturingLogHandler(lines: box) } } ?? Logger(label: "test.gateway")
        let gateway = try await ProxyListener.bind(ListenerOptions(port: 0), handler: gatewayMode, logger: gatewayLogger)
        let tasks = [backendTask, Task { try await origin.serve() }, Task { try await gateway.serve() }]
        return Stack(gateway: gateway, origin: origin, backend: backend, tasks: tasks, clients: [originClient, gatewayClient], counters: counters)
    }

    @Test func getIsAuthenticatedAsTheServiceUser() async throws {
        let stack = try await Self.start()
        defer { Task { await stack.stop() } }
        let connection = try await RawHTTPConnection.connect(port: stack.gateway.port)
        let response = try await connection.request("GET", "/whoami", headers: [("Authorization", "Bearer client-token")])
        #expect(response.status == 200)
        #expect(echoField(response.text, "header x-remote-user") == "CORP\\alice")
        // The client's own Authorization never reaches the backend.
        #expect(!response.text.contains("client-token"))
        #expect(echoField(response.text, "header via")?.contains("ntlmproxy") == true)
        // Three more requests: still one handshake at the origin (pooled connection).
        for _ in 0..<3 { #expect(try await connection.request("GET", "/again").status == 200) }
        #expect(stack.counters.authenticated.withLockedValue { $0 } == 1)
    }

    /// `Persistent-Auth` speaks of the gateway's own logon upstream: the client never sees it.
    @Test func persistentAuthOfTheUpstreamIsNotPassedOn() async throws {
        let stack = try await Self.start()
        defer { Task { await stack.stop() } }
        let connection = try await RawHTTPConnection.connect(port: stack.gateway.port)
        let response = try await connection.request("GET", "/persistent-auth")
        #expect(response.status == 200)
        #expect(echoField(response.text, "uri") == "/persistent-auth")
        #expect(response.header("persistent-auth") == nil)
    }

    /// A response that breaks off after its head still gets its access line, saying so, and
    /// the client's connection is closed (it cannot be framed any more).
    @Test func aResponseThatBreaksOffStillGetsItsAccessLine() async throws {
        let logs = NIOLockedValueBox<[String]>([])
        let stack = try await Self.start(logs: logs)
        defer { Task { await stack.stop() } }
        let connection = try await RawHTTPConnection.connect(port: stack.gateway.port)
        try connection.send("GET /broken HTTP/1.1\r\nHost: gateway.test\r\n\r\n")
        let received = try await connection.receiveUntilClosed()
        let text = String(decoding: received, as: UTF8.self)
        #expect(text.hasPrefix("HTTP/1.1 200"))
        #expect(text.lowercased().contains("content-length: \(EchoBackend.brokenLength)"))
        #expect(received.count < EchoBackend.brokenLength, "the client got a cut-off body and then the close")
        var line: String? = nil
        for _ in 0..<1000 where line == nil {
            line = logs.withLockedValue { $0.first { $0.hasPrefix("info GET /broken ") } }
            if line == nil { try await Task.sleep(for: .milliseconds(10)) }
        }
        let accessLine = try #require(line)
        #expect(accessLine.contains("GET /broken 200 "))
        #expect(accessLine.contains("response interrupted after \(EchoBackend.brokenSent) body bytes"))
    }

    @Test(arguments: [false, true])
    func postBodyArrivesOnceAndIntact(expectContinue: Bool) async throws {
        let stack = try await Self.start()
        defer { Task { await stack.stop() } }
        let body = (0..<(5 * 1024 * 1024)).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ 7) }
        let expected = SHA256.hash(data: body).map { String(format: "%02x", $0) }.joined()
        let connection = try await RawHTTPConnection.connect(port: stack.gateway.port)
        var headers: [(String, String)] = []
        if expectContinue { headers.append(("Expect", "100-continue")) }
        let response = try await connection.request("POST", "/echo", headers: headers, body: body)
        #expect(response.status == 200)
        #expect(echoField(response.text, "sha256") == expected)
        #expect(echoField(response.text, "length") == String(body.count))
    }

    @Test func wrongPasswordIsTriedOnceThenBlocked() async throws {
        let stack = try await Self.start(password: "wrong")
        defer { Task { await stack.stop() } }
        let first = try await RawHTTPConnection.connect(port: stack.gateway.port).request("GET", "/")
        #expect(first.status == 401)
        for _ in 0..<5 {
            let again = try await RawHTTPConnection.connect(port: stack.gateway.port).request("GET", "/")
            #expect(again.status == 502)
            #expect(again.text.contains("rejected the configured credential"))
        }
        #expect(stack.counters.rejected.withLockedValue { $0 } == 1)
    }
}
