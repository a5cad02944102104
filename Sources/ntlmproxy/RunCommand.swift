import ArgumentParser
import NTLMProxyCore

/// `ntlmproxy run --config FILE`: every listener of a configuration file.
struct RunCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Run the listeners of a configuration file (YAML, or an existing cntlm.conf)."
    )

    @OptionGroup var globals: GlobalOptions

    @Option(name: .long, help: "The YAML configuration file.")
    var config: String?

    @Option(name: .long, help: "Run from an existing cntlm.conf instead.")
    var cntlmConfig: String?

    @Option(name: .long, help: "With --cntlm-config: the password file, when the cntlm.conf holds no password or hash.")
    var passwordFile: String?

    func validate() throws {
        guard (config == nil) != (cntlmConfig == nil) else { throw ValidationError("give either --config FILE or --cntlm-config FILE") }
    }

    func run() async throws {
        let configuration: ProxyConfiguration
        if let cntlmConfig {
            configuration = try CommandLineConfiguration.cntlmConfiguration(path: cntlmConfig, passwordFile: passwordFile, interactive: true)
        } else {
            do {
                configuration = try ConfigurationLoader().load(path: config ?? "")
            } catch {
                StandardError.write("\(error)\n")
                throw ExitCode.failure
            }
        }
        try await Serving.run(configuration, globals: globals)
    }
}
