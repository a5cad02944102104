import NIOCore
import NIOHTTP1

/// How ``NTLMHTTPClient/openTunnel(host:port:via:credential:headers:pin:timeout:logger:)``
/// ended: a tunnel, or the proxy's refusal.
public enum ProxyTunnelResult: Sendable {
    case established(ProxyTunnel)
    case refused(ProxyTunnelRefusal)
}

/// A byte tunnel through a proxy (`CONNECT` answered with 2xx).
///
/// The channel carries raw bytes: every handler of the client was removed, and it no longer
/// belongs to the client (no pool, no pin; ``NTLMHTTPClient/shutdown()`` leaves it alone).
/// Remote half-closure is allowed (`ChannelOptions.allowRemoteHalfClosure`), and reading is
/// **off** (`autoRead` false) so that no byte is lost before your own handler is in place:
/// add it, then turn `autoRead` back on (or call `read()`). Close the channel when done.
public struct ProxyTunnel: Sendable {
    public let channel: any Channel
    /// Bytes the proxy sent right after the 2xx head (a server-speaks-first protocol), to be
    /// handled before anything read from the channel.
    public let initialBytes: ByteBuffer?
    public let status: HTTPResponseStatus
    public let headers: HTTPHeaders

    init(channel: any Channel, initialBytes: ByteBuffer?, status: HTTPResponseStatus, headers: HTTPHeaders) {
        self.channel = channel
        self.initialBytes = initialBytes
        self.status = status
        self.headers = headers
    }
}

/// The proxy's non-2xx answer to a `CONNECT`.
public struct ProxyTunnelRefusal: Sendable {
    public var status: HTTPResponseStatus
    public var headers: HTTPHeaders
    /// The proxy's body, up to 64 KiB (the rest was read and dropped).
    public var body: ByteBuffer
    /// Set when the proxy rejected our credential (a failed logon); never retried.
    public var authenticationFailure: HTTPAuthError?

    public init(status: HTTPResponseStatus, headers: HTTPHeaders, body: ByteBuffer, authenticationFailure: HTTPAuthError? = nil) {
        self.status = status
        self.headers = headers
        self.body = body
        self.authenticationFailure = authenticationFailure
    }
}

/// The head of a `CONNECT` request (RFC 9110 §9.3.6, RFC 9112 §3.2.3): authority-form
/// target and `Host`, then the given fields. Fields that could not be sent safely (a name
/// that is not a token, a value with CR, LF or NUL) are dropped.
struct ConnectRequestHead: Sendable {
    /// `host:port`, an IPv6 address in brackets.
    let authority: String
    var headers: HTTPHeaders

    init(host: String, port: Int, headers: HTTPHeaders) throws(NTLMHTTPClientError) {
        var name = host.lowercased()
        if name.hasPrefix("["), name.hasSuffix("]"), name.count >= 2 { name = String(name.dropFirst().dropLast()) }
        guard !name.isEmpty, name.utf8.allSatisfy(RequestTarget.isHostByte) else { throw .invalidURL("invalid CONNECT host") }
        guard (1...65535).contains(port) else { throw .invalidURL("invalid CONNECT port") }
        authority = name.contains(":") ? "[\(name)]:\(port)" : "\(name):\(port)"
        self.headers = headers
    }

    /// Names of the fields that were dropped as unsafe.
    var unsafeFieldNames: [String] {
        headers.compactMap { Self.isSafe(name: $0.name, value: $0.value) ? nil : $0.name }
    }

    func serialize() -> ByteBuffer {
        var buffer = ByteBuffer()
        buffer.writeString("CONNECT \(authority) HTTP/1.1\r\nHost: \(authority)\r\n")
        for (name, value) in headers where Self.isSafe(name: name, value: value) {
            let lowered = name.lowercased()
            if lowered == "host" || lowered == "content-length" || lowered == "transfer-encoding" { continue }
            buffer.writeString("\(name): \(value)\r\n")
        }
        buffer.writeString("\r\n")
        return buffer
    }

    static func isSafe(name: String, value: String) -> Bool {
        !name.isEmpty && name.utf8.allSatisfy(HTTPResponseHeadParser.isTokenByte)
            && value.utf8.allSatisfy(HTTPResponseHeadParser.isFieldValueByte)
    }
}
