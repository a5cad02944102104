import Logging
import NIOCore
import NIOPosix

/// A static tunnel (cntlm `-L` / `Tunnel`): every connection to the listener is forwarded,
/// byte for byte, to one `host:port` opened through a `TunnelOpening` (a parent's `CONNECT`,
/// or directly).
public final class StaticTunnelListener: ServingListener {
    private let listener: RawListener
    public let targetHost: String
    public let targetPort: Int

    private init(listener: RawListener, targetHost: String, targetPort: Int) {
        self.listener = listener
        self.targetHost = targetHost
        self.targetPort = targetPort
    }

    public static func bind(_ options: RawListenerOptions, targetHost: String, targetPort: Int, opener: any TunnelOpening, group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton, logger: Logger) async throws -> StaticTunnelListener {
        let target = DirectConnectError.authority(host: targetHost, port: targetPort)
        let listener = try await RawListener.bind(options, group: group, logger: logger) { channel, logger in
            let started = ContinuousClock.now
            let client = channel.remoteAddress
            let opened: OpenedTunnel
            do {
                opened = try await opener.openTunnel(host: targetHost, port: targetPort, client: client, logger: logger)
            } catch {
                TunnelAccessLog.record(logger, kind: "tunnel", client: client, target: target, statistics: nil, started: started, outcome: "not opened: \(error)")
                return
            }
            do {
                let statistics = try await ChannelSplice.run(client: channel, upstream: opened.channel, initialToClient: opened.initialBytes)
                TunnelAccessLog.record(logger, kind: "tunnel", client: client, target: target, statistics: statistics, started: started, outcome: TunnelAccessLog.outcome(statistics))
            } catch {
                TunnelAccessLog.record(logger, kind: "tunnel", client: client, target: target, statistics: nil, started: started, outcome: "failed: \(error)")
            }
        }
        return StaticTunnelListener(listener: listener, targetHost: targetHost, targetPort: targetPort)
    }

    public var localAddress: SocketAddress { listener.localAddress }
    public var port: Int { listener.port }
    public func serve() async throws { try await listener.serve() }
    public func close() async { await listener.close() }
}
