import Foundation
import Crypto
import Logging
import NIOCore
import NIOHTTP1
@testable import NTLMProxyCore

/// A plain in-process backend for tests: answers every request with the headers it
/// received, the length and SHA-256 of the body, as `name: value` lines.
///
/// `/persistent-auth` adds `Persistent-Auth: true` (as IIS does after a Kerberos logon).
/// `/broken` is the exception: a 200 announcing `brokenLength` bytes, of which only
/// `brokenSent` come before the connection closes.
struct EchoBackend: ConnectionHandler {
    static let brokenLength = 100_000
    static let brokenSent = 1_000

    func serve(_ connection: ServerConnection, logger: Logger) async {
        do {
            while let head = try await connection.nextRequestHead() {
                var hasher = SHA256()
                var length = 0
                while let chunk = try await connection.nextBodyChunk() {
                    length += chunk.readableBytes
                    chunk.withUnsafeReadableBytes { hasher.update(bufferPointer: $0) }
                }
                if head.uri == "/broken" {
                    var headers = HTTPHeaders()
                    headers.add(name: "Content-Length", value: String(Self.brokenLength))
                    try await connection.writeHead(HTTPResponseHead(version: head.version, status: .ok, headers: headers))
                    try await connection.writeBody(ByteBuffer(repeating: 0x61, count: Self.brokenSent))
                    return
                }
                var lines = ["method: \(head.method)", "uri: \(head.uri)", "length: \(length)"]
                lines.append("sha256: " + hasher.finalize().map { String(format: "%02x", $0) }.joined())
                for header in head.headers { lines.append("header \(header.name.lowercased()): \(header.value)") }
                let body = lines.joined(separator: "\n") + "\n"
                var headers = HTTPHeaders()
                headers.add(name: "Content-Length", value: String(body.utf8.count))
                headers.add(name: "Content-Type", value: "text/plain")
                if head.uri == "/persistent-auth" { headers.add(name: "Persistent-Auth", value: "true") }
                try await connection.writeResponse(HTTPResponseHead(version: head.version, status: .ok, headers: headers), body: ByteBuffer(string: body))
            }
        } catch {}
    }

    /// Starts an echo backend on a free port.
    static func start() async throws -> (ProxyListener, Task<Void, Error>) {
        let listener = try await ProxyListener.bind(ListenerOptions(port: 0), handler: EchoBackend(), logger: Logger(label: "test.echo"))
        let task = Task { try await listener.serve() }
        return (listener, task)
    }
}

/// Lines `key: value` of an EchoBackend answer.
func echoField(_ text: String, _ key: String) -> String? {
    for line in text.split(separator: "\n") where line.hasPrefix(key + ": ") {
        return String(line.dropFirst(key.count + 2))
    }
    return nil
}
