import NTLMTestSupport
import Foundation
import NTLMProxyCore
import Testing

/// The second fixture user (scripts/interop/lib.sh DEFAULT_USERS).
extension Users {
    static let bob = "NTLMTEST\\bob"
    static let bobPassword = "Bob-Pass2"
    static let bobLine = "NTLMTEST:bob:Bob-Pass2\n"
}

extension InProcessProxy {
    /// A pass-through listener in front of `backend` through `ProxyRuntime`, like
    /// `ntlmproxy passthrough`; `/health` public unless told otherwise.
    static func passThrough(backend: String, trustRoots: String? = nil, publicPaths: [String] = ["/health"],
                            pins: PinLimits = PinLimits(), pad401To: Int = 0, tls: ListenerTLSConfiguration? = nil) async throws -> InProcessProxy {
        let configuration = PassThroughConfiguration(
            backend: try BackendURL(parsing: backend), trustRootsFile: trustRoots, publicPaths: publicPaths, pins: pins, pad401To: pad401To)
        return try await runtime(.passThrough(configuration), tls: tls)
    }
}

/// The clients of a pass-through listener: each authenticates itself (the proxy relays).
enum BrowserClients {
    /// requests-ntlm with its own credential (scripts/interop/requests_ntlm_client.py).
    static func requestsNTLM(url: String, user: String = Users.alice, password: String = Users.alicePassword,
                             _ arguments: [String] = [], timeout: Double = 150) async throws -> JSON {
        try await Interop.needPython()
        let result = try await Subprocess.run(
            [Interop.python, Interop.script("requests_ntlm_client.py"), "--user", user, "--password", password, "--timeout", "60"] + arguments + [url],
            timeout: timeout)
        let json = JSON(parsing: result.stdout)
        if json.isNull || json.keys.isEmpty { return JSON(["error": "\(result)"]) }
        return json
    }

    /// pyspnego over one http.client connection (Tests/InteropTests/Resources/pyspnego_http_client.py).
    static func pyspnego(url: String, protocol scheme: String, user: String = Users.alice, password: String = Users.alicePassword,
                         _ arguments: [String] = [], timeout: Double = 60) async throws -> JSON {
        try await Interop.needPython()
        let result = try await Subprocess.run(
            [Interop.python, Interop.resource("pyspnego_http_client.py"), "--protocol", scheme, "--user", user, "--password", password] + arguments + [url],
            timeout: timeout)
        let json = JSON(parsing: result.stdout)
        if json.isNull || json.keys.isEmpty { return JSON(["error": "\(result)"]) }
        return json
    }

    /// A gss-ntlmssp client credentials file (NTLM_USER_FILE format) for `curl --negotiate -u :`.
    static func usersFile(_ line: String) throws -> URL {
        let file = Subprocess.scratchFile("client-users")
        try Data(line.utf8).write(to: file)
        return file
    }

    /// `curl --negotiate -u :` (GSSAPI SPNEGO → gss-ntlmssp, credentials from `NTLM_USER_FILE`).
    static func curlNegotiate(_ arguments: [String], userLine: String = Users.aliceLine, timeout: Double = 60) async throws -> Curl.Response {
        let file = try usersFile(userLine)
        defer { try? FileManager.default.removeItem(at: file) }
        return try await Curl.run(["--negotiate", "-u", ":"] + arguments, environment: ["NTLM_USER_FILE": file.path], timeout: timeout)
    }

    /// `curl --ntlm` (curl's own NTLM: the 32-byte Type 1).
    static func curlNTLM(_ arguments: [String], user: String = Users.alice, password: String = Users.alicePassword, timeout: Double = 60) async throws -> Curl.Response {
        try await Curl.run(["--ntlm", "-u", "\(user):\(password)"] + arguments, timeout: timeout)
    }

    /// Several URLs on one curl run (one kept-alive client connection): each status and body,
    /// in order, and curl's stderr.
    static func curlMany(_ arguments: [String], urls: [String], environment: [String: String] = [:], timeout: Double = 120) async throws -> (statuses: [Int], bodies: [String], stderr: String) {
        let result = try await Subprocess.run(
            [Interop.curl, "-sS", "--noproxy", "*", "--max-time", String(Int(timeout)), "-w", Curl.marker + "%{http_code}\n"] + arguments + urls,
            environment: environment, timeout: timeout + 10)
        return Curl.transfers(result)
    }

    /// `curl AUTH... URL | sha256sum`: the body hashed as it streams.
    static func curlDownloadSHA256(url: String, auth: [String], environment: [String: String] = [:], timeout: Double = 180) async throws -> (sha256: String, stderr: String, status: Int32) {
        let script = "set -o pipefail; \"$@\" | sha256sum | cut -d' ' -f1"
        let result = try await Subprocess.run(
            ["/bin/bash", "-c", script, "download", Interop.curl, "-sS", "--fail", "--noproxy", "*", "--max-time", String(Int(timeout))] + auth + [url],
            environment: environment, timeout: timeout + 10)
        return (result.stdout.trimmingCharacters(in: .whitespacesAndNewlines), result.stderr, result.status)
    }

    /// scripts/interop/passthrough_isolation.py against `url`, alice and bob round robin.
    static func isolation(url: String, _ arguments: [String], timeout: Double = 600) async throws -> (JSON, Subprocess.Result) {
        try await Interop.needPython()
        let result = try await Subprocess.run(
            [Interop.python, Interop.script("passthrough_isolation.py"),
             "--user", "\(Users.alice):\(Users.alicePassword)", "--user", "\(Users.bob):\(Users.bobPassword)"] + arguments + [url],
            timeout: timeout)
        return (JSON(parsing: result.stdout), result)
    }
}

/// The Apache fixture's certificate and key as the pass-through listener's own (CN=localhost,
/// SAN IP:127.0.0.1): clients verify it with the same file as their CA.
extension ApacheFixture {
    var privateKey: String { dir + "/apache/tls/key.pem" }
    var listenerTLS: ListenerTLSConfiguration { ListenerTLSConfiguration(certificateFile: certificate, privateKeyFile: privateKey) }
}

/// Tests/InteropTests/Resources/reauth_origin.py: an NTLM origin (pyspnego acceptor, alice and
/// bob) that, like IIS, takes a new handshake on an authenticated connection. One per test.
struct ReauthOrigin: StoppableFixture {
    let process: BackgroundProcess
    let port: Int
    var url: String { "http://127.0.0.1:\(port)/" }

    static func start(idleClose: Double? = nil) async throws -> ReauthOrigin {
        try await Interop.needPython()
        let users = Subprocess.scratchFile("reauth-users")
        try Data((Users.aliceLine + Users.bobLine).utf8).write(to: users)
        let portFile = Subprocess.scratchFile("reauth-port").path
        let process = try BackgroundProcess([Interop.python, Interop.resource("reauth_origin.py"), "--port-file", portFile]
                                                + (idleClose.map { ["--idle-close", String($0)] } ?? []),
                                            name: "reauth-origin", environment: ["NTLM_USER_FILE": users.path])
        let port = await process.waitForPortFile(portFile)
        guard let port else {
            await process.stop()
            throw Fixtures.FixtureFailure(what: "starting reauth_origin.py (log: \(process.log))", result: nil)
        }
        return ReauthOrigin(process: process, port: port)
    }

    func stop() async { await process.stop() }
}
