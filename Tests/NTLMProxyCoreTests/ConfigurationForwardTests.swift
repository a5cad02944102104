import NTLM
import Testing
@testable import NTLMProxyCore

/// `mode: forward`, `socks5` and `tunnel` listeners: every key, and every error with its line
/// and key path.
@Suite("Configuration: forward, socks5 and tunnel listeners")
struct ConfigurationForwardTests {
    static let credentials = """
        credentials:
          corp:
            user: CORP\\alice
            password-env: PW
          svc:
            user: CORP\\svc
            password-env: PW
            allow-basic: true
        """
    let environment = ["PW": ConfigurationFixtures.secret]

    func load(_ yaml: String, sourceLocation: SourceLocation = #_sourceLocation) throws -> ProxyConfiguration {
        try ConfigurationScratch().load(yaml, environment: environment)
    }

    func check(_ yaml: String, line: Int?, keyPath: String?, contains fragment: String, sourceLocation: SourceLocation = #_sourceLocation) throws {
        let scratch = try ConfigurationScratch()
        guard let error = scratch.error(yaml, environment: environment, sourceLocation: sourceLocation) else { return }
        #expect(error.file == "ntlmproxy.yaml", sourceLocation: sourceLocation)
        #expect(error.line == line, "\(error)", sourceLocation: sourceLocation)
        #expect(error.keyPath == keyPath, "\(error)", sourceLocation: sourceLocation)
        #expect(error.message.contains(fragment), "\(error)", sourceLocation: sourceLocation)
        #expect(!error.description.contains(ConfigurationFixtures.secret), sourceLocation: sourceLocation)
    }

    /// A forward listener after the credentials (`listeners:` is line 9, the body starts on line 13).
    func forward(_ body: String) -> String {
        "\(Self.credentials)\nlisteners:\n  - name: proxy\n    listen: 3128\n    mode: forward\n" + body
    }

    @Test func everyForwardKey() throws {
        let configuration = try load(forward("""
                credential: corp
                parents:
                  - proxy1.corp:8080
                  - address: "[fd00::1]:3128"
                    name: backup
                    scheme: negotiate
                  - {address: basic.corp:80, scheme: basic, credential: svc}
                  - {address: open.corp:3128, scheme: none}
                rules:
                  - {hosts: "*.git.corp", via: backup}
                  - {hosts: [intranet.corp, 10.0.0.0/8], via: direct}
                  - {hosts: "a.corp, b.corp", via: proxy1.corp:8080}
                no-proxy: localhost, .corp.example 192.168.0.0/16
                access: ["allow 127.0.0.1", "deny 10.1.0.0/16", "allow 10.0.0.0/8"]
                lockout-window: 10m
                parent-retry: 15s
                connect-timeout: 3s
                idle-connections: 8
                idle-timeout: 90
                headers:
                  User-Agent: Mozilla/5.0
                  X-Team: "blue"
                ntlm: v2
                allow-basic: false
            """))
        let forward = try #require(configuration.listeners.first?.forward)
        #expect(forward.credential?.name == "corp")
        #expect(forward.parents.map(\.name) == ["proxy1.corp:8080", "backup", "basic.corp:80", "open.corp:3128"])
        #expect(forward.parents.map(\.scheme) == [.auto, .negotiate, .basic, .none])
        #expect(forward.parents[1].host == "fd00::1")
        #expect(forward.parents[1].port == 3128)
        #expect(forward.parents[1].line == 16)
        #expect(forward.parents[2].credential?.name == "svc")
        #expect(forward.credential(for: forward.parents[0])?.name == "corp")
        #expect(forward.credential(for: forward.parents[3]) == nil)
        #expect(forward.rules.rules.map(\.pattern.text) == ["*.git.corp", "intranet.corp", "10.0.0.0/8", "a.corp", "b.corp"])
        #expect(forward.rules.rules.map(\.target) == [.parent("backup"), .direct, .direct, .parent("proxy1.corp:8080"), .parent("proxy1.corp:8080")])
        #expect(forward.noProxy.patterns.map(\.text) == ["localhost", ".corp.example", "192.168.0.0/16"])
        #expect(forward.access.rules.map(\.action) == [.allow, .deny, .allow])
        #expect(forward.access.permits(try IPAddress.parse("10.2.3.4")))
        #expect(!forward.access.permits(try IPAddress.parse("10.1.3.4")))
        #expect(forward.lockoutWindow == .seconds(600))
        #expect(forward.parentRetryInterval == .seconds(15))
        #expect(forward.connectTimeout == .seconds(3))
        #expect(forward.idleConnectionsPerParent == 8)
        #expect(forward.idleConnectionTimeout == .seconds(90))
        #expect(forward.addHeaders == [HTTPHeaderField(name: "User-Agent", value: "Mozilla/5.0"), HTTPHeaderField(name: "X-Team", value: "blue")])
        #expect(forward.ntlmPolicy == .default)
        #expect(!forward.allowBasic)
        #expect(forward.clientAuthentication == .none)
        // Basic to a parent is legal, and pointed out.
        #expect(configuration.warnings.contains { $0.line == 19 && $0.message.contains("Basic sends CORP\\svc's password in clear text") })
        // Both credentials are used: no "not used" warning.
        #expect(!configuration.warnings.contains { $0.message.contains("not used") })
        let summary = configuration.renderSummary()
        #expect(summary.contains("rules: *.git.corp -> backup, intranet.corp -> direct"))
        #expect(summary.contains("added headers: User-Agent, X-Team (values not shown)"))
        #expect(!summary.contains("Mozilla"))
        #expect(!summary.contains(ConfigurationFixtures.secret))
    }

    @Test func defaults() throws {
        let configuration = try load(forward("    credential: corp\n    parents: [proxy.corp:8080]\n"))
        let forward = try #require(configuration.listeners.first?.forward)
        #expect(forward.lockoutWindow == .seconds(300))
        #expect(forward.access.rules.isEmpty)
        #expect(forward.noProxy.patterns.isEmpty)
        #expect(forward.ntlmPolicy == .default)
        #expect(configuration.listeners.first?.address == ListenAddress(host: "127.0.0.1", port: 3128))
        #expect(configuration.warnings.map(\.keyPath) == ["credentials.svc"])  // svc is unused
    }

    @Test(arguments: [
        ("v2", NTLMResponseVariant.v2), ("NTLMv2", .v2), ("v1", .ntlm2sr), ("ntlm2sr", .ntlm2sr), ("NT", .nt),
        ("NTLM", .ntlmWithLM), ("lm", .ntlmWithLM),
    ])
    func ntlmVariants(_ text: String, _ variant: NTLMResponseVariant) throws {
        let configuration = try load(forward("    credential: corp\n    parents: [p:1]\n    ntlm: \(text)\n"))
        let policy = try #require(configuration.listeners.first?.forward?.ntlmPolicy)
        #expect(policy == variant.policy)
        #expect(NTLMResponseVariant(policy: policy) == variant)
        #expect(configuration.warnings.contains { $0.keyPath == "listeners[0].ntlm" } == variant.isWeak)
    }

    @Test func clientAuthentication() throws {
        let basic = try load(forward("    parents: [p:1]\n    client-auth: basic\n    realm: Corp Proxy\n"))
        #expect(basic.listeners.first?.forward?.clientAuthentication == .basic(realm: "Corp Proxy"))
        let relay = try load(forward("    parents: [p:1]\n    client-auth: relay\n    credential: corp\n"))
        #expect(relay.listeners.first?.forward?.clientAuthentication == .relay)
        #expect(relay.warnings.contains { $0.keyPath == "listeners[0].credential" && $0.message.contains("ignored with client-auth relay") })
        // The credential is unused then.
        #expect(relay.warnings.contains { $0.keyPath == "credentials.corp" })
        let defaultRealm = try load(forward("    parents: [p:1]\n    client-auth: basic\n"))
        #expect(defaultRealm.listeners.first?.forward?.clientAuthentication == .basic(realm: "ntlmproxy"))
        // Clients' own credentials: Kerberos tickets too (auto) unless client-mechanism says not.
        #expect(defaultRealm.listeners.first?.forward?.clientCredentialAuthentication.mode == .auto)
        let ntlmOnly = try load(forward("    parents: [p:1]\n    client-auth: basic\n    client-mechanism: ntlm-only\n"))
        #expect(ntlmOnly.listeners.first?.forward?.clientCredentialAuthentication.mode == .ntlm)
        #expect(throws: ConfigurationError.self) { try load(forward("    parents: [p:1]\n    client-auth: relay\n    client-mechanism: ntlm\n")) }
        #expect(throws: ConfigurationError.self) { try load(forward("    parents: [p:1]\n    client-auth: basic\n    client-mechanism: basic\n")) }
    }

    @Test func warnings() throws {
        let exposed = try load("\(Self.credentials)\nlisteners:\n  - {name: p, listen: 0.0.0.0:3128, mode: forward, credential: corp, parents: [p:1], client-auth: none}\n")
        #expect(exposed.warnings.contains {
            $0.line == 10 && $0.keyPath == "listeners[0].listen" && $0.message.contains("only loopback clients are allowed until you add access rules")
        })
        let basic = try load("\(Self.credentials)\nlisteners:\n  - {name: p, listen: 0.0.0.0:3128, mode: forward, parents: [p:1], client-auth: basic, access: [allow 0/0]}\n")
        #expect(basic.warnings.contains { $0.keyPath == "listeners[0].client-auth" && $0.message.contains("clear text") })
        let open = try load("\(Self.credentials)\nlisteners:\n  - {name: p, listen: 0.0.0.0:3128, mode: forward, credential: corp, parents: [p:1], access: [allow 10.0.0.0/8]}\n")
        #expect(open.warnings.contains { $0.keyPath == "listeners[0].access" && $0.message.contains("as CORP\\alice without authenticating") })
        let loopbackOnly = try load("\(Self.credentials)\nlisteners:\n  - {name: p, listen: 3128, mode: forward, credential: corp, parents: [p:1], access: [allow 127.0.0.0/8]}\n")
        #expect(!loopbackOnly.warnings.contains { $0.keyPath == "listeners[0].access" })
    }

    @Test func forwardErrors() throws {
        try check(forward("    parents: [p:1]\n"), line: 13, keyPath: "listeners[0].parents[0]",
                  contains: "parent \"p:1\" needs a credential for scheme auto: set credential: on the listener or the parent, or scheme: none")
        try check(forward("    credential: nobody\n"), line: 13, keyPath: "listeners[0].credential",
                  contains: "no credential named \"nobody\" (defined: corp, svc)")
        try check(forward("    credential: corp\n    parents: [p:1]\n    rules:\n      - {hosts: x.corp, via: q:2}\n"),
                  line: 16, keyPath: "listeners[0].rules[0].via", contains: "no parent named \"q:2\" (direct, or one of the parents: p:1)")
        try check(forward("    credential: corp\n    parents: [p:1, \"P:1\"]\n"), line: 14, keyPath: "listeners[0].parents[1]",
                  contains: "duplicate parent \"p:1\"")
        try check(forward("    credential: corp\n    parents:\n      - {address: a:1, name: x}\n      - {address: b:1, name: x}\n"),
                  line: 16, keyPath: "listeners[0].parents[1].name", contains: "duplicate parent \"x\" (first on line 15)")
        try check(forward("    credential: corp\n    parents:\n      - {address: a:1, name: direct}\n"),
                  line: 15, keyPath: "listeners[0].parents[0].name", contains: "\"direct\" is reserved")
        try check(forward("    parents: [\"8080\"]\n"), line: 13, keyPath: "listeners[0].parents[0]", contains: "the host is required")
        try check(forward("    parents:\n      - {address: a:1, scheme: kerberos}\n"), line: 14, keyPath: "listeners[0].parents[0].scheme",
                  contains: "unknown scheme \"kerberos\" (one of: auto, ntlm, negotiate, basic, none)")
        try check(forward("    parents:\n      - {adress: a:1}\n"), line: 14, keyPath: "listeners[0].parents[0].adress",
                  contains: "unknown key \"adress\" for a parent; did you mean \"address\"?")
        try check(forward("    credential: corp\n    parents:\n      - {address: a:1, scheme: basic}\n"), line: 15, keyPath: "listeners[0].parents[0]",
                  contains: "scheme basic sends the password: credential \"corp\" must set allow-basic: true")
        try check(forward("    credential: corp\n    parents: [a:1]\n    allow-basic: true\n"), line: 15, keyPath: "listeners[0].allow-basic",
                  contains: "allow-basic sends the password: credential \"corp\" must set allow-basic: true")
        try check(forward("    client-auth: relay\n"), line: 13, keyPath: "listeners[0].client-auth",
                  contains: "client-auth relay needs at least one parent")
        try check(forward("    client-auth: relay\n    parents:\n      - {address: a:1, scheme: basic}\n"), line: 15, keyPath: "listeners[0].parents[0]",
                  contains: "a Basic parent cannot take it")
        try check(forward("    client-auth: kerberos\n"), line: 13, keyPath: "listeners[0].client-auth", contains: "unknown client-auth \"kerberos\"")
        try check(forward("    credential: corp\n    parents: [a:1]\n    realm: x\n"), line: 15, keyPath: "listeners[0].realm",
                  contains: "realm is used only with client-auth: basic")
        try check(forward("    access: [\"allow 10.0.0.0/33\"]\n"), line: 13, keyPath: "listeners[0].access[0]", contains: "prefix length in '10.0.0.0/33' is above 32")
        try check(forward("    access: [\"permit 10.0.0.0/8\"]\n"), line: 13, keyPath: "listeners[0].access[0]", contains: "expected \"allow CIDR\" or \"deny CIDR\"")
        try check(forward("    no-proxy: \"a,,b\"\n"), line: 13, keyPath: "listeners[0].no-proxy", contains: "empty entry")
        try check(forward("    no-proxy: [\"ho st\", \"a.b:99999\"]\n"), line: 13, keyPath: "listeners[0].no-proxy[1]", contains: "invalid port in 'a.b:99999'")
        try check(forward("    rules:\n      - {hosts: \"*.\", via: direct}\n"), line: 14, keyPath: "listeners[0].rules[0].hosts",
                  contains: "invalid host pattern '*.'")
        try check(forward("    rules:\n      - {hosts: a}\n"), line: 14, keyPath: "listeners[0].rules[0].via", contains: "missing required key")
        try check(forward("    ntlm: v3\n"), line: 13, keyPath: "listeners[0].ntlm", contains: "unknown NTLM variant \"v3\"")
        try check(forward("    idle-connections: -1\n"), line: 13, keyPath: "listeners[0].idle-connections", contains: "expected an integer")
        try check(forward("    lockout-window: soon\n"), line: 13, keyPath: "listeners[0].lockout-window", contains: "expected a duration")
        try check(forward("    backend: http://x\n"), line: 13, keyPath: "listeners[0].backend",
                  contains: "unknown key \"backend\" for a forward listener")
    }

    @Test func headerErrorsDoNotShowTheValue() throws {
        try check(forward("    headers:\n      Proxy-Authorization: \"\(ConfigurationFixtures.secret)\"\n"), line: 14,
                  keyPath: "listeners[0].headers.Proxy-Authorization", contains: "cannot be set here: the proxy manages it")
        try check(forward("    headers:\n      \"Bad Name\": x\n"), line: 14, keyPath: "listeners[0].headers.Bad Name", contains: "not a valid HTTP header name")
        try check(forward("    headers:\n      X-Token: \"\(ConfigurationFixtures.secret)\\r\\nX: y\"\n"), line: 14,
                  keyPath: "listeners[0].headers.X-Token", contains: "control character")
        try check(forward("    headers:\n      X-Token: [\"\(ConfigurationFixtures.secret)\"]\n"), line: 14,
                  keyPath: "listeners[0].headers.X-Token", contains: "expected a string, found a list")
    }

    @Test func socks5AndTunnelBorrowAForwardListenerDefinedLater() throws {
        let scratch = try ConfigurationScratch()
        try scratch.write("bob.password", "bobs-secret\n")
        let configuration = try scratch.load("""
            \(Self.credentials)
            listeners:
              - name: socks
                listen: 1080
                mode: socks5
                via: proxy
                users:
                  - {name: bob, password-file: bob.password}
                  - {name: carol, password-env: PW}
                  - {name: dave, password: inline-pass}
              - name: git
                listen: 2222
                mode: tunnel
                via: proxy
                target: git.corp:22
              - name: proxy
                listen: 3128
                mode: forward
                credential: corp
                parents: [p:1]
            """, environment: environment)
        #expect(configuration.listeners.map(\.name) == ["socks", "git", "proxy"])
        guard case .socks5(let socks) = configuration.listeners[0].mode, case .tunnel(let tunnel) = configuration.listeners[1].mode else {
            Issue.record("wrong modes")
            return
        }
        #expect(socks.via == "proxy")
        #expect(socks.forward.parents.map(\.name) == ["p:1"])
        #expect(socks.users.map(\.name) == ["bob", "carol", "dave"])
        #expect(socks.users[0].password == Password("bobs-secret"))
        #expect(socks.users[1].password == Password(ConfigurationFixtures.secret))
        #expect(tunnel.targetHost == "git.corp")
        #expect(tunnel.targetPort == 22)
        #expect(tunnel.forward.credential?.name == "corp")
        #expect(configuration.warnings.contains { $0.keyPath == "listeners[0].users[2].password" })
        let summary = configuration.renderSummary()
        #expect(summary.contains("routing: as forward listener proxy"))
        #expect(summary.contains("SOCKS5 users: bob, carol, dave"))
        #expect(!summary.contains("bobs-secret") && !summary.contains("inline-pass"))
    }

    @Test func socks5AndTunnelWithTheirOwnParents() throws {
        let configuration = try load("""
            \(Self.credentials)
            listeners:
              - {name: socks, listen: 1080, mode: socks5, credential: corp, parents: [p:1]}
              - {name: git, listen: 2222, mode: tunnel, credential: corp, parents: [p:2], target: "[::1]:22"}
            """)
        #expect(configuration.listeners[0].forward?.parents.map(\.name) == ["p:1"])
        guard case .tunnel(let tunnel) = configuration.listeners[1].mode else { return }
        #expect(tunnel.targetHost == "::1")
        #expect(tunnel.via == nil)
    }

    @Test func socks5AndTunnelErrors() throws {
        let head = "\(Self.credentials)\nlisteners:\n"
        try check(head + "  - {name: s, listen: 1080, mode: socks5, via: nowhere}\n", line: 10, keyPath: "listeners[0].via",
                  contains: "no forward listener named \"nowhere\" (there are no forward listeners)")
        try check(head + "  - {name: s, listen: 1080, mode: socks5}\n", line: 10, keyPath: "listeners[0]",
                  contains: "needs via: (the name of a forward listener) or its own parents:")
        try check(head + "  - {name: p, listen: 3128, mode: forward, parents: [p:1], client-auth: relay}\n  - {name: s, listen: 1080, mode: socks5, via: p}\n",
                  line: 11, keyPath: "listeners[1].via", contains: "uses client-auth relay, which a socks5 listener cannot do")
        try check(head + "  - {name: t, listen: 1, mode: tunnel, credential: corp, parents: [p:1]}\n", line: 10, keyPath: "listeners[0].target",
                  contains: "missing required key (HOST:PORT the tunnel leads to)")
        try check(head + "  - {name: t, listen: 1, mode: tunnel, credential: corp, parents: [p:1], target: \"22\"}\n", line: 10,
                  keyPath: "listeners[0].target", contains: "the host is required")
        try check(head + "  - {name: t, listen: 1, mode: tunnel, via: p, parents: [p:1], target: a:1}\n", line: 10,
                  keyPath: "listeners[0].parents", contains: "unknown key \"parents\" for a tunnel listener")
        try check(head + "  - {name: s, listen: 1, mode: socks5, credential: corp, parents: [p:1], tls: {cert: a, key: b}}\n", line: 10,
                  keyPath: "listeners[0].tls", contains: "tls is not available")
        try check(head + "  - {name: g, listen: 1, mode: gateway, backend: http://x, credential: corp}\n  - {name: s, listen: 2, mode: socks5, via: g}\n",
                  line: 11, keyPath: "listeners[1].via", contains: "no forward listener named \"g\"")
        let users = head + "  - name: s\n    listen: 1080\n    mode: socks5\n    credential: corp\n    parents: [p:1]\n    users:\n"
        try check(users + "      - {name: bob}\n", line: 16, keyPath: "listeners[0].users[0]", contains: "missing secret")
        try check(users + "      - {name: bob, password: a, password-env: PW}\n", line: 16, keyPath: "listeners[0].users[0].password-env",
                  contains: "more than one secret source")
        try check(users + "      - {name: bob, password-env: PW}\n      - {name: bob, password-env: PW}\n", line: 17,
                  keyPath: "listeners[0].users[1].name", contains: "duplicate SOCKS5 user \"bob\" (first on line 16)")
        try check(users + "      - {name: bob, password-env: NOPE}\n", line: 16, keyPath: "listeners[0].users[0].password-env",
                  contains: "environment variable NOPE is not set")
        try check(users + "      - {name: bob, nt-hash: x}\n", line: 16, keyPath: "listeners[0].users[0].nt-hash", contains: "unknown key \"nt-hash\"")
    }

    @Test func duplicateListenerNamesAcrossModes() throws {
        try check("""
            \(Self.credentials)
            listeners:
              - {name: p, listen: 3128, mode: forward, credential: corp, parents: [p:1]}
              - {name: p, listen: 1080, mode: socks5, via: p}
            """, line: 11, keyPath: "listeners[1].name", contains: "duplicate listener name \"p\" (first on line 10)")
    }
}
