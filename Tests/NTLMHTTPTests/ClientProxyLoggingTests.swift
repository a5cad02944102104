import Logging
import NIOConcurrencyHelpers
import NIOCore
import NTLM
import NTLMTestSupport
import Testing
@testable import NTLMHTTP

extension ClientTests {
    @Suite("logging through a proxy")
    struct ProxyLogs {
        @Test func proxyHandshakesAreLoggedWithoutSecrets() async throws {
            let lines = NIOLockedValueBox<[String]>([])
            let logger = Logger(label: "test") { _ in CapturingLogHandler(lines: lines) }
            try await FakeNTLMProxy.with { proxy, client in
                for credential in [ClientFixtures.alice, ClientFixtures.aliceWrong] {
                    let response = try await client.execute(NTLMHTTPRequest(url: "http://origin.example/?token=query-secret"), credential: credential, via: proxy.server, logger: logger)
                    try await response.body.drain()
                }
                for credential in [ClientFixtures.bob, ClientFixtures.aliceWrong] {
                    let result = try await client.openTunnel(host: "origin.example", port: 443, via: proxy.server, credential: credential, logger: logger)
                    if case .established(let tunnel) = result { try await tunnel.channel.close() }
                }
            }
            let all = lines.withLockedValue { $0 }
            #expect(all.contains { $0.contains("authentication challenge") && $0.contains("scheme=NTLM") && $0.contains("status=407") && $0.contains("flags=") })
            #expect(all.contains { $0.contains("CONNECT origin.example:443 → 200") && $0.contains(#"user=CORP\bob"#) })
            #expect(all.filter { $0.hasPrefix("warning") && $0.contains("rejected") }.count == 2)
            for line in all {
                #expect(!line.contains("TlRMTVNT"), "\(line)")
                #expect(!line.contains("secret") && !line.contains("not-her-password") && !line.contains("hunter2"), "\(line)")
            }
        }
    }
}
