import NIOConcurrencyHelpers
import NIOCore
import NIOHTTP1
import NIOPosix
import NIOSSL
import NTLM

/// One HTTP/1.1 client connection (TCP, optional TLS) with an async interface for one
/// exchange at a time. It belongs for its whole life to one ``PoolKey`` (endpoint and
/// credential): that is what keeps a connection authenticated for one credential from ever
/// carrying another's request (design invariant 2).
final class HTTP1Connection: Sendable, CustomStringConvertible {
    let id: Int
    let key: PoolKey
    let channel: any Channel
    let handler: NIOLoopBound<HTTP1ConnectionHandler>
    /// RFC 5929 tls-server-end-point bindings of this connection's TLS session, if any.
    let channelBindings: ChannelBindings?
    /// How our credential last authenticated on this connection: a logon the connection keeps
    /// (NTLM; Kerberos with `Persistent-Auth: true`) means later requests go without
    /// credentials, otherwise (Basic, Kerberos) they carry their own.
    let authentication = NIOLockedValueBox<ConnectionAuthentication?>(nil)

    var eventLoop: any EventLoop { channel.eventLoop }
    var description: String { "#\(id)" }

    private init(id: Int, key: PoolKey, channel: any Channel, handler: NIOLoopBound<HTTP1ConnectionHandler>, channelBindings: ChannelBindings?) {
        self.id = id
        self.key = key
        self.channel = channel
        self.handler = handler
        self.channelBindings = channelBindings
    }

    /// Opens a connection: TCP with `TCP_NODELAY`, TLS when the endpoint is `https`
    /// (awaiting the handshake, so the peer certificate is known), then the HTTP/1.1 codec.
    static func connect(
        id: Int, key: PoolKey, group: any EventLoopGroup, tlsContext: NIOSSLContext?,
        timeout: TimeAmount, readIdleTimeout: TimeAmount
    ) async throws(NTLMHTTPClientError) -> HTTP1Connection {
        let endpoint = key.endpoint
        let serverName = Self.isIPAddress(endpoint.host) ? nil : endpoint.host
        let bootstrap = ClientBootstrap(group: group)
            .connectTimeout(timeout)
            .channelOption(.socketOption(.tcp_nodelay), value: 1)
        let channel: any Channel
        let handler: NIOLoopBound<HTTP1ConnectionHandler>
        do {
            // The handler is taken from the initializer: a TLS handshake that fails at once
            // may tear the pipeline down before anyone could look it up.
            (channel, handler) = try await bootstrap.connect(host: endpoint.host, port: endpoint.port) { channel in
                channel.eventLoop.makeCompletedFuture {
                    let sync = channel.pipeline.syncOperations
                    if let tlsContext {
                        try sync.addHandler(NIOSSLClientHandler(context: tlsContext, serverHostname: serverName))
                    }
                    // addHTTPClientHandlers, but with 1xx forwarded: `100 Continue` matters.
                    try sync.addHandler(HTTPRequestEncoder())
                    try sync.addHandler(ByteToMessageHandler(HTTPResponseDecoder(leftOverBytesStrategy: .dropBytes, informationalResponseStrategy: .forward)))
                    try sync.addHandler(NIOHTTPRequestHeadersValidator())
                    let handler = HTTP1ConnectionHandler(readIdleTimeout: readIdleTimeout, eventLoop: channel.eventLoop)
                    try sync.addHandler(handler)
                    return (channel, NIOLoopBound(handler, eventLoop: channel.eventLoop))
                }
            }
        } catch ChannelError.connectTimeout {
            throw .connectTimeout(host: endpoint.host, port: endpoint.port)
        } catch let error as NTLMHTTPClientError {
            throw error
        } catch {
            throw .connectFailed(host: endpoint.host, port: endpoint.port, reason: String(describing: error))
        }
        do {
            var bindings: ChannelBindings? = nil
            if tlsContext != nil {
                let timer = channel.eventLoop.scheduleTask(in: timeout) {
                    handler.value.fail(.tls("handshake timed out"))
                }
                let der = try await channel.eventLoop.flatSubmit { handler.value.tlsEstablished() }.get()
                timer.cancel()
                bindings = der.map { TLSServerEndPoint.channelBindings(certificateDER: $0) }
            }
            return HTTP1Connection(id: id, key: key, channel: channel, handler: handler, channelBindings: bindings)
        } catch {
            channel.close(promise: nil)
            throw HTTP1ConnectionHandler.map(error)
        }
    }

    static func isIPAddress(_ host: String) -> Bool {
        if host.contains(":") { return true }
        return !host.isEmpty && host.utf8.allSatisfy { ($0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9")) || $0 == UInt8(ascii: ".") }
    }

    // MARK: Exchange operations (each hops to the event loop once)

    func onLoop<T: Sendable>(_ body: @escaping @Sendable (HTTP1ConnectionHandler) throws -> EventLoopFuture<T>) async throws(NTLMHTTPClientError) -> T {
        let handler = self.handler
        do {
            return try await eventLoop.flatSubmit {
                do {
                    return try body(handler.value)
                } catch {
                    return handler.eventLoop.makeFailedFuture(error)
                }
            }.get()
        } catch {
            throw HTTP1ConnectionHandler.map(error)
        }
    }

    var isReusable: Bool {
        get async {
            let handler = self.handler
            return (try? await eventLoop.submit { handler.value.isReusable }.get()) ?? false
        }
    }

    /// A whole request (head, body in memory, end) in one write and one flush, and its
    /// response head: one event-loop hop.
    func exchange(head: HTTPRequestHead, body: ByteBuffer?, deadline: NIODeadline?) async throws(NTLMHTTPClientError) -> HTTP1ConnectionHandler.ResponseStart {
        try await onLoop { handler in
            try handler.beginExchange(deadline: deadline)
            try handler.send(head: head, body: body, end: true)
            return handler.responseHead()
        }
    }

    /// Starts a request whose body follows (`sendBody`, `sendEnd`). With
    /// `expectContinueTimeout` the head carries `Expect: 100-continue` and this returns
    /// whether the body should go (false: a final response came first).
    func startStreaming(head: HTTPRequestHead, deadline: NIODeadline?, expectContinueTimeout: TimeAmount?) async throws(NTLMHTTPClientError) -> Bool {
        try await onLoop { handler in
            try handler.beginExchange(deadline: deadline)
            if let expectContinueTimeout {
                return handler.sendExpectingContinue(head: head, timeout: expectContinueTimeout)
            }
            try handler.send(head: head, body: nil, end: false)
            return handler.eventLoop.makeSucceededFuture(true)
        }
    }

    /// Writes a body part, then waits until the channel is writable again (backpressure:
    /// at most one part beyond the channel's high watermark is in memory).
    func sendBody(_ buffer: ByteBuffer) async throws(NTLMHTTPClientError) {
        try await onLoop { handler in
            try handler.sendBody(buffer)
            return handler.writable()
        }
    }

    func sendEnd() async throws(NTLMHTTPClientError) {
        try await onLoop { handler in
            try handler.sendEnd()
            return handler.eventLoop.makeSucceededVoidFuture()
        }
    }

    func responseHead() async throws(NTLMHTTPClientError) -> HTTP1ConnectionHandler.ResponseStart {
        try await onLoop { handler in handler.responseHead() }
    }

    /// Hands the delivered response's connection back: pooled after its body ends if
    /// `reusable` and the exchange allows it, else closed.
    func release(reusable: Bool) async {
        let handler = self.handler
        try? await eventLoop.submit { handler.value.release(reusable: reusable) }.get()
    }

    /// Closes the connection; whatever awaits it fails with `error`.
    func fail(_ error: NTLMHTTPClientError) {
        let handler = self.handler
        eventLoop.execute { handler.value.fail(error) }
    }

    func close() {
        fail(.connectionClosed)
    }
}
