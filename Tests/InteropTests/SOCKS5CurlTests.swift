import NTLMTestSupport
import Foundation
import Logging
import NIOCore
import NIOHTTP1
import NIOPosix
import Testing
@testable import NTLMProxyCore

/// curl (an independent SOCKS5 client) through our SOCKS5 listener to an in-process HTTP
/// server on 127.0.0.1: no authentication, and RFC 1929 username/password. Needs curl
/// (skipped without it unless NTLMPROXY_REQUIRE_INTEROP=1).
@Suite("SOCKS5 with curl")
struct SOCKS5CurlTests {
    /// Answers every GET with a fixed 3 MiB body (so the splice carries more than one buffer).
    struct BigPage: ConnectionHandler {
        static let body = ByteBuffer(bytes: Bodies.deterministic(3 * 1024 * 1024))
        func serve(_ connection: ServerConnection, logger: Logger) async {
            do {
                while let head = try await connection.nextRequestHead() {
                    let headers: HTTPHeaders = ["Content-Length": String(Self.body.readableBytes), "Content-Type": "application/octet-stream"]
                    try await connection.writeResponse(HTTPResponseHead(version: head.version, status: .ok, headers: headers), body: Self.body)
                }
            } catch {}
        }
    }

    static func run(users: [SOCKS5UserConfiguration], proxy: (Int) -> [String]) async throws -> Subprocess.Result {
        try Interop.need(FileManager.default.isExecutableFile(atPath: Interop.curl), "no \(Interop.curl)")
        let origin = try await ProxyListener.bind(ListenerOptions(port: 0), handler: BigPage(), logger: Logger(label: "test.origin"))
        let socks = try await SOCKS5Listener.bind(RawListenerOptions(port: 0), users: users, opener: DirectTunnelOpener(group: MultiThreadedEventLoopGroup.singleton), logger: Logger(label: "test.socks5"))
        let tasks = [Task { try await origin.serve() }, Task { try await socks.serve() }]
        defer {
            for task in tasks { task.cancel() }
            Task { await origin.close(); await socks.close() }
        }
        let output = FileManager.default.temporaryDirectory.appendingPathComponent("socks5-curl-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: output) }
        var result = try await Subprocess.run([Interop.curl, "-sS", "--max-time", "30", "-o", output, "-w", "%{http_code} %{size_download}"] + proxy(socks.port) + ["http://127.0.0.1:\(origin.port)/big"], timeout: 40)
        let downloaded = (try? Data(contentsOf: URL(fileURLWithPath: output))) ?? Data()
        if downloaded != Data(BigPage.body.readableBytesView) { result.stdout += " (body differs)" }
        return result
    }

    @Test func curlWithoutAuthentication() async throws {
        let result = try await Self.run(users: []) { ["--socks5-hostname", "127.0.0.1:\($0)"] }
        #expect(result.status == 0, "\(result)")
        #expect(result.stdout == "200 \(3 * 1024 * 1024)", "\(result)")
    }

    @Test func curlWithUsernameAndPassword() async throws {
        let users = [SOCKS5UserConfiguration(name: "alice", password: "s3cret")]
        let good = try await Self.run(users: users) { ["--proxy", "socks5h://alice:s3cret@127.0.0.1:\($0)"] }
        #expect(good.status == 0, "\(good)")
        #expect(good.stdout == "200 \(3 * 1024 * 1024)", "\(good)")
        let bad = try await Self.run(users: users) { ["--proxy", "socks5h://alice:wrong@127.0.0.1:\($0)"] }
        #expect(bad.status != 0, "a wrong password must fail: \(bad)")
    }
}
