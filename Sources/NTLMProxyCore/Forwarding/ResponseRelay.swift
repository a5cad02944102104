import NIOCore
import NIOHTTP1
import NTLMHTTP

/// Writes an upstream response to the client, for every mode that relays one: hop-by-hop
/// fields removed (RFC 9110 §7.6.1), `Via` added, the connection header the client's
/// persistence needs, the body streamed (none for HEAD).
struct ResponseRelay {
    var viaName: String
    /// Header fields removed after the hop-by-hop ones (e.g. a challenge the client cannot
    /// answer through us).
    var removing: [String] = []
    /// Fields put back after stripping (e.g. a relayed `Proxy-Authenticate`), then fields set.
    var restoring: [(String, String)] = []
    var setting: [(String, String)] = []
    /// Read 401 bodies up to 64 KiB whole, so they go out with a Content-Length (HTTP/1.0
    /// clients keep the connection, and with it an NTLM handshake), padded to this many
    /// bytes (0 = no padding). `nil` streams 401s like any response.
    var challengeBodyPadding: Int? = nil

    static let bufferedChallengeBodyLimit = 64 * 1024

    /// Writes `response` as the answer to `head`; returns the body bytes written. Any failure
    /// on the way is thrown as `ResponseInterrupted`, so the caller can still log the request.
    @discardableResult
    func write(_ response: NTLMHTTPResponse, for head: HTTPRequestHead, on connection: ServerConnection, keepAlive: Bool) async throws(ResponseInterrupted) -> Int {
        var written = 0
        do {
            try await write(response, for: head, on: connection, keepAlive: keepAlive, written: &written)
            return written
        } catch {
            throw ResponseInterrupted(status: Int(response.status.code), bytesWritten: written, cause: error)
        }
    }

    private func write(_ response: NTLMHTTPResponse, for head: HTTPRequestHead, on connection: ServerConnection, keepAlive: Bool, written: inout Int) async throws {
        var headers = response.headers
        HopByHopHeaders.strip(&headers)
        for name in removing { headers.remove(name: name) }
        for (name, value) in restoring { headers.add(name: name, value: value) }
        headers.add(name: "Via", value: "\(response.version.major).\(response.version.minor) \(viaName)")
        for (name, value) in setting { headers.replaceOrAdd(name: name, value: value) }
        SimpleResponses.connectionHeader(&headers, version: head.version, keepAlive: keepAlive)
        var iterator = response.body.makeAsyncIterator()
        if let padding = challengeBodyPadding, response.status == .unauthorized, head.method != .HEAD {
            var collected = ByteBuffer()
            var overflow: ByteBuffer? = nil
            while let chunk = try await iterator.next() {
                guard collected.readableBytes + chunk.readableBytes <= Self.bufferedChallengeBodyLimit else {
                    overflow = chunk
                    break
                }
                collected.writeImmutableBuffer(chunk)
            }
            guard let overflow else {
                if collected.readableBytes < padding {
                    let html = headers.first(name: "content-type")?.lowercased().contains("html") ?? false
                    collected.writeString(SimpleResponses.padding(from: collected.readableBytes, to: padding, html: html))
                    if !headers.contains(name: "content-type") { headers.add(name: "Content-Type", value: "text/html; charset=utf-8") }
                }
                headers.replaceOrAdd(name: "Content-Length", value: String(collected.readableBytes))
                try await connection.writeResponse(HTTPResponseHead(version: head.version, status: response.status, headers: headers), body: collected)
                written = collected.readableBytes
                return
            }
            try await connection.writeHead(HTTPResponseHead(version: head.version, status: response.status, headers: headers))
            for chunk in [collected, overflow] where chunk.readableBytes > 0 {
                written += chunk.readableBytes
                try await connection.writeBody(chunk)
            }
        } else {
            try await connection.writeHead(HTTPResponseHead(version: head.version, status: response.status, headers: headers))
        }
        if head.method != .HEAD {
            while let chunk = try await iterator.next() {
                written += chunk.readableBytes
                try await connection.writeBody(chunk)
            }
        }
        try await connection.writeEnd()
    }
}
