import NIOCore
import NIOHTTP1

/// One accepted client connection, read request by request and written response by response.
///
/// It is driven by exactly one task (the connection's), which is why the mutable iterator
/// needs no lock; `@unchecked Sendable` only lets that task hand it to the body sequence it
/// creates and awaits itself.
public final class ServerConnection: @unchecked Sendable {
    /// A process-unique id for logs: never reused, unlike an address and port.
    public let id: UInt64
    public let remoteAddress: SocketAddress?
    /// Whether the client reached us over TLS (Basic is offered only then, by default).
    public let isTLS: Bool
    private var iterator: NIOAsyncChannelInboundStream<HTTPServerRequestPart>.AsyncIterator
    private let outbound: NIOAsyncChannelOutboundWriter<HTTPServerResponsePart>
    /// True while the current request's body has not been read to its end.
    private var bodyPending = false
    /// A head that arrived while draining (cannot happen with pipelining assistance, kept
    /// for safety).
    private var bufferedHead: HTTPRequestHead?
    /// The channel, for switching to a tunnel (`nil` in tests that build a connection by hand).
    let channel: (any Channel)?
    /// Whether the listener built the tunnel-capable pipeline (`ListenerOptions.allowsTunnels`).
    let allowsTunnels: Bool
    /// The request most recently returned by `nextRequestHead()`.
    private(set) var currentRequest: HTTPRequestHead?

    init(id: UInt64, remoteAddress: SocketAddress?, isTLS: Bool, inbound: NIOAsyncChannelInboundStream<HTTPServerRequestPart>, outbound: NIOAsyncChannelOutboundWriter<HTTPServerResponsePart>, channel: (any Channel)? = nil, allowsTunnels: Bool = false) {
        self.id = id
        self.remoteAddress = remoteAddress
        self.isTLS = isTLS
        self.iterator = inbound.makeAsyncIterator()
        self.outbound = outbound
        self.channel = channel
        self.allowsTunnels = allowsTunnels
    }

    /// The next request head, after discarding what is left of the previous body; `nil`
    /// when the client closed the connection.
    public func nextRequestHead() async throws -> HTTPRequestHead? {
        try await drainBody()
        currentRequest = nil
        if let head = bufferedHead {
            bufferedHead = nil
            bodyPending = true
            currentRequest = head
            return head
        }
        while let part = try await iterator.next() {
            if case .head(let head) = part {
                bodyPending = true
                currentRequest = head
                return head
            }
        }
        return nil
    }

    /// The next chunk of the current request body, or `nil` at its end.
    public func nextBodyChunk() async throws -> ByteBuffer? {
        guard bodyPending else { return nil }
        while let part = try await iterator.next() {
            switch part {
            case .body(let buffer):
                return buffer
            case .end:
                bodyPending = false
                return nil
            case .head(let head):
                bufferedHead = head
                bodyPending = false
                return nil
            }
        }
        bodyPending = false
        throw ProxyError.clientClosedDuringBody
    }

    /// Reads and discards the rest of the current request body.
    public func drainBody() async throws {
        while try await nextBodyChunk() != nil {}
    }

    /// The current request body as an async sequence of chunks (read with backpressure).
    public func requestBody() -> RequestBody { RequestBody(connection: self) }

    public func writeHead(_ head: HTTPResponseHead) async throws {
        try await outbound.write(.head(head))
    }

    public func writeBody(_ buffer: ByteBuffer) async throws {
        try await outbound.write(.body(.byteBuffer(buffer)))
    }

    public func writeEnd() async throws {
        try await outbound.write(.end(nil))
    }

    /// Writes a whole small response (head, body, end) at once.
    public func writeResponse(_ head: HTTPResponseHead, body: ByteBuffer?) async throws {
        var parts: [HTTPServerResponsePart] = [.head(head)]
        if let body, body.readableBytes > 0 { parts.append(.body(.byteBuffer(body))) }
        parts.append(.end(nil))
        try await outbound.write(contentsOf: parts)
    }

    /// A printable client address for logs.
    public var clientDescription: String {
        guard let remoteAddress else { return "unknown" }
        if let ip = remoteAddress.ipAddress, let port = remoteAddress.port { return "\(ip):\(port)" }
        return "\(remoteAddress)"
    }
}

/// The body of the request being handled, as an `AsyncSequence` that pulls from the
/// connection (so the client is read only as fast as the upstream accepts data).
public struct RequestBody: AsyncSequence, Sendable {
    public typealias Element = ByteBuffer
    let connection: ServerConnection

    public struct AsyncIterator: AsyncIteratorProtocol {
        let connection: ServerConnection
        public mutating func next() async throws -> ByteBuffer? {
            try await connection.nextBodyChunk()
        }
    }

    public func makeAsyncIterator() -> AsyncIterator { AsyncIterator(connection: connection) }
}
