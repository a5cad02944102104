/// A parent HTTP proxy reached over plain HTTP.
///
/// Requests go to it in absolute-form (RFC 9112 §3.2.2) — `https://` URLs too: the proxy makes
/// the TLS connection to the origin — and tunnels are opened with `CONNECT` (§3.2.3). Its
/// `407 Proxy-Authenticate` challenges are answered with the credential given to
/// ``NTLMHTTPClient/execute(_:credential:via:pin:timeout:logger:)`` or
/// ``NTLMHTTPClient/openTunnel(host:port:via:credential:headers:pin:timeout:logger:)``.
public struct HTTPProxyServer: Hashable, Sendable, CustomStringConvertible {
    /// Lowercased; an IPv6 address without brackets.
    public var host: String
    public var port: Int

    /// `host` may be given with brackets (`[::1]`); they are removed, and the name lowercased.
    public init(host: String, port: Int) {
        var name = host.lowercased()
        if name.hasPrefix("["), name.hasSuffix("]"), name.count >= 2 {
            name = String(name.dropFirst().dropLast())
        }
        self.host = name
        self.port = port
    }

    /// `host:port`, with an IPv6 address in brackets.
    public var description: String {
        host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)"
    }

    /// Where the TCP connection goes: always plain HTTP.
    var endpoint: Endpoint {
        Endpoint(scheme: .http, host: host, port: port)
    }
}
