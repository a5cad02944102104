import Logging
import NIOCore
import NIOPosix

/// Socket-level settings of a raw (byte stream) listener: SOCKS5, static tunnels.
public struct RawListenerOptions: Sendable {
    public var host: String
    public var port: Int
    /// Connections beyond this are closed at once.
    public var maximumConnections: Int
    /// A connection on which no byte moved either way for this long is closed.
    public var idleTimeout: TimeAmount

    public init(host: String = "127.0.0.1", port: Int, maximumConnections: Int = 10_000, idleTimeout: TimeAmount = .seconds(300)) {
        self.host = host
        self.port = port
        self.maximumConnections = maximumConnections
        self.idleTimeout = idleTimeout
    }
}

/// A bound listening socket that hands each accepted TCP connection, as a bare channel, to an
/// async handler (one task per connection; the channel is closed when the handler returns).
///
/// The channel comes with TCP_NODELAY, remote half-closure allowed, `autoRead == false`, and
/// an idle timeout. Whatever the client sends before someone reads (its bytes, its half-close)
/// is held until a `ChannelSplice` takes over; a handler that reads the channel itself adds
/// its handlers at the end of the pipeline, then calls `RawListener.releaseInput(of:)`.
public final class RawListener: ServingListener {
    public typealias Handler = @Sendable (_ channel: any Channel, _ logger: Logger) async -> Void

    public let localAddress: SocketAddress
    private let acceptLoop: AcceptLoop<any Channel>
    private let handler: Handler
    private let logger: Logger

    private init(acceptLoop: AcceptLoop<any Channel>, handler: @escaping Handler, logger: Logger) {
        self.acceptLoop = acceptLoop
        localAddress = acceptLoop.localAddress
        self.handler = handler
        self.logger = logger
    }

    public static func bind(_ options: RawListenerOptions, group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton, logger: Logger, handler: @escaping Handler) async throws -> RawListener {
        let idleTimeout = options.idleTimeout
        let acceptLoop = try await AcceptLoop<any Channel>.bind(
            host: options.host, port: options.port, group: group, maximumConnections: options.maximumConnections, logger: logger,
            configure: { bootstrap in
                bootstrap
                    .childChannelOption(.allowRemoteHalfClosure, value: true)
                    .childChannelOption(.autoRead, value: false)
            },
            childChannelInitializer: { channel in
                channel.eventLoop.makeCompletedFuture {
                    let sync = channel.pipeline.syncOperations
                    try sync.addHandler(IdleStateHandler(allTimeout: idleTimeout))
                    try sync.addHandler(CloseOnIdleHandler())
                    try sync.addHandler(TunnelInputGate(holding: true))
                    return channel as any Channel
                }
            })
        return RawListener(acceptLoop: acceptLoop, handler: handler, logger: logger)
    }

    /// The port actually bound (useful with port 0).
    public var port: Int { localAddress.port ?? 0 }

    /// Accepts and serves connections until the listener is closed or the task cancelled.
    public func serve() async throws {
        try await acceptLoop.run(channelOf: { $0 }, serve: { channel in await self.serveConnection(channel) })
    }

    /// Stops accepting; connections in progress go on.
    public func close() async {
        await acceptLoop.close()
    }

    /// Lets the client's bytes through to handlers added after the listener's own (for a
    /// handler that reads the channel itself instead of splicing it).
    public static func releaseInput(of channel: any Channel) async throws {
        try await channel.eventLoop.submit {
            try channel.pipeline.syncOperations.handler(type: TunnelInputGate.self).release()
        }.get()
    }

    private func serveConnection(_ channel: any Channel) async {
        var connectionLogger = logger
        connectionLogger[metadataKey: "conn"] = "\(ConnectionID.next())"
        let logger = connectionLogger
        await withTaskCancellationHandler {
            await handler(channel, logger)
        } onCancel: {
            channel.close(promise: nil)
        }
        try? await channel.close()
    }
}
