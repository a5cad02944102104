import NTLMTestSupport
import Foundation
import Testing

/// Gateway mode run as the CLI binary in front of Apache + mod_auth_gssapi accepting Kerberos
/// only (scripts/interop/apache-kerberos, tickets from the private MIT KDC of
/// scripts/interop/kdc): every request needs a fresh ticket authenticator (the origin is not
/// connection-bound and refuses replays), whichever source the tickets come from.
@Suite("Interop: Kerberos gateway CLI → Apache (mod_auth_gssapi, MIT KDC)")
struct KerberosGatewayTests {
    /// `ntlmproxy gateway --backend BACKEND --user NTLMTEST\alice FLAGS --log-level info`.
    static func gateway(backend: String, _ kerberos: KerberosCLI, extra: [String] = []) async throws -> CLIProcess {
        try Interop.needBinary()
        return try await CLIProcess.start(
            ["gateway", "--backend", backend, "--user", Users.alice] + kerberos.arguments + extra + ["--log-level", "info"],
            environment: kerberos.environment, name: "kerberos-gateway")
    }

    /// A password, a client keytab, the default ticket cache (`KRB5CCNAME`) and a named one:
    /// three requests on one client connection, each authenticated as alice's principal.
    @Test(arguments: KerberosSource.allCases)
    func everyRequestAuthenticatesWithTicketsFromTheSource(source: KerberosSource) async throws {
        let site = try await Fixtures.shared.kerberos()
        let kerberos = try await source.cli(site.kdc)
        defer { kerberos.cleanup() }
        try await Self.gateway(backend: site.origin, kerberos).use { gateway in
            let connection = try await RawHTTPConnection.connect(port: gateway.port)
            defer { connection.close() }
            for n in 1...3 {
                let response = try await connection.request("GET", "/whoami?source=\(source)&n=\(n)")
                #expect(response.status == 200, "\(response.text)\n\(gateway.process.log)")
                let json = JSON(parsing: response.body)
                #expect(json["user"].string == Users.alicePrincipal, "\(json)")
                #expect(json["path"].string == "/whoami?source=\(source)&n=\(n)")
                // Each request went with a token of its own: the origin takes no other.
                #expect(json["authorization"].string == "Negotiate", "\(json)")
            }
            #expect(!gateway.process.log.contains(Users.alicePassword))
        }
        // The origin accepted a Kerberos AP-REQ on each of the three (none was a replay).
        let request = "\"GET /whoami?source=\(source)&n=", user = "user=\"\(Users.alicePrincipal)\""
        let accepted = await site.accessLogLines(count: 3) {
            $0.contains(" fx=origin ") && $0.contains(request) && $0.contains("tok=krb mech=Negotiate/krb5") && $0.contains(user) && $0.contains("status=200")
        }
        #expect(accepted.count == 3, "\(accepted)")
    }

    /// The backend URL's host names the service: `HTTP/127.0.0.1` or `HTTP/localhost` (both
    /// in Apache's keytab), the KDC issuing a ticket for that one.
    @Test(arguments: ["127.0.0.1", "localhost"])
    func backendHostNamesTheServicePrincipal(host: String) async throws {
        let site = try await Fixtures.shared.kerberos()
        let kerberos = try await KerberosSource.password.cli(site.kdc)
        let tickets0 = try await site.kdc.tgsRequests("HTTP/\(host)")
        try await Self.gateway(backend: site.origin(host: host), kerberos).use { gateway in
            let connection = try await RawHTTPConnection.connect(port: gateway.port)
            defer { connection.close() }
            for n in 1...2 {
                let response = try await connection.request("GET", "/whoami?host=\(host)&n=\(n)")
                #expect(response.status == 200, "\(response.text)\n\(gateway.process.log)")
                #expect(JSON(parsing: response.body)["user"].string == Users.alicePrincipal)
            }
        }
        #expect(try await site.kdc.tgsRequests("HTTP/\(host)") > tickets0, "no service ticket for HTTP/\(host) was issued")
    }

    /// A 3 MB POST from curl (with and without its own `Expect: 100-continue`) through a
    /// Kerberos leg: the body arrives whole at the echo backend behind the origin.
    @Test(arguments: [true, false])
    func post3MBThroughAKerberosLeg(clientSendsExpect: Bool) async throws {
        let site = try await Fixtures.shared.kerberos()
        let body = try BodyFile(count: 3_000_000)
        defer { body.remove() }
        let kerberos = try await KerberosSource.password.cli(site.kdc)
        try await Self.gateway(backend: site.origin, kerberos).use { gateway in
            var arguments = ["-v", "--data-binary", "@\(body.url.path)", "-H", "Content-Type: application/octet-stream"]
            if !clientSendsExpect { arguments += ["-H", "Expect:"] }
            let response = try await Curl.run(arguments + [gateway.url + "echo"])
            #expect(response.status == 200, "\(response)\n\(gateway.process.log)")
            // curl itself decides on Expect (bodies > 1 MiB): check it did what we asked.
            #expect(response.stderr.contains("> Expect: 100-continue") == clientSendsExpect, "\(response.stderr.prefix(2000))")
            let json = response.json
            #expect(json["sha256"].string == body.sha256, "\(json)")
            #expect(json["length"].int == body.count)
            #expect(json["user"].string == Users.alicePrincipal)
        }
    }

    /// `ntlmproxy probe` against the Kerberos-only origin with `--auth auto` and a password:
    /// it tries Negotiate with Kerberos and says that it works.
    @Test func probeFindsThatNegotiateWithKerberosWorks() async throws {
        let site = try await Fixtures.shared.kerberos()
        try Interop.needBinary()
        var environment = site.kdc.environment
        environment["NTLMPROXY_PASSWORD"] = Users.alicePassword
        let result = try await Subprocess.run(
            [Interop.binary, "probe", site.origin, "--user", Users.alice, "--auth", "auto"], environment: environment, timeout: 60)
        let output = result.stdout + result.stderr
        #expect(result.status == 0, "\(output)")
        #expect(output.contains("Negotiate with Kerberos -> accepted"), "\(output)")
        #expect(!output.contains(Users.alicePassword))
    }
}
