import NTLMTestSupport
import Foundation
import NTLMProxyCore
import Testing

/// Pass-through mode: clients nobody on the team wrote (requests-ntlm, pyspnego, curl with
/// gss-ntlmssp client credentials) authenticate themselves, through ntlmproxy, to Apache +
/// mod_auth_gssapi + gss-ntlmssp, which echoes the logon it verified. ntlmproxy holds no
/// credential: it relays `Authorization` and `WWW-Authenticate` unchanged over an upstream
/// connection pinned to the client connection.
///
/// What each client does directly against Apache (no ntlmproxy) is in the comments; the proxy
/// cannot do better than that, and must not do worse. `curl --ntlm` is not here: its 32-byte
/// Type 1 is rejected by gss-ntlmssp even directly (see PassThroughSquidTests).
@Suite("Interop: pass-through → Apache (gss-ntlmssp)")
struct PassThroughApacheTests {
    static let users = [(Users.alice, Users.alicePassword), (Users.bob, Users.bobPassword)]

    /// requests-ntlm (40-byte Type 1): three requests on one session, the handshake once,
    /// the later two ride the pinned connection (Apache is connection-bound).
    @Test(arguments: users)
    func requestsNTLMGetWhoAmI(user: String, password: String) async throws {
        let apache = try await Fixtures.shared.apache()
        try await InProcessProxy.passThrough(backend: apache.http).use { proxy in
            let json = try await BrowserClients.requestsNTLM(url: proxy.url + "whoami", user: user, password: password, ["--count", "3"])
            #expect(json["statuses"].array.map(\.int) == [200, 200, 200], "\(json)")
            #expect(json["json"]["user"].string == user, "\(json)")
            // The last request carried no Authorization: it was answered on the pin.
            #expect(json["json"]["authorization"].isNull, "\(json)")
        }
    }

    /// pyspnego, raw NTLM and Negotiate (SPNEGO wrapping NTLM): two legs, the scheme reaches
    /// Apache unchanged, Negotiate's final token on the 200 (mechListMIC) reaches the client,
    /// and a request without Authorization on the same connection is still served as alice.
    @Test(arguments: ["ntlm", "negotiate"])
    func pyspnegoGetWhoAmI(scheme: String) async throws {
        let apache = try await Fixtures.shared.apache()
        try await InProcessProxy.passThrough(backend: apache.http).use { proxy in
            let json = try await BrowserClients.pyspnego(url: proxy.url + "whoami", protocol: scheme, ["--again"])
            #expect(json["status"].int == 200, "\(json)")
            #expect(json["legs"].int == 2, "\(json)")
            #expect(json["complete"].bool == true, "\(json)")
            #expect(json["json"]["user"].string == Users.alice, "\(json)")
            #expect(json["json"]["authorization"].string == (scheme == "ntlm" ? "NTLM" : "Negotiate"), "\(json)")
            // Directly, Apache's 200 carries `WWW-Authenticate: Negotiate <token>`; relayed too.
            #expect(json["final_token"].bool == (scheme == "negotiate"), "\(json)")
            #expect(json["again_status"].int == 200, "\(json)")
            #expect(json["again_json"]["user"].string == Users.alice, "\(json)")
            #expect(json["again_json"]["authorization"].isNull, "\(json)")
        }
    }

    /// `curl --negotiate -u :` with gss-ntlmssp client credentials (NTLM_USER_FILE): curl
    /// sends the SPNEGO Type 1 on its first request.
    @Test(arguments: [(Users.alice, Users.aliceLine), (Users.bob, Users.bobLine)])
    func curlNegotiateGetWhoAmI(user: String, line: String) async throws {
        let apache = try await Fixtures.shared.apache()
        try await InProcessProxy.passThrough(backend: apache.http).use { proxy in
            let response = try await BrowserClients.curlNegotiate([proxy.url + "whoami"], userLine: line)
            #expect(response.status == 200, "\(response)")
            #expect(response.json["user"].string == user, "\(response)")
            #expect(response.json["authorization"].string == "Negotiate", "\(response)")
        }
    }

    /// requests-ntlm sends the whole 5 MB body on every leg (Type 1 and Type 3); Apache
    /// answers the Type 1 leg 401 (directly: 200 with the right digest).
    @Test func requestsNTLMPost5MB() async throws {
        let apache = try await Fixtures.shared.apache()
        try await InProcessProxy.passThrough(backend: apache.http).use { proxy in
            let json = try await BrowserClients.requestsNTLM(url: proxy.url + "echo", ["--method", "POST", "--data-size", "5000000"])
            #expect(json["status"].int == 200, "\(json)")
            #expect(json["json"]["sha256"].string == json["sent_sha256"].string, "\(json)")
            #expect(json["json"]["length"].int == 5_000_000, "\(json)")
            #expect(json["json"]["user"].string == Users.alice, "\(json)")
        }
    }

    /// curl --negotiate, 5 MB on both legs, Content-Length or chunked. Without curl's own
    /// `Expect: 100-continue`: directly, Apache answers such a leg 401 + `Connection: close`
    /// and curl loops until it gives up (47), so no proxy can make that one pass.
    @Test(arguments: [false, true])
    func curlNegotiatePost5MB(chunked: Bool) async throws {
        let apache = try await Fixtures.shared.apache()
        let body = try BodyFile(count: 5_000_000)
        defer { body.remove() }
        try await InProcessProxy.passThrough(backend: apache.http).use { proxy in
            var arguments = ["-v", "-H", "Expect:", "-H", "Content-Type: application/octet-stream", "--data-binary", "@\(body.url.path)"]
            if chunked { arguments += ["-H", "Transfer-Encoding: chunked"] }
            let response = try await BrowserClients.curlNegotiate(arguments + [proxy.url + "echo"], timeout: 90)
            #expect(response.status == 200, "\(response)")
            #expect(response.json["sha256"].string == body.sha256, "\(response)")
            #expect(response.json["length"].int == body.count)
            #expect(response.json["chunked"].bool == chunked)
            #expect(response.json["user"].string == Users.alice)
            // Both legs carried the body (what we meant to test): two requests, one 401.
            #expect(response.stderr.components(separatedBy: "> POST /echo").count - 1 == 2, "\(response.stderr.prefix(3000))")
        }
    }

    /// curl --negotiate with its own `Expect: 100-continue` (bodies > 1 MiB): Apache answers
    /// every such leg 401 + `Connection: close` without a `100 Continue`, so a connection-bound
    /// handshake never finishes and curl gives up after 50 tries (`(47) Maximum (50)
    /// redirects`) — directly. Through ntlmproxy: the same, promptly, with no `100 Continue`
    /// made up by the proxy and every 401 closing the client connection (its body was left
    /// unread).
    @Test func curlNegotiatePostWithExpectEndsAsDirectly() async throws {
        let apache = try await Fixtures.shared.apache()
        let body = try BodyFile(count: 2_000_000)
        defer { body.remove() }
        let arguments = ["-v", "-H", "Content-Type: application/octet-stream", "--data-binary", "@\(body.url.path)"]
        let direct = try await BrowserClients.curlNegotiate(arguments + [apache.http + "echo"], timeout: 60)
        try await InProcessProxy.passThrough(backend: apache.http).use { proxy in
            let response = try await BrowserClients.curlNegotiate(arguments + [proxy.url + "echo"], timeout: 60)
            #expect(response.status == direct.status, "through: \(response)\ndirect: \(direct)")
            #expect(response.status == 401, "\(response)")
            #expect(!response.stderr.contains("< HTTP/1.1 100"), "\(response.stderr.prefix(3000))")
            let legs = response.stderr.components(separatedBy: "< HTTP/1.1 401").count - 1
            let closes = response.stderr.components(separatedBy: "< Connection: close").count - 1
            #expect(legs >= 2 && closes == legs, "\(legs) 401s, \(closes) closes: \(response.stderr.suffix(3000))")
        }
    }

    /// 100 MiB through the pin, hashed as it streams (requests-ntlm and curl --negotiate).
    @Test func download100MiB() async throws {
        let apache = try await Fixtures.shared.apache()
        let size = 100 * 1024 * 1024
        try await InProcessProxy.passThrough(backend: apache.http).use { proxy in
            let json = try await BrowserClients.requestsNTLM(url: proxy.url + "download?bytes=\(size)", timeout: 240)
            #expect(json["status"].int == 200, "\(json)")
            #expect(json["length"].int == size)
            #expect(json["sha256"].string == Bodies.downloadSHA256(size))

            let file = try BrowserClients.usersFile(Users.aliceLine)
            defer { try? FileManager.default.removeItem(at: file) }
            let curl = try await BrowserClients.curlDownloadSHA256(
                url: proxy.url + "download?bytes=\(size)", auth: ["--negotiate", "-u", ":"], environment: ["NTLM_USER_FILE": file.path])
            #expect(curl.status == 0, "\(curl.stderr)")
            #expect(curl.sha256 == Bodies.downloadSHA256(size))
        }
    }

    /// The HTTPS listener (the fixture's certificate and key, CN=localhost, SAN
    /// IP:127.0.0.1), in front of Apache's http port and its https port (trust roots given).
    /// Clients verify the listener's certificate with the same file as their CA.
    @Test(arguments: [false, true])
    func httpsListener(httpsBackend: Bool) async throws {
        let apache = try await Fixtures.shared.apache()
        let backend = httpsBackend ? apache.https : apache.http
        try await InProcessProxy.passThrough(backend: backend, trustRoots: httpsBackend ? apache.certificate : nil, tls: apache.listenerTLS).use { proxy in
            #expect(proxy.url.hasPrefix("https://127.0.0.1:"))
            let curl = try await BrowserClients.curlNegotiate(["--cacert", apache.certificate, proxy.url + "whoami"])
            #expect(curl.status == 200, "\(curl)")
            #expect(curl.json["user"].string == Users.alice, "\(curl)")

            let requests = try await BrowserClients.requestsNTLM(url: proxy.url + "whoami", user: Users.bob, password: Users.bobPassword, ["--cafile", apache.certificate, "--count", "2"])
            #expect(requests["statuses"].array.map(\.int) == [200, 200], "\(requests)")
            #expect(requests["json"]["user"].string == Users.bob, "\(requests)")

            let post = try await BrowserClients.requestsNTLM(url: proxy.url + "echo", ["--cafile", apache.certificate, "--method", "POST", "--data-size", "1000000"])
            #expect(post["status"].int == 200, "\(post)")
            #expect(post["json"]["sha256"].string == post["sent_sha256"].string, "\(post)")
            #expect(post["json"]["user"].string == Users.alice, "\(post)")

            // Without the CA file the client refuses the listener (a real TLS listener).
            let unverified = try await Curl.run([proxy.url + "health"])
            #expect(unverified.status != 200, "\(unverified)")
        }
    }

    /// A new handshake as bob on alice's authenticated client connection. Directly, Apache
    /// (mod_auth_gssapi, connection-bound) answers the new Type 1 with a bare 401 and the
    /// connection is no longer authenticated ("Mechanism needs continuation but neither
    /// GssapiConnectionBound nor GssapiUseSessions are configured"); through ntlmproxy the new
    /// Type 1 must reach the same pin, so the outcome is the same — and in no case may the
    /// connection answer as alice after bob's Type 1, or as bob without bob's logon.
    @Test(arguments: ["ntlm", "negotiate"])
    func secondHandshakeOnTheSameConnection(scheme: String) async throws {
        let apache = try await Fixtures.shared.apache()
        let direct = try await BrowserClients.pyspnego(url: apache.http + "whoami", protocol: scheme,
                                                       ["--again", "--second-user", Users.bob, "--second-password", Users.bobPassword])
        try await InProcessProxy.passThrough(backend: apache.http).use { proxy in
            let json = try await BrowserClients.pyspnego(url: proxy.url + "whoami", protocol: scheme,
                                                         ["--again", "--second-user", Users.bob, "--second-password", Users.bobPassword])
            #expect(json["status"].int == 200, "\(json)")
            #expect(json["json"]["user"].string == Users.alice, "\(json)")
            #expect(json["again_json"]["user"].string == Users.alice, "\(json)")
            let second = json["second"]
            // Same as Apache directly.
            #expect(second["status"].int == direct["second"]["status"].int, "through: \(json)\ndirect: \(direct)")
            #expect(second["again_status"].int == direct["second"]["again_status"].int, "through: \(json)\ndirect: \(direct)")
            // Never alice after bob's Type 1.
            #expect(second["json"]["user"].string != Users.alice, "\(json)")
            #expect(second["again_json"]["user"].string != Users.alice, "\(json)")
        }
    }

    /// A public path is served without authentication; a protected one answers Apache's 401
    /// with both of its challenges relayed, and the next request on that connection is still
    /// not served.
    @Test func publicPathAndUnauthenticated401() async throws {
        let apache = try await Fixtures.shared.apache()
        try await InProcessProxy.passThrough(backend: apache.http).use { proxy in
            let connection = try await RawHTTPConnection.connect(port: proxy.port)
            let health = try await connection.request("GET", "/health")
            #expect(health.status == 200, "\(health.text)")
            #expect(health.text == "ok\n")

            let protected = try await connection.request("GET", "/whoami")
            #expect(protected.status == 401, "\(protected.text)")
            let offered = protected.headers("WWW-Authenticate").map { $0.lowercased() }
            #expect(offered.contains("negotiate"), "\(protected.headers)")
            #expect(offered.contains("ntlm"), "\(protected.headers)")

            let fresh = try await RawHTTPConnection.connect(port: proxy.port)
            let again = try await fresh.request("GET", "/whoami")
            #expect(again.status == 401)
            // A made-up Authorization does not get through either.
            let bogus = try await RawHTTPConnection.connect(port: proxy.port).request("GET", "/whoami", headers: [("Authorization", "NTLM TlRMTVNTUAADAAAA")])
            #expect(bogus.status != 200, "\(bogus.text)")
        }
    }

    /// `ntlmproxy passthrough` as the CLI binary, requests-ntlm as bob: the right user, and
    /// the log names the pin, the client address and the user from the Type 3 (never a secret).
    @Test func cliPassThroughWithRequestsNTLM() async throws {
        let apache = try await Fixtures.shared.apache()
        let cli = try await ForwardCLI.start(name: "passthrough-cli") { port in
            ["passthrough", "--listen", "127.0.0.1:\(port)", "--backend", apache.http, "--public", "/health", "--log-level", "info"]
        }
        try await cli.use { cli in
            let url = "http://127.0.0.1:\(cli.port)/"
            let json = try await BrowserClients.requestsNTLM(url: url + "whoami", user: Users.bob, password: Users.bobPassword, ["--count", "2"])
            #expect(json["statuses"].array.map(\.int) == [200, 200], "\(json)")
            #expect(json["json"]["user"].string == Users.bob, "\(json)")
            let health = try await Curl.run([url + "health"])
            #expect(health.status == 200, "\(health)")
            let log = cli.process.log
            #expect(log.contains("pin created"), "\(log.suffix(3000))")
            #expect(log.contains("client=127.0.0.1:"), "\(log.suffix(3000))")
            #expect(log.contains("user=NTLMTEST\\bob"), "\(log.suffix(3000))")
            #expect(!log.contains(Users.bobPassword))
            #expect(!log.contains("TlRMTVNTUAAD"), "a Type 3 in the log: \(log.suffix(3000))")
        }
    }

    /// Old clients (IE6 SP1 needed > 1460 bytes): Apache's 421-byte 401 is padded to 2000
    /// bytes, its challenges relayed, and the connection stays usable (Content-Length right,
    /// keep-alive kept).
    @Test func padded401KeepsTheConnection() async throws {
        let apache = try await Fixtures.shared.apache()
        try await InProcessProxy.passThrough(backend: apache.http, pad401To: 2000).use { proxy in
            let connection = try await RawHTTPConnection.connect(port: proxy.port)
            for n in 0..<2 {
                let response = try await connection.request("GET", "/whoami?n=\(n)")
                #expect(response.status == 401, "\(response.text)")
                #expect(response.body.count >= 2000, "\(response.body.count) bytes")
                #expect(response.header("Content-Length") == String(response.body.count))
                #expect(response.header("Connection")?.lowercased() != "close", "\(response.headers)")
                let offered = response.headers("WWW-Authenticate").map { $0.lowercased() }
                #expect(offered.contains("ntlm") && offered.contains("negotiate"), "\(response.headers)")
            }
        }
    }

    /// An HTTP/1.0 client asking for keep-alive keeps its connection over the 401 (the
    /// handshake needs the same connection): `Content-Length` and `Connection: keep-alive`.
    @Test func http10KeepAliveOver401() async throws {
        let apache = try await Fixtures.shared.apache()
        try await InProcessProxy.passThrough(backend: apache.http).use { proxy in
            let connection = try await RawHTTPConnection.connect(port: proxy.port, timeoutSeconds: 10)
            for n in 0..<2 {
                let response = try await connection.raw(Array("GET /whoami?n=\(n) HTTP/1.0\r\nHost: 127.0.0.1\r\nConnection: keep-alive\r\n\r\n".utf8))
                #expect(response.status == 401, "\(n): \(response.text)")
                #expect(response.header("Content-Length") == String(response.body.count), "\(response.headers)")
                #expect(response.header("Connection")?.lowercased() == "keep-alive", "\(response.headers)")
            }
        }
    }

    /// `maxPins: 1`: while one client connection holds the only pin (Apache's 401 offering
    /// NTLM pins it), another gets 503 with Retry-After and is closed; once the first client
    /// leaves, a new connection gets its pin.
    @Test func maxPinsRefusesWith503() async throws {
        let apache = try await Fixtures.shared.apache()
        try await InProcessProxy.passThrough(backend: apache.http, pins: PinLimits(maxPins: 1)).use { proxy in
            // The holder's last use is its second request: then it is released (closed).
            try await {
                let holder = try await RawHTTPConnection.connect(port: proxy.port)
                let first = try await holder.request("GET", "/whoami")
                #expect(first.status == 401, "\(first.text)")

                let refused = try await RawHTTPConnection.connect(port: proxy.port, timeoutSeconds: 10)
                let answer = try await refused.request("GET", "/whoami")
                #expect(answer.status == 503, "\(answer.text)")
                #expect(answer.header("Retry-After") != nil, "\(answer.headers)")
                #expect(await refused.isClosedByPeer())
                // Public paths need no pin.
                let health = try await RawHTTPConnection.connect(port: proxy.port).request("GET", "/health")
                #expect(health.status == 200, "\(health.text)")
                // The holder still has its pin.
                let again = try await holder.request("GET", "/whoami")
                #expect(again.status == 401, "\(again.text)")
            }()

            var status = 0
            for _ in 0..<50 {
                status = try await RawHTTPConnection.connect(port: proxy.port).request("GET", "/whoami").status
                if status == 401 { break }
                try await Task.sleep(for: .milliseconds(100))
            }
            #expect(status == 401, "the pin was not released after its client left")
        }
    }
}

