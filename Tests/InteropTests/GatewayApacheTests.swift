import NTLMTestSupport
import Foundation
import NIOCore
import NIOHTTP1
import NTLM
import NTLMHTTP
import NTLMProxyCore
import Testing

/// Gateway mode and the library client against Apache + mod_auth_gssapi + gss-ntlmssp
/// (scripts/interop/apache-origin): an NTLM/Negotiate origin nobody on the team wrote.
@Suite("Interop: gateway and client → Apache (gss-ntlmssp)")
struct GatewayApacheTests {
    /// A1, raw NTLM (the gateway's default: preemptive NTLM, 40-byte Type 1).
    @Test func getWhoAmIWithRawNTLM() async throws {
        let apache = try await Fixtures.shared.apache()
        try await InProcessProxy.gateway(backend: apache.http).use { gateway in
            let connection = try await RawHTTPConnection.connect(port: gateway.port)
            let first = try await connection.request("GET", "/whoami", headers: [("Authorization", "Bearer not-for-the-backend")])
            #expect(first.status == 200, "\(first.text)")
            let json = JSON(parsing: first.body)
            #expect(json["user"].string == Users.alice)
            // The leg that reached the backend carried raw NTLM (mod_auth_gssapi forwards the
            // Authorization of the credential leg), and the client's own never did.
            #expect(json["authorization"].string == "NTLM")
            // The next request rides the authenticated upstream connection: no new leg.
            let second = try await connection.request("GET", "/whoami")
            #expect(second.status == 200)
            #expect(JSON(parsing: second.body)["user"].string == Users.alice)
            #expect(JSON(parsing: second.body)["authorization"].isNull)
        }
    }

    /// A1, Negotiate: a gateway whose client prefers Negotiate (SPNEGO wrapping NTLM).
    @Test func getWhoAmIWithNegotiate() async throws {
        let apache = try await Fixtures.shared.apache()
        var configuration = NTLMHTTPClient.Configuration()
        configuration.authentication.preference = [.negotiate, .ntlm]
        configuration.authentication.preemptiveScheme = .negotiate
        try await InProcessProxy.gateway(backend: apache.http, client: configuration).use { gateway in
            let connection = try await RawHTTPConnection.connect(port: gateway.port)
            let response = try await connection.request("GET", "/whoami")
            #expect(response.status == 200, "\(response.text)")
            let json = JSON(parsing: response.body)
            #expect(json["user"].string == Users.alice)
            #expect(json["authorization"].string == "Negotiate")
            let again = try await connection.request("GET", "/whoami")
            #expect(JSON(parsing: again.body)["user"].string == Users.alice)
            #expect(JSON(parsing: again.body)["authorization"].isNull)
        }
    }

    /// A1 through the library client alone, no preemptive scheme: it reads Apache's two
    /// challenges (Negotiate and NTLM) and picks by its preference.
    @Test(arguments: [[HTTPAuthScheme.ntlm, .negotiate], [.negotiate, .ntlm]])
    func libraryClientPicksTheSchemeByPreference(preference: [HTTPAuthScheme]) async throws {
        let apache = try await Fixtures.shared.apache()
        var configuration = NTLMHTTPClient.Configuration()
        configuration.authentication.preference = preference
        let client = NTLMHTTPClient(configuration: configuration)
        do {
            let credential = HTTPCredential(userName: Users.alice, password: Password(Users.alicePassword))
            let response = try await client.execute(NTLMHTTPRequest(url: apache.http + "whoami"), credential: credential, timeout: .seconds(30))
            let body = try await response.body.collect(upTo: 1 << 20)
            #expect(response.status == .ok)
            #expect(response.authenticationScheme == preference[0])
            let json = JSON(parsing: Array(buffer: body))
            #expect(json["user"].string == Users.alice)
            #expect(json["authorization"].string == preference[0].rawValue)
        } catch {
            try? await client.shutdown()
            throw error
        }
        try await client.shutdown()
    }

    /// A2: a 5 MB POST from curl through the gateway, with and without curl's own
    /// `Expect: 100-continue` (Apache breaks a handshake whose legs carry Expect; the gateway
    /// must run its legs without the body).
    @Test(arguments: [true, false])
    func post5MBThroughTheGateway(clientSendsExpect: Bool) async throws {
        let apache = try await Fixtures.shared.apache()
        try await Interop.needPeers()
        let body = Bodies.deterministic(5_000_000)
        let file = Subprocess.scratchFile("body-5mb")
        try Data(body).write(to: file)
        defer { try? FileManager.default.removeItem(at: file) }
        try await InProcessProxy.gateway(backend: apache.http).use { gateway in
            var arguments = ["-v", "--data-binary", "@\(file.path)", "-H", "Content-Type: application/octet-stream"]
            if !clientSendsExpect { arguments += ["-H", "Expect:"] }
            let response = try await Curl.run(arguments + [gateway.url + "echo"])
            #expect(response.status == 200, "\(response)")
            // curl itself decides on Expect (bodies > 1 MiB): check it did what we asked.
            #expect(response.stderr.contains("> Expect: 100-continue") == clientSendsExpect, "\(response.stderr.prefix(2000))")
            let json = response.json
            #expect(json["sha256"].string == Bodies.sha256(body))
            #expect(json["length"].int == body.count)
            #expect(json["user"].string == Users.alice)
        }
    }

    /// A4: HTTPS with certificate verification against the fixture's certificate and TLS
    /// channel bindings (tls-server-end-point) in the NTLMv2 response.
    @Test func httpsWithChannelBindingsThroughTheGateway() async throws {
        let apache = try await Fixtures.shared.apache()
        try await InProcessProxy.gateway(backend: apache.https, trustRoots: apache.certificate, channelBindings: true).use { gateway in
            let connection = try await RawHTTPConnection.connect(port: gateway.port)
            let response = try await connection.request("GET", "/whoami")
            #expect(response.status == 200, "\(response.text)")
            #expect(JSON(parsing: response.body)["user"].string == Users.alice)
            #expect(JSON(parsing: response.body)["authorization"].string == "NTLM")
        }
    }

    /// A4 with the library client on `https://localhost` (SNI and a DNS SAN), Negotiate.
    @Test func httpsLibraryClientWithChannelBindings() async throws {
        let apache = try await Fixtures.shared.apache()
        var configuration = NTLMHTTPClient.Configuration()
        configuration.useTrustRoots(pemFile: apache.certificate)
        configuration.channelBindings = true
        configuration.authentication.preference = [.negotiate, .ntlm]
        let client = NTLMHTTPClient(configuration: configuration)
        do {
            let credential = HTTPCredential(userName: Users.alice, password: Password(Users.alicePassword))
            let response = try await client.execute(NTLMHTTPRequest(url: "https://localhost:\(apache.httpsPort)/whoami"), credential: credential, timeout: .seconds(30))
            let body = try await response.body.collect(upTo: 1 << 20)
            #expect(response.status == .ok)
            #expect(response.authenticationScheme == .negotiate)
            #expect(JSON(parsing: Array(buffer: body))["user"].string == Users.alice)
        } catch {
            try? await client.shutdown()
            throw error
        }
        try await client.shutdown()
    }
}
