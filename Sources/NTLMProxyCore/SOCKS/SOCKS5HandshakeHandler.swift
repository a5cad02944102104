import NIOCore

/// A SOCKS5 request, as far as the handshake got: the target and who asked.
struct SOCKS5Request: Sendable, Hashable {
    var host: String
    var port: Int
    /// The RFC 1929 user, when one authenticated.
    var username: String?
}

/// Runs `SOCKS5ServerHandshake` on a raw client channel: reads (the channel has
/// `autoRead == false`), answers the greeting and the credentials, and reports the CONNECT
/// request through `request`. Once the session has opened (or failed to open) the target it
/// calls `connectCompleted`, which writes the reply and gives back the bytes the client sent
/// after its request. Sits right after the listener's `TunnelInputGate`, which it tells to hold
/// input from the request on.
final class SOCKS5HandshakeHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private var machine: SOCKS5ServerHandshake
    private let users: SOCKS5Users
    private let gate: TunnelInputGate
    private let requestPromise: EventLoopPromise<SOCKS5Request>
    private var established: EventLoopPromise<ByteBuffer?>?
    private var context: ChannelHandlerContext?
    private var reading = true
    private var username: String?

    var request: EventLoopFuture<SOCKS5Request> { requestPromise.futureResult }

    init(users: SOCKS5Users, gate: TunnelInputGate, eventLoop: any EventLoop) {
        self.machine = SOCKS5ServerHandshake(configuration: users.handshakeConfiguration)
        self.users = users
        self.gate = gate
        self.requestPromise = eventLoop.makePromise(of: SOCKS5Request.self)
    }

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        context.read()
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        self.context = nil
        requestPromise.fail(ServerTunnelError.connectionClosed)
        established?.fail(ServerTunnelError.connectionClosed)
        established = nil
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        perform(machine.receive(Array(unwrapInboundIn(data).readableBytesView)), context: context)
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        if reading { context.read() }
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if let event = event as? ChannelEvent, event == .inputClosed {
            // EOF in the middle of the handshake: nothing more will come.
            requestPromise.fail(ServerTunnelError.connectionClosed)
            context.close(promise: nil)
            return
        }
        context.fireUserInboundEventTriggered(event)
    }

    func channelInactive(context: ChannelHandlerContext) {
        requestPromise.fail(ServerTunnelError.connectionClosed)
        established?.fail(ServerTunnelError.connectionClosed)
        established = nil
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        requestPromise.fail(error)
        context.close(promise: nil)
    }

    /// Reports the outcome of opening the target; the future gives the client's early bytes
    /// (success) or fails once the failure reply is written (the connection then closes).
    func connectCompleted(_ code: SOCKS5ReplyCode) -> EventLoopFuture<ByteBuffer?> {
        guard let context else { return requestPromise.futureResult.eventLoop.makeFailedFuture(ServerTunnelError.connectionClosed) }
        let promise = context.eventLoop.makePromise(of: ByteBuffer?.self)
        established = promise
        perform(machine.connectCompleted(code), context: context)
        return promise.futureResult
    }

    private func perform(_ actions: [SOCKS5ServerHandshake.Action], context: ChannelHandlerContext) {
        for action in actions {
            switch action {
            case .send(let bytes):
                context.writeAndFlush(wrapOutboundOut(ByteBuffer(bytes: bytes)), promise: nil)
            case .authenticate(let name, let password):
                username = name
                perform(machine.authenticationCompleted(succeeded: users.verify(username: name, password: password)), context: context)
            case .connect(let host, let port):
                reading = false
                gate.hold()
                requestPromise.succeed(SOCKS5Request(host: host, port: Int(port), username: username))
            case .established(let leftover):
                let promise = established
                established = nil
                context.pipeline.syncOperations.removeHandler(context: context, promise: nil)
                promise?.succeed(leftover.isEmpty ? nil : ByteBuffer(bytes: leftover))
            case .fail(let reply, let reason):
                reading = false
                requestPromise.fail(reason)
                established?.fail(reason)
                established = nil
                let written = context.eventLoop.makePromise(of: Void.self)
                context.writeAndFlush(wrapOutboundOut(ByteBuffer(bytes: reply)), promise: written)
                written.futureResult.assumeIsolated().whenComplete { _ in context.close(promise: nil) }
            }
        }
    }
}
