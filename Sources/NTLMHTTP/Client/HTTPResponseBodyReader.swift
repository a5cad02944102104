import NIOCore
import NIOHTTP1

/// Consumes exactly one response body from raw bytes, as its framing says (RFC 9112 §6.3):
/// none, `Content-Length`, chunked (§7.1), or everything until the connection closes. Body
/// data goes to a sink piece by piece; nothing is buffered but a chunk-size or trailer line
/// being read (each bounded).
struct HTTPResponseBodyReader {
    enum Framing: Equatable, Sendable {
        case none
        case length(Int)
        case chunked
        case untilClose
    }

    /// Chunk-size and trailer lines longer than this are refused.
    static let maximumLineLength = 4096
    /// The whole trailer section may not exceed this.
    static let maximumTrailerBytes = 64 * 1024

    private enum State {
        case length(remaining: Int)
        case untilClose
        /// Reading a chunk-size line: the size so far, whether a digit was seen, whether the
        /// extension part started, bytes on the line, and whether a CR just came.
        case chunkSize(size: Int, digits: Bool, inExtension: Bool, lineLength: Int, sawCR: Bool)
        case chunkData(remaining: Int)
        /// The CRLF after chunk data.
        case chunkDataEnd(sawCR: Bool)
        /// Trailer field lines up to the empty line.
        case trailers(lineLength: Int, total: Int, sawCR: Bool)
        case complete
    }

    private var state: State
    let framing: Framing
    /// True when the message framing means the connection may not carry another exchange,
    /// even if the body ends cleanly (both `Transfer-Encoding` and `Content-Length`, §6.3).
    let mustClose: Bool

    init(framing: Framing, mustClose: Bool = false) {
        self.framing = framing
        self.mustClose = mustClose || framing == .untilClose
        switch framing {
        case .none: state = .complete
        case .length(let length): state = length == 0 ? .complete : .length(remaining: length)
        case .chunked: state = .chunkSize(size: 0, digits: false, inExtension: false, lineLength: 0, sawCR: false)
        case .untilClose: state = .untilClose
        }
    }

    /// The reader for a response to `method` with this head.
    init(responseTo method: HTTPMethod, head: HTTPResponseHead) throws(HTTPMessageError) {
        let (framing, mustClose) = try Self.framing(responseTo: method, head: head)
        self.init(framing: framing, mustClose: mustClose)
    }

    var isComplete: Bool {
        if case .complete = state { return true }
        return false
    }

    /// How the body of a response to `method` is delimited (RFC 9112 §6.3), and whether the
    /// connection must close after it.
    static func framing(responseTo method: HTTPMethod, head: HTTPResponseHead) throws(HTTPMessageError) -> (Framing, mustClose: Bool) {
        let code = head.status.code
        // Rules 1 and 2: no body after HEAD, 1xx, 204, 304, or a 2xx to CONNECT (the
        // tunnel starts right after the head; its Content-Length/Transfer-Encoding are ignored).
        if method == .HEAD || (100..<200).contains(code) || code == 204 || code == 304 { return (.none, false) }
        if method == .CONNECT && (200..<300).contains(code) { return (.none, false) }
        let transferEncodings = head.headers["transfer-encoding"]
        if !transferEncodings.isEmpty {
            // §6.1: Transfer-Encoding in HTTP/1.0 means the framing is faulty.
            guard head.version.minor >= 1 else { throw .invalidTransferEncoding }
            let codings = transferEncodings.flatMap { $0.split(separator: ",") }.map { $0.trimmingSpaces().lowercased() }
            // Rule 3: chunked as the final coding delimits the body; otherwise it runs to the
            // close. Along with Content-Length it may be smuggling: never reuse the connection.
            let mustClose = head.headers.contains(name: "content-length")
            return codings.last == "chunked" ? (.chunked, mustClose) : (.untilClose, true)
        }
        let lengths = head.headers["content-length"]
        if !lengths.isEmpty {
            // Rule 5: every value (a list, or repeated fields) must be the same number (§8.6).
            var length: Int? = nil
            for part in lengths.flatMap({ $0.split(separator: ",", omittingEmptySubsequences: false) }) {
                let text = part.trimmingSpaces()
                guard !text.isEmpty, text.count <= 18, text.utf8.allSatisfy({ $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") }),
                      let value = Int(text), length == nil || length == value
                else { throw .invalidContentLength }
                length = value
            }
            guard let length else { throw .invalidContentLength }
            return (.length(length), false)
        }
        // Rule 8: a response without either runs until the connection closes.
        return (.untilClose, true)
    }

    /// Consumes body bytes from `input`, handing each piece of body data to `sink`. Returns
    /// true once the body is complete; `input` then holds whatever follows it.
    mutating func read(_ input: inout ByteBuffer, sink: (ByteBuffer) -> Void) throws(HTTPMessageError) -> Bool {
        while input.readableBytes > 0 {
            switch state {
            case .complete:
                return true
            case .untilClose:
                if let all = input.readSlice(length: input.readableBytes) { sink(all) }
            case .length(let remaining):
                let count = min(remaining, input.readableBytes)
                if let piece = input.readSlice(length: count) { sink(piece) }
                state = remaining == count ? .complete : .length(remaining: remaining - count)
            case .chunkData(let remaining):
                let count = min(remaining, input.readableBytes)
                if let piece = input.readSlice(length: count) { sink(piece) }
                state = remaining == count ? .chunkDataEnd(sawCR: false) : .chunkData(remaining: remaining - count)
            case .chunkSize, .chunkDataEnd, .trailers:
                guard let byte = input.readInteger(as: UInt8.self) else { return isComplete }
                try step(byte)
            }
        }
        return isComplete
    }

    /// One byte of the chunked framing outside chunk data.
    private mutating func step(_ byte: UInt8) throws(HTTPMessageError) {
        switch state {
        case .chunkSize(let size, let digits, let inExtension, let lineLength, let sawCR):
            guard lineLength < Self.maximumLineLength else { throw .chunkLineTooLong }
            if byte == UInt8(ascii: "\n") {
                guard digits else { throw .invalidChunkSize }
                state = size == 0 ? .trailers(lineLength: 0, total: 0, sawCR: false) : .chunkData(remaining: size)
                return
            }
            // A CR only right before the LF (§2.2: a bare CR is invalid).
            guard !sawCR else { throw .invalidChunkSize }
            if byte == UInt8(ascii: "\r") {
                state = .chunkSize(size: size, digits: digits, inExtension: inExtension, lineLength: lineLength + 1, sawCR: true)
            } else if inExtension {
                // chunk-ext (§7.1.1) is ignored, but must be printable.
                guard HTTPResponseHeadParser.isFieldValueByte(byte) else { throw .invalidChunkSize }
                state = .chunkSize(size: size, digits: digits, inExtension: true, lineLength: lineLength + 1, sawCR: false)
            } else if let digit = Self.hexValue(byte) {
                guard size <= (Int.max - 15) / 16 else { throw .invalidChunkSize }
                state = .chunkSize(size: size * 16 + digit, digits: true, inExtension: false, lineLength: lineLength + 1, sawCR: false)
            } else if digits && (byte == UInt8(ascii: ";") || byte == UInt8(ascii: " ") || byte == UInt8(ascii: "\t")) {
                // BWS, then the extensions.
                state = .chunkSize(size: size, digits: true, inExtension: true, lineLength: lineLength + 1, sawCR: false)
            } else {
                throw .invalidChunkSize
            }
        case .chunkDataEnd(let sawCR):
            if byte == UInt8(ascii: "\n") {
                state = .chunkSize(size: 0, digits: false, inExtension: false, lineLength: 0, sawCR: false)
            } else if byte == UInt8(ascii: "\r") && !sawCR {
                state = .chunkDataEnd(sawCR: true)
            } else {
                throw .invalidChunkTerminator
            }
        case .trailers(let lineLength, let total, let sawCR):
            guard total < Self.maximumTrailerBytes else { throw .trailersTooLarge }
            if byte == UInt8(ascii: "\n") {
                // An empty line ends the trailer section, and the message.
                state = lineLength == 0 ? .complete : .trailers(lineLength: 0, total: total + 1, sawCR: false)
                return
            }
            guard !sawCR else { throw .invalidFieldLine }
            if byte == UInt8(ascii: "\r") {
                state = .trailers(lineLength: lineLength, total: total + 1, sawCR: true)
            } else {
                guard HTTPResponseHeadParser.isFieldValueByte(byte) else { throw .invalidFieldLine }
                state = .trailers(lineLength: lineLength + 1, total: total + 1, sawCR: false)
            }
        case .length, .untilClose, .chunkData, .complete:
            break
        }
    }

    /// The connection's input ended: completes a body that runs to the close, else it was cut.
    mutating func inputEnded() throws(HTTPMessageError) {
        switch state {
        case .complete:
            return
        case .untilClose:
            state = .complete
        default:
            throw .truncatedBody
        }
    }

    static func hexValue(_ byte: UInt8) -> Int? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): return Int(byte - UInt8(ascii: "0"))
        case UInt8(ascii: "a")...UInt8(ascii: "f"): return Int(byte - UInt8(ascii: "a")) + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): return Int(byte - UInt8(ascii: "A")) + 10
        default: return nil
        }
    }
}

fileprivate extension Substring {
    /// Without leading and trailing spaces and tabs.
    func trimmingSpaces() -> String {
        var slice = self[...]
        while let first = slice.first, first == " " || first == "\t" { slice = slice.dropFirst() }
        while let last = slice.last, last == " " || last == "\t" { slice = slice.dropLast() }
        return String(slice)
    }
}
