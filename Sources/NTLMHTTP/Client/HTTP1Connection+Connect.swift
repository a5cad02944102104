import NIOCore
import NIOHTTP1

/// `CONNECT` exchanges on a proxy connection, and turning it into a raw tunnel.
///
/// The exchanges run through a ``ProxyConnectHandler`` put first in the pipeline, in front of
/// the (idle) HTTP codec and ``HTTP1ConnectionHandler``: if the proxy refuses and the
/// connection stays usable, removing it leaves an intact HTTP connection again. While it is
/// there the channel reads one socket buffer per readable event (`maxMessagesPerRead` 1), so
/// that a read that completes a 2xx head is never followed, in the same event, by tunnel
/// bytes or an end of input that nobody would be left to receive.
extension HTTP1Connection {
    func beginConnectExchanges(readIdleTimeout: TimeAmount) async throws(NTLMHTTPClientError) -> NIOLoopBound<ProxyConnectHandler> {
        let channel = self.channel
        return try await onLoop { handler in
            if let failure = handler.failure { throw failure }
            guard handler.isReusable else { throw NTLMHTTPClientError.connectionClosed }
            handler.suspendForConnect()
            let connect = ProxyConnectHandler(readIdleTimeout: readIdleTimeout, eventLoop: channel.eventLoop)
            if let options = channel.syncOptions {
                connect.savedMaxMessagesPerRead = try options.getOption(ChannelOptions.maxMessagesPerRead)
                try options.setOption(ChannelOptions.maxMessagesPerRead, value: 1)
            }
            try channel.pipeline.syncOperations.addHandler(connect, position: .first)
            return channel.eventLoop.makeSucceededFuture(NIOLoopBound(connect, eventLoop: channel.eventLoop))
        }
    }

    /// One `CONNECT` (already serialized) and its response.
    func connectExchange(_ connect: NIOLoopBound<ProxyConnectHandler>, request: ByteBuffer, skipLimit: Int, deadline: NIODeadline?) async throws(NTLMHTTPClientError) -> ConnectResponseReader.Event {
        try await onLoop { _ in
            connect.value.exchange(request, skipLimit: skipLimit, deadline: deadline)
        }
    }

    /// Back to a plain HTTP connection after a refused `CONNECT` that left it usable.
    func endConnectExchanges(_ connect: NIOLoopBound<ProxyConnectHandler>) async throws(NTLMHTTPClientError) {
        let channel = self.channel
        try await onLoop { _ in
            let handler = connect.value
            if let saved = handler.savedMaxMessagesPerRead {
                try channel.syncOptions?.setOption(ChannelOptions.maxMessagesPerRead, value: saved)
            }
            return channel.pipeline.syncOperations.removeHandler(handler)
        }
    }

    /// After a 2xx: removes every handler of ours, allows half-closure, restores the read
    /// batch size and leaves `autoRead` off (the caller turns it on once its own handler is
    /// in). Returns bytes that arrived after the 2xx event, if any.
    func handOffAsTunnel(_ connect: NIOLoopBound<ProxyConnectHandler>) async throws(NTLMHTTPClientError) -> ByteBuffer? {
        let channel = self.channel
        return try await onLoop { handler in
            let sync = channel.pipeline.syncOperations
            if let options = channel.syncOptions {
                try options.setOption(ChannelOptions.autoRead, value: false)
                try options.setOption(ChannelOptions.allowRemoteHalfClosure, value: true)
                if let saved = connect.value.savedMaxMessagesPerRead {
                    try options.setOption(ChannelOptions.maxMessagesPerRead, value: saved)
                }
            }
            var removals: [EventLoopFuture<Void>] = []
            if let encoder = try? sync.handler(type: HTTPRequestEncoder.self) {
                removals.append(sync.removeHandler(encoder))
            }
            if let decoder = try? sync.handler(type: ByteToMessageHandler<HTTPResponseDecoder>.self) {
                removals.append(sync.removeHandler(decoder))
            }
            if let validator = try? sync.handler(type: NIOHTTPRequestHeadersValidator.self) {
                removals.append(sync.removeHandler(validator))
            }
            removals.append(sync.removeHandler(handler))
            // The connect handler goes last: until then it would catch any stray byte.
            return EventLoopFuture.andAllSucceed(removals, on: channel.eventLoop).flatMap {
                let late = connect.value.takeLateBytes()
                return channel.pipeline.syncOperations.removeHandler(connect.value).map { late }
            }
        }
    }
}
