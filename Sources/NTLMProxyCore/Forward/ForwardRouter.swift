/// Where a forward-proxy request goes: decided from the target host and port alone.
public enum ForwardRoute: Hashable, Sendable {
    /// Straight to the origin (NoProxy, a `direct` rule, or no parents configured).
    case direct
    /// Through these parents, in failover order.
    case parents([ParentProxyConfiguration])
}

/// Applies a forward listener's routing: per-host rules first (first match wins), then
/// NoProxy, then the parent list. A rule naming a parent puts that parent first; the others
/// remain behind it for failover.
public struct ForwardRouter: Sendable {
    public let configuration: ForwardConfiguration

    public init(configuration: ForwardConfiguration) {
        self.configuration = configuration
    }

    public func route(host: String, port: Int) -> ForwardRoute {
        let parents = configuration.parents
        switch configuration.rules.route(host: host, port: port) {
        case .direct:
            return .direct
        case .parent(let name):
            if let chosen = configuration.parent(named: name) {
                return .parents([chosen] + parents.filter { $0.name != name })
            }
        case nil:
            break
        }
        if parents.isEmpty || configuration.noProxy.matches(host: host, port: port) {
            return .direct
        }
        return .parents(parents)
    }
}
