import NTLMTestSupport
import Foundation
import NTLM
import NTLMHTTP
import Testing

/// D: bad input to the acceptor run as the CLI binary, so its log can be read: each bad
/// request gets 400 (431/400 for an oversized header) and a closed connection, leaves one
/// warning line that carries no token bytes and no password, and the process keeps serving.
@Suite("Interop: bad input → acceptor CLI")
struct AcceptorBadInputTests {
    struct BadRequest {
        var name: String
        /// Header lines to send, and the strings that must never show up in the log.
        var headers: [(String, String)]
        var secrets: [String]
    }

    static func randomBase64(_ count: Int) -> String {
        Base64.encode((0..<count).map { _ in UInt8.random(in: 0...255) })
    }

    /// `token` and its consecutive 16-character pieces (at most 256): any logged run of 32
    /// or more of its characters contains one of them.
    static func fragments(_ token: String) -> [String] {
        let characters = Array(token)
        var out = [token]
        var index = 0
        while index + 16 <= characters.count && out.count <= 256 {
            out.append(String(characters[index..<(index + 16)]))
            index += 16
        }
        return out
    }

    @Test func badInputIsRefusedLoggedWithoutSecretsAndTheProcessKeepsServing() async throws {
        try Interop.needBinary()
        try await Interop.needPeers()
        let backend = try await Fixtures.shared.echoBackend()
        let usersFile = Subprocess.scratchFile("acceptor-users")
        try Data(Users.aliceLine.utf8).write(to: usersFile)
        defer { try? FileManager.default.removeItem(at: usersFile) }
        let acceptor = try await CLIProcess.start(
            ["acceptor", "--users-file", usersFile.path, "--domain", "NTLMTEST", "--backend", backend.url, "--log-level", "debug"],
            name: "acceptor-cli")
        defer { Task { await acceptor.process.stop() } }

        var everythingSent: [String] = []

        // 1. Not base64 at all (a character outside token68).
        let bad1 = Self.randomBase64(48)
        let notToken68 = String(bad1.prefix(20)) + "*" + String(bad1.dropFirst(20))
        // 2. token68 characters, but no valid base64 (length ≡ 1 mod 4).
        let notBase64 = Self.randomBase64(48).replacingOccurrences(of: "=", with: "") + "Q"
        // 3. A Type 2 (server message) sent by a client.
        var type2: [UInt8] = Array("NTLMSSP\0".utf8) + [0x02, 0, 0, 0]
        type2 += (0..<48).map { _ in UInt8.random(in: 0...255) }
        let type2Token = Base64.encode(type2)

        let cases: [BadRequest] = [
            BadRequest(name: "bad base64 (not token68)", headers: [("Authorization", "NTLM \(notToken68)")], secrets: Self.fragments(notToken68)),
            BadRequest(name: "bad base64 (token68, wrong length)", headers: [("Authorization", "NTLM \(notBase64)")], secrets: Self.fragments(notBase64)),
            BadRequest(name: "wrong message type (Type 2 from a client)", headers: [("Authorization", "NTLM \(type2Token)")], secrets: Self.fragments(type2Token)),
        ]
        for bad in cases {
            everythingSent += bad.secrets
            let offset = acceptor.process.logSize
            let connection = try await RawHTTPConnection.connect(port: acceptor.port)
            let response = try await connection.request("GET", "/whoami", headers: bad.headers)
            #expect(response.status == 400, "\(bad.name): \(response.status) \(response.text)")
            #expect(response.header("Connection")?.lowercased() == "close", "\(bad.name)")
            #expect(await connection.isClosedByPeer(), "\(bad.name)")
            await Self.expectWarning(acceptor.process, since: offset, for: bad.name, without: bad.secrets)
        }

        // 4. A truncated Type 3 after a real Type 1 / Type 2 on the same connection.
        do {
            let connection = try await RawHTTPConnection.connect(port: acceptor.port)
            var initiator = NTLMInitiator(credentials: NTLMCredentials(user: "alice", domain: "NTLMTEST", workstation: "WS", password: Password(Users.alicePassword)))
            let type1 = Base64.encode(initiator.negotiate())
            let first = try await connection.request("GET", "/whoami", headers: [("Authorization", "NTLM " + type1)])
            #expect(first.status == 401)
            let challenge = try #require(first.headers("WWW-Authenticate").first { $0.hasPrefix("NTLM ") })
            let type3 = try initiator.authenticate(challenge: try #require(Base64.decode(String(challenge.dropFirst(5)))))
            let truncated = Base64.encode(Array(type3.prefix(60)))
            let secrets = Self.fragments(truncated) + Self.fragments(Base64.encode(type3)) + Self.fragments(String(challenge.dropFirst(5)))
            everythingSent += secrets
            let offset = acceptor.process.logSize
            let response = try await connection.request("GET", "/whoami", headers: [("Authorization", "NTLM " + truncated)])
            #expect(response.status == 400, "truncated Type 3: \(response.status) \(response.text)")
            #expect(await connection.isClosedByPeer(), "truncated Type 3")
            await Self.expectWarning(acceptor.process, since: offset, for: "truncated Type 3", without: secrets)
        }

        // 5. A 100 KB header (above the 64 KiB default limit).
        do {
            let huge = Self.randomBase64(75 * 1024)   // 100 KiB of base64
            let secrets = Array(Self.fragments(String(huge.prefix(4096))).dropFirst())
            everythingSent += secrets
            let offset = acceptor.process.logSize
            let connection = try await RawHTTPConnection.connect(port: acceptor.port)
            let response = try? await connection.request("GET", "/whoami", headers: [("Authorization", "NTLM " + huge)])
            if let response {
                #expect(response.status == 431 || response.status == 400, "100 KB header: \(response.status)")
            } else {
                Issue.record("100 KB header: no HTTP response before the connection closed")
            }
            #expect(await connection.isClosedByPeer(), "100 KB header")
            await Self.expectWarning(acceptor.process, since: offset, for: "100 KB header", without: secrets)
        }

        // The process still serves a good handshake, from a client we did not write.
        #expect(acceptor.process.isRunning)
        let good = try await Curl.run(["--ntlm", "-u", "\(Users.alice):\(Users.alicePassword)", acceptor.url + "whoami"])
        #expect(good.status == 200, "\(good)\n\(acceptor.process.log.suffix(3000))")
        #expect(good.json["user"].string == Users.alice)

        // Nothing we sent and no secret is anywhere in the whole log (debug level included).
        let log = acceptor.process.log
        #expect(!log.contains(Users.alicePassword))
        #expect(!log.lowercased().contains(NTHash(password: Password(Users.alicePassword)).revealHex().lowercased()))
        let leaked = everythingSent.filter { log.contains($0) }
        #expect(leaked.isEmpty, "token bytes in the log: \(leaked.prefix(5))")
        await acceptor.process.stop()
    }

    /// Waits (bounded) for a warning line logged after `offset`, then checks it carries none
    /// of `secrets`.
    static func expectWarning(_ process: BackgroundProcess, since offset: Int, for what: String, without secrets: [String]) async {
        let found = await process.waitForLog(timeout: 5) { log in
            let start = log.utf8.index(log.utf8.startIndex, offsetBy: min(offset, log.utf8.count))
            return String(log[start...]).split(separator: "\n").contains { $0.contains(" warning ") }
        }
        let (text, _) = process.log(from: offset)
        let warnings = text.split(separator: "\n").filter { $0.contains(" warning ") }
        #expect(found && !warnings.isEmpty, "\(what): no warning line logged; log since: \(text.suffix(2000))")
        for secret in secrets where text.contains(secret) {
            Issue.record("\(what): the log carries token bytes '\(secret.prefix(40))': \(text.suffix(2000))")
            break
        }
        #expect(!text.contains(Users.alicePassword), "\(what)")
    }
}
