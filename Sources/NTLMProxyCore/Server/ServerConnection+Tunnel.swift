import NIOCore
import NIOHTTP1

extension ServerConnection {
    /// Answers the current CONNECT with `200 Connection established` (no Content-Length, no
    /// Connection: close — RFC 9110 §9.3.6), switches this client connection to raw bytes and
    /// splices it with `upstream` both ways until both directions are done; returns the byte counts.
    ///
    /// Bytes the client sent right after its `CONNECT` head reach `upstream` first, in order;
    /// `initialBytesToClient` (what the parent sent past its own `200`) reaches the client
    /// first. `upstream` must be connected, with `autoRead == false` and no handlers; it is
    /// closed when this returns or throws. Only on a listener with `allowsTunnels`; after it
    /// returns the connection is finished (return from `serve`).
    public func startTunnel(to upstream: any Channel, initialBytesToClient: ByteBuffer?, reasonPhrase: String = "Connection established") async throws -> TunnelStatistics {
        do {
            let channel = try tunnelChannel()
            guard let request = currentRequest, request.method == .CONNECT else { throw ServerTunnelError.notAConnectRequest }
            let leftover = try await channel.eventLoop.submit {
                try channel.pipeline.syncOperations.handler(type: HTTPTunnelSwitchHandler.self).prepareTunnel(eventLoop: channel.eventLoop)
            }.get()
            // A reason phrase is free text, but never a line break (response splitting).
            let phrase = String(reasonPhrase.unicodeScalars.filter { $0.value >= 0x20 && $0.value != 0x7F })
            let head = HTTPResponseHead(version: request.version, status: .custom(code: 200, reasonPhrase: phrase))
            // Through the ordinary writer, so it follows any response still on its way.
            try await writeResponse(head, body: nil)
            let clientBytes = try await leftover.get()
            return try await ChannelSplice.run(client: channel, upstream: upstream, initialToClient: initialBytesToClient, initialToUpstream: clientBytes)
        } catch {
            upstream.close(promise: nil)
            throw error
        }
    }

    /// Answers the current CONNECT with a refusal (any status, with body and Content-Length) and
    /// keeps the connection usable for the next request (decoder reset) when keepAlive is true.
    ///
    /// Content-Length is set from `body`; `Connection` is set from `keepAlive` (`close`, or
    /// `keep-alive` for HTTP/1.0). With `keepAlive == false` return from `serve` afterwards.
    public func refuseConnect(_ head: HTTPResponseHead, body: ByteBuffer?, keepAlive: Bool) async throws {
        _ = try tunnelChannel()
        guard let request = currentRequest, request.method == .CONNECT else { throw ServerTunnelError.notAConnectRequest }
        guard head.status.code >= 300 else { throw ServerTunnelError.invalidRefusalStatus(head.status.code) }
        var head = head
        head.headers.remove(name: "transfer-encoding")
        head.headers.replaceOrAdd(name: "content-length", value: String(body?.readableBytes ?? 0))
        head.headers.remove(name: "connection")
        SimpleResponses.connectionHeader(&head.headers, version: head.version, keepAlive: keepAlive)
        try await writeResponse(head, body: body)
    }

    private func tunnelChannel() throws(ServerTunnelError) -> any Channel {
        guard allowsTunnels, let channel else { throw .listenerNotTunnelCapable }
        return channel
    }
}

/// Misuse of the tunnel calls of `ServerConnection`, or a connection that went away meanwhile.
public enum ServerTunnelError: Error, Hashable, Sendable, CustomStringConvertible {
    /// `startTunnel`/`refuseConnect` on a listener without `allowsTunnels`.
    case listenerNotTunnelCapable
    /// The current request is not a `CONNECT` (or its response has started).
    case notAConnectRequest
    /// `refuseConnect` with a 1xx or 2xx status.
    case invalidRefusalStatus(UInt)
    case connectionClosed

    public var description: String {
        switch self {
        case .listenerNotTunnelCapable: return "this listener cannot tunnel (ListenerOptions.allowsTunnels is false)"
        case .notAConnectRequest: return "the current request is not a CONNECT awaiting its response"
        case .invalidRefusalStatus(let code): return "a CONNECT refusal needs a status of 300 or more, not \(code)"
        case .connectionClosed: return "the client connection closed before the tunnel was set up"
        }
    }
}
