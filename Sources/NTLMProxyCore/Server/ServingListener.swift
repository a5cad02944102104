/// A bound listening socket of any kind (HTTP, SOCKS5, static tunnel), as the runtime sees it.
public protocol ServingListener: Sendable {
    /// The port actually bound (useful with port 0).
    var port: Int { get }
    /// Accepts and serves connections until the listener is closed or the task cancelled.
    func serve() async throws
    /// Stops accepting; connections in progress finish their current work.
    func close() async
}

extension ProxyListener: ServingListener {}
