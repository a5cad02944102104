import NTLMTestSupport
import Foundation
import NTLMProxyCore
import Testing

/// Pass-through mode in front of squid's `accel` port (an NTLM origin verified by Samba's
/// ntlm_auth): curl's own NTLM (the 32-byte Type 1 without a Version field, which
/// gss-ntlmssp rejects even directly: Apache answers it with a bare 401 and logs "Invalid
/// token was supplied (Failed to decode data)") and requests-ntlm. ntlmproxy relays the
/// messages unchanged: with squid, curl's Type 1 works, through the proxy as directly.
@Suite("Interop: pass-through → squid accel origin (Samba ntlm_auth)")
struct PassThroughSquidTests {
    /// curl --ntlm, two URLs on one curl run (one client connection): the handshake once,
    /// the second request on the pin.
    @Test func curlNTLMGetWhoAmI() async throws {
        let squid = try await Fixtures.shared.squid()
        try await InProcessProxy.passThrough(backend: squid.accel).use { proxy in
            let result = try await BrowserClients.curlMany(["-v", "--ntlm", "-u", "\(Users.alice):\(Users.alicePassword)"],
                                                           urls: [proxy.url + "whoami?n=1", proxy.url + "whoami?n=2"])
            #expect(result.statuses == [200, 200], "\(result.stderr.suffix(3000))")
            for body in result.bodies { #expect(JSON(parsing: body)["user"].string == Users.alice, "\(body)") }
            // curl's 32-byte Type 1 went out, and squid answered it with a challenge.
            #expect(result.stderr.contains("> Authorization: NTLM TlRMTVNTUAABAAAABoIIAAAAAAAAAAAAAAAAAAAAAAA="), "\(result.stderr.prefix(3000))")
            #expect(result.stderr.contains("< WWW-Authenticate: NTLM TlRMTVNTUAAC"), "\(result.stderr.prefix(3000))")
            // One client connection; the second request needed no new handshake.
            #expect(result.stderr.components(separatedBy: "* Connected to").count - 1 == 1, "\(result.stderr.suffix(2000))")
            #expect(result.stderr.components(separatedBy: "> Authorization: NTLM").count - 1 == 2, "\(result.stderr.suffix(3000))")
        }
    }

    /// requests-ntlm (40-byte Type 1) as alice and as bob: three requests, one handshake.
    @Test(arguments: [(Users.alice, Users.alicePassword), (Users.bob, Users.bobPassword)])
    func requestsNTLMGetWhoAmI(user: String, password: String) async throws {
        let squid = try await Fixtures.shared.squid()
        try await InProcessProxy.passThrough(backend: squid.accel).use { proxy in
            let json = try await BrowserClients.requestsNTLM(url: proxy.url + "whoami", user: user, password: password, ["--count", "3"])
            #expect(json["statuses"].array.map(\.int) == [200, 200, 200], "\(json)")
            #expect(json["json"]["user"].string == user, "\(json)")
        }
    }

    /// curl --ntlm POSTs 5 MB: its Type 1 leg carries `Content-Length: 0`, the Type 3 leg the
    /// body — with curl's own `Expect: 100-continue` (squid's `100 Continue` relayed), without
    /// it, and chunked. (requests-ntlm sends the body on the Type 1 leg, which squid answers
    /// 401 without reading and then stalls — directly too — so it is not tried here.)
    @Test(arguments: ["expect", "no-expect", "chunked"])
    func curlNTLMPost5MB(variant: String) async throws {
        let squid = try await Fixtures.shared.squid()
        let body = try BodyFile(count: 5_000_000)
        defer { body.remove() }
        try await InProcessProxy.passThrough(backend: squid.accel).use { proxy in
            var arguments = ["-v", "-H", "Content-Type: application/octet-stream", "--data-binary", "@\(body.url.path)"]
            switch variant {
            case "no-expect": arguments += ["-H", "Expect:"]
            case "chunked": arguments += ["-H", "Transfer-Encoding: chunked"]
            default: break
            }
            let response = try await BrowserClients.curlNTLM(arguments + [proxy.url + "echo"], timeout: 90)
            #expect(response.status == 200, "\(response)")
            #expect(response.json["sha256"].string == body.sha256, "\(response)")
            #expect(response.json["length"].int == body.count)
            #expect(response.json["chunked"].bool == (variant == "chunked"))
            #expect(response.json["user"].string == Users.alice)
            if variant == "expect" {
                #expect(response.stderr.contains("> Expect: 100-continue"), "\(response.stderr.prefix(3000))")
                let interim = response.stderr.components(separatedBy: "< HTTP/1.1 100").count - 1
                #expect(interim <= 1, "\(response.stderr.prefix(3000))")
            }
        }
    }

    /// 100 MiB through the pin (curl --ntlm, hashed as it streams; requests-ntlm).
    @Test func download100MiB() async throws {
        let squid = try await Fixtures.shared.squid()
        let size = 100 * 1024 * 1024
        try await InProcessProxy.passThrough(backend: squid.accel).use { proxy in
            let curl = try await BrowserClients.curlDownloadSHA256(
                url: proxy.url + "download?bytes=\(size)", auth: ["--ntlm", "-u", "\(Users.alice):\(Users.alicePassword)"])
            #expect(curl.status == 0, "\(curl.stderr)")
            #expect(curl.sha256 == Bodies.downloadSHA256(size))

            let json = try await BrowserClients.requestsNTLM(url: proxy.url + "download?bytes=\(size)", timeout: 240)
            #expect(json["status"].int == 200, "\(json)")
            #expect(json["sha256"].string == Bodies.downloadSHA256(size))
        }
    }

    /// The HTTPS listener in front of squid, curl --ntlm verifying it.
    @Test func httpsListenerCurlNTLM() async throws {
        let squid = try await Fixtures.shared.squid()
        let apache = try await Fixtures.shared.apache()   // its certificate and key only
        try await InProcessProxy.passThrough(backend: squid.accel, tls: apache.listenerTLS).use { proxy in
            let response = try await BrowserClients.curlNTLM(["--cacert", apache.certificate, proxy.url + "whoami"])
            #expect(response.status == 200, "\(response)")
            #expect(response.json["user"].string == Users.alice, "\(response)")
        }
    }
}
