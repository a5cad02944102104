import NIOCore

/// The first handler of a proxy connection while `CONNECT` exchanges run on it: it writes the
/// request bytes itself and feeds the raw bytes that come back to a ``ConnectResponseReader``
/// (the HTTP codec behind it sees nothing), then resolves the exchange's future. State lives
/// on the channel's event loop.
///
/// When a 2xx head arrives it stops reading at once (`autoRead` off; the connection reads one
/// socket buffer at a time meanwhile, see ``HTTP1Connection/beginConnectExchanges(readIdleTimeout:)``),
/// so that no tunnel byte can arrive before the caller's own handler is in place; bytes that
/// came with the head are returned with the event.
final class ProxyConnectHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private enum State {
        case idle
        case waiting(ConnectResponseReader, EventLoopPromise<ConnectResponseReader.Event>)
        /// A 2xx came: reading stopped. Bytes arriving anyway are kept for the tunnel.
        case established(late: ByteBuffer?)
        case failed(NTLMHTTPClientError)
    }

    let eventLoop: any EventLoop
    let readIdleTimeout: TimeAmount
    /// The channel's `maxMessagesPerRead` before the exchanges; restored when they end.
    var savedMaxMessagesPerRead: UInt?
    private var context: ChannelHandlerContext?
    private var state = State.idle
    private var deadlineTimer: Scheduled<Void>?
    private var idleTimer: Scheduled<Void>?
    private var lastActivity = NIODeadline.now()

    init(readIdleTimeout: TimeAmount, eventLoop: any EventLoop) {
        self.readIdleTimeout = readIdleTimeout
        self.eventLoop = eventLoop
    }

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        self.context = nil
        cancelTimers()
    }

    // MARK: Operations (on the event loop)

    /// Writes `request` and returns the response as the reader sees it.
    func exchange(_ request: ByteBuffer, skipLimit: Int, deadline: NIODeadline?) -> EventLoopFuture<ConnectResponseReader.Event> {
        switch state {
        case .failed(let error):
            return eventLoop.makeFailedFuture(error)
        case .waiting, .established:
            return eventLoop.makeFailedFuture(NTLMHTTPClientError.remoteProtocolError("internal: CONNECT exchange already running"))
        case .idle:
            break
        }
        guard let context, context.channel.isActive else {
            return eventLoop.makeFailedFuture(NTLMHTTPClientError.connectionClosed)
        }
        let promise = eventLoop.makePromise(of: ConnectResponseReader.Event.self)
        state = .waiting(ConnectResponseReader(skipLimit: skipLimit), promise)
        lastActivity = .now()
        if let deadline {
            deadlineTimer = eventLoop.assumeIsolated().scheduleTask(deadline: deadline) { [self] in fail(.timeout) }
        }
        armIdleTimer()
        context.writeAndFlush(wrapOutboundOut(request), promise: nil)
        return promise.futureResult
    }

    /// Bytes that arrived after the 2xx event was delivered (normally none).
    func takeLateBytes() -> ByteBuffer? {
        guard case .established(let late) = state else { return nil }
        state = .established(late: nil)
        return late
    }

    /// Closes the connection, failing a waiting exchange with `error`.
    func fail(_ error: NTLMHTTPClientError) {
        let previous = state
        if case .failed = previous { return }
        state = .failed(error)
        cancelTimers()
        if case .waiting(_, let promise) = previous { promise.fail(error) }
        context?.close(promise: nil)
    }

    // MARK: NIO events

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let buffer = unwrapInboundIn(data)
        lastActivity = .now()
        switch state {
        case .waiting(var reader, let promise):
            // Drop the state's copy first, so the reader's buffers are not copied on write.
            state = .idle
            let event: ConnectResponseReader.Event?
            do {
                event = try reader.receive(buffer)
            } catch {
                state = .waiting(reader, promise)
                fail(.remoteProtocolError("response to CONNECT: \(error)"))
                return
            }
            guard let event else {
                state = .waiting(reader, promise)
                return
            }
            finish(event, promise: promise, context: context)
        case .established(var late):
            var more = buffer
            if late == nil { late = more } else { late?.writeBuffer(&more) }
            state = .established(late: late)
        case .idle:
            // Between exchanges the proxy has nothing to say.
            fail(.remoteProtocolError("response to CONNECT: \(HTTPMessageError.unsolicitedData)"))
        case .failed:
            break
        }
    }

    private func finish(_ event: ConnectResponseReader.Event, promise: EventLoopPromise<ConnectResponseReader.Event>, context: ChannelHandlerContext) {
        cancelTimers()
        switch event {
        case .established:
            // Stop reading before anyone else could: the tunnel's bytes wait in the socket
            // until the caller's handler asks for them.
            if let options = context.channel.syncOptions {
                try? options.setOption(ChannelOptions.autoRead, value: false)
            } else {
                context.channel.setOption(ChannelOptions.autoRead, value: false).whenComplete { _ in }
            }
            state = .established(late: nil)
        case .refused:
            state = .idle
        }
        promise.succeed(event)
    }

    func channelInactive(context: ChannelHandlerContext) {
        inputEnded()
        context.fireChannelInactive()
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if let event = event as? ChannelEvent, event == .inputClosed, case .waiting = state {
            inputEnded()
            return
        }
        context.fireUserInboundEventTriggered(event)
    }

    private func inputEnded() {
        guard case .waiting(var reader, let promise) = state else {
            fail(.connectionClosed)
            return
        }
        guard reader.sawBytes else {
            fail(.connectionClosed)
            return
        }
        do {
            guard let event = try reader.inputEnded() else {
                fail(.connectionClosed)
                return
            }
            cancelTimers()
            // A body that ran to the close: the response is complete, the connection gone.
            state = .failed(.connectionClosed)
            promise.succeed(event)
            context?.close(promise: nil)
        } catch {
            fail(.remoteProtocolError("response to CONNECT: \(error)"))
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        fail(HTTP1ConnectionHandler.map(error))
    }

    // MARK: Timers

    private func cancelTimers() {
        deadlineTimer?.cancel()
        deadlineTimer = nil
        idleTimer?.cancel()
        idleTimer = nil
    }

    private func armIdleTimer() {
        idleTimer?.cancel()
        idleTimer = eventLoop.assumeIsolated().scheduleTask(deadline: lastActivity + readIdleTimeout) { [self] in
            idleTimer = nil
            guard case .waiting = state else { return }
            if NIODeadline.now() - lastActivity >= readIdleTimeout {
                fail(.idleTimeout)
            } else {
                armIdleTimer()
            }
        }
    }
}
