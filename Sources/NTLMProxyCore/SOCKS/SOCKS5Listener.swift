import Logging
import NIOCore
import NIOPosix

/// A SOCKS5 listener (RFC 1928, cntlm `-O`): no authentication, or RFC 1929 username/password
/// when users are configured; CONNECT only (IPv4, IPv6, domain names); each request becomes a
/// tunnel opened through a `TunnelOpening` (the forward routing), then a byte splice.
public final class SOCKS5Listener: ServingListener {
    private let listener: RawListener

    private init(listener: RawListener) {
        self.listener = listener
    }

    /// `handshakeTimeout` bounds greeting, credentials and request together.
    public static func bind(_ options: RawListenerOptions, users: [SOCKS5UserConfiguration], opener: any TunnelOpening, handshakeTimeout: Duration = .seconds(30), group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton, logger: Logger) async throws -> SOCKS5Listener {
        let session = SOCKS5Session(users: SOCKS5Users(users), opener: opener, handshakeTimeout: TimeAmount(handshakeTimeout))
        let listener = try await RawListener.bind(options, group: group, logger: logger) { channel, logger in
            await session.run(channel, logger: logger)
        }
        return SOCKS5Listener(listener: listener)
    }

    public var localAddress: SocketAddress { listener.localAddress }
    public var port: Int { listener.port }
    public func serve() async throws { try await listener.serve() }
    public func close() async { await listener.close() }
}

/// One SOCKS5 client connection: handshake, open the target, reply (RFC 1928 section 6 codes),
/// splice, one access-log line.
struct SOCKS5Session: Sendable {
    let users: SOCKS5Users
    let opener: any TunnelOpening
    let handshakeTimeout: TimeAmount

    func run(_ channel: any Channel, logger: Logger) async {
        let started = ContinuousClock.now
        let client = channel.remoteAddress
        let request: SOCKS5Request
        do {
            request = try await handshake(channel).get()
        } catch {
            // Bad version, no acceptable method, wrong password, BIND/UDP, timeout: the reply
            // (if any) is written and the connection closed by the handler.
            let level: Logger.Level = error is SOCKS5Error ? .info : .debug
            logger.log(level: level, "SOCKS5 \(TunnelAccessLog.describe(client)) handshake failed: \(error)")
            return
        }
        let target = DirectConnectError.authority(host: request.host, port: request.port)
        let opened: OpenedTunnel
        do {
            opened = try await opener.openTunnel(host: request.host, port: request.port, client: client, logger: logger)
        } catch {
            _ = try? await reply(error.socks5ReplyCode, on: channel)
            TunnelAccessLog.record(logger, kind: "SOCKS5", client: client, target: target, statistics: nil, started: started, outcome: "not opened: \(error)", user: request.username)
            return
        }
        do {
            let early = try await reply(.succeeded, on: channel)
            let statistics = try await ChannelSplice.run(client: channel, upstream: opened.channel, initialToClient: opened.initialBytes, initialToUpstream: early)
            TunnelAccessLog.record(logger, kind: "SOCKS5", client: client, target: target, statistics: statistics, started: started, outcome: TunnelAccessLog.outcome(statistics), user: request.username)
        } catch {
            opened.channel.close(promise: nil)
            TunnelAccessLog.record(logger, kind: "SOCKS5", client: client, target: target, statistics: nil, started: started, outcome: "failed: \(error)", user: request.username)
        }
    }

    /// Installs the handshake handler behind the listener's gate and lets the client's bytes in.
    private func handshake(_ channel: any Channel) async throws -> EventLoopFuture<SOCKS5Request> {
        let users = self.users
        let timeout = handshakeTimeout
        return try await channel.eventLoop.submit {
            let sync = channel.pipeline.syncOperations
            let gate = try sync.handler(type: TunnelInputGate.self)
            let handler = SOCKS5HandshakeHandler(users: users, gate: gate, eventLoop: channel.eventLoop)
            try sync.addHandler(handler, position: .after(gate))
            gate.release()
            let deadline = channel.eventLoop.scheduleTask(in: timeout) { channel.close(promise: nil) }
            handler.request.whenComplete { _ in deadline.cancel() }
            return handler.request
        }.get()
    }

    /// Writes the reply; on success returns the bytes the client sent after its request.
    private func reply(_ code: SOCKS5ReplyCode, on channel: any Channel) async throws -> ByteBuffer? {
        try await channel.eventLoop.flatSubmit {
            do {
                return try channel.pipeline.syncOperations.handler(type: SOCKS5HandshakeHandler.self).connectCompleted(code)
            } catch {
                return channel.eventLoop.makeFailedFuture(error)
            }
        }.get()
    }
}
