import Foundation
import Logging
import NIOCore
import NIOHTTP1
import NTLMTestSupport
import Testing
@testable import NTLMProxyCore

/// The tunnel-capable HTTP listener (`ListenerOptions.allowsTunnels`) with a test handler that
/// tunnels CONNECT directly to an in-process echo upstream: the 200, early bytes, refusals
/// that keep the connection, and the response framing of the hand-built pipeline.
@Suite("Tunnel-capable HTTP listener")
struct TunnelCapableListenerTests {
    struct Stack {
        let listener: ProxyListener
        let echo: EchoUpstream
        let recorder: TunnelRecorder
        let task: Task<Void, Error>

        var port: Int { listener.port }

        func stop() async {
            task.cancel()
            await listener.close()
            await echo.stop()
        }
    }

    static func start() async throws -> Stack {
        let echo = try await EchoUpstream.start()
        let recorder = TunnelRecorder()
        let listener = try await ProxyListener.bind(ListenerOptions(port: 0, allowsTunnels: true), handler: TestConnectHandler(recorder: recorder), logger: Logger(label: "test.tunnel-listener"))
        let task = Task { try await listener.serve() }
        return Stack(listener: listener, echo: echo, recorder: recorder, task: task)
    }

    static func connectRequest(_ target: String, version: String = "HTTP/1.1") -> String {
        "CONNECT \(target) \(version)\r\nHost: \(target)\r\nUser-Agent: test\r\n\r\n"
    }

    @Test func connectAnswers200WithoutFramingHeadersAndTunnelsBothWays() async throws {
        let stack = try await Self.start()
        defer { Task { await stack.stop() } }
        let socket = try await TestSocket.connect(port: stack.port)
        let echoPort = stack.echo.port
        let (response, echoed, eof) = try await offload { () throws -> (TestSocket.Response, [UInt8], Bool) in
            try socket.send(Self.connectRequest("127.0.0.1:\(echoPort)"))
            let response = try socket.readResponse(method: "CONNECT")
            try socket.send("hello through the tunnel")
            let echoed = try socket.receive(exactly: 24)
            socket.shutdownWrite()
            return (response, echoed, try socket.atEOF())
        }
        #expect(response.status == 200)
        #expect(response.reason == "Connection established")
        #expect(response.header("content-length") == nil)
        #expect(response.header("transfer-encoding") == nil)
        #expect(response.header("connection") == nil)
        #expect(String(decoding: echoed, as: UTF8.self) == "hello through the tunnel")
        #expect(eof)
        let statistics = await stack.recorder.waitFor(1)
        #expect(statistics.first?.bytesClientToUpstream == 24)
        #expect(statistics.first?.bytesUpstreamToClient == 24)
        #expect(statistics.first?.failure == nil)
    }

    @Test func bytesPipelinedAfterTheConnectHeadReachUpstreamFirst() async throws {
        let stack = try await Self.start()
        defer { Task { await stack.stop() } }
        let socket = try await TestSocket.connect(port: stack.port)
        let echoPort = stack.echo.port
        let early = "EARLY-BYTES-IN-THE-SAME-PACKET"
        let (response, echoed) = try await offload { () throws -> (TestSocket.Response, [UInt8]) in
            try socket.send(Self.connectRequest("127.0.0.1:\(echoPort)") + early)
            let response = try socket.readResponse(method: "CONNECT")
            try socket.send("+later")
            return (response, try socket.receive(exactly: early.utf8.count + 6))
        }
        #expect(response.status == 200)
        #expect(String(decoding: echoed, as: UTF8.self) == early + "+later")
        #expect(stack.echo.firstBytes.first.map { String(decoding: $0, as: UTF8.self).hasPrefix(early) } == true)
    }

    @Test func earlyBytesAndHalfCloseBeforeTheTunnelIsUpAreKept() async throws {
        let stack = try await Self.start()
        defer { Task { await stack.stop() } }
        let socket = try await TestSocket.connect(port: stack.port)
        let echoPort = stack.echo.port
        let (response, rest) = try await offload { () throws -> (TestSocket.Response, [UInt8]) in
            try socket.send(Self.connectRequest("127.0.0.1:\(echoPort)") + "ping")
            socket.shutdownWrite()
            let response = try socket.readResponse(method: "CONNECT")
            return (response, try socket.receiveUntilEOF())
        }
        #expect(response.status == 200)
        #expect(String(decoding: rest, as: UTF8.self) == "ping")
        let statistics = await stack.recorder.waitFor(1)
        #expect(statistics.first?.bytesClientToUpstream == 4)
    }

    @Test func refusedConnectCarriesItsBodyAndKeepsTheConnection() async throws {
        let stack = try await Self.start()
        defer { Task { await stack.stop() } }
        let socket = try await TestSocket.connect(port: stack.port)
        let (refusal, next) = try await offload { () throws -> (TestSocket.Response, TestSocket.Response) in
            try socket.send(Self.connectRequest("refuse.test:443"))
            let refusal = try socket.readResponse(method: "CONNECT")
            try socket.send("GET /after-refusal HTTP/1.1\r\nHost: x\r\n\r\n")
            return (refusal, try socket.readResponse())
        }
        #expect(refusal.status == 407)
        #expect(refusal.header("proxy-authenticate") == "NTLM")
        #expect(refusal.header("content-length") == String(TestConnectHandler.refusalBody.utf8.count))
        #expect(refusal.text == TestConnectHandler.refusalBody)
        #expect(refusal.header("connection") == nil)
        #expect(next.status == 200)
        #expect(next.text == "hello from /after-refusal\n")
    }

    @Test func requestsPipelinedBehindARefusedConnectAreServed() async throws {
        let stack = try await Self.start()
        defer { Task { await stack.stop() } }
        let socket = try await TestSocket.connect(port: stack.port)
        let echoPort = stack.echo.port
        let (refusal, get, tunnel, echoed) = try await offload { () throws -> (TestSocket.Response, TestSocket.Response, TestSocket.Response, [UInt8]) in
            // Refused CONNECT, a GET and a CONNECT that succeeds, all in one packet.
            try socket.send(Self.connectRequest("refuse.test:443") + "GET /second HTTP/1.1\r\nHost: x\r\n\r\n" + Self.connectRequest("127.0.0.1:\(echoPort)") + "tail")
            let refusal = try socket.readResponse(method: "CONNECT")
            let get = try socket.readResponse()
            let tunnel = try socket.readResponse(method: "CONNECT")
            return (refusal, get, tunnel, try socket.receive(exactly: 4))
        }
        #expect(refusal.status == 407)
        #expect(get.status == 200)
        #expect(get.text == "hello from /second\n")
        #expect(tunnel.status == 200)
        #expect(String(decoding: echoed, as: UTF8.self) == "tail")
    }

    @Test func refusalOverHTTP10SaysKeepAlive() async throws {
        let stack = try await Self.start()
        defer { Task { await stack.stop() } }
        let socket = try await TestSocket.connect(port: stack.port)
        let (refusal, next) = try await offload { () throws -> (TestSocket.Response, TestSocket.Response) in
            try socket.send(Self.connectRequest("refuse.test:443", version: "HTTP/1.0"))
            let refusal = try socket.readResponse(method: "CONNECT")
            try socket.send("GET /x HTTP/1.1\r\nHost: x\r\n\r\n")
            return (refusal, try socket.readResponse())
        }
        #expect(refusal.status == 407)
        #expect(refusal.header("connection")?.lowercased() == "keep-alive")
        #expect(refusal.text == TestConnectHandler.refusalBody)
        #expect(next.status == 200)
    }

    // MARK: framing on the hand-built pipeline

    @Test func headKeepsContentLengthAndSendsNoBody() async throws {
        let stack = try await Self.start()
        defer { Task { await stack.stop() } }
        let socket = try await TestSocket.connect(port: stack.port)
        let (head, headWithLength, next) = try await offload { () throws -> (TestSocket.Response, TestSocket.Response, TestSocket.Response) in
            try socket.send("HEAD /page HTTP/1.1\r\nHost: x\r\n\r\n")
            let head = try socket.readResponse(method: "HEAD")
            try socket.send("HEAD /head-length HTTP/1.1\r\nHost: x\r\n\r\n")
            let headWithLength = try socket.readResponse(method: "HEAD")
            // Any stray body byte would corrupt this response's status line.
            try socket.send("GET /next HTTP/1.1\r\nHost: x\r\n\r\n")
            return (head, headWithLength, try socket.readResponse())
        }
        #expect(head.status == 200)
        #expect(head.header("content-length") == String("hello from /page\n".utf8.count))
        #expect(headWithLength.header("content-length") == "1234")
        #expect(headWithLength.header("transfer-encoding") == nil)
        #expect(next.status == 200)
        #expect(next.text == "hello from /next\n")
    }

    @Test func noContentAndNotModifiedHaveNoBody() async throws {
        let stack = try await Self.start()
        defer { Task { await stack.stop() } }
        let socket = try await TestSocket.connect(port: stack.port)
        let (noContent, notModified, next) = try await offload { () throws -> (TestSocket.Response, TestSocket.Response, TestSocket.Response) in
            try socket.send("GET /204 HTTP/1.1\r\nHost: x\r\n\r\n")
            let noContent = try socket.readResponse()
            try socket.send("GET /304 HTTP/1.1\r\nHost: x\r\n\r\n")
            let notModified = try socket.readResponse()
            try socket.send("GET /next HTTP/1.1\r\nHost: x\r\n\r\n")
            return (noContent, notModified, try socket.readResponse())
        }
        #expect(noContent.status == 204)
        #expect(noContent.header("content-length") == nil)
        #expect(noContent.header("transfer-encoding") == nil)
        #expect(notModified.status == 304)
        #expect(notModified.header("content-length") == "99")
        #expect(notModified.header("transfer-encoding") == nil)
        #expect(next.text == "hello from /next\n")
    }

    @Test func bodyWithoutLengthIsChunkedForHTTP11() async throws {
        let stack = try await Self.start()
        defer { Task { await stack.stop() } }
        let socket = try await TestSocket.connect(port: stack.port)
        let (streamed, next) = try await offload { () throws -> (TestSocket.Response, TestSocket.Response) in
            try socket.send("GET /stream HTTP/1.1\r\nHost: x\r\n\r\n")
            let streamed = try socket.readResponse()
            try socket.send("GET /next HTTP/1.1\r\nHost: x\r\n\r\n")
            return (streamed, try socket.readResponse())
        }
        #expect(streamed.header("transfer-encoding") == "chunked")
        #expect(streamed.header("content-length") == nil)
        #expect(streamed.text == "part one, part two\n")
        #expect(next.text == "hello from /next\n")
    }

    @Test func bodyWithoutLengthIsCloseDelimitedForHTTP10() async throws {
        let stack = try await Self.start()
        defer { Task { await stack.stop() } }
        let socket = try await TestSocket.connect(port: stack.port)
        let streamed = try await offload { () throws -> TestSocket.Response in
            try socket.send("GET /stream HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
            return try socket.readResponse()
        }
        #expect(streamed.header("transfer-encoding") == nil)
        #expect(streamed.header("connection")?.lowercased() == "close")
        #expect(streamed.text == "part one, part two\n")
    }

    @Test func halfCloseAfterARequestStillGetsTheResponseThenCloses() async throws {
        let stack = try await Self.start()
        defer { Task { await stack.stop() } }
        let socket = try await TestSocket.connect(port: stack.port)
        let (response, eof) = try await offload { () throws -> (TestSocket.Response, Bool) in
            try socket.send("GET /last HTTP/1.1\r\nHost: x\r\n\r\n")
            socket.shutdownWrite()
            let response = try socket.readResponse()
            return (response, try socket.atEOF())
        }
        #expect(response.text == "hello from /last\n")
        #expect(eof)
    }

    @Test func halfCloseOnAnIdleKeptAliveConnectionCloses() async throws {
        let stack = try await Self.start()
        defer { Task { await stack.stop() } }
        let socket = try await TestSocket.connect(port: stack.port)
        let (response, eof) = try await offload { () throws -> (TestSocket.Response, Bool) in
            try socket.send("GET /first HTTP/1.1\r\nHost: x\r\n\r\n")
            let response = try socket.readResponse()
            socket.shutdownWrite()
            return (response, try socket.atEOF())
        }
        #expect(response.status == 200)
        #expect(eof)
    }

    @Test func halfCloseInTheMiddleOfAHeadIsABadRequest() async throws {
        let stack = try await Self.start()
        defer { Task { await stack.stop() } }
        let socket = try await TestSocket.connect(port: stack.port)
        let (response, eof) = try await offload { () throws -> (TestSocket.Response, Bool) in
            try socket.send("GET /cut HTTP/1.1\r\nHost: x\r\nX-Partial: ")
            socket.shutdownWrite()
            let response = try socket.readResponse()
            return (response, try socket.atEOF())
        }
        #expect(response.status == 400)
        #expect(eof)
    }

    @Test func framingDecisions() {
        func frame(_ status: HTTPResponseStatus, _ headers: HTTPHeaders = [:], method: HTTPMethod = .GET, request version: HTTPVersion = .http1_1, upgrade: Bool = false) -> (HTTPResponseFraming, HTTPHeaders) {
            var head = HTTPResponseHead(version: .http1_1, status: status, headers: headers)
            let framing = HTTPResponseFraming.frame(&head, answering: HTTPRequestSummary(method: method, version: version, asksForUpgrade: upgrade))
            return (framing, head.headers)
        }
        let established = frame(.ok, ["Content-Length": "0", "Transfer-Encoding": "chunked"], method: .CONNECT)
        #expect(established.0 == HTTPResponseFraming(body: .none, switchesToTunnel: true))
        #expect(!established.1.contains(name: "content-length") && !established.1.contains(name: "transfer-encoding"))
        let refused = frame(.proxyAuthenticationRequired, ["Content-Length": "42"], method: .CONNECT)
        #expect(refused.0 == HTTPResponseFraming(body: .contentLength, resetsParser: true))
        #expect(refused.1["content-length"] == ["42"])
        let refusedClosing = frame(.forbidden, ["Content-Length": "3", "Connection": "close"], method: .CONNECT)
        #expect(refusedClosing.0.resetsParser == false)
        #expect(frame(.ok, method: .HEAD).0.body == .none)
        #expect(frame(.ok, ["Content-Length": "7"], method: .HEAD).1["content-length"] == ["7"])
        #expect(frame(.ok, method: .HEAD).1["transfer-encoding"].isEmpty, "never chunked framing on a bodiless message")
        #expect(frame(.noContent, ["Content-Length": "0"]).1["content-length"].isEmpty)
        #expect(frame(.ok).0.body == .chunked)
        #expect(frame(.ok, request: .http1_0).0 == HTTPResponseFraming(body: .closeDelimited, closeAfter: true))
        #expect(frame(.ok, ["Content-Length": "5", "Transfer-Encoding": "chunked"]).1["transfer-encoding"].isEmpty)
        let upgraded = frame(.ok, ["Content-Length": "2"], upgrade: true)
        #expect(upgraded.0.closeAfter && upgraded.1["connection"] == ["close"])
    }

    @Test func tunnelCallsOnAnOrdinaryListenerThrowAClearError() async throws {
        struct Probe: ConnectionHandler {
            let errors: TunnelErrorBox
            func serve(_ connection: ServerConnection, logger: Logger) async {
                guard (try? await connection.nextRequestHead()) != nil else { return }
                do {
                    try await connection.refuseConnect(HTTPResponseHead(version: .http1_1, status: .forbidden), body: nil, keepAlive: false)
                } catch {
                    errors.set(error as? ServerTunnelError)
                }
                try? await connection.writeResponse(HTTPResponseHead(version: .http1_1, status: .ok, headers: ["Content-Length": "0", "Connection": "close"]), body: nil)
            }
        }
        let box = TunnelErrorBox()
        let listener = try await ProxyListener.bind(ListenerOptions(port: 0), handler: Probe(errors: box), logger: Logger(label: "test"))
        let task = Task { try await listener.serve() }
        defer { task.cancel(); Task { await listener.close() } }
        let socket = try await TestSocket.connect(port: listener.port)
        _ = try await offload { () throws -> TestSocket.Response in
            try socket.send(Self.connectRequest("example.com:443"))
            return try socket.readResponse()
        }
        #expect(box.value == .listenerNotTunnelCapable)
    }
}

final class TunnelErrorBox: @unchecked Sendable {
    private let lock = NSLock()
    private var stored: ServerTunnelError?
    func set(_ error: ServerTunnelError?) { lock.lock(); stored = error; lock.unlock() }
    var value: ServerTunnelError? { lock.lock(); defer { lock.unlock() }; return stored }
}
