import Logging
import NTLM
import Testing
@testable import NTLMProxyCore

@Suite("Configuration loading")
struct ConfigurationLoaderTests {
    @Test func fullValidConfiguration() throws {
        let scratch = try ConfigurationScratch()
        try scratch.write("users.txt", ConfigurationFixtures.usersFile)
        try scratch.write("svc.password", ConfigurationFixtures.secret + "\n")
        try scratch.write("server.pem", "-----BEGIN CERTIFICATE-----\n")
        try scratch.write("server.key", "-----BEGIN PRIVATE KEY-----\n")
        try scratch.write("roots.pem", "-----BEGIN CERTIFICATE-----\n")
        let configuration = try scratch.load(
            """
            logging:
              level: debug
            credentials:
              svc:
                user: CORP\\svc
                workstation: LINUXBOX
                password-file: svc.password
                allow-basic: true
              other:
                user: other@corp.example
                nt-hash-env: OTHER_HASH
            listeners:
              - name: app
                listen: 3128
                mode: gateway
                backend: https://intranet.corp.example:8443/app
                credential: svc
                tls-trust-roots: roots.pem
                channel-bindings: false
                auth:
                  allow-basic: true
                  ntlmv1: false
                limits:
                  max-connections: 100
                  idle-timeout: 5m
                  max-header-bytes: 32768
                  request-timeout: 30
              - name: sso
                listen: "[::1]:8443"
                mode: acceptor
                tls:
                  cert: server.pem
                  key: server.key
                users-file: users.txt
                backend: http://127.0.0.1:8080
                identity-header: X-Authenticated-User
                domain: CORP
                allow-ntlmv1: true
                pad-401-to: 1024
              - name: other
                listen: 127.0.0.1:3129
                mode: gateway
                backend: http://legacy.corp.example
                credential: other
            """,
            environment: ["OTHER_HASH": ConfigurationFixtures.passwordHash])

        #expect(configuration.logging.level == .debug)
        #expect(configuration.credentials.map(\.name) == ["svc", "other"])
        let svc = try #require(configuration.credential(named: "svc"))
        #expect(svc.qualifiedUser == "CORP\\svc")
        #expect(svc.workstation == "LINUXBOX")
        #expect(svc.source == .passwordFile(scratch.directory + "/svc.password"))
        #expect(svc.httpCredential.ntlm?.ntHash == NTHash(password: Password(ConfigurationFixtures.secret)))
        #expect(svc.allowBasic)
        let other = try #require(configuration.credential(named: "other"))
        #expect(other.httpCredential.domain == "corp.example")
        #expect(other.httpCredential.ntlm?.ntHash == (try NTHash(hex: ConfigurationFixtures.passwordHash)))
        #expect(other.source == .ntHashEnvironment("OTHER_HASH"))

        #expect(configuration.listeners.count == 3)
        let app = configuration.listeners[0]
        #expect(app.name == "app")
        #expect(app.address == ListenAddress(host: "127.0.0.1", port: 3128))
        #expect(app.tls == nil)
        #expect(app.limits == ListenerLimits(maxConnections: 100, idleTimeout: .seconds(300), maxHeaderBytes: 32768, requestTimeout: .seconds(30)))
        let gateway = try #require(app.gateway)
        #expect(gateway.backend == BackendURL(scheme: .https, host: "intranet.corp.example", port: 8443, path: "/app"))
        #expect(gateway.credential.name == "svc")
        #expect(gateway.trustRootsFile == scratch.directory + "/roots.pem")
        #expect(!gateway.channelBindings)
        #expect(gateway.allowBasic)
        #expect(!gateway.allowNTLMv1)

        let sso = configuration.listeners[1]
        #expect(sso.address == ListenAddress(host: "::1", port: 8443))
        #expect(sso.address.description == "[::1]:8443")
        #expect(sso.tls == ListenerTLSConfiguration(certificateFile: scratch.directory + "/server.pem", privateKeyFile: scratch.directory + "/server.key"))
        #expect(sso.limits == .default)
        let acceptor = try #require(sso.acceptor)
        #expect(acceptor.users.count == 2)
        #expect(acceptor.users.entry(user: "bob", domain: "CORP") != nil)  // default domain is the configured one
        #expect(acceptor.backend == BackendURL(scheme: .http, host: "127.0.0.1", port: 8080))
        #expect(acceptor.identityHeader == "X-Authenticated-User")
        #expect(acceptor.domain == "CORP")
        #expect(acceptor.basic == .automatic)
        #expect(acceptor.offersBasic(listenerHasTLS: sso.tls != nil))
        #expect(acceptor.allowNTLMv1)
        #expect(acceptor.pad401To == 1024)
        #expect(acceptor.acceptorPolicy.netbiosDomain == "CORP")
        #expect(acceptor.acceptorPolicy.allowNTLMv1)

        #expect(configuration.listeners[2].gateway?.backend.port == 80)
        #expect(configuration.warnings.isEmpty, "\(configuration.warnings)")
    }

    @Test func defaultsAreSafe() throws {
        let scratch = try ConfigurationScratch()
        try scratch.write("users.txt", ConfigurationFixtures.usersFile)
        let configuration = try scratch.load(
            """
            listeners:
              - name: sso
                listen: 8080
                mode: acceptor
                users-file: users.txt
            """)
        #expect(configuration.logging.level == .info)
        let listener = configuration.listeners[0]
        #expect(listener.address.host == "127.0.0.1")
        #expect(listener.address.isLoopback)
        #expect(listener.limits.maxHeaderBytes == 128 * 1024)
        let acceptor = try #require(listener.acceptor)
        #expect(acceptor.backend == nil)
        #expect(acceptor.identityHeader == "X-Remote-User")
        #expect(acceptor.domain == "NTLMPROXY")
        #expect(!acceptor.allowNTLMv1)
        #expect(acceptor.pad401To == 0)
        #expect(!acceptor.offersBasic(listenerHasTLS: false))
        #expect(acceptor.users.entry(user: "bob", domain: "NTLMPROXY") != nil)
        #expect(acceptor.users.entry(user: "alice", domain: "CORP") != nil)
    }

    @Test func explicitBasicSettingOverridesTheTLSDefault() throws {
        let scratch = try ConfigurationScratch()
        try scratch.write("users.txt", ConfigurationFixtures.usersFile)
        let enabled = try scratch.load(
            """
            listeners:
              - {name: a, listen: 8080, mode: acceptor, users-file: users.txt, allow-basic: true}
              - {name: b, listen: 8081, mode: acceptor, users-file: users.txt, allow-basic: false}
            """)
        #expect(enabled.listeners[0].acceptor?.offersBasic(listenerHasTLS: false) == true)
        #expect(enabled.listeners[1].acceptor?.offersBasic(listenerHasTLS: true) == false)
        #expect(enabled.warnings.contains { $0.keyPath == "listeners[0].allow-basic" && $0.message.contains("clear text") })
    }

    @Test func gatewayDefaults() throws {
        let scratch = try ConfigurationScratch()
        let configuration = try scratch.load(
            """
            credentials:
              svc: {user: CORP\\svc, password-env: NTLMPROXY_PASSWORD}
            listeners:
              - name: app
                listen: localhost:3128
                mode: gateway
                backend: https://intranet
                credential: svc
            """,
            environment: ["NTLMPROXY_PASSWORD": ConfigurationFixtures.secret])
        let gateway = try #require(configuration.listeners[0].gateway)
        #expect(gateway.channelBindings)
        #expect(!gateway.allowBasic)
        #expect(!gateway.allowNTLMv1)
        #expect(gateway.trustRootsFile == nil)
        #expect(gateway.backend.path == "/")
        #expect(gateway.credential.source == .passwordEnvironment("NTLMPROXY_PASSWORD"))
        #expect(gateway.credential.httpCredential.ntlm?.ntHash == NTHash(password: Password(ConfigurationFixtures.secret)))
        #expect(configuration.listeners[0].address.isLoopback)
    }

    @Test func warningsForRiskyChoices() throws {
        let scratch = try ConfigurationScratch()
        try scratch.write("shared.password", "pw\n", permissions: 0o644)
        let configuration = try scratch.load(
            """
            credentials:
              inline:
                user: CORP\\svc
                password: "\(ConfigurationFixtures.secret)"
              shared:
                user: CORP\\other
                password-file: shared.password
            listeners:
              - name: app
                listen: 0.0.0.0:3128
                mode: gateway
                backend: http://intranet
                credential: inline
            """)
        let messages = configuration.warnings.map(\.description)
        #expect(messages.contains { $0.hasPrefix("ntlmproxy.yaml:4: credentials.inline.password: password written in the configuration file") })
        #expect(messages.contains { $0.contains("credentials.shared.password-file") && $0.contains("readable by other users") })
        #expect(messages.contains { $0.hasPrefix("ntlmproxy.yaml:5: credentials.shared: credential is not used") })
        #expect(messages.contains { $0.hasPrefix("ntlmproxy.yaml:10: listeners[0].listen: gateway listens on 0.0.0.0:3128, not loopback") })
    }

    @Test func passwordAndHashSources() throws {
        let scratch = try ConfigurationScratch()
        try scratch.write("pw.txt", ConfigurationFixtures.secret + "\r\nsecond line ignored\n")
        try scratch.write("hash.txt", ConfigurationFixtures.passwordHash.uppercased() + "\n")
        let configuration = try scratch.load(
            """
            credentials:
              a: {user: CORP\\a, password: "\(ConfigurationFixtures.secret)"}
              b: {user: CORP\\b, password-env: PW}
              c: {user: CORP\\c, password-file: pw.txt}
              d: {user: CORP\\d, nt-hash: \(ConfigurationFixtures.passwordHash)}
              e: {user: CORP\\e, nt-hash-env: HASH}
              f: {user: CORP\\f, nt-hash-file: hash.txt}
            listeners:
              - {name: g, listen: 1, mode: gateway, backend: "http://x", credential: a}
            """,
            environment: ["PW": ConfigurationFixtures.secret, "HASH": ConfigurationFixtures.passwordHash])
        let secretHash = NTHash(password: Password(ConfigurationFixtures.secret))
        let passwordHash = try NTHash(hex: ConfigurationFixtures.passwordHash)
        let hashes = configuration.credentials.map(\.httpCredential.ntlm?.ntHash)
        #expect(hashes == [secretHash, secretHash, secretHash, passwordHash, passwordHash, passwordHash])
        #expect(configuration.credentials.map(\.source) == [
            .inlinePassword, .passwordEnvironment("PW"), .passwordFile(scratch.directory + "/pw.txt"),
            .inlineNTHash, .ntHashEnvironment("HASH"), .ntHashFile(scratch.directory + "/hash.txt"),
        ])
    }

    @Test func credentialHelperForCommandLineModes() throws {
        let scratch = try ConfigurationScratch()
        let file = try scratch.write("pw", ConfigurationFixtures.secret + "\n")
        let fromFile = try ConfigurationLoader.credential(userName: "CORP\\svc", passwordFile: file, lookup: { _ in nil })
        #expect(fromFile.source == .passwordFile(file))
        #expect(fromFile.qualifiedUser == "CORP\\svc")
        #expect(fromFile.httpCredential.ntlm?.ntHash == NTHash(password: Password(ConfigurationFixtures.secret)))

        let fromEnvironment = try ConfigurationLoader.credential(
            userName: "svc@corp", passwordFile: nil, allowBasic: true, lookup: { $0 == "NTLMPROXY_PASSWORD" ? "pw" : nil })
        #expect(fromEnvironment.source == .passwordEnvironment("NTLMPROXY_PASSWORD"))
        #expect(fromEnvironment.allowBasic)

        #expect(throws: ConfigurationError.self) {
            try ConfigurationLoader.credential(userName: "CORP\\svc", passwordFile: nil, lookup: { _ in nil })
        }
        #expect(throws: ConfigurationError.self) {
            try ConfigurationLoader.credential(userName: "CORP\\svc", passwordFile: scratch.directory + "/missing", lookup: { _ in nil })
        }
    }

    @Test func oneListenerConfigurationFromFlags() throws {
        let credential = try ConfigurationLoader.credential(userName: "CORP\\svc", passwordFile: nil, lookup: { _ in "pw" })
        let listener = ListenerConfiguration(
            name: "gateway", address: try ListenAddress(parsing: "3128"),
            mode: .gateway(GatewayConfiguration(backend: try BackendURL(parsing: "https://intranet/"), credential: credential)))
        let configuration = ProxyConfiguration(credentials: [credential], listeners: [listener])
        #expect(configuration.listeners[0].address.description == "127.0.0.1:3128")
        #expect(configuration.renderSummary().contains("gateway: gateway on 127.0.0.1:3128 (loopback), TLS off"))
    }

    @Test func listenAddresses() throws {
        #expect(try ListenAddress(parsing: "8080") == ListenAddress(host: "127.0.0.1", port: 8080))
        #expect(try ListenAddress(parsing: ":8080") == ListenAddress(host: "127.0.0.1", port: 8080))
        #expect(try ListenAddress(parsing: "0.0.0.0:80") == ListenAddress(host: "0.0.0.0", port: 80))
        #expect(try ListenAddress(parsing: "[::]:443") == ListenAddress(host: "::", port: 443))
        #expect(try ListenAddress(parsing: "[::1]:443").isLoopback)
        #expect(try !ListenAddress(parsing: "[::]:443").isLoopback)
        #expect(throws: ListenAddress.ParseError.malformed) { try ListenAddress(parsing: "::1:80") }
        #expect(throws: ListenAddress.ParseError.malformed) { try ListenAddress(parsing: "host:") }
        #expect(throws: ListenAddress.ParseError.portOutOfRange("0")) { try ListenAddress(parsing: "0") }
        #expect(throws: ListenAddress.ParseError.portOutOfRange("65536")) { try ListenAddress(parsing: "65536") }
        #expect(throws: ListenAddress.ParseError.badHost("bad host")) { try ListenAddress(parsing: "bad host:80") }
    }

    @Test func backendURLs() throws {
        #expect(try BackendURL(parsing: "HTTPS://Intranet.Example/") == BackendURL(scheme: .https, host: "intranet.example", port: 443, path: "/"))
        #expect(try BackendURL(parsing: "http://[::1]:8080/x").description == "http://[::1]:8080/x")
        #expect(try BackendURL(parsing: "http://h:80/a/b").description == "http://h/a/b")
        #expect(throws: BackendURL.ParseError.notAURL("htp:/x")) { try BackendURL(parsing: "htp:/x") }
        #expect(throws: BackendURL.ParseError.unsupportedScheme("ftp")) { try BackendURL(parsing: "ftp://h") }
        #expect(throws: BackendURL.ParseError.userInfoNotAllowed) { try BackendURL(parsing: "http://u:\(ConfigurationFixtures.secret)@h/") }
        #expect(throws: BackendURL.ParseError.badPort("99999")) { try BackendURL(parsing: "http://h:99999") }
        #expect(throws: BackendURL.ParseError.queryNotAllowed) { try BackendURL(parsing: "http://h/?q") }
        #expect(BackendURL.redacted("htp://user:\(ConfigurationFixtures.secret)@h") == "htp://<redacted>@h")
    }

    @Test func durations() {
        #expect(ConfigurationDuration.parse("30") == .seconds(30))
        #expect(ConfigurationDuration.parse("30s") == .seconds(30))
        #expect(ConfigurationDuration.parse("5m") == .seconds(300))
        #expect(ConfigurationDuration.parse("1h") == .seconds(3600))
        #expect(ConfigurationDuration.parse("250ms") == .milliseconds(250))
        #expect(ConfigurationDuration.parse("5 minutes") == nil)
        #expect(ConfigurationDuration.parse("-5") == nil)
        #expect(ConfigurationDuration.format(.seconds(300)) == "5m")
        #expect(ConfigurationDuration.format(.seconds(90)) == "90s")
        #expect(ConfigurationDuration.format(.milliseconds(250)) == "250ms")
    }

    @Test func relativePathsResolveAgainstTheConfigurationFile() throws {
        let scratch = try ConfigurationScratch()
        try scratch.write("users.txt", ConfigurationFixtures.usersFile)
        let path = try scratch.write("ntlmproxy.yaml", "listeners:\n  - {name: a, listen: 8080, mode: acceptor, users-file: users.txt}\n")
        let configuration = try ConfigurationLoader(environment: { _ in nil }).load(path: path)
        #expect(configuration.sourceFile == path)
        #expect(configuration.listeners[0].acceptor?.usersFile == scratch.directory + "/users.txt")
    }

    @Test func documentedExampleIsValid() throws {
        // Tests/NTLMProxyCoreTests/<this file> -> the package root -> docs/ntlmproxy.example.yaml
        var root = "\(#filePath)"
        for _ in 0..<3 { root = ConfigurationFiles.directory(of: root) }
        let configuration = try ConfigurationLoader(environment: { _ in nil }).load(path: root + "/docs/ntlmproxy.example.yaml")
        #expect(configuration.listeners.map(\.name) == ["intranet", "sso", "intranet-sso", "whoami", "proxy", "socks", "git"])
        #expect(configuration.listeners[4].forward?.parents.map(\.name) == ["proxy1.example.com:8080", "proxy2"])
        let passThrough = try #require(configuration.listeners[2].passThrough)
        #expect(passThrough.backend.description == "https://iis.example.com/")
        #expect(passThrough.publicPaths == ["/static/", "/favicon.ico"])
        #expect(passThrough.pins == PinLimits(maxPins: 1024, idleTimeout: .seconds(60), maxRequests: 0, maxLifetime: .seconds(8 * 3600)))
        #expect(configuration.listeners[1].acceptor?.users.count == 3)
        #expect(configuration.listeners[1].acceptor?.users.entry(user: "carol", domain: "EXAMPLE")?.ntHash == NTHash(password: "Example-Only-Passw0rd"))
    }
}
