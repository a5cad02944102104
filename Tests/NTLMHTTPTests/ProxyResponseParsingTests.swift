import NIOCore
import NIOHTTP1
import Testing
@testable import NTLMHTTP

/// The raw-bytes reading of CONNECT responses: head parser, body framing, the reader that
/// combines them, and the CONNECT request head.
@Suite("proxy response parsing")
struct ProxyResponseParsingTests {
    static func parseHead(_ text: String, chunkSize: Int = .max) throws -> (HTTPResponseHead?, ByteBuffer) {
        var parser = HTTPResponseHeadParser()
        var all = ByteBuffer(string: text)
        var rest = ByteBuffer()
        while all.readableBytes > 0 {
            var piece = all.readSlice(length: min(chunkSize, all.readableBytes)) ?? ByteBuffer()
            if let head = try parser.parse(&piece) {
                rest.writeBuffer(&piece)
                rest.writeBuffer(&all)
                return (head, rest)
            }
        }
        return (nil, rest)
    }

    @Test(arguments: [1, 2, 7, 1000])
    func headsSplitAnywhereParseTheSame(chunkSize: Int) throws {
        let text = "HTTP/1.1 407 Proxy Authentication Required\r\nProxy-Authenticate: NTLM\r\nProxy-Authenticate: Negotiate\r\nContent-Length: 3\r\n\r\nabc"
        let (head, rest) = try Self.parseHead(text, chunkSize: chunkSize)
        let parsed = try #require(head)
        #expect(parsed.status == .proxyAuthenticationRequired)
        #expect(parsed.version == .http1_1)
        #expect(parsed.headers["proxy-authenticate"] == ["NTLM", "Negotiate"])
        #expect(String(buffer: rest) == "abc")
    }

    @Test func bareLFObsFoldAndEmptyReason() throws {
        let (head, _) = try Self.parseHead("HTTP/1.0 200\nX-Long: one\n  two\n\n")
        let parsed = try #require(head)
        #expect(parsed.status.code == 200)
        #expect(parsed.version == .http1_0)
        #expect(parsed.headers.first(name: "x-long") == "one two")
        #expect(!parsed.isKeepAlive)
    }

    @Test(arguments: [
        "HTTP/1.1 200 OK\r\nBad Name: x\r\n\r\n",
        "HTTP/1.1 200 OK\r\nX-Bad : 1\r\n\r\n",
        "HTTP/1.1 200 OK\r\nX: a\rb\r\n\r\n",
        "HTTP/1.1 2000 OK\r\n\r\n",
        "HTTP/1.1 099 OK\r\n\r\n",
        "HTTP/1.1 200OK\r\n\r\n",
        "ICY 200 OK\r\n\r\n",
        "\r\n\r\n",
        "HTTP/1.1 200 OK\r\n continuation first\r\n\r\n",
        "HTTP/1.1 200 OK\r\nX: \u{0}\r\n\r\n",
    ])
    func invalidHeadsAreRefused(text: String) {
        #expect(throws: HTTPMessageError.self) { _ = try Self.parseHead(text) }
    }

    @Test func headSizeIsBounded() {
        var parser = HTTPResponseHeadParser(limit: 1024)
        var bytes = ByteBuffer(string: "HTTP/1.1 200 OK\r\nX: " + String(repeating: "a", count: 2000))
        #expect(throws: HTTPMessageError.headTooLarge(limit: 1024)) { _ = try parser.parse(&bytes) }
    }

    @Test func fieldCountIsBounded() {
        let text = "HTTP/1.1 200 OK\r\n" + String(repeating: "X: 1\r\n", count: 300) + "\r\n"
        #expect(throws: HTTPMessageError.tooManyFields(limit: 256)) { _ = try Self.parseHead(text) }
    }

    // MARK: Body framing

    static func head(_ status: Int, _ fields: [(String, String)], version: HTTPVersion = .http1_1) -> HTTPResponseHead {
        HTTPResponseHead(version: version, status: HTTPResponseStatus(statusCode: status), headers: HTTPHeaders(fields))
    }

    static func readBody(_ reader: inout HTTPResponseBodyReader, _ text: String, chunkSize: Int = .max) throws -> (body: String, complete: Bool, rest: String) {
        var all = ByteBuffer(string: text)
        var body = ""
        var complete = false
        var rest = ""
        while all.readableBytes > 0 {
            var piece = all.readSlice(length: min(chunkSize, all.readableBytes)) ?? ByteBuffer()
            complete = try reader.read(&piece) { body += String(buffer: $0) }
            if complete {
                rest = String(buffer: piece) + String(buffer: all)
                break
            }
        }
        return (body, complete, rest)
    }

    @Test func framingFollowsRFC9112Section6_3() throws {
        #expect(try HTTPResponseBodyReader.framing(responseTo: .CONNECT, head: Self.head(200, [("Content-Length", "10")])) == (.none, false))
        #expect(try HTTPResponseBodyReader.framing(responseTo: .CONNECT, head: Self.head(407, [("Content-Length", "10")])) == (.length(10), false))
        #expect(try HTTPResponseBodyReader.framing(responseTo: .CONNECT, head: Self.head(407, [("Content-Length", "10, 10")])) == (.length(10), false))
        #expect(try HTTPResponseBodyReader.framing(responseTo: .GET, head: Self.head(204, [])) == (.none, false))
        #expect(try HTTPResponseBodyReader.framing(responseTo: .GET, head: Self.head(407, [])) == (.untilClose, true))
        #expect(try HTTPResponseBodyReader.framing(responseTo: .GET, head: Self.head(407, [("Transfer-Encoding", "gzip, chunked")])) == (.chunked, false))
        #expect(try HTTPResponseBodyReader.framing(responseTo: .GET, head: Self.head(407, [("Transfer-Encoding", "chunked"), ("Content-Length", "3")])) == (.chunked, true))
        #expect(try HTTPResponseBodyReader.framing(responseTo: .GET, head: Self.head(407, [("Transfer-Encoding", "gzip")])) == (.untilClose, true))
        #expect(throws: HTTPMessageError.invalidContentLength) { try HTTPResponseBodyReader.framing(responseTo: .GET, head: Self.head(407, [("Content-Length", "1"), ("Content-Length", "2")])) }
        #expect(throws: HTTPMessageError.invalidContentLength) { try HTTPResponseBodyReader.framing(responseTo: .GET, head: Self.head(407, [("Content-Length", "-1")])) }
        #expect(throws: HTTPMessageError.invalidContentLength) { try HTTPResponseBodyReader.framing(responseTo: .GET, head: Self.head(407, [("Content-Length", "99999999999999999999")])) }
        #expect(throws: HTTPMessageError.invalidTransferEncoding) { try HTTPResponseBodyReader.framing(responseTo: .GET, head: Self.head(407, [("Transfer-Encoding", "chunked")], version: .http1_0)) }
    }

    @Test(arguments: [1, 3, 1000])
    func chunkedBodiesWithExtensionsAndTrailers(chunkSize: Int) throws {
        var reader = HTTPResponseBodyReader(framing: .chunked)
        let text = "5;name=value\r\nhello\r\n7 \r\n, world\r\n0\r\nX-Trailer: yes\r\n\r\nNEXT"
        let (body, complete, rest) = try Self.readBody(&reader, text, chunkSize: chunkSize)
        #expect(body == "hello, world")
        #expect(complete)
        #expect(rest == "NEXT")
    }

    @Test(arguments: ["zz\r\n", "\r\n", "5\r\nhelloXX", "5\rx", "fffffffffffffffffff\r\n", "5;\u{1}\r\n"])
    func badChunkingIsRefused(text: String) {
        var reader = HTTPResponseBodyReader(framing: .chunked)
        #expect(throws: HTTPMessageError.self) { _ = try Self.readBody(&reader, text) }
    }

    @Test func chunkLinesAndTrailersAreBounded() {
        var reader = HTTPResponseBodyReader(framing: .chunked)
        #expect(throws: HTTPMessageError.chunkLineTooLong) { _ = try Self.readBody(&reader, "1;" + String(repeating: "x", count: 5000) + "\r\n") }
        var trailers = HTTPResponseBodyReader(framing: .chunked)
        #expect(throws: HTTPMessageError.trailersTooLarge) { _ = try Self.readBody(&trailers, "0\r\n" + String(repeating: "X: y\r\n", count: 20_000)) }
    }

    @Test func lengthAndUntilCloseBodies() throws {
        var length = HTTPResponseBodyReader(framing: .length(5))
        let (body, complete, rest) = try Self.readBody(&length, "helloworld", chunkSize: 2)
        #expect(body == "hello" && complete && rest == "world")
        var untilClose = HTTPResponseBodyReader(framing: .untilClose)
        let (all, done, _) = try Self.readBody(&untilClose, "everything")
        #expect(all == "everything" && !done)
        try untilClose.inputEnded()
        #expect(untilClose.isComplete)
        var cut = HTTPResponseBodyReader(framing: .length(10))
        _ = try Self.readBody(&cut, "abc")
        #expect(throws: HTTPMessageError.truncatedBody) { try cut.inputEnded() }
    }

    // MARK: The CONNECT response reader

    @Test func interimResponsesAreSkippedAndA2xxEndsTheExchange() throws {
        var reader = ConnectResponseReader(skipLimit: 1 << 20)
        let event = try reader.receive(ByteBuffer(string: "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 Connection established\r\nContent-Length: 99\r\n\r\nSSH-2.0"))
        guard case .established(let head, let rest) = event else {
            Issue.record("expected established")
            return
        }
        #expect(head.status == .ok)
        #expect(rest.map { String(buffer: $0) } == "SSH-2.0")
    }

    @Test func aRefusalKeepsAtMost64KiBAndKnowsWhetherTheConnectionLives() throws {
        var reader = ConnectResponseReader(skipLimit: 1 << 20)
        let big = String(repeating: "x", count: 100_000)
        let event = try reader.receive(ByteBuffer(string: "HTTP/1.1 407 No\r\nContent-Length: 100000\r\n\r\n" + big))
        guard case .refused(_, let body, let reusable) = event else {
            Issue.record("expected refused")
            return
        }
        #expect(body.readableBytes == 65536)
        #expect(reusable)

        var closing = ConnectResponseReader(skipLimit: 1 << 20)
        let closed = try closing.receive(ByteBuffer(string: "HTTP/1.1 407 No\r\nConnection: close\r\nContent-Length: 2\r\n\r\nno"))
        guard case .refused(_, _, let closingReusable) = closed else {
            Issue.record("expected refused")
            return
        }
        #expect(!closingReusable)

        // Only Proxy-Connection says keep-alive: HTTP/1.0 without Connection closes.
        var legacy = ConnectResponseReader(skipLimit: 1 << 20)
        let old = try legacy.receive(ByteBuffer(string: "HTTP/1.0 407 No\r\nProxy-Connection: keep-alive\r\nContent-Length: 2\r\n\r\nno"))
        guard case .refused(_, _, let legacyReusable) = old else {
            Issue.record("expected refused")
            return
        }
        #expect(!legacyReusable)
    }

    @Test func aBodyBeyondTheSkipLimitEndsTheExchangeWithoutTheConnection() throws {
        var reader = ConnectResponseReader(skipLimit: 1000)
        let event = try reader.receive(ByteBuffer(string: "HTTP/1.1 407 No\r\nContent-Length: 5000\r\n\r\n" + String(repeating: "y", count: 2000)))
        guard case .refused(_, let body, let reusable) = event else {
            Issue.record("expected refused")
            return
        }
        #expect(body.readableBytes == 2000)
        #expect(!reusable)
    }

    @Test func aBodyThatRunsToTheCloseCompletesOnInputEnd() throws {
        var reader = ConnectResponseReader(skipLimit: 1 << 20)
        #expect(try reader.receive(ByteBuffer(string: "HTTP/1.1 403 Forbidden\r\n\r\nnot here")) == nil)
        guard case .refused(let head, let body, let reusable) = try reader.inputEnded() else {
            Issue.record("expected refused")
            return
        }
        #expect(head.status == .forbidden)
        #expect(String(buffer: body) == "not here")
        #expect(!reusable)
    }

    @Test func bytesAfterARefusalAreUnsolicited() throws {
        var reader = ConnectResponseReader(skipLimit: 1 << 20)
        let event = try reader.receive(ByteBuffer(string: "HTTP/1.1 407 No\r\nContent-Length: 0\r\n\r\nextra"))
        guard case .refused(_, _, let reusable) = event else {
            Issue.record("expected refused")
            return
        }
        #expect(!reusable)
    }

    /// Random bytes never trap, whatever they are (deterministic generator).
    @Test func randomBytesNeverTrap() {
        var state: UInt64 = 0x9E37_79B9_7F4A_7C15
        func next() -> UInt8 {
            state ^= state << 13
            state ^= state >> 7
            state ^= state << 17
            return UInt8(truncatingIfNeeded: state)
        }
        let alphabet = Array("HTTP/1.1 200 407\r\n:;0123456789abcdefContent-Length Transfer-Encoding chunked \t".utf8)
        for _ in 0..<2000 {
            var reader = ConnectResponseReader(skipLimit: 4096)
            let count = Int(next()) * 2
            var bytes: [UInt8] = []
            for _ in 0..<count {
                let byte = next()
                bytes.append(byte < 200 ? alphabet[Int(byte) % alphabet.count] : byte)
            }
            _ = try? reader.receive(ByteBuffer(bytes: bytes))
            _ = try? reader.inputEnded()
        }
    }

    // MARK: The CONNECT request

    @Test func connectRequestHeadIsAuthorityFormAndDropsUnsafeFields() throws {
        var headers = HTTPHeaders()
        headers.add(name: "User-Agent", value: "ua")
        headers.add(name: "X-Evil", value: "a\r\nInjected: yes")
        headers.add(name: "Host", value: "ignored")
        let request = try ConnectRequestHead(host: "[::1]", port: 8443, headers: headers)
        #expect(request.unsafeFieldNames == ["X-Evil"])
        #expect(String(buffer: request.serialize()) == "CONNECT [::1]:8443 HTTP/1.1\r\nHost: [::1]:8443\r\nUser-Agent: ua\r\n\r\n")
        #expect(throws: NTLMHTTPClientError.self) { _ = try ConnectRequestHead(host: "a b", port: 443, headers: [:]) }
        #expect(throws: NTLMHTTPClientError.self) { _ = try ConnectRequestHead(host: "host", port: 0, headers: [:]) }
        #expect(HTTPProxyServer(host: "[FE80::1]", port: 3128).description == "[fe80::1]:3128")
    }
}
