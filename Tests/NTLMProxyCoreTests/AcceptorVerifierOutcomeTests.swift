import Logging
import NTLM
import NTLMHTTP
import NTLMTestSupport
import Testing
@testable import NTLMProxyCore

/// What a client of an acceptor sees when its verifier (the domain helpers) answers with
/// something other than yes: a busy or broken verifier is a 503 the client may retry, a
/// refusal a 401, and the connection keeps working either way.
@Suite("Acceptor mode: verifier outcomes")
struct AcceptorVerifierOutcomeTests {
    /// A verifier that always gives the same answer.
    struct FixedVerifier: AcceptorVerifier {
        let rejection: NTLMRejection
        func verify(_ request: NTLMVerificationRequest) async throws(NTLMRejection) -> NTLMVerifiedUser { throw rejection }
        func verifyPassword(user: String, domain: String, password: Password) async throws(NTLMRejection) -> NTLMVerifiedUser { throw rejection }
        var verifierDescription: String { "fixed" }
    }

    static func serve(_ verifier: any AcceptorVerifier, allowBasic: Bool = false) async throws -> (ProxyListener, Task<Void, Error>) {
        let settings = AcceptorSession.Settings(policy: NTLMAcceptorPolicy(netbiosDomain: "CORP"), verifier: verifier, allowBasic: allowBasic)
        let listener = try await ProxyListener.bind(ListenerOptions(port: 0), handler: AcceptorMode(settings: settings, forwarder: nil), logger: Logger(label: "test.acceptor"))
        return (listener, Task { try await listener.serve() })
    }

    @Test(arguments: [
        (NTLMRejection.verifierUnavailable("all 4 helpers busy, 64 waiting"), 503),
        (.invalidResponse(domain: "CORP", user: "alice"), 401),
        (.accessDenied("not a member of CORP\\webusers"), 401),
    ])
    func theVerifiersAnswerDecidesTheStatus(rejection: NTLMRejection, status: Int) async throws {
        let (listener, task) = try await Self.serve(FixedVerifier(rejection: rejection), allowBasic: true)
        defer { task.cancel(); Task { await listener.close() } }
        let connection = try await RawHTTPConnection.connect(port: listener.port)
        let response = try await AcceptorModeTests.handshake(connection)
        #expect(response.status == status)
        if status == 503 {
            #expect(response.headers("Retry-After") == ["5"])
            #expect(!response.text.contains("helpers"), "the client is not told about our internals")
        } else {
            #expect(response.headers("WWW-Authenticate").contains("NTLM"))
        }
        // Basic goes through the same verifier.
        let basic = try await connection.request(headers: [("Authorization", "Basic " + Base64.encode(Array("CORP\\alice:pw".utf8)))])
        #expect(basic.status == status)
        // The connection still serves.
        #expect(try await connection.request().status == 401)
    }
}
