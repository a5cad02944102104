import NIOCore
import NIOHTTP1
import NTLM
import Testing
@testable import NTLMHTTP

extension ClientTests {
    @Suite("authentication and pooling")
    struct Authentication {
        @Test func getEchoesTheAuthenticatedUser() async throws {
            try await ClientFixtures.withServer { server, client in
                let response = try await client.execute(NTLMHTTPRequest(url: server.baseURL + "/whoami"), credential: ClientFixtures.alice)
                #expect(response.status == .ok)
                #expect(response.authenticationScheme == .ntlm)
                #expect(response.authenticationFailure == nil)
                #expect(try await ClientFixtures.text(response) == "CORP\\alice\n")
                let stats = server.snapshot
                #expect(stats.handshakes == 1)
                #expect(stats.successfulLogons == 1)
                #expect(stats.failedLogons == 0)
                #expect(stats.bodyOnHandshakeLegs == 0)
            }
        }

        @Test func sequentialRequestsReuseTheAuthenticatedConnection() async throws {
            try await ClientFixtures.withServer { server, client in
                for _ in 0..<3 {
                    let response = try await client.execute(NTLMHTTPRequest(url: server.baseURL + "/whoami"), credential: ClientFixtures.alice)
                    #expect(response.status == .ok)
                    #expect(try await ClientFixtures.text(response) == "CORP\\alice\n")
                }
                let stats = server.snapshot
                #expect(stats.handshakes == 1)
                #expect(stats.connections == 1)
                // Plain first request, Type 1, Type 3; then two requests without Authorization.
                #expect(stats.requests == 5)
                #expect(stats.requestsWithAuthorization == 2)
                #expect(try client.idleConnectionCount(url: server.baseURL, credential: ClientFixtures.alice) == 1)
            }
        }

        @Test func twoCredentialsNeverShareAConnection() async throws {
            try await ClientFixtures.withServer { server, client in
                for credential in [ClientFixtures.alice, ClientFixtures.bob, ClientFixtures.alice, ClientFixtures.bob, ClientFixtures.alice] {
                    let response = try await client.execute(NTLMHTTPRequest(url: server.baseURL + "/whoami"), credential: credential)
                    #expect(response.status == .ok)
                    #expect(try await ClientFixtures.text(response) == "\(credential.qualifiedUser)\n")
                }
                let stats = server.snapshot
                #expect(stats.handshakes == 2)
                #expect(stats.connections == 2)
                #expect(stats.usersPerConnection.count == 2)
                #expect(stats.usersPerConnection.values.allSatisfy { $0.count == 1 })
                #expect(try client.idleConnectionCount(url: server.baseURL, credential: ClientFixtures.alice) == 1)
                #expect(try client.idleConnectionCount(url: server.baseURL, credential: ClientFixtures.bob) == 1)
                // A request without a credential gets neither: it is challenged.
                let anonymous = try await client.execute(NTLMHTTPRequest(url: server.baseURL + "/whoami"))
                #expect(anonymous.status == .unauthorized)
                try await anonymous.body.drain()
                #expect(server.snapshot.connections == 3)
            }
        }

        @Test func concurrentRequestsOfTwoUsersStayApart() async throws {
            try await ClientFixtures.withServer { server, client in
                try await withThrowingTaskGroup(of: Void.self) { group in
                    for index in 0..<12 {
                        let credential = index % 2 == 0 ? ClientFixtures.alice : ClientFixtures.bob
                        group.addTask {
                            let response = try await client.execute(NTLMHTTPRequest(url: server.baseURL + "/whoami"), credential: credential)
                            #expect(try await ClientFixtures.text(response) == "\(credential.qualifiedUser)\n")
                        }
                    }
                    try await group.waitForAll()
                }
                #expect(server.snapshot.usersPerConnection.values.allSatisfy { $0.count == 1 })
            }
        }

        @Test func theNextNewConnectionAuthenticatesPreemptively() async throws {
            try await ClientFixtures.withServer(configure: { $0.maximumIdleConnectionsPerKey = 0 }) { server, client in
                for _ in 0..<2 {
                    let response = try await client.execute(NTLMHTTPRequest(url: server.baseURL + "/whoami"), credential: ClientFixtures.alice)
                    #expect(try await ClientFixtures.text(response) == "CORP\\alice\n")
                }
                let stats = server.snapshot
                #expect(stats.connections == 2)
                #expect(stats.handshakes == 2)
                // Only the very first request was sent without credentials.
                #expect(stats.offersSent == 1)
            }
        }

        @Test func challengeWithConnectionCloseIsRetriedOnANewConnection() async throws {
            var options = ClientTestServer.Options()
            options.closeWithFirstType2s = 1
            try await ClientFixtures.withServer(options) { server, client in
                let response = try await client.execute(NTLMHTTPRequest(url: server.baseURL + "/whoami"), credential: ClientFixtures.alice)
                #expect(response.status == .ok)
                #expect(try await ClientFixtures.text(response) == "CORP\\alice\n")
                let stats = server.snapshot
                #expect(stats.connections == 2)
                #expect(stats.handshakes == 2)
                #expect(stats.failedLogons == 0)
            }
        }

        @Test func wrongPasswordIsTriedExactlyOncePerRequest() async throws {
            try await ClientFixtures.withServer { server, client in
                for attempt in 1...2 {
                    let response = try await client.execute(NTLMHTTPRequest(url: server.baseURL + "/whoami"), credential: ClientFixtures.aliceWrong)
                    #expect(response.status == .unauthorized)
                    #expect(response.authenticationFailure == .rejected(scheme: .ntlm, user: #"CORP\alice"#))
                    try await response.body.drain()
                    #expect(server.snapshot.failedLogons == attempt)
                    #expect(server.snapshot.handshakes == attempt)
                }
                // The rejected connections are closed, not pooled.
                #expect(try client.idleConnectionCount(url: server.baseURL, credential: ClientFixtures.aliceWrong) == 0)
                #expect(await ClientFixtures.eventually { server.snapshot.closedConnections == server.snapshot.connections })
            }
        }

        @Test func negotiateOnlyServerGetsNTLMInsideSPNEGO() async throws {
            var options = ClientTestServer.Options()
            options.scheme = .negotiateOnly
            try await ClientFixtures.withServer(options) { server, client in
                for _ in 0..<2 {
                    let response = try await client.execute(NTLMHTTPRequest(url: server.baseURL + "/whoami"), credential: ClientFixtures.bob)
                    #expect(response.status == .ok)
                    #expect(try await ClientFixtures.text(response) == "CORP\\bob\n")
                }
                #expect(server.snapshot.handshakes == 1)
                #expect(server.snapshot.connections == 1)
            }
        }

        @Test func negotiateIsReportedAsTheScheme() async throws {
            var options = ClientTestServer.Options()
            options.scheme = .negotiateOnly
            try await ClientFixtures.withServer(options) { server, client in
                let response = try await client.execute(NTLMHTTPRequest(url: server.baseURL + "/whoami"), credential: ClientFixtures.alice)
                #expect(response.authenticationScheme == .negotiate)
                try await response.body.drain()
            }
        }

        @Test func basicIsRefusedOverPlainHTTPByDefault() async throws {
            var options = ClientTestServer.Options()
            options.scheme = .basic
            try await ClientFixtures.withServer(options) { server, client in
                await #expect(throws: NTLMHTTPClientError.authentication(.noUsableScheme(offered: ["Basic"]))) {
                    _ = try await client.execute(NTLMHTTPRequest(url: server.baseURL + "/whoami"), credential: ClientFixtures.aliceBasic)
                }
                #expect(server.snapshot.requestsWithAuthorization == 0)
            }
        }

        @Test func responseWithConnectionCloseIsNotPooled() async throws {
            try await ClientFixtures.withServer { server, client in
                let first = try await client.execute(NTLMHTTPRequest(url: server.baseURL + "/close"), credential: ClientFixtures.alice)
                #expect(first.headers.first(name: "connection") == "close")
                #expect(try await ClientFixtures.text(first) == "CORP\\alice\n")
                #expect(try client.idleConnectionCount(url: server.baseURL, credential: ClientFixtures.alice) == 0)
                // A new connection, authenticated preemptively (the scheme is remembered).
                let second = try await client.execute(NTLMHTTPRequest(url: server.baseURL + "/whoami"), credential: ClientFixtures.alice)
                #expect(try await ClientFixtures.text(second) == "CORP\\alice\n")
                #expect(server.snapshot.connections == 2)
                #expect(server.snapshot.handshakes == 2)
                #expect(server.snapshot.offersSent == 1)
            }
        }

        /// The client authenticates to origins; a proxy's 407 is delivered as it is.
        @Test func proxyChallengeIsDeliveredAsIs() async throws {
            var options = ClientTestServer.Options()
            options.proxyAuthentication = true
            try await ClientFixtures.withServer(options) { server, client in
                let response = try await client.execute(NTLMHTTPRequest(url: server.baseURL + "/whoami"), credential: ClientFixtures.alice)
                #expect(response.status == .proxyAuthenticationRequired)
                #expect(response.headers["Proxy-Authenticate"] == ["Negotiate", "NTLM"])
                #expect(response.authenticationFailure == nil)
                try await response.body.drain()
                #expect(server.snapshot.requestsWithAuthorization == 0)
            }
        }

        @Test func requestWithoutCredentialIsSentAsIs() async throws {
            try await ClientFixtures.withServer { server, client in
                var request = NTLMHTTPRequest(url: server.baseURL + "/whoami")
                request.headers.add(name: "Authorization", value: "Bearer caller-supplied")
                let response = try await client.execute(request)
                #expect(response.status == .unauthorized)
                #expect(response.authenticationFailure == nil)
                #expect(response.headers["WWW-Authenticate"] == ["Negotiate", "NTLM"])
                try await response.body.drain()
            }
        }
    }
}
