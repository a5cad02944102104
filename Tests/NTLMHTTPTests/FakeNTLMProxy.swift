import Crypto
import Foundation
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import NTLM
@testable import NTLMHTTP

/// An in-process NTLM proxy on 127.0.0.1 written on raw bytes (so that it can answer CONNECT
/// the way squid does): `407 Proxy-Authenticate: NTLM` with an HTML body and Content-Length,
/// NTLM bound to the connection and verified by our NTLMAcceptor over an NTLMUserStore. Once
/// authorized it answers absolute-form requests itself (a text page describing the request)
/// and CONNECT with `200 Connection established`, then echoes bytes.
///
/// It records every request: connection, method, target, fields, body length.
final class FakeNTLMProxy: Sendable {
    struct Options: Sendable {
        /// How the 407 bodies are framed.
        enum ChallengeBody: Sendable { case contentLength, chunked, large(Int) }
        var challengeBody = ChallengeBody.contentLength
        /// Bytes sent right after `200 Connection established` (server-speaks-first).
        var banner: [UInt8] = []
        /// Every response carries `Connection: close` (and `Proxy-Connection: keep-alive`, which
        /// must not matter), and the proxy closes after it.
        var closeAfterEachResponse = false
        /// Answers every request with these bytes and closes (malformed responses).
        var canned: [UInt8]? = nil
        /// Requires no authentication at all.
        var open = false
        /// Answers CONNECT (once authorized) with this status instead of 200.
        var connectStatus = 200
        /// Reads requests and never answers.
        var silent = false
    }

    struct Record: Sendable {
        var connection: Int
        var method: String
        var target: String
        var fields: [(name: String, value: String)]
        var bodyLength: Int

        func field(_ name: String) -> String? {
            fields.first { $0.name.lowercased() == name.lowercased() }?.value
        }
    }

    struct Stats: Sendable {
        var connections = 0
        var closedConnections = 0
        var type1s = 0
        var type3s = 0
        var successfulLogons = 0
        var failedLogons = 0
        var offers = 0
        var records: [Record] = []
        var tunnelBytes = 0
    }

    let options: Options
    let stats: NIOLockedValueBox<Stats>
    let channel: any Channel
    let port: Int

    var server: HTTPProxyServer { HTTPProxyServer(host: "127.0.0.1", port: port) }
    var snapshot: Stats { stats.withLockedValue { $0 } }

    private init(options: Options, stats: NIOLockedValueBox<Stats>, channel: any Channel, port: Int) {
        self.options = options
        self.stats = stats
        self.channel = channel
        self.port = port
    }

    static func start(_ options: Options = Options()) async throws -> FakeNTLMProxy {
        let stats = NIOLockedValueBox(Stats())
        let nextID = NIOLockedValueBox(0)
        let channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
            .childChannelOption(.allowRemoteHalfClosure, value: true)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    let id = nextID.withLockedValue { $0 += 1; return $0 }
                    stats.withLockedValue { $0.connections += 1 }
                    channel.closeFuture.whenComplete { _ in stats.withLockedValue { $0.closedConnections += 1 } }
                    try channel.pipeline.syncOperations.addHandler(FakeProxyConnectionHandler(connectionID: id, options: options, stats: stats))
                }
            }
            .bind(host: "127.0.0.1", port: 0).get()
        guard let port = channel.localAddress?.port else { throw ChannelError.unknownLocalAddress }
        return FakeNTLMProxy(options: options, stats: stats, channel: channel, port: port)
    }

    func shutdown() async {
        try? await channel.close()
    }

    /// Runs `body` with a fresh proxy and client, shutting both down afterwards.
    static func with(
        _ options: Options = Options(),
        configure: (inout NTLMHTTPClient.Configuration) -> Void = { _ in },
        _ body: (FakeNTLMProxy, NTLMHTTPClient) async throws -> Void
    ) async throws {
        let proxy = try await start(options)
        let client = NTLMHTTPClient(configuration: try ClientFixtures.configuration(configure))
        do {
            try await body(proxy, client)
        } catch {
            try? await client.shutdown()
            await proxy.shutdown()
            throw error
        }
        try await client.shutdown()
        await proxy.shutdown()
    }
}

/// One proxy connection: a small request reader (head, Content-Length or chunked body), the
/// NTLM state bound to the connection, and the tunnel echo after CONNECT.
final class FakeProxyConnectionHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    enum Phase {
        case head
        /// Reading a body: remaining bytes of a Content-Length body, or chunked.
        case body(remaining: Int)
        case chunkSize
        case chunkData(remaining: Int)
        case chunkEnd
        case finalCRLF
        case tunnel
        case closed
    }

    struct Pending {
        var method: String
        var target: String
        var fields: [(name: String, value: String)]
        var bodyLength = 0
        var hasher = SHA256()
    }

    let connectionID: Int
    let options: FakeNTLMProxy.Options
    let stats: NIOLockedValueBox<FakeNTLMProxy.Stats>
    var buffer = ByteBuffer()
    var phase = Phase.head
    var pending: Pending?
    var acceptor: NTLMAcceptor?
    var user: String?

    init(connectionID: Int, options: FakeNTLMProxy.Options, stats: NIOLockedValueBox<FakeNTLMProxy.Stats>) {
        self.connectionID = connectionID
        self.options = options
        self.stats = stats
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var incoming = unwrapInboundIn(data)
        if case .tunnel = phase {
            stats.withLockedValue { $0.tunnelBytes += incoming.readableBytes }
            context.writeAndFlush(wrapOutboundOut(incoming), promise: nil)
            return
        }
        buffer.writeBuffer(&incoming)
        process(context: context)
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        // The client half-closed: so do we (after the echo).
        if let event = event as? ChannelEvent, event == .inputClosed {
            context.close(mode: .output, promise: nil)
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        context.close(promise: nil)
    }

    private func process(context: ChannelHandlerContext) {
        while true {
            switch phase {
            case .closed:
                return
            case .tunnel:
                if buffer.readableBytes > 0 {
                    stats.withLockedValue { $0.tunnelBytes += buffer.readableBytes }
                    context.writeAndFlush(wrapOutboundOut(buffer), promise: nil)
                    buffer.clear()
                }
                return
            case .head:
                guard let view = buffer.readableBytesView.firstRange(of: Array("\r\n\r\n".utf8)) else { return }
                let length = view.upperBound - buffer.readerIndex
                guard let text = buffer.readString(length: length) else { return }
                startRequest(text, context: context)
            case .body(let remaining):
                let count = min(remaining, buffer.readableBytes)
                guard count > 0 || remaining == 0 else { return }
                if let slice = buffer.readSlice(length: count) { consumeBody(slice) }
                if remaining - count == 0 { finishRequest(context: context) } else { phase = .body(remaining: remaining - count) }
            case .chunkSize:
                guard let line = readLine() else { return }
                let sizeText = line.split(separator: ";").first.map(String.init) ?? ""
                guard let size = Int(sizeText, radix: 16) else { context.close(promise: nil); phase = .closed; return }
                phase = size == 0 ? .finalCRLF : .chunkData(remaining: size)
            case .chunkData(let remaining):
                let count = min(remaining, buffer.readableBytes)
                guard count > 0 else { return }
                if let slice = buffer.readSlice(length: count) { consumeBody(slice) }
                phase = remaining - count == 0 ? .chunkEnd : .chunkData(remaining: remaining - count)
            case .chunkEnd:
                guard readLine() != nil else { return }
                phase = .chunkSize
            case .finalCRLF:
                guard readLine() != nil else { return }
                finishRequest(context: context)
            }
        }
    }

    private func readLine() -> String? {
        guard let range = buffer.readableBytesView.firstRange(of: Array("\r\n".utf8)) else { return nil }
        let line = buffer.readString(length: range.lowerBound - buffer.readerIndex)
        buffer.moveReaderIndex(forwardBy: 2)
        return line
    }

    private func consumeBody(_ slice: ByteBuffer) {
        pending?.bodyLength += slice.readableBytes
        slice.withUnsafeReadableBytes { pending?.hasher.update(bufferPointer: $0) }
    }

    private func startRequest(_ text: String, context: ChannelHandlerContext) {
        if options.silent {
            phase = .closed
            return
        }
        if let canned = options.canned {
            context.writeAndFlush(wrapOutboundOut(ByteBuffer(bytes: canned))).assumeIsolated().whenComplete { _ in context.close(promise: nil) }
            phase = .closed
            return
        }
        let lines = text.components(separatedBy: "\r\n").filter { !$0.isEmpty }
        let parts = (lines.first ?? "").split(separator: " ").map(String.init)
        guard parts.count == 3 else {
            context.close(promise: nil)
            phase = .closed
            return
        }
        var fields: [(name: String, value: String)] = []
        for line in lines.dropFirst() {
            guard let colon = line.firstIndex(of: ":") else { continue }
            fields.append((String(line[..<colon]), line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)))
        }
        pending = Pending(method: parts[0], target: parts[1], fields: fields)
        let field = { (name: String) in fields.first { $0.name.lowercased() == name }?.value }
        if let length = field("content-length").flatMap({ Int($0) }) {
            phase = .body(remaining: length)
        } else if field("transfer-encoding")?.lowercased() == "chunked" {
            phase = .chunkSize
        } else {
            phase = .body(remaining: 0)
        }
    }

    private func finishRequest(context: ChannelHandlerContext) {
        guard let request = pending else { return }
        pending = nil
        phase = .head
        let record = FakeNTLMProxy.Record(connection: connectionID, method: request.method, target: request.target, fields: request.fields, bodyLength: request.bodyLength)
        stats.withLockedValue { $0.records.append(record) }

        if !options.open, let value = record.field("proxy-authorization") {
            let parts = value.split(separator: " ", maxSplits: 1).map(String.init)
            let token = parts.count == 2 && parts[0].lowercased() == "ntlm" ? Base64.decode(parts[1]) : nil
            guard let token, token.count >= 12 else {
                return challenge(["NTLM"], context: context)
            }
            if token[8] == 1 {
                stats.withLockedValue { $0.type1s += 1 }
                user = nil
                var fresh = NTLMAcceptor(policy: NTLMAcceptorPolicy(netbiosDomain: "CORP"))
                guard let type2 = try? fresh.challenge(negotiate: token) else { return challenge(["NTLM"], context: context) }
                acceptor = fresh
                return challenge(["NTLM " + Base64.encode(type2)], context: context)
            }
            stats.withLockedValue { $0.type3s += 1 }
            guard var running = acceptor else { return challenge(["NTLM"], context: context) }
            acceptor = nil
            do {
                let verified = try running.accept(authenticate: token, verifier: ClientTestServer.users)
                stats.withLockedValue { $0.successfulLogons += 1 }
                user = verified.qualifiedName
            } catch {
                stats.withLockedValue { $0.failedLogons += 1 }
                return challenge(["NTLM"], context: context)
            }
        }
        guard options.open || user != nil else {
            stats.withLockedValue { $0.offers += 1 }
            return challenge(["NTLM", "Negotiate"], context: context)
        }
        if request.method == "CONNECT" {
            guard options.connectStatus == 200 else {
                return respond(status: "\(options.connectStatus) Refused", body: "refused \(request.target)\n", context: context)
            }
            var bytes = ByteBuffer(string: "HTTP/1.1 200 Connection established\r\n\r\n")
            bytes.writeBytes(options.banner)
            phase = .tunnel
            context.writeAndFlush(wrapOutboundOut(bytes), promise: nil)
            process(context: context)
            return
        }
        var page = "user: \(user ?? "-")\nmethod: \(request.method)\ntarget: \(request.target)\n"
        page += "host: \(record.field("host") ?? "-")\nauthorization: \(record.field("authorization") ?? "-")\n"
        page += "length: \(request.bodyLength)\nsha256: \(hex(Array(request.hasher.finalize())))\n"
        respond(status: "200 OK", body: page, context: context)
    }

    private func respond(status: String, fields: [String] = [], body: String, context: ChannelHandlerContext) {
        var head = "HTTP/1.1 \(status)\r\n"
        for field in fields { head += field + "\r\n" }
        if options.closeAfterEachResponse { head += "Connection: close\r\nProxy-Connection: keep-alive\r\n" }
        head += "Content-Length: \(body.utf8.count)\r\n\r\n"
        write(head + body, context: context)
    }

    private func write(_ text: String, context: ChannelHandlerContext) {
        let done = context.writeAndFlush(wrapOutboundOut(ByteBuffer(string: text)))
        if options.closeAfterEachResponse {
            phase = .closed
            done.assumeIsolated().whenComplete { _ in context.close(promise: nil) }
        }
    }

    /// A 407 like squid's: the challenges and an HTML page.
    private func challenge(_ challenges: [String], context: ChannelHandlerContext) {
        let html = "<html><body><h1>407 Proxy Authentication Required</h1><p>Cache Access Denied.</p></body></html>\n"
        var head = "HTTP/1.1 407 Proxy Authentication Required\r\nContent-Type: text/html\r\n"
        for value in challenges { head += "Proxy-Authenticate: \(value)\r\n" }
        if options.closeAfterEachResponse { head += "Connection: close\r\nProxy-Connection: keep-alive\r\n" }
        switch options.challengeBody {
        case .contentLength:
            write(head + "Content-Length: \(html.utf8.count)\r\n\r\n" + html, context: context)
        case .chunked:
            let half = html.utf8.count / 2
            let first = String(html.prefix(half))
            let second = String(html.dropFirst(half))
            var text = head + "Transfer-Encoding: chunked\r\n\r\n"
            text += String(first.utf8.count, radix: 16) + ";ext=1\r\n" + first + "\r\n"
            text += String(second.utf8.count, radix: 16) + "\r\n" + second + "\r\n0\r\nX-Trailer: yes\r\n\r\n"
            write(text, context: context)
        case .large(let size):
            write(head + "Content-Length: \(size)\r\n\r\n" + String(repeating: "x", count: size), context: context)
        }
    }
}
