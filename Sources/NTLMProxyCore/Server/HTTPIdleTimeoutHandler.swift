import NIOCore
import NIOHTTP1

/// Closes an HTTP connection that has had no request in flight for `timeout`: counted from
/// the connection's start or the end of the last response, and paused from a request head to
/// its response's end — so a slow backend or a long download (the client sends nothing
/// meanwhile) is bounded by the request timeout, not cut off here, and a pin's idle time is
/// exactly the time between its exchanges. A client that takes longer than `timeout` to send
/// a complete request head is closed too. Sits after the HTTP server handlers (with
/// pipelining assistance, heads arrive one at a time).
final class HTTPIdleTimeoutHandler: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias InboundOut = HTTPServerRequestPart
    typealias OutboundIn = HTTPServerResponsePart
    typealias OutboundOut = HTTPServerResponsePart

    private let timeout: TimeAmount
    private var requestsInFlight = 0
    private var timer: Scheduled<Void>?

    init(timeout: TimeAmount) {
        self.timeout = timeout
    }

    func handlerAdded(context: ChannelHandlerContext) {
        if context.channel.isActive { arm(context) }
    }

    func channelActive(context: ChannelHandlerContext) {
        arm(context)
        context.fireChannelActive()
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        timer?.cancel()
        timer = nil
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        if case .head = unwrapInboundIn(data) {
            requestsInFlight += 1
            timer?.cancel()
            timer = nil
        }
        context.fireChannelRead(data)
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        if case .end = unwrapOutboundIn(data) {
            requestsInFlight = max(0, requestsInFlight - 1)
            if requestsInFlight == 0 { arm(context) }
        }
        context.write(data, promise: promise)
    }

    private func arm(_ context: ChannelHandlerContext) {
        timer?.cancel()
        let loopBoundContext = NIOLoopBound(context, eventLoop: context.eventLoop)
        timer = context.eventLoop.assumeIsolated().scheduleTask(in: timeout) { [self] in
            guard requestsInFlight == 0 else { return }
            loopBoundContext.value.close(promise: nil)
        }
    }
}
