import ArgumentParser
import Logging
import NTLMHTTP
import NTLMProxyCore

/// `ntlmproxy probe URL`: which scheme and NTLM variant a parent proxy (or the URL's origin)
/// accepts, found with as few failed logons as possible, and the configuration to use.
struct ProbeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "probe",
        abstract: "Find which scheme and NTLM variant a parent proxy (or an origin) accepts, and print the config to use.",
        discussion: """
            Every refused attempt is a failed logon on the domain, so the probe first asks without credentials, \
            then tries the likeliest variant first and stops at the first success (at most --max-attempts). \
            The password comes from NTLMPROXY_PASSWORD, --password-file, or a prompt.
            """
    )

    @OptionGroup var globals: GlobalOptions

    @Argument(help: "A URL to request, e.g. http://www.example.com/ (through the parent, or straight to its origin).")
    var url: String

    @Option(name: .long, help: "The parent proxy to probe, host:port; without it the URL's origin is probed.")
    var parent: String?

    @Option(name: .long, help: "The account, DOMAIN\\user.")
    var user: String

    @Option(name: .long, help: "Read the password from this file (first line).")
    var passwordFile: String?

    @Option(name: .long, help: "Workstation name sent in NTLM messages.")
    var workstation: String = ""

    @Flag(name: .long, help: "Also try Basic when offered (it sends the password).")
    var allowBasic = false

    @Flag(name: .long, help: "Also try NTLMv1 (weak) when NTLMv2 is refused or the server predates it.")
    var allowNtlmv1 = false

    @Option(name: .long, help: "Credentialed attempts at most (each refusal is a failed logon).")
    var maxAttempts: Int = 2

    @Option(name: .long, help: "Seconds per request.")
    var timeout: Int = 30

    @Option(name: .long, help: "PEM file with the CA certificates trusted for an https origin.")
    var trustRoots: String?

    @OptionGroup var kerberos: KerberosOptions

    func validate() throws {
        guard (1...10).contains(maxAttempts) else { throw ValidationError("--max-attempts must be 1-10") }
        guard timeout > 0 else { throw ValidationError("--timeout must be positive") }
    }

    func run() async throws {
        LoggingSetup.bootstrap(level: globals.resolvedLogLevel(configured: .warning))
        let proxy: HTTPProxyServer?
        do {
            proxy = try parent.map { text throws(ConfigurationError) in
                let (host, port) = try ForwardCommandLine.hostAndPort(text, flag: "--parent")
                return HTTPProxyServer(host: host, port: port)
            }
        } catch {
            throw ValidationError("\(error)")
        }
        let credential = try CommandLineConfiguration.credential(
            userName: user, passwordFile: passwordFile, workstation: workstation, allowBasic: allowBasic, kerberos: kerberos.flags)
        var clientConfiguration = NTLMHTTPClient.Configuration()
        clientConfiguration.authentication.kerberosCanonicalization = credential.authentication.spnCanonicalization
        if let trustRoots { clientConfiguration.useTrustRoots(pemFile: trustRoots) }
        let prober = Prober(
            url: url, parent: proxy, credential: credential.httpCredential,
            options: ProbePlan.Options(
                allowBasic: allowBasic, allowNTLMv1: allowNtlmv1, maximumAttempts: maxAttempts,
                kerberos: credential.kerberos == nil ? .never : credential.authentication.mode.kerberosUse,
                ntlmPossible: credential.httpCredential.canUseNTLM),
            timeout: .seconds(timeout), clientConfiguration: clientConfiguration)
        let report: ProbeReport
        do {
            report = try await prober.run(logger: Logger(label: "ntlmproxy.probe"))
        } catch {
            StandardError.write("ntlmproxy probe: \(error)\n")
            throw ExitCode.failure
        }
        print(report.render())
        if report.plan.success == nil { throw ExitCode.failure }
    }
}
