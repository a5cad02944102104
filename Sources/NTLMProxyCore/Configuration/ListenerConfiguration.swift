/// One entry of `listeners:`: where to listen, with or without TLS, with which limits, and
/// what to do with the connections (the mode).
public struct ListenerConfiguration: Sendable {
    /// What the listener does.
    public enum Mode: Sendable {
        case gateway(GatewayConfiguration)
        case passThrough(PassThroughConfiguration)
        case acceptor(AcceptorConfiguration)
        case forward(ForwardConfiguration)
        case socks5(SOCKS5Configuration)
        case tunnel(StaticTunnelConfiguration)

        /// The mode's name as written in the file.
        public var name: String {
            switch self {
            case .gateway: return "gateway"
            case .passThrough: return "pass-through"
            case .acceptor: return "acceptor"
            case .forward: return "forward"
            case .socks5: return "socks5"
            case .tunnel: return "tunnel"
            }
        }
    }

    /// Unique among listeners; used in logs and metrics.
    public var name: String
    public var address: ListenAddress
    public var mode: Mode
    /// HTTPS on the listening side when set.
    public var tls: ListenerTLSConfiguration?
    public var limits: ListenerLimits
    /// The line of the entry in the file (for messages), if it came from one.
    public var line: Int?

    public init(
        name: String, address: ListenAddress, mode: Mode, tls: ListenerTLSConfiguration? = nil,
        limits: ListenerLimits = .default, line: Int? = nil
    ) {
        self.name = name
        self.address = address
        self.mode = mode
        self.tls = tls
        self.limits = limits
        self.line = line
    }

    /// The gateway settings, if this is a gateway.
    public var gateway: GatewayConfiguration? {
        if case .gateway(let gateway) = mode { return gateway }
        return nil
    }

    /// The routing and parent settings of a forward, socks5 or tunnel listener.
    public var forward: ForwardConfiguration? {
        switch mode {
        case .forward(let forward): return forward
        case .socks5(let socks): return socks.forward
        case .tunnel(let tunnel): return tunnel.forward
        case .gateway, .acceptor, .passThrough: return nil
        }
    }

    /// The names of the configured credentials this listener authenticates upstream with.
    var credentialNames: [String] {
        if let gateway { return [gateway.credential.name] }
        guard let forward, forward.clientAuthentication == .none else { return [] }
        return forward.parents.compactMap { forward.credential(for: $0)?.name }
    }

    /// The pass-through settings, if this is a pass-through listener.
    public var passThrough: PassThroughConfiguration? {
        if case .passThrough(let passThrough) = mode { return passThrough }
        return nil
    }

    /// How long a client connection may sit without a request: the listener's
    /// `idle-timeout`, or a pass-through listener's `pins.idle-timeout` if shorter (an idle
    /// client connection is an idle pin).
    public var idleTimeout: Duration {
        guard let passThrough else { return limits.idleTimeout }
        return min(limits.idleTimeout, passThrough.pins.idleTimeout)
    }

    /// The acceptor settings, if this is an acceptor.
    public var acceptor: AcceptorConfiguration? {
        if case .acceptor(let acceptor) = mode { return acceptor }
        return nil
    }
}
