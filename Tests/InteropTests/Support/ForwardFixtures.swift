import NTLMTestSupport
import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// Apache mod_proxy + mod_auth_gssapi + gss-ntlmssp as a parent proxy
/// (scripts/interop/apache-parent): `407 Proxy-Authenticate: Negotiate` and `NTLM`.
struct ApacheParentFixture: Sendable {
    let dir: String
    let proxyPort: Int
    /// An echo_backend.py started with it (a plain origin).
    let backendPort: Int
    var accessLog: String { dir + "/apache-parent/logs/access.log" }

    /// Type 3 legs answered 407 (wrong password, unknown user).
    func failedLogons() async throws -> Int { try await Fixtures.counter("apache-parent", "failed-logons", dir) }
    /// Type 3 legs answered with anything else (one per authenticated client connection).
    func handshakes() async throws -> Int { try await Fixtures.counter("apache-parent", "handshakes", dir) }

    func stop() async {
        _ = try? await Subprocess.run([Interop.script("apache-parent"), "stop", dir], timeout: 60)
    }
}

/// An HTTPS echo backend with a certificate from a private CA (scripts/interop/tls-origin).
struct TLSOriginFixture: Sendable {
    let dir: String
    let port: Int
    var caFile: String { dir + "/tls-origin/ca.pem" }
    var url: String { "https://127.0.0.1:\(port)/" }
}

/// The two kinds of NTLM parent the forward tests run against.
enum ParentKind: String, CaseIterable, Sendable, CustomTestStringConvertible {
    /// squid + Samba ntlm_auth (`Proxy-Authenticate: NTLM` only).
    case squid
    /// Apache + mod_auth_gssapi + gss-ntlmssp (Negotiate and NTLM; strict about Type 1).
    case apache

    var testDescription: String { rawValue }
}

/// A parent proxy as the forward tests see it: where it listens, a plain origin behind it,
/// and its logon counters.
struct ParentProxy: Sendable {
    let kind: ParentKind
    let port: Int
    /// An echo_backend.py reachable through it (any 127.0.0.1 port is).
    let originPort: Int
    let failedLogons: @Sendable () async throws -> Int
    let handshakes: @Sendable () async throws -> Int

    var authority: String { "127.0.0.1:\(port)" }
    var origin: String { "http://127.0.0.1:\(originPort)/" }

    init(squid: SquidFixture) {
        kind = .squid
        port = squid.proxyPort
        originPort = squid.backendPort
        failedLogons = { try await squid.failedLogons() }
        handshakes = { try await squid.handshakes() }
    }

    init(apache: ApacheParentFixture) {
        kind = .apache
        port = apache.proxyPort
        originPort = apache.backendPort
        failedLogons = { try await apache.failedLogons() }
        handshakes = { try await apache.handshakes() }
    }
}

/// The forward-mode fixtures, started lazily once per test process under `Fixtures.root`:
///
/// - `forward-apache`: an Apache parent shared by the tests that do not count logons
///   (the shared squid parent is `Fixtures.shared.squid()`);
/// - `forward-counting-squid`, `forward-counting-apache`: parents only the `.serialized`
///   counting suite talks to, so their counters see nothing else;
/// - `tls-origin`: the HTTPS origin for CONNECT tests;
/// - `privateApacheParent()`: a fresh Apache parent a test may kill (failover).
///
/// Stopped by an exit handler, and by a detached watcher if the process dies without one.
actor ForwardFixtures {
    static let shared = ForwardFixtures()

    private var apacheTask: Task<ApacheParentFixture, Error>?
    private var countingApacheTask: Task<ApacheParentFixture, Error>?
    private var countingSquidTask: Task<SquidFixture, Error>?
    private var tlsTask: Task<TLSOriginFixture, Error>?
    private var privateCount = 0

    private static let stops: [(String, String)] = [
        ("apache-parent", Fixtures.root + "/forward-apache"),
        ("apache-parent", Fixtures.root + "/forward-counting-apache"),
        ("squid-origin", Fixtures.root + "/forward-counting-squid"),
        ("tls-origin", Fixtures.root + "/tls-origin"),
    ]

    private static let cleanupInstalled: Bool = {
        // Reading Fixtures.root registers its own exit handler (which removes the folder)
        // first; handlers run in reverse order, so ours stops the daemons before that.
        let stops = ForwardFixtures.stops
        let root = Fixtures.root
        Cleanup.register {
            let privates = ((try? FileManager.default.contentsOfDirectory(atPath: root)) ?? [])
                .filter { $0.hasPrefix("forward-private-") }
                .map { ("apache-parent", root + "/" + $0) }
            Fixtures.stopInParallel(stops + privates)
        }
        // Private parents (failover tests) live in forward-private-N.
        let quote = Fixtures.shellQuote
        Fixtures.spawnWatcher(stops: stops, then: "for d in \(quote(root))/forward-private-*; do [ -d \"$d\" ] && \(quote(Interop.script("apache-parent"))) stop \"$d\" >/dev/null 2>&1; done; true")
        return true
    }()

    /// The forward fixture scripts, cntlm, and everything `Interop.needPeers` wants.
    static func needPeers() async throws {
        try await Interop.needPeers()
        for name in ["apache-parent", "tls-origin"] {
            try Interop.need(FileManager.default.isExecutableFile(atPath: Interop.script(name)), "no \(Interop.script(name))")
        }
        _ = cleanupInstalled
    }

    // MARK: Access

    /// A parent of `kind` shared with other non-counting tests.
    func parent(_ kind: ParentKind) async throws -> ParentProxy {
        switch kind {
        case .squid: return ParentProxy(squid: try await Fixtures.shared.squid())
        case .apache: return ParentProxy(apache: try await apacheParent())
        }
    }

    /// A parent of `kind` whose counters only the counting suite moves.
    func countingParent(_ kind: ParentKind) async throws -> ParentProxy {
        try await Self.needPeers()
        switch kind {
        case .squid:
            if countingSquidTask == nil {
                countingSquidTask = Task { try await Fixtures.startSquid(dir: Fixtures.root + "/forward-counting-squid") }
            }
            return ParentProxy(squid: try await Fixtures.startOrSkip(countingSquidTask!))
        case .apache:
            if countingApacheTask == nil {
                countingApacheTask = Task { try await Self.startApacheParent(dir: Fixtures.root + "/forward-counting-apache") }
            }
            return ParentProxy(apache: try await Fixtures.startOrSkip(countingApacheTask!))
        }
    }

    func apacheParent() async throws -> ApacheParentFixture {
        try await Self.needPeers()
        if apacheTask == nil {
            apacheTask = Task { try await Self.startApacheParent(dir: Fixtures.root + "/forward-apache") }
        }
        return try await Fixtures.startOrSkip(apacheTask!)
    }

    func tlsOrigin() async throws -> TLSOriginFixture {
        try await Self.needPeers()
        if tlsTask == nil {
            tlsTask = Task { try await Self.startTLSOrigin(dir: Fixtures.root + "/tls-origin") }
        }
        return try await Fixtures.startOrSkip(tlsTask!)
    }

    /// A fresh Apache parent of the caller's own; it may stop it (`ApacheParentFixture.stop`).
    func privateApacheParent() async throws -> ApacheParentFixture {
        try await Self.needPeers()
        privateCount += 1
        let dir = Fixtures.root + "/forward-private-\(privateCount)"
        do {
            return try await Self.startApacheParent(dir: dir)
        } catch let failure as Fixtures.FixtureFailure {
            try Interop.need(false, "\(failure)")
            throw failure
        }
    }

    // MARK: Starting

    private static func startApacheParent(dir: String) async throws -> ApacheParentFixture {
        let ports = try await Fixtures.startScript("apache-parent", dir, keys: ["APACHE_PROXY_PORT", "APACHE_PARENT_BACKEND_PORT"])
        return ApacheParentFixture(dir: dir, proxyPort: ports["APACHE_PROXY_PORT"] ?? 0, backendPort: ports["APACHE_PARENT_BACKEND_PORT"] ?? 0)
    }

    private static func startTLSOrigin(dir: String) async throws -> TLSOriginFixture {
        let ports = try await Fixtures.startScript("tls-origin", dir, keys: ["TLS_ORIGIN_PORT"])
        return TLSOriginFixture(dir: dir, port: ports["TLS_ORIGIN_PORT"] ?? 0)
    }
}
