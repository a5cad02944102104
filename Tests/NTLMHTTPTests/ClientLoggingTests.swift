import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOHTTP1
import NTLM
import NTLMTestSupport
import Testing
@testable import NTLMHTTP

extension ClientTests {
    @Suite("logging")
    struct Logs {
        @Test func handshakeIsLoggedWithoutSecrets() async throws {
            let lines = NIOLockedValueBox<[String]>([])
            let logger = Logger(label: "test") { _ in CapturingLogHandler(lines: lines) }
            for scheme in [ClientTestServer.Scheme.ntlmAndNegotiate, .negotiateOnly] {
                var options = ClientTestServer.Options()
                options.scheme = scheme
                let server = try await ClientTestServer.start(options)
                let client = NTLMHTTPClient(logger: logger)
                for credential in [ClientFixtures.alice, ClientFixtures.aliceWrong] {
                    let response = try await client.execute(NTLMHTTPRequest(url: server.baseURL + "/whoami?token=query-secret"), credential: credential)
                    try await response.body.drain()
                }
                try await client.shutdown()
                await server.shutdown()
            }
            let all = lines.withLockedValue { $0 }
            #expect(all.contains { $0.contains("authentication challenge") && $0.contains("scheme=NTLM") && $0.contains(#"user=CORP\alice"#) && $0.contains("flags=") })
            #expect(all.contains { $0.contains("GET http://127.0.0.1") && $0.contains("→ 200") })
            #expect(all.contains { $0.hasPrefix("warning") && $0.contains("rejected") })
            for line in all {
                // No NTLM message (base64 of "NTLMSSP"), no SPNEGO token, no password, no query.
                #expect(!line.contains("TlRMTVNT"), "\(line)")
                #expect(!line.contains("Negotiate oY") && !line.contains("Negotiate YI"), "\(line)")
                #expect(!line.contains("secret") && !line.contains("not-her-password"), "\(line)")
            }
        }
    }
}
