import NTLMTestSupport
import Foundation
import NTLMProxyCore
import Testing

/// Tests that compare Apache's logon counters before and after. They use an Apache instance
/// of their own (`Fixtures.countingApache()`, nobody else talks to it) and run one at a time,
/// so a difference is caused by the test alone.
@Suite("Interop: gateway logon counting at Apache", .serialized)
struct GatewayCountingTests {
    /// A5: a wrong password is sent once. The client gets Apache's 401, Apache logged exactly
    /// one failed logon, and the lockout guard answers 502 afterwards without trying again.
    @Test func wrongPasswordIsTriedOnceThenBlocked() async throws {
        let apache = try await Fixtures.shared.countingApache()
        let failed0 = try await apache.failedLogons()
        let handshakes0 = try await apache.handshakes()
        try await InProcessProxy.gateway(backend: apache.http, password: "Wrong-Pass9").use { gateway in
            let first = try await RawHTTPConnection.connect(port: gateway.port).request("GET", "/whoami")
            #expect(first.status == 401, "\(first.text)")
            #expect(try await apache.failedLogons() - failed0 == 1)
            for _ in 0..<5 {
                let again = try await RawHTTPConnection.connect(port: gateway.port).request("GET", "/whoami")
                #expect(again.status == 502, "\(again.text)")
                #expect(again.text.contains("rejected the configured credential"))
                #expect(!again.text.contains("Wrong-Pass9"))
            }
            #expect(try await apache.failedLogons() - failed0 == 1)
            #expect(try await apache.handshakes() - handshakes0 == 0)
        }
    }

    /// A6: 20 sequential requests — 10 on one client connection, 10 on fresh ones — cost one
    /// handshake at Apache: the gateway keeps and reuses its authenticated upstream connection.
    @Test func twentyRequestsOneHandshake() async throws {
        let apache = try await Fixtures.shared.countingApache()
        let handshakes0 = try await apache.handshakes()
        let failed0 = try await apache.failedLogons()
        let linesBefore = apache.accessLogLines().count
        try await InProcessProxy.gateway(backend: apache.http).use { gateway in
            let kept = try await RawHTTPConnection.connect(port: gateway.port)
            for i in 0..<20 {
                let connection = i < 10 ? kept : try await RawHTTPConnection.connect(port: gateway.port)
                let response = try await connection.request("GET", "/whoami?n=\(i)")
                #expect(response.status == 200, "request \(i): \(response.text)")
                #expect(JSON(parsing: response.body)["user"].string == Users.alice)
            }
        }
        #expect(try await apache.handshakes() - handshakes0 == 1)
        #expect(try await apache.failedLogons() - failed0 == 0)
        // Apache's view: every new line came over one TCP connection (conn = client port).
        let lines = apache.accessLogLines().dropFirst(linesBefore).filter { $0.contains("/whoami?n=") }
        #expect(lines.count == 21, "\(lines.joined(separator: "\n"))")   // Type 1 leg + 20 answered requests
        let connections = Set(lines.compactMap { line in line.split(separator: " ").first { $0.hasPrefix("conn=") } })
        #expect(connections.count == 1, "\(lines.joined(separator: "\n"))")
    }
}
