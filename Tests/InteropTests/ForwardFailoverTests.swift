import NTLMTestSupport
import Foundation
import Testing

/// Failover between parents (Px #250: one timeout marks a parent dead forever; cntlm never
/// moves on): the next parent is used when one cannot be reached, and nothing hangs. Every
/// request here is bounded by curl's own `--max-time`, so a hang is a failure, not a stall.
@Suite("Interop: forward failover between real parents")
struct ForwardFailoverTests {
    /// The first `--parent` is a closed port: requests (plain and CONNECT) succeed through the
    /// second, squid.
    @Test func firstParentDownSecondServes() async throws {
        let squid = try await ForwardFixtures.shared.parent(.squid)
        let tls = try await ForwardFixtures.shared.tlsOrigin()
        let closed = try freePort()   // nothing listens there: connection refused
        try await ForwardCLI.start(parents: ["127.0.0.1:\(closed)", squid.authority]).use { proxy in
            for n in 0..<5 {
                let response = try await ProxyCurl.run(proxy: proxy.proxyURL, [squid.origin + "whoami?n=\(n)"], timeout: 20)
                #expect(response.status == 200, "request \(n): \(response)")
                #expect(response.json["path"].string == "/whoami?n=\(n)")
            }
            let tunnel = try await ProxyCurl.run(proxy: proxy.proxyURL, ["--cacert", tls.caFile, tls.url + "whoami"], timeout: 20)
            #expect(tunnel.status == 200, "\(tunnel)")
            let python = try await ProxyRequests.run(proxy: proxy.proxyURL, url: squid.origin + "whoami", ["--count", "2"])
            #expect(python["statuses"].array.map(\.int) == [200, 200], "\(python)")
        }
    }

    /// The first parent (an Apache parent of this test's own) is killed during a run of
    /// requests: new requests move to the second (squid), on new client connections and on a
    /// client connection that stays open across the kill; none hangs.
    @Test func firstParentKilledDuringARun() async throws {
        let squid = try await ForwardFixtures.shared.parent(.squid)
        let apache = try await ForwardFixtures.shared.privateApacheParent()
        var stopped = false
        defer { if !stopped { Task { await apache.stop() } } }
        let first = ParentProxy(apache: apache)
        try await ForwardCLI.start(parents: [first.authority, squid.authority]).use { proxy in
            let kept = try await RawHTTPConnection.connect(port: proxy.port, timeoutSeconds: 30)
            let logons0 = try await first.handshakes()
            for n in 0..<5 {
                let response = try await ProxyCurl.run(proxy: proxy.proxyURL, [squid.origin + "whoami?before=\(n)"], timeout: 20)
                #expect(response.status == 200, "before \(n): \(response)")
            }
            let keptBefore = try await kept.request("GET", squid.origin + "whoami?kept=before")
            #expect(keptBefore.status == 200, "\(keptBefore.text)")
            // They went through the first parent.
            #expect(try await first.handshakes() - logons0 >= 1)

            await apache.stop()
            stopped = true

            for n in 0..<15 {
                let response = try await ProxyCurl.run(proxy: proxy.proxyURL, [squid.origin + "whoami?after=\(n)"], timeout: 20)
                #expect(response.status == 200, "after \(n): \(response)")
            }
            // The client connection that was open across the kill is still served (a closed
            // upstream is not the client's problem), or at worst closed cleanly: never a hang.
            do {
                let keptAfter = try await kept.request("GET", squid.origin + "whoami?kept=after")
                #expect(keptAfter.status == 200, "\(keptAfter.text)")
            } catch RawHTTPConnection.Failure.closed {
                let fresh = try await RawHTTPConnection.connect(port: proxy.port, timeoutSeconds: 30)
                let again = try await fresh.request("GET", squid.origin + "whoami?kept=fresh")
                #expect(again.status == 200, "\(again.text)")
            }
            let tls = try await ForwardFixtures.shared.tlsOrigin()
            let tunnel = try await ProxyCurl.run(proxy: proxy.proxyURL, ["--cacert", tls.caFile, tls.url + "whoami"], timeout: 20)
            #expect(tunnel.status == 200, "\(tunnel)")
        }
    }

    /// A parent that rejects the credential is not a failed parent: no failover to the next
    /// with the same credential (each try would be one more failed logon), the client gets
    /// the rejection page. (Issue 4: "failover ... not on a credential rejection".)
    @Test func credentialRejectionIsNoFailover() async throws {
        let apache = try await ForwardFixtures.shared.privateApacheParent()
        defer { Task { await apache.stop() } }
        let first = ParentProxy(apache: apache)
        // The second parent is another private Apache: its counter is this test's alone.
        let secondFixture = try await ForwardFixtures.shared.privateApacheParent()
        defer { Task { await secondFixture.stop() } }
        let second = ParentProxy(apache: secondFixture)
        let failedFirst0 = try await first.failedLogons()
        let failedSecond0 = try await second.failedLogons()
        try await ForwardCLI.start(parents: [first.authority, second.authority], password: "Wrong-Pass9").use { proxy in
            for n in 0..<3 {
                let response = try await ProxyCurl.run(proxy: proxy.proxyURL, [first.origin + "whoami?n=\(n)"], timeout: 20)
                #expect(response.status == 407 || response.status == 502, "\(response)")
            }
        }
        #expect(try await first.failedLogons() - failedFirst0 == 1)
        #expect(try await second.failedLogons() - failedSecond0 == 0)
    }
}
