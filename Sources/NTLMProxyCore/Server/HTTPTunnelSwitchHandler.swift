import NIOCore
import NIOHTTP1

/// The HTTP part of a tunnel-capable connection's pipeline (see `TunnelCapablePipeline`), between
/// NIO's request decoder and its pipelining handler:
///
/// - frames every response itself (`HTTPResponseFraming`), correlated with the request it
///   answers; NIO's encoder runs with `automaticallySetFramingHeaders == false`;
/// - on a `CONNECT` head, makes the `TunnelInputGate` hold further input: NIO's parser stops
///   after a `CONNECT` (it expects a tunnel), so what follows is either tunnel bytes or, after a
///   refusal, the next request for a fresh parser;
/// - after a refused `CONNECT`, replaces the parser (the old one hands over the bytes it kept,
///   `leftOverBytesStrategy: .forwardBytes`) and releases the gate;
/// - after the `200` to a `CONNECT` that `prepareTunnel()` announced, takes the HTTP handlers
///   out and hands the bytes the client sent after its `CONNECT` to the waiting task.
final class HTTPTunnelSwitchHandler: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias InboundOut = HTTPServerRequestPart
    typealias OutboundIn = HTTPServerResponsePart
    typealias OutboundOut = HTTPServerResponsePart

    private let gate: TunnelInputGate
    private var decoder: ByteToMessageHandler<HTTPRequestDecoder>
    private let makeDecoder: () -> ByteToMessageHandler<HTTPRequestDecoder>
    private let tunnelIdleTimeout: TimeAmount
    /// Requests whose response has not started yet, oldest first.
    private var requests: CircularBuffer<HTTPRequestSummary> = []
    private var response: HTTPResponseFraming?
    private var tunnelPromise: EventLoopPromise<ByteBuffer?>?
    private var switching = false

    init(gate: TunnelInputGate, decoder: ByteToMessageHandler<HTTPRequestDecoder>, tunnelIdleTimeout: TimeAmount, makeDecoder: @escaping () -> ByteToMessageHandler<HTTPRequestDecoder>) {
        self.gate = gate
        self.decoder = decoder
        self.tunnelIdleTimeout = tunnelIdleTimeout
        self.makeDecoder = makeDecoder
    }

    // MARK: requests

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        if case .head(let head) = unwrapInboundIn(data) {
            requests.append(HTTPRequestSummary(head))
            if head.method == .CONNECT { gate.hold() }
        }
        context.fireChannelRead(data)
    }

    /// Announces that the next response, a 2xx to the pending `CONNECT`, opens a tunnel. The
    /// future gives the bytes the client sent after its `CONNECT` head once the HTTP handlers
    /// are gone (the connection is raw then, its input held by the gate).
    func prepareTunnel(eventLoop: any EventLoop) -> EventLoopFuture<ByteBuffer?> {
        guard response == nil, requests.first?.method == .CONNECT, tunnelPromise == nil, !switching else {
            return eventLoop.makeFailedFuture(ServerTunnelError.notAConnectRequest)
        }
        let promise = eventLoop.makePromise(of: ByteBuffer?.self)
        tunnelPromise = promise
        return promise.futureResult
    }

    // MARK: responses

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        switch unwrapOutboundIn(data) {
        case .head(var head) where head.status.code < 200 && head.status.code != 101:
            HTTPResponseFraming.frameInformational(&head)
            context.write(wrapOutboundOut(.head(head)), promise: promise)
        case .head(var head):
            let request = requests.popFirst()
            let framing = HTTPResponseFraming.frame(&head, answering: request)
            response = framing
            context.write(wrapOutboundOut(.head(head)), promise: promise)
        case .body(let body):
            if response?.body == HTTPResponseFraming.Body.none {
                // A bodiless response (HEAD, 204, 304, 2xx to CONNECT): bytes would corrupt
                // the stream. Dropped, not failed: a forwarded HEAD answer may come with some.
                promise?.succeed(())
            } else {
                context.write(wrapOutboundOut(.body(body)), promise: promise)
            }
        case .end(let trailers):
            let framing = response
            response = nil
            guard let framing else {
                context.write(data, promise: promise)
                return
            }
            if framing.switchesToTunnel {
                context.write(wrapOutboundOut(.end(trailers)), promise: promise)
                context.flush()
                if tunnelPromise != nil {
                    switching = true
                    // After the current write call stack (NIO's pipelining handler is on it)
                    // has unwound; the gate keeps everything that arrives meanwhile.
                    context.eventLoop.assumeIsolated().execute { self.switchToTunnel(context: context) }
                } else {
                    // A 2xx to CONNECT nobody will serve: the parser is stopped, end here.
                    context.close(promise: nil)
                }
            } else if framing.closeAfter {
                let written = context.eventLoop.makePromise(of: Void.self)
                context.write(wrapOutboundOut(.end(trailers)), promise: written)
                context.flush()
                written.futureResult.assumeIsolated().whenComplete { _ in context.close(promise: nil) }
                written.futureResult.cascade(to: promise)
            } else {
                context.write(wrapOutboundOut(.end(trailers)), promise: promise)
                if framing.resetsParser { resetParser(context: context) }
            }
        }
    }

    /// Puts a fresh request parser behind the stopped one; the old one forwards the bytes it
    /// kept (the next pipelined request) into it as it leaves, then the gate replays the rest.
    private func resetParser(context: ChannelHandlerContext) {
        let sync = context.pipeline.syncOperations
        let old = decoder
        let fresh = makeDecoder()
        do {
            try sync.addHandler(fresh, position: .after(old))
        } catch {
            context.close(promise: nil)
            return
        }
        decoder = fresh
        sync.removeHandler(old).assumeIsolated().whenComplete { result in
            guard case .success = result else {
                context.close(promise: nil)
                return
            }
            // The old parser handed its bytes over without a read-complete, and NIO's async
            // channel delivers requests only on one.
            context.fireChannelReadComplete()
            if !self.requests.contains(where: { $0.method == .CONNECT }) {
                // Unless the fresh parser already met another pipelined CONNECT (and stopped
                // again): then the gate keeps holding for that one.
                self.gate.release()
            }
        }
    }

    /// Takes the HTTP handlers (and the HTTP idle rule) out, leaving [TLS] → idle → close-on-idle
    /// → gate → (async channel).
    private func switchToTunnel(context: ChannelHandlerContext) {
        guard let promise = tunnelPromise else { return }
        tunnelPromise = nil
        let sync = context.pipeline.syncOperations
        let collector = LeftoverBytesCollector()
        do {
            for handler in [try? sync.handler(type: HTTPServerPipelineHandler.self) as (any RemovableChannelHandler)?,
                            try? sync.handler(type: NIOHTTPResponseHeadersValidator.self),
                            try? sync.handler(type: HTTPServerProtocolErrorHandler.self),
                            try? sync.handler(type: HTTPIdleTimeoutHandler.self)].compactMap({ $0 }) {
                sync.removeHandler(handler, promise: nil)
            }
            try sync.addHandler(collector, position: .after(decoder))
            // Idle now means neither direction moved: a long download sends nothing back.
            try sync.addHandler(IdleStateHandler(allTimeout: tunnelIdleTimeout), position: .before(gate))
            try sync.addHandler(CloseOnIdleHandler(), position: .before(gate))
            try context.channel.syncOptions?.setOption(.autoRead, value: false)
        } catch {
            promise.fail(error)
            context.close(promise: nil)
            return
        }
        sync.removeHandler(decoder).assumeIsolated().whenComplete { result in
            if case .failure(let error) = result {
                promise.fail(error)
                context.close(promise: nil)
                return
            }
            if let encoder = try? sync.handler(type: HTTPResponseEncoder.self) {
                sync.removeHandler(encoder, promise: nil)
            }
            sync.removeHandler(collector, promise: nil)
            sync.removeHandler(context: context, promise: nil)
            promise.succeed(collector.bytes)
        }
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        tunnelPromise?.fail(ServerTunnelError.connectionClosed)
        tunnelPromise = nil
    }

    func channelInactive(context: ChannelHandlerContext) {
        tunnelPromise?.fail(ServerTunnelError.connectionClosed)
        tunnelPromise = nil
        context.fireChannelInactive()
    }
}

/// Receives the bytes a stopped request parser hands over as it is removed.
final class LeftoverBytesCollector: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer

    private(set) var bytes: ByteBuffer?

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var buffer = unwrapInboundIn(data)
        if bytes == nil {
            bytes = buffer
        } else {
            bytes?.writeBuffer(&buffer)
        }
    }

    func channelReadComplete(context: ChannelHandlerContext) {}
}
