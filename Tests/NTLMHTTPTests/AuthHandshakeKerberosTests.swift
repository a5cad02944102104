import Kerberos
import NIOConcurrencyHelpers
import NTLM
import Testing
@testable import NTLMHTTP

/// A Kerberos context without a KDC: a fixed AP-REQ, and an AP-REP check that passes or fails.
final class FakeKerberosContext: KerberosClientContext {
    let initialToken: [UInt8] = [0x60, 0x0F, 0x06, 0x09, 0x2A, 0x86, 0x48, 0x86, 0xF7, 0x12, 0x01, 0x02, 0x02, 0x01, 0x00, 0x6E, 0x00]
    let principal = "alice@CORP.EXAMPLE"
    let accepts: Bool
    let checked = NIOLockedValueBox<[[UInt8]]>([])

    init(accepts: Bool = true) {
        self.accepts = accepts
    }

    func verifyServerToken(_ token: [UInt8]) throws(KerberosError) {
        checked.withLockedValue { $0.append(token) }
        if !accepts { throw .mutualAuthenticationFailed("the AP-REP does not verify") }
    }
}

/// `AuthHandshake` choosing, running and giving up Kerberos, with the ticket step played by
/// the test (the execution does it with GSSAPI).
@Suite("AuthHandshake with Kerberos")
struct AuthHandshakeKerberosTests {
    static let kerberos = KerberosCredential(source: .password("Alice-Pass1"), principal: "alice")
    static let both = HTTPCredential(userName: "CORP\\alice", password: "Alice-Pass1", kerberosPrincipal: "alice")
    static let keytabOnly = HTTPCredential(userName: "CORP\\alice", kerberos: KerberosCredential(source: .keytab("/etc/alice.keytab"), principal: "alice"))
    static let service = KerberosServiceName(host: "web.corp.example")

    static func handshake(_ credential: HTTPCredential = both, kerberos: KerberosUse = .prefer, target: AuthHandshake.Target = .origin) -> AuthHandshake {
        AuthHandshake(target: target, credential: credential, policy: .init(kerberos: kerberos), targetName: "HTTP/web.corp.example", kerberosService: service)
    }

    @Test func negotiateIsAnsweredWithKerberosInOneLegThatCarriesTheBody() throws {
        var handshake = Self.handshake()
        #expect(handshake.start() == .send(authorization: nil, withBody: true))
        #expect(handshake.received(status: 401, challengeValues: ["Negotiate", "NTLM"], connectionClosing: false) == .obtainKerberosTicket)
        let context = FakeKerberosContext()
        let leg = try legCredentials(handshake.kerberosReady(context))
        #expect(leg.withBody)
        #expect(leg.value.hasPrefix("Negotiate "))
        let initial = try #require(try SPNEGOToken(derEncoded: tokenBytes(leg.value)).negTokenInit)
        #expect(initial.mechTypes == [SPNEGOMechanism.kerberos5.oid])
        #expect(initial.mechToken == context.initialToken)
        #expect(handshake.mechanism == .kerberos)
        // The server's final token carries its AP-REP, which is checked.
        let final = try SPNEGOToken.response(NegTokenResp(negState: .acceptCompleted, supportedMech: SPNEGOMechanism.kerberos5.oid, responseToken: [5, 5])).serialize()
        #expect(handshake.received(status: 200, challengeValues: ["Negotiate " + Base64.encode(final)], connectionClosing: false) == .deliver(authenticated: false))
        #expect(context.checked.withLockedValue { $0 } == [[5, 5]])
    }

    @Test func anAPREPThatDoesNotVerifyFailsTheRequest() throws {
        var handshake = Self.handshake()
        _ = handshake.start(preemptive: .negotiate)
        _ = try legCredentials(handshake.kerberosReady(FakeKerberosContext(accepts: false)))
        let final = try SPNEGOToken.response(NegTokenResp(negState: .acceptCompleted, responseToken: [5])).serialize()
        let verdict = handshake.received(status: 200, challengeValues: ["Negotiate " + Base64.encode(final)], connectionClosing: false)
        #expect(verdict == .fail(.kerberos(.mutualAuthenticationFailed("the AP-REP does not verify"))))
        // A 200 without a final token (a server that does not answer mutual authentication,
        // or a CONNECT's 200) is delivered.
        var quiet = Self.handshake()
        _ = quiet.start(preemptive: .negotiate)
        _ = try legCredentials(quiet.kerberosReady(FakeKerberosContext(accepts: false)))
        #expect(quiet.received(status: 200, challengeValues: [], connectionClosing: false) == .deliver(authenticated: false))
    }

    @Test func withoutATicketPreferFallsBackToNTLMAndRemembersKerberos() throws {
        var handshake = Self.handshake()
        _ = handshake.start()
        #expect(handshake.received(status: 401, challengeValues: ["Negotiate", "NTLM"], connectionClosing: false) == .obtainKerberosTicket)
        let leg = try legCredentials(handshake.kerberosFailed(.kdcUnreachable("Cannot contact any KDC")))
        #expect(leg.value.hasPrefix("NTLM "))
        #expect(!leg.withBody)
        #expect(handshake.mechanism == .ntlm)
        #expect(handshake.kerberosFallbackReason?.contains("Cannot contact any KDC") == true)
        // The next connection tries Kerberos again (the credential's retry timer decides).
        #expect(handshake.mechanismToRemember == .kerberos)
        // Only Negotiate offered: NTLM inside SPNEGO.
        var negotiateOnly = Self.handshake()
        _ = negotiateOnly.start()
        _ = negotiateOnly.received(status: 401, challengeValues: ["Negotiate"], connectionClosing: false)
        let spnego = try legCredentials(negotiateOnly.kerberosFailed(.serviceUnknown(service: "HTTP@web", reason: "not found")))
        #expect(spnego.value.hasPrefix("Negotiate "))
        #expect(negotiateOnly.mechanism == .negotiateNTLM)
    }

    @Test func aPasswordTheKDCRefusedIsNeverTriedWithNTLM() {
        var handshake = Self.handshake()
        _ = handshake.start()
        _ = handshake.received(status: 401, challengeValues: ["Negotiate", "NTLM"], connectionClosing: false)
        let rejected = KerberosError.credentialRejected(principal: "alice", reason: "Preauthentication failed")
        #expect(handshake.kerberosFailed(rejected) == .fail(.kerberos(rejected)))
    }

    @Test func kerberosOnlyFailsClearlyAndNtlmOnlyNeverAsks() throws {
        var required = Self.handshake(kerberos: .require)
        _ = required.start()
        _ = required.received(status: 401, challengeValues: ["Negotiate", "NTLM"], connectionClosing: false)
        #expect(required.kerberosFailed(.kdcUnreachable("down")) == .fail(.kerberos(.kdcUnreachable("down"))))
        // An upstream that offers no Negotiate cannot do Kerberos.
        var ntlmServer = Self.handshake(kerberos: .require)
        _ = ntlmServer.start()
        guard case .fail(.kerberos) = ntlmServer.received(status: 401, challengeValues: ["NTLM"], connectionClosing: false) else {
            Issue.record("kerberos-only answered an NTLM-only server")
            return
        }
        var never = Self.handshake(kerberos: .never)
        _ = never.start()
        #expect(try legCredentials(never.received(status: 401, challengeValues: ["Negotiate", "NTLM"], connectionClosing: false)).value.hasPrefix("NTLM "))
    }

    @Test func aRefusedTicketFallsBackToNTLMOnceUnderPreferOnly() throws {
        var handshake = Self.handshake()
        _ = handshake.start()
        _ = handshake.received(status: 401, challengeValues: ["Negotiate", "NTLM"], connectionClosing: false)
        _ = try legCredentials(handshake.kerberosReady(FakeKerberosContext()))
        // mod_auth_gssapi answers a refused ticket with 401 and a SPNEGO reject token.
        let reject = try SPNEGOToken.response(NegTokenResp(negState: .reject)).serialize()
        let next = try legCredentials(handshake.received(status: 401, challengeValues: ["Negotiate " + Base64.encode(reject), "NTLM"], connectionClosing: false))
        #expect(next.value.hasPrefix("NTLM "))
        #expect(handshake.mechanismToRemember == .ntlm)
        var required = Self.handshake(kerberos: .require)
        _ = required.start()
        _ = required.received(status: 401, challengeValues: ["Negotiate"], connectionClosing: false)
        _ = try legCredentials(required.kerberosReady(FakeKerberosContext()))
        #expect(required.received(status: 401, challengeValues: ["Negotiate"], connectionClosing: false) == .deliverRejected(.kerberosTicketRefused(service: "HTTP@web.corp.example")))
    }

    @Test func preemptiveStartsUseKerberosWhenTheCredentialCan() throws {
        var handshake = Self.handshake()
        #expect(handshake.start(preemptive: .ntlm) == .obtainKerberosTicket)
        // No ticket: the preemptive leg becomes an NTLM Type 1 (no body).
        let leg = try legCredentials(handshake.kerberosFailed(.credentialUnavailable("no ticket")))
        #expect(leg.value.hasPrefix("NTLM "))
        #expect(!leg.withBody)
        // A keytab-only credential has no NTLM: a remembered NTLM upstream means Kerberos.
        var keytab = Self.handshake(Self.keytabOnly)
        #expect(keytab.start(preemptiveMechanism: .ntlm) == .obtainKerberosTicket)
        #expect(keytab.kerberosFailed(.kdcUnreachable("down")) == .fail(.kerberos(.kdcUnreachable("down"))))
        // A credential without Kerberos keeps NTLM.
        var plain = AuthHandshake(target: .origin, credential: HTTPCredential(userName: "CORP\\bob", password: "x"), kerberosService: Self.service)
        #expect(try legCredentials(plain.start(preemptive: .ntlm)).value.hasPrefix("NTLM "))
    }

    @Test func aKeytabOnlyCredentialCannotAnswerNTLM() {
        var handshake = Self.handshake(Self.keytabOnly)
        _ = handshake.start()
        #expect(handshake.received(status: 401, challengeValues: ["NTLM"], connectionClosing: false) == .fail(.noUsableScheme(offered: ["NTLM"])))
    }
}
