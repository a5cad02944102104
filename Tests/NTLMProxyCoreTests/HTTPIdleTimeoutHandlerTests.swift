import NIOCore
import NIOEmbedded
import NIOHTTP1
import Testing
@testable import NTLMProxyCore

/// The idle rule of gateway, acceptor and pass-through listeners, on a virtual clock: idle
/// means no request in flight, counted from the connection's start or the last response's end.
@Suite("HTTP idle timeout")
struct HTTPIdleTimeoutHandlerTests {
    static func channel(timeout: TimeAmount = .seconds(2)) throws -> EmbeddedChannel {
        let channel = EmbeddedChannel()
        try channel.pipeline.syncOperations.addHandler(HTTPIdleTimeoutHandler(timeout: timeout))
        try channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 1)).wait()
        return channel
    }

    static let head = HTTPRequestHead(version: .http1_1, method: .GET, uri: "/")

    static func respond(_ channel: EmbeddedChannel) throws {
        try channel.writeOutbound(HTTPServerResponsePart.head(HTTPResponseHead(version: .http1_1, status: .ok)))
        try channel.writeOutbound(HTTPServerResponsePart.end(nil))
    }

    @Test func aConnectionThatNeverSendsARequestIsClosed() throws {
        let channel = try Self.channel()
        channel.embeddedEventLoop.advanceTime(by: .milliseconds(1999))
        #expect(channel.isActive)
        channel.embeddedEventLoop.advanceTime(by: .milliseconds(2))
        #expect(!channel.isActive)
    }

    @Test func aRequestInFlightIsNeverIdle() throws {
        let channel = try Self.channel()
        try channel.writeInbound(HTTPServerRequestPart.head(Self.head))
        try channel.writeInbound(HTTPServerRequestPart.end(nil))
        // A slow backend, or a long download the client only reads.
        channel.embeddedEventLoop.advanceTime(by: .seconds(30))
        #expect(channel.isActive)
        try Self.respond(channel)
        #expect(channel.isActive)
        _ = try channel.finish(acceptAlreadyClosed: false)
    }

    @Test func idleTimeCountsFromTheEndOfTheLastResponse() throws {
        let channel = try Self.channel()
        try channel.writeInbound(HTTPServerRequestPart.head(Self.head))
        channel.embeddedEventLoop.advanceTime(by: .seconds(5))
        try Self.respond(channel)
        // 1.5 s after the answer (6.5 s after the client last sent a byte): still open.
        channel.embeddedEventLoop.advanceTime(by: .milliseconds(1500))
        #expect(channel.isActive)
        // The next request stops the clock again.
        try channel.writeInbound(HTTPServerRequestPart.head(Self.head))
        channel.embeddedEventLoop.advanceTime(by: .seconds(3))
        #expect(channel.isActive)
        try Self.respond(channel)
        channel.embeddedEventLoop.advanceTime(by: .milliseconds(2001))
        #expect(!channel.isActive)
    }

    @Test func partsOtherThanHeadAndEndDoNotMoveTheClock() throws {
        let channel = try Self.channel()
        channel.embeddedEventLoop.advanceTime(by: .seconds(1))
        // A body part without a head is not a request (the HTTP decoder never sends one; the
        // rule must not count it either way).
        try channel.writeInbound(HTTPServerRequestPart.body(ByteBuffer(string: "x")))
        channel.embeddedEventLoop.advanceTime(by: .milliseconds(1001))
        #expect(!channel.isActive)
    }
}
