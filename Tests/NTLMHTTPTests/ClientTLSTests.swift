import Crypto
import NIOCore
import NIOHTTP1
import NIOSSL
import NTLM
import Testing
@testable import NTLMHTTP

extension ClientTests {
    @Suite("TLS and channel bindings")
    struct TLS {
        /// The bindings the server expects, computed from its own certificate (SHA-256: the
        /// certificate is signed with ecdsa-with-SHA256).
        static func serverBindings() throws -> ChannelBindings {
            let der = try NIOSSLCertificate(bytes: Array(ClientTestCertificates.leafPEM.utf8), format: .pem).toDERBytes()
            return ChannelBindings.tlsServerEndPoint(certificateHash: Array(SHA256.hash(data: der)))
        }

        static func options(_ bindings: NTLMAcceptorPolicy.ChannelBindingPolicy) -> ClientTestServer.Options {
            var options = ClientTestServer.Options()
            options.tls = true
            options.channelBindings = bindings
            return options
        }

        @Test func channelBindingsAreAcceptedWhenRequired() async throws {
            try await ClientFixtures.withServer(Self.options(.required(try Self.serverBindings()))) { server, client in
                for _ in 0..<2 {
                    let response = try await client.execute(NTLMHTTPRequest(url: server.baseURL + "/whoami"), credential: ClientFixtures.alice)
                    #expect(response.status == .ok)
                    #expect(try await ClientFixtures.text(response) == "CORP\\alice\n")
                }
                #expect(server.snapshot.failedLogons == 0)
                #expect(server.snapshot.handshakes == 1)
            }
        }

        @Test func channelBindingsAreAcceptedInsideNegotiate() async throws {
            var options = Self.options(.required(try Self.serverBindings()))
            options.scheme = .negotiateOnly
            try await ClientFixtures.withServer(options) { server, client in
                let response = try await client.execute(NTLMHTTPRequest(url: server.baseURL + "/whoami"), credential: ClientFixtures.bob)
                #expect(response.status == .ok)
                #expect(try await ClientFixtures.text(response) == "CORP\\bob\n")
            }
        }

        @Test func withoutChannelBindingsExtendedProtectionRefuses() async throws {
            try await ClientFixtures.withServer(Self.options(.required(try Self.serverBindings())), configure: { $0.channelBindings = false }) { server, client in
                let response = try await client.execute(NTLMHTTPRequest(url: server.baseURL + "/whoami"), credential: ClientFixtures.alice)
                #expect(response.status == .unauthorized)
                #expect(response.authenticationFailure != nil)
                try await response.body.drain()
                #expect(server.snapshot.failedLogons == 1)
            }
        }

        @Test func basicOverTLS() async throws {
            var options = ClientTestServer.Options()
            options.tls = true
            options.scheme = .basic
            try await ClientFixtures.withServer(options) { server, client in
                for _ in 0..<2 {
                    let response = try await client.execute(NTLMHTTPRequest(url: server.baseURL + "/whoami"), credential: ClientFixtures.aliceBasic)
                    #expect(response.status == .ok)
                    #expect(response.authenticationScheme == .basic)
                    #expect(try await ClientFixtures.text(response) == "CORP\\alice\n")
                }
                // Basic goes with every request; the second one preemptively.
                #expect(server.snapshot.offersSent == 1)
                #expect(server.snapshot.successfulLogons == 2)
                #expect(server.snapshot.connections == 1)
                // A credential that did not keep its password cannot do Basic.
                await #expect(throws: NTLMHTTPClientError.authentication(.noUsableScheme(offered: ["Basic"]))) {
                    _ = try await client.execute(NTLMHTTPRequest(url: server.baseURL + "/whoami"), credential: ClientFixtures.alice)
                }
            }
        }

        @Test func untrustedCertificateFails() async throws {
            let server = try await ClientTestServer.start(Self.options(.ignore))
            let client = NTLMHTTPClient()  // system roots only
            let error = await #expect(throws: NTLMHTTPClientError.self) {
                _ = try await client.execute(NTLMHTTPRequest(url: server.baseURL + "/whoami"), credential: ClientFixtures.alice)
            }
            guard case .tls = error else {
                Issue.record("expected a TLS error, got \(String(describing: error))")
                return
            }
            #expect(server.snapshot.requests == 0)
            try await client.shutdown()
            await server.shutdown()
        }

        @Test func certificateHashFollowsTheSignatureAlgorithm() throws {
            let der256 = try NIOSSLCertificate(bytes: Array(ClientTestCertificates.leafPEM.utf8), format: .pem).toDERBytes()
            let der384 = try NIOSSLCertificate(bytes: Array(ClientTestCertificates.leafSHA384PEM.utf8), format: .pem).toDERBytes()
            #expect(TLSServerEndPoint.hashFunction(certificateDER: der256) == .sha256)
            #expect(TLSServerEndPoint.hashFunction(certificateDER: der384) == .sha384)
            #expect(TLSServerEndPoint.certificateHash(der: der256) == Array(SHA256.hash(data: der256)))
            #expect(TLSServerEndPoint.certificateHash(der: der384) == Array(SHA384.hash(data: der384)))
            // Garbage never traps; it falls back to SHA-256.
            #expect(TLSServerEndPoint.hashFunction(certificateDER: [0x30, 0x84, 0xFF]) == .sha256)
            #expect(TLSServerEndPoint.hashFunction(certificateDER: []) == .sha256)
        }
    }
}
