import NIOCore
import NIOHTTP1

/// One HTTP/1.1 request for ``NTLMHTTPClient``: method, absolute `http`/`https` URL, header
/// fields and an optional body.
///
/// The client owns the framing and authentication fields: it sets `Host` (unless given),
/// `Content-Length` or `Transfer-Encoding: chunked` from the body, `Authorization` when a
/// credential is passed to `execute`, and `User-Agent` from the configuration (unless given).
/// `Expect: 100-continue` is honoured on the leg that carries the body and never sent on an
/// authentication leg.
public struct NTLMHTTPRequest: Sendable {
    public var method: HTTPMethod
    /// An absolute URL: `http://host[:port]/path?query` or `https://...`. A fragment is
    /// dropped; user information (`user:password@`) is refused: pass a credential instead.
    public var url: String
    public var headers: HTTPHeaders
    public var body: Body?

    public init(url: String, method: HTTPMethod = .GET, headers: HTTPHeaders = [:], body: Body? = nil) {
        self.url = url
        self.method = method
        self.headers = headers
        self.body = body
    }

    /// A request body: bytes in memory (replayable, so an authentication round trip can
    /// resend them) or a stream of buffers, sent once with backpressure.
    public struct Body: Sendable {
        enum Storage: Sendable {
            case bytes(ByteBuffer)
            case stream(length: Int?, makeIterator: @Sendable () -> RequestBodyIterator)
        }

        let storage: Storage

        /// A body already in memory. It may be sent more than once (an authentication leg
        /// answered with a challenge is retried with it).
        public static func bytes(_ buffer: ByteBuffer) -> Body {
            Body(storage: .bytes(buffer))
        }

        /// A body already in memory, from bytes.
        public static func bytes(_ bytes: some Sequence<UInt8>) -> Body {
            Body(storage: .bytes(ByteBuffer(bytes: bytes)))
        }

        /// A body already in memory, from UTF-8 text.
        public static func string(_ text: String) -> Body {
            Body(storage: .bytes(ByteBuffer(string: text)))
        }

        /// A streamed body, read once, with backpressure: the next buffer is requested only
        /// when the connection can take it. `length` is the exact byte count
        /// (`Content-Length`), or `nil` for `Transfer-Encoding: chunked`.
        ///
        /// A stream cannot be read twice. The client avoids needing to: with a credential it
        /// authenticates before sending the body when it knows the upstream requires it; when
        /// it does not, it keeps a bounded replay copy
        /// (``NTLMHTTPClient/Configuration/replayBufferLimit``), and asks with
        /// `Expect: 100-continue` first for a larger or chunked stream. Only a server that
        /// ignores `Expect` and challenges after taking such a body makes the request fail
        /// with ``NTLMHTTPClientError/bodyNotReplayable`` (the next request to that host
        /// authenticates first).
        ///
        /// The sequence should end when its task is cancelled (`AsyncStream` does); a
        /// sequence that blocks forever also blocks the request past its deadline.
        public static func stream<S: AsyncSequence & Sendable>(_ sequence: S, length: Int?) -> Body where S.Element == ByteBuffer {
            Body(storage: .stream(length: length, makeIterator: { RequestBodyIterator(sequence) }))
        }

        /// The declared length: the buffer's size, the stream's `length`, or `nil` (chunked).
        public var length: Int? {
            switch storage {
            case .bytes(let buffer): return buffer.readableBytes
            case .stream(let length, _): return length
            }
        }

        /// Whether the body can be sent more than once as given (`.bytes`).
        public var isReplayable: Bool {
            if case .bytes = storage { return true }
            return false
        }
    }
}

/// A type-erased iterator over a request body stream; used by one task at a time.
final class RequestBodyIterator {
    private let nextBuffer: () async throws -> ByteBuffer?

    init<S: AsyncSequence>(_ sequence: S) where S.Element == ByteBuffer {
        var iterator = sequence.makeAsyncIterator()
        nextBuffer = { try await iterator.next() }
    }

    func next() async throws -> ByteBuffer? {
        try await nextBuffer()
    }
}

/// Where a request goes: scheme, host and port. Hosts compare case-insensitively.
struct Endpoint: Hashable, Sendable, CustomStringConvertible {
    enum Scheme: String, Sendable { case http, https }

    var scheme: Scheme
    /// Lowercased; an IPv6 address without brackets.
    var host: String
    var port: Int

    var isTLS: Bool { scheme == .https }
    var defaultPort: Int { scheme == .https ? 443 : 80 }

    /// The `Host` field value.
    var hostHeader: String {
        let name = host.contains(":") ? "[\(host)]" : host
        return port == defaultPort ? name : "\(name):\(port)"
    }

    var description: String { "\(scheme.rawValue)://\(hostHeader)" }
}

/// An absolute URL split into what the client needs, parsed without Foundation.
struct RequestTarget: Sendable {
    var endpoint: Endpoint
    /// Origin-form request target: path and query, at least `/`.
    var path: String

    init(parsing url: String) throws(NTLMHTTPClientError) {
        let bytes = Array(url.utf8)
        guard let colon = bytes.firstIndex(of: UInt8(ascii: ":")),
              bytes.count >= colon + 3, bytes[colon + 1] == UInt8(ascii: "/"), bytes[colon + 2] == UInt8(ascii: "/")
        else { throw .invalidURL("not an absolute http(s) URL") }
        let schemeName = String(decoding: bytes[..<colon], as: UTF8.self).lowercased()
        guard let scheme = Endpoint.Scheme(rawValue: schemeName) else {
            throw .invalidURL("unsupported scheme (only http and https)")
        }
        let authorityStart = colon + 3
        var authorityEnd = authorityStart
        while authorityEnd < bytes.count, bytes[authorityEnd] != UInt8(ascii: "/"), bytes[authorityEnd] != UInt8(ascii: "?"), bytes[authorityEnd] != UInt8(ascii: "#") {
            authorityEnd += 1
        }
        let authority = bytes[authorityStart..<authorityEnd]
        guard !authority.contains(UInt8(ascii: "@")) else {
            throw .invalidURL("user information in the URL is not supported; pass a credential")
        }
        var host: String
        var portText: ArraySlice<UInt8> = []
        if authority.first == UInt8(ascii: "[") {
            guard let close = authority.firstIndex(of: UInt8(ascii: "]")) else { throw .invalidURL("unterminated IPv6 address") }
            host = String(decoding: authority[(authority.startIndex + 1)..<close], as: UTF8.self)
            let rest = authority[(close + 1)...]
            if let first = rest.first {
                guard first == UInt8(ascii: ":") else { throw .invalidURL("garbage after IPv6 address") }
                portText = rest.dropFirst()
            }
        } else if let portColon = authority.firstIndex(of: UInt8(ascii: ":")) {
            host = String(decoding: authority[..<portColon], as: UTF8.self)
            portText = authority[(portColon + 1)...]
        } else {
            host = String(decoding: authority, as: UTF8.self)
        }
        host = host.lowercased()
        guard !host.isEmpty, host.utf8.allSatisfy(Self.isHostByte) else { throw .invalidURL("invalid host") }
        var port = scheme == .https ? 443 : 80
        if !portText.isEmpty {
            guard portText.count <= 5, portText.allSatisfy({ $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") }),
                  let value = Int(String(decoding: portText, as: UTF8.self)), (1...65535).contains(value)
            else { throw .invalidURL("invalid port") }
            port = value
        }
        endpoint = Endpoint(scheme: scheme, host: host, port: port)

        var pathEnd = authorityEnd
        while pathEnd < bytes.count, bytes[pathEnd] != UInt8(ascii: "#") { pathEnd += 1 }
        let pathBytes = bytes[authorityEnd..<pathEnd]
        guard pathBytes.allSatisfy({ $0 > 0x20 && $0 < 0x7F }) else {
            throw .invalidURL("path contains spaces, controls or non-ASCII bytes (percent-encode them)")
        }
        if pathBytes.isEmpty {
            path = "/"
        } else if pathBytes.first == UInt8(ascii: "?") {
            path = "/" + String(decoding: pathBytes, as: UTF8.self)
        } else {
            path = String(decoding: pathBytes, as: UTF8.self)
        }
    }

    /// A byte of a host as this client accepts it (lower-cased names, IP literals, zone ids).
    static func isHostByte(_ c: UInt8) -> Bool {
        switch c {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "0")...UInt8(ascii: "9"),
             UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "_"), UInt8(ascii: ":"), UInt8(ascii: "%"):
            return true
        default:
            return false
        }
    }
}
