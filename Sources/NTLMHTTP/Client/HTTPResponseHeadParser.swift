import NIOCore
import NIOHTTP1

/// Why bytes from an upstream are not an HTTP/1.1 response the client can use. Reported as
/// ``NTLMHTTPClientError/remoteProtocolError(_:)``; never carries the bytes themselves.
enum HTTPMessageError: Error, Hashable, Sendable, CustomStringConvertible {
    case headTooLarge(limit: Int)
    case invalidStatusLine
    case unsupportedVersion
    case invalidFieldLine
    case tooManyFields(limit: Int)
    case invalidContentLength
    case invalidTransferEncoding
    case invalidChunkSize
    case chunkLineTooLong
    case invalidChunkTerminator
    case trailersTooLarge
    case truncatedBody
    case switchingProtocols
    case unsolicitedData

    var description: String {
        switch self {
        case .headTooLarge(let limit): return "response head larger than \(limit) bytes"
        case .invalidStatusLine: return "invalid status line"
        case .unsupportedVersion: return "unsupported HTTP version"
        case .invalidFieldLine: return "invalid header field line"
        case .tooManyFields(let limit): return "more than \(limit) header fields"
        case .invalidContentLength: return "invalid Content-Length"
        case .invalidTransferEncoding: return "Transfer-Encoding in an HTTP/1.0 response"
        case .invalidChunkSize: return "invalid chunk size"
        case .chunkLineTooLong: return "chunk size line too long"
        case .invalidChunkTerminator: return "chunk data not followed by CRLF"
        case .trailersTooLarge: return "trailer section too large"
        case .truncatedBody: return "the connection closed before the end of the response body"
        case .switchingProtocols: return "unexpected protocol switch (101)"
        case .unsolicitedData: return "data after the response"
        }
    }
}

/// A bounded, incremental parser of one response head from raw bytes: the status line
/// (RFC 9112 §4) and the field lines (§5), up to the empty line that ends them.
///
/// Lines end with CRLF or a bare LF (§2.2 allows recognising LF alone); a bare CR elsewhere,
/// NUL or other control bytes, whitespace before the colon (§5.1) and field names that are
/// not tokens are refused. Obsolete line folding is replaced by a space, as §5.2 asks of a
/// user agent. Nothing beyond `limit` bytes is buffered.
struct HTTPResponseHeadParser {
    static let defaultLimit = 64 * 1024
    static let defaultMaximumFields = 256

    let limit: Int
    let maximumFields: Int
    private var head = ByteBuffer()
    /// End-of-head detection across buffers: the last bytes seen were LF, or LF CR.
    private var afterLF = false
    private var afterLFCR = false

    init(limit: Int = HTTPResponseHeadParser.defaultLimit, maximumFields: Int = HTTPResponseHeadParser.defaultMaximumFields) {
        self.limit = limit
        self.maximumFields = maximumFields
    }

    /// Consumes bytes from `input` up to the end of the head. Returns the head once it is
    /// complete (`input` then starts right after it), or `nil` when all of `input` was taken
    /// and more is needed.
    mutating func parse(_ input: inout ByteBuffer) throws(HTTPMessageError) -> HTTPResponseHead? {
        var end: Int? = nil
        input.withUnsafeReadableBytes { bytes in
            for index in bytes.indices {
                switch bytes[index] {
                case UInt8(ascii: "\n"):
                    if afterLF || afterLFCR {
                        end = index
                        return
                    }
                    afterLF = true
                    afterLFCR = false
                case UInt8(ascii: "\r"):
                    afterLFCR = afterLF
                    afterLF = false
                default:
                    afterLF = false
                    afterLFCR = false
                }
            }
        }
        let take = end.map { $0 + 1 } ?? input.readableBytes
        guard head.readableBytes + take <= limit else { throw .headTooLarge(limit: limit) }
        if var slice = input.readSlice(length: take) {
            head.writeBuffer(&slice)
        }
        guard end != nil else { return nil }
        let bytes = Array(head.readableBytesView)
        head.clear()
        afterLF = false
        afterLFCR = false
        return try Self.parseHead(bytes, maximumFields: maximumFields)
    }

    /// Parses a complete head (ending with its empty line).
    static func parseHead(_ bytes: [UInt8], maximumFields: Int) throws(HTTPMessageError) -> HTTPResponseHead {
        var lines: [ArraySlice<UInt8>] = []
        var start = 0
        for index in bytes.indices where bytes[index] == UInt8(ascii: "\n") {
            var line = bytes[start..<index]
            if line.last == UInt8(ascii: "\r") { line = line.dropLast() }
            lines.append(line)
            start = index + 1
        }
        // The last line is the empty one that ends the head.
        guard let statusLine = lines.first, lines.count >= 2, lines.last?.isEmpty == true else { throw .invalidStatusLine }
        let (version, status) = try parseStatusLine(statusLine)
        var headers = HTTPHeaders()
        var fields: [(name: String, value: [UInt8])] = []
        for line in lines.dropFirst().dropLast() {
            if line.first == UInt8(ascii: " ") || line.first == UInt8(ascii: "\t") {
                // obs-fold (§5.2): continues the previous field's value, joined by a space.
                guard !fields.isEmpty else { throw .invalidFieldLine }
                let more = trimmed(line)
                guard more.allSatisfy(isFieldValueByte) else { throw .invalidFieldLine }
                fields[fields.count - 1].value += [UInt8(ascii: " ")] + more
                continue
            }
            guard let colon = line.firstIndex(of: UInt8(ascii: ":")) else { throw .invalidFieldLine }
            let name = line[line.startIndex..<colon]
            // No whitespace between name and colon (§5.1); the name is a token.
            guard !name.isEmpty, name.allSatisfy(isTokenByte) else { throw .invalidFieldLine }
            let value = trimmed(line[(colon + 1)...])
            guard value.allSatisfy(isFieldValueByte) else { throw .invalidFieldLine }
            guard fields.count < maximumFields else { throw .tooManyFields(limit: maximumFields) }
            fields.append((String(decoding: name, as: UTF8.self), Array(value)))
        }
        for field in fields {
            headers.add(name: field.name, value: String(decoding: field.value, as: UTF8.self))
        }
        return HTTPResponseHead(version: version, status: status, headers: headers)
    }

    /// `HTTP/1.x SP 3DIGIT SP reason` (§4); the space before an empty reason may be missing.
    static func parseStatusLine(_ line: ArraySlice<UInt8>) throws(HTTPMessageError) -> (HTTPVersion, HTTPResponseStatus) {
        let bytes = Array(line)
        guard bytes.count >= 12, bytes[0..<5].elementsEqual("HTTP/".utf8),
              isDigit(bytes[5]), bytes[6] == UInt8(ascii: "."), isDigit(bytes[7]), bytes[8] == UInt8(ascii: " ")
        else { throw .invalidStatusLine }
        guard bytes[5] == UInt8(ascii: "1") else { throw .unsupportedVersion }
        let minor = Int(bytes[7] - UInt8(ascii: "0"))
        guard bytes[9..<12].allSatisfy(isDigit) else { throw .invalidStatusLine }
        let code = bytes[9..<12].reduce(0) { $0 * 10 + Int($1 - UInt8(ascii: "0")) }
        guard (100...599).contains(code) else { throw .invalidStatusLine }
        var reason = ""
        if bytes.count > 12 {
            guard bytes[12] == UInt8(ascii: " ") else { throw .invalidStatusLine }
            let text = bytes[13...]
            guard text.allSatisfy(isFieldValueByte) else { throw .invalidStatusLine }
            reason = String(decoding: text, as: UTF8.self)
        }
        return (HTTPVersion(major: 1, minor: minor), HTTPResponseStatus(statusCode: code, reasonPhrase: reason))
    }

    static func trimmed(_ bytes: ArraySlice<UInt8>) -> ArraySlice<UInt8> {
        var slice = bytes
        while let first = slice.first, first == UInt8(ascii: " ") || first == UInt8(ascii: "\t") { slice = slice.dropFirst() }
        while let last = slice.last, last == UInt8(ascii: " ") || last == UInt8(ascii: "\t") { slice = slice.dropLast() }
        return slice
    }

    static func isDigit(_ byte: UInt8) -> Bool {
        byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9")
    }

    /// tchar (RFC 9110 §5.6.2).
    static func isTokenByte(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "0")...UInt8(ascii: "9"):
            return true
        default:
            return "!#$%&'*+-.^_`|~".utf8.contains(byte)
        }
    }

    /// field-vchar, SP or HTAB (RFC 9110 §5.5): no CR, LF, NUL or other controls.
    static func isFieldValueByte(_ byte: UInt8) -> Bool {
        byte == UInt8(ascii: "\t") || (byte >= 0x20 && byte != 0x7F)
    }
}
