import NTLMTestSupport
import Foundation
import Testing

/// When Kerberos cannot be had, and when the KDC refuses the credential, with the CLI binary:
///
/// - KDC down (a KDC + Apache pair of the test's own, its KDC stopped): `auth auto` with a
///   password falls back to NTLM where the origin offers it; `--auth kerberos` answers a 502
///   that says the KDC cannot be reached, and keeps serving.
/// - A wrong password (bob on the shared KDC; no other suite uses bob, and this suite runs
///   one test at a time): the KDC sees exactly one failed pre-authentication however many
///   requests follow (the lockout guard), and every client is told why.
@Suite("Interop: Kerberos failures (KDC down, wrong password) with the CLI", .serialized)
struct KerberosFallbackTests {
    static func gateway(backend: String, user: String = Users.alice, _ arguments: [String], environment: [String: String], logLevel: String = "info") async throws -> CLIProcess {
        try Interop.needBinary()
        return try await CLIProcess.start(
            ["gateway", "--backend", backend, "--user", user] + arguments + ["--log-level", logLevel],
            environment: environment, name: "kerberos-failure-gateway")
    }

    /// One request on a connection of its own (a 502 closes the connection).
    static func get(_ gateway: CLIProcess, _ path: String) async throws -> RawHTTPConnection.Response {
        let connection = try await RawHTTPConnection.connect(port: gateway.port)
        defer { connection.close() }
        return try await connection.request("GET", path)
    }

    @Test func kdcDownAutoFallsBackToNTLM() async throws {
        try await Fixtures.shared.privateKerberos().use { site in
            try await site.kdc.stop()
            #expect(await !site.kdc.isRunning())
            var environment = site.kdc.environment
            environment["NTLMPROXY_PASSWORD"] = Users.alicePassword
            // The default --auth auto; the password is fresh: no ticket of any kind exists.
            try await Self.gateway(backend: site.apache.both, [], environment: environment).use { gateway in
                let connection = try await RawHTTPConnection.connect(port: gateway.port)
                defer { connection.close() }
                for n in 1...2 {
                    let response = try await connection.request("GET", "/whoami?n=\(n)")
                    #expect(response.status == 200, "\(response.text)\n\(gateway.process.log)")
                    #expect(JSON(parsing: response.body)["user"].string == Users.alice, "\(response.text)")
                }
                let again = try await Self.get(gateway, "/whoami?again")
                #expect(again.status == 200, "\(again.text)\n\(gateway.process.log)")
                #expect(JSON(parsing: again.body)["user"].string == Users.alice, "\(again.text)")
            }
        }
    }

    /// `--auth kerberos` from a password, a keytab and a ticket cache holding only a TGT (made
    /// while the KDC still ran; the service ticket needs the KDC): 502, saying so, twice.
    @Test func kdcDownKerberosRequiredAnswers502SayingTheKDCCannotBeReached() async throws {
        try await Fixtures.shared.privateKerberos().use { site in
            var setups: [(KerberosSource, KerberosCLI)] = []
            for source in [KerberosSource.password, .keytab, .namedTicketCache] {
                setups.append((source, try await source.cli(site.kdc)))
            }
            defer { for (_, setup) in setups { setup.cleanup() } }
            try await site.kdc.stop()
            #expect(await !site.kdc.isRunning())
            for (source, kerberos) in setups {
                try await Self.gateway(backend: site.apache.both, kerberos.arguments, environment: kerberos.environment).use { gateway in
                    for n in 1...2 {
                        let response = try await Self.get(gateway, "/whoami?n=\(n)")
                        #expect(response.status == 502, "\(source): \(response.text)\n\(gateway.process.log)")
                        #expect(response.text.contains("KDC") && response.text.contains(Users.realm), "\(source): \(response.text)")
                    }
                    #expect(gateway.process.isRunning, "\(source)")
                }
            }
        }
    }

    /// A wrong password with `--auth kerberos`: the first request costs one failed
    /// pre-authentication at the KDC, the next ones none; each is a 502 saying that the KDC
    /// rejected the credential, never showing the password.
    @Test func gatewayWithAWrongPasswordCostsOneFailedPreauthentication() async throws {
        let site = try await Fixtures.shared.kerberos()
        let wrong = "Wrong-Pass9"
        let failed0 = try await site.kdc.failedPreauth("bob")
        var environment = site.kdc.environment
        environment["NTLMPROXY_PASSWORD"] = wrong
        try await Self.gateway(backend: site.origin, user: Users.bob, ["--auth", "kerberos"], environment: environment).use { gateway in
            let first = try await Self.get(gateway, "/whoami?n=0")
            #expect(first.status == 502, "\(first.text)\n\(gateway.process.log)")
            #expect(first.text.contains("KDC") && first.text.contains("rejected"), "\(first.text)")
            #expect(try await site.kdc.failedPreauth("bob") - failed0 == 1)

            var answers: [RawHTTPConnection.Response] = []
            for n in 1...5 { answers.append(try await Self.get(gateway, "/whoami?n=\(n)")) }
            let several = try await BrowserClients.curlMany([], urls: (6...9).map { gateway.url + "whoami?n=\($0)" })
            #expect(answers.map(\.status) == [502, 502, 502, 502, 502])
            #expect(several.statuses == [502, 502, 502, 502], "\(several.stderr)")
            for text in answers.map(\.text) + several.bodies {
                #expect(text.contains("KDC") && text.contains("rejected"), "\(text)")
                #expect(!text.contains(wrong))
            }
            #expect(gateway.process.isRunning)
            #expect(!gateway.process.log.contains(wrong))
        }
        #expect(try await site.kdc.failedPreauth("bob") - failed0 == 1, "the wrong password went to the KDC more than once")
    }

    /// The same through forward mode and the Kerberos parent.
    @Test func forwardWithAWrongPasswordCostsOneFailedPreauthentication() async throws {
        let site = try await Fixtures.shared.kerberos()
        let wrong = "Wrong-Pass9"
        let failed0 = try await site.kdc.failedPreauth("bob")
        try await ForwardCLI.start(
            parents: [site.parent], user: Users.bob, password: wrong, extra: ["--auth", "kerberos"], environment: site.kdc.environment,
            name: "kerberos-failure-forward"
        ).use { proxy in
            let first = try await ProxyCurl.run(proxy: proxy.proxyURL, [site.backend + "whoami?n=0"])
            #expect(first.status == 502 || first.status == 407, "\(first)\n\(proxy.process.log)")
            #expect(first.body.contains("KDC") && first.body.contains("rejected"), "\(first)")
            #expect(try await site.kdc.failedPreauth("bob") - failed0 == 1)

            let several = try await ProxyCurl.statuses(proxy: proxy.proxyURL, urls: (1...5).map { site.backend + "whoami?n=\($0)" })
            let tunnel = try await ProxyCurl.run(proxy: proxy.proxyURL, ["-p", site.backend + "whoami?tunnel"])
            #expect(several.statuses.count == 5 && several.statuses.allSatisfy { $0 == 502 || $0 == 407 }, "\(several.statuses)")
            for body in several.bodies {
                #expect(body.contains("KDC") && body.contains("rejected"), "\(body)")
                #expect(!body.contains(wrong))
            }
            #expect(tunnel.status != 200, "\(tunnel)")
            #expect(proxy.process.isRunning)
            #expect(!proxy.process.log.contains(wrong))
        }
        #expect(try await site.kdc.failedPreauth("bob") - failed0 == 1, "the wrong password went to the KDC more than once")
    }

    /// `--client-auth basic` and no credential of the proxy's own: each client's password gets
    /// that user's own Kerberos tickets for the Kerberos parent, for requests and CONNECT. A
    /// wrong password is a 407 asking again (naming the KDC's refusal), and costs one failed
    /// pre-authentication however often the client sends it. (Here, not in KerberosForwardTests:
    /// this suite is serialized, and bob's failed pre-authentications are counted.)
    @Test func clientBasicGetsTheClientsOwnKerberosTickets() async throws {
        let site = try await Fixtures.shared.kerberos()
        let wrong = "Wrong-Pass7"
        let failed0 = try await site.kdc.failedPreauth("bob")
        try await ForwardCLI.start(
            parents: [site.parent], user: nil, password: nil, extra: ["--client-auth", "basic"], environment: site.kdc.environment,
            name: "kerberos-client-basic"
        ).use { proxy in
            let denied = try await ProxyCurl.run(proxy: proxy.proxyURL, [site.backend + "whoami"])
            #expect(denied.status == 407, "\(denied)")
            // alice as `NTLMTEST\alice` and as her principal name (two client credentials, two
            // pools). bob only with a wrong password: KerberosRenewalTests counts his tickets.
            let users = [(Users.alice, Users.alicePassword, Users.alicePrincipal), (Users.alicePrincipal, Users.alicePassword, Users.alicePrincipal)]
            for (user, password, principal) in users {
                let login = ["--proxy-basic", "-U", "\(user):\(password)"]
                let response = try await ProxyCurl.run(proxy: proxy.proxyURL, login + [site.backend + "whoami?client-basic"])
                #expect(response.status == 200, "\(response)\n\(proxy.process.log)")
                #expect(response.json["x_remote_user"].string == principal, "\(response.body)")
                let tunnel = try await ProxyCurl.run(proxy: proxy.proxyURL, login + ["-p", site.backend + "whoami?client-basic-tunnel"])
                #expect(tunnel.status == 200, "\(tunnel)\n\(proxy.process.log)")
            }
            let wrongLogin = ["--proxy-basic", "-U", "\(Users.bob):\(wrong)"]
            for n in 1...3 {
                let refused = try await ProxyCurl.run(proxy: proxy.proxyURL, wrongLogin + [site.backend + "whoami?wrong=\(n)"])
                #expect(refused.status == 407, "\(refused)\n\(proxy.process.log)")
                #expect(refused.body.contains("KDC") && refused.body.contains("enter the right password"), "\(refused.body)")
                #expect(!refused.body.contains(wrong))
            }
            let refusedTunnel = try await ProxyCurl.run(proxy: proxy.proxyURL, wrongLogin + ["-p", site.backend + "whoami?wrong-tunnel"])
            #expect(refusedTunnel.status != 200, "\(refusedTunnel)")
            #expect(proxy.process.isRunning)
            for secret in [wrong, Users.alicePassword, Users.bobPassword] { #expect(!proxy.process.log.contains(secret)) }
        }
        let lines = await site.accessLogLines(count: 2) { $0.contains(" fx=parent ") && $0.contains("whoami?client-basic HTTP") && $0.contains("status=200") }
        #expect(lines.count == 2 && lines.allSatisfy { $0.contains("tok=krb") && $0.contains("user=\"\(Users.alicePrincipal)\"") }, "\(lines)")
        #expect(try await site.kdc.failedPreauth("bob") - failed0 == 1, "the wrong password went to the KDC more than once")

        // `--auth ntlm` reaches the clients' credentials: no ticket, and this Kerberos-only
        // parent answers the SPNEGO-wrapped NTLM with a SPNEGO reject (no acceptable
        // mechanism): a 502 saying so, not a wrong password.
        try await ForwardCLI.start(
            parents: [site.parent], user: nil, password: nil, extra: ["--client-auth", "basic", "--auth", "ntlm"], environment: site.kdc.environment,
            name: "kerberos-client-basic-ntlm"
        ).use { proxy in
            let refused = try await ProxyCurl.run(proxy: proxy.proxyURL, ["--proxy-basic", "-U", "\(Users.alice):\(Users.alicePassword)", site.backend + "whoami?client-ntlm"])
            #expect(refused.status == 502, "\(refused)\n\(proxy.process.log)")
            #expect(refused.body.contains("no acceptable SPNEGO mechanism"), "\(refused.body)")
        }
    }
}
