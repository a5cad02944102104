import NIOConcurrencyHelpers
import NIOCore
import NIOHTTP1

/// A response from ``NTLMHTTPClient``: status, header fields and a body that streams.
///
/// The body must be read (or dropped) for the connection to return to the pool: a body read
/// to its end leaves the connection reusable; a body dropped before its end closes it.
public struct NTLMHTTPResponse: Sendable {
    public var status: HTTPResponseStatus
    public var version: HTTPVersion
    public var headers: HTTPHeaders
    public var body: Body
    /// Set when this response is the server's 401/407 refusing the credential that was sent
    /// (a failed logon). The client never retries it by itself (design invariant 7).
    public var authenticationFailure: HTTPAuthError?
    /// What authenticated this request on this connection (NTLM, Negotiate with NTLM or
    /// with Kerberos, Basic), if credentials went with it; `nil` for a request that needed
    /// none or rode an already authenticated connection.
    public var authenticationMechanism: HTTPAuthMechanism?
    /// The scheme word of ``authenticationMechanism``.
    public var authenticationScheme: HTTPAuthScheme? { authenticationMechanism?.scheme }

    public init(status: HTTPResponseStatus, version: HTTPVersion = .http1_1, headers: HTTPHeaders = [:], body: Body = .empty, authenticationFailure: HTTPAuthError? = nil, authenticationMechanism: HTTPAuthMechanism? = nil) {
        self.status = status
        self.version = version
        self.headers = headers
        self.body = body
        self.authenticationFailure = authenticationFailure
        self.authenticationMechanism = authenticationMechanism
    }

    /// The response body: an `AsyncSequence` of buffers with backpressure — the connection
    /// reads from the network only as fast as the buffers are consumed, so memory stays
    /// bounded whatever the size. It can be iterated once.
    public struct Body: AsyncSequence, Sendable {
        public typealias Element = ByteBuffer

        final class Stream: Sendable {
            let producer: ResponseBodyProducer
            let taken = NIOLockedValueBox(false)
            /// The request body still being sent while this response streams (a relay whose
            /// server answered early): the body's end waits for it.
            let upload: Task<Void, Never>?
            init(producer: ResponseBodyProducer, upload: Task<Void, Never>? = nil) {
                self.producer = producer
                self.upload = upload
            }
        }

        let stream: Stream?

        init(producer: ResponseBodyProducer) {
            stream = Stream(producer: producer)
        }

        private init(stream: Stream?) {
            self.stream = stream
        }

        /// The same body, whose end also waits for `upload` (and whose failure cancels it).
        func awaiting(_ upload: Task<Void, Never>) -> Body {
            guard let stream else { return self }
            return Body(stream: Stream(producer: stream.producer, upload: upload))
        }

        private init() {
            stream = nil
        }

        /// A body with no bytes.
        public static let empty = Body()

        public func makeAsyncIterator() -> AsyncIterator {
            guard let stream else { return AsyncIterator(state: .finished) }
            let first = stream.taken.withLockedValue { taken -> Bool in
                defer { taken = true }
                return !taken
            }
            return AsyncIterator(state: first ? .streaming(stream.producer.makeAsyncIterator(), upload: stream.upload) : .failed(.responseBodyAlreadyConsumed))
        }

        public struct AsyncIterator: AsyncIteratorProtocol {
            enum State {
                case streaming(ResponseBodyProducer.AsyncIterator, upload: Task<Void, Never>?)
                case failed(NTLMHTTPClientError)
                case finished
            }

            var state: State

            public mutating func next() async throws -> ByteBuffer? {
                switch state {
                case .finished:
                    return nil
                case .failed(let error):
                    state = .finished
                    throw error
                case .streaming(let iterator, let upload):
                    do {
                        guard let buffer = try await iterator.next() else {
                            state = .finished
                            // The request body goes out in full before the exchange is over.
                            await upload?.value
                            return nil
                        }
                        return buffer
                    } catch is CancellationError {
                        state = .finished
                        upload?.cancel()
                        await upload?.value
                        throw NTLMHTTPClientError.cancelled
                    } catch {
                        state = .finished
                        upload?.cancel()
                        await upload?.value
                        throw error
                    }
                }
            }
        }

        /// Reads the whole body into one buffer, failing with
        /// ``NTLMHTTPClientError/responseBodyTooLarge(limit:)`` past `maximumBytes`.
        public func collect(upTo maximumBytes: Int) async throws -> ByteBuffer {
            var collected = ByteBuffer()
            for try await var buffer in self {
                guard collected.readableBytes + buffer.readableBytes <= maximumBytes else {
                    throw NTLMHTTPClientError.responseBodyTooLarge(limit: maximumBytes)
                }
                if collected.readableBytes == 0 {
                    collected = buffer
                } else {
                    collected.writeBuffer(&buffer)
                }
            }
            return collected
        }

        /// Reads and discards the body; returns how many bytes it had. Stops with
        /// ``NTLMHTTPClientError/responseBodyTooLarge(limit:)`` past `maximumBytes`.
        @discardableResult
        public func drain(upTo maximumBytes: Int = .max) async throws -> Int {
            var count = 0
            for try await buffer in self {
                count += buffer.readableBytes
                guard count <= maximumBytes else { throw NTLMHTTPClientError.responseBodyTooLarge(limit: maximumBytes) }
            }
            return count
        }
    }
}
