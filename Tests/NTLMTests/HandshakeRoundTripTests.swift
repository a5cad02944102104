import Testing
@testable import NTLM

@Suite("Initiator ↔ acceptor round trips")
struct HandshakeRoundTripTests {
    static let store: NTLMUserStore = {
        var store = NTLMUserStore()
        store.add(user: "alice", domain: "CORP", password: "Secret1!")
        return store
    }()

    func handshake(
        credentials: NTLMCredentials, initiatorPolicy: NTLMInitiatorPolicy = .default,
        acceptorPolicy: NTLMAcceptorPolicy = NTLMAcceptorPolicy(netbiosDomain: "CORP")
    ) throws -> (NTLMInitiator, NTLMAcceptor, Result<NTLMAuthenticatedUser, NTLMRejection>) {
        var initiator = NTLMInitiator(credentials: credentials, policy: initiatorPolicy)
        var acceptor = NTLMAcceptor(policy: acceptorPolicy)
        let type1 = initiator.negotiate()
        let type2 = try acceptor.challenge(negotiate: type1)
        let type3 = try initiator.authenticate(challenge: type2)
        let result = Result { () throws(NTLMRejection) -> NTLMAuthenticatedUser in
            try acceptor.accept(authenticate: type3, verifier: Self.store)
        }
        return (initiator, acceptor, result)
    }

    @Test func ntlmv2WithMICSucceeds() throws {
        let credentials = NTLMCredentials(user: "alice", domain: "CORP", workstation: "WS1", password: "Secret1!")
        let (initiator, acceptor, result) = try handshake(credentials: credentials)
        let user = try result.get()
        #expect(user.qualifiedName == "CORP\\alice")
        #expect(user.kind == .ntlmv2)
        #expect(user.workstation == "WS1")
        var clientSession = try #require(initiator.session)
        var serverSession = try #require(acceptor.session)
        #expect(clientSession.exportedSessionKey == serverSession.exportedSessionKey)
        let signature = clientSession.sign(Array("hello".utf8))
        try serverSession.verify(signature: signature, for: Array("hello".utf8))
        let (sealed, sealSignature) = serverSession.seal(Array("secret data".utf8))
        #expect(try clientSession.unseal(sealed, signature: sealSignature) == Array("secret data".utf8))
    }

    @Test func wrongPasswordIsRejected() throws {
        let credentials = NTLMCredentials(user: "alice", domain: "CORP", password: "wrong")
        let (_, _, result) = try handshake(credentials: credentials)
        #expect(throws: NTLMRejection.invalidResponse(domain: "CORP", user: "alice")) { try result.get() }
    }

    @Test func emptyDomainMapsToDefault() throws {
        let credentials = NTLMCredentials(user: "ALICE", domain: "", password: "Secret1!")
        let (_, _, result) = try handshake(credentials: credentials)
        #expect(try result.get().qualifiedName == "CORP\\alice")
    }

    @Test func ntlmv1RefusedByDefaultAndAcceptedWhenEnabled() throws {
        let credentials = NTLMCredentials(user: "alice", domain: "CORP", password: "Secret1!")
        let v1 = NTLMInitiatorPolicy(responseMode: .ntlmv1)
        let (_, _, refused) = try handshake(credentials: credentials, initiatorPolicy: v1)
        #expect(throws: NTLMRejection.ntlmv1Refused) { try refused.get() }
        let (initiator, acceptor, accepted) = try handshake(
            credentials: credentials, initiatorPolicy: v1,
            acceptorPolicy: NTLMAcceptorPolicy(netbiosDomain: "CORP", allowNTLMv1: true))
        #expect(try accepted.get().kind == .ntlmv1ExtendedSessionSecurity)
        #expect(initiator.session?.exportedSessionKey == acceptor.session?.exportedSessionKey)
    }

    @Test func tamperedMICIsRejected() throws {
        let credentials = NTLMCredentials(user: "alice", domain: "CORP", password: "Secret1!")
        var initiator = NTLMInitiator(credentials: credentials)
        var acceptor = NTLMAcceptor(policy: NTLMAcceptorPolicy(netbiosDomain: "CORP"))
        let type2 = try acceptor.challenge(negotiate: initiator.negotiate())
        var type3 = try initiator.authenticate(challenge: type2)
        type3[AuthenticateMessage.micOffset] ^= 0x01
        #expect(throws: NTLMRejection.micInvalid) { try acceptor.accept(authenticate: type3, verifier: Self.store) }
    }

    @Test func type1IsFortyBytesWithVersion() {
        var initiator = NTLMInitiator(credentials: NTLMCredentials(user: "u", domain: "d", password: "p"))
        let type1 = initiator.negotiate()
        #expect(type1.count == 40)
        #expect(NegotiateFlags(rawValue: UInt32(type1[12]) | UInt32(type1[13]) << 8 | UInt32(type1[14]) << 16 | UInt32(type1[15]) << 24).contains(.version))
    }

    @Test func acceptorTakesCurls32ByteType1() throws {
        // curl 7.88's Type 1, exactly as it sends it: no Version field, 32 bytes.
        let curlType1: [UInt8] = [
            0x4E, 0x54, 0x4C, 0x4D, 0x53, 0x53, 0x50, 0x00, 0x01, 0x00, 0x00, 0x00, 0x06, 0x82, 0x08, 0x00,
            0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
        ]
        #expect(curlType1.count == 32)
        let parsed = try NegotiateMessage(bytes: curlType1)
        #expect(parsed.version == nil)
        var acceptor = NTLMAcceptor(policy: NTLMAcceptorPolicy(netbiosDomain: "CORP"))
        let type2 = try acceptor.challenge(negotiate: curlType1)
        // curl asks for OEM strings (flags 0x00088206), so the challenge answers in OEM.
        let challengeFlags = try ChallengeMessage(bytes: type2).flags
        #expect(challengeFlags.contains(.oem) && !challengeFlags.contains(.unicode))
        // And a whole handshake whose Type 1 is the 32-byte form, MIC included.
        let credentials = NTLMCredentials(user: "alice", domain: "CORP", password: "Secret1!")
        let (_, _, result) = try handshake(credentials: credentials, initiatorPolicy: NTLMInitiatorPolicy(version: nil))
        #expect(try result.get().qualifiedName == "CORP\\alice")
    }
}
