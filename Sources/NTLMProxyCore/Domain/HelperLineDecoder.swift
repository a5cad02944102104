import NIOCore

/// Splits a helper's output into lines (without `\n` or `\r\n`), bounded: a line longer
/// than `maximumLength` is an error on the answer stream (`failOnOverlongLine`) or, on the
/// diagnostic stream, cut at `maximumLength` with the rest up to the line end dropped.
/// A partial line at end of input is dropped: an answer cut short by an exit is no answer.
struct HelperLineDecoder: ByteToMessageDecoder {
    typealias InboundOut = ByteBuffer

    let maximumLength: Int
    let failOnOverlongLine: Bool
    /// Dropping the rest of an overlong line until its end.
    private var discarding = false

    init(maximumLength: Int, failOnOverlongLine: Bool) {
        self.maximumLength = maximumLength
        self.failOnOverlongLine = failOnOverlongLine
    }

    mutating func decode(context: ChannelHandlerContext, buffer: inout ByteBuffer) throws -> DecodingState {
        guard let newline = buffer.readableBytesView.firstIndex(of: UInt8(ascii: "\n")) else {
            guard buffer.readableBytes > maximumLength else { return .needMoreData }
            if failOnOverlongLine { throw NTLMServerHelperError.lineTooLong(limit: maximumLength) }
            if !discarding, let head = buffer.readSlice(length: maximumLength) {
                context.fireChannelRead(wrapInboundOut(head))
            }
            discarding = true
            buffer.moveReaderIndex(to: buffer.writerIndex)
            return .needMoreData
        }
        let length = newline - buffer.readerIndex
        guard var line = buffer.readSlice(length: length) else { return .needMoreData }
        buffer.moveReaderIndex(forwardBy: 1)
        if discarding {
            discarding = false
            return .continue
        }
        if line.readableBytesView.last == UInt8(ascii: "\r") {
            line.moveWriterIndex(to: line.writerIndex - 1)
        }
        guard line.readableBytes <= maximumLength else {
            if failOnOverlongLine { throw NTLMServerHelperError.lineTooLong(limit: maximumLength) }
            context.fireChannelRead(wrapInboundOut(line.getSlice(at: line.readerIndex, length: maximumLength) ?? line))
            return .continue
        }
        context.fireChannelRead(wrapInboundOut(line))
        return .continue
    }

    mutating func decodeLast(context: ChannelHandlerContext, buffer: inout ByteBuffer, seenEOF: Bool) throws -> DecodingState {
        while try decode(context: context, buffer: &buffer) == .continue {}
        buffer.moveReaderIndex(to: buffer.writerIndex)
        return .needMoreData
    }
}
