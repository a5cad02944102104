import Crypto
import Foundation
import Logging
import NIOCore
import NTLM
import NTLMHTTP
import NTLMTestSupport
import Testing
@testable import NTLMProxyCore

/// Forward mode end to end on 127.0.0.1: raw client → ForwardMode → in-process NTLM parent
/// (407, connection-bound) → echo backend. Behaviour only; the protocol against squid and
/// Apache is in InteropTests.
@Suite("Forward mode")
struct ForwardModeTests {
    static let quiet = Logger(label: "test.forward", factory: { _ in SwiftLogNoOpLogHandler() })

    struct Stack {
        let forward: ProxyListener
        let upstreams: ForwardUpstreams
        let parents: [FakeNTLMParent]
        let backend: ProxyListener
        let tasks: [Task<Void, Error>]

        var backendURL: String { "http://127.0.0.1:\(backend.port)" }

        func stop() async {
            for task in tasks { task.cancel() }
            await forward.close()
            await backend.close()
            for parent in parents { await parent.stop() }
            await upstreams.shutdown()
        }

        func connect() async throws -> RawHTTPConnection { try await RawHTTPConnection.connect(port: forward.port) }
    }

    static func credential(_ password: String = "Alice-Pass1") -> CredentialConfiguration {
        CredentialConfiguration(name: "alice", userName: #"CORP\alice"#, password: Password(password), source: .inlinePassword)
    }

    /// `parentPorts`: nil entries start a fake parent; a number is used as is (e.g. a closed port).
    static func start(parents parentPorts: [Int?] = [nil], configure: (inout ForwardConfiguration) -> Void = { _ in }) async throws -> Stack {
        let (backend, backendTask) = try await EchoBackend.start()
        var parents: [FakeNTLMParent] = []
        var parentConfigurations: [ParentProxyConfiguration] = []
        for (index, fixed) in parentPorts.enumerated() {
            let port: Int
            if let fixed {
                port = fixed
            } else {
                let parent = try await FakeNTLMParent.start()
                parents.append(parent)
                port = parent.port
            }
            parentConfigurations.append(ParentProxyConfiguration(name: "p\(index)", host: "127.0.0.1", port: port, scheme: .auto))
        }
        var configuration = ForwardConfiguration(parents: parentConfigurations, credential: credential(), connectTimeout: .seconds(10))
        configure(&configuration)
        let upstreams = ForwardUpstreams(configuration: configuration, logger: quiet)
        var options = ListenerOptions(port: 0)
        options.allowsTunnels = true
        let forward = try await ProxyListener.bind(options, handler: ForwardMode(upstreams: upstreams), logger: quiet)
        let forwardTask = Task { try await forward.serve() }
        return Stack(forward: forward, upstreams: upstreams, parents: parents, backend: backend, tasks: [backendTask, forwardTask])
    }

    @Test func requestsOnOneClientConnectionCostOneParentLogon() async throws {
        let stack = try await Self.start()
        let client = try await stack.connect()
        for index in 0..<20 {
            let response = try await client.request("GET", "\(stack.backendURL)/item/\(index)")
            #expect(response.status == 200)
            #expect(echoField(response.text, "uri") == "/item/\(index)" || echoField(response.text, "uri") == "\(stack.backendURL)/item/\(index)")
            #expect(echoField(response.text, "header proxy-authorization") == nil, "credentials never reach the origin")
            #expect(response.header("via")?.contains("ntlmproxy") == true)
        }
        #expect(stack.parents[0].snapshot.logons == 1)
        #expect(stack.parents[0].snapshot.failedLogons == 0)
        await stack.stop()
    }

    @Test func newClientConnectionsReuseTheAuthenticatedParentConnection() async throws {
        let stack = try await Self.start()
        for _ in 0..<10 {
            let client = try await stack.connect()
            let response = try await client.request("GET", "\(stack.backendURL)/", headers: [("Connection", "close")])
            #expect(response.status == 200)
        }
        #expect(stack.parents[0].snapshot.logons == 1, "one pooled authenticated connection served every curl-like client")
        await stack.stop()
    }

    /// Five megabytes as the very first request to a fresh parent (no scheme known yet), then
    /// again on a warm pool, with and without `Expect: 100-continue`.
    @Test(arguments: [false, true])
    func postWithAndWithoutExpectContinue(expectFirst: Bool) async throws {
        let stack = try await Self.start()
        var generator = SystemRandomNumberGenerator()
        let body = (0..<(5 << 20)).map { _ in UInt8.random(in: 0...255, using: &generator) }
        let digest = SHA256.hash(data: body).map { String(format: "%02x", $0) }.joined()
        for expect in [expectFirst, !expectFirst] {
            let client = try await stack.connect()
            let headers: [(String, String)] = expect ? [("Expect", "100-continue")] : []
            let response = try await client.request("POST", "\(stack.backendURL)/upload", headers: headers, body: body)
            #expect(response.status == 200, "\(response.text)")
            #expect(echoField(response.text, "sha256") == digest)
            #expect(echoField(response.text, "length") == "\(body.count)")
        }
        #expect(stack.parents[0].snapshot.bodiesOnChallengeLegs == 0)
        await stack.stop()
    }

    @Test func connectTunnelsThroughTheParent() async throws {
        let stack = try await Self.start()
        let client = try await stack.connect()
        let established = try await client.raw(Array("CONNECT 127.0.0.1:\(stack.backend.port) HTTP/1.1\r\nHost: 127.0.0.1:\(stack.backend.port)\r\n\r\n".utf8), method: "CONNECT")
        #expect(established.status == 200)
        #expect(established.header("content-length") == nil)
        #expect(established.header("connection") == nil)
        try client.send("GET /inside HTTP/1.1\r\nHost: x\r\n\r\n")
        let inside = try await client.receiveResponse()
        #expect(inside.status == 200)
        #expect(echoField(inside.text, "uri") == "/inside")
        #expect(stack.parents[0].snapshot.logons == 1)
        #expect(stack.parents[0].snapshot.connects == 1)
        await stack.stop()
    }

    @Test func failsOverWhenTheFirstParentIsDown() async throws {
        let dead = try ClosedPort()
        defer { withExtendedLifetime(dead) {} }
        let stack = try await Self.start(parents: [dead.port, nil])
        for _ in 0..<3 {
            let client = try await stack.connect()
            let response = try await client.request("GET", "\(stack.backendURL)/")
            #expect(response.status == 200)
        }
        #expect(!stack.upstreams.isUp("p0"))
        #expect(stack.upstreams.isUp("p1"))
        #expect(stack.parents[0].snapshot.logons == 1)
        await stack.stop()
    }

    @Test func allParentsDownGivesAClear502() async throws {
        let dead = try ClosedPort()
        defer { withExtendedLifetime(dead) {} }
        let stack = try await Self.start(parents: [dead.port])
        let client = try await stack.connect()
        let response = try await client.request("GET", "\(stack.backendURL)/")
        #expect(response.status == 502)
        #expect(response.text.contains("no parent proxy could be reached"))
        let refused = try await client.raw(Array("CONNECT 127.0.0.1:9 HTTP/1.1\r\nHost: 127.0.0.1:9\r\n\r\n".utf8), method: "CONNECT")
        #expect(refused.status == 502)
        #expect(refused.text.contains("no parent proxy could be reached"))
        let after = try await client.request("GET", "\(stack.backendURL)/")
        #expect(after.status == 502, "the client connection stays usable after a failed CONNECT")
        await stack.stop()
    }

    @Test func aRejectedCredentialIsSentOnceForAHundredRequests() async throws {
        let stack = try await Self.start { $0.credential = Self.credential("wrong-password") }
        var statuses: [Int] = []
        for index in 0..<100 {
            let client = try await stack.connect()
            let response = index % 10 == 0
                ? try await client.raw(Array("CONNECT 127.0.0.1:\(stack.backend.port) HTTP/1.1\r\nHost: x\r\n\r\n".utf8), method: "CONNECT")
                : try await client.request("GET", "\(stack.backendURL)/")
            statuses.append(response.status)
            if index == 0 { #expect(response.text.contains("rejected")) }
            if index == 50 { #expect(response.text.contains("will not send it again")) }
        }
        #expect(statuses.allSatisfy { $0 == 502 })
        #expect(stack.parents[0].snapshot.failedLogons == 1)
        #expect(stack.parents[0].snapshot.logons == 0)
        await stack.stop()
    }

    @Test func noProxyHostsGoDirect() async throws {
        let stack = try await Self.start { $0.noProxy = try! NoProxyRules(parsing: "127.0.0.1") }
        let client = try await stack.connect()
        let response = try await client.request("GET", "\(stack.backendURL)/direct")
        #expect(response.status == 200)
        #expect(stack.parents[0].snapshot.requests == 0)
        await stack.stop()
    }

    @Test func accessListRefusesClients() async throws {
        let stack = try await Self.start { configuration in
            var acl = AddressACL()
            try! acl.append(.deny, "127.0.0.0/8")
            configuration.access = acl
        }
        let client = try await stack.connect()
        let response = try await client.request("GET", "\(stack.backendURL)/")
        #expect(response.status == 403)
        #expect(stack.parents[0].snapshot.requests == 0)
        await stack.stop()
    }

    @Test func originFormRequestsAreExplained() async throws {
        let stack = try await Self.start()
        let client = try await stack.connect()
        let response = try await client.request("GET", "/")
        #expect(response.status == 400)
        #expect(response.text.contains("http_proxy"))
        await stack.stop()
    }

    @Test func basicFromTheClientBecomesNTLMUpstream() async throws {
        let stack = try await Self.start { configuration in
            configuration.clientAuthentication = .basic(realm: "corp proxy")
            configuration.credential = nil
        }
        let client = try await stack.connect()
        let challenge = try await client.request("GET", "\(stack.backendURL)/")
        #expect(challenge.status == 407)
        #expect(challenge.header("proxy-authenticate")?.hasPrefix("Basic realm=\"corp proxy\"") == true)
        let good = "Basic " + Base64.encode(Array(#"CORP\alice:Alice-Pass1"#.utf8))
        for _ in 0..<3 {
            let response = try await client.request("GET", "\(stack.backendURL)/", headers: [("Proxy-Authorization", good)])
            #expect(response.status == 200)
        }
        #expect(stack.parents[0].snapshot.logons == 1)
        let bad = "Basic " + Base64.encode(Array(#"CORP\alice:typo"#.utf8))
        for _ in 0..<5 {
            let response = try await client.request("GET", "\(stack.backendURL)/", headers: [("Proxy-Authorization", bad)])
            #expect(response.status == 407)
            #expect(response.text.contains("rejected the password"))
        }
        #expect(stack.parents[0].snapshot.failedLogons == 1)
        let again = try await client.request("GET", "\(stack.backendURL)/", headers: [("Proxy-Authorization", good)])
        #expect(again.status == 200, "another user's (or the corrected) credential is not blocked")
        await stack.stop()
    }
}
