import Dispatch
import NIOConcurrencyHelpers
import NIOHTTP1
import NTLM
import NTLMHTTP
import Testing
@testable import NTLMProxyCore

/// The value types of pass-through mode: what an `Authorization` says about the handshake,
/// pin limits and ids, public paths, and the `mode: pass-through` configuration.
@Suite("Pass-through values")
struct PassThroughUnitTests {
    // MARK: RelayedAuthorization

    static func authorization(_ value: String?) -> RelayedAuthorization {
        var headers = HTTPHeaders()
        if let value { headers.add(name: "Authorization", value: value) }
        return RelayedAuthorization(headers)
    }

    /// A real Type 1, Type 2 and Type 3 for `user` in `domain`.
    static func ntlmMessages(user: String = "alice", domain: String = "NTLMTEST") throws -> (type1: [UInt8], type3: [UInt8]) {
        var initiator = NTLMInitiator(credentials: NTLMCredentials(user: user, domain: domain, password: "Alice-Pass1"))
        let type1 = initiator.negotiate()
        var acceptor = NTLMAcceptor(policy: NTLMAcceptorPolicy(netbiosDomain: "NTLMTEST"))
        let type2 = try acceptor.challenge(negotiate: type1)
        return (type1, try initiator.authenticate(challenge: type2))
    }

    @Test func noneAndPerRequestSchemesDoNotBind() {
        for value in [nil, "Basic YWxpY2U6c2VjcmV0", "Bearer abc.def.ghi", "Digest username=\"a\"", "", "   "] {
            let parsed = Self.authorization(value)
            #expect(!parsed.bindsConnection, "\(value ?? "nil")")
            #expect(parsed.leg == .none, "\(value ?? "nil")")
        }
    }

    @Test func rawNTLMLegs() throws {
        let (type1, type3) = try Self.ntlmMessages()
        let negotiate = Self.authorization("NTLM " + Base64.encode(type1))
        #expect(negotiate.bindsConnection)
        #expect(negotiate.leg == .negotiate)
        #expect(Self.authorization("ntlm " + Base64.encode(type1)).leg == .negotiate, "schemes are case-insensitive")
        let authenticate = Self.authorization("NTLM " + Base64.encode(type3))
        #expect(authenticate.bindsConnection)
        #expect(authenticate.leg == .authenticate(user: #"NTLMTEST\alice"#))
        let noDomain = try Self.ntlmMessages(user: "bob", domain: "")
        #expect(Self.authorization("NTLM " + Base64.encode(noDomain.type3)).leg == .authenticate(user: "bob"))
        // Some clients send raw NTLMSSP under Negotiate.
        #expect(Self.authorization("Negotiate " + Base64.encode(type1)).leg == .negotiate)
        #expect(Self.authorization("Negotiate " + Base64.encode(type3)).leg == .authenticate(user: #"NTLMTEST\alice"#))
        // A Type 2 (a client never sends one) is nothing we name.
        var acceptor = NTLMAcceptor(policy: NTLMAcceptorPolicy(netbiosDomain: "NTLMTEST"))
        let type2 = try acceptor.challenge(negotiate: type1)
        #expect(Self.authorization("NTLM " + Base64.encode(type2)).leg == .opaque)
    }

    /// Whichever `Authorization` field carries NTLM binds the connection, even after a Basic one.
    @Test func anNTLMFieldAmongSeveralBinds() throws {
        let (type1, _) = try Self.ntlmMessages()
        var headers = HTTPHeaders()
        headers.add(name: "Authorization", value: "Basic YWxpY2U6c2VjcmV0")
        headers.add(name: "Authorization", value: "NTLM " + Base64.encode(type1))
        let parsed = RelayedAuthorization(headers)
        #expect(parsed.bindsConnection)
        #expect(parsed.leg == .negotiate)
    }

    @Test func spnegoWrappedNTLMLegs() throws {
        var initiator = SPNEGOInitiator(ntlm: NTLMInitiator(credentials: NTLMCredentials(user: "alice", domain: "NTLMTEST", password: "Alice-Pass1")))
        let initial = try initiator.initialToken()
        let negotiate = Self.authorization("Negotiate " + Base64.encode(initial))
        #expect(negotiate.bindsConnection)
        #expect(negotiate.leg == .negotiate)
        var acceptor = SPNEGOAcceptor(ntlm: NTLMAcceptor(policy: NTLMAcceptorPolicy(netbiosDomain: "NTLMTEST")))
        let challenge = try acceptor.challenge(initial)
        let response = try #require(try initiator.step(challenge))
        #expect(Self.authorization("Negotiate " + Base64.encode(response)).leg == .authenticate(user: #"NTLMTEST\alice"#))
        // A NegTokenInit offering NTLM without an optimistic token still starts a handshake.
        let bare: [UInt8] = [
            0x60, 0x1C, 0x06, 0x06, 0x2B, 0x06, 0x01, 0x05, 0x05, 0x02,
            0xA0, 0x12, 0x30, 0x10, 0xA0, 0x0E, 0x30, 0x0C, 0x06, 0x0A, 0x2B, 0x06, 0x01, 0x04, 0x01, 0x82, 0x37, 0x02, 0x02, 0x0A,
        ]
        #expect((try? SPNEGOToken(derEncoded: bare)) != nil, "the hand-made token is valid SPNEGO")
        let initWithoutToken = Self.authorization("Negotiate " + Base64.encode(bare))
        #expect(initWithoutToken.bindsConnection)
        #expect(initWithoutToken.leg == .negotiate)
        // The acceptor's own answer (a NegTokenResp with a Type 2) is not a client identity.
        #expect(Self.authorization("Negotiate " + Base64.encode(challenge)).leg == .opaque)
    }

    @Test func kerberosAndGarbageAreOpaqueButStillBind() throws {
        let cases = [
            "Negotiate YIIBxwYJKoZIhvcSAQICAQBuggG2MIIBsqADAgEFoQMCAQ6iBwMFACAAAACj",  // a Kerberos AP-REQ's start
            "NTLM a",  // token68, but no base64
            "NTLM !!!not-base64!!!",  // not even token68
            "NTLM " + Base64.encode(Array("NTLMSSP".utf8) + [0]),  // signature only
            "NTLM " + Base64.encode(Array("NTLMSSX".utf8) + [0, 1, 0, 0, 0]),
            "NTLM " + Base64.encode([UInt8](repeating: 0xFF, count: 64)),
            "Negotiate " + Base64.encode([0x60, 0x80, 0x06]),
            "Negotiate " + Base64.encode([0xA1, 0x03, 0x30, 0x01, 0x00]),
        ]
        for value in cases {
            let parsed = Self.authorization(value)
            #expect(parsed.bindsConnection, "\(value)")
            #expect(parsed.leg == .opaque, "\(value)")
        }
        // A scheme without a token.
        let bare = Self.authorization("NTLM")
        #expect(bare.bindsConnection)
        #expect(bare.leg == .opaque)
    }

    /// Truncated and mutated tokens never trap, and a truncated Type 3 never names a user.
    @Test func truncatedAndMutatedTokensNeverTrap() throws {
        let (type1, type3) = try Self.ntlmMessages()
        var spnegoInitiator = SPNEGOInitiator(ntlm: NTLMInitiator(credentials: NTLMCredentials(user: "alice", domain: "NTLMTEST", password: "Alice-Pass1")))
        let initial = try spnegoInitiator.initialToken()
        for token in [type1, type3, initial] {
            for length in 0..<token.count {
                let prefix = Array(token[..<length])
                for scheme in ["NTLM", "Negotiate"] {
                    let parsed = Self.authorization("\(scheme) " + Base64.encode(prefix))
                    #expect(parsed.bindsConnection)
                    if length < 12 { #expect(parsed.leg == .opaque || parsed.leg == .negotiate && scheme == "Negotiate") }
                }
            }
        }
        // Type 3 prefixes shorter than its fixed header never name a user.
        for length in 0..<64 {
            #expect(Self.authorization("NTLM " + Base64.encode(Array(type3[..<length]))).leg == .opaque)
        }
        var generator = SystemRandomNumberGenerator()
        for _ in 0..<2000 {
            var mutated = Bool.random(using: &generator) ? type3 : initial
            for _ in 0..<Int.random(in: 1...8, using: &generator) {
                let index = Int.random(in: 0..<mutated.count, using: &generator)
                mutated[index] = UInt8.random(in: 0...255, using: &generator)
            }
            _ = Self.authorization("NTLM " + Base64.encode(mutated))
            _ = Self.authorization("Negotiate " + Base64.encode(mutated))
            let random = (0..<Int.random(in: 0...300, using: &generator)).map { _ in UInt8.random(in: 0...255, using: &generator) }
            _ = Self.authorization("NTLM " + Base64.encode(Array("NTLMSSP".utf8) + [0, 3, 0, 0, 0] + random))
            _ = Self.authorization("Negotiate " + Base64.encode(random))
        }
    }

    // MARK: PinLifecycle

    @Test func pinLifecycleUnlimited() {
        var lifecycle = PinLifecycle(limits: PinLimits(maxRequests: 0, maxLifetime: nil))
        for _ in 0..<10_000 { lifecycle.requestStarted() }
        #expect(lifecycle.requests == 10_000)
        #expect(lifecycle.limitReached(now: lifecycle.opened + .seconds(1_000_000), midHandshake: false) == nil)
    }

    @Test func pinLifecycleMaxRequests() {
        var lifecycle = PinLifecycle(limits: PinLimits(maxRequests: 3, maxLifetime: nil))
        lifecycle.requestStarted()
        lifecycle.requestStarted()
        #expect(lifecycle.limitReached(now: lifecycle.opened, midHandshake: false) == nil)
        lifecycle.requestStarted()
        #expect(lifecycle.limitReached(now: lifecycle.opened, midHandshake: false) == .maxRequests)
        #expect(lifecycle.limitReached(now: lifecycle.opened, midHandshake: true) == nil, "a 401 answering a Type 1 never ends the pin")
        lifecycle.requestStarted()
        #expect(lifecycle.limitReached(now: lifecycle.opened, midHandshake: false) == .maxRequests)
    }

    @Test func pinLifecycleMaxLifetime() {
        let opened = ContinuousClock.now
        var lifecycle = PinLifecycle(limits: PinLimits(maxRequests: 0, maxLifetime: .seconds(10)), opened: opened)
        lifecycle.requestStarted()
        #expect(lifecycle.limitReached(now: opened + .seconds(9), midHandshake: false) == nil)
        #expect(lifecycle.limitReached(now: opened + .seconds(10), midHandshake: false) == .maxLifetime)
        #expect(lifecycle.limitReached(now: opened + .seconds(11), midHandshake: true) == nil)
        let both = PinLifecycle(limits: PinLimits(maxRequests: 1, maxLifetime: .seconds(1)), opened: opened)
        var used = both
        used.requestStarted()
        #expect(used.limitReached(now: opened + .seconds(5), midHandshake: false) != nil)
    }

    // MARK: PinRegistry

    @Test func pinRegistryBoundAndIDs() {
        let registry = PinRegistry(maxPins: 2)
        #expect(registry.open() == 1)
        #expect(registry.open() == 2)
        #expect(registry.open() == nil)
        #expect(registry.openPins == 2)
        registry.close()
        #expect(registry.openPins == 1)
        #expect(registry.open() == 3, "ids are never reused")
        #expect(registry.open() == nil)
        for _ in 0..<5 { registry.close() }
        #expect(registry.openPins == 0, "never below zero")
        #expect(registry.open() == 4)
        #expect(registry.open() == 5)
        #expect(registry.open() == nil, "an extra close does not raise the bound")
    }

    @Test func pinRegistryUnderConcurrency() {
        let registry = PinRegistry(maxPins: 100)
        let ids = NIOLockedValueBox<[UInt64]>([])
        DispatchQueue.concurrentPerform(iterations: 1000) { _ in
            if let id = registry.open() { ids.withLockedValue { $0.append(id) } }
        }
        let opened = ids.withLockedValue { $0 }
        #expect(opened.count == 100)
        #expect(Set(opened).count == 100)
        #expect(registry.openPins == 100)
    }

    // MARK: Public paths

    @Test func publicPathPrefixes() throws {
        var configuration = PassThroughConfiguration(backend: try BackendURL(parsing: "http://iis.corp.example"))
        #expect(!configuration.isPublic("/"))
        #expect(!configuration.isPublic("/static/a.css"))
        configuration.publicPaths = ["/static/", "/health"]
        #expect(configuration.isPublic("/static/a.css"))
        #expect(configuration.isPublic("/static/"))
        #expect(configuration.isPublic("/static/a.css?v=1"))
        #expect(configuration.isPublic("/health"))
        #expect(configuration.isPublic("/health?probe=1"))
        #expect(!configuration.isPublic("/static"))
        #expect(!configuration.isPublic("/Static/a.css"), "paths are case-sensitive")
        #expect(!configuration.isPublic("/app?next=/static/a.css"), "the query is not the path")
        #expect(!configuration.isPublic("/app/static/a.css"))
        #expect(!configuration.isPublic("http://iis.corp.example/static/a.css"))
        #expect(!configuration.isPublic(""))
    }

    // MARK: Configuration

    func load(_ yaml: String, setup: (ConfigurationScratch) throws -> Void = { _ in }) throws -> (ProxyConfiguration, ConfigurationScratch) {
        let scratch = try ConfigurationScratch()
        try setup(scratch)
        return (try scratch.load(yaml), scratch)
    }

    @Test func everyPassThroughKey() throws {
        let (configuration, scratch) = try load(
            """
            listeners:
              - name: app
                listen: 8080
                mode: pass-through
                backend: https://iis.corp.example:8443/app
                tls-trust-roots: roots.pem
                public-paths: [/static/, /health]
                pins:
                  max: 200
                  idle-timeout: 30s
                  max-requests: 1000
                  max-lifetime: 2h
                pad-401-to: 1500
            """) { try $0.write("roots.pem", "-----BEGIN CERTIFICATE-----\n") }
        let listener = try #require(configuration.listeners.first)
        #expect(listener.mode.name == "pass-through")
        let passThrough = try #require(listener.passThrough)
        #expect(passThrough.backend == BackendURL(scheme: .https, host: "iis.corp.example", port: 8443, path: "/app"))
        #expect(passThrough.trustRootsFile == scratch.directory + "/roots.pem")
        #expect(passThrough.publicPaths == ["/static/", "/health"])
        #expect(passThrough.pins == PinLimits(maxPins: 200, idleTimeout: .seconds(30), maxRequests: 1000, maxLifetime: .seconds(7200)))
        #expect(passThrough.pad401To == 1500)
        #expect(listener.idleTimeout == .seconds(30), "an idle client connection is an idle pin")
        #expect(configuration.warnings.isEmpty, "\(configuration.warnings)")
    }

    @Test func passThroughDefaultsAndSpellings() throws {
        for mode in ["pass-through", "passthrough", "Pass-Through"] {
            let (configuration, _) = try load("listeners:\n  - {name: app, listen: 8080, mode: \(mode), backend: \"http://iis.corp.example\"}\n")
            let listener = try #require(configuration.listeners.first)
            #expect(listener.mode.name == "pass-through")
            let passThrough = try #require(listener.passThrough)
            #expect(passThrough.backend == BackendURL(scheme: .http, host: "iis.corp.example", port: 80, path: ""))
            #expect(passThrough.trustRootsFile == nil)
            #expect(passThrough.publicPaths.isEmpty)
            #expect(passThrough.pins == .default)
            #expect(passThrough.pad401To == 0)
            #expect(listener.idleTimeout == PinLimits.defaultIdleTimeout)
        }
        for unlimited in ["unlimited", "0"] {
            let (configuration, _) = try load("listeners:\n  - {name: app, listen: 8080, mode: pass-through, backend: \"http://iis\", pins: {max-lifetime: \(unlimited)}}\n")
            #expect(configuration.listeners.first?.passThrough?.pins.maxLifetime == nil)
        }
    }

    @Test func passThroughWarnings() throws {
        let (configuration, _) = try load(
            """
            listeners:
              - name: app
                listen: 8080
                mode: pass-through
                backend: http://iis.corp.example
                tls-trust-roots: roots.pem
                public-paths: [/]
            """) { try $0.write("roots.pem", "x") }
        let messages = configuration.warnings.map { "\($0)" }
        #expect(messages.contains { $0.contains("ignored: the backend is not https") }, "\(messages)")
        #expect(messages.contains { $0.contains("every path is public") }, "\(messages)")
    }

    func check(_ yaml: String, line: Int?, keyPath: String?, contains fragment: String, sourceLocation: SourceLocation = #_sourceLocation) throws {
        let scratch = try ConfigurationScratch()
        guard let error = scratch.error(yaml, sourceLocation: sourceLocation) else { return }
        #expect(error.line == line, "\(error)", sourceLocation: sourceLocation)
        #expect(error.keyPath == keyPath, "\(error)", sourceLocation: sourceLocation)
        #expect(error.message.contains(fragment), "\(error)", sourceLocation: sourceLocation)
    }

    /// A pass-through listener (`backend` on line 5, extra keys from line 6).
    func passThrough(_ extra: String, backend: Bool = true) -> String {
        "listeners:\n  - name: app\n    listen: 8080\n    mode: pass-through\n" + (backend ? "    backend: http://iis.corp.example\n" : "") + extra
    }

    @Test func passThroughErrors() throws {
        try check(passThrough("", backend: false), line: 2, keyPath: "listeners[0].backend", contains: "missing required key")
        for bad in ["static/", "/a?b=1", "\"/a b\""] {
            try check(passThrough("    public-paths:\n      - /ok/\n      - \(bad)\n"), line: 8, keyPath: "listeners[0].public-paths[1]", contains: "a public path is a path prefix starting with /")
        }
        try check(passThrough("    public-paths: /static/\n"), line: 6, keyPath: "listeners[0].public-paths", contains: "expected a list")
        try check(passThrough("    pin:\n      max: 3\n"), line: 6, keyPath: "listeners[0].pin", contains: "unknown key \"pin\"")
        try check(passThrough("    pins:\n      maxx: 3\n"), line: 7, keyPath: "listeners[0].pins.maxx", contains: "unknown key \"maxx\"; did you mean \"max\"?")
        try check(passThrough("    pins:\n      max: 0\n"), line: 7, keyPath: "listeners[0].pins.max", contains: "out of range")
        try check(passThrough("    pins:\n      idle-timeout: soon\n"), line: 7, keyPath: "listeners[0].pins.idle-timeout", contains: "expected a duration")
        try check(passThrough("    pins:\n      max-lifetime: forever\n"), line: 7, keyPath: "listeners[0].pins.max-lifetime", contains: "expected a duration")
        try check(passThrough("    pad-401-to: lots\n"), line: 6, keyPath: "listeners[0].pad-401-to", contains: "expected an integer")
        try check(passThrough("    tls-trust-roots: missing.pem\n"), line: 6, keyPath: "listeners[0].tls-trust-roots", contains: "trust roots file")
        try check(passThrough("    credential: svc\n"), line: 6, keyPath: "listeners[0].credential", contains: "unknown key \"credential\"")
        try check("listeners:\n  - {name: app, listen: 8080, mode: pass-through, backend: \"ftp://iis\"}\n", line: 2, keyPath: "listeners[0].backend", contains: "unsupported scheme")
    }
}
