import NTLMTestSupport
import Foundation
import Testing

/// Forward mode run as the CLI binary through Apache as a Kerberos parent proxy
/// (scripts/interop/apache-kerberos: `407 Proxy-Authenticate: Negotiate`, Kerberos only, a
/// fresh token per request, CONNECT to loopback), tickets from each source.
@Suite("Interop: Kerberos forward CLI → Apache parent (mod_auth_gssapi, MIT KDC)")
struct KerberosForwardTests {
    static func forward(_ site: KerberosApacheFixture, _ kerberos: KerberosCLI) async throws -> ForwardCLI {
        try await ForwardCLI.start(
            parents: [site.parent], password: nil, extra: kerberos.arguments, environment: kerberos.environment, name: "kerberos-forward")
    }

    /// Plain requests (the parent tells the backend who authenticated: `X-Remote-User`) and a
    /// CONNECT tunnel (`curl -p`: the parent's CONNECT, then plain HTTP inside).
    @Test(arguments: KerberosSource.allCases)
    func requestsAndTunnelsGoThroughTheKerberosParent(source: KerberosSource) async throws {
        let site = try await Fixtures.shared.kerberos()
        let kerberos = try await source.cli(site.kdc)
        defer { kerberos.cleanup() }
        try await Self.forward(site, kerberos).use { proxy in
            let response = try await ProxyCurl.run(proxy: proxy.proxyURL, [site.backend + "whoami?source=\(source)"])
            #expect(response.status == 200, "\(response)\n\(proxy.process.log)")
            #expect(response.json["x_remote_user"].string == Users.alicePrincipal, "\(response.body)")
            #expect(response.json["path"].string == "/whoami?source=\(source)")

            // Three on one client connection: a fresh token each at the parent.
            let urls = (1...3).map { site.backend + "whoami?n=\($0)" }
            let several = try await ProxyCurl.statuses(proxy: proxy.proxyURL, urls: urls)
            #expect(several.statuses == [200, 200, 200], "\(several.stderr)\n\(proxy.process.log)")
            for body in several.bodies {
                #expect(JSON(parsing: body)["x_remote_user"].string == Users.alicePrincipal, "\(body)")
            }

            // CONNECT: the parent only lets authenticated tunnels through; inside, the backend
            // sees the client's request alone.
            let tunnel = try await ProxyCurl.run(proxy: proxy.proxyURL, ["-p", site.backend + "whoami?tunnel=\(source)"])
            #expect(tunnel.status == 200, "\(tunnel)\n\(proxy.process.log)")
            #expect(tunnel.json["path"].string == "/whoami?tunnel=\(source)", "\(tunnel.body)")
            #expect(tunnel.json["x_remote_user"].isNull)
            #expect(!proxy.process.log.contains(Users.alicePassword))
        }
        let connect = "\"CONNECT 127.0.0.1:\(site.backendPort) ", user = "user=\"\(Users.alicePrincipal)\""
        let connects = await site.accessLogLines {
            $0.contains(connect) && $0.contains("mech=Negotiate/krb5") && $0.contains(user) && $0.contains("status=200")
        }
        #expect(!connects.isEmpty, "the parent logged no Kerberos-authenticated CONNECT")
    }
}
