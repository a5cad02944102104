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

    @OptionGroup var browser: BrowserListenerOptions

    @Flag(name: .long, help: "Offer Basic even without TLS.")
    var allowBasic = false

    @Flag(name: .long, help: "Accept NTLMv1 responses (weak; off by default).")
    var allowNtlmv1 = false

    @Option(name: .long, help: "Service keytab for Kerberos (Negotiate with a ticket); 'default' = KRB5_KTNAME or /etc/krb5.keytab.")
    var keytab: String?

    @Option(name: .long, help: "The service principal in the keytab (default: any, e.g. HTTP/host@REALM for the host browsers use).")
    var servicePrincipal: String?

    func run() async throws {
        let address = try CommandLineConfiguration.listenAddress(listen)
        let users = try CommandLineConfiguration.users(usersFile, domain: domain)
        let backendURL = try backend.map(CommandLineConfiguration.backend)
        var acceptor = AcceptorConfiguration(
            usersFile: usersFile, users: users, backend: backendURL, identityHeader: identityHeader, domain: domain,
            basic: allowBasic ? .enabled : .automatic, allowNTLMv1: allowNtlmv1, pad401To: browser.pad401To)
        if let keytab {
            acceptor.kerberos = AcceptorKerberosConfiguration(keytab: keytab.lowercased() == "default" ? nil : keytab, principal: servicePrincipal)
        } else if servicePrincipal != nil {
            throw ValidationError("--service-principal needs --keytab")
        }
        let listener = ListenerConfiguration(name: "acceptor", address: address, mode: .acceptor(acceptor), tls: browser.tls)
        try await Serving.run(ProxyConfiguration(listeners: [listener]), globals: globals)
    }
}
