import NTLMTestSupport
import Foundation
import Testing

/// Forward mode, counted in the parents' own logs: one NTLM logon per upstream connection,
/// never one per request, and a rejected credential is not tried again (lockout guard). The
/// parents here are instances only this suite talks to (`ForwardFixtures.countingParent`),
/// and the tests run one at a time, so a counter's difference is the test's own doing.
@Suite("Interop: forward logon counting at the parents", .serialized)
struct ForwardCountingTests {
    /// 50 requests on one client connection: one logon at the parent.
    @Test(arguments: ParentKind.allCases)
    func fiftyRequestsOnOneConnectionOneLogon(parent kind: ParentKind) async throws {
        let parent = try await ForwardFixtures.shared.countingParent(kind)
        let ok0 = try await parent.handshakes()
        let failed0 = try await parent.failedLogons()
        try await ForwardCLI.start(parents: [parent.authority]).use { proxy in
            let urls = (1...50).map { parent.origin + "whoami?n=\($0)" }
            let result = try await ProxyCurl.statuses(proxy: proxy.proxyURL, urls: urls, extra: ["-v"])
            #expect(result.statuses == Array(repeating: 200, count: 50), "\(result.stderr.suffix(2000))")
            // curl kept one connection to ntlmproxy for all 50.
            #expect(result.stderr.components(separatedBy: "* Connected to").count - 1 == 1, "\(result.stderr.suffix(2000))")
        }
        #expect(try await parent.handshakes() - ok0 == 1)
        #expect(try await parent.failedLogons() - failed0 == 0)
    }

    /// 8 curl processes at once, 5 requests each: at most one logon per client connection
    /// (pooling may make it fewer), never one per request.
    @Test(arguments: ParentKind.allCases)
    func parallelClientsAtMostOneLogonPerConnection(parent kind: ParentKind) async throws {
        let parent = try await ForwardFixtures.shared.countingParent(kind)
        let ok0 = try await parent.handshakes()
        let clients = 8, perClient = 5
        try await ForwardCLI.start(parents: [parent.authority]).use { proxy in
            let results = try await withThrowingTaskGroup(of: [Int].self) { group in
                for client in 0..<clients {
                    group.addTask {
                        let urls = (1...perClient).map { parent.origin + "whoami?c=\(client)&n=\($0)" }
                        return try await ProxyCurl.statuses(proxy: proxy.proxyURL, urls: urls).statuses
                    }
                }
                var all: [Int] = []
                for try await statuses in group { all += statuses }
                return all
            }
            #expect(results == Array(repeating: 200, count: clients * perClient))
            // Later, sequential connections ride the pooled authenticated connections.
            for n in 0..<5 {
                let again = try await ProxyCurl.run(proxy: proxy.proxyURL, [parent.origin + "whoami?again=\(n)"])
                #expect(again.status == 200, "\(again)")
            }
        }
        let logons = try await parent.handshakes() - ok0
        FileHandle.standardError.write(Data("note: \(kind): \(clients) parallel + 5 sequential client connections, \(clients * perClient + 5) requests -> \(logons) logons at the parent\n".utf8))
        #expect(logons >= 1)
        #expect(logons <= clients)
    }

    /// A wrong password and 100 client requests: the parent sees at most one failed logon, and
    /// every client is told why (a 407/502 page), without the password.
    @Test(arguments: ParentKind.allCases)
    func wrongPasswordOneFailedLogonForAHundredRequests(parent kind: ParentKind) async throws {
        let parent = try await ForwardFixtures.shared.countingParent(kind)
        let failed0 = try await parent.failedLogons()
        let ok0 = try await parent.handshakes()
        let wrong = "Wrong-Pass9"
        try await ForwardCLI.start(parents: [parent.authority], password: wrong).use { proxy in
            // The first request alone: the rejection is known before the others arrive.
            let first = try await ProxyCurl.run(proxy: proxy.proxyURL, [parent.origin + "whoami?n=0"])
            #expect(first.status == 407 || first.status == 502, "\(first)")
            #expect(try await parent.failedLogons() - failed0 == 1)

            // 99 more: 9 clients at once, 11 requests each.
            let answers = try await withThrowingTaskGroup(of: [(Int, String)].self) { group in
                for client in 0..<9 {
                    group.addTask {
                        let urls = (1...11).map { parent.origin + "whoami?c=\(client)&n=\($0)" }
                        let result = try await ProxyCurl.statuses(proxy: proxy.proxyURL, urls: urls)
                        return Array(zip(result.statuses, result.bodies))
                    }
                }
                var all: [(Int, String)] = []
                for try await answers in group { all += answers }
                return all
            }
            #expect(answers.count == 99)
            // Each answer is a 407/502 page saying the parent rejected the credential.
            let unexplained = answers.filter { status, body in
                !((status == 407 || status == 502) && body.lowercased().contains("reject"))
            }
            #expect(unexplained.isEmpty, "\(unexplained.count) of 99 answers do not say why; first: \(unexplained.first.map { "\($0.0): \($0.1.prefix(600))" } ?? "")")
            #expect(!answers.contains { $0.1.contains(wrong) })
            #expect(!proxy.process.log.contains(wrong))
        }
        let failed = try await parent.failedLogons() - failed0
        #expect(failed <= 1, "\(failed) failed logons at the \(kind) parent for 100 requests")
        #expect(try await parent.handshakes() - ok0 == 0)
    }

    /// Tunnels: each CONNECT consumes an upstream connection, so at most one logon per tunnel;
    /// a CONNECT on an already-authenticated pooled connection needs none.
    @Test(arguments: ParentKind.allCases)
    func connectsAtMostOneLogonPerTunnel(parent kind: ParentKind) async throws {
        let parent = try await ForwardFixtures.shared.countingParent(kind)
        let tls = try await ForwardFixtures.shared.tlsOrigin()
        let ok0 = try await parent.handshakes()
        let tunnels = 5
        try await ForwardCLI.start(parents: [parent.authority]).use { proxy in
            // Warm: a plain request leaves an authenticated connection in the pool.
            let warm = try await ProxyCurl.run(proxy: proxy.proxyURL, [parent.origin + "whoami"])
            #expect(warm.status == 200, "\(warm)")
            for n in 0..<tunnels {
                let response = try await ProxyCurl.run(proxy: proxy.proxyURL, ["--cacert", tls.caFile, tls.url + "whoami?t=\(n)"])
                #expect(response.status == 200, "\(response)")
            }
        }
        let logons = try await parent.handshakes() - ok0
        FileHandle.standardError.write(Data("note: \(kind): 1 GET + \(tunnels) CONNECT tunnels -> \(logons) logons at the parent\n".utf8))
        #expect(logons >= 1)
        #expect(logons <= tunnels + 1)
    }
}
