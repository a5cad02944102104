/// A pass-through listener's settings: a reverse proxy in front of an NTLM/Negotiate origin
/// (IIS, SharePoint, Exchange) that relays each browser's own handshake, so every user
/// reaches the backend as themselves over an upstream connection pinned to their client
/// connection (design invariant 1).
public struct PassThroughConfiguration: Hashable, Sendable {
    /// The NTLM/Negotiate-protected origin.
    public var backend: BackendURL
    /// PEM file of CA certificates to trust for an https backend, instead of the system store.
    public var trustRootsFile: String?
    /// Path prefixes (`/static/`, `/health`) served over a shared pool of upstream
    /// connections without pinning, as long as the request carries no NTLM/Negotiate
    /// `Authorization` of its own.
    public var publicPaths: [String]
    /// Bounds on pinned upstream connections.
    public var pins: PinLimits
    /// Pad 401 bodies to at least this many bytes (IE6 SP1 needed more than 1460); 0 = off.
    public var pad401To: Int

    public init(backend: BackendURL, trustRootsFile: String? = nil, publicPaths: [String] = [], pins: PinLimits = .default, pad401To: Int = 0) {
        self.backend = backend
        self.trustRootsFile = trustRootsFile
        self.publicPaths = publicPaths
        self.pins = pins
        self.pad401To = pad401To
    }

    /// Whether `requestTarget` (origin-form, `/path?query`) falls under a public prefix.
    public func isPublic(_ requestTarget: String) -> Bool {
        let path = requestTarget.split(separator: "?", maxSplits: 1, omittingEmptySubsequences: false).first.map(String.init) ?? requestTarget
        return publicPaths.contains { path.hasPrefix($0) }
    }
}

/// `pins:` of a pass-through listener. When a limit ends a pin, the client connection is
/// closed after its current response (the browser reconnects and authenticates again).
public struct PinLimits: Hashable, Sendable {
    /// Pinned upstream connections open at once; a client connection that would need one
    /// more gets a 503 (with `Retry-After`) and is closed.
    public var maxPins: Int
    /// A pin (and its client connection) with no request for this long is closed.
    public var idleTimeout: Duration
    /// Requests one pin carries before it is closed; 0 = unlimited.
    public var maxRequests: Int
    /// How long one pin may live; `nil` = unlimited.
    public var maxLifetime: Duration?

    public static let defaultMaxPins = 1024
    /// The listener's default idle timeout; IIS closes idle connections after 120 s, and
    /// staying below keeps clients from sending into a pin the backend is about to drop.
    public static let defaultIdleTimeout: Duration = .seconds(60)
    public static let defaultMaxRequests = 0
    public static let defaultMaxLifetime: Duration? = .seconds(8 * 3600)

    public init(
        maxPins: Int = PinLimits.defaultMaxPins, idleTimeout: Duration = PinLimits.defaultIdleTimeout,
        maxRequests: Int = PinLimits.defaultMaxRequests, maxLifetime: Duration? = PinLimits.defaultMaxLifetime
    ) {
        self.maxPins = maxPins
        self.idleTimeout = idleTimeout
        self.maxRequests = maxRequests
        self.maxLifetime = maxLifetime
    }

    public static let `default` = PinLimits()
}
