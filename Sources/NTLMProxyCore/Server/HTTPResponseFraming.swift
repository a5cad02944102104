import NIOHTTP1

/// What the framing of a response needs to know about the request it answers.
struct HTTPRequestSummary: Equatable, Sendable {
    var method: HTTPMethod
    var version: HTTPVersion
    /// `Upgrade` with `Connection: upgrade` (not CONNECT): NIO's parser stops after such a
    /// request, so the connection cannot carry another one.
    var asksForUpgrade: Bool

    init(method: HTTPMethod, version: HTTPVersion, asksForUpgrade: Bool = false) {
        self.method = method
        self.version = version
        self.asksForUpgrade = asksForUpgrade
    }

    init(_ head: HTTPRequestHead) {
        let upgrade = head.method != .CONNECT && head.headers.contains(name: "upgrade")
            && head.headers[canonicalForm: "connection"].contains { $0.lowercased() == "upgrade" }
        self.init(method: head.method, version: head.version, asksForUpgrade: upgrade)
    }
}

/// How a response is delimited on the wire (RFC 9112 section 6.3), decided by us instead of
/// NIO's encoder: NIO frames every response to `CONNECT` as bodiless and drops its
/// Content-Length, which leaves a client waiting for the body of a 407 that never comes.
struct HTTPResponseFraming: Hashable, Sendable {
    enum Body: Hashable, Sendable {
        /// HEAD, 1xx, 204, 304, and a 2xx to CONNECT: no body bytes whatever the headers say.
        case none
        case contentLength
        case chunked
        /// HTTP/1.0 without Content-Length: the end of the body is the end of the connection.
        case closeDelimited
    }

    var body: Body
    /// The connection must close after this response.
    var closeAfter = false
    /// A 2xx to CONNECT: the connection becomes a tunnel after this head (RFC 9110 §9.3.6).
    var switchesToTunnel = false
    /// A refused CONNECT on a connection that stays open: NIO's request parser stopped at the
    /// CONNECT (it expects a tunnel) and must be replaced to read the next request.
    var resetsParser = false

    /// Adjusts the framing headers of a final (non-1xx) response `head` answering `request`
    /// (`nil` when there is none, e.g. an error answer to an unparsable request).
    static func frame(_ head: inout HTTPResponseHead, answering request: HTTPRequestSummary?) -> HTTPResponseFraming {
        let code = head.status.code
        let method = request?.method ?? .GET
        var framing: HTTPResponseFraming
        if method == .CONNECT && (200..<300).contains(code) {
            // RFC 9110 §9.3.6: no Content-Length or Transfer-Encoding in a 2xx to CONNECT.
            head.headers.remove(name: "content-length")
            head.headers.remove(name: "transfer-encoding")
            framing = HTTPResponseFraming(body: .none, switchesToTunnel: true)
        } else if code == 101 || code == 204 {
            // RFC 9110 §8.6 / RFC 9112 §6.1: neither field in a 1xx or 204.
            head.headers.remove(name: "content-length")
            head.headers.remove(name: "transfer-encoding")
            framing = HTTPResponseFraming(body: .none, closeAfter: code == 101)
        } else if method == .HEAD || code == 304 {
            // A given Content-Length states the size of the representation: keep it. Never
            // add chunked framing to a message that has no body.
            head.headers.remove(name: "transfer-encoding")
            framing = HTTPResponseFraming(body: .none)
        } else if head.headers.contains(name: "content-length") {
            // RFC 9112 §6.3: with both, Transfer-Encoding would win; we send the length only.
            head.headers.remove(name: "transfer-encoding")
            framing = HTTPResponseFraming(body: .contentLength)
        } else if Self.allowsChunked(head.version) && Self.allowsChunked(request?.version ?? .http1_1) {
            head.headers.replaceOrAdd(name: "transfer-encoding", value: "chunked")
            framing = HTTPResponseFraming(body: .chunked)
        } else {
            head.headers.remove(name: "transfer-encoding")
            framing = HTTPResponseFraming(body: .closeDelimited, closeAfter: true)
        }
        if request?.asksForUpgrade == true {
            // The parser stopped after that request; whether it did is not observable from
            // outside, so the connection is not reused.
            framing.closeAfter = true
        }
        if framing.closeAfter {
            head.headers.replaceOrAdd(name: "connection", value: "close")
        } else if method == .CONNECT && !framing.switchesToTunnel {
            framing.resetsParser = !head.headers[canonicalForm: "connection"].contains { $0.lowercased() == "close" }
        }
        return framing
    }

    private static func allowsChunked(_ version: HTTPVersion) -> Bool {
        version.major > 1 || (version.major == 1 && version.minor >= 1)
    }

    /// A 1xx (other than 101) head: informational, no body, no framing fields.
    static func frameInformational(_ head: inout HTTPResponseHead) {
        head.headers.remove(name: "content-length")
        head.headers.remove(name: "transfer-encoding")
    }
}
