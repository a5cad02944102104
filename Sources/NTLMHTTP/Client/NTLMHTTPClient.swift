import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import NIOSSL

/// An async HTTP/1.1 client that authenticates with NTLM, Negotiate (NTLM inside SPNEGO) or
/// Basic, and keeps authenticated connections for reuse.
///
/// ```swift
/// let client = NTLMHTTPClient()
/// let credential = HTTPCredential(userName: #"CORP\alice"#, password: "secret")
/// let request = NTLMHTTPRequest(url: "https://intranet.corp.example/api/items")
/// let response = try await client.execute(request, credential: credential, timeout: .seconds(30))
/// print(response.status)
/// for try await chunk in response.body {      // streams, with backpressure
///     consume(chunk)
/// }
/// // or: let text = String(buffer: try await response.body.collect(upTo: 1 << 20))
/// try await client.shutdown()
/// ```
///
/// How a request runs:
/// - **Pooling.** Connections are kept per (scheme, host, port, credential). A request with a
///   credential first looks for an idle connection opened for that same credential — NTLM
///   and Negotiate authenticate the connection, so the request goes straight out without an
///   `Authorization` header and without a handshake. A connection never serves another
///   credential. It returns to the pool only after its response was read to the end and if
///   HTTP/1.1 persistence allows (`Connection`; the legacy `Proxy-Connection` is ignored).
/// - **Authentication.** On a new connection the client authenticates at once with the
///   scheme this host asked for before; otherwise it sends the request as is and answers a
///   401 challenge. The handshake legs before the last carry no body (`Content-Length: 0`,
///   no `Expect`); the body goes once, with the last leg. A challenge on a connection the
///   server closes restarts on a new connection. A refused credential is never retried: the
///   401 is delivered with ``NTLMHTTPResponse/authenticationFailure`` set, and that
///   connection is closed.
/// - **Bodies** stream both ways with backpressure; memory per request is bounded. A body in
///   memory (`.bytes`) can be resent; a streamed one is copied only up to
///   ``Configuration/replayBufferLimit`` while a challenge could still ask for it again. A
///   larger (or chunked) stream sent to a host not yet known to require authentication goes
///   out with `Expect: 100-continue`, so that the challenge comes before the body.
/// - **`Expect: 100-continue`** is kept on the leg that carries the body, which waits for
///   `100 Continue` (or ``Configuration/expectContinueTimeout``) before sending it; the
///   handshake legs never carry it, and a 100 is never delivered.
/// - **TLS.** Certificates are verified (system roots or your own); on `https` NTLMv2 carries
///   the RFC 5929 `tls-server-end-point` channel bindings of the server's certificate, and
///   the SPN `HTTP/<host>`, as Extended Protection requires.
/// - **Timeouts and cancellation.** `timeout` bounds the whole request, body included;
///   ``Configuration/readIdleTimeout`` bounds any silence of the server. Cancelling the
///   awaiting task (or the task reading the body) closes the connection and throws
///   ``NTLMHTTPClientError/cancelled``.
///
/// - **Proxies.** Given an ``HTTPProxyServer`` (`via:`), a request goes to the proxy in
///   absolute-form and the credential answers the proxy's 407 (`Proxy-Authenticate`); the
///   request's own `Authorization` passes untouched. Connections to a proxy are pooled per
///   (proxy, credential). ``openTunnel(host:port:via:credential:headers:pin:timeout:logger:)``
///   opens a `CONNECT` tunnel, reusing an authenticated connection when one is idle.
/// - **Pins.** A ``ConnectionPin`` keeps one client connection's upstream connection apart
///   from the pool, for handshakes the caller relays itself.
///
/// Call ``shutdown()`` when done: it closes every connection.
public final class NTLMHTTPClient: Sendable {
    public let eventLoopGroup: any EventLoopGroup
    public let configuration: Configuration
    let logger: Logger
    let pool: ConnectionPool
    private let sslContext = NIOLockedValueBox<Result<NIOSSLContext, NTLMHTTPClientError>?>(nil)

    /// A logger that discards everything: the default, so the library prints nothing unless
    /// given a logger.
    public static let loggingDisabled = Logger(label: "ntlmproxy.client", factory: { _ in SwiftLogNoOpLogHandler() })

    /// - Parameters:
    ///   - eventLoopGroup: where the connections live; the shared singleton by default.
    ///   - configuration: TLS, timeouts, pool sizes and the authentication policy.
    ///   - logger: handshake stages and one line per request at `debug`; a refused
    ///     credential at `warning`. Never a token, hash or password.
    public init(eventLoopGroup: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton, configuration: Configuration = .init(), logger: Logger = NTLMHTTPClient.loggingDisabled) {
        self.eventLoopGroup = eventLoopGroup
        self.configuration = configuration
        self.logger = logger
        pool = ConnectionPool(
            maximumIdlePerKey: max(0, configuration.maximumIdleConnectionsPerKey),
            idleTimeout: TimeAmount(configuration.idleTimeout), logger: logger)
    }

    /// Sends `request`, authenticating with `credential` if the server (or proxy) asks, or is
    /// known to ask, and returns once the response head arrived; the body then streams.
    ///
    /// - Parameters:
    ///   - credential: who to authenticate as — to the origin, or to `proxy` when one is
    ///     given; `nil` sends the request without authentication (a 401/407 is then simply
    ///     delivered, and a `Proxy-Authorization` in the request goes out as it is).
    ///   - proxy: the parent proxy to go through (absolute-form request line; `https` URLs
    ///     too). A proxy that cannot be reached throws
    ///     ``NTLMHTTPClientError/connectFailed(host:port:reason:)`` or
    ///     ``NTLMHTTPClientError/connectTimeout(host:port:)`` naming the proxy.
    ///   - pin: uses the pin's connection (same upstream and credential) when it has one, and
    ///     leaves the connection in the pin afterwards instead of the shared pool.
    ///   - timeout: the deadline of the whole request, response body included; defaults to
    ///     ``Configuration/requestTimeout``.
    ///   - logger: overrides the client's logger for this request.
    /// - Throws: ``NTLMHTTPClientError``, or the error of a request body stream.
    public func execute(_ request: NTLMHTTPRequest, credential: HTTPCredential? = nil, via proxy: HTTPProxyServer? = nil, pin: ConnectionPin? = nil, timeout: Duration? = nil, logger: Logger? = nil) async throws -> NTLMHTTPResponse {
        let target = try RequestTarget(parsing: request.url)
        let execution = RequestExecution(
            client: self, request: request, target: target, credential: credential, proxy: proxy, pin: pin,
            deadline: deadline(for: timeout), cancellation: RequestCancellation(), logger: logger ?? self.logger)
        return try await perform(execution)
    }

    /// Closes every connection (pooled or busy) and refuses further requests.
    public func shutdown() async throws {
        await pool.shutdown()
    }

    /// The TLS context, made once from the configuration.
    func tlsContext() throws(NTLMHTTPClientError) -> NIOSSLContext {
        let result = sslContext.withLockedValue { cached -> Result<NIOSSLContext, NTLMHTTPClientError> in
            if let cached { return cached }
            let made: Result<NIOSSLContext, NTLMHTTPClientError>
            do {
                made = .success(try NIOSSLContext(configuration: configuration.tls))
            } catch {
                made = .failure(.tls("invalid TLS configuration: \(error)"))
            }
            cached = made
            return made
        }
        return try result.get()
    }

    /// Idle pooled connections for this endpoint and credential (diagnostics and tests).
    func idleConnectionCount(url: String, credential: HTTPCredential?) throws -> Int {
        let target = try RequestTarget(parsing: url)
        return pool.idleCount(for: PoolKey(endpoint: target.endpoint, credential: credential))
    }

    /// Idle pooled connections to this proxy for this credential (diagnostics and tests).
    func idleConnectionCount(proxy: HTTPProxyServer, credential: HTTPCredential?) -> Int {
        pool.idleCount(for: PoolKey(endpoint: proxy.endpoint, credential: credential, proxy: proxy))
    }
}
