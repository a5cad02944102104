import NTLM
import NTLMHTTP
import Testing
@testable import NTLMProxyCore

/// cntlm.conf → `ProxyConfiguration` (`--cntlm-config`).
@Suite("cntlm.conf mapping")
struct CntlmMappingTests {
    /// `cntlm -H -u User -d Domain` for the password "Password" (see CntlmHashesTests).
    static let hashBlock = """
        Username    User
        Domain      Domain
        PassLM      1AD35398BE6565DDB5C4EF70C0593492
        PassNT      5B0B63BF9AEF4235497DB1183CF027AD
        PassNTLMv2  F37975BFC402856C5CFFE10DD10FD1C0    # Only for user 'User', domain 'Domain'
        """
    static let base = "Proxy 10.0.0.41:8080\nListen 3128\n"

    func map(_ text: String, password: (Password, SecretSource)? = nil) throws -> ProxyConfiguration {
        try CntlmConfigurationParser.parse(text, file: "cntlm.conf").makeProxyConfiguration(password: password)
    }

    func mappingError(_ text: String, sourceLocation: SourceLocation = #_sourceLocation) -> ConfigurationError? {
        do {
            _ = try CntlmConfigurationParser.parse(text, file: "cntlm.conf").makeProxyConfiguration()
            Issue.record("expected an error", sourceLocation: sourceLocation)
            return nil
        } catch {
            CntlmConfigurationTests.expectNoSecrets(error.description, sourceLocation: sourceLocation)
            return error
        }
    }

    /// One NTLM handshake of `credential` against an acceptor that knows User/Domain/Password.
    func authenticates(_ credential: CredentialConfiguration, policy: NTLMInitiatorPolicy = .default) throws -> Bool {
        var store = NTLMUserStore()
        store.add(user: "User", domain: "Domain", password: "Password")
        var initiator = NTLMInitiator(credentials: try #require(credential.httpCredential.ntlm), policy: policy)
        var acceptor = NTLMAcceptor(policy: NTLMAcceptorPolicy(netbiosDomain: "DOMAIN", allowNTLMv1: true, allowLM: true))
        let type2 = try acceptor.challenge(negotiate: initiator.negotiate())
        let type3 = try initiator.authenticate(challenge: type2)
        return (try? acceptor.accept(authenticate: type3, verifier: store)) != nil
    }

    @Test func hashBlockAsPrintedByCntlm() throws {
        let configuration = try map(Self.hashBlock + "\n" + Self.base)
        let credential = try #require(configuration.credentials.first)
        #expect(credential.qualifiedUser == "Domain\\User")
        #expect(credential.source == .cntlmConfiguration(keyword: "PassNT", path: "cntlm.conf"))
        #expect(credential.httpCredential.ntlm?.ntHash == NTHash(password: "Password"))
        #expect(credential.httpCredential.ntlm?.lmHash == LMHash(password: "Password"))
        #expect(configuration.warnings.isEmpty)
        #expect(try authenticates(credential))
        #expect(configuration.renderSummary().contains("cntlm: Domain\\User (PassNT from cntlm.conf)"))
        CntlmConfigurationTests.expectNoSecrets(configuration.renderSummary())
    }

    @Test func passNTLMv2AloneAuthenticatesWithNTLMv2() throws {
        let text = "Username User\nDomain Domain\nPassNTLMv2 F37975BFC402856C5CFFE10DD10FD1C0\n" + Self.base
        let configuration = try map(text)
        let credential = try #require(configuration.credentials.first)
        #expect(credential.httpCredential.ntlm?.hasNTHash == false)
        #expect(credential.source == .cntlmConfiguration(keyword: "PassNTLMv2", path: "cntlm.conf"))
        #expect(try authenticates(credential))
        // NTLMv1 cannot be computed from it: the initiator refuses instead of sending garbage.
        #expect(throws: NTLMError.self) { _ = try authenticates(credential, policy: NTLMResponseVariant.nt.policy) }
        // The key is bound to the user and domain it was made for.
        let other = try map("Username Other\nDomain Domain\nPassNTLMv2 F37975BFC402856C5CFFE10DD10FD1C0\n" + Self.base)
        #expect(other.credentials.first?.httpCredential.ntlm != credential.httpCredential.ntlm)
    }

    @Test func passNTLMv2WithAnNTLMv1AuthIsAnError() throws {
        let error = try #require(mappingError("Username User\nAuth NTLM\nPassNTLMv2 F37975BFC402856C5CFFE10DD10FD1C0\n" + Self.base))
        #expect(error.description == "cntlm.conf:2: Auth: Auth NTLM needs PassNT or Password: PassNTLMv2 (line 3) serves NTLMv2 only")
    }

    @Test func stalePassNTLMv2IsPointedOut() throws {
        // PassNTLMv2 of User/Domain, but the file names another domain.
        let text = Self.hashBlock.replacingOccurrences(of: "Domain      Domain", with: "Domain      OTHER") + "\n" + Self.base
        let configuration = try map(text)
        #expect(configuration.warnings.map(\.line) == [5])
        #expect(configuration.warnings.first?.message.contains("does not belong to PassNT (line 4)") == true)
    }

    @Test func plaintextPasswordWorksWithAWarning() throws {
        let configuration = try map("Username User\nDomain Domain\nPassword Password\nPassNT 5B0B63BF9AEF4235497DB1183CF027AD\n" + Self.base)
        let credential = try #require(configuration.credentials.first)
        #expect(credential.source == .cntlmConfiguration(keyword: "Password", path: "cntlm.conf"))
        #expect(credential.source.isPassword)
        #expect(try authenticates(credential))
        #expect(configuration.warnings.map(\.line) == [3, 4])
        #expect(configuration.warnings[0].message.contains("ntlmproxy hash --user 'Domain\\User'"))
        for warning in configuration.warnings { #expect(!warning.description.contains("Password Password")) }
    }

    @Test func passwordFromOutsideTheFile() throws {
        let text = "Username User\nDomain Domain\n" + Self.base
        let error = try #require(mappingError(text))
        #expect(error.keyPath == "Password")
        #expect(error.message.contains("no password for Domain\\User"))
        let configuration = try map(text, password: ("Password", .passwordEnvironment("NTLMPROXY_PASSWORD")))
        let credential = try #require(configuration.credentials.first)
        #expect(credential.source == .passwordEnvironment("NTLMPROXY_PASSWORD"))
        #expect(try authenticates(credential))
        #expect(try #require(mappingError("Username User\nPassLM 1AD35398BE6565DDB5C4EF70C0593492\n" + Self.base)).line == 2)
    }

    @Test(arguments: [
        ("NTLMv2", NTLMResponseVariant.v2, 0), ("NTLM2SR", .ntlm2sr, 1), ("NT", .nt, 1), ("NTLM", .ntlmWithLM, 1), ("LM", .ntlmWithLM, 2),
    ])
    func authModes(_ mode: String, _ variant: NTLMResponseVariant, _ warnings: Int) throws {
        let configuration = try map(Self.hashBlock + "\nAuth \(mode)\n" + Self.base)
        let forward = try #require(configuration.listeners.first?.forward)
        #expect(forward.ntlmPolicy == variant.policy)
        #expect(configuration.warnings.filter { $0.keyPath == "Auth" }.count == warnings)
        #expect(try authenticates(try #require(configuration.credentials.first), policy: forward.ntlmPolicy))
    }

    @Test func everyRoutingKeyword() throws {
        let text = Self.hashBlock + """

            Proxy       10.0.0.41:8080
            Proxy       proxy2.corp.example 3128
            Proxy       10.0.0.41:8080
            NoProxy     localhost, 127.0.0.*, 10.*
            NoProxy     *.corp.example
            Listen      3128
            Listen      [::1]:3129
            Gateway     yes
            Allow       127.0.0.1
            Deny        10.1.0.0/16
            Allow       10.0.0.0/8
            Deny        0/0
            Header      User-Agent: Mozilla/4.0 (compatible)
            Tunnel      11443:remote.example:443
            Tunnel      127.0.0.1:2222:git.corp.example:22
            SOCKS5Proxy 8010
            SOCKS5User  dave:SocksPa:ss
            Flags       0x06820000
            ISAScannerSize 1024
            Frobnicate  yes
            """
        let configuration = try map(text)
        #expect(configuration.listeners.map(\.name) == ["forward-3128", "forward-3129", "tunnel-11443", "tunnel-2222", "socks5-8010"])
        #expect(configuration.listeners.map(\.address.description) == ["0.0.0.0:3128", "[::1]:3129", "0.0.0.0:11443", "127.0.0.1:2222", "0.0.0.0:8010"])
        #expect(configuration.listeners.map(\.line) == [11, 12, 19, 20, 21])
        let forward = try #require(configuration.listeners.first?.forward)
        #expect(forward.parents.map(\.name) == ["10.0.0.41:8080", "proxy2.corp.example:3128"])
        #expect(forward.parents.allSatisfy { $0.scheme == .ntlm })
        #expect(forward.parents.map(\.line) == [6, 7])
        #expect(forward.credential?.name == "cntlm")
        #expect(forward.noProxy.patterns.map(\.text) == ["localhost", "127.0.0.*", "10.*", "*.corp.example"])
        #expect(forward.noProxy.matches(host: "127.0.0.5", port: 80))
        #expect(forward.access.rules.map(\.action) == [.allow, .deny, .allow, .deny, .deny])
        #expect(forward.access.permits(try IPAddress.parse("10.2.0.1")))
        #expect(!forward.access.permits(try IPAddress.parse("10.1.0.1")))
        #expect(!forward.access.permits(try IPAddress.parse("192.168.1.1")))
        #expect(forward.addHeaders == [HTTPHeaderField(name: "User-Agent", value: "Mozilla/4.0 (compatible)")])
        guard case .tunnel(let tunnel) = configuration.listeners[2].mode, case .socks5(let socks) = configuration.listeners[4].mode else {
            Issue.record("wrong modes")
            return
        }
        #expect(tunnel.targetHost == "remote.example")
        #expect(tunnel.targetPort == 443)
        #expect(tunnel.via == "forward-3128")
        #expect(tunnel.forward.parents == forward.parents)
        #expect(socks.users == [SOCKS5UserConfiguration(name: "dave", password: "SocksPa:ss")])
        #expect(configuration.warnings.map(\.line) == [23, 24, 25, 8, 13, 22])
        #expect(configuration.warnings.map(\.keyPath) == ["Flags", "ISAScannerSize", "Frobnicate", "Proxy", "Gateway", "SOCKS5User"])
        #expect(configuration.warnings[0].description == "cntlm.conf:23: Flags: ignored: ntlmproxy negotiates flags itself")
        #expect(configuration.warnings[2].description == "cntlm.conf:25: Frobnicate: unknown keyword; ignored")
        let everything = configuration.renderSummary() + configuration.warnings.map(\.description).joined()
        CntlmConfigurationTests.expectNoSecrets(everything)
        #expect(!everything.contains("dave:"))
    }

    @Test func loopbackByDefaultAndAWarningWithoutAllowRules() throws {
        let configuration = try map(Self.hashBlock + "\n" + Self.base)
        #expect(configuration.listeners.map(\.address.description) == ["127.0.0.1:3128"])
        let exposed = try map(Self.hashBlock + "\nProxy p:1\nListen 3128\nGateway yes\n")
        #expect(exposed.warnings.contains { $0.keyPath == "Allow" && $0.line == 7 && $0.message.contains("only loopback clients are allowed until you add Allow rules") })
        let socksOnly = try map(Self.hashBlock + "\nProxy p:1\nSOCKS5User a:b\nSOCKS5Proxy 127.0.0.1:1080\n")
        #expect(socksOnly.listeners.map(\.name) == ["socks5-1080"])
    }

    @Test func errorsNameTheLine() throws {
        let cases: [(String, Int?, String, String)] = [
            ("PassNT 5B0B63BF9AEF4235497DB1183CF027AD\nProxy p:1\nListen 1\n", nil, "Username", "no Username line"),
            (Self.hashBlock + "\nListen 1\n", nil, "Proxy", "no Proxy line"),
            (Self.hashBlock + "\nProxy p:1\n", nil, "Listen", "no Listen line"),
            (Self.hashBlock + "\nProxy p:1\nNoProxy intra?.corp\n", 7, "NoProxy", "'?' wildcards are not supported: use '*'"),
            (Self.hashBlock + "\nProxy p:1\nAllow 10.0.0.0/40\n", 7, "Allow", "prefix length in '10.0.0.0/40' is above 32"),
            (Self.hashBlock + "\nProxy p:1\nDeny 10.0.0.300\n", 7, "Deny", "part above 255"),
            (Self.hashBlock + "\nProxy p:1\nHeader Proxy-Authorization: Basic \(CntlmConfigurationTests.secrets[0])\n", 7, "Header", "the proxy manages it"),
            (Self.hashBlock + "\nProxy p:1\nListen 3128\nListen 127.0.0.1:3128\n", 8, "Listen", "address 127.0.0.1:3128 is already used (line 7)"),
            (Self.hashBlock + "\nProxy p:1\nListen 3128\nTunnel 3128:a:1\n", 8, "Tunnel", "already used"),
        ]
        for (text, line, key, fragment) in cases {
            let error = try #require(mappingError(text))
            #expect(error.file == "cntlm.conf")
            #expect(error.line == line, "\(error)")
            #expect(error.keyPath == key, "\(error)")
            #expect(error.message.contains(fragment), "\(error)")
        }
    }

    @Test func loadsAFile() throws {
        let scratch = try ConfigurationScratch()
        let path = try scratch.write("cntlm.conf", Self.hashBlock + "\n" + Self.base)
        let cntlm = try CntlmConfiguration.load(path: path)
        #expect(cntlm.path == path)
        #expect(cntlm.hasSecret)
        let configuration = try cntlm.makeProxyConfiguration()
        #expect(configuration.sourceFile == path)
        #expect(configuration.credentials.first?.source == .cntlmConfiguration(keyword: "PassNT", path: path))
        #expect(throws: ConfigurationError.self) { _ = try CntlmConfiguration.load(path: scratch.directory + "/missing.conf") }
    }
}
