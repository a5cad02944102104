/// Everything `ntlmproxy` runs with: logging, named credentials and listeners. Built by
/// `ConfigurationLoader` from a YAML file, or directly from command-line flags:
///
/// ```swift
/// // `ntlmproxy gateway --listen 3128 --backend https://intranet --user CORP\\svc --password-file f`
/// let credential = try ConfigurationLoader.credential(userName: user, passwordFile: passwordFile)
/// let listener = ListenerConfiguration(
///     name: "gateway",
///     address: try ListenAddress(parsing: listen),            // "3128" -> 127.0.0.1:3128
///     mode: .gateway(GatewayConfiguration(backend: try BackendURL(parsing: backend), credential: credential)))
/// let configuration = ProxyConfiguration(
///     logging: LoggingConfiguration(level: globals.resolvedLogLevel()),
///     credentials: [credential], listeners: [listener])
/// ```
///
/// Secrets are already resolved (passwords hashed) and never appear in `renderSummary()`.
public struct ProxyConfiguration: Sendable {
    public var logging: LoggingConfiguration
    /// In file order; names are unique.
    public var credentials: [CredentialConfiguration]
    /// In file order; names and addresses are unique.
    public var listeners: [ListenerConfiguration]
    /// Legal but risky choices, for `check-config` (and a log line at start-up).
    public var warnings: [ConfigurationWarning]
    /// The file this was loaded from, if any.
    public var sourceFile: String?

    public init(
        logging: LoggingConfiguration = LoggingConfiguration(), credentials: [CredentialConfiguration] = [],
        listeners: [ListenerConfiguration] = [], warnings: [ConfigurationWarning] = [], sourceFile: String? = nil
    ) {
        self.logging = logging
        self.credentials = credentials
        self.listeners = listeners
        self.warnings = warnings
        self.sourceFile = sourceFile
    }

    /// The credential called `name`.
    public func credential(named name: String) -> CredentialConfiguration? {
        credentials.first { $0.name == name }
    }

    /// The listener called `name`.
    public func listener(named name: String) -> ListenerConfiguration? {
        listeners.first { $0.name == name }
    }
}
