import ArgumentParser
import NTLMProxyCore

/// `ntlmproxy check-config FILE`: validates a configuration file and prints what it
/// understood, secrets redacted. Exit status 0 when valid; otherwise the error
/// (`file:line: key.path: message`) goes to stderr and the status is 1.
struct CheckConfigCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "check-config",
        abstract: "Validate a configuration file and print what it understood (secrets redacted)."
    )

    @OptionGroup var globals: GlobalOptions

    @Argument(help: "The YAML configuration file.")
    var file: String?

    @Option(name: .long, help: "Check an existing cntlm.conf instead: what ntlmproxy would run from it.")
    var cntlmConfig: String?

    func validate() throws {
        guard (file == nil) != (cntlmConfig == nil) else { throw ValidationError("give either FILE or --cntlm-config FILE") }
    }

    func run() async throws {
        LoggingSetup.bootstrap(level: globals.resolvedLogLevel())
        let configuration: ProxyConfiguration
        if let cntlmConfig {
            configuration = try CommandLineConfiguration.cntlmConfiguration(path: cntlmConfig, passwordFile: nil, interactive: false)
        } else {
            do {
                configuration = try ConfigurationLoader().load(path: file ?? "")
            } catch {
                StandardError.write("\(error)\n")
                throw ExitCode(1)
            }
        }
        print(configuration.renderSummary())
        for line in await configuration.kerberosChecks() { print(line) }
    }
}
