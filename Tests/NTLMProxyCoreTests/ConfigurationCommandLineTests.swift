import NTLM
import Testing
@testable import NTLMProxyCore

/// `ntlmproxy forward` flags → `ProxyConfiguration` (`ForwardCommandLine`).
@Suite("Configuration: ntlmproxy forward flags")
struct ConfigurationCommandLineTests {
    static let credential = CredentialConfiguration(name: "default", userName: "CORP\\alice", password: Password(ConfigurationFixtures.secret), source: .prompt)

    func error(_ options: ForwardCommandLine, credential: CredentialConfiguration? = Self.credential, sourceLocation: SourceLocation = #_sourceLocation) -> ConfigurationError? {
        do {
            _ = try options.makeConfiguration(credential: credential)
            Issue.record("expected an error", sourceLocation: sourceLocation)
            return nil
        } catch {
            #expect(!error.description.contains(ConfigurationFixtures.secret), sourceLocation: sourceLocation)
            return error
        }
    }

    @Test func oneListenerWithDefaults() throws {
        var options = ForwardCommandLine()
        options.parents = ["proxy1.corp:8080", "[fd00::1]:3128"]
        options.noProxy = ["localhost,*.corp.example", "10.0.0.0/8"]
        let configuration = try options.makeConfiguration(credential: Self.credential)
        #expect(configuration.listeners.map(\.name) == ["forward"])
        #expect(configuration.listeners[0].address == ListenAddress(host: "127.0.0.1", port: 3128))
        let forward = try #require(configuration.listeners[0].forward)
        #expect(forward.parents.map(\.name) == ["proxy1.corp:8080", "[fd00::1]:3128"])
        #expect(forward.parents.allSatisfy { $0.scheme == .auto })
        #expect(forward.credential?.name == "default")
        #expect(forward.noProxy.patterns.map(\.text) == ["localhost", "*.corp.example", "10.0.0.0/8"])
        #expect(forward.ntlmPolicy == .default)
        #expect(configuration.credentials.map(\.name) == ["default"])
        #expect(configuration.warnings.isEmpty)
    }

    @Test func everyFlag() throws {
        var options = ForwardCommandLine()
        options.listen = "0.0.0.0:3128"
        options.parents = ["p:1"]
        options.allow = ["10.0.0.0/8", "0/0"]
        options.deny = ["10.1.0.0/16"]
        options.clientAuthentication = "relay"
        options.scheme = "negotiate"
        options.socks5 = "1080"
        options.tunnels = ["2222:git.corp:22", "127.0.0.2:2223:Git.Corp:22"]
        options.ntlmv1 = true
        // SOCKS and tunnel clients bring no credential: relay alone is not enough for them.
        #expect(error(options, credential: nil)?.keyPath == "--user")
        let configuration = try options.makeConfiguration(credential: Self.credential)
        #expect(configuration.listeners.map(\.name) == ["forward", "socks5", "tunnel-2222", "tunnel-2223"])
        #expect(configuration.listeners.map(\.address.description) == ["0.0.0.0:3128", "127.0.0.1:1080", "127.0.0.1:2222", "127.0.0.2:2223"])
        let forward = try #require(configuration.listeners[0].forward)
        #expect(forward.clientAuthentication == .relay)
        #expect(forward.parents.map(\.scheme) == [.negotiate])
        #expect(forward.ntlmPolicy == NTLMResponseVariant.ntlm2sr.policy)
        // Most specific first, whatever the order on the command line.
        #expect(forward.access.rules.map(\.block.description) == ["10.1.0.0/16", "10.0.0.0/8", "0.0.0.0/0", "::/0"])
        #expect(forward.access.rules.map(\.action) == [.deny, .allow, .allow, .allow])
        guard case .tunnel(let tunnel) = configuration.listeners[3].mode, case .socks5(let socks) = configuration.listeners[1].mode else {
            Issue.record("wrong modes")
            return
        }
        #expect(tunnel.targetHost == "git.corp")
        #expect(tunnel.via == "forward")
        // SOCKS and tunnels have no HTTP client authentication.
        #expect(socks.forward.clientAuthentication == .none)
        #expect(configuration.warnings.map(\.keyPath) == ["--ntlmv1"])
    }

    @Test func warnings() throws {
        var options = ForwardCommandLine()
        options.listen = "0.0.0.0:3128"
        options.parents = ["p:1"]
        options.clientAuthentication = "basic"
        let configuration = try options.makeConfiguration(credential: nil)
        #expect(configuration.warnings.map(\.keyPath) == ["forward", "--client-auth"])
        #expect(configuration.warnings[0].message.contains("only loopback clients are allowed until you add --allow rules"))
    }

    /// `--auth` reaches the clients' own credentials under `--client-auth basic`.
    @Test func authAppliesToClientCredentials() throws {
        var options = ForwardCommandLine()
        options.parents = ["p:1"]
        options.clientAuthentication = "basic"
        #expect(try options.makeConfiguration(credential: nil).listeners.first?.forward?.clientCredentialAuthentication.mode == .auto)
        options.clientCredentialAuthentication = CredentialAuthentication(mode: .ntlm)
        #expect(try options.makeConfiguration(credential: nil).listeners.first?.forward?.clientCredentialAuthentication.mode == .ntlm)
        options.clientCredentialAuthentication = CredentialAuthentication(mode: .basic)
        #expect(throws: ConfigurationError.self) { try options.makeConfiguration(credential: nil) }
    }

    @Test func errorsNameTheFlag() throws {
        var options = ForwardCommandLine()
        options.parents = ["p:1"]
        #expect(error(options, credential: nil)?.description == "--user: parent p:1 needs a credential: give --user DOMAIN\\user (or --scheme none)")
        options.scheme = "none"
        #expect(try options.makeConfiguration(credential: nil).credentials.isEmpty)
        let cases: [(WritableKeyPath<ForwardCommandLine, [String]>, [String], String, String)] = [
            (\.parents, ["8080"], "--parent", "the host is required"),
            (\.parents, ["a:1", "A:1"], "--parent", "a:1 is given twice"),
            (\.allow, ["10.0.0.0/33"], "--allow", "above 32"),
            (\.deny, ["nothing"], "--deny", "invalid IPv4"),
            (\.noProxy, ["a,,b"], "--no-proxy", "empty entry"),
            (\.tunnels, ["22:host"], "--tunnel", "expected [lhost:]lport:host:port"),
        ]
        for (key, value, flag, fragment) in cases {
            var options = ForwardCommandLine()
            options.parents = ["p:1"]
            options[keyPath: key] = value
            let found = error(options)
            #expect(found?.keyPath == flag, "\(String(describing: found))")
            #expect(found?.message.contains(fragment) == true, "\(String(describing: found))")
        }
        var scheme = ForwardCommandLine()
        scheme.parents = ["p:1"]
        scheme.scheme = "kerberos"
        #expect(error(scheme)?.keyPath == "--scheme")
        scheme.scheme = "basic"
        #expect(error(scheme)?.message.contains("Basic needs the password itself") == true)
        let basicCredential = CredentialConfiguration(name: "default", userName: "CORP\\alice", password: "x", source: .prompt, allowBasic: true)
        #expect(try scheme.makeConfiguration(credential: basicCredential).listeners.count == 1)
        var relay = ForwardCommandLine()
        relay.clientAuthentication = "relay"
        #expect(error(relay)?.message.contains("give --parent") == true)
        var listen = ForwardCommandLine()
        listen.listen = "127.0.0.1:3128"
        listen.socks5 = "3128"
        #expect(error(listen)?.message.contains("address 127.0.0.1:3128 is used twice") == true)
    }

    @Test func cntlmConfigurationIsTheBase() throws {
        let cntlm = try CntlmConfigurationParser.parse("""
            Username User
            Domain Domain
            PassNTLMv2 F37975BFC402856C5CFFE10DD10FD1C0
            Proxy old.corp:8080
            NoProxy *.corp
            Allow 10.0.0.0/8
            Listen 3128
            Tunnel 2222:git.corp:22
            """, file: "cntlm.conf").makeProxyConfiguration()
        var options = ForwardCommandLine()
        options.parents = ["new.corp:3128"]
        options.noProxy = ["intranet"]
        options.deny = ["10.9.0.0/16"]
        let configuration = try options.makeConfiguration(credential: nil, cntlm: cntlm)
        #expect(configuration.listeners.map(\.name) == ["forward-3128", "tunnel-2222"])
        #expect(configuration.sourceFile == "cntlm.conf")
        let forward = try #require(configuration.listeners[0].forward)
        #expect(forward.parents.map(\.name) == ["new.corp:3128"])
        #expect(forward.credential?.qualifiedUser == "Domain\\User")
        #expect(forward.noProxy.patterns.map(\.text) == ["*.corp", "intranet"])
        #expect(forward.access.rules.map(\.block.description) == ["10.0.0.0/8", "10.9.0.0/16"])
        #expect(configuration.listeners[1].forward?.parents.map(\.name) == ["new.corp:3128"])

        var replaced = ForwardCommandLine()
        replaced.listen = "3129"
        let moved = try replaced.makeConfiguration(credential: Self.credential, cntlm: cntlm)
        #expect(moved.listeners.map(\.name) == ["forward", "tunnel-2222"])
        #expect(moved.listeners[0].address.port == 3129)
        #expect(moved.listeners[0].forward?.credential?.name == "default")
        #expect(moved.credentials.map(\.name) == ["default"])
    }
}
