extension BackendURL {
    public var isTLS: Bool { scheme == .https }

    /// `host[:port]` as a Host header value (port left out when it is the default).
    public var hostHeader: String {
        let name = host.contains(":") ? "[\(host)]" : host
        return port == scheme.defaultPort ? name : "\(name):\(port)"
    }

    /// The absolute upstream URL for a client's request target (origin-form `/path?query`):
    /// the backend's path prefix, then the client's path.
    public func url(forRequestTarget target: String) -> String {
        var prefix = path
        while prefix.hasSuffix("/") { prefix.removeLast() }
        let suffix = target.hasPrefix("/") ? target : "/" + target
        return "\(scheme.rawValue)://\(hostHeader)\(prefix)\(suffix)"
    }
}
