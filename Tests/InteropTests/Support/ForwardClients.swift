import NTLMTestSupport
import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// `ntlmproxy forward` (or `run --cntlm-config`) run as the CLI binary on a free port of
/// 127.0.0.1: clients use it as their HTTP proxy.
struct ForwardCLI: StoppableFixture {
    let process: BackgroundProcess
    let port: Int
    /// For `curl -x`, requests' `proxies=`.
    var proxyURL: String { "http://127.0.0.1:\(port)" }

    /// `ntlmproxy forward --parent P... [--user U] EXTRA --log-level info --listen 127.0.0.1:PORT`,
    /// the password in `NTLMPROXY_PASSWORD` (never on the command line), plus `environment`
    /// (e.g. `KRB5_CONFIG` for Kerberos).
    static func start(parents: [String], user: String? = Users.alice, password: String? = Users.alicePassword,
                      extra: [String] = [], environment extraEnvironment: [String: String] = [:], name: String = "forward-cli") async throws -> ForwardCLI {
        try Interop.needBinary()
        var arguments = ["forward"]
        for parent in parents { arguments += ["--parent", parent] }
        if let user { arguments += ["--user", user] }
        arguments += extra + ["--log-level", "info"]
        var environment = extraEnvironment
        if let password { environment["NTLMPROXY_PASSWORD"] = password }
        let cli = try await CLIProcess.start(arguments, environment: environment, name: name)
        return ForwardCLI(process: cli.process, port: cli.port)
    }

    /// Starts `arguments` (which must make it listen on the port `makeArguments` is given, e.g.
    /// through a cntlm.conf's `Listen`) and waits for its "listening on" line; retries on
    /// another port if the one picked was taken meanwhile.
    static func start(name: String, environment: [String: String] = [:], _ makeArguments: (Int) throws -> [String]) async throws -> ForwardCLI {
        try Interop.needBinary()
        var lastLog = ""
        for _ in 0..<3 {
            let port = try freePort()
            let process = try BackgroundProcess([Interop.binary] + makeArguments(port), name: name, environment: environment)
            let ready = await process.waitForLog(timeout: 30) { $0.contains("listening on http://127.0.0.1:\(port)") }
            if ready && process.isRunning { return ForwardCLI(process: process, port: port) }
            lastLog = process.log
            await process.stop()
        }
        throw CLIProcess.CLIFailure(log: lastLog)
    }

    func stop() async { await process.stop() }

    /// The process log goes with an error of the test's body.
    func failure(_ error: any Error) -> any Error { ForwardFailure(error: error, log: process.log) }

    struct ForwardFailure: Error, CustomStringConvertible {
        var error: Error
        var log: String
        var description: String { "\(error)\n--- ntlmproxy log (last 3000 bytes) ---\n\(log.suffix(3000))" }
    }
}

/// curl as a proxy client: `-x` given, the environment's proxy settings already stripped by
/// `Subprocess.childEnvironment` (`Curl.run` adds `--noproxy '*'`, which would bypass `-x`).
enum ProxyCurl {
    static func run(proxy: String, _ arguments: [String], environment: [String: String] = [:], timeout: Double = 60) async throws -> Curl.Response {
        let result = try await Subprocess.run(
            [Interop.curl, "-sS", "--max-time", String(Int(timeout)), "-x", proxy, "-w", Curl.marker + "%{http_code}"] + arguments,
            environment: environment, timeout: timeout + 10)
        guard let range = result.stdout.range(of: Curl.marker, options: .backwards),
              let status = Int(result.stdout[range.upperBound...].trimmingCharacters(in: .whitespacesAndNewlines)) else {
            return Curl.Response(status: -1, body: result.stdout, stderr: "curl: \(result)")
        }
        return Curl.Response(status: status, body: String(result.stdout[..<range.lowerBound]), stderr: result.stderr)
    }

    /// Several URLs on one curl invocation (one kept-alive connection to the proxy): the status
    /// of each, in order, and curl's stderr.
    static func statuses(proxy: String, urls: [String], extra: [String] = [], timeout: Double = 120) async throws -> (statuses: [Int], bodies: [String], stderr: String) {
        // One -w for all URLs (curl applies it to each transfer): body, marker, status, newline.
        let arguments = [Interop.curl, "-sS", "--max-time", String(Int(timeout)), "-x", proxy, "-w", Curl.marker + "%{http_code}\n"] + extra + urls
        let result = try await Subprocess.run(arguments, timeout: timeout + 10)
        return Curl.transfers(result)
    }

    /// `curl -x PROXY URL | sha256sum`: the body is hashed as it streams, never stored.
    static func downloadSHA256(proxy: String, url: String, extra: [String] = [], timeout: Double = 150) async throws -> (sha256: String, stderr: String, status: Int32) {
        let script = "set -o pipefail; \"$@\" | sha256sum | cut -d' ' -f1"
        let result = try await Subprocess.run(
            ["/bin/bash", "-c", script, "download", Interop.curl, "-sS", "--fail", "--max-time", String(Int(timeout)), "-x", proxy] + extra + [url],
            timeout: timeout + 10)
        return (result.stdout.trimmingCharacters(in: .whitespacesAndNewlines), result.stderr, result.status)
    }
}

/// Python requests (`session.proxies`) as a proxy client, through
/// scripts/interop/requests_ntlm_client.py without NTLM of its own.
enum ProxyRequests {
    static func run(proxy: String, url: String, _ arguments: [String] = [], timeout: Double = 120) async throws -> JSON {
        try await Interop.needPython()
        let result = try await Subprocess.run(
            [Interop.python, Interop.script("requests_ntlm_client.py"), "--proxy", proxy, "--timeout", "60"] + arguments + [url],
            timeout: timeout)
        let json = JSON(parsing: result.stdout)
        if json.isNull || json.keys.isEmpty { return JSON(["error": "\(result)"]) }
        return json
    }
}

/// A body file of `count` deterministic bytes for curl's `--data-binary @FILE`, with its digest.
struct BodyFile {
    let url: URL
    let sha256: String
    let count: Int

    init(count: Int) throws {
        let body = Bodies.deterministic(count)
        url = Subprocess.scratchFile("body")
        try Data(body).write(to: url)
        sha256 = Bodies.sha256(body)
        self.count = count
    }

    func remove() { try? FileManager.default.removeItem(at: url) }
}
