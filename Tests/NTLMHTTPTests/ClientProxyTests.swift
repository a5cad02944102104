import Foundation
import NIOCore
import NIOHTTP1
import NIOPosix
import NTLM
import Testing
@testable import NTLMHTTP

extension ClientTests {
    /// Requests through a parent proxy that answers 407 NTLM (the fake squid).
    @Suite("through a proxy")
    struct ThroughProxy {
        static let origin = "http://origin.example:8080"

        /// The lines of the fake proxy's page, as a dictionary.
        static func page(_ response: NTLMHTTPResponse) async throws -> [String: String] {
            var fields: [String: String] = [:]
            for line in try await ClientFixtures.text(response).split(separator: "\n") {
                let parts = line.split(separator: ":", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
                if parts.count == 2 { fields[parts[0]] = parts[1] }
            }
            return fields
        }

        @Test func getGoesInAbsoluteFormAndAuthenticatesOnce() async throws {
            try await FakeNTLMProxy.with { proxy, client in
                let first = try await client.execute(NTLMHTTPRequest(url: Self.origin + "/items?id=7"), credential: ClientFixtures.alice, via: proxy.server)
                #expect(first.status == .ok)
                #expect(first.authenticationScheme == .ntlm)
                let page = try await Self.page(first)
                #expect(page["user"] == #"CORP\alice"#)
                #expect(page["target"] == "http://origin.example:8080/items?id=7")
                #expect(page["host"] == "origin.example:8080")
                let second = try await client.execute(NTLMHTTPRequest(url: "https://secure.example/x"), credential: ClientFixtures.alice, via: proxy.server)
                #expect(second.authenticationScheme == nil)
                // https goes in absolute-form too: the proxy makes the TLS connection.
                #expect(try await Self.page(second)["target"] == "https://secure.example/x")

                let stats = proxy.snapshot
                #expect(stats.connections == 1)
                #expect(stats.type1s == 1)
                #expect(stats.type3s == 1)
                // Plain, Type 1, Type 3; then the second request with no Proxy-Authorization.
                #expect(stats.records.count == 4)
                #expect(stats.records.last?.field("proxy-authorization") == nil)
                #expect(stats.records.allSatisfy { $0.connection == 1 })
                #expect(client.idleConnectionCount(proxy: proxy.server, credential: ClientFixtures.alice) == 1)
            }
        }

        @Test func postInMemoryAndStreamedBodiesWithLegsWithoutBody() async throws {
            try await FakeNTLMProxy.with { proxy, client in
                let bytes = PatternBody(total: 200_000)
                let inMemory = try await client.execute(
                    NTLMHTTPRequest(url: Self.origin + "/upload", method: .POST, body: .bytes(PatternBody.pattern)),
                    credential: ClientFixtures.alice, via: proxy.server)
                #expect(try await Self.page(inMemory)["length"] == "65536")

                let streamed = try await client.execute(NTLMHTTPRequest(url: Self.origin + "/upload", method: .POST, body: bytes.body), credential: ClientFixtures.alice, via: proxy.server)
                let streamedPage = try await Self.page(streamed)
                #expect(streamedPage["sha256"] == bytes.sha256)
                #expect(streamedPage["length"] == "200000")

                let chunked = PatternBody(total: 150_000)
                let chunkedResponse = try await client.execute(
                    NTLMHTTPRequest(url: Self.origin + "/upload", method: .PUT, body: .stream(chunked, length: nil)),
                    credential: ClientFixtures.alice, via: proxy.server)
                #expect(try await Self.page(chunkedResponse)["sha256"] == chunked.sha256)

                let records = proxy.snapshot.records
                // The Type 1 leg carries no body and no Expect; the Type 3 leg carries it.
                let type1Legs = records.filter { ($0.field("proxy-authorization") ?? "").count > 0 && $0.bodyLength == 0 }
                #expect(!type1Legs.isEmpty)
                #expect(type1Legs.allSatisfy { $0.field("content-length") == "0" && $0.field("expect") == nil })
                #expect(proxy.snapshot.type1s == 1)
                #expect(proxy.snapshot.connections == 1)
            }
        }

        /// A new connection authenticates at once with the scheme the proxy asked for before:
        /// the body goes only with the Type 3.
        @Test func aNewConnectionToTheProxyAuthenticatesBeforeTheBody() async throws {
            try await FakeNTLMProxy.with(configure: { $0.maximumIdleConnectionsPerKey = 0 }) { proxy, client in
                let warmUp = try await client.execute(NTLMHTTPRequest(url: Self.origin + "/"), credential: ClientFixtures.alice, via: proxy.server)
                try await warmUp.body.drain()
                let body = PatternBody(total: 2_000_000)
                let response = try await client.execute(NTLMHTTPRequest(url: Self.origin + "/upload", method: .POST, body: body.body), credential: ClientFixtures.alice, via: proxy.server)
                #expect(try await Self.page(response)["sha256"] == body.sha256)
                let stats = proxy.snapshot
                #expect(stats.connections == 2)
                #expect(stats.offers == 1)
                #expect(stats.type1s == 2)
                #expect(stats.records.map(\.bodyLength).reduce(0, +) == 2_000_000)
            }
        }

        @Test func theOriginAuthorizationPassesUntouchedAndOursReplacesTheCallers() async throws {
            try await FakeNTLMProxy.with { proxy, client in
                var request = NTLMHTTPRequest(url: Self.origin + "/")
                request.headers.add(name: "Authorization", value: "Bearer for-the-origin")
                request.headers.add(name: "Proxy-Authorization", value: "Basic c3RhbGU=")
                let response = try await client.execute(request, credential: ClientFixtures.alice, via: proxy.server)
                let page = try await Self.page(response)
                #expect(page["authorization"] == "Bearer for-the-origin")
                #expect(page["user"] == #"CORP\alice"#)
                #expect(proxy.snapshot.records.allSatisfy { !($0.field("proxy-authorization") ?? "").hasPrefix("Basic") })
            }
        }

        /// A connection to proxy P is not a connection to origin P.
        @Test func proxyConnectionsArePooledApartFromDirectOnes() async throws {
            try await FakeNTLMProxy.with { proxy, client in
                let viaProxy = try await client.execute(NTLMHTTPRequest(url: Self.origin + "/"), credential: ClientFixtures.alice, via: proxy.server)
                try await viaProxy.body.drain()
                let direct = "http://127.0.0.1:\(proxy.port)"
                #expect(try client.idleConnectionCount(url: direct, credential: ClientFixtures.alice) == 0)
                #expect(client.idleConnectionCount(proxy: proxy.server, credential: ClientFixtures.alice) == 1)
                // Directly, the proxy's 407 is not an origin's 401: delivered as is, on a new
                // connection, in origin-form.
                let response = try await client.execute(NTLMHTTPRequest(url: direct + "/plain"), credential: ClientFixtures.alice)
                #expect(response.status == .proxyAuthenticationRequired)
                try await response.body.drain()
                #expect(proxy.snapshot.connections == 2)
                #expect(proxy.snapshot.records.last?.target == "/plain")
                #expect(PoolKey(endpoint: proxy.server.endpoint, credential: nil, proxy: proxy.server) != PoolKey(endpoint: proxy.server.endpoint, credential: nil))
            }
        }

        @Test func aRejectedCredentialIsDeliveredOnceAndTheConnectionClosed() async throws {
            try await FakeNTLMProxy.with { proxy, client in
                for attempt in 1...2 {
                    let response = try await client.execute(NTLMHTTPRequest(url: Self.origin + "/"), credential: ClientFixtures.aliceWrong, via: proxy.server)
                    #expect(response.status == .proxyAuthenticationRequired)
                    #expect(response.authenticationFailure == .rejected(scheme: .ntlm, user: #"CORP\alice"#))
                    let html = try await ClientFixtures.text(response)
                    #expect(html.contains("Cache Access Denied"))
                    #expect(proxy.snapshot.type3s == attempt)
                    #expect(proxy.snapshot.failedLogons == attempt)
                }
                #expect(client.idleConnectionCount(proxy: proxy.server, credential: ClientFixtures.aliceWrong) == 0)
                #expect(await ClientFixtures.eventually { proxy.snapshot.closedConnections == proxy.snapshot.connections })
            }
        }

        @Test func anUnreachableProxyIsAConnectFailure() async throws {
            let port = try await Self.closedPort()
            let client = NTLMHTTPClient()
            let error = await #expect(throws: NTLMHTTPClientError.self) {
                _ = try await client.execute(NTLMHTTPRequest(url: Self.origin + "/"), credential: ClientFixtures.alice, via: HTTPProxyServer(host: "127.0.0.1", port: port))
            }
            try await client.shutdown()
            guard case .connectFailed("127.0.0.1", port, _) = error else {
                Issue.record("expected connectFailed naming the proxy, got \(String(describing: error))")
                return
            }
        }

        /// `Connection: close` decides, whatever `Proxy-Connection` says.
        @Test func persistenceFollowsConnectionNotProxyConnection() async throws {
            var options = FakeNTLMProxy.Options()
            options.closeAfterEachResponse = true
            options.open = true
            try await FakeNTLMProxy.with(options) { proxy, client in
                for _ in 0..<2 {
                    let response = try await client.execute(NTLMHTTPRequest(url: Self.origin + "/"), via: proxy.server)
                    #expect(response.status == .ok)
                    try await response.body.drain()
                }
                #expect(proxy.snapshot.connections == 2)
                #expect(client.idleConnectionCount(proxy: proxy.server, credential: nil) == 0)
            }
        }

        /// Relay: the caller's own NTLM goes to the proxy as is, over a pinned connection.
        @Test func relayedProxyAuthorizationRidesAPinnedConnection() async throws {
            try await FakeNTLMProxy.with { proxy, client in
                let pin = ConnectionPin()
                var ntlm = NTLMAuthenticator(credentials: ClientFixtures.bob.ntlm!)
                var first = NTLMHTTPRequest(url: Self.origin + "/")
                first.headers.add(name: "Proxy-Authorization", value: try ntlm.initialAuthorization())
                let challenge = try await client.execute(first, via: proxy.server, pin: pin)
                #expect(challenge.status == .proxyAuthenticationRequired)
                #expect(challenge.authenticationFailure == nil)
                try await challenge.body.drain()
                #expect(pin.isHoldingConnection)
                let type2 = try #require(try AuthChallenge.parse(fieldValues: challenge.headers["Proxy-Authenticate"]).first { $0.hasScheme("NTLM") })
                let type3 = try #require(try ntlm.nextAuthorization(for: type2))

                var second = NTLMHTTPRequest(url: Self.origin + "/")
                second.headers.add(name: "Proxy-Authorization", value: type3)
                let answer = try await client.execute(second, via: proxy.server, pin: pin)
                #expect(try await Self.page(answer)["user"] == #"CORP\bob"#)
                let third = try await client.execute(NTLMHTTPRequest(url: Self.origin + "/again"), via: proxy.server, pin: pin)
                #expect(try await Self.page(third)["user"] == #"CORP\bob"#)

                let stats = proxy.snapshot
                #expect(stats.connections == 1)
                #expect(stats.successfulLogons == 1)
                // Never in the shared pool.
                #expect(client.idleConnectionCount(proxy: proxy.server, credential: nil) == 0)
                // Another request without the pin does not get bob's connection.
                let other = try await client.execute(NTLMHTTPRequest(url: Self.origin + "/"), via: proxy.server)
                #expect(other.status == .proxyAuthenticationRequired)
                try await other.body.drain()
                #expect(proxy.snapshot.connections == 2)
                pin.close()
                #expect(!pin.isHoldingConnection)
            }
        }

        /// Without a pin, a connection that carried the caller's own NTLM is never pooled.
        @Test func relayedNTLMWithoutAPinIsNotPooled() async throws {
            try await FakeNTLMProxy.with { proxy, client in
                var ntlm = NTLMAuthenticator(credentials: ClientFixtures.bob.ntlm!)
                var request = NTLMHTTPRequest(url: Self.origin + "/")
                request.headers.add(name: "Proxy-Authorization", value: try ntlm.initialAuthorization())
                let response = try await client.execute(request, via: proxy.server)
                #expect(response.status == .proxyAuthenticationRequired)
                try await response.body.drain()
                #expect(client.idleConnectionCount(proxy: proxy.server, credential: nil) == 0)
                #expect(await ClientFixtures.eventually { proxy.snapshot.closedConnections == 1 })
            }
        }

        /// A port nothing listens on (bound, then closed).
        static func closedPort() async throws -> Int {
            let channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton).bind(host: "127.0.0.1", port: 0).get()
            let port = channel.localAddress?.port ?? 1
            try await channel.close()
            return port
        }
    }
}
