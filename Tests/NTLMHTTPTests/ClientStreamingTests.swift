import NIOCore
import NIOHTTP1
import NTLM
import Testing
@testable import NTLMHTTP

extension ClientTests {
    @Suite("streamed bodies")
    struct Streaming {
        static func upload(_ client: NTLMHTTPClient, _ server: ClientTestServer, _ body: PatternBody, expect: Bool = false, credential: HTTPCredential = ClientFixtures.alice) async throws -> (NTLMHTTPResponse, [String]) {
            var request = NTLMHTTPRequest(url: server.baseURL + "/upload", method: .POST, body: body.body)
            if expect { request.headers.add(name: "Expect", value: "100-continue") }
            let response = try await client.execute(request, credential: credential)
            let lines = try await ClientFixtures.text(response).split(separator: "\n").map(String.init)
            return (response, lines)
        }

        /// 5 MB streamed: once on the pooled authenticated connection, once on a new
        /// connection that authenticates first (Type 1 without body, body with Type 3).
        @Test(arguments: [true, false])
        func fiveMegabyteStreamIsSentOnce(pooled: Bool) async throws {
            try await ClientFixtures.withServer(configure: { $0.maximumIdleConnectionsPerKey = pooled ? 8 : 0 }) { server, client in
                let warmUp = try await client.execute(NTLMHTTPRequest(url: server.baseURL + "/whoami"), credential: ClientFixtures.alice)
                try await warmUp.body.drain()
                let body = PatternBody(total: 5_000_000)
                let (response, lines) = try await Self.upload(client, server, body)
                #expect(response.status == .ok)
                #expect(lines == ["CORP\\alice", body.sha256, "5000000"])
                let stats = server.snapshot
                #expect(stats.bodyBytes == 5_000_000)
                #expect(stats.bodyOnHandshakeLegs == 0)
                #expect(stats.connections == (pooled ? 1 : 2))
                #expect(stats.handshakes == (pooled ? 1 : 2))
                #expect(stats.offersSent == 1)
            }
        }

        @Test func smallStreamIsReplayedAfterAChallenge() async throws {
            try await ClientFixtures.withServer { server, client in
                let body = PatternBody(total: 300_000)
                let (response, lines) = try await Self.upload(client, server, body)
                #expect(response.status == .ok)
                #expect(lines == ["CORP\\alice", body.sha256, "300000"])
                // Once plain (answered 401), once again from the replay copy with the Type 3.
                #expect(server.snapshot.bodyBytes == 600_000)
                #expect(server.snapshot.bodyOnHandshakeLegs == 0)
            }
        }

        /// The first large stream to an unknown host asks with `Expect: 100-continue`, so the
        /// challenge comes before the body and the body is sent once.
        @Test func firstLargeStreamProbesWithExpect() async throws {
            try await ClientFixtures.withServer { server, client in
                let body = PatternBody(total: 5_000_000)
                let (response, lines) = try await Self.upload(client, server, body)
                #expect(response.status == .ok)
                #expect(lines == ["CORP\\alice", body.sha256, "5000000"])
                let stats = server.snapshot
                #expect(stats.bodyBytes == 5_000_000)
                #expect(stats.offersSent == 1)
                #expect(stats.expectOnHandshakeLegs == 0)
                #expect(stats.bodyOnHandshakeLegs == 0)
                // mod_auth_gssapi-like: the challenged Expect request's connection is closed.
                #expect(stats.connections == 2)
            }
        }

        /// A server that ignores `Expect` and challenges after taking the body: a stream
        /// beyond the replay buffer cannot be resent; the next request authenticates first.
        @Test func largeStreamChallengedAfterItWasSentIsNotReplayable() async throws {
            var options = ClientTestServer.Options()
            options.challengeAfterBody = true
            try await ClientFixtures.withServer(options, configure: { $0.expectContinueTimeout = .milliseconds(100) }) { server, client in
                let body = PatternBody(total: 3_000_000)
                await #expect(throws: NTLMHTTPClientError.bodyNotReplayable) {
                    _ = try await Self.upload(client, server, body)
                }
                #expect(server.snapshot.bodyBytes == 3_000_000)
                // The scheme is remembered: the next attempt authenticates before the body.
                let (response, lines) = try await Self.upload(client, server, body)
                #expect(response.status == .ok)
                #expect(lines == ["CORP\\alice", body.sha256, "3000000"])
                #expect(server.snapshot.bodyBytes == 6_000_000)
                #expect(server.snapshot.failedLogons == 0)
            }
        }

        @Test func bytesBodyIsResentAsNeeded() async throws {
            try await ClientFixtures.withServer { server, client in
                let request = NTLMHTTPRequest(url: server.baseURL + "/upload", method: .POST, body: .string("hello"))
                let response = try await client.execute(request, credential: ClientFixtures.alice)
                let lines = try await ClientFixtures.text(response).split(separator: "\n")
                #expect(lines.first == "CORP\\alice")
                #expect(lines.last == "5")
            }
        }

        /// `Expect: 100-continue` (mod_auth_gssapi closes a challenged Expect request): the
        /// handshake legs carry neither Expect nor body, the body goes once after 100.
        @Test func expectContinueWaitsForContinueOnTheLastLeg() async throws {
            try await ClientFixtures.withServer { server, client in
                let body = PatternBody(total: 2_000_000)
                let (response, lines) = try await Self.upload(client, server, body, expect: true)
                #expect(response.status == .ok)
                #expect(lines == ["CORP\\alice", body.sha256, "2000000"])
                let stats = server.snapshot
                #expect(stats.bodyBytes == 2_000_000)
                #expect(stats.expectOnHandshakeLegs == 0)
                #expect(stats.bodyOnHandshakeLegs == 0)
                #expect(stats.continuesSent == 1)
                #expect(stats.connections == 2)

                // Again, on the pooled authenticated connection.
                let (again, againLines) = try await Self.upload(client, server, body, expect: true)
                #expect(again.status == .ok)
                #expect(againLines == ["CORP\\alice", body.sha256, "2000000"])
                #expect(server.snapshot.continuesSent == 2)
                #expect(server.snapshot.connections == 2)
            }
        }

        @Test func hundredMebibyteDownloadStreamsWithBoundedMemory() async throws {
            try await ClientFixtures.withServer { server, client in
                // Warm up allocator, pool and code paths first.
                let warm = try await client.execute(NTLMHTTPRequest(url: server.baseURL + "/download?bytes=4000000"), credential: ClientFixtures.alice)
                #expect(try await warm.body.drain() == 4_000_000)

                let total = 100 * 1024 * 1024
                let baseline = ClientFixtures.residentBytes()
                let response = try await client.execute(NTLMHTTPRequest(url: server.baseURL + "/download?bytes=\(total)"), credential: ClientFixtures.alice)
                #expect(response.headers.first(name: "content-length") == String(total))
                var received = 0
                var chunks = 0
                var peak = baseline
                for try await chunk in response.body {
                    received += chunk.readableBytes
                    chunks += 1
                    if chunks % 32 == 0 { peak = max(peak, ClientFixtures.residentBytes()) }
                }
                peak = max(peak, ClientFixtures.residentBytes())
                #expect(received == total)
                let growth = peak - baseline
                #expect(growth < 30 * 1024 * 1024, "RSS grew by \(growth / 1024) KiB while streaming 100 MiB")
                #expect(server.snapshot.connections == 1)
            }
        }

        @Test func droppedBodyClosesTheConnection() async throws {
            try await ClientFixtures.withServer { server, client in
                do {
                    let response = try await client.execute(NTLMHTTPRequest(url: server.baseURL + "/download?bytes=20000000"), credential: ClientFixtures.alice)
                    var iterator = response.body.makeAsyncIterator()
                    _ = try await iterator.next()
                }
                #expect(await ClientFixtures.eventually { server.snapshot.closedConnections == 1 })
                let response = try await client.execute(NTLMHTTPRequest(url: server.baseURL + "/whoami"), credential: ClientFixtures.alice)
                #expect(try await ClientFixtures.text(response) == "CORP\\alice\n")
                #expect(server.snapshot.connections == 2)
            }
        }

        @Test func bodyCanBeIteratedOnlyOnce() async throws {
            try await ClientFixtures.withServer { server, client in
                let response = try await client.execute(NTLMHTTPRequest(url: server.baseURL + "/whoami"), credential: ClientFixtures.alice)
                _ = try await response.body.collect(upTo: 1024)
                await #expect(throws: NTLMHTTPClientError.responseBodyAlreadyConsumed) {
                    _ = try await response.body.collect(upTo: 1024)
                }
            }
        }
    }
}
