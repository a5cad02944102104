import NTLMTestSupport
import Foundation
import Testing

/// A password credential's ticket is acquired again before it expires. The KDC hands out
/// 20-second tickets here (`ticket_lifetime = 20s` in the client's krb5.conf), so the renewal
/// point (a quarter of the lifetime early: 15 s) comes within the test: requests before it
/// use the first ticket, the first one after it gets a new one — one more AS exchange, no
/// failed request — and requests past the first ticket's end still succeed.
@Suite("Interop: Kerberos tickets renewed before they expire")
struct KerberosRenewalTests {
    @Test func aPasswordCredentialGetsANewTicketBeforeTheOldOneEnds() async throws {
        try Interop.needBinary()
        let site = try await Fixtures.shared.kerberos()
        let kdc = site.kdc
        // bob: no other test takes tickets for him with his right password.
        let shortLived = Subprocess.scratchFile("krb5-short-tickets.conf")
        let original = try String(contentsOfFile: kdc.krb5Config, encoding: .utf8)
        try original.replacingOccurrences(of: "[libdefaults]", with: "[libdefaults]\n    ticket_lifetime = 20s")
            .write(to: shortLived, atomically: true, encoding: .utf8)
        let environment = ["KRB5_CONFIG": shortLived.path, "NTLMPROXY_PASSWORD": "Bob-Pass2"]
        try await CLIProcess.start(
            ["gateway", "--backend", site.origin, "--user", "NTLMTEST\\bob", "--auth", "kerberos", "--log-level", "info"],
            environment: environment, name: "kerberos-renewal-gateway"
        ).use { gateway in
            let before = try await kdc.asRequests("bob")
            let connection = try await RawHTTPConnection.connect(port: gateway.port)
            defer { connection.close() }
            func get(_ n: Int) async throws {
                let response = try await connection.request("GET", "/whoami?n=\(n)")
                #expect(response.status == 200, "\(response.text)\n\(gateway.process.log)")
                #expect(JSON(parsing: response.body)["user"].string == Users.bobPrincipal, "\(response.text)")
            }
            try await get(1)
            #expect(try await kdc.asRequests("bob") == before + 1, "one ticket for the first request")
            try await Task.sleep(for: .seconds(5))
            try await get(2)
            #expect(try await kdc.asRequests("bob") == before + 1, "the first ticket still serves")
            // Past the renewal point (15 s after the first ticket).
            try await Task.sleep(for: .seconds(11))
            try await get(3)
            #expect(try await kdc.asRequests("bob") == before + 2, "a new ticket before the old one ended")
            // Past the first ticket's end (20 s): the new one serves.
            try await Task.sleep(for: .seconds(6))
            try await get(4)
            #expect(try await kdc.asRequests("bob") == before + 2)
        }
    }
}

/// Tickets that appear after start are used (Px #208): a gateway started before `kinit` first
/// answers that there is no ticket, and once the cache is filled (and the 15 s retry window
/// after a failure has passed) its requests go with Kerberos — no restart.
@Suite("Interop: a ticket cache filled after start")
struct KerberosLateTicketTests {
    @Test func aTicketCacheFilledAfterStartIsPickedUp() async throws {
        try Interop.needBinary()
        let site = try await Fixtures.shared.kerberos()
        let kdc = site.kdc
        let cache = TicketCache(path: Subprocess.scratchFile("late-ccache").path)
        cache.remove()
        defer { cache.remove() }
        let environment = kdc.environment.merging(["KRB5CCNAME": cache.name]) { $1 }
        try await CLIProcess.start(
            ["gateway", "--backend", site.origin, "--user", "NTLMTEST\\alice", "--auth", "kerberos", "--log-level", "info"],
            environment: environment, name: "kerberos-late-ticket-gateway"
        ).use { gateway in
            func get() async throws -> RawHTTPConnection.Response {
                let connection = try await RawHTTPConnection.connect(port: gateway.port)
                defer { connection.close() }
                return try await connection.request("GET", "/whoami")
            }
            let before = try await get()
            #expect(before.status == 502, "\(before.text)")
            #expect(before.text.contains("no Kerberos credential"), "\(before.text)")
            // kinit into the very cache the gateway was told about.
            let filled = try await kdc.kinit()
            try FileManager.default.copyItem(atPath: filled.path, toPath: cache.path)
            filled.remove()
            var last = before
            for _ in 0..<25 where last.status != 200 {
                try await Task.sleep(for: .seconds(1))
                last = try await get()
            }
            #expect(last.status == 200, "\(last.text)\n\(gateway.process.log)")
            #expect(JSON(parsing: last.body)["user"].string == Users.alicePrincipal, "\(last.text)")
        }
    }
}
