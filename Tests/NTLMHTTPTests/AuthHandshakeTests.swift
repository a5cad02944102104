import NTLM
import Testing
@testable import NTLMHTTP

/// The `AuthHandshake` state machine on its own: an in-memory acceptor plays the server.
@Suite("AuthHandshake state machine")
struct AuthHandshakeTests {
    static let users: NTLMUserStore = {
        var store = NTLMUserStore()
        store.add(user: "alice", domain: "CORP", password: "Alice-Pass1")
        return store
    }()
    static let credential = HTTPCredential(userName: "CORP\\alice", password: "Alice-Pass1")

    @Test func preemptiveNTLMLegsCarryNoBodyUntilTheLast() throws {
        var handshake = AuthHandshake(target: .origin, credential: Self.credential)
        let first = try legCredentials(handshake.start(preemptive: .ntlm))
        #expect(first.value.hasPrefix("NTLM "))
        #expect(!first.withBody)
        var acceptor = NTLMAcceptor(policy: NTLMAcceptorPolicy(netbiosDomain: "CORP"))
        let type2 = try acceptor.challenge(negotiate: tokenBytes(first.value))
        let second = try legCredentials(handshake.received(status: 401, challengeValues: ["NTLM " + Base64.encode(type2)], connectionClosing: false))
        #expect(second.withBody)
        let user = try acceptor.accept(authenticate: tokenBytes(second.value), verifier: Self.users)
        #expect(user.qualifiedName == "CORP\\alice")
        #expect(handshake.received(status: 200, challengeValues: [], connectionClosing: false) == .deliver(authenticated: true))
    }

    @Test func aRefusedType3IsReportedNotRetried() throws {
        var handshake = AuthHandshake(target: .proxy, credential: HTTPCredential(userName: "CORP\\alice", password: "wrong"))
        let first = try legCredentials(handshake.start(preemptive: .ntlm))
        var acceptor = NTLMAcceptor(policy: NTLMAcceptorPolicy(netbiosDomain: "CORP"))
        let type2 = try acceptor.challenge(negotiate: tokenBytes(first.value))
        let second = try legCredentials(handshake.received(status: 407, challengeValues: ["NTLM " + Base64.encode(type2)], connectionClosing: false))
        #expect(throws: NTLMRejection.invalidResponse(domain: "CORP", user: "alice")) { try acceptor.accept(authenticate: tokenBytes(second.value), verifier: Self.users) }
        let verdict = handshake.received(status: 407, challengeValues: ["NTLM"], connectionClosing: false)
        #expect(verdict == .deliverRejected(.rejected(scheme: .ntlm, user: "CORP\\alice")))
    }

    @Test func aChallengeOnAClosingConnectionRestartsOnANewOneBoundedly() throws {
        var handshake = AuthHandshake(target: .origin, credential: Self.credential, policy: .init(maximumReconnects: 2))
        _ = handshake.start(preemptive: .ntlm)
        for _ in 0..<2 {
            let action = handshake.received(status: 401, challengeValues: ["NTLM TlRMTVNTUAACAAAA"], connectionClosing: true)
            guard case .reconnect(let value?, false) = action else {
                Issue.record("expected a reconnect, got \(action)")
                return
            }
            #expect(value.hasPrefix("NTLM "))
        }
        #expect(handshake.received(status: 401, challengeValues: ["NTLM TlRMTVNTUAACAAAA"], connectionClosing: true) == .fail(.connectionClosedDuringHandshake))
    }

    @Test func aPlainRequestPicksNTLMOverNegotiateAndNeverBasicUnlessAllowed() throws {
        var handshake = AuthHandshake(target: .origin, credential: Self.credential)
        #expect(handshake.start() == .send(authorization: nil, withBody: true))
        let leg = try legCredentials(handshake.received(status: 401, challengeValues: ["Negotiate, NTLM", "Basic realm=\"x\""], connectionClosing: false))
        #expect(leg.value.hasPrefix("NTLM "))
        var basicOnly = AuthHandshake(target: .origin, credential: Self.credential)
        _ = basicOnly.start()
        #expect(basicOnly.received(status: 401, challengeValues: ["Basic realm=\"x\""], connectionClosing: false) == .fail(.noUsableScheme(offered: ["Basic"])))
    }

    @Test func aPreemptiveGuessSwitchesToTheOfferedScheme() throws {
        var handshake = AuthHandshake(target: .origin, credential: Self.credential)
        _ = handshake.start(preemptive: .ntlm)
        let leg = try legCredentials(handshake.received(status: 401, challengeValues: ["Negotiate"], connectionClosing: false))
        #expect(leg.value.hasPrefix("Negotiate "))
        #expect(handshake.scheme == .negotiate)
    }

    @Test func negotiateFinalTokenIsVerifiedAndATamperedOneFails() throws {
        for tamper in [false, true] {
            var handshake = AuthHandshake(target: .origin, credential: Self.credential, policy: .init(preference: [.negotiate, .ntlm]))
            let first = try legCredentials(handshake.start(preemptive: .negotiate))
            var acceptor = SPNEGOAcceptor(ntlm: NTLMAcceptor(policy: NTLMAcceptorPolicy(netbiosDomain: "CORP")))
            let reply = try acceptor.challenge(tokenBytes(first.value))
            let second = try legCredentials(handshake.received(status: 401, challengeValues: ["Negotiate " + Base64.encode(reply)], connectionClosing: false))
            guard case .authenticated(_, var finalToken) = try acceptor.accept(tokenBytes(second.value), verifier: Self.users) else {
                Issue.record("SPNEGO acceptor did not complete")
                return
            }
            if tamper { finalToken[finalToken.count - 1] ^= 0x01 }
            let verdict = handshake.received(status: 200, challengeValues: ["Negotiate " + Base64.encode(finalToken)], connectionClosing: false)
            if tamper {
                guard case .fail(.protocolError) = verdict else {
                    Issue.record("a tampered final token was accepted: \(verdict)")
                    return
                }
            } else {
                #expect(verdict == .deliver(authenticated: true))
            }
        }
    }
}
