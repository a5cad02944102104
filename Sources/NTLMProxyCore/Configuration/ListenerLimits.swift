/// The `limits:` of a listener: how much one listener may take. Every value has a default,
/// so a listener without `limits:` is still bounded.
public struct ListenerLimits: Hashable, Sendable {
    /// Client connections open at once; further ones wait in the accept backlog.
    public var maxConnections: Int
    /// A client connection with no request in flight is closed after this long.
    public var idleTimeout: Duration
    /// Upper bound on a request head (request line plus headers); larger ones get a 431.
    public var maxHeaderBytes: Int
    /// Upper bound on one exchange: from a request head arriving to the response head being
    /// sent back (upstream handshake and backend think time included); then a 504.
    public var requestTimeout: Duration

    public static let defaultMaxConnections = 1024
    public static let defaultIdleTimeout: Duration = .seconds(60)
    /// 128 KiB: a Kerberos ticket of a user in many groups is up to 64 KiB of base64 in
    /// `Authorization` alone (Windows' MaxTokenSize 48,000 bytes), with the other fields on top.
    public static let defaultMaxHeaderBytes = 128 * 1024
    public static let defaultRequestTimeout: Duration = .seconds(120)

    public init(
        maxConnections: Int = ListenerLimits.defaultMaxConnections,
        idleTimeout: Duration = ListenerLimits.defaultIdleTimeout,
        maxHeaderBytes: Int = ListenerLimits.defaultMaxHeaderBytes,
        requestTimeout: Duration = ListenerLimits.defaultRequestTimeout
    ) {
        self.maxConnections = maxConnections
        self.idleTimeout = idleTimeout
        self.maxHeaderBytes = maxHeaderBytes
        self.requestTimeout = requestTimeout
    }

    public static let `default` = ListenerLimits()
}

/// Durations as written in the configuration: a number of seconds (`30`) or a number with a
/// unit, `ms`, `s`, `m` or `h` (`250ms`, `30s`, `5m`, `1h`).
public enum ConfigurationDuration {
    public static func parse(_ text: String) -> Duration? {
        let text = text.trimmingASCIIWhitespace().lowercased()
        let digits = text.prefix(while: { $0.isASCII && $0.isNumber })
        guard !digits.isEmpty, digits.count <= 9, let value = Int64(digits) else { return nil }
        switch text.dropFirst(digits.count) {
        case "", "s": return .seconds(value)
        case "ms": return .milliseconds(value)
        case "m": return .seconds(value * 60)
        case "h": return .seconds(value * 3600)
        default: return nil
        }
    }

    /// `250ms`, `30s`, `5m`, `2h`: the shortest exact form.
    public static func format(_ duration: Duration) -> String {
        let (seconds, attoseconds) = duration.components
        if attoseconds != 0 || seconds == 0 {
            return "\(seconds * 1000 + attoseconds / 1_000_000_000_000_000)ms"
        }
        if seconds % 3600 == 0 { return "\(seconds / 3600)h" }
        if seconds % 60 == 0 { return "\(seconds / 60)m" }
        return "\(seconds)s"
    }
}
