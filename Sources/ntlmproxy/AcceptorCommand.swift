import ArgumentParser
import NTLMProxyCore

/// `ntlmproxy acceptor`: one acceptor listener from flags, no configuration file.
struct AcceptorCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "acceptor",
        abstract: "Verify browsers' Negotiate/NTLM logons and pass the user to a backend (or show who they are)."
    )

    @OptionGroup var globals: GlobalOptions

    @Option(name: .long, help: "Address to listen on (host:port; loopback unless told otherwise).")
    var listen: String = "127.0.0.1:8081"

    @Option(name: .long, help: "Users file: DOMAIN\\user:NTHASH lines, or gss-ntlmssp's DOMAIN:user:password.")
    var usersFile: String

    @Option(name: .long, help: "Backend URL to forward verified requests to; without it, a who-am-I page.")
    var backend: String?

    @Option(name: .long, help: "Header that carries DOMAIN\\user to the backend.")
    var identityHeader: String = AcceptorConfiguration.defaultIdentityHeader

    @Option(name: .long, help: "NetBIOS domain announced, and used for users who send none.")
    var domain: String = AcceptorConfiguration.defaultDomain

    @Option(name: .long, help: "TLS certificate chain (PEM) for an HTTPS listener.")
    var tlsCert: String?

    @Option(name: .long, help: "TLS private key (PEM) for an HTTPS listener.")
    var tlsKey: String?

    @Flag(name: .long, help: "Offer Basic even without TLS.")
    var allowBasic = false

    @Flag(name: .long, help: "Accept NTLMv1 responses (weak; off by default).")
    var allowNtlmv1 = false

    @Option(name: .long, help: "Pad 401 bodies to at least this many bytes (old IE needed > 1460).")
    var pad401To: Int = 0

    func run() async throws {
        let address = try CommandLineConfiguration.listenAddress(listen)
        let users = try CommandLineConfiguration.users(usersFile, domain: domain)
        let backendURL = try backend.map(CommandLineConfiguration.backend)
        guard (tlsCert == nil) == (tlsKey == nil) else { throw ValidationError("--tls-cert and --tls-key go together") }
        let tls = tlsCert.flatMap { cert in tlsKey.map { ListenerTLSConfiguration(certificateFile: cert, privateKeyFile: $0) } }
        let acceptor = AcceptorConfiguration(
            usersFile: usersFile, users: users, backend: backendURL, identityHeader: identityHeader, domain: domain,
            basic: allowBasic ? .enabled : .automatic, allowNTLMv1: allowNtlmv1, pad401To: pad401To)
        let listener = ListenerConfiguration(name: "acceptor", address: address, mode: .acceptor(acceptor), tls: tls)
        try await Serving.run(ProxyConfiguration(listeners: [listener]), globals: globals)
    }
}
