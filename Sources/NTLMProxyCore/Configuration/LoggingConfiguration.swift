import Logging

/// The `logging:` section.
public struct LoggingConfiguration: Hashable, Sendable {
    /// The minimum level logged; `info` unless configured (the command line's `--log-level`
    /// and `NTLMPROXY_LOG_LEVEL` take precedence over the file).
    public var level: Logger.Level

    /// Whether `level` came from the file (so that the CLI knows whether to keep it).
    public var levelIsExplicit: Bool

    public init(level: Logger.Level = .info, levelIsExplicit: Bool = false) {
        self.level = level
        self.levelIsExplicit = levelIsExplicit
    }

    /// The accepted level names, lowest first.
    public static let levelNames: [String] = Logger.Level.allCases.map(\.rawValue)

    /// Parses `trace`, `debug`, `info`, `notice`, `warning`, `error` or `critical`, in any case.
    public static func parseLevel(_ text: String) -> Logger.Level? {
        Logger.Level(rawValue: text.lowercased())
    }
}
