import NIOCore
import NIOHTTP1
import NTLM
import Testing
@testable import NTLMHTTP

extension ClientTests {
    /// ``ConnectionPin``: one client connection's upstream connection, never pooled.
    @Suite("connection pins")
    struct Pins {
        @Test func aPinKeepsItsConnectionOutOfThePool() async throws {
            try await ClientFixtures.withServer { server, client in
                let pin = ConnectionPin()
                for _ in 0..<3 {
                    let response = try await client.execute(NTLMHTTPRequest(url: server.baseURL + "/whoami"), credential: ClientFixtures.alice, pin: pin)
                    #expect(try await ClientFixtures.text(response) == "CORP\\alice\n")
                }
                #expect(server.snapshot.connections == 1)
                #expect(server.snapshot.handshakes == 1)
                #expect(pin.isHoldingConnection)
                #expect(try client.idleConnectionCount(url: server.baseURL, credential: ClientFixtures.alice) == 0)
                // A request without the pin cannot have it.
                let other = try await client.execute(NTLMHTTPRequest(url: server.baseURL + "/whoami"), credential: ClientFixtures.alice)
                try await other.body.drain()
                #expect(server.snapshot.connections == 2)
                pin.close()
                #expect(!pin.isHoldingConnection)
                #expect(await ClientFixtures.eventually { server.snapshot.closedConnections == 1 })
            }
        }

        /// Pass-through style: no proxy, no credential of ours; the caller's own Type 1, 2, 3
        /// stay on one connection.
        @Test func theCallersOwnHandshakeStaysOnThePinnedConnection() async throws {
            try await ClientFixtures.withServer { server, client in
                let pin = ConnectionPin()
                var ntlm = NTLMAuthenticator(credentials: ClientFixtures.bob.ntlm!)
                var first = NTLMHTTPRequest(url: server.baseURL + "/whoami")
                first.headers.add(name: "Authorization", value: try ntlm.initialAuthorization())
                let challenge = try await client.execute(first, pin: pin)
                #expect(challenge.status == .unauthorized)
                try await challenge.body.drain()
                let type2 = try #require(try AuthChallenge.parse(fieldValues: challenge.headers["WWW-Authenticate"]).first { $0.hasScheme("NTLM") })
                var second = NTLMHTTPRequest(url: server.baseURL + "/whoami")
                second.headers.add(name: "Authorization", value: try #require(try ntlm.nextAuthorization(for: type2)))
                let answer = try await client.execute(second, pin: pin)
                #expect(try await ClientFixtures.text(answer) == "CORP\\bob\n")
                // The connection stays authenticated for the pin's owner only.
                let again = try await client.execute(NTLMHTTPRequest(url: server.baseURL + "/whoami"), pin: pin)
                #expect(try await ClientFixtures.text(again) == "CORP\\bob\n")
                let stranger = try await client.execute(NTLMHTTPRequest(url: server.baseURL + "/whoami"))
                #expect(stranger.status == .unauthorized)
                try await stranger.body.drain()
                #expect(server.snapshot.usersPerConnection[1] == ["CORP\\bob"])
                #expect(server.snapshot.connections == 2)
            }
        }

        @Test func anotherUpstreamReplacesAndClosesThePinnedConnection() async throws {
            let second = try await ClientTestServer.start()
            try await ClientFixtures.withServer { server, client in
                let pin = ConnectionPin()
                let first = try await client.execute(NTLMHTTPRequest(url: server.baseURL + "/whoami"), credential: ClientFixtures.alice, pin: pin)
                try await first.body.drain()
                let held = try #require(pin.heldConnection)
                let other = try await client.execute(NTLMHTTPRequest(url: second.baseURL + "/whoami"), credential: ClientFixtures.alice, pin: pin)
                try await other.body.drain()
                #expect(pin.heldConnection !== held)
                #expect(await ClientFixtures.eventually { server.snapshot.closedConnections == 1 })
                #expect(pin.isHoldingConnection)
            }
            await second.shutdown()
        }

        @Test func aPooledConnectionTakenByAPinStaysPinned() async throws {
            try await ClientFixtures.withServer { server, client in
                let warmUp = try await client.execute(NTLMHTTPRequest(url: server.baseURL + "/whoami"), credential: ClientFixtures.alice)
                try await warmUp.body.drain()
                #expect(try client.idleConnectionCount(url: server.baseURL, credential: ClientFixtures.alice) == 1)
                let pin = ConnectionPin()
                let pinned = try await client.execute(NTLMHTTPRequest(url: server.baseURL + "/whoami"), credential: ClientFixtures.alice, pin: pin)
                try await pinned.body.drain()
                #expect(server.snapshot.connections == 1)
                #expect(try client.idleConnectionCount(url: server.baseURL, credential: ClientFixtures.alice) == 0)
                #expect(pin.isHoldingConnection)
            }
        }

        @Test func aDroppedPinClosesItsConnection() async throws {
            try await ClientFixtures.withServer { server, client in
                do {
                    let pin = ConnectionPin()
                    let response = try await client.execute(NTLMHTTPRequest(url: server.baseURL + "/whoami"), credential: ClientFixtures.alice, pin: pin)
                    try await response.body.drain()
                    #expect(pin.isHoldingConnection)
                }
                #expect(await ClientFixtures.eventually { server.snapshot.closedConnections == 1 })
            }
        }

        @Test func aResponseThatClosesLeavesThePinEmpty() async throws {
            try await ClientFixtures.withServer { server, client in
                let pin = ConnectionPin()
                let response = try await client.execute(NTLMHTTPRequest(url: server.baseURL + "/close"), credential: ClientFixtures.alice, pin: pin)
                try await response.body.drain()
                #expect(await ClientFixtures.eventually { !pin.isHoldingConnection && pin.heldConnection == nil })
                let next = try await client.execute(NTLMHTTPRequest(url: server.baseURL + "/whoami"), credential: ClientFixtures.alice, pin: pin)
                #expect(try await ClientFixtures.text(next) == "CORP\\alice\n")
                #expect(pin.isHoldingConnection)
            }
        }
    }
}
