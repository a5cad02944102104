import NIOCore

/// Where a request's body stands across the legs of one `execute`: in memory (sendable any
/// number of times), a stream not read yet, a stream read once but kept (it fitted in the
/// replay buffer), or a stream already sent and gone.
enum RequestBodyState {
    case none
    case bytes(ByteBuffer)
    case fresh(length: Int?, makeIterator: @Sendable () -> RequestBodyIterator)
    case replay(length: Int?, chunks: [ByteBuffer])
    case consumed(length: Int?)

    init(_ body: NTLMHTTPRequest.Body?) {
        switch body?.storage {
        case nil: self = .none
        case .bytes(let buffer): self = .bytes(buffer)
        case .stream(let length, let makeIterator): self = .fresh(length: length, makeIterator: makeIterator)
        }
    }

    var isPresent: Bool {
        if case .none = self { return false }
        return true
    }

    /// Whether the body can (still) be sent.
    var canSend: Bool {
        if case .consumed = self { return false }
        return true
    }

    var length: Int? {
        switch self {
        case .none: return nil
        case .bytes(let buffer): return buffer.readableBytes
        case .fresh(let length, _), .replay(let length, _), .consumed(let length): return length
        }
    }

    /// Whether sending it now consumes a stream (so a later leg needs the replay copy).
    var isStream: Bool {
        if case .fresh = self { return true }
        return false
    }
}
