/// Errors of the proxy core. None carries a secret; each says what to fix.
public enum ProxyError: Error, Hashable, Sendable, CustomStringConvertible {
    case clientClosedDuringBody
    case invalidListenAddress(String)
    case bindFailed(address: String, reason: String)
    case invalidBackendURL(String)
    case tlsSetup(String)
    case upstream(String)

    public var description: String {
        switch self {
        case .clientClosedDuringBody: return "client closed the connection in the middle of a request body"
        case .invalidListenAddress(let value): return "invalid listen address \(value) (expected host:port or [v6]:port)"
        case .bindFailed(let address, let reason): return "cannot listen on \(address): \(reason)"
        case .invalidBackendURL(let value): return "invalid backend URL \(value)"
        case .tlsSetup(let reason): return "TLS setup failed: \(reason)"
        case .upstream(let reason): return "upstream error: \(reason)"
        }
    }
}
