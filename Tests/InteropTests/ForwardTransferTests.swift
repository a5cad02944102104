import NTLMTestSupport
import Foundation
import Testing

/// Forward mode, the cntlm/Px replacement, run as the CLI binary between clients nobody on the
/// team wrote (curl, Python requests) and real NTLM parents: squid + Samba ntlm_auth, and
/// Apache mod_proxy + gss-ntlmssp (the strict acceptor cntlm needs a Flags hack for and Px
/// fails against). The clients send no credential: ntlmproxy authenticates for them.
@Suite("Interop: forward → NTLM parent (squid, Apache) → origin")
struct ForwardTransferTests {
    static let parents = ParentKind.allCases

    @Test(arguments: parents)
    func curlGetThreeOnOneConnection(parent kind: ParentKind) async throws {
        let parent = try await ForwardFixtures.shared.parent(kind)
        try await ForwardCLI.start(parents: [parent.authority]).use { proxy in
            let urls = (1...3).map { parent.origin + "whoami?n=\($0)" }
            let result = try await ProxyCurl.statuses(proxy: proxy.proxyURL, urls: urls)
            #expect(result.statuses == [200, 200, 200], "\(result.stderr)")
            for (index, body) in result.bodies.enumerated() {
                let json = JSON(parsing: body)
                #expect(json["path"].string == "/whoami?n=\(index + 1)", "\(body)")
                // The parent consumed the credential: nothing reaches the origin.
                #expect(json["authorization"].isNull)
            }
            #expect(!proxy.process.log.contains(Users.alicePassword))
        }
    }

    @Test(arguments: parents)
    func requestsGet(parent kind: ParentKind) async throws {
        let parent = try await ForwardFixtures.shared.parent(kind)
        try await ForwardCLI.start(parents: [parent.authority]).use { proxy in
            let json = try await ProxyRequests.run(proxy: proxy.proxyURL, url: parent.origin + "whoami", ["--count", "3"])
            #expect(json["statuses"].array.map(\.int) == [200, 200, 200], "\(json)")
            #expect(json["json"]["path"].string == "/whoami")
        }
    }

    /// A 5 MB POST from curl, with curl's own `Expect: 100-continue` (bodies > 1 MiB) and
    /// without. The handshake legs to the parent must carry no body (squid stops reading a
    /// body it answers 407 and hangs; Apache closes a 407 leg with Expect), and a `100 Continue`
    /// from a leg that ends in 407 must never reach the client.
    @Test(arguments: parents, [true, false])
    func curlPost5MB(parent kind: ParentKind, clientSendsExpect: Bool) async throws {
        let parent = try await ForwardFixtures.shared.parent(kind)
        let body = try BodyFile(count: 5_000_000)
        defer { body.remove() }
        try await ForwardCLI.start(parents: [parent.authority]).use { proxy in
            var arguments = ["-v", "--data-binary", "@\(body.url.path)", "-H", "Content-Type: application/octet-stream"]
            if !clientSendsExpect { arguments += ["-H", "Expect:"] }
            let response = try await ProxyCurl.run(proxy: proxy.proxyURL, arguments + [parent.origin + "echo"], timeout: 90)
            #expect(response.status == 200, "\(response)")
            #expect(response.stderr.contains("> Expect: 100-continue") == clientSendsExpect, "\(response.stderr.prefix(2000))")
            // At most one interim 100 reached curl, and only before the final 200.
            let interim = response.stderr.components(separatedBy: "< HTTP/1.1 100").count - 1
            #expect(interim <= 1, "\(response.stderr.prefix(3000))")
            #expect(response.json["sha256"].string == body.sha256)
            #expect(response.json["length"].int == body.count)
        }
    }

    /// requests sends no Expect; with `chunked` the body has no Content-Length.
    @Test(arguments: parents, [false, true])
    func requestsPost5MB(parent kind: ParentKind, chunked: Bool) async throws {
        let parent = try await ForwardFixtures.shared.parent(kind)
        try await ForwardCLI.start(parents: [parent.authority]).use { proxy in
            var arguments = ["--method", "POST", "--data-size", "5000000"]
            if chunked { arguments.append("--chunked") }
            let json = try await ProxyRequests.run(proxy: proxy.proxyURL, url: parent.origin + "echo", arguments)
            #expect(json["status"].int == 200, "\(json)")
            #expect(json["json"]["sha256"].string == json["sent_sha256"].string)
            #expect(json["json"]["length"].int == 5_000_000)
            #expect(json["json"]["chunked"].bool == chunked)
        }
    }

    /// 100 MiB through ntlmproxy and the parent, hashed as it streams.
    @Test(arguments: parents)
    func curlDownload100MiB(parent kind: ParentKind) async throws {
        let parent = try await ForwardFixtures.shared.parent(kind)
        let size = 100 * 1024 * 1024
        try await ForwardCLI.start(parents: [parent.authority]).use { proxy in
            let download = try await ProxyCurl.downloadSHA256(proxy: proxy.proxyURL, url: parent.origin + "download?bytes=\(size)")
            #expect(download.status == 0, "\(download.stderr)")
            #expect(download.sha256 == Bodies.downloadSHA256(size))
        }
    }

    /// CONNECT to the local TLS origin: curl verifies the origin's certificate (private CA)
    /// through the tunnel, GETs, POSTs 1 MB and downloads 10 MiB on the one tunnel.
    @Test(arguments: parents)
    func curlConnectToTLSOrigin(parent kind: ParentKind) async throws {
        let parent = try await ForwardFixtures.shared.parent(kind)
        let tls = try await ForwardFixtures.shared.tlsOrigin()
        let body = try BodyFile(count: 1_000_000)
        defer { body.remove() }
        try await ForwardCLI.start(parents: [parent.authority]).use { proxy in
            let get = try await ProxyCurl.run(proxy: proxy.proxyURL, ["-v", "--cacert", tls.caFile, tls.url + "whoami"])
            #expect(get.status == 200, "\(get)")
            #expect(get.json["path"].string == "/whoami")
            // The tunnel's 200 carries no `Connection: close` (Jetty clients drop it; cntlm #14).
            let connectAnswer = get.stderr.components(separatedBy: "\n").filter { $0.hasPrefix("< ") }
                .prefix { !$0.hasPrefix("< HTTP/1.1 200 OK") && !$0.hasPrefix("< HTTP/1.0 200 OK") }
            #expect(!connectAnswer.contains { $0.lowercased().hasPrefix("< connection: close") }, "\(get.stderr.prefix(3000))")

            let post = try await ProxyCurl.run(proxy: proxy.proxyURL, ["--cacert", tls.caFile, "--data-binary", "@\(body.url.path)", tls.url + "echo"])
            #expect(post.status == 200, "\(post)")
            #expect(post.json["sha256"].string == body.sha256)

            let size = 10 * 1024 * 1024
            let download = try await ProxyCurl.downloadSHA256(proxy: proxy.proxyURL, url: tls.url + "download?bytes=\(size)", extra: ["--cacert", tls.caFile])
            #expect(download.status == 0, "\(download.stderr)")
            #expect(download.sha256 == Bodies.downloadSHA256(size))
        }
    }

    @Test(arguments: parents)
    func requestsConnectToTLSOrigin(parent kind: ParentKind) async throws {
        let parent = try await ForwardFixtures.shared.parent(kind)
        let tls = try await ForwardFixtures.shared.tlsOrigin()
        try await ForwardCLI.start(parents: [parent.authority]).use { proxy in
            let get = try await ProxyRequests.run(proxy: proxy.proxyURL, url: tls.url + "whoami", ["--cafile", tls.caFile, "--count", "2"])
            #expect(get["json"]["path"].string == "/whoami", "\(get)")
            #expect(get["statuses"].array.map(\.int) == [200, 200])
            let post = try await ProxyRequests.run(proxy: proxy.proxyURL, url: tls.url + "echo", ["--cafile", tls.caFile, "--method", "PUT", "--data-size", "2000000"])
            #expect(post["status"].int == 200, "\(post)")
            #expect(post["json"]["sha256"].string == post["sent_sha256"].string)
        }
    }
}
