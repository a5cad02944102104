import ArgumentParser
import NTLMProxyCore

/// `ntlmproxy forward`: a forward proxy for curl, git, pip, browsers (`http_proxy=`) that
/// authenticates to parent proxies; the cntlm/Px replacement for the one-listener case.
struct ForwardCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "forward",
        abstract: "Run a local proxy that authenticates to parent proxies (NTLM, Negotiate, Basic) for its clients.",
        discussion: """
            The password comes from NTLMPROXY_PASSWORD, --password-file, or a prompt (never from an argument).
            --allow/--deny: the most specific block decides; without any, only loopback clients are served.
            With --cntlm-config, the cntlm.conf is the base and the flags given change it.
            """
    )

    @OptionGroup var globals: GlobalOptions

    @Option(name: .long, help: "Address to listen on (host:port or port; default 127.0.0.1:3128).")
    var listen: String?

    @Option(name: .long, help: "A parent proxy, host:port; repeat for failover, tried in order.")
    var parent: [String] = []

    @Option(name: .long, help: "The account, DOMAIN\\user.")
    var user: String?

    @Option(name: .long, help: "Read the password from this file (first line).")
    var passwordFile: String?

    @Option(name: .long, help: "Workstation name sent in NTLM messages.")
    var workstation: String = ""

    @Option(name: .long, help: "Hosts reached directly: comma-separated patterns (*.corp, 10.0.0.0/8, host:port).")
    var noProxy: [String] = []

    @Option(name: .long, help: "Clients allowed (CIDR, or 0/0 for all); repeatable.")
    var allow: [String] = []

    @Option(name: .long, help: "Clients refused (CIDR, or 0/0 for all); repeatable.")
    var deny: [String] = []

    @Option(name: .long, help: "What clients present: none, basic (their own account upstream) or relay (their own NTLM).")
    var clientAuth: String?

    @Option(name: .long, help: "How to authenticate to the parents: auto, ntlm, negotiate, basic or none.")
    var scheme: String?

    @Option(name: .long, help: "Also serve SOCKS5 (no authentication) on [host:]port.")
    var socks5: String?

    @Option(name: .long, help: "A static tunnel [lhost:]lport:host:port through the parents; repeatable.")
    var tunnel: [String] = []

    @Option(name: .long, help: "Start from an existing cntlm.conf.")
    var cntlmConfig: String?

    @Flag(name: .long, help: "Send NTLMv1 (NTLM2SR) instead of NTLMv2 (weak; only for parents that need it).")
    var ntlmv1 = false

    @Flag(name: .long, help: "Answer a Basic-only parent with the password (sent in clear text to the parent).")
    var allowBasic = false

    @OptionGroup var kerberos: KerberosOptions

    func run() async throws {
        var options = ForwardCommandLine()
        options.listen = listen
        options.parents = parent
        options.noProxy = noProxy
        options.allow = allow
        options.deny = deny
        options.clientAuthentication = clientAuth
        options.scheme = scheme
        options.socks5 = socks5
        options.tunnels = tunnel
        options.ntlmv1 = ntlmv1
        options.allowBasic = allowBasic
        options.clientCredentialAuthentication = kerberos.flags.authentication

        let cntlm = try cntlmConfig.map { path in
            try CommandLineConfiguration.cntlmConfiguration(path: path, passwordFile: user == nil ? passwordFile : nil, interactive: user == nil)
        }
        guard cntlm != nil || !parent.isEmpty || !options.needsCredential || user != nil else {
            throw ValidationError("give --parent host:port and --user DOMAIN\\user (or --cntlm-config FILE)")
        }
        let credential = try user.map { name in
            try CommandLineConfiguration.credential(
                userName: name, passwordFile: passwordFile, workstation: workstation,
                allowBasic: allowBasic || scheme?.lowercased() == "basic", kerberos: kerberos.flags)
        }
        let configuration: ProxyConfiguration
        do {
            configuration = try options.makeConfiguration(credential: credential, cntlm: cntlm)
        } catch {
            throw ValidationError("\(error)")
        }
        try await Serving.run(configuration, globals: globals)
    }
}
