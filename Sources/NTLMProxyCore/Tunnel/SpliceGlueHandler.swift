import NIOConcurrencyHelpers
import NIOCore

/// The shared part of a splice: the state machine behind a lock (the two channels may live on
/// different event loops) and the glue handler of each side, reached on its own loop.
final class SpliceCore: Sendable {
    private let state = NIOLockedValueBox(SpliceStateMachine())
    private let glues = NIOLockedValueBox<[NIOLoopBound<SpliceGlueHandler>?]>([nil, nil])
    let channels: [any Channel]

    init(client: any Channel, upstream: any Channel) {
        channels = [client, upstream]
    }

    func channel(_ side: SpliceSide) -> any Channel { channels[side.rawValue] }

    var snapshot: SpliceStateMachine { state.withLockedValue { $0 } }

    func register(_ glue: NIOLoopBound<SpliceGlueHandler>, for side: SpliceSide) {
        glues.withLockedValue { $0[side.rawValue] = glue }
    }

    func handle(_ event: SpliceStateMachine.Event) {
        perform(state.withLockedValue { $0.apply(event) })
    }

    /// Bytes read from `source` (or its initial bytes): written to the other side in order.
    func forward(_ buffer: ByteBuffer, from source: SpliceSide) {
        guard state.withLockedValue({ $0.received(from: source, bytes: buffer.readableBytes) }) else { return }
        onLoop(of: source.other) { $0.write(buffer) }
    }

    private func perform(_ actions: [SpliceStateMachine.Action]) {
        for action in actions {
            switch action {
            case .read(let side):
                onLoop(of: side) { $0.read() }
            case .shutdownOutput(let side):
                onLoop(of: side) { $0.shutdownOutput() }
            case .close(let side):
                if glues.withLockedValue({ $0[side.rawValue] }) == nil {
                    channel(side).close(promise: nil)
                } else {
                    onLoop(of: side) { $0.close() }
                }
            }
        }
    }

    /// Runs `body` with the side's glue on that side's event loop: inline when already there,
    /// else queued (FIFO, so writes and actions from one loop keep their order).
    private func onLoop(of side: SpliceSide, _ body: @escaping @Sendable (SpliceGlueHandler) -> Void) {
        guard let glue = glues.withLockedValue({ $0[side.rawValue] }) else { return }
        let loop = channel(side).eventLoop
        if loop.inEventLoop {
            body(glue.value)
        } else {
            loop.execute { body(glue.value) }
        }
    }
}

/// One side of a splice: hands what it reads to the core and writes what the core forwards.
/// Reads are requested explicitly (the channel runs with `autoRead == false`).
final class SpliceGlueHandler: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundIn = NIOAny
    typealias OutboundOut = ByteBuffer

    private let side: SpliceSide
    private let core: SpliceCore
    private var context: ChannelHandlerContext?

    init(side: SpliceSide, core: SpliceCore) {
        self.side = side
        self.core = core
    }

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        self.context = nil
    }

    // MARK: inbound events → core

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        core.forward(unwrapInboundIn(data), from: side)
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        core.handle(.readComplete(side))
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        core.handle(.writabilityChanged(side, writable: context.channel.isWritable))
        context.fireChannelWritabilityChanged()
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if let event = event as? ChannelEvent, event == .inputClosed {
            core.handle(.inputClosed(side))
            return
        }
        context.fireUserInboundEventTriggered(event)
    }

    func channelInactive(context: ChannelHandlerContext) {
        core.handle(.inactive(side))
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        // Ends the splice; not passed on (nobody behind us reads this channel any more).
        core.handle(.error(side, "\(error)"))
    }

    // MARK: core actions (on this channel's event loop)

    func write(_ buffer: ByteBuffer) {
        guard let context else { return }
        let count = buffer.readableBytes
        let core = self.core
        let side = self.side
        let promise = context.eventLoop.makePromise(of: Void.self)
        promise.futureResult.whenComplete { result in
            if case .success = result {
                core.handle(.writeCompleted(side, bytes: count, succeeded: true))
            } else {
                core.handle(.writeCompleted(side, bytes: count, succeeded: false))
            }
        }
        context.writeAndFlush(wrapOutboundOut(buffer), promise: promise)
    }

    func read() {
        context?.read()
    }

    func shutdownOutput() {
        guard let context else { return }
        let core = self.core
        let side = self.side
        let promise = context.eventLoop.makePromise(of: Void.self)
        promise.futureResult.whenComplete { result in
            if case .success = result {
                core.handle(.outputShutdownCompleted(side, succeeded: true))
            } else {
                core.handle(.outputShutdownCompleted(side, succeeded: false))
            }
        }
        context.close(mode: .output, promise: promise)
    }

    func close() {
        guard let context else { return }
        context.close(promise: nil)
    }
}
