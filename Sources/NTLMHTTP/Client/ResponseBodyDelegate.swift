import NIOCore

typealias ResponseBodyProducer = NIOThrowingAsyncSequenceProducer<
    ByteBuffer, any Error, NIOAsyncSequenceProducerBackPressureStrategies.HighLowWatermark, ResponseBodyDelegate
>

/// Connects a response body's consumer to its connection: more demand reopens reading, an
/// abandoned body closes the connection.
struct ResponseBodyDelegate: NIOAsyncSequenceProducerDelegate {
    let handler: NIOLoopBound<HTTP1ConnectionHandler>
    let exchange: UInt64

    func produceMore() {
        let handler = self.handler
        let exchange = self.exchange
        handler.eventLoop.execute { handler.value.consumerDemands(exchange: exchange) }
    }

    func didTerminate() {
        let handler = self.handler
        let exchange = self.exchange
        handler.eventLoop.execute { handler.value.consumerTerminated(exchange: exchange) }
    }
}
