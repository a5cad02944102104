import ArgumentParser

/// The `ntlmproxy` command line: one binary, one subcommand per job.
@main
struct NTLMProxyCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ntlmproxy",
        abstract: "NTLM and Negotiate authentication for Linux and macOS programs.",
        subcommands: [RunCommand.self, ForwardCommand.self, GatewayCommand.self, PassThroughCommand.self, AcceptorCommand.self, ProbeCommand.self, DemoCommand.self, CheckConfigCommand.self, HashCommand.self]
    )
}
