import NTLMTestSupport
import Crypto
import Foundation
import Logging
import NIOCore
import NTLM
import NTLMHTTP
import NTLMProxyCore
#if canImport(Glibc)
import Glibc
#endif

/// The fixtures' users (scripts/interop/lib.sh DEFAULT_USERS).
enum Users {
    static let alice = "NTLMTEST\\alice"
    static let alicePassword = "Alice-Pass1"
    /// gss-ntlmssp's NTLM_USER_FILE format, as the acceptor's users file and curl's client file.
    static let aliceLine = "NTLMTEST:alice:Alice-Pass1\n"
}

/// Our loggers print nothing unless NTLMPROXY_INTEROP_LOG=1 (then everything, on stderr).
let quietLogger: Logger = {
    if Interop.environment["NTLMPROXY_INTEROP_LOG"] == "1" {
        var logger = Logger(label: "interop", factory: { StreamLogHandler.standardError(label: $0) })
        logger.logLevel = .debug
        return logger
    }
    return Logger(label: "interop", factory: { _ in SwiftLogNoOpLogHandler() })
}()

/// An in-process listener (gateway or acceptor) and what to stop with it.
struct InProcessProxy: StoppableFixture {
    let port: Int
    var isHTTPS = false
    let stopAction: @Sendable () async -> Void
    var url: String { "\(isHTTPS ? "https" : "http")://127.0.0.1:\(port)/" }

    func stop() async { await stopAction() }


    /// A listener from a configuration, through `ProxyRuntime` (the product's own wiring).
    /// With `tls` the listener serves HTTPS (`url` is then https://).
    static func runtime(_ mode: ListenerConfiguration.Mode, credentials: [CredentialConfiguration] = [], tls: ListenerTLSConfiguration? = nil) async throws -> InProcessProxy {
        let listener = ListenerConfiguration(name: "interop", address: ListenAddress(port: 0), mode: mode, tls: tls)
        let runtime = try await ProxyRuntime.start(ProxyConfiguration(credentials: credentials, listeners: [listener]), logger: quietLogger)
        let task = Task { try await runtime.run() }
        return InProcessProxy(port: runtime.listeners[0].port, isHTTPS: tls != nil) {
            await runtime.shutdown()
            task.cancel()
        }
    }

    /// A gateway listener through `ProxyRuntime`, like `ntlmproxy gateway`.
    static func gateway(backend: String, user: String = Users.alice, password: String = Users.alicePassword, trustRoots: String? = nil, channelBindings: Bool = true) async throws -> InProcessProxy {
        let credential = CredentialConfiguration(name: "svc", userName: user, password: Password(password), source: .prompt)
        let gateway = GatewayConfiguration(backend: try BackendURL(parsing: backend), credential: credential, trustRootsFile: trustRoots, channelBindings: channelBindings)
        return try await runtime(.gateway(gateway), credentials: [credential])
    }

    /// A gateway assembled by hand, for a client configuration the configuration file cannot
    /// express (e.g. Negotiate first).
    static func gateway(backend: String, user: String = Users.alice, password: String = Users.alicePassword, client configuration: NTLMHTTPClient.Configuration) async throws -> InProcessProxy {
        let client = NTLMHTTPClient(configuration: configuration, logger: quietLogger)
        let credential = HTTPCredential(userName: user, password: Password(password))
        let mode = GatewayMode(forwarder: Forwarder(client: client, backend: try BackendURL(parsing: backend), credential: credential))
        let listener = try await ProxyListener.bind(ListenerOptions(port: 0), handler: mode, logger: quietLogger)
        let task = Task { try await listener.serve() }
        return InProcessProxy(port: listener.port) {
            task.cancel()
            await listener.close()
            try? await client.shutdown()
        }
    }

    /// An acceptor listener (users from a gss-ntlmssp-format users file, domain NTLMTEST)
    /// forwarding to `backend` with `X-Remote-User`.
    static func acceptor(backend: String) async throws -> InProcessProxy {
        let usersFile = Subprocess.scratchFile("users")
        try Data(Users.aliceLine.utf8).write(to: usersFile)
        let users = try UsersFile.load(path: usersFile.path, defaultDomain: "NTLMTEST")
        let acceptor = AcceptorConfiguration(usersFile: usersFile.path, users: users, backend: try BackendURL(parsing: backend), domain: "NTLMTEST")
        return try await runtime(.acceptor(acceptor))
    }
}

/// A free TCP port on 127.0.0.1 (bound, read, released: a tiny race with other binders).
func freePort() throws -> Int {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    guard fd >= 0 else { throw RawHTTPConnection.Failure.connect(errno) }
    defer { close(fd) }
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_port = 0
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    let bound = withUnsafeMutablePointer(to: &address) { pointer in
        pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) == 0 && getsockname(fd, $0, &length) == 0 }
    }
    guard bound else { throw RawHTTPConnection.Failure.connect(errno) }
    return Int(UInt16(bigEndian: address.sin_port))
}

/// curl, with the status separated from the body.
enum Curl {
    struct Response: CustomStringConvertible {
        var status: Int
        var body: String
        var stderr: String
        var json: JSON { JSON(parsing: body) }
        var description: String { "HTTP \(status)\nbody: \(body.prefix(1500))\nstderr: \(stderr.suffix(3000))" }
    }

    static let marker = "\n__ntlmproxy_status__="

    static func run(_ arguments: [String], environment: [String: String] = [:], timeout: Double = 60) async throws -> Response {
        let result = try await Subprocess.run(
            [Interop.curl, "-sS", "--max-time", String(Int(timeout)), "--noproxy", "*", "-w", marker + "%{http_code}"] + arguments,
            environment: environment, timeout: timeout + 10)
        guard let range = result.stdout.range(of: marker, options: .backwards), let status = Int(result.stdout[range.upperBound...].trimmingCharacters(in: .whitespacesAndNewlines)) else {
            return Response(status: -1, body: result.stdout, stderr: "curl: \(result)")
        }
        return Response(status: status, body: String(result.stdout[..<range.lowerBound]), stderr: result.stderr)
    }

    /// A run of several URLs with `-w marker%{http_code}\n`: each status and body, in order,
    /// and curl's stderr.
    static func transfers(_ result: Subprocess.Result) -> (statuses: [Int], bodies: [String], stderr: String) {
        var statuses: [Int] = []
        var bodies: [String] = []
        var rest = Substring(result.stdout)
        while let range = rest.range(of: marker) {
            bodies.append(String(rest[..<range.lowerBound]))
            let after = rest[range.upperBound...]
            let line = after.prefix { $0 != "\n" }
            statuses.append(Int(line) ?? -1)
            rest = after.dropFirst(line.count + 1)
        }
        return (statuses, bodies, result.stderr + (result.timedOut ? "\n(killed: timeout)" : ""))
    }
}

/// Deterministic test bodies and digests.
enum Bodies {
    /// `count` bytes: a 64 KiB block of a simple non-periodic-looking pattern, repeated.
    static func deterministic(_ count: Int) -> [UInt8] {
        var block = [UInt8](repeating: 0, count: 65536)
        var state: UInt32 = 0x1234_5678
        for i in 0..<block.count {
            state = state &* 1_664_525 &+ 1_013_904_223
            block[i] = UInt8(truncatingIfNeeded: state >> 24)
        }
        var out: [UInt8] = []
        out.reserveCapacity(count)
        while out.count < count { out.append(contentsOf: block.prefix(count - out.count)) }
        return out
    }

    static func sha256(_ bytes: [UInt8]) -> String { SHA256.hash(data: bytes).hexString }

    /// SHA-256 of what echo_backend.py's `/download?bytes=n` sends: byte k is (k % 65536) % 251.
    static func downloadSHA256(_ n: Int) -> String {
        let block = (0..<65536).map { UInt8($0 % 251) }
        var hasher = SHA256()
        var left = n
        while left > 0 {
            let take = min(left, block.count)
            block.withUnsafeBufferPointer { hasher.update(bufferPointer: UnsafeRawBufferPointer(UnsafeBufferPointer(rebasing: $0[0..<take]))) }
            left -= take
        }
        return hasher.finalize().hexString
    }
}
