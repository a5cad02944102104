import NTLMTestSupport
import Foundation
import NTLMProxyCore
import Testing

/// Pass-through isolation and logon counting at an Apache instance only this suite talks to
/// (`Fixtures.passThroughCountingApache`), one test at a time: a counter's difference is the
/// test's own doing.
///
/// The load comes from scripts/interop/passthrough_isolation.py (pyspnego): 50 client
/// connections at once, alice and bob round robin, ≥ 10,000 requests with random disconnects
/// and reconnects (each reconnect authenticates again), every answer's echoed user compared
/// with its connection's user, and unauthenticated requests on fresh connections that must
/// never get a 200. Run directly against Apache the script reports 0 mismatches, 0 errors.
@Suite("Interop: pass-through isolation and logon counting at Apache", .serialized)
struct PassThroughIsolationTests {
    @Test(arguments: ["ntlm", "negotiate"])
    func fiftyConnectionsTwoUsersTenThousandRequests(scheme: String) async throws {
        let apache = try await Fixtures.shared.passThroughCountingApache()
        let handshakes0 = try await apache.handshakes()
        let failed0 = try await apache.failedLogons()
        let linesBefore = apache.accessLogLines().count
        let (json, result) = try await InProcessProxy.passThrough(backend: apache.http).use { proxy in
            try await BrowserClients.isolation(url: proxy.url, [
                "--protocol", scheme, "--workers", "50", "--requests", "10000", "--disconnect", "0.05",
                "--unauthenticated-every", "25", "--post", "0.1", "--seed", "5",
            ])
        }
        let handshakes = try await apache.handshakes() - handshakes0
        let failed = try await apache.failedLogons() - failed0
        FileHandle.standardError.write(Data("note: pass-through isolation (\(scheme)): \(json); Apache logons \(handshakes), failed \(failed)\n".utf8))
        try #require(!json.isNull, "\(result)")
        #expect(json["workers"].int == 50)
        #expect(json["users"].int == 2)
        #expect((json["requests"].int ?? 0) >= 10_000, "\(json)")
        #expect(json["mismatches"].int == 0, "\(json)")
        #expect(json["unauthenticated_200"].int == 0, "\(json)")
        #expect((json["unauthenticated_checks"].int ?? 0) >= 300, "\(json)")
        #expect(json["unauthenticated_not_401"].int == 0, "\(json)")
        #expect(json["errors"]["count"].int == 0, "\(json)")
        let perUser = json["per_user"]
        #expect((perUser[Users.alice].int ?? 0) >= 4_000, "\(json)")
        #expect((perUser[Users.bob].int ?? 0) >= 4_000, "\(json)")
        // Random disconnects (5 %) made several hundred client connections, each of which
        // authenticated once; the backend saw exactly one logon per client connection.
        let connections = json["authenticated_connections"].int ?? -1
        #expect(connections >= 100, "\(json)")
        #expect(handshakes == connections, "Apache logons \(handshakes) vs authenticated client connections \(connections): \(json)")
        #expect(failed == 0)
        // One logon per connection, not per request.
        #expect((json["requests"].int ?? 0) >= 10 * handshakes, "\(json)")

        // Apache's own view (access log `conn=<port> req=<n on this connection> auth= user=`):
        // every backend connection served at most one user, and no request without
        // Authorization opened a backend connection except the script's unauthenticated
        // checks and /health (a pinned request re-sent on a fresh connection would show here).
        let check = Self.backendView(Array(apache.accessLogLines().dropFirst(linesBefore)))
        #expect(check.lines >= 10_000, "\(check)")
        #expect(check.connectionsWithTwoUsers.isEmpty, "\(check)")
        #expect(check.unexpectedFirstRequests.isEmpty, "\(check)")
    }

    /// `maxRequests: 4`: a pin carries the two handshake legs and two more requests, then it
    /// and its client connection end (`Connection: close` on the fourth answer); the client
    /// reconnects and logs on again. 10 clients, 400 requests: exactly one logon per client
    /// connection, never more than 4 answers per backend connection, and still no mismatch.
    @Test func maxRequestsPerPinEndsTheConnection() async throws {
        let apache = try await Fixtures.shared.passThroughCountingApache()
        let handshakes0 = try await apache.handshakes()
        let linesBefore = apache.accessLogLines().count
        let (json, result) = try await InProcessProxy.passThrough(backend: apache.http, pins: PinLimits(maxRequests: 4)).use { proxy in
            try await BrowserClients.isolation(url: proxy.url, [
                "--workers", "10", "--requests", "400", "--disconnect", "0", "--unauthenticated-every", "0", "--post", "0",
            ])
        }
        let handshakes = try await apache.handshakes() - handshakes0
        try #require(!json.isNull, "\(result)")
        let requests = json["requests"].int ?? 0
        let connections = json["authenticated_connections"].int ?? 0
        #expect(requests == 400, "\(json)")
        #expect(json["mismatches"].int == 0, "\(json)")
        #expect(json["errors"]["count"].int == 0, "\(json)")
        #expect(handshakes == connections, "\(handshakes) logons, \(json)")
        // 3 answers per connection (the handshake's 200 and two more), the last ones cut short.
        #expect(requests <= 3 * connections, "\(json)")
        #expect(connections <= requests / 3 + 10, "\(json)")
        #expect((json["closed_by_server"].int ?? 0) >= connections - 10, "\(json)")
        // Apache saw at most 4 requests (Type 1 leg included) per backend connection.
        let perConnection = apache.accessLogLines().dropFirst(linesBefore).compactMap { line -> Int? in
            line.split(separator: " ").first { $0.hasPrefix("req=") }.flatMap { Int($0.dropFirst(4)) }
        }
        #expect((perConnection.max() ?? 99) <= 3, "req= up to \(perConnection.max() ?? -1)")
    }

    /// `idleTimeout: 1 s`: a pinned client connection with no request for longer is closed.
    @Test func idlePinIsClosed() async throws {
        let apache = try await Fixtures.shared.passThroughCountingApache()
        try await InProcessProxy.passThrough(backend: apache.http, pins: PinLimits(idleTimeout: .seconds(1))).use { proxy in
            let connection = try await RawHTTPConnection.connect(port: proxy.port, timeoutSeconds: 10)
            let challenge = try await connection.request("GET", "/whoami")
            #expect(challenge.status == 401, "\(challenge.text)")
            let started = ContinuousClock.now
            #expect(await connection.isClosedByPeer(), "still open after \(ContinuousClock.now - started)")
            #expect(ContinuousClock.now - started < .seconds(5))
        }
    }

    struct BackendView: CustomStringConvertible {
        var lines = 0
        var connections = 0
        var connectionsWithTwoUsers: [String] = []
        var unexpectedFirstRequests: [String] = []
        var description: String {
            "\(lines) lines, \(connections) backend connections; two users on: \(connectionsWithTwoUsers.prefix(5)); first requests without Authorization: \(unexpectedFirstRequests.prefix(5))"
        }
    }

    /// Splits the access log lines into backend connections (a `req=0` line starts a new one
    /// for that client port) and checks each.
    static func backendView(_ lines: [String]) -> BackendView {
        var view = BackendView()
        var users: [String: Set<String>] = [:]   // "port#k" -> users
        var current: [String: Int] = [:]         // port -> k
        for line in lines {
            let fields = line.split(separator: " ")
            func value(_ key: String) -> String? {
                fields.first { $0.hasPrefix(key + "=") }.map { String($0.dropFirst(key.count + 1)) }
            }
            guard let port = value("conn"), let req = value("req").flatMap({ Int($0) }), let auth = value("auth") else { continue }
            view.lines += 1
            if req == 0 {
                current[port, default: -1] += 1
                view.connections += 1
                if auth == "-" && !line.contains("unauthenticated=") && !line.contains("GET /health") {
                    view.unexpectedFirstRequests.append(line)
                }
            }
            let key = "\(port)#\(current[port, default: 0])"
            if let user = value("user"), user != "\"-\"" {
                users[key, default: []].insert(user)
                if users[key]?.count == 2 { view.connectionsWithTwoUsers.append(line) }
            }
        }
        return view
    }

    /// 200 requests on one client connection (requests-ntlm session): one logon at Apache.
    @Test func twoHundredRequestsOneLogon() async throws {
        let apache = try await Fixtures.shared.passThroughCountingApache()
        let handshakes0 = try await apache.handshakes()
        try await InProcessProxy.passThrough(backend: apache.http).use { proxy in
            let json = try await BrowserClients.requestsNTLM(url: proxy.url + "whoami", user: Users.bob, password: Users.bobPassword, ["--count", "200"])
            #expect(json["statuses"].array.map(\.int) == Array(repeating: 200, count: 200), "\(json)")
            #expect(json["json"]["user"].string == Users.bob)
        }
        #expect(try await apache.handshakes() - handshakes0 == 1)
    }

    /// A new Type 1 on a pinned connection restarts the handshake on the same pin: alice
    /// authenticates, then bob on the same client connection, against an origin that (like
    /// IIS) accepts a second handshake on a connection (reauth_origin.py; Apache refuses it,
    /// see PassThroughApacheTests). After bob's logon the connection answers as bob, and the
    /// origin saw it all on one upstream connection (its per-connection request count goes
    /// on: 2 legs + 1 request as alice, then 2 legs + 1 as bob).
    @Test func secondHandshakeSwitchesUserOnTheSamePin() async throws {
        try await ReauthOrigin.start().use { origin in
            let direct = try await BrowserClients.pyspnego(url: origin.url + "whoami", protocol: "ntlm",
                                                           ["--again", "--second-user", Users.bob, "--second-password", Users.bobPassword])
            #expect(direct["second"]["again_json"]["user"].string == Users.bob, "direct: \(direct)")
            try await InProcessProxy.passThrough(backend: origin.url).use { proxy in
                let json = try await BrowserClients.pyspnego(url: proxy.url + "whoami", protocol: "ntlm",
                                                             ["--again", "--second-user", Users.bob, "--second-password", Users.bobPassword])
                #expect(json["status"].int == 200, "\(json)")
                #expect(json["json"]["user"].string == Users.alice, "\(json)")
                #expect(json["again_json"]["user"].string == Users.alice, "\(json)")
                let second = json["second"]
                #expect(second["status"].int == 200, "\(json)")
                #expect(second["legs"].int == 2, "\(json)")
                #expect(second["json"]["user"].string == Users.bob, "\(json)")
                #expect(second["again_status"].int == 200, "\(json)")
                #expect(second["again_json"]["user"].string == Users.bob, "\(json)")
                #expect(json["json"]["connection_requests"].int == 2, "\(json)")
                #expect(json["again_json"]["connection_requests"].int == 3, "\(json)")
                #expect(second["json"]["connection_requests"].int == 5, "\(json)")
                #expect(second["again_json"]["connection_requests"].int == 6, "\(json)")
            }
        }
    }

    /// When the backend drops a pinned connection (idle close, no `Connection: close`), the
    /// client connection is closed too: its next request is never sent on another, fresh
    /// backend connection (where it would be another logon's or none). The origin counts the
    /// requests it saw on each connection.
    @Test func backendClosingThePinClosesTheClient() async throws {
        try await ReauthOrigin.start(idleClose: 0.3).use { origin in
            try await InProcessProxy.passThrough(backend: origin.url).use { proxy in
                let json = try await BrowserClients.pyspnego(url: proxy.url + "whoami", protocol: "ntlm", ["--again"])
                #expect(json["again_json"]["user"].string == Users.alice, "\(json)")
                // The same, with a pause longer than the origin's idle timeout before the
                // request on the authenticated connection.
                let connection = try await RawHTTPConnection.connect(port: proxy.port, timeoutSeconds: 10)
                let challenge = try await connection.request("GET", "/whoami")
                #expect(challenge.status == 401, "\(challenge.text)")
                try await Task.sleep(for: .seconds(1))
                #expect(await connection.isClosedByPeer(), "the client connection outlived its pin")
            }
        }
    }
}

