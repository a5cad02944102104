import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix

/// What every listener (HTTP, raw) does with its listening socket: the bootstrap settings they
/// share, and the accept loop with its connection limit.
struct AcceptLoop<Accepted: Sendable>: Sendable {
    let serverChannel: NIOAsyncChannel<Accepted, Never>
    let localAddress: SocketAddress
    /// Connections beyond this are closed at once.
    let maximumConnections: Int
    let logger: Logger
    private let openConnections = NIOLockedValueBox(0)

    private init(serverChannel: NIOAsyncChannel<Accepted, Never>, localAddress: SocketAddress, maximumConnections: Int, logger: Logger) {
        self.serverChannel = serverChannel
        self.localAddress = localAddress
        self.maximumConnections = maximumConnections
        self.logger = logger
    }

    /// Binds with the settings every listener shares (backlog, address reuse, TCP_NODELAY and
    /// keep-alive on each connection) plus `configure`'s; a failure names the address.
    static func bind(
        host: String, port: Int, group: any EventLoopGroup, maximumConnections: Int, logger: Logger,
        configure: (ServerBootstrap) -> ServerBootstrap,
        childChannelInitializer: @escaping @Sendable (any Channel) -> EventLoopFuture<Accepted>
    ) async throws -> AcceptLoop {
        let serverChannel: NIOAsyncChannel<Accepted, Never>
        do {
            let bootstrap = ServerBootstrap(group: group)
                .serverChannelOption(.backlog, value: 256)
                .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
                .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
                .childChannelOption(.socketOption(.so_keepalive), value: 1)
            serverChannel = try await configure(bootstrap).bind(host: host, port: port, childChannelInitializer: childChannelInitializer)
        } catch {
            throw ProxyError.bindFailed(address: "\(host):\(port)", reason: "\(error)")
        }
        guard let address = serverChannel.channel.localAddress else {
            throw ProxyError.bindFailed(address: "\(host):\(port)", reason: "no local address")
        }
        return AcceptLoop(serverChannel: serverChannel, localAddress: address, maximumConnections: maximumConnections, logger: logger)
    }

    /// Accepts connections until the socket is closed or the task cancelled, each served by
    /// `serve` in a child task; one beyond the limit is closed at once.
    func run(channelOf: (Accepted) -> any Channel, serve: @escaping @Sendable (Accepted) async -> Void) async throws {
        try await withThrowingDiscardingTaskGroup { group in
            try await withTaskCancellationHandler {
                try await serverChannel.executeThenClose { inbound in
                    for try await accepted in inbound {
                        guard admit() else {
                            logger.warning("connection refused: maximum of \(maximumConnections) connections reached")
                            channelOf(accepted).close(promise: nil)
                            continue
                        }
                        group.addTask {
                            await serve(accepted)
                            openConnections.withLockedValue { $0 -= 1 }
                        }
                    }
                }
            } onCancel: {
                serverChannel.channel.close(promise: nil)
            }
        }
    }

    /// Stops accepting; connections in progress go on.
    func close() async {
        try? await serverChannel.channel.close()
    }

    private func admit() -> Bool {
        openConnections.withLockedValue { count -> Bool in
            guard count < maximumConnections else { return false }
            count += 1
            return true
        }
    }
}
