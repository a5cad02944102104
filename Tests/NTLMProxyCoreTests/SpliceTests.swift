import Foundation
import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import NTLMTestSupport
import Testing
@testable import NTLMProxyCore

/// `ChannelSplice` between a raw client (a `RawListener` connection) and an upstream reached
/// with `DirectConnector`: large transfers, backpressure (checked on the splice's own
/// pending-bytes counters, never on timings), half-close both ways, errors.
@Suite("Channel splice")
struct SpliceTests {
    struct Stack {
        let listener: RawListener
        let recorder: TunnelRecorder
        let task: Task<Void, Error>
        var port: Int { listener.port }

        func stop() async {
            task.cancel()
            await listener.close()
        }
    }

    /// A raw listener splicing every connection to `upstreamPort`.
    static func start(upstreamPort: Int) async throws -> Stack {
        let recorder = TunnelRecorder()
        let listener = try await RawListener.bind(RawListenerOptions(port: 0), logger: Logger(label: "test.splice")) { channel, _ in
            do {
                let upstream = try await DirectConnector.connect(host: "127.0.0.1", port: upstreamPort, timeout: .seconds(5), group: MultiThreadedEventLoopGroup.singleton)
                recorder.append(try await ChannelSplice.run(client: channel, upstream: upstream))
            } catch {
                recorder.append(TunnelStatistics(failure: "setup: \(error)"))
            }
        }
        let task = Task { try await listener.serve() }
        return Stack(listener: listener, recorder: recorder, task: task)
    }

    static let size = 12 * 1024 * 1024
    /// Memory bound asserted on the counters: the splice's high-water mark (256 KiB) plus one
    /// read batch, with a margin; without backpressure the transfer would pile up. The big
    /// transfers half-close only at the end: on a FIN, NIO drains the socket to EOF whatever
    /// reads were requested, which is bounded by the kernel's receive buffer, not by us.
    static let bound = 1024 * 1024

    @Test func largeTransferBothWaysThroughAnEcho() async throws {
        let echo = try await EchoUpstream.start()
        let stack = try await Self.start(upstreamPort: echo.port)
        defer { Task { await stack.stop(); await echo.stop() } }
        let socket = try await TestSocket.connect(port: stack.port)
        let payload = patternBytes(Self.size)
        async let sent: Void = offload { try socket.send(payload) }
        let digest = try await offload { try socket.receiveAndHash(Self.size) }
        try await sent
        #expect(digest == sha256Hex(payload))
        #expect(try await offload { socket.shutdownWrite(); return try socket.atEOF() })
        let statistics = try #require(await stack.recorder.waitFor(1).first)
        #expect(statistics.bytesClientToUpstream == Self.size)
        #expect(statistics.bytesUpstreamToClient == Self.size)
        #expect(statistics.failure == nil)
        #expect(statistics.peakBufferedToClient <= Self.bound)
        #expect(statistics.peakBufferedToUpstream <= Self.bound)
    }

    @Test func aSlowClientReaderPausesUpstreamReads() async throws {
        let echo = try await EchoUpstream.start()
        let stack = try await Self.start(upstreamPort: echo.port)
        defer { Task { await stack.stop(); await echo.stop() } }
        let socket = try await TestSocket.connect(port: stack.port)
        let payload = patternBytes(Self.size, seed: 7)
        async let sent: Void = offload { try socket.send(payload) }
        // 64 KiB per 2 ms at most: far slower than the echo can produce.
        let digest = try await offload { try socket.receiveAndHash(Self.size, slowly: 2000) }
        try await sent
        #expect(digest == sha256Hex(payload))
        #expect(try await offload { socket.shutdownWrite(); return try socket.atEOF() })
        let statistics = try #require(await stack.recorder.waitFor(1).first)
        #expect(statistics.bytesUpstreamToClient == Self.size)
        #expect(statistics.peakBufferedToClient <= Self.bound, "upstream reads must pause while the client is not writable")
        #expect(statistics.peakBufferedToUpstream <= Self.bound)
    }

    @Test func aStalledUpstreamPausesClientReads() async throws {
        let echo = try await EchoUpstream.start(paused: true)
        let stack = try await Self.start(upstreamPort: echo.port)
        defer { Task { await stack.stop(); await echo.stop() } }
        let socket = try await TestSocket.connect(port: stack.port)
        let payload = patternBytes(Self.size, seed: 11)
        async let sent: Void = offload { try socket.send(payload) }
        async let digest = offload { try socket.receiveAndHash(Self.size) }
        // Let the client fill every buffer on the way while the upstream reads nothing.
        for _ in 0..<200 where echo.connectionCount == 0 { try await Task.sleep(for: .milliseconds(10)) }
        try await Task.sleep(for: .milliseconds(300))
        echo.resume()
        try await sent
        #expect(try await digest == sha256Hex(payload))
        #expect(try await offload { socket.shutdownWrite(); return try socket.atEOF() })
        let statistics = try #require(await stack.recorder.waitFor(1).first)
        #expect(statistics.bytesClientToUpstream == Self.size)
        #expect(statistics.peakBufferedToUpstream <= Self.bound, "client reads must pause while the upstream is not writable")
    }

    @Test func clientHalfCloseReachesUpstreamAndTheAnswerStillFlows() async throws {
        let echo = try await EchoUpstream.start()
        let stack = try await Self.start(upstreamPort: echo.port)
        defer { Task { await stack.stop(); await echo.stop() } }
        let socket = try await TestSocket.connect(port: stack.port)
        let received = try await offload { () throws -> [UInt8] in
            try socket.send("ping")
            socket.shutdownWrite()
            return try socket.receiveUntilEOF()
        }
        #expect(String(decoding: received, as: UTF8.self) == "ping")
        let statistics = try #require(await stack.recorder.waitFor(1).first)
        #expect(statistics.bytesClientToUpstream == 4)
        #expect(statistics.bytesUpstreamToClient == 4)
        #expect(statistics.failure == nil)
    }

    @Test func upstreamHalfCloseReachesClientWhichCanStillSend() async throws {
        let upstream = try await BannerUpstream.start()
        let stack = try await Self.start(upstreamPort: upstream.port)
        defer { Task { await stack.stop(); try? await upstream.channel.close() } }
        let socket = try await TestSocket.connect(port: stack.port)
        let banner = try await offload { () throws -> [UInt8] in
            try socket.send("x")
            let banner = try socket.receiveUntilEOF()   // upstream shut its output
            try socket.send("after the upstream's EOF")
            socket.shutdownWrite()
            return banner
        }
        #expect(String(decoding: banner, as: UTF8.self) == "banner\n")
        let statistics = try #require(await stack.recorder.waitFor(1).first)
        #expect(await upstream.waitClosed(), "the upstream reads to our EOF, then closes")
        #expect(upstream.received == "xafter the upstream's EOF")
        #expect(statistics.bytesClientToUpstream == 25)
        #expect(statistics.bytesUpstreamToClient == 7)
        #expect(statistics.failure == nil)
    }

    @Test func anUpstreamResetClosesTheClient() async throws {
        let upstream = try await BannerUpstream.start(resetOnData: true)
        let stack = try await Self.start(upstreamPort: upstream.port)
        defer { Task { await stack.stop(); try? await upstream.channel.close() } }
        let socket = try await TestSocket.connect(port: stack.port)
        let closed = try await offload { () -> Bool in
            try socket.send("trigger")
            return (try? socket.atEOF()) ?? true   // EOF or reset, never a hang
        }
        #expect(closed)
        let statistics = try #require(await stack.recorder.waitFor(1).first)
        #expect(statistics.failure != nil)
    }

    @Test func aClientResetClosesTheUpstream() async throws {
        let upstream = try await BannerUpstream.start()
        let stack = try await Self.start(upstreamPort: upstream.port)
        defer { Task { await stack.stop(); try? await upstream.channel.close() } }
        let socket = try await TestSocket.connect(port: stack.port)
        try await offload {
            try socket.send("x")
            _ = try socket.receive(exactly: 7)
            socket.reset()
        }
        let ended = await stack.recorder.waitFor(1)
        #expect(ended.count == 1, "the splice ends")
        #expect(await upstream.waitClosed(), "and closes the upstream")
    }

    @Test func stateMachineHalfClosesOnlyAfterPendingBytesAreWritten() {
        var machine = SpliceStateMachine()
        #expect(machine.apply(.start) == [.read(.client), .read(.upstream)])
        let accepted = machine.received(from: .client, bytes: 100)
        #expect(accepted)
        #expect(machine.apply(.inputClosed(.client)).isEmpty, "100 bytes still on their way upstream")
        #expect(machine.apply(.writeCompleted(.upstream, bytes: 100, succeeded: true)) == [.shutdownOutput(.upstream)])
        #expect(machine.apply(.outputShutdownCompleted(.upstream, succeeded: true)).isEmpty)
        #expect(machine.apply(.inputClosed(.upstream)) == [.shutdownOutput(.client)])
        #expect(machine.apply(.outputShutdownCompleted(.client, succeeded: true)) == [.close(.client), .close(.upstream)])
        #expect(machine.failure == nil)
        #expect(machine[.client].bytesRead == 100)
    }

    @Test func stateMachineStopsReadingWhileTheOtherSideIsNotWritable() {
        var machine = SpliceStateMachine()
        _ = machine.apply(.start)
        #expect(machine.apply(.writabilityChanged(.client, writable: false)).isEmpty)
        #expect(machine.apply(.readComplete(.upstream)).isEmpty, "no read from upstream while the client cannot take more")
        #expect(machine.apply(.readComplete(.client)) == [.read(.client)])
        #expect(machine.apply(.writabilityChanged(.client, writable: true)) == [.read(.upstream)])
    }

    @Test func stateMachinePausesOnItsOwnPendingCountAcrossEventLoops() {
        var machine = SpliceStateMachine()
        _ = machine.apply(.start)
        // The client's loop has not reported unwritable yet, but 300 KiB wait for it.
        let accepted = machine.received(from: .upstream, bytes: 300 * 1024)
        #expect(accepted)
        #expect(machine.apply(.readComplete(.upstream)).isEmpty, "over the high-water mark: pause")
        #expect(machine.apply(.writeCompleted(.client, bytes: 100 * 1024, succeeded: true)).isEmpty, "200 KiB left: still above the low-water mark")
        #expect(machine.apply(.writeCompleted(.client, bytes: 150 * 1024, succeeded: true)) == [.read(.upstream)], "50 KiB left: resume")
        #expect(machine[.client].peakPendingBytes == 300 * 1024)
    }

    @Test func stateMachineErrorClosesBothAndGoneSideClosesTheOther() {
        var machine = SpliceStateMachine()
        _ = machine.apply(.start)
        #expect(machine.apply(.error(.upstream, "reset")) == [.close(.client), .close(.upstream)])
        #expect(machine.failure == "upstream: reset")

        var other = SpliceStateMachine()
        _ = other.apply(.start)
        let accepted = other.received(from: .client, bytes: 10)
        #expect(accepted)
        #expect(other.apply(.inactive(.client)).isEmpty, "10 bytes still on their way upstream")
        #expect(other.apply(.writeCompleted(.upstream, bytes: 10, succeeded: true)) == [.close(.upstream)])
        let toClosedClient = other.received(from: .upstream, bytes: 5)
        #expect(!toClosedClient, "nothing can reach a closed client")
    }
}

/// An upstream that answers the first byte with `banner\n` and shuts its output, keeps reading
/// until the peer's EOF, and records what it received; or resets the connection on data.
final class BannerUpstream: Sendable {
    let channel: any Channel
    private let box: NIOLockedValueBox<(received: [UInt8], closed: Bool)>

    var port: Int { channel.localAddress?.port ?? 0 }
    var received: String { String(decoding: box.withLockedValue { $0.received }, as: UTF8.self) }

    private init(channel: any Channel, box: NIOLockedValueBox<(received: [UInt8], closed: Bool)>) {
        self.channel = channel
        self.box = box
    }

    func waitClosed() async -> Bool {
        for _ in 0..<3000 {
            if box.withLockedValue({ $0.closed }) { return true }
            try? await Task.sleep(for: .milliseconds(10))
        }
        return false
    }

    static func start(resetOnData: Bool = false) async throws -> BannerUpstream {
        let box = NIOLockedValueBox<(received: [UInt8], closed: Bool)>(([], false))
        let channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.allowRemoteHalfClosure, value: true)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(Handler(box: box, resetOnData: resetOnData))
                }
            }
            .bind(host: "127.0.0.1", port: 0).get()
        return BannerUpstream(channel: channel, box: box)
    }

    final class Handler: ChannelInboundHandler {
        typealias InboundIn = ByteBuffer
        typealias OutboundOut = ByteBuffer
        let box: NIOLockedValueBox<(received: [UInt8], closed: Bool)>
        let resetOnData: Bool
        var answered = false

        init(box: NIOLockedValueBox<(received: [UInt8], closed: Bool)>, resetOnData: Bool) {
            self.box = box
            self.resetOnData = resetOnData
        }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            let bytes = Array(unwrapInboundIn(data).readableBytesView)
            box.withLockedValue { $0.received += bytes }
            if resetOnData {
                guard let provider = context.channel as? any SocketOptionProvider else {
                    context.close(promise: nil)
                    return
                }
                provider.setSoLinger(linger(l_onoff: 1, l_linger: 0)).assumeIsolated().whenComplete { _ in context.close(promise: nil) }
                return
            }
            guard !answered else { return }
            answered = true
            context.writeAndFlush(wrapOutboundOut(ByteBuffer(string: "banner\n"))).assumeIsolated().whenComplete { _ in
                context.close(mode: .output, promise: nil)
            }
        }

        func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
            if let event = event as? ChannelEvent, event == .inputClosed { context.close(promise: nil) }
        }

        func channelInactive(context: ChannelHandlerContext) {
            box.withLockedValue { $0.closed = true }
        }

        func errorCaught(context: ChannelHandlerContext, error: any Error) {
            context.close(promise: nil)
        }
    }
}
