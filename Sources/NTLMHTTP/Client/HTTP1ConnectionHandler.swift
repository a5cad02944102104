import NIOCore
import NIOHTTP1
import NIOSSL
import NIOTLS

/// The last handler of a client connection's pipeline (after the HTTP/1.1 codec): one
/// exchange at a time, translating NIO events into the promises and body stream that
/// ``HTTP1Connection`` awaits. All state lives on the channel's event loop.
///
/// Backpressure: reads are requested from the socket only while the response body's
/// consumer has room (the producer's high watermark), and request body parts are written
/// only while the channel is writable.
final class HTTP1ConnectionHandler: ChannelDuplexHandler {
    typealias InboundIn = HTTPClientResponsePart
    typealias OutboundIn = HTTPClientRequestPart
    typealias OutboundOut = HTTPClientRequestPart

    struct ResponseStart: Sendable {
        var head: HTTPResponseHead
        var body: NTLMHTTPResponse.Body
    }

    enum Response {
        case none
        case waitingHead
        case streaming(ResponseBodyProducer.Source)
        case complete
    }

    let readIdleTimeout: TimeAmount
    let eventLoop: any EventLoop
    private var context: ChannelHandlerContext?
    private var exchange: UInt64 = 0
    private var response: Response = .none
    private var requestComplete = true
    private var responseKeepAlive = true
    private var headResult: Result<ResponseStart, NTLMHTTPClientError>?
    private var headWaiter: EventLoopPromise<ResponseStart>?
    private var continueWaiter: EventLoopPromise<Bool>?
    private var continueTimer: Scheduled<Void>?
    private var writableWaiter: EventLoopPromise<Void>?
    private var shouldRead = true
    private var pendingRead = false
    private(set) var failure: NTLMHTTPClientError?
    private var deadlineTimer: Scheduled<Void>?
    private var idleTimer: Scheduled<Void>?
    private var lastActivity = NIODeadline.now()
    private var releaseDecision: Bool?
    private var poolIdleTimer: Scheduled<Void>?
    private var tlsWaiter: EventLoopPromise<[UInt8]?>?
    private var tlsResult: [UInt8]??
    /// Called on the event loop when a delivered response completed and the connection may
    /// be reused.
    var onReusable: (() -> Void)?

    init(readIdleTimeout: TimeAmount, eventLoop: any EventLoop) {
        self.readIdleTimeout = readIdleTimeout
        self.eventLoop = eventLoop
    }

    // MARK: NIO events

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        self.context = nil
        // Breaks the handler → pool callback → connection → handler cycle.
        onReusable = nil
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        lastActivity = .now()
        switch unwrapInboundIn(data) {
        case .head(let head):
            receivedHead(head)
        case .body(let buffer):
            guard case .streaming(let source) = response else {
                fail(.remoteProtocolError("response body without a response"))
                return
            }
            if source.yield(buffer) == .stopProducing {
                shouldRead = false
            }
        case .end:
            guard case .streaming(let source) = response else {
                fail(.remoteProtocolError("response end without a response"))
                return
            }
            response = .complete
            // Back to the pool (if already decided) before the reader can see the end, so a
            // request following this one finds the connection there.
            responseCompleted()
            source.finish()
        }
    }

    private func receivedHead(_ head: HTTPResponseHead) {
        let code = head.status.code
        if code >= 100 && code < 200 {
            if code == 101 {
                fail(.remoteProtocolError("unexpected protocol switch (101)"))
            } else if code == 100, let waiter = continueWaiter {
                // 100 Continue: the server wants the body. It is never delivered (1xx are
                // interim), so a 100 on a leg that ends in 401 goes nowhere.
                continueWaiter = nil
                continueTimer?.cancel()
                waiter.succeed(true)
            }
            return
        }
        guard case .waitingHead = response else {
            fail(.remoteProtocolError("unsolicited response"))
            return
        }
        responseKeepAlive = head.isKeepAlive
        let producer = ResponseBodyProducer.makeSequence(
            elementType: ByteBuffer.self, failureType: (any Error).self,
            backPressureStrategy: .init(lowWatermark: 2, highWatermark: 8), finishOnDeinit: false,
            delegate: ResponseBodyDelegate(handler: NIOLoopBound(self, eventLoop: eventLoop), exchange: exchange))
        response = .streaming(producer.source)
        let start = ResponseStart(head: head, body: NTLMHTTPResponse.Body(producer: producer.sequence))
        if let waiter = continueWaiter {
            // A final answer instead of 100 Continue: the body is not sent.
            continueWaiter = nil
            continueTimer?.cancel()
            waiter.succeed(false)
        }
        if let waiter = headWaiter {
            headWaiter = nil
            waiter.succeed(start)
        } else {
            headResult = .success(start)
        }
    }

    private func responseCompleted() {
        deadlineTimer?.cancel()
        deadlineTimer = nil
        // A server that answered before our body was complete keeps the connection in step
        // only if the body still goes out in full: `isReusable` also requires
        // `requestComplete`.
        resumeReading()
        if requestComplete, let reusable = releaseDecision {
            finishExchange(reusable: reusable)
        }
    }

    func read(context: ChannelHandlerContext) {
        if shouldRead {
            context.read()
        } else {
            pendingRead = true
        }
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        context.write(data, promise: promise)
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        if context.channel.isWritable, let waiter = writableWaiter {
            writableWaiter = nil
            lastActivity = .now()
            waiter.succeed(())
        }
        context.fireChannelWritabilityChanged()
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if let tlsEvent = event as? TLSUserEvent, case .handshakeCompleted = tlsEvent {
            let handler = try? context.pipeline.syncOperations.handler(type: NIOSSLClientHandler.self)
            let der = try? handler?.peerCertificate?.toDERBytes()
            tlsResult = .some(der)
            tlsWaiter?.succeed(der)
            tlsWaiter = nil
        }
        context.fireUserInboundEventTriggered(event)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        fail(Self.map(error))
    }

    func channelInactive(context: ChannelHandlerContext) {
        fail(.connectionClosed)
        context.fireChannelInactive()
    }

    static func map(_ error: any Error) -> NTLMHTTPClientError {
        if let error = error as? NTLMHTTPClientError { return error }
        if error is NIOSSLError || error is BoringSSLError || error is NIOSSLExtraError {
            return .tls(String(describing: error))
        }
        if error is HTTPParserError {
            return .remoteProtocolError(String(describing: error))
        }
        return .connectionClosed
    }

    // MARK: Operations (called on the event loop by HTTP1Connection)

    /// The peer certificate's DER once TLS is up (`nil` without a certificate).
    func tlsEstablished() -> EventLoopFuture<[UInt8]?> {
        if let failure { return eventLoop.makeFailedFuture(failure) }
        if let tlsResult { return eventLoop.makeSucceededFuture(tlsResult) }
        let promise = eventLoop.makePromise(of: [UInt8]?.self)
        tlsWaiter = promise
        return promise.futureResult
    }

    /// Whether a new exchange may start: the last one completed cleanly with keep-alive.
    var isReusable: Bool {
        guard failure == nil, requestComplete, responseKeepAlive, let context, context.channel.isActive else { return false }
        switch response {
        case .none, .complete: return true
        case .waitingHead, .streaming: return false
        }
    }

    func beginExchange(deadline: NIODeadline?) throws(NTLMHTTPClientError) {
        if let failure { throw failure }
        guard isReusable else { throw .connectionClosed }
        poolIdleTimer?.cancel()
        poolIdleTimer = nil
        exchange &+= 1
        response = .waitingHead
        requestComplete = false
        responseKeepAlive = true
        headResult = nil
        releaseDecision = nil
        lastActivity = .now()
        if let deadline {
            deadlineTimer = eventLoop.assumeIsolated().scheduleTask(deadline: deadline) { [self] in fail(.timeout) }
        }
        armIdleTimer()
    }

    /// Writes a request head, optionally a body and the end, with a single flush.
    func send(head: HTTPRequestHead, body: ByteBuffer?, end: Bool) throws(NTLMHTTPClientError) {
        if let failure { throw failure }
        guard let context else { throw .connectionClosed }
        context.write(wrapOutboundOut(.head(head)), promise: nil)
        if let body, body.readableBytes > 0 {
            context.write(wrapOutboundOut(.body(.byteBuffer(body))), promise: nil)
        }
        if end {
            context.write(wrapOutboundOut(.end(nil)), promise: nil)
            requestSent()
        }
        context.flush()
    }

    func sendBody(_ buffer: ByteBuffer) throws(NTLMHTTPClientError) {
        if let failure { throw failure }
        guard let context else { throw .connectionClosed }
        context.writeAndFlush(wrapOutboundOut(.body(.byteBuffer(buffer))), promise: nil)
    }

    func sendEnd() throws(NTLMHTTPClientError) {
        if let failure { throw failure }
        guard let context else { throw .connectionClosed }
        context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
        requestSent()
    }

    private func requestSent() {
        requestComplete = true
        lastActivity = .now()
        // A relayed body still going out after the whole response arrived (a 401 sent before
        // the server read the body): the connection is released now that both are done.
        if case .complete = response, let reusable = releaseDecision {
            finishExchange(reusable: reusable)
        }
    }

    /// Succeeds when the channel can take more bytes.
    func writable() -> EventLoopFuture<Void> {
        if let failure { return eventLoop.makeFailedFuture(failure) }
        guard let context else { return eventLoop.makeFailedFuture(NTLMHTTPClientError.connectionClosed) }
        if context.channel.isWritable { return eventLoop.makeSucceededVoidFuture() }
        let promise = eventLoop.makePromise(of: Void.self)
        writableWaiter = promise
        lastActivity = .now()
        return promise.futureResult
    }

    /// Writes a head with `Expect: 100-continue` and waits, in the same event-loop turn (so a
    /// quick `100` cannot slip by): true when the body should go (100 arrived or `timeout`
    /// passed), false when a final response came instead.
    func sendExpectingContinue(head: HTTPRequestHead, timeout: TimeAmount) -> EventLoopFuture<Bool> {
        do {
            try send(head: head, body: nil, end: false)
        } catch {
            return eventLoop.makeFailedFuture(error)
        }
        return awaitContinue(timeout: timeout)
    }

    private func awaitContinue(timeout: TimeAmount) -> EventLoopFuture<Bool> {
        // A final response may already be here (and the connection closed after it).
        if headResult != nil { return eventLoop.makeSucceededFuture(false) }
        if let failure { return eventLoop.makeFailedFuture(failure) }
        guard case .waitingHead = response else { return eventLoop.makeSucceededFuture(false) }
        let promise = eventLoop.makePromise(of: Bool.self)
        continueWaiter = promise
        lastActivity = .now()
        continueTimer = eventLoop.assumeIsolated().scheduleTask(in: timeout) { [self] in
            if let waiter = continueWaiter {
                continueWaiter = nil
                waiter.succeed(true)
            }
        }
        return promise.futureResult
    }

    /// The response's head and body stream.
    func responseHead() -> EventLoopFuture<ResponseStart> {
        if let headResult {
            self.headResult = nil
            return eventLoop.makeCompletedFuture(headResult.mapError { $0 as any Error })
        }
        if let failure { return eventLoop.makeFailedFuture(failure) }
        let promise = eventLoop.makePromise(of: ResponseStart.self)
        headWaiter = promise
        return promise.futureResult
    }

    /// The delivered response's connection goes back to the pool (`reusable`) or closes,
    /// once its body has been read to the end.
    func release(reusable: Bool) {
        if case .complete = response, requestComplete {
            finishExchange(reusable: reusable)
        } else if failure == nil {
            releaseDecision = reusable
        }
    }

    private func finishExchange(reusable: Bool) {
        releaseDecision = nil
        if reusable && isReusable {
            onReusable?()
        } else {
            context?.close(promise: nil)
        }
    }

    /// The connection leaves the pool for `CONNECT` exchanges, which run in front of this
    /// handler: the pool's idle expiry no longer applies.
    func suspendForConnect() {
        poolIdleTimer?.cancel()
        poolIdleTimer = nil
    }

    /// While pooled: close after `timeout` unless an exchange starts; `expire` decides.
    func scheduleIdleExpiry(in timeout: TimeAmount, expire: @escaping () -> Void) {
        poolIdleTimer?.cancel()
        poolIdleTimer = eventLoop.assumeIsolated().scheduleTask(in: timeout) { expire() }
    }

    /// Closes the connection, failing whatever waits on it with `error`.
    func fail(_ error: NTLMHTTPClientError) {
        let error = failure ?? error
        failure = error
        deadlineTimer?.cancel()
        deadlineTimer = nil
        idleTimer?.cancel()
        idleTimer = nil
        continueTimer?.cancel()
        poolIdleTimer?.cancel()
        if let waiter = continueWaiter {
            continueWaiter = nil
            waiter.fail(error)
        }
        if let waiter = writableWaiter {
            writableWaiter = nil
            waiter.fail(error)
        }
        if let waiter = tlsWaiter {
            tlsWaiter = nil
            waiter.fail(error)
        }
        switch response {
        case .waitingHead:
            response = .complete
            if let waiter = headWaiter {
                headWaiter = nil
                waiter.fail(error)
            } else {
                headResult = .failure(error)
            }
        case .streaming(let source):
            response = .complete
            source.finish(error)
        case .none, .complete:
            break
        }
        context?.close(promise: nil)
    }

    // MARK: Body consumer

    func consumerDemands(exchange: UInt64) {
        guard exchange == self.exchange else { return }
        resumeReading()
    }

    func consumerTerminated(exchange: UInt64) {
        guard exchange == self.exchange, case .streaming = response else { return }
        // The body was dropped (or its reader cancelled) before its end: the rest of it
        // would have to be read to reuse the connection; close it instead.
        fail(.cancelled)
    }

    private func resumeReading() {
        shouldRead = true
        if pendingRead, let context {
            pendingRead = false
            context.read()
        }
    }

    // MARK: Idle timeout

    private var isWaitingOnPeer: Bool {
        if writableWaiter != nil || continueWaiter != nil { return true }
        switch response {
        case .waitingHead: return requestComplete
        case .streaming: return shouldRead
        case .none, .complete: return false
        }
    }

    private var exchangeInProgress: Bool {
        switch response {
        case .waitingHead, .streaming: return true
        case .none, .complete: return false
        }
    }

    private func armIdleTimer() {
        guard idleTimer == nil else { return }
        idleTimer = eventLoop.assumeIsolated().scheduleTask(deadline: lastActivity + readIdleTimeout) { [self] in idleTimerFired() }
    }

    private func idleTimerFired() {
        idleTimer = nil
        guard failure == nil, exchangeInProgress else { return }
        let now = NIODeadline.now()
        if isWaitingOnPeer {
            if now - lastActivity >= readIdleTimeout {
                fail(.idleTimeout)
                return
            }
        } else {
            // The application is the slow side (producing the request body or consuming the
            // response body); the server is not silent.
            lastActivity = now
        }
        armIdleTimer()
    }
}

/// Removed when its connection becomes a tunnel.
extension HTTP1ConnectionHandler: RemovableChannelHandler {}
