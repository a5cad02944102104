#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import NIOCore
import NIOPosix

/// Plain TCP connections to a target (NoProxy hosts, direct `CONNECT`), ready to be spliced:
/// TCP_NODELAY, remote half-closure allowed, `autoRead == false`, no handlers.
public enum DirectConnector {
    public static func connect(host: String, port: Int, timeout: Duration, group: any EventLoopGroup) async throws(DirectConnectError) -> any Channel {
        let authority = DirectConnectError.authority(host: host, port: port)
        guard (1...65535).contains(port) else { throw .failed(authority, reason: "invalid port") }
        let timeAmount = TimeAmount(max(timeout, .milliseconds(1)))
        let bootstrap = ClientBootstrap(group: group)
            .connectTimeout(timeAmount)
            .channelOption(.socketOption(.tcp_nodelay), value: 1)
            .channelOption(.socketOption(.so_keepalive), value: 1)
            .channelOption(.allowRemoteHalfClosure, value: true)
            .channelOption(.autoRead, value: false)
        do {
            return try await bootstrap.connect(host: host, port: port).get()
        } catch {
            throw DirectConnectError(error, authority: authority, timeout: timeout)
        }
    }
}

/// Why a direct connection failed; every message names host:port.
public enum DirectConnectError: Error, Sendable, Hashable, CustomStringConvertible {
    case refused(String)
    /// No route to the host or network.
    case unreachable(String, reason: String)
    case nameNotFound(String)
    case timedOut(String, after: Duration)
    case failed(String, reason: String)

    public var description: String {
        switch self {
        case .refused(let authority): return "connection to \(authority) refused"
        case .unreachable(let authority, let reason): return "\(authority) unreachable: \(reason)"
        case .nameNotFound(let authority): return "cannot resolve the name of \(authority)"
        case .timedOut(let authority, let after): return "connecting to \(authority) timed out after \(after.components.seconds) s"
        case .failed(let authority, let reason): return "connecting to \(authority) failed: \(reason)"
        }
    }

    /// The same failure as the tunnel listeners report it.
    public var tunnelOpenError: TunnelOpenError {
        switch self {
        case .refused, .unreachable, .nameNotFound: return .unreachable(description)
        case .timedOut: return .timedOut(description)
        case .failed: return .failed(description)
        }
    }

    static func authority(host: String, port: Int) -> String {
        host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)"
    }

    init(_ error: any Error, authority: String, timeout: Duration) {
        if let error = error as? ChannelError, case .connectTimeout = error {
            self = .timedOut(authority, after: timeout)
            return
        }
        if let error = error as? NIOConnectionError {
            // Happy Eyeballs: DNS errors, then one error per address tried.
            if error.connectionErrors.isEmpty {
                self = (error.dnsAError ?? error.dnsAAAAError) != nil ? .nameNotFound(authority) : .failed(authority, reason: "\(error)")
                return
            }
            let classified = error.connectionErrors.map { DirectConnectError($0.error, authority: authority, timeout: timeout) }
            // Report the most telling failure: refused beats unreachable beats the rest.
            self = classified.first { if case .refused = $0 { return true } else { return false } }
                ?? classified.first { if case .unreachable = $0 { return true } else { return false } }
                ?? classified.first { if case .timedOut = $0 { return true } else { return false } }
                ?? classified[0]
            return
        }
        if let error = error as? IOError {
            switch error.errnoCode {
            case ECONNREFUSED: self = .refused(authority)
            case ENETUNREACH, EHOSTUNREACH, EHOSTDOWN, ENETDOWN, EADDRNOTAVAIL: self = .unreachable(authority, reason: String(cString: strerror(error.errnoCode)))
            case ETIMEDOUT: self = .timedOut(authority, after: timeout)
            default: self = .failed(authority, reason: "\(error)")
            }
            return
        }
        if error is SocketAddressError {
            self = .nameNotFound(authority)
            return
        }
        self = .failed(authority, reason: "\(error)")
    }
}
