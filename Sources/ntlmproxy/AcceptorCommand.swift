import ArgumentParser
import NTLM
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
    var usersFile: String?

    @Flag(name: .long, help: "Verify NTLM and Basic against the Windows/Samba domain through Samba's ntlm_auth (winbind).")
    var winbind = false

    @Option(name: .long, help: "The ntlm_auth program for --winbind.")
    var ntlmAuth: String = NTLMAuthHelperConfiguration.defaultCommand[0]

    @Option(name: .long, parsing: .unconditionalSingleValue, help: "An extra argument for ntlm_auth (e.g. --ntlm-auth-arg=--configfile=/etc/samba/smb.conf); repeatable.")
    var ntlmAuthArg: [String] = []

    @Option(name: .long, help: "ntlm_auth processes at most (--winbind).")
    var helpers: Int = 4

    @Option(name: .long, help: "Only members of this group (DOMAIN\\group or a SID) may log on (--winbind).")
    var requireGroup: String?

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

    func validate() throws {
        guard !(usersFile != nil && winbind) else { throw ValidationError("give either --users-file or --winbind") }
        guard usersFile != nil || winbind || keytab != nil else {
            throw ValidationError("give --users-file FILE, --winbind (the domain), or --keytab FILE (Kerberos only)")
        }
        guard (1...256).contains(helpers) else { throw ValidationError("--helpers must be 1-256") }
        guard winbind || requireGroup == nil else { throw ValidationError("--require-group needs --winbind") }
    }

    func run() async throws {
        let address = try CommandLineConfiguration.listenAddress(listen)
        let users = try usersFile.map { try CommandLineConfiguration.users($0, domain: domain) } ?? NTLMUserStore()
        let backendURL = try backend.map(CommandLineConfiguration.backend)
        var acceptor = AcceptorConfiguration(
            usersFile: usersFile ?? "", users: users, backend: backendURL, identityHeader: identityHeader, domain: domain,
            basic: allowBasic ? .enabled : .automatic, allowNTLMv1: allowNtlmv1, pad401To: browser.pad401To)
        if winbind {
            acceptor.domainHelper = NTLMAuthHelperConfiguration(command: [ntlmAuth] + ntlmAuthArg, maximumHelpers: helpers, requireGroup: requireGroup)
        }
        if let keytab {
            acceptor.kerberos = AcceptorKerberosConfiguration(keytab: keytab.lowercased() == "default" ? nil : keytab, principal: servicePrincipal)
        } else if servicePrincipal != nil {
            throw ValidationError("--service-principal needs --keytab")
        }
        let listener = ListenerConfiguration(name: "acceptor", address: address, mode: .acceptor(acceptor), tls: browser.tls)
        try await Serving.run(ProxyConfiguration(listeners: [listener]), globals: globals)
    }
}
