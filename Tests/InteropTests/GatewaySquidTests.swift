import NTLMTestSupport
import Foundation
import Testing

/// B: gateway mode against squid as an NTLM origin (accel port, `WWW-Authenticate: NTLM`
/// only, verified by Samba's ntlm_auth through a private winbindd).
@Suite("Interop: gateway → squid accel origin (Samba ntlm_auth)")
struct GatewaySquidTests {
    @Test func getWhoAmI() async throws {
        let squid = try await Fixtures.shared.squid()
        try await InProcessProxy.gateway(backend: squid.accel).use { gateway in
            let connection = try await RawHTTPConnection.connect(port: gateway.port)
            // A client's own identity header must not survive either (squid replaces it).
            let response = try await connection.request("GET", "/whoami", headers: [("X-Remote-User", "NTLMTEST\\mallory")])
            #expect(response.status == 200, "\(response.text)")
            // squid adds X-Remote-User from the NTLM logon (%ul).
            #expect(JSON(parsing: response.body)["user"].string == Users.alice)
            let again = try await connection.request("GET", "/whoami")
            #expect(again.status == 200)
            #expect(JSON(parsing: again.body)["user"].string == Users.alice)
        }
    }

    /// squid stops reading a body on a leg it answers 401 and then hangs the connection
    /// (docs/interop.md): the gateway's legs must carry no body, the body goes once.
    @Test func post5MB() async throws {
        let squid = try await Fixtures.shared.squid()
        let body = Bodies.deterministic(5_000_000)
        try await InProcessProxy.gateway(backend: squid.accel).use { gateway in
            let connection = try await RawHTTPConnection.connect(port: gateway.port, timeoutSeconds: 60)
            let response = try await connection.request("POST", "/echo", headers: [("Content-Type", "application/octet-stream")], body: body)
            #expect(response.status == 200, "\(response.text)")
            let json = JSON(parsing: response.body)
            #expect(json["sha256"].string == Bodies.sha256(body))
            #expect(json["length"].int == body.count)
            #expect(json["user"].string == Users.alice)
        }
    }
}
