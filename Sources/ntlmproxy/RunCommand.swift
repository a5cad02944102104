import ArgumentParser
import NTLMProxyCore

/// `ntlmproxy run --config FILE`: every listener of a configuration file.
struct RunCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Run the listeners of a configuration file."
    )

    @OptionGroup var globals: GlobalOptions

    @Option(name: .long, help: "The YAML configuration file.")
    var config: String

    func run() async throws {
        let configuration: ProxyConfiguration
        do {
            configuration = try ConfigurationLoader().load(path: config)
        } catch {
            StandardError.write("\(error)\n")
            throw ExitCode.failure
        }
        try await Serving.run(configuration, globals: globals)
    }
}
