import NIOConcurrencyHelpers
import NIOCore
import NIOHTTP1
import NTLM
import Testing
@testable import NTLMHTTP

/// Collects what a tunnel channel receives.
final class TunnelCollector: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer

    struct Seen: Sendable {
        var bytes: [UInt8] = []
        var inputClosed = false
        var inactive = false
    }

    let seen: NIOLockedValueBox<Seen>

    init(_ seen: NIOLockedValueBox<Seen>) {
        self.seen = seen
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let buffer = unwrapInboundIn(data)
        seen.withLockedValue { $0.bytes += Array(buffer.readableBytesView) }
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if let event = event as? ChannelEvent, event == .inputClosed {
            seen.withLockedValue { $0.inputClosed = true }
        }
        context.fireUserInboundEventTriggered(event)
    }

    func channelInactive(context: ChannelHandlerContext) {
        seen.withLockedValue { $0.inactive = true }
        context.fireChannelInactive()
    }

    /// Adds a collector to the tunnel's channel and turns reading on, as a caller would.
    static func attach(to channel: any Channel) async throws -> NIOLockedValueBox<Seen> {
        let seen = NIOLockedValueBox(Seen())
        try await channel.eventLoop.submit {
            try channel.pipeline.syncOperations.addHandler(TunnelCollector(seen))
            try channel.syncOptions?.setOption(ChannelOptions.autoRead, value: true)
        }.get()
        return seen
    }
}

extension ClientTests {
    @Suite("CONNECT tunnels through a proxy")
    struct Tunnels {
        static func established(_ result: ProxyTunnelResult, sourceLocation: SourceLocation = #_sourceLocation) throws -> ProxyTunnel {
            guard case .established(let tunnel) = result else {
                Issue.record("expected a tunnel, got \(result)", sourceLocation: sourceLocation)
                throw NTLMHTTPClientError.connectionClosed
            }
            return tunnel
        }

        static func refused(_ result: ProxyTunnelResult, sourceLocation: SourceLocation = #_sourceLocation) throws -> ProxyTunnelRefusal {
            guard case .refused(let refusal) = result else {
                Issue.record("expected a refusal", sourceLocation: sourceLocation)
                throw NTLMHTTPClientError.connectionClosed
            }
            return refusal
        }

        static let banner = Array("SSH-2.0-fake\r\n".utf8)

        @Test(arguments: [FakeNTLMProxy.Options.ChallengeBody.contentLength, .chunked, .large(100_000)])
        func handshakeOnTheConnectThenBytesRoundTrip(challengeBody: FakeNTLMProxy.Options.ChallengeBody) async throws {
            var options = FakeNTLMProxy.Options()
            options.challengeBody = challengeBody
            options.banner = Self.banner
            try await FakeNTLMProxy.with(options) { proxy, client in
                let result = try await client.openTunnel(host: "Origin.Example", port: 443, via: proxy.server, credential: ClientFixtures.alice, headers: ["User-Agent": "tests"])
                let tunnel = try Self.established(result)
                #expect(tunnel.status == .ok)
                let channel = tunnel.channel
                // Nothing of ours is left; reading waits for us; half-closure is allowed.
                let (autoRead, halfClosure, leftovers) = try await channel.eventLoop.submit {
                    let sync = channel.pipeline.syncOperations
                    let ours = (try? sync.handler(type: HTTP1ConnectionHandler.self)) != nil
                        || (try? sync.handler(type: ProxyConnectHandler.self)) != nil
                        || (try? sync.handler(type: HTTPRequestEncoder.self)) != nil
                        || (try? sync.handler(type: ByteToMessageHandler<HTTPResponseDecoder>.self)) != nil
                    return (try channel.syncOptions?.getOption(ChannelOptions.autoRead), try channel.syncOptions?.getOption(ChannelOptions.allowRemoteHalfClosure), ours)
                }.get()
                #expect(autoRead == false)
                #expect(halfClosure == true)
                #expect(!leftovers)

                let seen = try await TunnelCollector.attach(to: channel)
                try await channel.writeAndFlush(ByteBuffer(string: "ping through the tunnel")).get()
                let initial = tunnel.initialBytes.map { Array($0.readableBytesView) } ?? []
                let expected = Self.banner + Array("ping through the tunnel".utf8)
                #expect(await ClientFixtures.eventually { initial + seen.withLockedValue { $0.bytes } == expected })

                let records = proxy.snapshot.records
                #expect(records.count == 3)
                #expect(records.allSatisfy { $0.method == "CONNECT" && $0.target == "origin.example:443" && $0.field("host") == "origin.example:443" && $0.connection == 1 })
                #expect(records.allSatisfy { $0.field("user-agent") == "tests" })
                #expect(proxy.snapshot.type1s == 1)
                #expect(proxy.snapshot.successfulLogons == 1)
                // The tunnel is ours to close; the client forgot it.
                #expect(client.idleConnectionCount(proxy: proxy.server, credential: ClientFixtures.alice) == 0)
                try await channel.close()
            }
        }

        @Test func aPooledAuthenticatedConnectionNeedsNoNewHandshake() async throws {
            try await FakeNTLMProxy.with { proxy, client in
                let warmUp = try await client.execute(NTLMHTTPRequest(url: "http://origin.example/"), credential: ClientFixtures.alice, via: proxy.server)
                try await warmUp.body.drain()
                let tunnel = try Self.established(try await client.openTunnel(host: "origin.example", port: 8443, via: proxy.server, credential: ClientFixtures.alice))
                let connect = try #require(proxy.snapshot.records.last)
                #expect(connect.method == "CONNECT")
                #expect(connect.field("proxy-authorization") == nil)
                #expect(connect.connection == 1)
                #expect(proxy.snapshot.type1s == 1)
                #expect(client.idleConnectionCount(proxy: proxy.server, credential: ClientFixtures.alice) == 0)

                // The next request needs a new connection; it authenticates preemptively.
                let next = try await client.execute(NTLMHTTPRequest(url: "http://origin.example/"), credential: ClientFixtures.alice, via: proxy.server)
                try await next.body.drain()
                #expect(proxy.snapshot.connections == 2)
                #expect(proxy.snapshot.offers == 1)
                try await tunnel.channel.close()
            }
        }

        @Test func aRejectedCredentialIsRefusedAfterExactlyOneType3() async throws {
            var options = FakeNTLMProxy.Options()
            options.challengeBody = .large(100_000)
            try await FakeNTLMProxy.with(options) { proxy, client in
                let refusal = try Self.refused(try await client.openTunnel(host: "origin.example", port: 443, via: proxy.server, credential: ClientFixtures.aliceWrong))
                #expect(refusal.status == .proxyAuthenticationRequired)
                #expect(refusal.authenticationFailure == .rejected(scheme: .ntlm, user: #"CORP\alice"#))
                // The body is cut at 64 KiB.
                #expect(refusal.body.readableBytes == 65536)
                #expect(proxy.snapshot.type3s == 1)
                #expect(proxy.snapshot.failedLogons == 1)
                #expect(await ClientFixtures.eventually { proxy.snapshot.closedConnections == proxy.snapshot.connections })
            }
        }

        @Test func aRefusalThatIsNotAboutTheCredential() async throws {
            var options = FakeNTLMProxy.Options()
            options.connectStatus = 403
            try await FakeNTLMProxy.with(options) { proxy, client in
                let refusal = try Self.refused(try await client.openTunnel(host: "origin.example", port: 25, via: proxy.server, credential: ClientFixtures.alice))
                #expect(refusal.status == .forbidden)
                #expect(refusal.authenticationFailure == nil)
                #expect(String(buffer: refusal.body) == "refused origin.example:25\n")
                #expect(await ClientFixtures.eventually { proxy.snapshot.closedConnections == 1 })
            }
        }

        @Test func anUnreachableProxyIsAConnectFailure() async throws {
            let port = try await ThroughProxy.closedPort()
            let client = NTLMHTTPClient()
            let error = await #expect(throws: NTLMHTTPClientError.self) {
                _ = try await client.openTunnel(host: "origin.example", port: 443, via: HTTPProxyServer(host: "127.0.0.1", port: port), credential: ClientFixtures.alice)
            }
            try await client.shutdown()
            guard case .connectFailed(_, port, _) = error else {
                Issue.record("expected connectFailed, got \(String(describing: error))")
                return
            }
        }

        /// Relay: the client's own NTLM over several CONNECTs, kept on the pinned connection.
        @Test func relayedHandshakeOverSeveralConnectsStaysOnThePin() async throws {
            try await FakeNTLMProxy.with { proxy, client in
                let pin = ConnectionPin()
                var ntlm = NTLMAuthenticator(credentials: ClientFixtures.bob.ntlm!)
                let first = try Self.refused(try await client.openTunnel(
                    host: "origin.example", port: 443, via: proxy.server, credential: nil,
                    headers: ["Proxy-Authorization": try ntlm.initialAuthorization()], pin: pin))
                #expect(first.status == .proxyAuthenticationRequired)
                #expect(first.authenticationFailure == nil)
                #expect(String(buffer: first.body).contains("407"))
                #expect(pin.isHoldingConnection)
                let type2 = try #require(try AuthChallenge.parse(fieldValues: first.headers["Proxy-Authenticate"]).first { $0.hasScheme("NTLM") })
                let type3 = try #require(try ntlm.nextAuthorization(for: type2))
                let tunnel = try Self.established(try await client.openTunnel(
                    host: "origin.example", port: 443, via: proxy.server, credential: nil,
                    headers: ["Proxy-Authorization": type3], pin: pin))
                #expect(proxy.snapshot.successfulLogons == 1)
                #expect(proxy.snapshot.connections == 1)
                #expect(!pin.isHoldingConnection)
                let seen = try await TunnelCollector.attach(to: tunnel.channel)
                try await tunnel.channel.writeAndFlush(ByteBuffer(string: "hello")).get()
                #expect(await ClientFixtures.eventually { seen.withLockedValue { $0.bytes } == Array("hello".utf8) })
                try await tunnel.channel.close()
            }
        }

        /// Without a pin, a refused relay CONNECT's connection is closed.
        @Test func aRefusedConnectWithoutAPinClosesTheConnection() async throws {
            try await FakeNTLMProxy.with { proxy, client in
                let refusal = try Self.refused(try await client.openTunnel(host: "origin.example", port: 443, via: proxy.server, credential: nil))
                #expect(refusal.status == .proxyAuthenticationRequired)
                #expect(await ClientFixtures.eventually { proxy.snapshot.closedConnections == 1 })
            }
        }

        @Test func halfCloseGoesThroughTheTunnel() async throws {
            var options = FakeNTLMProxy.Options()
            options.open = true
            try await FakeNTLMProxy.with(options) { proxy, client in
                let tunnel = try Self.established(try await client.openTunnel(host: "origin.example", port: 443, via: proxy.server, credential: nil))
                let seen = try await TunnelCollector.attach(to: tunnel.channel)
                try await tunnel.channel.writeAndFlush(ByteBuffer(string: "last words")).get()
                try await tunnel.channel.close(mode: .output).get()
                // The proxy saw our half-close (its echo handler answers it by closing its own
                // side): the echo arrives, then the end of input (with our output closed
                // already, NIO then closes the channel instead of reporting `inputClosed`).
                #expect(await ClientFixtures.eventually { seen.withLockedValue { $0.inputClosed || $0.inactive } })
                #expect(seen.withLockedValue { $0.bytes } == Array("last words".utf8))
                try? await tunnel.channel.close()
            }
        }

        static let malformed: [(String, [UInt8])] = [
            ("garbage", Array("hello there\r\n\r\n".utf8)),
            ("oversized head", Array(("HTTP/1.1 407 Proxy Authentication Required\r\nX-Pad: " + String(repeating: "a", count: 70_000) + "\r\n\r\n").utf8)),
            ("bad chunking", Array("HTTP/1.1 407 No\r\nProxy-Authenticate: NTLM\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nxx\r\n".utf8)),
            ("bad content length", Array("HTTP/1.1 407 No\r\nContent-Length: 5, 6\r\n\r\nhello".utf8)),
            ("truncated body", Array("HTTP/1.1 407 No\r\nContent-Length: 100\r\n\r\nshort".utf8)),
            ("protocol switch", Array("HTTP/1.1 101 Switching Protocols\r\nUpgrade: x\r\n\r\n".utf8)),
            ("space before colon", Array("HTTP/1.1 200 OK\r\nX-Bad : 1\r\n\r\n".utf8)),
            ("HTTP/2", Array("HTTP/2.0 200 OK\r\n\r\n".utf8)),
        ]

        @Test(arguments: 0..<Self.malformed.count)
        func malformedResponsesAreTypedErrors(index: Int) async throws {
            var options = FakeNTLMProxy.Options()
            options.canned = Self.malformed[index].1
            try await FakeNTLMProxy.with(options) { proxy, client in
                let error = await #expect(throws: NTLMHTTPClientError.self) {
                    _ = try await client.openTunnel(host: "origin.example", port: 443, via: proxy.server, credential: ClientFixtures.alice)
                }
                guard case .remoteProtocolError = error else {
                    Issue.record("\(Self.malformed[index].0): expected remoteProtocolError, got \(String(describing: error))")
                    return
                }
            }
        }

        @Test func theDeadlineBoundsTheConnectExchange() async throws {
            var options = FakeNTLMProxy.Options()
            options.silent = true
            try await FakeNTLMProxy.with(options) { proxy, client in
                await #expect(throws: NTLMHTTPClientError.timeout) {
                    _ = try await client.openTunnel(host: "origin.example", port: 443, via: proxy.server, credential: ClientFixtures.alice, timeout: .milliseconds(200))
                }
                #expect(await ClientFixtures.eventually { proxy.snapshot.closedConnections == 1 })
            }
        }

        @Test func aProxyThatClosesWithoutAnswerIsAClosedConnection() async throws {
            var options = FakeNTLMProxy.Options()
            options.canned = []
            try await FakeNTLMProxy.with(options) { proxy, client in
                await #expect(throws: NTLMHTTPClientError.connectionClosed) {
                    _ = try await client.openTunnel(host: "origin.example", port: 443, via: proxy.server, credential: nil)
                }
            }
        }
    }
}
