import Crypto
import Foundation
import Logging
import NIOConcurrencyHelpers
import NIOCore
import NTLM
import NTLMHTTP
import NTLMTestSupport
import Testing
@testable import NTLMProxyCore

/// Pass-through mode end to end on 127.0.0.1: browser-like raw client (our NTLMInitiator) →
/// pass-through listener (through `ProxyRuntime`) → in-process connection-bound NTLM origin.
/// Behaviour only; real clients and servers are in InteropTests.
@Suite("Pass-through mode")
struct PassThroughModeTests {
    struct Stack {
        let origin: FakeNTLMOrigin
        let runtime: ProxyRuntime
        let task: Task<Void, Error>
        let logs: NIOLockedValueBox<[String]>

        var port: Int { runtime.listeners[0].port }
        var logLines: [String] { logs.withLockedValue { $0 } }

        func connect() async throws -> PassThroughTestClient { try await PassThroughTestClient.connect(port: port) }

        func stop() async {
            await runtime.shutdown()
            task.cancel()
            await origin.stop()
        }

        /// Runs `body`; if it throws, records the proxy's last log lines with the error.
        func recordingLog<T>(_ body: () async throws -> T, sourceLocation: SourceLocation = #_sourceLocation) async throws -> T {
            do {
                return try await body()
            } catch {
                let recent = logLines.suffix(15).map { String($0.prefix(240)) }.joined(separator: "\n")
                Issue.record("\(error); proxy log:\n\(recent)", sourceLocation: sourceLocation)
                throw error
            }
        }

        /// Waits (bounded) until a log line satisfies `predicate`.
        func waitForLog(_ predicate: (String) -> Bool) async -> String? {
            for _ in 0..<400 {
                if let line = logLines.first(where: predicate) { return line }
                try? await Task.sleep(for: .milliseconds(25))
            }
            return logLines.first(where: predicate)
        }
    }

    static func start(
        origin options: FakeNTLMOrigin.Options = FakeNTLMOrigin.Options(),
        configure: (inout PassThroughConfiguration) -> Void = { _ in }
    ) async throws -> Stack {
        let origin = try await FakeNTLMOrigin.start(options)
        var passThrough = PassThroughConfiguration(backend: try BackendURL(parsing: origin.url))
        configure(&passThrough)
        let logs = NIOLockedValueBox<[String]>([])
        let logger = Logger(label: "test.pass-through") { _ in CapturingLogHandler(lines: logs) }
        let listener = ListenerConfiguration(name: "pt", address: ListenAddress(port: 0), mode: .passThrough(passThrough))
        let runtime = try await ProxyRuntime.start(ProxyConfiguration(credentials: [], listeners: [listener]), logger: logger)
        let task = Task { try await runtime.run() }
        return Stack(origin: origin, runtime: runtime, task: task, logs: logs)
    }

    static func randomBytes(_ count: Int) -> [UInt8] {
        var generator = SystemRandomNumberGenerator()
        return (0..<count).map { _ in UInt8.random(in: 0...255, using: &generator) }
    }

    static func sha256(_ bytes: [UInt8]) -> String {
        SHA256.hash(data: bytes).map { String(format: "%02x", $0) }.joined()
    }

    static let alice = #"NTLMTEST\alice"#
    static let bob = #"NTLMTEST\bob"#

    // MARK: Pinning

    @Test func handshakeIsRelayedAndLaterRequestsRideThePin() async throws {
        let stack = try await Self.start()
        let client = try await stack.connect()
        let login = try await client.login("alice")
        #expect(login.challenge.status == 401)
        #expect(!login.challenge.closes, "the 401 carrying the Type 2 keeps the connection")
        #expect(login.final.status == 200, "\(login.final.text)")
        #expect(login.final.field("user") == Self.alice)
        let conn = try #require(login.final.field("conn"))
        for index in 0..<5 {
            let response = try await client.request("GET", "/protected/\(index)")
            #expect(response.status == 200)
            #expect(response.field("user") == Self.alice)
            #expect(response.field("conn") == conn, "every request of the client connection rides its pin")
            #expect(response.field("uri") == "/protected/\(index)")
        }
        #expect(stack.origin.snapshot.logons == 1)
        #expect(stack.origin.snapshot.connections == 1)
        await stack.stop()
    }

    @Test func twoClientConnectionsNeverShareABackendConnection() async throws {
        let stack = try await Self.start()
        let aliceClient = try await stack.connect()
        let bobClient = try await stack.connect()
        async let aliceLogin = aliceClient.login("alice")
        async let bobLogin = bobClient.login("bob")
        let (a, b) = try await (aliceLogin, bobLogin)
        #expect(a.final.field("user") == Self.alice)
        #expect(b.final.field("user") == Self.bob)
        let aliceConn = try #require(a.final.field("conn"))
        let bobConn = try #require(b.final.field("conn"))
        #expect(aliceConn != bobConn)
        for _ in 0..<5 {
            let forAlice = try await aliceClient.request()
            let forBob = try await bobClient.request()
            #expect(forAlice.field("user") == Self.alice)
            #expect(forAlice.field("conn") == aliceConn)
            #expect(forBob.field("user") == Self.bob)
            #expect(forBob.field("conn") == bobConn)
        }

        aliceClient.close()
        #expect(await stack.origin.waitUntilClosed(Int(aliceConn)!), "alice's backend connection is closed with her client connection")

        for _ in 0..<5 {
            let stranger = try await stack.connect()
            for _ in 0..<3 {
                let response = try await stranger.request()
                #expect(response.status == 401, "an unauthenticated client never gets a 200 from a protected path")
                #expect(response.field("conn") == nil)
            }
            stranger.close()
        }
        let forBob = try await bobClient.request()
        #expect(forBob.field("user") == Self.bob)
        #expect(forBob.field("conn") == bobConn)
        #expect(stack.origin.snapshot.logons == 2)
        await stack.stop()
    }

    @Test func aNewType1RestartsTheHandshakeOnTheSamePin() async throws {
        let stack = try await Self.start()
        let client = try await stack.connect()
        let asAlice = try await client.login("alice")
        #expect(asAlice.final.field("user") == Self.alice)
        let conn = try #require(asAlice.final.field("conn"))
        let asBob = try await client.login("bob")
        #expect(asBob.challenge.status == 401)
        #expect(asBob.final.status == 200)
        #expect(asBob.final.field("user") == Self.bob)
        #expect(asBob.final.field("conn") == conn, "the new handshake runs on the same backend connection")
        let after = try await client.request()
        #expect(after.field("user") == Self.bob)
        #expect(after.field("conn") == conn)
        #expect(stack.origin.snapshot.logons == 2)
        #expect(stack.origin.snapshot.connections == 1)
        await stack.stop()
    }

    @Test func aBackendClosingTheIdlePinClosesTheClientConnection() async throws {
        let stack = try await Self.start()
        let client = try await stack.connect()
        let login = try await client.login("alice")
        #expect(login.final.status == 200)
        stack.origin.closeAllConnections()
        #expect(await client.isClosedByPeer(), "the client connection ends with its pin")
        // The next client authenticates afresh.
        let next = try await stack.connect()
        let again = try await next.login("alice")
        #expect(again.final.field("user") == Self.alice)
        #expect(again.final.field("conn") != login.final.field("conn"))
        await stack.stop()
    }

    @Test func aBackendConnectionCloseIsRelayedAndEndsTheClientConnection() async throws {
        var options = FakeNTLMOrigin.Options()
        options.closeAfterRequests = 3
        let stack = try await Self.start(origin: options)
        let client = try await stack.connect()
        let login = try await client.login("alice")
        #expect(login.final.status == 200)
        #expect(!login.final.closes)
        let last = try await client.request()
        #expect(last.status == 200)
        #expect(last.field("user") == Self.alice)
        #expect(last.closes, "Connection: close is relayed")
        #expect(await client.isClosedByPeer())
        await stack.stop()
    }

    /// Requests that follow their predecessor at once — pipelined in one write, or sent the
    /// moment the previous response ended — must still find the pin free and ride it.
    @Test func backToBackAndPipelinedRequestsRideThePin() async throws {
        let stack = try await Self.start()
        let client = try await stack.connect()
        let login = try await client.login("alice")
        let conn = try #require(login.final.field("conn"))
        var pipelined = ""
        for index in 0..<20 { pipelined += "GET /protected/p\(index) HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n" }
        try await client.send(pipelined)
        for index in 0..<20 {
            let response = try await client.readResponse()
            #expect(response.status == 200, "pipelined request \(index): \(response.status)")
            #expect(response.field("user") == Self.alice)
            #expect(response.field("conn") == conn)
            #expect(response.field("uri") == "/protected/p\(index)")
        }
        for _ in 0..<200 {
            let response = try await client.request()
            #expect(response.status == 200)
            #expect(response.field("conn") == conn)
            if response.status != 200 { break }
        }
        #expect(stack.origin.snapshot.logons == 1)
        #expect(stack.origin.snapshot.connections == 1)
        await stack.stop()
    }

    /// Many client connections at once, two users, reconnecting: every answer names the
    /// connection's own user and its own backend connection, and the origin sees one logon
    /// per client connection.
    @Test func concurrentClientsStayIsolated() async throws {
        let stack = try await Self.start()
        let results = try await withThrowingTaskGroup(of: (mismatches: Int, failures: Int, logins: Int).self) { group in
            for worker in 0..<12 {
                group.addTask {
                    var mismatches = 0
                    var failures = 0
                    var logins = 0
                    for round in 0..<4 {
                        let user = (worker + round) % 2 == 0 ? "alice" : "bob"
                        let expected = "NTLMTEST\\\(user)"
                        let client = try await stack.connect()
                        let login = try await client.login(user)
                        logins += 1
                        guard login.final.status == 200, let conn = login.final.field("conn") else {
                            failures += 1
                            continue
                        }
                        if login.final.field("user") != expected { mismatches += 1 }
                        for _ in 0..<25 {
                            let response = try await client.request()
                            if response.status != 200 { failures += 1; continue }
                            if response.field("user") != expected || response.field("conn") != conn { mismatches += 1 }
                        }
                        client.close()
                    }
                    return (mismatches, failures, logins)
                }
            }
            var total = (mismatches: 0, failures: 0, logins: 0)
            for try await result in group {
                total.mismatches += result.mismatches
                total.failures += result.failures
                total.logins += result.logins
            }
            return total
        }
        #expect(results.mismatches == 0)
        #expect(results.failures == 0)
        #expect(stack.origin.snapshot.logons == results.logins, "one logon per client connection")
        #expect(stack.origin.snapshot.failedLogons == 0)
        await stack.stop()
    }

    @Test func publicRequestsAreServedWhileThePinLimitIsReached() async throws {
        let stack = try await Self.start {
            $0.pins.maxPins = 1
            $0.publicPaths = ["/public/"]
        }
        let first = try await stack.connect()
        #expect(try await first.login("alice").final.status == 200)
        let second = try await stack.connect()
        for _ in 0..<3 {
            let response = try await second.request("GET", "/public/a.css")
            #expect(response.status == 200, "public paths need no pin")
            #expect(response.field("user") == "-")
        }
        let refused = try await second.request()
        #expect(refused.status == 503)
        await stack.stop()
    }

    /// The origin drops the connection right after an answer that promised keep-alive: the
    /// answer arrives whole, then the client connection ends too.
    @Test func aBackendDroppingThePinAfterAResponseEndsTheClientConnection() async throws {
        var options = FakeNTLMOrigin.Options()
        options.dropAfterRequests = 3
        let stack = try await Self.start(origin: options)
        let client = try await stack.connect()
        let login = try await client.login("alice")
        #expect(login.final.status == 200)
        let conn = try #require(login.final.field("conn"))
        let last = try await client.request()
        #expect(last.status == 200)
        #expect(last.field("user") == Self.alice)
        #expect(last.field("conn") == conn)
        #expect(await client.isClosedByPeer(), "the client connection ends with its pin")
        await stack.stop()
    }

    /// The origin closes right after flushing a keep-alive answer: that answer must still
    /// reach the client whole, whichever of the answer and the close the proxy sees first.
    @Test func anAnswerFollowedAtOnceByTheBackendsCloseIsNeverLost() async throws {
        var options = FakeNTLMOrigin.Options()
        options.dropAfterRequests = 2
        let stack = try await Self.start(origin: options)
        let lost = try await withThrowingTaskGroup(of: [String].self) { group in
            for worker in 0..<6 {
                group.addTask {
                    var lost: [String] = []
                    for round in 0..<40 {
                        let client = try await stack.connect()
                        do {
                            let login = try await client.login(worker % 2 == 0 ? "alice" : "bob")
                            if login.final.status != 200 { lost.append("worker \(worker) round \(round): \(login.final.status)") }
                        } catch {
                            lost.append("worker \(worker) round \(round): \(error)")
                        }
                        client.close()
                    }
                    return lost
                }
            }
            var all: [String] = []
            for try await part in group { all += part }
            return all
        }
        #expect(lost.isEmpty, "\(lost.count) of 240 answers (the Type 3's 200) never reached the client: \(lost.prefix(5))")
        await stack.stop()
    }

    /// The client's next request races the origin's drop of its pinned connection. Whatever
    /// wins, the request never reaches another backend connection: the client connection
    /// ends (before an answer, or with `Connection: close`).
    @Test func aRequestRacingTheBackendsDropNeverMovesToAnotherConnection() async throws {
        var options = FakeNTLMOrigin.Options()
        options.dropAfterRequests = 2
        let stack = try await Self.start(origin: options)
        var outcomes: [String] = []
        let rounds = 60
        for round in 0..<rounds {
            let client = try await stack.connect()
            let login: PassThroughTestClient.Handshake
            do {
                login = try await client.login("alice")
            } catch {
                let recent = stack.logLines.suffix(12).map { String($0.prefix(240)) }.joined(separator: "\n")
                Issue.record("round \(round): the handshake's answer was lost (\(error)); proxy log:\n\(recent)")
                break
            }
            #expect(login.final.status == 200)
            do {
                let next = try await client.request()
                outcomes.append("\(next.status)\(next.closes ? "+close" : "")")
                #expect(next.status != 200 || next.field("conn") == login.final.field("conn"))
                #expect(next.closes, "after its pin is gone the client connection must end: got \(next.status) \(next.text.prefix(80))")
            } catch {
                outcomes.append("closed")
            }
            #expect(await client.isClosedByPeer())
        }
        // Each round's origin connection reads exactly its two handshake legs and closes:
        // any further request the origin read went to another backend connection.
        #expect(stack.origin.snapshot.requests == 2 * rounds, "a request went to a new backend connection; outcomes: \(outcomes)")
        await stack.stop()
    }

    @Test func anIdlePinIsClosedAfterTheIdleTimeout() async throws {
        // (Long enough that a slow machine completes the handshake within it: the whole unit
        // run's CPU-bound suites can hold this test's task off the 2-CPU pool for seconds.)
        let stack = try await Self.start { $0.pins.idleTimeout = .seconds(20) }
        // The client waits longer than the idle timeout for the close.
        let client = try await PassThroughTestClient.connect(port: stack.port, timeoutSeconds: 60)
        let login = try await stack.recordingLog { try await client.login("alice") }
        let conn = try #require(login.final.field("conn").flatMap { Int($0) })
        #expect(await client.isClosedByPeer(), "the idle client connection is closed")
        #expect(await stack.origin.waitUntilClosed(conn), "and its backend connection with it")
        await stack.stop()
    }

    /// The idle timeout is about a pin with no request: a request whose answer takes longer
    /// than it (a slow page, a long download the client only reads) is not cut off.
    @Test func aSlowAnswerIsNotCutOffByThePinIdleTimeout() async throws {
        let (stack, _, slow) = try await Self.slowAnswerOnAPin(.seconds(30))
        #expect(slow.field("user") == Self.alice)
        await stack.stop()
    }

    /// A pass-through stack whose origin takes `slowAnswer` over `/protected/slow/`, with a 20 s
    /// pin idle timeout, and a client logged in as alice that has had one slow answer (both 200).
    /// (When the idle clock restarts is checked on a virtual clock in HTTPIdleTimeoutHandlerTests;
    /// here the answer outlasts the timeout by a wide margin, and the handshake has 20 s per leg:
    /// the first ~15 s of a unit run keep both CPUs busy with every suite at once, and with 4 s,
    /// then 8 s, this test's task was held off long enough to fail one run in three, then one in
    /// six.)
    static func slowAnswerOnAPin(
        _ slowAnswer: Duration, sourceLocation: SourceLocation = #_sourceLocation
    ) async throws -> (stack: Stack, client: PassThroughTestClient, slow: PassThroughTestClient.Response) {
        var options = FakeNTLMOrigin.Options()
        options.slowAnswer = slowAnswer
        let stack = try await Self.start(origin: options) { $0.pins.idleTimeout = .seconds(20) }
        // The client waits longer than the slow answer takes.
        let client = try await PassThroughTestClient.connect(port: stack.port, timeoutSeconds: 60)
        let login = try await stack.recordingLog({ try await client.login("alice") }, sourceLocation: sourceLocation)
        #expect(login.final.status == 200, sourceLocation: sourceLocation)
        let slow = try await stack.recordingLog({ try await client.request("GET", "/protected/slow/report") }, sourceLocation: sourceLocation)
        #expect(slow.status == 200, sourceLocation: sourceLocation)
        return (stack, client, slow)
    }

    /// A pinned request whose backend cannot be reached gets a 502, its connection closes,
    /// and its pin is released (the next client is not refused with a 503).
    @Test func anUnreachableBackendReleasesThePin() async throws {
        let dead = try ClosedPort()
        defer { withExtendedLifetime(dead) {} }
        let passThrough = PassThroughConfiguration(backend: try BackendURL(parsing: "http://127.0.0.1:\(dead.port)"), pins: PinLimits(maxPins: 1))
        let logs = NIOLockedValueBox<[String]>([])
        let logger = Logger(label: "test.pass-through") { _ in CapturingLogHandler(lines: logs) }
        let listener = ListenerConfiguration(name: "pt", address: ListenAddress(port: 0), mode: .passThrough(passThrough))
        let runtime = try await ProxyRuntime.start(ProxyConfiguration(credentials: [], listeners: [listener]), logger: logger)
        let task = Task { try await runtime.run() }
        var statuses: [Int] = []
        for _ in 0..<3 {
            let client = try await PassThroughTestClient.connect(port: runtime.listeners[0].port)
            let response = try await client.request()
            statuses.append(response.status)
            #expect(response.closes)
            #expect(await client.isClosedByPeer())
        }
        #expect(statuses.allSatisfy { $0 == 502 || $0 == 504 }, "\(statuses)")
        await runtime.shutdown()
        task.cancel()
    }

    // MARK: Public paths

    @Test func publicPathsShareAPoolUnlessTheyCarryNTLM() async throws {
        let stack = try await Self.start { $0.publicPaths = ["/public/"] }
        let first = try await stack.connect()
        let one = try await first.request("GET", "/public/a.css")
        #expect(one.status == 200)
        #expect(one.field("user") == "-")
        let pooled = try #require(one.field("conn"))
        first.close()
        let second = try await stack.connect()
        let two = try await second.request("GET", "/public/b.css")
        #expect(two.status == 200)
        #expect(two.field("conn") == pooled, "public requests share the pool across client connections")
        #expect(!stack.logLines.contains { $0.contains("pin created") }, "no pin for public requests")

        // A public request carrying NTLM is pinned, and its connection never joins the pool.
        let third = try await stack.connect()
        let login = try await third.login("alice", path: "/public/c.css")
        #expect(login.final.status == 200)
        #expect(login.final.field("user") == Self.alice)
        // (The pin may take the idle pooled connection, which no one authenticated; it never
        // goes back.)
        let pinnedConn = try #require(login.final.field("conn"))
        #expect(stack.logLines.filter { $0.contains("pin created") }.count == 1)
        let fourth = try await stack.connect()
        let four = try await fourth.request("GET", "/public/d.css")
        #expect(four.field("user") == "-")
        #expect(four.field("conn") != pinnedConn, "a pinned connection is never pooled")
        let fourConn = try #require(four.field("conn"))
        // An NTLM Authorization the proxy cannot even parse still never leaves its
        // connection to the next client.
        let fifth = try await stack.connect()
        let garbage = try await fifth.request("GET", "/public/e.css", headers: [("Authorization", "NTLM !!!not-base64!!!")])
        #expect(garbage.status == 200)
        let garbageConn = try #require(garbage.field("conn"))
        fifth.close()
        let sixth = try await stack.connect()
        for _ in 0..<3 {
            let six = try await sixth.request("GET", "/public/f.css")
            #expect(six.field("conn") != garbageConn)
            #expect(six.field("conn") != pinnedConn)
        }
        #expect(fourConn != pinnedConn)
        // And a protected path without a pin is challenged.
        let five = try await fourth.request("GET", "/protected/")
        #expect(five.status == 401)
        await stack.stop()
    }

    // MARK: Bodies during the handshake

    /// Browsers send a POST's body on every leg; the origin answers the 401 before reading
    /// it (then discards it), with a small or a 200 KB body.
    @Test(arguments: [120, 200_000])
    func postBodyOnEveryLegWhenTheOriginChallengesFirst(challengeBodySize: Int) async throws {
        var options = FakeNTLMOrigin.Options()
        options.challengeBeforeBody = true
        options.challengeBodySize = challengeBodySize
        let stack = try await Self.start(origin: options)
        let body = Self.randomBytes(1 << 20)
        let client = try await stack.connect()
        let login = try await client.login("alice", method: "POST", path: "/protected/upload", body: body)
        #expect(login.challenge.status == 401)
        #expect(login.challenge.body.count >= challengeBodySize)
        #expect(login.final.status == 200, "\(login.final.text)")
        #expect(login.final.field("length") == "\(body.count)")
        #expect(login.final.field("sha256") == Self.sha256(body))
        let again = try await client.request("POST", "/protected/upload", body: body)
        #expect(again.field("sha256") == Self.sha256(body))
        #expect(again.field("conn") == login.final.field("conn"))
        #expect(stack.origin.snapshot.logons == 1)
        await stack.stop()
    }

    @Test func chunkedRequestBodies() async throws {
        var options = FakeNTLMOrigin.Options()
        options.challengeBeforeBody = true
        let stack = try await Self.start(origin: options)
        let chunks = (0..<40).map { _ in Self.randomBytes(7000) }
        let all = chunks.flatMap { $0 }
        let client = try await stack.connect()
        var initiator = NTLMInitiator(credentials: NTLMCredentials(user: "alice", domain: FakeNTLMOrigin.domain, password: "Alice-Pass1"))
        let challenge = try await client.request("POST", "/protected/upload", headers: [("Authorization", "NTLM " + Base64.encode(initiator.negotiate()))], chunks: chunks)
        #expect(challenge.status == 401)
        let type2 = try #require(challenge.ntlmChallenge)
        let type3 = try initiator.authenticate(challenge: type2)
        let final = try await client.request("POST", "/protected/upload", headers: [("Authorization", "NTLM " + Base64.encode(type3))], chunks: chunks)
        #expect(final.status == 200, "\(final.text)")
        #expect(final.field("user") == Self.alice)
        #expect(final.field("length") == "\(all.count)")
        #expect(final.field("sha256") == Self.sha256(all))
        let again = try await client.request("POST", "/protected/upload", chunks: chunks)
        #expect(again.field("sha256") == Self.sha256(all))
        await stack.stop()
    }

    @Test func expectContinueOnTheType3LegGetsTheOriginsContinue() async throws {
        let stack = try await Self.start()
        let body = Self.randomBytes(300_000)
        let client = try await stack.connect()
        var initiator = NTLMInitiator(credentials: NTLMCredentials(user: "alice", domain: FakeNTLMOrigin.domain, password: "Alice-Pass1"))
        let challenge = try await client.request("POST", "/protected/upload", headers: [("Authorization", "NTLM " + Base64.encode(initiator.negotiate()))])
        #expect(challenge.status == 401)
        let type3 = try initiator.authenticate(challenge: try #require(challenge.ntlmChallenge))
        try await client.send(PassThroughTestClient.head(
            "POST", "/protected/upload", version: "HTTP/1.1",
            headers: [("Authorization", "NTLM " + Base64.encode(type3)), ("Expect", "100-continue")], bodyLength: body.count, forceLength: true))
        let interim = try await client.readResponse(stopAtInterim: true)
        #expect(interim.status == 100, "the client gets the origin's 100 Continue before it sends the body")
        try await client.send(body)
        let final = try await client.readResponse()
        #expect(final.status == 200, "\(final.text)")
        #expect(final.field("user") == Self.alice)
        #expect(final.field("sha256") == Self.sha256(body))
        #expect(!final.closes)
        #expect(stack.origin.snapshot.continues == 1)
        let after = try await client.request()
        #expect(after.field("user") == Self.alice)
        await stack.stop()
    }

    @Test func expectContinueOnALegAnswered401ClosesTheClientConnection() async throws {
        let stack = try await Self.start()
        let client = try await stack.connect()
        var initiator = NTLMInitiator(credentials: NTLMCredentials(user: "alice", domain: FakeNTLMOrigin.domain, password: "Alice-Pass1"))
        try await client.send(PassThroughTestClient.head(
            "POST", "/protected/upload", version: "HTTP/1.1",
            headers: [("Authorization", "NTLM " + Base64.encode(initiator.negotiate())), ("Expect", "100-continue")], bodyLength: 50_000, forceLength: true))
        let first = try await client.readResponse(stopAtInterim: true)
        if first.status == 100 {
            // Only when the origin's 401 took longer than the proxy's own expect-continue wait
            // (1 s, like curl's; seen once in a loaded parallel run): the proxy then proceeds as
            // a client would, and the body is wanted after all. A client sends it now.
            try await client.send(Self.randomBytes(50_000))
            let response = try await client.readResponse()
            #expect(response.status == 401)
        } else {
            #expect(first.status == 401)
            #expect(first.interim.isEmpty, "no 100 Continue for a leg the origin refused")
            #expect(first.closes, "the unsent body leaves the connection unusable: Connection: close")
            #expect(await client.isClosedByPeer())
        }
        #expect(stack.origin.snapshot.continues == 0)
        await stack.stop()
    }

    // MARK: Limits

    @Test func maxPinsRefusesWithA503AndReleasesThePinWhenItsClientLeaves() async throws {
        let stack = try await Self.start { $0.pins.maxPins = 1 }
        let first = try await stack.connect()
        let login = try await first.login("alice")
        #expect(login.final.status == 200)

        let second = try await stack.connect()
        let refused = try await second.request()
        #expect(refused.status == 503)
        #expect(refused.header("retry-after") != nil)
        #expect(refused.closes)
        #expect(await second.isClosedByPeer())

        let still = try await first.request()
        #expect(still.field("user") == Self.alice, "the pinned client keeps working")

        first.close()
        // The first client that is not refused holds the released pin: it logs in on it.
        var status = 503
        var third: PassThroughTestClient? = nil
        for _ in 0..<400 where status == 503 {
            let next = try await stack.connect()
            status = try await next.request().status
            if status == 503 {
                try await Task.sleep(for: .milliseconds(25))
            } else {
                third = next
            }
        }
        #expect(status == 401, "the pin was released when its client connection closed")
        let holder = try #require(third)
        let again = try await holder.login("bob")
        #expect(again.final.field("user") == Self.bob)
        #expect(again.final.field("conn") != login.final.field("conn"))
        await stack.stop()
    }

    @Test func maxRequestsClosesAfterTheResponseButNeverMidHandshake() async throws {
        let stack = try await Self.start { $0.pins.maxRequests = 3 }
        let client = try await stack.connect()
        let login = try await client.login("alice")
        #expect(!login.challenge.closes)
        #expect(login.final.status == 200)
        #expect(!login.final.closes)
        let third = try await client.request()
        #expect(third.status == 200)
        #expect(third.field("user") == Self.alice)
        #expect(third.closes, "the third request's response closes the pin")
        #expect(await client.isClosedByPeer())
        await stack.stop()

        let strict = try await Self.start { $0.pins.maxRequests = 1 }
        let browser = try await strict.connect()
        let handshake = try await browser.login("alice")
        #expect(handshake.challenge.status == 401)
        #expect(!handshake.challenge.closes, "a 401 answering a Type 1 never ends the pin")
        #expect(handshake.final.status == 200)
        #expect(handshake.final.field("user") == Self.alice)
        #expect(handshake.final.closes)
        #expect(await browser.isClosedByPeer())
        await strict.stop()
    }

    @Test func maxLifetimeClosesAfterTheNextResponse() async throws {
        let lifetime = Duration.milliseconds(1500)
        let stack = try await Self.start { $0.pins.maxLifetime = lifetime }
        let client = try await stack.connect()
        let started = ContinuousClock.now
        let login = try await client.login("alice")
        #expect(!login.challenge.closes, "a 401 answering a Type 1 never ends the pin")
        #expect(login.final.status == 200)
        if login.final.closes {
            // Only possible on a machine so slow that the handshake outlived the pin (the pin
            // opened after `started`).
            #expect(ContinuousClock.now - started >= lifetime)
        } else {
            try await Task.sleep(for: lifetime + .milliseconds(100))
            let next = try await client.request()
            #expect(next.status == 200)
            #expect(next.closes, "the pin outlived max-lifetime")
        }
        #expect(await client.isClosedByPeer())
        await stack.stop()
    }

    // MARK: 401s for old clients

    @Test func challengesArePaddedAndKeepTheConnection() async throws {
        let stack = try await Self.start { $0.pad401To = 1500 }
        let client = try await stack.connect()
        let bare = try await client.request()
        #expect(bare.status == 401)
        #expect(bare.body.count >= 1500)
        #expect(bare.header("content-length") == "\(bare.body.count)")
        #expect(!bare.closes)
        let login = try await client.login("alice")
        #expect(login.challenge.body.count >= 1500)
        #expect(login.challenge.header("content-length") == "\(login.challenge.body.count)")
        #expect(login.challenge.headers("www-authenticate").contains { $0.hasPrefix("NTLM ") })
        #expect(!login.challenge.closes)
        #expect(login.final.field("user") == Self.alice)
        #expect(stack.origin.snapshot.connections == 1, "the whole handshake ran on one connection")
        await stack.stop()
    }

    @Test func http10ClientsKeepTheConnectionOn401() async throws {
        let stack = try await Self.start()
        let client = try await stack.connect()
        let login = try await client.login("alice", version: "HTTP/1.0", headers: [("Connection", "keep-alive")])
        #expect(login.challenge.status == 401)
        #expect(login.challenge.header("connection")?.lowercased() == "keep-alive")
        #expect(login.challenge.header("content-length") == "\(login.challenge.body.count)")
        #expect(login.final.status == 200)
        #expect(login.final.field("user") == Self.alice)
        await stack.stop()
    }

    /// Raw NTLMSSP under `Negotiate` (what some clients send) is relayed and pinned the same
    /// way, and the user is read from it for the log.
    @Test func negotiateCarryingNTLMIsRelayedAndPinned() async throws {
        let stack = try await Self.start()
        let client = try await stack.connect()
        let login = try await client.login("bob", scheme: "Negotiate")
        #expect(login.challenge.headers("www-authenticate").contains { $0.hasPrefix("Negotiate ") })
        #expect(login.final.status == 200)
        #expect(login.final.field("user") == Self.bob)
        let conn = login.final.field("conn")
        let next = try await client.request()
        #expect(next.field("user") == Self.bob)
        #expect(next.field("conn") == conn)
        client.close()
        let closed = await stack.waitForLog { $0.contains("pin closed") }
        #expect(closed?.contains(#"user=NTLMTEST\bob"#) == true, "\(closed ?? "no pin closed line")")
        await stack.stop()
    }

    // MARK: Logs

    @Test func pinsAreLoggedWithTheUserAndNoSecrets() async throws {
        let stack = try await Self.start()
        let client = try await stack.connect()
        let login = try await client.login("alice")
        #expect(login.final.status == 200)
        _ = try await client.request()
        let clientAddress = "127.0.0.1:\(client.localPort)"
        client.close()
        let closed = try #require(await stack.waitForLog { $0.contains("pin closed") })
        let created = try #require(stack.logLines.first { $0.contains("pin created") })
        let pin = try #require(created.split(separator: " ").first { $0.hasPrefix("pin=") })
        #expect(created.contains("client=\(clientAddress)"), "\(created)")
        #expect(closed.contains(String(pin)), "\(closed)")
        #expect(closed.contains("client=\(clientAddress)"), "\(closed)")
        #expect(closed.contains(#"user=NTLMTEST\alice"#), "\(closed)")

        let type2 = "NTLM " + Base64.encode(try #require(login.challenge.ntlmChallenge))
        for line in stack.logLines {
            for secret in ["Alice-Pass1", "TlRMTVNT", login.type1, login.type3, type2, String(login.type3.dropFirst(5).prefix(40))] {
                #expect(!line.contains(secret), "a log line shows a token or password: \(line)")
            }
            #expect(!line.lowercased().contains("authorization: "), "\(line)")
            #expect(!line.lowercased().contains("www-authenticate: "), "\(line)")
        }
        await stack.stop()
    }
}
