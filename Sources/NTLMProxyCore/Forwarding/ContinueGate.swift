import NIOConcurrencyHelpers
import NIOCore
import NIOHTTP1
import NTLMHTTP

/// Sends the client its `100 Continue` only when the upstream actually asks for the body
/// (our handshake legs never carry it; in pass-through, when the backend sends its own
/// `100 Continue`), and remembers whether the body was left unread.
final class ContinueGate: Sendable {
    let connection: ServerConnection
    let version: HTTPVersion
    let expected: Bool
    private let state = NIOLockedValueBox((sentContinue: false, started: false))

    init(connection: ServerConnection, version: HTTPVersion, expected: Bool) {
        self.connection = connection
        self.version = version
        self.expected = expected
    }

    /// True when the client waits for a `100 Continue` it never got: its body was never read.
    var leavesBodyUnread: Bool {
        expected && !state.withLockedValue { $0.started }
    }

    func body() -> GatedBody { GatedBody(gate: self) }

    func next() async throws -> ByteBuffer? {
        let sendContinue = state.withLockedValue { state -> Bool in
            state.started = true
            guard expected, !state.sentContinue else { return false }
            state.sentContinue = true
            return true
        }
        if sendContinue {
            try await connection.writeHead(HTTPResponseHead(version: version, status: .continue))
        }
        return try await connection.nextBodyChunk()
    }

    /// The client's request body, pulled through the gate.
    struct GatedBody: AsyncSequence, Sendable {
        typealias Element = ByteBuffer
        let gate: ContinueGate

        struct AsyncIterator: AsyncIteratorProtocol {
            let gate: ContinueGate
            mutating func next() async throws -> ByteBuffer? { try await gate.next() }
        }

        func makeAsyncIterator() -> AsyncIterator { AsyncIterator(gate: gate) }
    }
}

extension ContinueGate {
    /// The gate for `head`'s body, and that body as a request body streamed through it
    /// (`nil` when the request has none): `Content-Length` or chunked, as the client sent it.
    static func forRequest(_ head: HTTPRequestHead, on connection: ServerConnection) -> (ContinueGate, NTLMHTTPRequest.Body?) {
        let contentLength = head.headers.first(name: "content-length").flatMap { Int($0) }
        let chunked = head.headers["transfer-encoding"].contains { $0.lowercased().contains("chunked") }
        let hasBody = chunked || (contentLength ?? 0) > 0
        let expectsContinue = head.headers["expect"].contains { $0.lowercased() == "100-continue" }
        let gate = ContinueGate(connection: connection, version: head.version, expected: expectsContinue && hasBody)
        return (gate, hasBody ? .stream(gate.body(), length: chunked ? nil : contentLength) : nil)
    }
}
