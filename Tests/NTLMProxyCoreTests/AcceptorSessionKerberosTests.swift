import NTLM
import NTLMTestSupport
import NTLMHTTP
import Testing
@testable import Kerberos
@testable import NTLMProxyCore

/// How an acceptor session routes `Negotiate` tokens that carry Kerberos: to the keytab when
/// it has one (Kerberos first in the client's list), to NTLM in SPNEGO otherwise, and a 503
/// — not a 401 — when its own Kerberos side cannot work.
@Suite("Acceptor session: Kerberos routing")
struct AcceptorSessionKerberosTests {
    static let apReq: [UInt8] = [0x60, 0x0F, 0x06, 0x09, 0x2A, 0x86, 0x48, 0x86, 0xF7, 0x12, 0x01, 0x02, 0x02, 0x01, 0x00, 0x6E, 0x00]

    static func settings(kerberos: KerberosAcceptor?) -> AcceptorSession.Settings {
        var users = NTLMUserStore()
        users.add(user: "alice", domain: "CORP", password: "Alice-Pass1")
        return AcceptorSession.Settings(policy: NTLMAcceptorPolicy(netbiosDomain: "CORP"), verifier: users, kerberos: kerberos, allowBasic: false)
    }

    /// A browser's NegTokenInit: Microsoft's Kerberos OID, Kerberos, NTLM; the AP-REQ as token.
    static func browserToken() throws -> String {
        let initial = NegTokenInit(
            mechTypes: [SPNEGOMechanism.microsoftKerberos5.oid, SPNEGOMechanism.kerberos5.oid, SPNEGOMechanism.ntlm.oid], mechToken: apReq)
        return "Negotiate " + Base64.encode(try SPNEGOToken.initial(initial).serialize())
    }

    @Test func withoutAKeytabAKerberosFirstClientIsSteeredToNTLM() async throws {
        var session = AcceptorSession(settings: Self.settings(kerberos: nil))
        guard case .challenge(let values) = await session.handle(authorization: try Self.browserToken()) else {
            Issue.record("expected the SPNEGO request-mic challenge")
            return
        }
        let value = try #require(values.first)
        let reply = try #require(Base64.decode(String(value.dropFirst("Negotiate ".count))))
        let response = try #require(try SPNEGOToken(derEncoded: reply).negTokenResp)
        #expect(response.negState == .requestMIC)
        #expect(response.supportedMech == SPNEGOMechanism.ntlm.oid)
        // A bare Kerberos token has nowhere to go: 401 with the offers, not a 400.
        var bare = AcceptorSession(settings: Self.settings(kerberos: nil))
        guard case .rejected(.kerberos, let offers) = await bare.handle(authorization: "Negotiate " + Base64.encode(Self.apReq)) else {
            Issue.record("a bare Kerberos token was not refused")
            return
        }
        #expect(offers == ["Negotiate", "NTLM"])
    }

    @Test func aKeytabThatCannotBeUsedIsAServerProblemNotAFailedLogon() async throws {
        let missing = GSSAPILibrary.load(candidates: ["libntlmproxy-no-such-gssapi.so.9"])
        var session = AcceptorSession(settings: Self.settings(kerberos: KerberosAcceptor(keytab: "/etc/http.keytab", principal: nil, library: missing)))
        guard case .unavailable(let why) = await session.handle(authorization: try Self.browserToken()) else {
            Issue.record("expected 503 when the Kerberos library is missing")
            return
        }
        #expect(why.contains("GSSAPI"))
        #expect(session.connectionIdentity == nil)
        #expect(session.events.contains { if case .kerberosTicketReceived = $0 { return true } else { return false } })
    }

    @Test func kerberosIdentitiesAreNamedAsPrincipals() {
        let identity = AcceptorSession.Identity(user: "alice", domain: "CORP.EXAMPLE.COM", scheme: "Negotiate", kerberos: true)
        #expect(identity.qualifiedName == "alice@CORP.EXAMPLE.COM")
        #expect(identity.mechanism == "Kerberos")
        #expect(AcceptorSession.Identity(user: "alice", domain: "CORP", scheme: "NTLM").qualifiedName == "CORP\\alice")
    }
}

/// Users in many groups carry big Kerberos tickets: an `Authorization` of up to 64 KiB must
/// reach the acceptor (not a 431), a larger one is refused cleanly, and the listener serves on.
@Suite("Acceptor mode: large Negotiate tokens")
struct AcceptorLargeTokenTests {
    /// A Kerberos-first NegTokenInit (NTLM listed too) whose AP-REQ is `size` bytes.
    static func token(apReqSize size: Int) throws -> String {
        var apReq: [UInt8] = [0x60, 0x82, UInt8((size - 4) >> 8), UInt8((size - 4) & 0xFF), 0x06, 0x09, 0x2A, 0x86, 0x48, 0x86, 0xF7, 0x12, 0x01, 0x02, 0x02]
        apReq += [UInt8](repeating: 0x41, count: size - apReq.count)
        let initial = NegTokenInit(mechTypes: [SPNEGOMechanism.kerberos5.oid, SPNEGOMechanism.ntlm.oid], mechToken: apReq)
        return "Negotiate " + Base64.encode(try SPNEGOToken.initial(initial).serialize())
    }

    @Test func a64KiBTokenIsTakenAndALargerOneRefusedWithoutHarm() async throws {
        let (server, _) = try await AcceptorModeTests.start()
        defer { Task { await server.stop() } }
        // Windows' MaxTokenSize: 48,000 bytes, 64,000 characters of base64 in the header.
        let big = try Self.token(apReqSize: 47_900)
        #expect(big.utf8.count > 63_000 && big.utf8.count <= 64 * 1024)
        let connection = try await RawHTTPConnection.connect(port: server.port)
        let answer = try await connection.request(headers: [("Authorization", big), ("Cookie", String(repeating: "c", count: 4000))])
        // No keytab here: the Kerberos-first client is asked for NTLM inside SPNEGO.
        #expect(answer.status == 401)
        #expect(answer.headers("WWW-Authenticate").first?.hasPrefix("Negotiate ") == true)
        // Past the acceptor's 64 KiB: a 400, and the listener goes on serving.
        let huge = try Self.token(apReqSize: 60_000)
        let refused = try await RawHTTPConnection.connect(port: server.port)
        #expect(try await refused.request(headers: [("Authorization", huge)]).status == 400)
        let next = try await RawHTTPConnection.connect(port: server.port)
        #expect(try await next.request().status == 401)
    }
}
