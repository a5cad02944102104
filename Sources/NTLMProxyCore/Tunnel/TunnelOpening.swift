import Logging
import NIOCore

/// Opens byte streams to `host:port` for the tunnel listeners (HTTP `CONNECT`, SOCKS5, static
/// tunnels). The routing behind it (which parent, `CONNECT` through it, lockout, failover, or a
/// direct connection) belongs to the forward mode.
public protocol TunnelOpening: Sendable {
    /// Opens a byte stream to host:port (through a parent's CONNECT or directly). The channel
    /// comes back with autoRead == false and no handlers.
    func openTunnel(host: String, port: Int, client: SocketAddress?, logger: Logger) async throws(TunnelOpenError) -> OpenedTunnel
}

/// A byte stream opened by a `TunnelOpening`.
public struct OpenedTunnel: Sendable {
    /// Connected, `autoRead == false`, no handlers.
    public var channel: any Channel
    /// Bytes the far end already sent (read past a parent's `200` while parsing it); they go to
    /// the client first.
    public var initialBytes: ByteBuffer?

    public init(channel: any Channel, initialBytes: ByteBuffer? = nil) {
        self.channel = channel
        self.initialBytes = initialBytes
    }
}

/// Why a tunnel could not be opened. The strings say what happened (host:port, parent name),
/// never a credential.
public enum TunnelOpenError: Error, Sendable, CustomStringConvertible {
    /// Refused by a rule or ACL, or the parent refused the target (403).
    case notAllowed(String)
    /// Connection refused, no route, or name not found.
    case unreachable(String)
    case timedOut(String)
    /// The parent rejected the credential, or the lockout guard holds it back.
    case authenticationFailed(String)
    case failed(String)

    public var description: String {
        switch self {
        case .notAllowed(let reason): return "not allowed: \(reason)"
        case .unreachable(let reason): return "unreachable: \(reason)"
        case .timedOut(let reason): return "timed out: \(reason)"
        case .authenticationFailed(let reason): return "authentication failed: \(reason)"
        case .failed(let reason): return "failed: \(reason)"
        }
    }

    /// The SOCKS5 reply for this failure (RFC 1928 section 6). A timeout is reported as "TTL
    /// expired", the nearest code the RFC has; a parent's credential rejection is a server
    /// failure, not something the SOCKS client can fix.
    public var socks5ReplyCode: SOCKS5ReplyCode {
        switch self {
        case .notAllowed: return .notAllowedByRuleset
        case .unreachable: return .hostUnreachable
        case .timedOut: return .ttlExpired
        case .authenticationFailed, .failed: return .generalFailure
        }
    }
}

/// Opens every tunnel with a direct TCP connection (no parent): for tests and for a listener
/// whose routing is "direct" everywhere.
public struct DirectTunnelOpener: TunnelOpening {
    public var connectTimeout: Duration
    public var group: any EventLoopGroup

    public init(connectTimeout: Duration = .seconds(10), group: any EventLoopGroup) {
        self.connectTimeout = connectTimeout
        self.group = group
    }

    public func openTunnel(host: String, port: Int, client: SocketAddress?, logger: Logger) async throws(TunnelOpenError) -> OpenedTunnel {
        do {
            let channel = try await DirectConnector.connect(host: host, port: port, timeout: connectTimeout, group: group)
            return OpenedTunnel(channel: channel)
        } catch {
            throw error.tunnelOpenError
        }
    }
}
