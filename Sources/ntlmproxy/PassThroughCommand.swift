import ArgumentParser
import NTLMProxyCore

/// `ntlmproxy passthrough`: one pass-through listener from flags, no configuration file.
struct PassThroughCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "passthrough",
        abstract: "Reverse proxy in front of an NTLM/Negotiate backend that relays each browser's own logon.",
        discussion: """
            Every client connection gets its own backend connection (a pin) for its protected \
            requests, so each user acts with their own rights. No credential is configured: \
            the clients authenticate to the backend themselves.
            """,
        aliases: ["pass-through"]
    )

    @OptionGroup var globals: GlobalOptions

    @Option(name: .long, help: "Address to listen on (host:port; loopback unless told otherwise).")
    var listen: String = "127.0.0.1:8080"

    @Option(name: .long, help: "The backend URL, e.g. https://intranet.example.com/.")
    var backend: String

    @Option(name: .long, help: "PEM file with the CA certificates trusted for an https backend.")
    var backendCA: String?

    @OptionGroup var browser: BrowserListenerOptions

    @Option(name: .customLong("public"), help: "A path prefix served over a shared pool without pinning (repeatable).")
    var publicPaths: [String] = []

    @Option(name: .long, help: "Pinned backend connections open at once.")
    var maxPins: Int = PinLimits.defaultMaxPins

    @Option(name: .long, help: "Close a pin (and its client connection) idle this long (30s, 5m).")
    var pinIdleTimeout: String?

    @Option(name: .long, help: "Requests one pin carries before it is closed (0 = unlimited).")
    var pinMaxRequests: Int = PinLimits.defaultMaxRequests

    @Option(name: .long, help: "How long one pin may live (8h; 'unlimited').")
    var pinMaxLifetime: String?

    func run() async throws {
        guard maxPins > 0 else { throw ValidationError("--max-pins must be at least 1") }
        guard pinMaxRequests >= 0 else { throw ValidationError("--pin-max-requests cannot be negative") }
        let address = try CommandLineConfiguration.listenAddress(listen)
        let backendURL = try CommandLineConfiguration.backend(backend)
        for path in publicPaths where !path.hasPrefix("/") {
            throw ValidationError("--public \(path): a public path is a prefix starting with /")
        }
        var pins = PinLimits(maxPins: maxPins, maxRequests: pinMaxRequests)
        if let pinIdleTimeout { pins.idleTimeout = try Self.duration(pinIdleTimeout, flag: "--pin-idle-timeout") }
        if let pinMaxLifetime {
            pins.maxLifetime = pinMaxLifetime.lowercased() == "unlimited" ? nil : try Self.duration(pinMaxLifetime, flag: "--pin-max-lifetime")
        }
        let passThrough = PassThroughConfiguration(backend: backendURL, trustRootsFile: backendCA, publicPaths: publicPaths, pins: pins, pad401To: browser.pad401To)
        var limits = ListenerLimits()
        limits.idleTimeout = max(limits.idleTimeout, pins.idleTimeout)
        let listener = ListenerConfiguration(name: "passthrough", address: address, mode: .passThrough(passThrough), tls: browser.tls, limits: limits)
        try await Serving.run(ProxyConfiguration(credentials: [], listeners: [listener]), globals: globals)
    }

    static func duration(_ text: String, flag: String) throws -> Duration {
        guard let value = ConfigurationDuration.parse(text), value > .zero else {
            throw ValidationError("\(flag) \(text): expected a duration such as 30s, 5m or 1h")
        }
        return value
    }
}
