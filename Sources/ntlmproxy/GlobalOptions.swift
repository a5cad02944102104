import ArgumentParser
import Logging
import NTLMProxyCore

/// Options every subcommand takes (`@OptionGroup var globals: GlobalOptions`).
struct GlobalOptions: ParsableArguments {
    /// The environment variable consulted when `--log-level` is not given.
    static let logLevelEnvironment = "NTLMPROXY_LOG_LEVEL"

    @Option(
        name: .long,
        help: ArgumentHelp(
            "Log level: trace, debug, info, notice, warning, error or critical (default info).",
            discussion: "NTLMPROXY_LOG_LEVEL is used when this option is not given.",
            valueName: "level"))
    var logLevel: String?

    func validate() throws {
        if let logLevel, LoggingConfiguration.parseLevel(logLevel) == nil {
            throw ValidationError(
                "unknown log level '\(logLevel)' (one of: \(LoggingConfiguration.levelNames.joined(separator: ", ")))")
        }
    }

    /// The level to log at: `--log-level`, else `NTLMPROXY_LOG_LEVEL`, else the configuration
    /// file's `logging.level` when the caller passes one, else `info`. An unusable environment
    /// value is reported on stderr and ignored.
    func resolvedLogLevel(configured: Logger.Level? = nil) -> Logger.Level {
        if let logLevel, let level = LoggingConfiguration.parseLevel(logLevel) { return level }
        if let value = ConfigurationLoader.processEnvironment(GlobalOptions.logLevelEnvironment), !value.isEmpty {
            if let level = LoggingConfiguration.parseLevel(value) { return level }
            StandardError.write("ntlmproxy: ignoring \(GlobalOptions.logLevelEnvironment)=\(value): not a log level\n")
        }
        return configured ?? .info
    }
}
