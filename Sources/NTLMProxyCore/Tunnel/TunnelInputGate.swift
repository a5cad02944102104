import NIOCore

/// Holds a connection's input while the connection changes hands: between a `CONNECT` head and
/// the `200` (HTTP), after a SOCKS5 request, or from accept until a static tunnel is spliced.
///
/// While holding it passes no `read()` on and keeps what still arrives (a peer's last bytes
/// and its half-close come in even without a read: NIO drains the socket on EOF) in order,
/// then replays it to whoever sits behind it on `release()`. Otherwise it is transparent.
/// Sits right after TLS (bytes in, bytes out). Event-loop bound like any handler.
final class TunnelInputGate: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer
    typealias OutboundIn = NIOAny
    typealias OutboundOut = NIOAny

    private var holding: Bool
    private var held: CircularBuffer<ByteBuffer> = []
    private var heldInputClosed = false
    private var readPending = false
    private var context: ChannelHandlerContext?

    init(holding: Bool) {
        self.holding = holding
    }

    var isHolding: Bool { holding }

    /// Bytes received while holding, not yet replayed.
    var heldBytes: Int { held.reduce(0) { $0 + $1.readableBytes } }

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        self.context = nil
    }

    /// From now on keep input instead of passing it on.
    func hold() {
        holding = true
    }

    /// Replays what was held (bytes, then the half-close), then passes input through again.
    /// Whoever receives the bytes may call `hold()` again while they are replayed (a pipelined
    /// `CONNECT`): the rest then stays held.
    func release() {
        guard let context else { return }
        holding = false
        var delivered = false
        while !holding, let buffer = held.popFirst() {
            delivered = true
            context.fireChannelRead(wrapInboundOut(buffer))
        }
        if delivered { context.fireChannelReadComplete() }
        guard !holding else { return }
        if heldInputClosed {
            heldInputClosed = false
            context.fireUserInboundEventTriggered(ChannelEvent.inputClosed)
        }
        if readPending, !holding {
            readPending = false
            context.read()
        }
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard holding else {
            context.fireChannelRead(data)
            return
        }
        held.append(unwrapInboundIn(data))
    }

    /// Always passed on: the read that brought a `CONNECT` head ends after the gate started
    /// holding, and NIO's async channel delivers what it buffered only on read-complete.
    func channelReadComplete(context: ChannelHandlerContext) {
        context.fireChannelReadComplete()
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if holding, let event = event as? ChannelEvent, event == .inputClosed {
            heldInputClosed = true
            return
        }
        context.fireUserInboundEventTriggered(event)
    }

    func read(context: ChannelHandlerContext) {
        guard !holding else {
            readPending = true
            return
        }
        context.read()
    }
}
