import NTLMTestSupport
import Logging
import NIOCore
import NTLM
import NTLMHTTP
import Testing
@testable import NTLMProxyCore

/// Acceptor mode end to end over real sockets on 127.0.0.1, driven by hand-made requests so
/// that every leg and every malformed input is exact.
@Suite("Acceptor mode")
struct AcceptorModeTests {
    static let users: NTLMUserStore = {
        var store = NTLMUserStore()
        store.add(user: "alice", domain: "CORP", password: "Alice-Pass1")
        return store
    }()

    struct Running {
        let listener: ProxyListener
        let task: Task<Void, Error>
        var port: Int { listener.port }
        func stop() async {
            task.cancel()
            await listener.close()
        }
    }

    static func start(backend: ProxyListener? = nil, allowBasic: Bool = false, pad: Int = 0) async throws -> (Running, NTLMHTTPClient?) {
        let settings = AcceptorSession.Settings(policy: NTLMAcceptorPolicy(netbiosDomain: "CORP"), users: users, allowBasic: allowBasic)
        var forwarder: Forwarder? = nil
        var client: NTLMHTTPClient? = nil
        if let backend {
            let made = NTLMHTTPClient()
            client = made
            forwarder = Forwarder(client: made, backend: try BackendURL(parsing: "http://127.0.0.1:\(backend.port)/"), credential: nil)
        }
        let mode = AcceptorMode(settings: settings, forwarder: forwarder, padUnauthorizedTo: pad)
        let listener = try await ProxyListener.bind(ListenerOptions(port: 0), handler: mode, logger: Logger(label: "test.acceptor"))
        return (Running(listener: listener, task: Task { try await listener.serve() }), client)
    }

    /// Runs an NTLM handshake on `connection` and returns the final response.
    static func handshake(_ connection: RawHTTPConnection, user: String = "alice", domain: String = "CORP", password: String = "Alice-Pass1", extraHeaders: [(String, String)] = []) async throws -> RawHTTPConnection.Response {
        var initiator = NTLMInitiator(credentials: NTLMCredentials(user: user, domain: domain, workstation: "WS", password: Password(password)))
        let first = try await connection.request(headers: [("Authorization", "NTLM " + Base64.encode(initiator.negotiate()))])
        #expect(first.status == 401)
        let challenge = try #require(first.headers("WWW-Authenticate").first { $0.hasPrefix("NTLM ") })
        let type2 = try #require(Base64.decode(String(challenge.dropFirst(5))))
        let type3 = try initiator.authenticate(challenge: type2)
        return try await connection.request(headers: [("Authorization", "NTLM " + Base64.encode(type3))] + extraHeaders)
    }

    @Test func challengesWithNegotiateAndNTLM() async throws {
        let (server, _) = try await Self.start()
        defer { Task { await server.stop() } }
        let connection = try await RawHTTPConnection.connect(port: server.port)
        let response = try await connection.request()
        #expect(response.status == 401)
        #expect(response.headers("WWW-Authenticate") == ["Negotiate", "NTLM"])
        // Keep-alive is preserved on 401 so the handshake can continue.
        #expect(response.header("Connection") == nil)
        let again = try await connection.request()
        #expect(again.status == 401)
    }

    @Test func ntlmHandshakeAuthenticatesTheConnection() async throws {
        let (server, _) = try await Self.start()
        defer { Task { await server.stop() } }
        let connection = try await RawHTTPConnection.connect(port: server.port)
        let response = try await Self.handshake(connection)
        #expect(response.status == 200)
        #expect(response.text.contains("user: CORP\\alice"))
        #expect(response.header("X-Remote-User") == "CORP\\alice")
        // The connection stays authenticated: no Authorization needed any more.
        let next = try await connection.request("GET", "/again")
        #expect(next.status == 200)
        #expect(next.text.contains("user: CORP\\alice"))
        // A request on another connection is not.
        let other = try await RawHTTPConnection.connect(port: server.port)
        #expect(try await other.request().status == 401)
    }

    @Test func wrongPasswordGets401AndTheServerKeepsServing() async throws {
        let (server, _) = try await Self.start()
        defer { Task { await server.stop() } }
        let connection = try await RawHTTPConnection.connect(port: server.port)
        let response = try await Self.handshake(connection, password: "wrong")
        #expect(response.status == 401)
        #expect(response.headers("WWW-Authenticate").contains("NTLM"))
        let fresh = try await RawHTTPConnection.connect(port: server.port)
        #expect(try await Self.handshake(fresh).status == 200)
    }

    @Test func padsUnauthorizedBodies() async throws {
        let (server, _) = try await Self.start(pad: 2000)
        defer { Task { await server.stop() } }
        let response = try await RawHTTPConnection.connect(port: server.port).request()
        #expect(response.status == 401)
        #expect(response.body.count >= 2000)
    }

    @Test(arguments: [
        ("NTLM ###notbase64", "bad base64"),
        ("NTLM " + Base64.encode([0x4E, 0x54, 0x4C, 0x4D, 0x53, 0x53, 0x50, 0x00, 0x02, 0, 0, 0] + [UInt8](repeating: 0, count: 40)), "a Type 2 from a client"),
        ("NTLM " + Base64.encode(Array("hello world!".utf8)), "not an NTLM message"),
        ("Negotiate " + Base64.encode([0x60, 0x05, 0x06, 0x03, 0x2b, 0x06, 0x01]), "truncated SPNEGO"),
    ])
    func malformedAuthorizationGets400AndClose(header: String, what: String) async throws {
        let (server, _) = try await Self.start()
        defer { Task { await server.stop() } }
        let connection = try await RawHTTPConnection.connect(port: server.port)
        let response = try await connection.request(headers: [("Authorization", header)])
        #expect(response.status == 400, "\(what)")
        #expect(response.header("Connection") == "close")
        #expect(await connection.isClosedByPeer())
        // The process keeps serving.
        #expect(try await Self.handshake(RawHTTPConnection.connect(port: server.port)).status == 200)
    }

    @Test func truncatedType3Gets400() async throws {
        let (server, _) = try await Self.start()
        defer { Task { await server.stop() } }
        let connection = try await RawHTTPConnection.connect(port: server.port)
        var initiator = NTLMInitiator(credentials: NTLMCredentials(user: "alice", domain: "CORP", password: "Alice-Pass1"))
        let first = try await connection.request(headers: [("Authorization", "NTLM " + Base64.encode(initiator.negotiate()))])
        let challenge = try #require(first.headers("WWW-Authenticate").first { $0.hasPrefix("NTLM ") })
        let type3 = try initiator.authenticate(challenge: try #require(Base64.decode(String(challenge.dropFirst(5)))))
        let response = try await connection.request(headers: [("Authorization", "NTLM " + Base64.encode(Array(type3.prefix(60))))])
        #expect(response.status == 400)
        #expect(await connection.isClosedByPeer())
    }

    @Test func hugeHeaderIsRefusedAndTheServerKeepsServing() async throws {
        let (server, _) = try await Self.start()
        defer { Task { await server.stop() } }
        let connection = try await RawHTTPConnection.connect(port: server.port)
        let huge = "NTLM " + String(repeating: "A", count: 100 * 1024)
        let response = try? await connection.request(headers: [("Authorization", huge)])
        if let response { #expect(response.status == 400 || response.status == 431) }
        #expect(await connection.isClosedByPeer())
        #expect(try await Self.handshake(RawHTTPConnection.connect(port: server.port)).status == 200)
    }

    @Test func forwardsTheUserAndStripsAClientSuppliedIdentity() async throws {
        let (backend, backendTask) = try await EchoBackend.start()
        defer { backendTask.cancel() }
        let (server, client) = try await Self.start(backend: backend)
        defer { Task { await server.stop(); try? await client?.shutdown() } }
        let connection = try await RawHTTPConnection.connect(port: server.port)
        // The forged header comes with the authenticated request itself.
        let response = try await Self.handshake(connection, extraHeaders: [("X-Remote-User", "CORP\\mallory")])
        #expect(response.status == 200)
        #expect(echoField(response.text, "header x-remote-user") == "CORP\\alice")
        #expect(!response.text.contains("mallory"))
        #expect(!response.text.contains("header authorization"))
        // And on a later request of the authenticated connection.
        let later = try await connection.request("POST", "/echo", headers: [("x-remote-user", "CORP\\mallory")], body: Array(repeating: 0x61, count: 1000))
        #expect(echoField(later.text, "header x-remote-user") == "CORP\\alice")
        #expect(echoField(later.text, "length") == "1000")
    }

    @Test func basicOnlyWhenAllowed() async throws {
        let basic = "Basic " + Base64.encode(Array("CORP\\alice:Alice-Pass1".utf8))
        let (closed, _) = try await Self.start(allowBasic: false)
        defer { Task { await closed.stop() } }
        #expect(try await RawHTTPConnection.connect(port: closed.port).request(headers: [("Authorization", basic)]).status == 401)
        let (open, _) = try await Self.start(allowBasic: true)
        defer { Task { await open.stop() } }
        let response = try await RawHTTPConnection.connect(port: open.port).request(headers: [("Authorization", basic)])
        #expect(response.status == 200)
        #expect(response.text.contains("CORP\\alice"))
        let wrong = "Basic " + Base64.encode(Array("CORP\\alice:nope".utf8))
        #expect(try await RawHTTPConnection.connect(port: open.port).request(headers: [("Authorization", wrong)]).status == 401)
    }
}
