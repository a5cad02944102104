import ArgumentParser
import NTLMProxyCore

/// `ntlmproxy gateway`: one gateway listener from flags, no configuration file.
struct GatewayCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "gateway",
        abstract: "Forward plain HTTP requests to an NTLM/Negotiate-protected backend with a service credential.",
        discussion: """
            The password comes from NTLMPROXY_PASSWORD, --password-file, or a prompt (never from an argument). \
            With --keytab, --ticket-cache, or --auth kerberos and no password, Kerberos tickets are used alone.
            """
    )

    @OptionGroup var globals: GlobalOptions

    @Option(name: .long, help: "Address to listen on (host:port; loopback unless told otherwise).")
    var listen: String = "127.0.0.1:8080"

    @Option(name: .long, help: "The backend URL, e.g. https://sharepoint.example.com/.")
    var backend: String

    @Option(name: .long, help: "The service account, DOMAIN\\user.")
    var user: String

    @Option(name: .long, help: "Read the password from this file (first line).")
    var passwordFile: String?

    @Option(name: .long, help: "Workstation name sent in NTLM messages.")
    var workstation: String = ""

    @Option(name: .long, help: "PEM file with the CA certificates trusted for an https backend.")
    var trustRoots: String?

    @Flag(name: .long, help: "Allow Basic to the backend (sends the password; only over https unless you mean it).")
    var allowBasic = false

    @Flag(name: .long, help: "Do not send TLS channel bindings (Extended Protection) to an https backend.")
    var noChannelBindings = false

    @OptionGroup var kerberos: KerberosOptions

    func run() async throws {
        let address = try CommandLineConfiguration.listenAddress(listen)
        let backendURL = try CommandLineConfiguration.backend(backend)
        let credential = try CommandLineConfiguration.credential(
            userName: user, passwordFile: passwordFile, workstation: workstation, allowBasic: allowBasic, kerberos: kerberos.flags)
        let gateway = GatewayConfiguration(
            backend: backendURL, credential: credential, trustRootsFile: trustRoots,
            channelBindings: !noChannelBindings, allowBasic: allowBasic)
        let listener = ListenerConfiguration(name: "gateway", address: address, mode: .gateway(gateway))
        let configuration = ProxyConfiguration(credentials: [credential], listeners: [listener])
        try await Serving.run(configuration, globals: globals)
    }
}
