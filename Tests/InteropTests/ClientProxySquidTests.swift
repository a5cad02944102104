import NTLMTestSupport
import Crypto
import Foundation
import NIOConcurrencyHelpers
import NIOCore
import NTLM
import NTLMHTTP
import Testing

/// NTLMHTTPClient through a real NTLM parent proxy: squid's forward port answering
/// `407 Proxy-Authenticate: NTLM` (with its HTML page), verified by Samba's ntlm_auth.
@Suite("Interop: NTLMHTTPClient → squid parent proxy (Samba ntlm_auth)")
struct ClientProxySquidTests {
    static let alice = HTTPCredential(userName: Users.alice, password: Password(Users.alicePassword))
    static let aliceWrong = HTTPCredential(userName: Users.alice, password: Password("not-" + Users.alicePassword))

    @Test func getPostAndConnectThroughSquid() async throws {
        let squid = try await Fixtures.shared.squid()
        let proxy = HTTPProxyServer(host: "127.0.0.1", port: squid.proxyPort)
        let origin = "http://127.0.0.1:\(squid.backendPort)"
        let client = NTLMHTTPClient()
        do {
            let first = try await client.execute(NTLMHTTPRequest(url: origin + "/whoami"), credential: Self.alice, via: proxy, timeout: .seconds(30))
            #expect(first.status == .ok)
            #expect(first.authenticationScheme == .ntlm)
            _ = try await first.body.collect(upTo: 1 << 20)
            // The kept connection is authenticated: no handshake for the next request.
            let second = try await client.execute(NTLMHTTPRequest(url: origin + "/whoami"), credential: Self.alice, via: proxy, timeout: .seconds(30))
            #expect(second.status == .ok)
            #expect(second.authenticationScheme == nil)
            _ = try await second.body.collect(upTo: 1 << 20)

            let body = Bodies.deterministic(1_000_000)
            let post = try await client.execute(
                NTLMHTTPRequest(url: origin + "/echo", method: .POST, headers: ["Content-Type": "application/octet-stream"], body: .bytes(body)),
                credential: Self.alice, via: proxy, timeout: .seconds(60))
            #expect(post.status == .ok)
            let json = JSON(parsing: String(buffer: try await post.body.collect(upTo: 1 << 20)))
            #expect(json["sha256"].string == Bodies.sha256(body))
            #expect(json["length"].int == body.count)

            // CONNECT on the pooled authenticated connection, then HTTP through the tunnel.
            let result = try await client.openTunnel(host: "127.0.0.1", port: squid.backendPort, via: proxy, credential: Self.alice, timeout: .seconds(30))
            guard case .established(let tunnel) = result else {
                Issue.record("CONNECT refused: \(result)")
                try await client.shutdown()
                return
            }
            let received = NIOLockedValueBox<[UInt8]>([])
            let channel = tunnel.channel
            try await channel.eventLoop.submit {
                try channel.pipeline.syncOperations.addHandler(ByteCollector(received))
                try channel.syncOptions?.setOption(ChannelOptions.autoRead, value: true)
            }.get()
            let request = "GET /whoami HTTP/1.1\r\nHost: 127.0.0.1:\(squid.backendPort)\r\nConnection: close\r\n\r\n"
            try await channel.writeAndFlush(ByteBuffer(string: request)).get()
            try await channel.closeFuture.get()
            let answer = String(decoding: (tunnel.initialBytes.map { Array($0.readableBytesView) } ?? []) + received.withLockedValue { $0 }, as: UTF8.self)
            #expect(answer.hasPrefix("HTTP/1.") && answer.contains(" 200 "), "\(answer.prefix(200))")
        } catch {
            try? await client.shutdown()
            throw error
        }
        try await client.shutdown()
    }

    /// A fresh client: the 407 with squid's HTML body on the CONNECT itself, then the tunnel.
    @Test func connectHandshakeOnAFreshConnection() async throws {
        let squid = try await Fixtures.shared.squid()
        let proxy = HTTPProxyServer(host: "127.0.0.1", port: squid.proxyPort)
        let client = NTLMHTTPClient()
        let result = try await client.openTunnel(host: "127.0.0.1", port: squid.backendPort, via: proxy, credential: Self.alice, timeout: .seconds(30))
        if case .established(let tunnel) = result {
            try await tunnel.channel.close()
        } else {
            Issue.record("CONNECT refused: \(result)")
        }
        try await client.shutdown()
    }

    @Test func aWrongPasswordIsRefusedNotRetried() async throws {
        let squid = try await Fixtures.shared.squid()
        let proxy = HTTPProxyServer(host: "127.0.0.1", port: squid.proxyPort)
        let client = NTLMHTTPClient()
        let response = try await client.execute(NTLMHTTPRequest(url: "http://127.0.0.1:\(squid.backendPort)/whoami"), credential: Self.aliceWrong, via: proxy, timeout: .seconds(30))
        #expect(response.status == .proxyAuthenticationRequired)
        #expect(response.authenticationFailure != nil)
        _ = try await response.body.collect(upTo: 1 << 20)
        let result = try await client.openTunnel(host: "127.0.0.1", port: squid.backendPort, via: proxy, credential: Self.aliceWrong, timeout: .seconds(30))
        if case .refused(let refusal) = result {
            #expect(refusal.status == .proxyAuthenticationRequired)
            #expect(refusal.authenticationFailure != nil)
        } else {
            Issue.record("a CONNECT with a wrong password was established")
        }
        try await client.shutdown()
    }
}

/// Collects a tunnel's bytes.
private final class ByteCollector: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    let received: NIOLockedValueBox<[UInt8]>

    init(_ received: NIOLockedValueBox<[UInt8]>) {
        self.received = received
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let buffer = unwrapInboundIn(data)
        received.withLockedValue { $0 += Array(buffer.readableBytesView) }
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        // The origin closed after its answer (half-closure is on): close ours too.
        if let event = event as? ChannelEvent, event == .inputClosed { context.close(promise: nil) }
        context.fireUserInboundEventTriggered(event)
    }
}
