/// Why ``NTLMHTTPClient/execute(_:credential:timeout:)`` or reading a response body failed.
///
/// No case carries a secret: no password, hash, token, `Authorization` value or URL user
/// information (design invariant 6). A credential the server refused is not an error: the
/// 401/407 response is delivered (see ``NTLMHTTPResponse/authenticationFailure``).
public enum NTLMHTTPClientError: Error, Hashable, Sendable, CustomStringConvertible {
    /// The URL is not an absolute `http`/`https` URL the client can use.
    case invalidURL(String)
    /// The TCP connection could not be established (refused, unreachable, name not found).
    case connectFailed(host: String, port: Int, reason: String)
    /// The TCP connection was not established within the connect timeout.
    case connectTimeout(host: String, port: Int)
    /// The TLS handshake or certificate verification failed.
    case tls(String)
    /// The request's deadline passed.
    case timeout
    /// The server sent nothing for longer than the read idle timeout while we waited for it.
    case idleTimeout
    /// The task awaiting the request (or reading the body) was cancelled; the connection was
    /// closed.
    case cancelled
    /// The server asked for authentication after the streamed body was already sent and the
    /// body was too large for the replay buffer. The next request to this host authenticates
    /// before sending its body.
    case bodyNotReplayable
    /// A streamed body produced a different number of bytes than its declared length.
    case requestBodyLengthMismatch(declared: Int, sent: Int)
    /// Authentication could not proceed (no usable scheme, malformed challenge, too many legs,
    /// the server closing every handshake). A refused credential is delivered as a response.
    case authentication(HTTPAuthError)
    /// The connection closed before the response was complete.
    case connectionClosed
    /// The request used a pin that binds for life (``ConnectionPin/init(bindsForLife:onConnectionClosed:)``)
    /// whose connection is gone: it must not move to another connection. Nothing was sent.
    case pinnedConnectionLost
    /// The server broke HTTP/1.1 (unparsable response, unsolicited data, protocol upgrade).
    case remoteProtocolError(String)
    /// `collect(upTo:)` found more bytes than allowed.
    case responseBodyTooLarge(limit: Int)
    /// A response body can be iterated only once.
    case responseBodyAlreadyConsumed
    /// The client was shut down.
    case shutDown

    public var description: String {
        switch self {
        case .invalidURL(let why): return "invalid URL: \(why)"
        case .connectFailed(let host, let port, let why): return "cannot connect to \(host):\(port): \(why)"
        case .connectTimeout(let host, let port): return "connecting to \(host):\(port) timed out"
        case .tls(let why): return "TLS failed: \(why)"
        case .timeout: return "the request timed out"
        case .idleTimeout: return "the server sent nothing within the read idle timeout"
        case .cancelled: return "the request was cancelled"
        case .bodyNotReplayable: return "the server asked for authentication after the streamed request body was sent, and the body is too large to resend"
        case .requestBodyLengthMismatch(let declared, let sent): return "the request body stream produced \(sent) bytes but declared \(declared)"
        case .authentication(let error): return "authentication failed: \(error)"
        case .connectionClosed: return "the connection closed before the response was complete"
        case .pinnedConnectionLost: return "the connection pinned to this client is gone"
        case .remoteProtocolError(let why): return "HTTP protocol error from the server: \(why)"
        case .responseBodyTooLarge(let limit): return "the response body is larger than \(limit) bytes"
        case .responseBodyAlreadyConsumed: return "the response body was already iterated"
        case .shutDown: return "the client was shut down"
        }
    }
}
