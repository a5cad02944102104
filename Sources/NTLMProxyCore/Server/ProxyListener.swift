import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOHTTP1
import NIOPosix
import NIOSSL

/// What a listener does with each accepted connection (a mode: gateway, acceptor, ...).
public protocol ConnectionHandler: Sendable {
    /// Serves requests on `connection` until the client goes away or the handler decides to
    /// close. Returning closes the connection.
    func serve(_ connection: ServerConnection, logger: Logger) async
}

/// Socket-level settings of a listener.
public struct ListenerOptions: Sendable {
    public var host: String
    public var port: Int
    /// Server TLS; `nil` for plain HTTP.
    public var tls: NIOSSLContext?
    /// Limit on one request's header block (a bigger one is answered 431/400 and closed).
    public var maximumHeaderBytes: Int
    /// Connections beyond this are closed at once.
    public var maximumConnections: Int
    /// A connection idle this long (no bytes read; in a tunnel, no bytes either way) is closed.
    public var idleTimeout: TimeAmount
    /// Serves `CONNECT` (`ServerConnection.startTunnel` / `refuseConnect`) with a hand-built
    /// HTTP pipeline (see `TunnelCapablePipeline`); clients may half-close.
    public var allowsTunnels: Bool

    public init(host: String = "127.0.0.1", port: Int, tls: NIOSSLContext? = nil, maximumHeaderBytes: Int = ListenerLimits.defaultMaxHeaderBytes, maximumConnections: Int = 10_000, idleTimeout: TimeAmount = .seconds(300), allowsTunnels: Bool = false) {
        self.host = host
        self.port = port
        self.tls = tls
        self.maximumHeaderBytes = maximumHeaderBytes
        self.maximumConnections = maximumConnections
        self.idleTimeout = idleTimeout
        self.allowsTunnels = allowsTunnels
    }
}

/// A bound listening socket serving HTTP/1.1 connections with a `ConnectionHandler`.
///
/// ```swift
/// let listener = try await ProxyListener.bind(options, handler: mode, logger: logger)
/// print(listener.localAddress)
/// try await listener.serve()          // until the task is cancelled or close() is called
/// ```
public final class ProxyListener: Sendable {
    public let localAddress: SocketAddress
    private let acceptLoop: AcceptLoop<NIOAsyncChannel<HTTPServerRequestPart, HTTPServerResponsePart>>
    private let handler: any ConnectionHandler
    private let logger: Logger
    private let options: ListenerOptions

    private init(acceptLoop: AcceptLoop<NIOAsyncChannel<HTTPServerRequestPart, HTTPServerResponsePart>>, handler: any ConnectionHandler, logger: Logger, options: ListenerOptions) {
        self.acceptLoop = acceptLoop
        localAddress = acceptLoop.localAddress
        self.handler = handler
        self.logger = logger
        self.options = options
    }

    public static func bind(_ options: ListenerOptions, group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton, handler: any ConnectionHandler, logger: Logger) async throws -> ProxyListener {
        let tls = options.tls
        var limits = NIOHTTPDecoderLimitConfiguration()
        limits.maxHeaderFieldSize = options.maximumHeaderBytes
        limits.maxHeaderListSize = options.maximumHeaderBytes
        let decoderLimits = limits
        let idleTimeout = options.idleTimeout
        let allowsTunnels = options.allowsTunnels
        let acceptLoop = try await AcceptLoop<NIOAsyncChannel<HTTPServerRequestPart, HTTPServerResponsePart>>.bind(
            host: options.host, port: options.port, group: group, maximumConnections: options.maximumConnections, logger: logger,
            configure: { $0.childChannelOption(.allowRemoteHalfClosure, value: allowsTunnels) },
            childChannelInitializer: { channel in
                channel.eventLoop.makeCompletedFuture {
                    let sync = channel.pipeline.syncOperations
                    if let tls {
                        try sync.addHandler(NIOSSLServerHandler(context: tls))
                    }
                    // Idle means no request in flight (a slow backend or a long download is
                    // not idle); a tunnel switches to "no bytes either way".
                    if allowsTunnels {
                        try sync.configureTunnelCapableHTTPServerPipeline(decoderLimits: decoderLimits, tunnelIdleTimeout: idleTimeout)
                    } else {
                        try sync.configureHTTPServerPipeline(withPipeliningAssistance: true, withErrorHandling: true, withOutboundHeaderValidation: true, withEncoderConfiguration: .init(), withDecoderLimitConfiguration: decoderLimits)
                    }
                    try sync.addHandler(HTTPIdleTimeoutHandler(timeout: idleTimeout))
                    return try NIOAsyncChannel<HTTPServerRequestPart, HTTPServerResponsePart>(wrappingChannelSynchronously: channel)
                }
            })
        return ProxyListener(acceptLoop: acceptLoop, handler: handler, logger: logger, options: options)
    }

    /// The port actually bound (useful with port 0).
    public var port: Int { localAddress.port ?? 0 }

    /// Accepts and serves connections until the listener is closed or the task cancelled.
    public func serve() async throws {
        try await acceptLoop.run(channelOf: { $0.channel }, serve: { client in await self.serveConnection(client) })
    }

    /// Stops accepting; connections in progress finish their current work.
    public func close() async {
        await acceptLoop.close()
    }

    private func serveConnection(_ client: NIOAsyncChannel<HTTPServerRequestPart, HTTPServerResponsePart>) async {
        let id = ConnectionID.next()
        let remote = client.channel.remoteAddress
        var connectionLogger = logger
        connectionLogger[metadataKey: "conn"] = "\(id)"
        do {
            try await client.executeThenClose { inbound, outbound in
                let connection = ServerConnection(id: id, remoteAddress: remote, isTLS: options.tls != nil, inbound: inbound, outbound: outbound, channel: client.channel, allowsTunnels: options.allowsTunnels)
                await withTaskCancellationHandler {
                    await handler.serve(connection, logger: connectionLogger)
                } onCancel: {
                    client.channel.close(promise: nil)
                }
            }
        } catch {
            connectionLogger.debug("connection ended: \(error)")
        }
    }
}

/// Process-unique connection ids for logs, shared by every kind of listener.
enum ConnectionID {
    private static let last = NIOLockedValueBox<UInt64>(0)

    static func next() -> UInt64 {
        last.withLockedValue { value -> UInt64 in
            value += 1
            return value
        }
    }
}

/// Closes a connection on which nothing was read for the idle timeout.
final class CloseOnIdleHandler: ChannelInboundHandler, Sendable {
    typealias InboundIn = NIOAny

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if event is IdleStateHandler.IdleStateEvent {
            context.close(promise: nil)
        } else {
            context.fireUserInboundEventTriggered(event)
        }
    }
}
