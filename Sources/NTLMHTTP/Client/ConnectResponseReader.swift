import NIOCore
import NIOHTTP1

/// Reads the response to one `CONNECT` from raw bytes, as a value-type state machine.
///
/// NIO's `HTTPResponseDecoder` cannot do this: it takes every response to `CONNECT` as
/// bodiless, so a 407 with an HTML body (squid's) would leave the body on the connection as
/// the next response. Here: interim 1xx heads are skipped (RFC 9110 §15.2); a 2xx head ends
/// the exchange at once and whatever follows it is tunnel data (RFC 9112 §6.3 rule 2); any
/// other response's body is read to its end as framed, keeping the first `keptBodyLimit`
/// bytes for the caller and reading at most `skipLimit` in all.
struct ConnectResponseReader {
    enum Event {
        /// The tunnel is up; `rest` holds the bytes the proxy sent after the head.
        case established(HTTPResponseHead, rest: ByteBuffer?)
        /// A final non-2xx response, body read. `reusable`: the connection may carry another
        /// exchange (keep-alive, body delimited and read in full, nothing after it).
        case refused(HTTPResponseHead, body: ByteBuffer, reusable: Bool)
    }

    static let defaultKeptBodyLimit = 64 * 1024

    private enum State {
        case head(HTTPResponseHeadParser)
        case body(HTTPResponseHead, HTTPResponseBodyReader)
        case done
    }

    let keptBodyLimit: Int
    let skipLimit: Int
    private var state = State.head(HTTPResponseHeadParser())
    private var kept = ByteBuffer()
    private var bodyBytes = 0
    /// Whether any byte of the response arrived (a connection closed before that is simply
    /// closed, not a broken response).
    private(set) var sawBytes = false

    init(keptBodyLimit: Int = ConnectResponseReader.defaultKeptBodyLimit, skipLimit: Int) {
        self.keptBodyLimit = keptBodyLimit
        self.skipLimit = max(skipLimit, 0)
    }

    /// Feeds bytes; returns the event once the response is complete.
    mutating func receive(_ bytes: ByteBuffer) throws(HTTPMessageError) -> Event? {
        var input = bytes
        if input.readableBytes > 0 { sawBytes = true }
        while true {
            switch state {
            case .done:
                // One response per exchange: more bytes are the proxy's error.
                guard input.readableBytes == 0 else { throw .unsolicitedData }
                return nil
            case .head(var parser):
                guard let head = try parser.parse(&input) else {
                    state = .head(parser)
                    return nil
                }
                let code = head.status.code
                if code == 101 { throw .switchingProtocols }
                if (100..<200).contains(code) {
                    state = .head(HTTPResponseHeadParser())
                    continue
                }
                if (200..<300).contains(code) {
                    state = .done
                    return .established(head, rest: input.readableBytes > 0 ? input : nil)
                }
                state = .body(head, try HTTPResponseBodyReader(responseTo: .CONNECT, head: head))
            case .body(let head, var reader):
                var overLimit = false
                let complete = try reader.read(&input) { piece in
                    bodyBytes += piece.readableBytes
                    if bodyBytes > skipLimit { overLimit = true }
                    let room = keptBodyLimit - kept.readableBytes
                    if room > 0, var part = piece.getSlice(at: piece.readerIndex, length: min(room, piece.readableBytes)) {
                        kept.writeBuffer(&part)
                    }
                }
                if overLimit {
                    // Too much to skip: the caller gets what was kept, the connection closes.
                    state = .done
                    return .refused(head, body: kept, reusable: false)
                }
                guard complete else {
                    state = .body(head, reader)
                    return nil
                }
                state = .done
                let reusable = head.isKeepAlive && !reader.mustClose && input.readableBytes == 0
                return .refused(head, body: kept, reusable: reusable)
            }
        }
    }

    /// The connection's input ended: completes a body that runs to the close; otherwise the
    /// response was cut short.
    mutating func inputEnded() throws(HTTPMessageError) -> Event? {
        switch state {
        case .done:
            return nil
        case .head:
            throw .truncatedBody
        case .body(let head, var reader):
            try reader.inputEnded()
            state = .done
            return .refused(head, body: kept, reusable: false)
        }
    }
}
