import NTLMTestSupport
import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// The fixture users as Kerberos principals (scripts/interop/kdc: realm NTLMTEST.TEST). The
/// Kerberos origins and parent publish them in this form (`REMOTE_USER`), NTLM as `NTLMTEST\alice`.
extension Users {
    static let realm = "NTLMTEST.TEST"
    static let alicePrincipal = "alice@NTLMTEST.TEST"
    static let bobPrincipal = "bob@NTLMTEST.TEST"
}

/// A private MIT KDC (scripts/interop/kdc): realm NTLMTEST.TEST, alice and bob, the service
/// keytab of `HTTP/localhost` and `HTTP/127.0.0.1`, a client keytab for alice.
struct KDCFixture: Sendable {
    /// The DIR given to `kdc start` (its files are under DIR/kdc).
    let dir: String
    let port: Int
    var krb5Config: String { dir + "/kdc/krb5.conf" }
    /// `HTTP/localhost` and `HTTP/127.0.0.1` (Apache's).
    var serviceKeytab: String { dir + "/kdc/http.keytab" }
    /// alice's client keytab (her password keeps working).
    var aliceKeytab: String { dir + "/kdc/alice.keytab" }
    var log: String { dir + "/kdc/logs/kdc.log" }

    /// What a child (the CLI, kinit) needs to find this KDC. Always passed explicitly:
    /// `Subprocess.childEnvironment` strips the Kerberos variables children would inherit.
    var environment: [String: String] { ["KRB5_CONFIG": krb5Config] }

    /// TGTs issued so far (password or keytab logons), all principals or `user`'s only.
    func asRequests(_ user: String? = nil) async throws -> Int {
        try await Fixtures.counter("kdc", "as-requests", dir, user.map { [$0] } ?? [])
    }

    /// AS requests refused for a wrong password or key (`PREAUTH_FAILED`): failed logons.
    func failedPreauth(_ user: String? = nil) async throws -> Int {
        try await Fixtures.counter("kdc", "failed-preauth", dir, user.map { [$0] } ?? [])
    }

    /// Service tickets issued so far, all services or `service`'s only (`HTTP/localhost`).
    func tgsRequests(_ service: String? = nil) async throws -> Int {
        try await Fixtures.counter("kdc", "tgs-requests", dir, service.map { [$0] } ?? [])
    }

    /// Stops this KDC (its database, logs and counters stay).
    func stop() async throws {
        let result = try await Subprocess.run([Interop.script("kdc"), "stop", dir], timeout: 60)
        guard result.status == 0 else { throw Fixtures.FixtureFailure(what: "kdc stop \(dir)", result: result) }
    }

    func isRunning() async -> Bool {
        (try? await Subprocess.run([Interop.script("kdc"), "status", dir], timeout: 30))?.status == 0
    }

    /// `kinit USER` with the password, into a new FILE ccache of the scratch folder.
    func kinit(_ user: String = "alice", password: String = Users.alicePassword) async throws -> TicketCache {
        let cache = TicketCache(path: Subprocess.scratchFile("ccache-\(user)").path)
        // The password goes through the environment and a pipe, never on a command line.
        let result = try await Subprocess.run(
            ["/bin/sh", "-c", "printf '%s\\n' \"$KINIT_PASSWORD\" | \"$0\" \"$@\"", Interop.kinit, "\(user)@\(Users.realm)"],
            environment: environment.merging(["KRB5CCNAME": cache.name, "KINIT_PASSWORD": password]) { $1 }, timeout: 30)
        guard result.status == 0, FileManager.default.fileExists(atPath: cache.path) else {
            throw Fixtures.FixtureFailure(what: "kinit \(user) into \(cache.name)", result: result)
        }
        return cache
    }
}

/// A FILE ticket cache made by `KDCFixture.kinit`.
struct TicketCache: Sendable {
    let path: String
    /// `FILE:path`, for `KRB5CCNAME`, `--ticket-cache` and `.ticketCache(_:)`.
    var name: String { "FILE:" + path }

    func remove() { try? FileManager.default.removeItem(atPath: path) }
}

/// Apache + mod_auth_gssapi accepting the tickets of `kdc` (scripts/interop/apache-kerberos):
/// a Kerberos-only origin (a fresh token per request, replays refused), a Kerberos + NTLM
/// origin (gss-ntlmssp, connection-bound) and a Kerberos parent proxy (407 Negotiate,
/// CONNECT to loopback), all in front of one echo backend.
struct KerberosApacheFixture: Sendable {
    let dir: String
    let kdc: KDCFixture
    let originPort: Int
    let bothPort: Int
    let parentPort: Int
    let backendPort: Int

    /// The Kerberos-only origin; `host` picks the service principal (`HTTP/127.0.0.1` or
    /// `HTTP/localhost`).
    func origin(host: String = "127.0.0.1") -> String { "http://\(host):\(originPort)/" }
    var origin: String { origin() }
    /// The Kerberos + NTLM origin (`Negotiate` and `NTLM` offered).
    var both: String { "http://127.0.0.1:\(bothPort)/" }
    /// The Kerberos parent proxy, `host:port`.
    var parent: String { "127.0.0.1:\(parentPort)" }
    /// The echo backend (a plain origin reachable through the parent).
    var backend: String { "http://127.0.0.1:\(backendPort)/" }
    var accessLog: String { dir + "/apache-kerberos/logs/access.log" }

    /// Tokens accepted / refused so far, all listeners together.
    func handshakes() async throws -> Int { try await Fixtures.counter("apache-kerberos", "handshakes", dir) }
    func failedLogons() async throws -> Int { try await Fixtures.counter("apache-kerberos", "failed-logons", dir) }

    /// The access log's lines (`fx= port= conn= req= auth= tok= mech= user= status= "request"`).
    func accessLogLines() -> [String] {
        ((try? String(contentsOfFile: accessLog, encoding: .utf8)) ?? "").split(separator: "\n").map(String.init)
    }

    /// The access log lines matching `predicate`, waiting (up to `timeout` seconds, off the
    /// pool) for at least `count` of them: Apache writes a request's line once it is over, a
    /// CONNECT's only after the tunnel closed.
    func accessLogLines(count: Int = 1, waitingUpTo timeout: Double = 10, where predicate: @escaping @Sendable (String) -> Bool) async -> [String] {
        await offload {
            let deadline = Date(timeIntervalSinceNow: timeout)
            while true {
                let lines = self.accessLogLines().filter(predicate)
                if lines.count >= count || Date() >= deadline { return lines }
                usleep(20_000)
            }
        }
    }

    /// Stops Apache and its echo backend.
    func stop() async {
        _ = try? await Subprocess.run([Interop.script("apache-kerberos"), "stop", dir], timeout: 60)
    }
}

/// A KDC + Apache pair of a test's own (`Fixtures.privateKerberos()`): it may stop the KDC
/// without disturbing the shared one. `use` stops both afterwards.
struct PrivateKerberos: StoppableFixture {
    let apache: KerberosApacheFixture
    var kdc: KDCFixture { apache.kdc }

    func stop() async {
        await apache.stop()
        try? await kdc.stop()
    }

}

/// Where the CLI (gateway, forward) gets alice's Kerberos tickets, as a test parameter.
enum KerberosSource: String, CaseIterable, Sendable, CustomTestStringConvertible {
    /// `--auth kerberos` and `NTLMPROXY_PASSWORD`: the proxy asks the KDC itself.
    case password
    /// `--keytab alice.keytab`, no password anywhere.
    case keytab
    /// `--auth kerberos`, no password, `KRB5CCNAME` naming a cache `kinit` filled.
    case defaultTicketCache
    /// `--ticket-cache FILE:…` naming a cache `kinit` filled, no password.
    case namedTicketCache

    var testDescription: String { rawValue }

    /// The CLI flags and environment for this source against `kdc` (ticket caches are filled
    /// by `kinit` first), after `--user NTLMTEST\alice`.
    func cli(_ kdc: KDCFixture) async throws -> KerberosCLI {
        var environment = kdc.environment
        switch self {
        case .password:
            environment["NTLMPROXY_PASSWORD"] = Users.alicePassword
            return KerberosCLI(arguments: ["--auth", "kerberos"], environment: environment, cache: nil)
        case .keytab:
            return KerberosCLI(arguments: ["--keytab", kdc.aliceKeytab], environment: environment, cache: nil)
        case .defaultTicketCache:
            let cache = try await kdc.kinit()
            environment["KRB5CCNAME"] = cache.name
            return KerberosCLI(arguments: ["--auth", "kerberos"], environment: environment, cache: cache)
        case .namedTicketCache:
            let cache = try await kdc.kinit()
            return KerberosCLI(arguments: ["--ticket-cache", cache.name], environment: environment, cache: cache)
        }
    }
}

/// What `KerberosSource.cli` gives: extra flags, the whole environment, and the cache to remove.
struct KerberosCLI: Sendable {
    var arguments: [String]
    var environment: [String: String]
    var cache: TicketCache?

    func cleanup() { cache?.remove() }
}
