import NTLMTestSupport
import Foundation
import Testing

/// Forward mode's other client-facing options against the real squid NTLM parent: the
/// client's own Basic turned into NTLM upstream, the client's own NTLM relayed over a pinned
/// parent connection (curl's --proxy-ntlm, which nobody on the team wrote), SOCKS5 and static
/// tunnels through the parent's CONNECT, and `ntlmproxy probe`.
@Suite("Interop: forward client auth, SOCKS5, tunnels, probe", .serialized)
struct ForwardClientAuthTests {
    @Test func clientBasicBecomesNTLMAtTheParent() async throws {
        let squid = try await ForwardFixtures.shared.parent(.squid)
        try await ForwardCLI.start(parents: [squid.authority], user: nil, password: nil, extra: ["--client-auth", "basic"]).use { proxy in
            let denied = try await ProxyCurl.run(proxy: proxy.proxyURL, [squid.origin + "whoami"], timeout: 20)
            #expect(denied.status == 407, "\(denied)")
            for n in 0..<3 {
                let response = try await ProxyCurl.run(proxy: proxy.proxyURL, ["--proxy-basic", "-U", "\(Users.alice):\(Users.alicePassword)", squid.origin + "whoami?n=\(n)"], timeout: 20)
                #expect(response.status == 200, "\(response)")
            }
            let wrong = try await ProxyCurl.run(proxy: proxy.proxyURL, ["--proxy-basic", "-U", "\(Users.alice):not-the-password", squid.origin + "whoami"], timeout: 20)
            #expect(wrong.status == 407, "\(wrong)")
            #expect(wrong.body.contains("rejected"), "\(wrong)")
        }
    }

    @Test func clientNTLMIsRelayedOverAPinnedConnection() async throws {
        let squid = try await ForwardFixtures.shared.parent(.squid)
        let tls = try await ForwardFixtures.shared.tlsOrigin()
        try await ForwardCLI.start(parents: [squid.authority], user: nil, password: nil, extra: ["--client-auth", "relay"]).use { proxy in
            let response = try await ProxyCurl.run(proxy: proxy.proxyURL, ["--proxy-ntlm", "-U", "\(Users.alice):\(Users.alicePassword)", squid.origin + "whoami", squid.origin + "whoami?second"], timeout: 20)
            #expect(response.status == 200, "\(response)")
            let tunnel = try await ProxyCurl.run(proxy: proxy.proxyURL, ["--proxy-ntlm", "-U", "\(Users.alice):\(Users.alicePassword)", "--cacert", tls.caFile, tls.url + "whoami"], timeout: 20)
            #expect(tunnel.status == 200, "\(tunnel)")
            let wrong = try await ProxyCurl.run(proxy: proxy.proxyURL, ["--proxy-ntlm", "-U", "\(Users.alice):wrong", squid.origin + "whoami"], timeout: 20)
            #expect(wrong.status == 407, "\(wrong)")
        }
    }

    /// An IPv6 listener (`--listen [::1]:PORT`), served to curl over IPv6, with an access
    /// list that names the IPv6 loopback explicitly.
    @Test func ipv6ListenerWithIPv6AccessRules() async throws {
        let squid = try await ForwardFixtures.shared.parent(.squid)
        try Interop.needBinary()
        let port = try freePort()
        let process = try BackgroundProcess(
            [Interop.binary, "forward", "--listen", "[::1]:\(port)", "--parent", squid.authority, "--user", Users.alice,
             "--allow", "::1/128", "--log-level", "info"],
            name: "forward-v6", environment: ["NTLMPROXY_PASSWORD": Users.alicePassword])
        let ready = await process.waitForLog(timeout: 30) { $0.contains("listening on http://[::1]:\(port)") }
        defer { Task { await process.stop() } }
        #expect(ready, "\(process.log)")
        let response = try await ProxyCurl.run(proxy: "http://[::1]:\(port)", [squid.origin + "whoami?v6"], timeout: 20)
        #expect(response.status == 200, "\(response)\n\(process.log)")
        #expect(response.json["path"].string == "/whoami?v6")
    }

    @Test func socks5AndStaticTunnelGoThroughTheParent() async throws {
        let squid = try await ForwardFixtures.shared.parent(.squid)
        let socksPort = try freePort()
        let tunnelPort = try freePort()
        let logons0 = try await squid.handshakes()
        try await ForwardCLI.start(parents: [squid.authority], extra: [
            "--socks5", "127.0.0.1:\(socksPort)", "--tunnel", "127.0.0.1:\(tunnelPort):127.0.0.1:\(squid.originPort)",
        ]).use { proxy in
            #expect(await proxy.process.waitForLog(timeout: 20) { $0.contains(":\(tunnelPort) (tunnel)") })
            let viaSocks = try await ProxyCurl.run(proxy: "socks5h://127.0.0.1:\(socksPort)", [squid.origin + "whoami?socks"], timeout: 20)
            #expect(viaSocks.status == 200, "\(viaSocks)")
            #expect(viaSocks.json["path"].string == "/whoami?socks")
            let viaTunnel = try await Curl.run(["http://127.0.0.1:\(tunnelPort)/whoami?tunnel"], timeout: 20)
            #expect(viaTunnel.status == 200, "\(viaTunnel)")
            #expect(viaTunnel.json["path"].string == "/whoami?tunnel")
        }
        #expect(try await squid.handshakes() > logons0, "the tunnels went through the NTLM parent")
    }
}

/// `ntlmproxy probe` through real parents. In the counting suite (serialized, parents of its
/// own) because it asserts on failed-logon counters.
extension ForwardCountingTests {
    @Test(arguments: ParentKind.allCases)
    func probeFindsWhatTheParentAccepts(parent kind: ParentKind) async throws {
        let parent = try await ForwardFixtures.shared.countingParent(kind)
        try Interop.needBinary()
        let failed0 = try await parent.failedLogons()
        let result = try await Subprocess.run(
            [Interop.binary, "probe", parent.origin + "whoami", "--parent", parent.authority, "--user", Users.alice],
            environment: ["NTLMPROXY_PASSWORD": Users.alicePassword], timeout: 60)
        let output = result.stdout + result.stderr
        #expect(result.status == 0, "\(output)")
        #expect(output.contains("NTLM"), "\(output)")
        #expect(try await parent.failedLogons() == failed0, "a right password costs no failed logon")

        let wrong = try await Subprocess.run(
            [Interop.binary, "probe", parent.origin + "whoami", "--parent", parent.authority, "--user", Users.alice],
            environment: ["NTLMPROXY_PASSWORD": "wrong-password"], timeout: 60)
        #expect(wrong.status != 0, "\(wrong.stdout)\(wrong.stderr)")
        #expect(try await parent.failedLogons() - failed0 <= 1, "the probe stops at the first rejection")
    }
}
