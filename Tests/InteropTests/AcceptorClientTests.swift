import Foundation
import Testing

/// C: NTLM/Negotiate clients nobody on the team wrote — curl (its own NTLM, and GSSAPI with
/// gss-ntlmssp), requests-ntlm, pyspnego — against our acceptor (in process, users file in
/// gss-ntlmssp format) in front of echo_backend.py.
@Suite("Interop: real clients → acceptor")
struct AcceptorClientTests {
    static func withAcceptor(_ body: (InProcessProxy) async throws -> Void) async throws {
        let backend = try await Fixtures.shared.echoBackend()
        try await InProcessProxy.acceptor(backend: backend.url).use(body)
    }

    /// C1: curl 7.88's own NTLM (the 32-byte Type 1 without Version).
    @Test func curlNTLM() async throws {
        try await Interop.needPeers()
        try await Self.withAcceptor { acceptor in
            let ok = try await Curl.run(["--ntlm", "-u", "\(Users.alice):\(Users.alicePassword)", acceptor.url + "whoami"])
            #expect(ok.status == 200, "\(ok)")
            #expect(ok.json["user"].string == Users.alice)
            #expect(ok.json["x_remote_user"].string == Users.alice)
            // The client's Authorization is not passed on to the backend.
            #expect(ok.json["authorization"].isNull)

            let wrong = try await Curl.run(["--ntlm", "-u", "\(Users.alice):Wrong-Pass", acceptor.url + "whoami"])
            #expect(wrong.status == 401, "\(wrong)")
            #expect(!wrong.body.contains("NTLMTEST\\\\alice"))
        }
    }

    /// C2: requests-ntlm 1.3.0 (pyspnego underneath, 40-byte Type 1), three requests on one
    /// kept-alive connection.
    @Test func requestsNTLM() async throws {
        try await Interop.needPeers()
        try await Interop.needPython()
        try await Self.withAcceptor { acceptor in
            let ok = try await RequestsNTLM.run(user: Users.alice, password: Users.alicePassword, url: acceptor.url + "whoami", extra: ["--count", "3"])
            #expect(ok["statuses"].array.map(\.int) == [200, 200, 200], "\(ok)")
            #expect(ok["json"]["user"].string == Users.alice)

            let wrong = try await RequestsNTLM.run(user: Users.alice, password: "Wrong-Pass", url: acceptor.url + "whoami")
            #expect(wrong["status"].int == 401, "\(wrong)")
        }
    }

    /// C3: pyspnego as a raw NTLM and as a Negotiate (SPNEGO) initiator over one http.client
    /// keep-alive connection; the Negotiate context also checks our final mechListMIC token.
    @Test(arguments: ["ntlm", "negotiate"])
    func pyspnego(protocol name: String) async throws {
        try await Interop.needPeers()
        try await Interop.needPython()
        try await Self.withAcceptor { acceptor in
            let ok = try await PySPNEGOClient.run(protocol: name, user: Users.alice, password: Users.alicePassword, url: acceptor.url + "whoami", extra: ["--again"])
            #expect(ok["status"].int == 200, "\(ok)")
            #expect(ok["json"]["user"].string == Users.alice)
            #expect(ok["complete"].bool == true, "\(ok)")
            #expect(ok["legs"].int == 2)
            if name == "negotiate" { #expect(ok["final_token"].bool == true, "\(ok)") }
            // The logon holds for the connection.
            #expect(ok["again_status"].int == 200)
            #expect(ok["again_json"]["user"].string == Users.alice)

            let wrong = try await PySPNEGOClient.run(protocol: name, user: Users.alice, password: "Wrong-Pass", url: acceptor.url + "whoami")
            #expect(wrong["status"].int == 401, "\(wrong)")
        }
    }

    /// C4: a client-sent identity header never reaches the backend, whatever the client and
    /// spelling; the backend sees exactly one X-Remote-User, the verified one.
    @Test func clientIdentityHeaderNeverReachesTheBackend() async throws {
        try await Interop.needPeers()
        try await Interop.needPython()
        try await Self.withAcceptor { acceptor in
            let viaCurl = try await Curl.run([
                "--ntlm", "-u", "\(Users.alice):\(Users.alicePassword)",
                "-H", "X-Remote-User: NTLMTEST\\mallory", "-H", "x-remote-user: mallory2", acceptor.url + "headers",
            ])
            #expect(viaCurl.status == 200, "\(viaCurl)")
            Self.expectOnlyAlice(viaCurl.json, "\(viaCurl.body)")

            let viaRequests = try await RequestsNTLM.run(
                user: Users.alice, password: Users.alicePassword, url: acceptor.url + "headers", extra: ["--header", "X-REMOTE-USER: NTLMTEST\\mallory"])
            #expect(viaRequests["status"].int == 200, "\(viaRequests)")
            Self.expectOnlyAlice(viaRequests["json"], "\(viaRequests)")

            let viaPyspnego = try await PySPNEGOClient.run(
                protocol: "negotiate", user: Users.alice, password: Users.alicePassword, url: acceptor.url + "whoami",
                extra: ["--header", "X-Remote-User: NTLMTEST\\mallory", "--again"])
            #expect(viaPyspnego["json"]["user"].string == Users.alice, "\(viaPyspnego)")
            // --again sends the forged header on the authenticated connection, no Authorization.
            #expect(viaPyspnego["again_json"]["user"].string == Users.alice, "\(viaPyspnego)")
        }
    }

    static func expectOnlyAlice(_ headers: JSON, _ context: String) {
        let matching = headers.keys.filter { $0.lowercased() == "x-remote-user" }
        #expect(matching.count == 1, "\(context)")
        for key in matching { #expect(headers[key].string == Users.alice, "\(context)") }
        #expect(!headers.description.contains("mallory"), "\(context)")
    }

    /// C5: curl --negotiate with gss-ntlmssp as the client's GSSAPI mechanism (SPNEGO → NTLM).
    @Test func curlNegotiateWithGssNtlmssp() async throws {
        try await Interop.needPeers()
        try await Self.withAcceptor { acceptor in
            let users = Subprocess.scratchFile("client-users")
            try Data(Users.aliceLine.utf8).write(to: users)
            defer { try? FileManager.default.removeItem(at: users) }
            let environment = ["NTLM_USER_FILE": users.path, "NTLMUSER": "alice", "GSS_USE_PROXY": "no"]
            let response = try await Curl.run(["--negotiate", "-u", ":", "-v", acceptor.url + "whoami"], environment: environment)
            #expect(response.status == 200, "\(response)")
            #expect(response.json["user"].string == Users.alice, "\(response)")
            #expect(response.stderr.contains("> Authorization: Negotiate "), "\(response.stderr.suffix(2000))")
        }
    }
}

/// scripts/interop/requests_ntlm_client.py.
enum RequestsNTLM {
    static func run(user: String, password: String, url: String, extra: [String] = []) async throws -> JSON {
        let result = try await Subprocess.run(
            [Interop.python, Interop.script("requests_ntlm_client.py"), "--timeout", "30", "--user", user, "--password", password] + extra + [url],
            timeout: 60)
        let json = JSON(parsing: result.stdout)
        if json.isNull { Issue.record("requests_ntlm_client.py: \(result)") }
        return json
    }
}

/// Tests/InteropTests/Resources/pyspnego_http_client.py.
enum PySPNEGOClient {
    static func run(protocol name: String, user: String, password: String, url: String, extra: [String] = []) async throws -> JSON {
        let result = try await Subprocess.run(
            [Interop.python, Interop.resource("pyspnego_http_client.py"), "--protocol", name, "--user", user, "--password", password] + extra + [url],
            timeout: 60)
        let json = JSON(parsing: result.stdout)
        if json.isNull || !json["error"].isNull { Issue.record("pyspnego_http_client.py: \(result)") }
        return json
    }
}
