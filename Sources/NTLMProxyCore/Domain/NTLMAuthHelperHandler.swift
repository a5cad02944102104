import Logging
import NIOCore

/// Runs `HelperConversation` on a helper's stdin/stdout channel (after a `HelperLineDecoder`):
/// writes one request at a time, feeds the answer lines in, arms the request timeout, and
/// completes the request's promise with its `HelperExchangeOutcome`. It closes the channel
/// when the conversation dies (exit, timeout, garbage); closing it is what gets the process
/// killed and reaped (`NTLMAuthHelper`).
final class NTLMAuthHelperHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private var conversation = HelperConversation()
    private var pending: EventLoopPromise<HelperExchangeOutcome>?
    private var timeout: Scheduled<Void>?
    private var context: ChannelHandlerContext?
    private let logger: Logger

    init(logger: Logger) {
        self.logger = logger
    }

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        perform(conversation.closed(), context: nil)
        self.context = nil
    }

    /// Writes `request` and completes `promise` with how it ended. Call on the event loop.
    /// A helper that is not idle (or already gone) answers `.exited` at once.
    func send(_ request: ByteBuffer, timeout: TimeAmount, promise: EventLoopPromise<HelperExchangeOutcome>) {
        guard let context, conversation.requestSent() else {
            promise.succeed(.exited)
            return
        }
        pending = promise
        self.timeout = context.eventLoop.assumeIsolated().scheduleTask(in: timeout) { [self] in
            perform(conversation.timedOut(), context: self.context)
        }
        let written = context.eventLoop.makePromise(of: Void.self)
        context.writeAndFlush(wrapOutboundOut(request), promise: written)
        written.futureResult.assumeIsolated().whenFailure { [self] _ in
            // The helper closed its stdin: it exited or is about to.
            perform(conversation.closed(), context: self.context)
        }
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let line = unwrapInboundIn(data)
        perform(conversation.lineReceived(Array(line.readableBytesView)), context: context)
    }

    func channelInactive(context: ChannelHandlerContext) {
        perform(conversation.closed(), context: context)
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        if let error = error as? NTLMServerHelperError {
            perform(conversation.decodingFailed(error), context: context)
        } else {
            logger.debug("ntlm_auth helper channel error", metadata: ["error": "\(error)"])
            perform(conversation.closed(), context: context)
        }
        context.close(promise: nil)
    }

    private func perform(_ action: HelperConversation.Action, context: ChannelHandlerContext?) {
        switch action {
        case .none:
            return
        case .complete(let outcome):
            timeout?.cancel()
            timeout = nil
            let promise = pending
            pending = nil
            if case .answered = outcome {} else {
                context?.close(promise: nil)
            }
            promise?.succeed(outcome)
        case .discard(let error):
            logger.warning("ntlm_auth helper out of step, replacing it", metadata: ["error": "\(error)"])
            context?.close(promise: nil)
        }
    }
}
