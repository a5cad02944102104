import Logging
import NIOCore
import NIOHTTP1

extension NTLMHTTPClient {
    /// Opens a byte tunnel to `host:port` through `proxy` with `CONNECT`, answering the
    /// proxy's 407 with `credential` (the legs run on the `CONNECT` itself; a 407 with a body
    /// is read and dropped). An idle connection already authenticated for (proxy, credential)
    /// is used when there is one: its `CONNECT` needs no new handshake.
    ///
    /// - Parameters:
    ///   - headers: extra fields for the `CONNECT` (e.g. `User-Agent`; in relay mode the
    ///     client's own `Proxy-Authorization`). With a credential, a `Proxy-Authorization`
    ///     here is replaced by ours. Fields with CR, LF or NUL are dropped.
    ///   - credential: `nil` sends the `CONNECT` as given and returns whatever the proxy says.
    ///   - pin: relay mode (a pin and no credential): a refusal on a connection the proxy
    ///     keeps open leaves it in the pin, so the next `openTunnel` with the pin (the
    ///     client's next handshake leg) continues on it.
    ///   - timeout: bounds the `CONNECT` exchange (connecting and authenticating included);
    ///     defaults to ``Configuration/requestTimeout``.
    /// - Returns: ``ProxyTunnelResult/established(_:)`` with the raw channel — **reading is
    ///   off**: add your handler, then enable `autoRead` — or the proxy's refusal, its body
    ///   cut at 64 KiB and ``ProxyTunnelRefusal/authenticationFailure`` set when it rejected
    ///   our credential (never retried).
    /// - Throws: ``NTLMHTTPClientError``: `.connectFailed`/`.connectTimeout` naming the proxy
    ///   when it cannot be reached; `.remoteProtocolError` for a response that is not HTTP.
    public func openTunnel(
        host: String, port: Int, via proxy: HTTPProxyServer, credential: HTTPCredential?,
        headers: HTTPHeaders = [:], pin: ConnectionPin? = nil, timeout: Duration? = nil,
        logger: Logger? = nil
    ) async throws -> ProxyTunnelResult {
        var fields = headers
        if credential != nil { fields.remove(name: "proxy-authorization") }
        if let agent = configuration.userAgent, !fields.contains(name: "user-agent") {
            fields.add(name: "User-Agent", value: agent)
        }
        let request = try ConnectRequestHead(host: host, port: port, headers: fields)
        let logger = logger ?? self.logger
        let unsafe = request.unsafeFieldNames
        if !unsafe.isEmpty {
            logger.debug("CONNECT fields with forbidden characters dropped", metadata: ["fields": "\(unsafe.joined(separator: ", "))"])
        }
        let execution = TunnelExecution(
            client: self, proxy: proxy, request: request, credential: credential, pin: pin,
            deadline: deadline(for: timeout), cancellation: RequestCancellation(), logger: logger)
        return try await perform(execution)
    }
}
