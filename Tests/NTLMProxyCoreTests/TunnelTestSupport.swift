#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Crypto
import Foundation
import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOHTTP1
import NIOPosix
import NTLMTestSupport
@testable import NTLMProxyCore

/// A blocking TCP client on 127.0.0.1 for tunnel tests: exact bytes out, exact bytes in,
/// half-close. Call it through `offload` (never on the concurrency pool).
final class TestSocket: @unchecked Sendable {
    enum Failure: Error { case connect(Int32), send(Int32), closed, timeout, malformed(String) }

    struct Response {
        var status: Int
        var reason: String
        var headers: [(String, String)]
        var body: [UInt8]
        func header(_ name: String) -> String? { headers.first { $0.0.lowercased() == name.lowercased() }?.1 }
        var text: String { String(decoding: body, as: UTF8.self) }
    }

    let fd: Int32
    private var buffer: [UInt8] = []
    private var isOpen = true

    init(port: Int, timeoutSeconds: Int = 30) throws {
        do {
            fd = try connectLoopbackSocket(port: port, timeoutSeconds: timeoutSeconds)
        } catch {
            throw Failure.connect(error.code)
        }
    }

    deinit { if isOpen { close(fd) } }

    /// Closes with SO_LINGER 0: the peer gets a reset instead of a FIN.
    func reset() {
        guard isOpen else { return }
        var option = linger(l_onoff: 1, l_linger: 0)
        setsockopt(fd, SOL_SOCKET, SO_LINGER, &option, socklen_t(MemoryLayout<linger>.size))
        close(fd)
        isOpen = false
    }

    static func connect(port: Int) async throws -> TestSocket {
        try await offload { try TestSocket(port: port) }
    }

    func send(_ text: String) throws { try send(Array(text.utf8)) }

    func send(_ bytes: [UInt8]) throws {
        var offset = 0
        while offset < bytes.count {
            let sent = bytes[offset...].withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            guard sent > 0 else { throw Failure.send(errno) }
            offset += sent
        }
    }

    func shutdownWrite() {
        shutdown(fd, Int32(SHUT_WR))
    }

    /// Reads into the buffer; false at EOF.
    private func fill() throws -> Bool {
        var chunk = [UInt8](repeating: 0, count: 65536)
        let count = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
        if count == 0 { return false }
        guard count > 0 else { throw errno == EAGAIN || errno == EWOULDBLOCK ? Failure.timeout : Failure.closed }
        buffer.append(contentsOf: chunk[0..<count])
        return true
    }

    func receive(exactly count: Int) throws -> [UInt8] {
        while buffer.count < count {
            guard try fill() else { throw Failure.closed }
        }
        let out = Array(buffer[..<count])
        buffer.removeFirst(count)
        return out
    }

    /// Everything until the peer closes its side.
    func receiveUntilEOF() throws -> [UInt8] {
        while try fill() {}
        defer { buffer = [] }
        return buffer
    }

    /// Reads and hashes `count` bytes without keeping them (for large transfers).
    func receiveAndHash(_ count: Int, slowly delay: UInt32 = 0) throws -> String {
        var hasher = SHA256()
        var remaining = count
        if !buffer.isEmpty {
            let take = min(buffer.count, remaining)
            hasher.update(data: buffer[..<take])
            buffer.removeFirst(take)
            remaining -= take
        }
        var chunk = [UInt8](repeating: 0, count: 65536)
        while remaining > 0 {
            if delay > 0 { usleep(delay) }
            let want = min(chunk.count, remaining)
            let got = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, want, 0) }
            guard got > 0 else { throw Failure.closed }
            hasher.update(data: chunk[0..<got])
            remaining -= got
        }
        return hasher.finalize().map { String(format: "%02x", $0) }.joined()
    }

    /// True when the next read is EOF (nothing buffered, peer closed its side).
    func atEOF() throws -> Bool {
        if !buffer.isEmpty { return false }
        return try !fill()
    }

    private func readLine() throws -> String {
        while true {
            if let index = buffer.firstIndex(of: 0x0A) {
                var line = Array(buffer[..<index])
                buffer.removeFirst(index + 1)
                if line.last == 0x0D { line.removeLast() }
                return String(decoding: line, as: UTF8.self)
            }
            guard try fill() else { throw Failure.closed }
        }
    }

    /// Reads one response; the body is framed as the headers say (Content-Length, chunked,
    /// or up to EOF), none for HEAD/204/304.
    func readResponse(method: String = "GET") throws -> Response {
        let statusLine = try readLine()
        let parts = statusLine.split(separator: " ", maxSplits: 2)
        guard parts.count >= 2, let status = Int(parts[1]) else { throw Failure.malformed(statusLine) }
        var response = Response(status: status, reason: parts.count > 2 ? String(parts[2]) : "", headers: [], body: [])
        while true {
            let line = try readLine()
            if line.isEmpty { break }
            guard let colon = line.firstIndex(of: ":") else { throw Failure.malformed(line) }
            response.headers.append((String(line[..<colon]), line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)))
        }
        if method == "HEAD" || method == "CONNECT" && (200..<300).contains(status) || status == 204 || status == 304 || status < 200 {
            return response
        }
        if let length = response.header("content-length").flatMap({ Int($0) }) {
            response.body = try receive(exactly: length)
        } else if response.header("transfer-encoding")?.lowercased() == "chunked" {
            while true {
                let sizeLine = try readLine()
                guard let size = Int(sizeLine.split(separator: ";").first.map(String.init) ?? "", radix: 16) else { throw Failure.malformed(sizeLine) }
                if size == 0 { _ = try readLine(); break }
                response.body += try receive(exactly: size)
                _ = try readLine()
            }
        } else {
            response.body = try receiveUntilEOF()
        }
        return response
    }
}

func sha256Hex(_ bytes: [UInt8]) -> String {
    SHA256.hash(data: bytes).map { String(format: "%02x", $0) }.joined()
}

/// Deterministic pseudo-random bytes (a test pattern that is not all zeros).
func patternBytes(_ count: Int, seed: UInt64 = 0x9E37_79B9_7F4A_7C15) -> [UInt8] {
    var state = seed
    var bytes = [UInt8](repeating: 0, count: count)
    for index in 0..<count {
        state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
        bytes[index] = UInt8(truncatingIfNeeded: state >> 33)
    }
    return bytes
}

/// An NIO echo server on 127.0.0.1 (the tunnels' upstream): writes back what it reads, with
/// backpressure, and half-closes after the peer's EOF once everything is written back. When
/// `paused`, it reads nothing until `resume()`. Records what it received first on each connection.
final class EchoUpstream: Sendable {
    let channel: any Channel
    private let state: NIOLockedValueBox<(paused: Bool, connections: [any Channel], firstBytes: [[UInt8]])>

    var port: Int { channel.localAddress?.port ?? 0 }

    private init(channel: any Channel, state: NIOLockedValueBox<(paused: Bool, connections: [any Channel], firstBytes: [[UInt8]])>) {
        self.channel = channel
        self.state = state
    }

    static func start(paused: Bool = false) async throws -> EchoUpstream {
        let state = NIOLockedValueBox<(paused: Bool, connections: [any Channel], firstBytes: [[UInt8]])>((paused, [], []))
        let channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
            .childChannelOption(.allowRemoteHalfClosure, value: true)
            .childChannelOption(.autoRead, value: false)
            .childChannelInitializer { channel in
                let index = state.withLockedValue { state -> Int in
                    state.connections.append(channel)
                    state.firstBytes.append([])
                    return state.firstBytes.count - 1
                }
                let paused = state.withLockedValue { $0.paused }
                return channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(EchoHandler(paused: paused) { bytes in
                        state.withLockedValue { state in
                            if state.firstBytes[index].count < 4096 { state.firstBytes[index] += bytes.prefix(4096 - state.firstBytes[index].count) }
                        }
                    })
                }
            }
            .bind(host: "127.0.0.1", port: 0).get()
        return EchoUpstream(channel: channel, state: state)
    }

    /// The first bytes (up to 4 KiB) each connection received, in accept order.
    var firstBytes: [[UInt8]] { state.withLockedValue { $0.firstBytes } }
    var connectionCount: Int { state.withLockedValue { $0.connections.count } }

    func resume() {
        let connections = state.withLockedValue { state -> [any Channel] in
            state.paused = false
            return state.connections
        }
        for connection in connections {
            connection.pipeline.handler(type: EchoHandler.self).whenSuccess { $0.resume() }
        }
    }

    func stop() async {
        try? await channel.close()
        for connection in state.withLockedValue({ $0.connections }) { try? await connection.close() }
    }

    final class EchoHandler: ChannelDuplexHandler {
        typealias InboundIn = ByteBuffer
        typealias OutboundIn = ByteBuffer
        typealias OutboundOut = ByteBuffer
        private var paused: Bool
        private var context: ChannelHandlerContext?
        private var lastWrite: EventLoopFuture<Void>?
        private let record: ([UInt8]) -> Void

        init(paused: Bool, record: @escaping ([UInt8]) -> Void) {
            self.paused = paused
            self.record = record
        }

        func handlerAdded(context: ChannelHandlerContext) {
            self.context = context
            if !paused, context.channel.isActive { context.read() }
        }

        func channelActive(context: ChannelHandlerContext) {
            if !paused { context.read() }
            context.fireChannelActive()
        }

        func resume() {
            paused = false
            context?.read()
        }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            let buffer = unwrapInboundIn(data)
            record(Array(buffer.readableBytesView))
            lastWrite = context.write(wrapOutboundOut(buffer))
        }

        func channelReadComplete(context: ChannelHandlerContext) {
            context.flush()
            if context.channel.isWritable && !paused { context.read() }
        }

        func channelWritabilityChanged(context: ChannelHandlerContext) {
            if context.channel.isWritable && !paused { context.read() }
        }

        func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
            guard let event = event as? ChannelEvent, event == .inputClosed else { return }
            context.flush()
            let done = lastWrite ?? context.eventLoop.makeSucceededVoidFuture()
            done.assumeIsolated().whenComplete { _ in context.close(mode: .output, promise: nil) }
        }

        func errorCaught(context: ChannelHandlerContext, error: any Error) {
            context.close(promise: nil)
        }
    }
}

/// Records the statistics of tunnels served in tests.
final class TunnelRecorder: Sendable {
    private let box = NIOLockedValueBox<[TunnelStatistics]>([])
    func append(_ statistics: TunnelStatistics) { box.withLockedValue { $0.append(statistics) } }
    var all: [TunnelStatistics] { box.withLockedValue { $0 } }

    /// Waits (bounded by a count of polls, not a timed assertion) until `count` tunnels ended.
    func waitFor(_ count: Int) async -> [TunnelStatistics] {
        for _ in 0..<3000 {
            let current = all
            if current.count >= count { return current }
            try? await Task.sleep(for: .milliseconds(10))
        }
        return all
    }
}

/// A test forward handler on a tunnel-capable listener: CONNECT host:port directly (through
/// `DirectConnector`), `CONNECT refuse.test:…` → 407 with an HTML body (connection kept);
/// other requests answer per path to exercise response framing.
struct TestConnectHandler: ConnectionHandler {
    let recorder: TunnelRecorder

    static let refusalBody = "<!DOCTYPE html>\n<html><body><h1>407 Proxy Authentication Required</h1><p>ntlmproxy test refusal</p></body></html>\n"

    func serve(_ connection: ServerConnection, logger: Logger) async {
        do {
            while let head = try await connection.nextRequestHead() {
                if head.method == .CONNECT {
                    let (host, port) = Self.split(head.uri)
                    if host == "refuse.test" {
                        var headers = HTTPHeaders()
                        headers.add(name: "Proxy-Authenticate", value: "NTLM")
                        headers.add(name: "Content-Type", value: "text/html")
                        try await connection.refuseConnect(HTTPResponseHead(version: head.version, status: .proxyAuthenticationRequired, headers: headers), body: ByteBuffer(string: Self.refusalBody), keepAlive: true)
                        continue
                    }
                    let upstream = try await DirectConnector.connect(host: host, port: port, timeout: .seconds(5), group: MultiThreadedEventLoopGroup.singleton)
                    let statistics = try await connection.startTunnel(to: upstream, initialBytesToClient: nil)
                    recorder.append(statistics)
                    return
                }
                try await answer(head, on: connection)
            }
        } catch {
            logger.debug("test handler: \(error)")
        }
    }

    static func split(_ authority: String) -> (String, Int) {
        guard let colon = authority.lastIndex(of: ":") else { return (authority, 443) }
        return (String(authority[..<colon]), Int(authority[authority.index(after: colon)...]) ?? 443)
    }

    private func answer(_ head: HTTPRequestHead, on connection: ServerConnection) async throws {
        var headers = HTTPHeaders()
        let body = ByteBuffer(string: "hello from \(head.uri)\n")
        switch head.uri {
        case "/head-length":  // HEAD with a Content-Length: kept, no body
            headers.add(name: "Content-Length", value: "1234")
            try await connection.writeHead(HTTPResponseHead(version: head.version, status: .ok, headers: headers))
            try await connection.writeEnd()
        case "/204":
            headers.add(name: "Content-Length", value: "5")
            try await connection.writeHead(HTTPResponseHead(version: head.version, status: .noContent, headers: headers))
            try await connection.writeEnd()
        case "/304":
            headers.add(name: "Content-Length", value: "99")
            headers.add(name: "Transfer-Encoding", value: "chunked")
            try await connection.writeHead(HTTPResponseHead(version: head.version, status: .notModified, headers: headers))
            try await connection.writeEnd()
        case "/stream":  // no Content-Length: chunked for 1.1, close-delimited for 1.0
            try await connection.writeHead(HTTPResponseHead(version: head.version, status: .ok, headers: headers))
            try await connection.writeBody(ByteBuffer(string: "part one, "))
            try await connection.writeBody(ByteBuffer(string: "part two\n"))
            try await connection.writeEnd()
        default:
            headers.add(name: "Content-Length", value: String(body.readableBytes))
            if head.method == .HEAD {
                try await connection.writeHead(HTTPResponseHead(version: head.version, status: .ok, headers: headers))
                try await connection.writeBody(body)  // dropped by the framing
                try await connection.writeEnd()
            } else {
                try await connection.writeResponse(HTTPResponseHead(version: head.version, status: .ok, headers: headers), body: body)
            }
        }
    }
}
