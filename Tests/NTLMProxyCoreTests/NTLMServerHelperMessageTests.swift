import NTLMTestSupport
import Crypto
import NIOCore
import NIOEmbedded
import NTLM
import NTLMHTTP
import Testing
@testable import NTLMProxyCore

@Suite("ntlm_auth ntlm-server-1 messages")
struct NTLMServerHelperMessageTests {
    static let challenge: [UInt8] = [0x01, 0x23, 0x45, 0x67, 0x89, 0xAB, 0xCD, 0xEF]
    static let ntResponse: [UInt8] = Array(0..<48)
    static let lmResponse: [UInt8] = Array(repeating: 0, count: 24)

    static func text(_ request: NTLMServerHelperRequest) throws -> String {
        String(decoding: try request.encoded(), as: UTF8.self)
    }

    /// The lines of an answer as ntlm_auth writes them, without the final ".".
    static func lines(_ text: String) -> [[UInt8]] {
        text.split(separator: "\n", omittingEmptySubsequences: false).map { Array($0.utf8) }
    }

    // MARK: encoding

    @Test func encodesChallengeResponse() throws {
        let request = NTLMServerHelperRequest(user: "alice", domain: "NTLMTEST",
                                              proof: .challengeResponse(challenge: Self.challenge, lmResponse: Self.lmResponse, ntResponse: Self.ntResponse))
        let expected = """
            Username: alice
            NT-Domain: NTLMTEST
            LANMAN-Challenge: 0123456789abcdef
            NT-Response: \(HexCoding.encode(Self.ntResponse))
            LANMAN-Response: \(String(repeating: "00", count: 24))
            Request-User-Session-Key: Yes
            .

            """
        #expect(try Self.text(request) == expected)
    }

    @Test func encodesFromAnAcceptorsVerificationRequest() throws {
        var initiator = NTLMInitiator(credentials: NTLMCredentials(user: "alice", domain: "NTLMTEST", workstation: "WS1", password: "Alice-Pass1"))
        var acceptor = NTLMAcceptor(policy: NTLMAcceptorPolicy(netbiosDomain: "NTLMTEST"))
        let type2 = try acceptor.challenge(negotiate: initiator.negotiate())
        let verification = try acceptor.beginVerification(authenticate: initiator.authenticate(challenge: type2))
        let request = NTLMServerHelperRequest(verification)
        #expect(request.requestsUserSessionKey)
        #expect(!request.requestsLMSessionKey)
        let text = try Self.text(request)
        #expect(text.hasPrefix("Username: alice\nNT-Domain: NTLMTEST\nLANMAN-Challenge: \(HexCoding.encode(verification.serverChallenge))\n"))
        #expect(text.contains("NT-Response: \(HexCoding.encode(verification.ntChallengeResponse))\n"))
        #expect(text.hasSuffix("Request-User-Session-Key: Yes\n.\n"))
    }

    /// The LM session key is asked for only where the NTLMv1 key exchange needs the LM hash.
    @Test(arguments: [(false, true), (true, false)])
    func asksForTheLMSessionKeyOnlyForNTLMv1WithLMKey(extendedSessionSecurity: Bool, expected: Bool) throws {
        var flags = NegotiateFlags.initiatorDefault
        if extendedSessionSecurity { flags.insert(.extendedSessionSecurity) } else { flags.remove(.extendedSessionSecurity) }
        flags.insert(.lmKey)
        var initiator = NTLMInitiator(credentials: NTLMCredentials(user: "alice", domain: "NTLMTEST", password: "Alice-Pass1"),
                                      policy: NTLMInitiatorPolicy(responseMode: .ntlmv1WithLM, flags: flags))
        var acceptor = NTLMAcceptor(policy: NTLMAcceptorPolicy(netbiosDomain: "NTLMTEST", allowNTLMv1: true, allowLM: true))
        let type2 = try acceptor.challenge(negotiate: initiator.negotiate())
        let verification = try acceptor.beginVerification(authenticate: initiator.authenticate(challenge: type2))
        #expect(verification.kind == (extendedSessionSecurity ? .ntlmv1ExtendedSessionSecurity : .ntlmv1))
        let request = NTLMServerHelperRequest(verification)
        #expect(request.requestsLMSessionKey == expected)
        let text = try Self.text(request)
        #expect(text.contains("Request-LanMan-Session-Key: Yes") == expected)
        // winbindd takes the challenge as given: with ESS it must be the one the NT response
        // answers, MD5(ServerChallenge || ClientChallenge)[0..8], and the LM field stays out.
        var md5 = Insecure.MD5()
        md5.update(data: verification.serverChallenge + verification.lmChallengeResponse.prefix(8))
        let sessionChallenge = Array(md5.finalize().prefix(8))
        let challenge = extendedSessionSecurity ? sessionChallenge : verification.serverChallenge
        #expect(verification.effectiveChallenge == challenge)
        #expect(text.contains("LANMAN-Challenge: \(HexCoding.encode(challenge))\n"))
        #expect(text.contains("LANMAN-Response") == !extendedSessionSecurity)
    }

    @Test func nonASCIIUserGoesAsBase64() throws {
        let request = NTLMServerHelperRequest(user: "jürgen", domain: "NTLMTEST",
                                              proof: .challengeResponse(challenge: Self.challenge, lmResponse: [], ntResponse: Self.ntResponse))
        let text = try Self.text(request)
        // base64("jürgen") in UTF-8
        #expect(text.hasPrefix("Username:: asO8cmdlbg==\nNT-Domain: NTLMTEST\n"))
        #expect(!text.contains("LANMAN-Response"))
    }

    @Test func plaintextLogon() throws {
        #expect(try Self.text(NTLMServerHelperRequest(user: "alice", domain: "NTLMTEST", password: "Alice-Pass1"))
                == "Username: alice\nNT-Domain: NTLMTEST\nPassword: Alice-Pass1\n.\n")
        // A colon could be taken for the separator; spaces at the ends could be lost.
        #expect(try Self.text(NTLMServerHelperRequest(user: "alice", domain: "NTLMTEST", password: "a:: b"))
                == "Username: alice\nNT-Domain: NTLMTEST\nPassword:: YTo6IGI=\n.\n")
        #expect(try Self.text(NTLMServerHelperRequest(user: "alice", domain: "NTLMTEST", password: " x"))
                == "Username: alice\nNT-Domain: NTLMTEST\nPassword:: IHg=\n.\n")
        // No domain: a full user name without separator (ntlm_auth would make "(null)\alice").
        #expect(try Self.text(NTLMServerHelperRequest(user: "alice", domain: "", password: "pw")) == "Full-Username: alice\nPassword: pw\n.\n")
    }

    @Test func lmSessionKeyOnlyWhenAsked() throws {
        let request = NTLMServerHelperRequest(user: "bob", domain: "D", proof: .challengeResponse(challenge: Self.challenge, lmResponse: Self.lmResponse, ntResponse: Array(repeating: 7, count: 24)),
                                              requestsUserSessionKey: true, requestsLMSessionKey: true)
        #expect(try Self.text(request).hasSuffix("Request-User-Session-Key: Yes\nRequest-LanMan-Session-Key: Yes\n.\n"))
    }

    @Test func emptyDomainIsLeftOutOfChallengeResponse() throws {
        let request = NTLMServerHelperRequest(user: "alice", domain: "", proof: .challengeResponse(challenge: Self.challenge, lmResponse: [], ntResponse: Self.ntResponse))
        #expect(!(try Self.text(request)).contains("NT-Domain"))
    }

    @Test func refusesWhatTheHelperWouldAnswerOutOfTurn() {
        func request(challenge: [UInt8] = Self.challenge, lm: [UInt8] = [], nt: [UInt8] = Self.ntResponse, user: String = "alice") -> NTLMServerHelperRequest {
            NTLMServerHelperRequest(user: user, domain: "D", proof: .challengeResponse(challenge: challenge, lmResponse: lm, ntResponse: nt))
        }
        #expect(throws: NTLMServerHelperError.invalidLength(field: "LANMAN-Challenge", length: 7)) { try request(challenge: [1, 2, 3, 4, 5, 6, 7]).encoded() }
        #expect(throws: NTLMServerHelperError.invalidLength(field: "NT-Response", length: 16)) { try request(nt: Array(repeating: 1, count: 16)).encoded() }
        #expect(throws: NTLMServerHelperError.missingResponse) { try request(lm: [1, 2], nt: []).encoded() }
        #expect(throws: NTLMServerHelperError.invalidValue(field: "Username")) { try request(user: "al\u{0}ice").encoded() }
        #expect(throws: NTLMServerHelperError.invalidValue(field: "Username")) { try request(user: "").encoded() }
        #expect(throws: NTLMServerHelperError.invalidValue(field: "Password")) {
            try NTLMServerHelperRequest(user: "alice", domain: "D", password: "pw\u{0}junk").encoded()
        }
        // Only the LM response: sent when it is 24 bytes.
        #expect((try? request(lm: Self.lmResponse, nt: []).encoded()) != nil)
    }

    @Test func descriptionShowsNoSecret() {
        let request = NTLMServerHelperRequest(user: "alice", domain: "D", password: "Secret-Pass9")
        let crap = NTLMServerHelperRequest(user: "alice", domain: "D", proof: .challengeResponse(challenge: Self.challenge, lmResponse: [], ntResponse: Self.ntResponse))
        for text in ["\(request)", String(reflecting: request), "\(crap)", String(reflecting: crap)] {
            #expect(!text.contains("Secret-Pass9"))
            #expect(!text.contains("0123456789"))
            #expect(text.contains("alice"))
        }
    }

    // MARK: parsing answers

    @Test func parsesSuccessWithSessionKeys() throws {
        let answer = try NTLMServerHelperAnswer(lines: Self.lines("""
            Authenticated: Yes
            LANMAN-Session-Key: 7B03C78A095F9857
            User-Session-Key: 7B03C78A095F98572511DC479737772B
            """))
        #expect(answer.authenticated == true)
        #expect(answer.userSessionKey?.bytes == HexCoding.decode("7b03c78a095f98572511dc479737772b"))
        #expect(answer.lmSessionKey?.bytes == HexCoding.decode("7b03c78a095f9857"))
        #expect(!answer.leavesHelperOutOfStep)
        let request = NTLMServerHelperRequest(user: "alice", domain: "NTLMTEST", proof: .challengeResponse(challenge: Self.challenge, lmResponse: [], ntResponse: Self.ntResponse))
        let verified = try answer.outcome(for: request, requireGroup: nil).get()
        #expect(verified == NTLMVerifiedUser(user: "alice", domain: "NTLMTEST", sessionBaseKey: answer.userSessionKey, lmSessionKey: answer.lmSessionKey))
    }

    @Test func plaintextSuccessHasNoKey() throws {
        let answer = try NTLMServerHelperAnswer(lines: [Array("Authenticated: Yes".utf8)])
        let verified = try answer.outcome(for: NTLMServerHelperRequest(user: "alice", domain: "NTLMTEST", password: "x"), requireGroup: nil).get()
        #expect(verified == NTLMVerifiedUser(user: "alice", domain: "NTLMTEST", sessionBaseKey: nil))
    }

    /// Every kind of refusal, with the texts Samba 4.17's ntlm_auth prints (as seen from a
    /// real winbindd), the legacy short texts and bare NTSTATUS names.
    @Test(arguments: [
        ("When trying to update a password, this return status indicates that the value provided as the current password is not correct.", nil,
         NTLMRejection.invalidResponse(domain: "NTLMTEST", user: "alice")),
        ("Wrong Password", nil, .invalidResponse(domain: "NTLMTEST", user: "alice")),
        ("The specified account does not exist.", nil, .unknownUser(domain: "NTLMTEST", user: "alice")),
        ("NT_STATUS_NO_SUCH_USER", nil, .unknownUser(domain: "NTLMTEST", user: "alice")),
        ("The specified domain did not exist.", nil, .unknownUser(domain: "NTLMTEST", user: "alice")),
        ("The attempted logon is invalid. This is either due to a bad username or authentication information.", "NTLMTEST\\webusers",
         .accessDenied("not a member of NTLMTEST\\webusers (NT_STATUS_LOGON_FAILURE)")),
        ("The attempted logon is invalid. This is either due to a bad username or authentication information.", nil,
         .invalidResponse(domain: "NTLMTEST", user: "alice")),
        ("The referenced account is currently disabled and cannot be logged on to.", nil, .accessDenied("account disabled")),
        ("Account disabled", nil, .accessDenied("account disabled")),
        ("The user account has been automatically locked because too many invalid logon attempts or password change attempts have been requested.", nil,
         .accessDenied("account locked out")),
        ("The user account has expired.", nil, .accessDenied("account expired")),
        ("The user account password has expired.", nil, .accessDenied("password expired")),
        ("The user password must be changed before logging on the first time.", nil, .accessDenied("password must be changed")),
        ("The user account has time restrictions and cannot be logged onto at this time.", nil, .accessDenied("outside the account's logon hours")),
        ("The user account is restricted so that it cannot be used to log on from the source workstation.", nil, .accessDenied("not allowed from this workstation")),
        ("logon failed: NT_STATUS_ACCOUNT_RESTRICTION", nil, .accessDenied("account restriction")),
        ("No logon servers are currently available to service the logon request.", nil, .verifierUnavailable("no logon servers for domain NTLMTEST")),
        ("Reading winbind reply failed!", nil, .verifierUnavailable("ntlm_auth cannot reach winbindd")),
        ("(null)", "NTLMTEST\\nosuchgroup", .verifierUnavailable("ntlm_auth cannot resolve the required group NTLMTEST\\nosuchgroup")),
        ("Something new", nil, .verifierUnavailable("ntlm_auth: Something new")),
    ] as [(String, String?, NTLMRejection)])
    func mapsRefusals(text: String, requireGroup: String?, expected: NTLMRejection) throws {
        let answer = try NTLMServerHelperAnswer(lines: [Array("Authenticated: No".utf8), Array("Authentication-Error: \(text)".utf8)])
        let request = NTLMServerHelperRequest(user: "alice", domain: "NTLMTEST", proof: .challengeResponse(challenge: Self.challenge, lmResponse: [], ntResponse: Self.ntResponse))
        #expect(answer.outcome(for: request, requireGroup: requireGroup) == .failure(expected))
    }

    @Test func plaintextRefusalIsAWrongPassword() throws {
        let answer = try NTLMServerHelperAnswer(lines: [Array("Authenticated: No".utf8)])
        #expect(answer.outcome(for: NTLMServerHelperRequest(user: "bob", domain: "NTLMTEST", password: "x"), requireGroup: nil)
                == .failure(.invalidResponse(domain: "NTLMTEST", user: "bob")))
    }

    @Test func errorAnswerIsUnavailableAndRetiresTheHelper() throws {
        // ntlm_auth echoes the hex of a field it could not decode: it must not reach the error.
        let answer = try NTLMServerHelperAnswer(lines: [Array("Error: hex decode of 0011223344556677889900aabbccddeeff failed! (got 17 bytes, expected 8)".utf8)])
        #expect(answer.leavesHelperOutOfStep)
        let result = answer.outcome(for: NTLMServerHelperRequest(user: "a", domain: "D", password: "x"), requireGroup: nil)
        #expect(result == .failure(.verifierUnavailable("ntlm_auth refused the request: hex decode of [hex] failed! (got 17 bytes, expected 8)")))
    }

    @Test func base64ValuesAndUnknownKeys() throws {
        let answer = try NTLMServerHelperAnswer(lines: [Array("Authenticated: No".utf8), Array("X-Future: whatever".utf8),
                                                        Array("Authentication-Error:: \("No such user".utf8.base64)".utf8)])
        #expect(answer.authenticationError == "No such user")
    }

    @Test(arguments: [
        (["Authenticated: Maybe"], NTLMServerHelperError.missingVerdict),
        (["User-Session-Key: 00"], .invalidSessionKey(field: "User-Session-Key")),
        (["Authenticated: Yes", "User-Session-Key: zz112233445566778899aabbccddeeff"], .invalidSessionKey(field: "User-Session-Key")),
        (["Authenticated: Yes", "LANMAN-Session-Key: 001122334455667788"], .invalidSessionKey(field: "LANMAN-Session-Key")),
        (["Authenticated: Yes", "Authenticated: No"], .duplicateKey("Authenticated")),
        (["no separator here"], .malformedLine),
        ([": value without key"], .malformedLine),
        (["Authenticated:: !!!"], .malformedLine),
        (["X-Only: unknown"], .missingVerdict),
    ] as [([String], NTLMServerHelperError)])
    func refusesMalformedAnswers(lines: [String], expected: NTLMServerHelperError) {
        #expect(throws: expected) { try NTLMServerHelperAnswer(lines: lines.map { Array($0.utf8) }) }
    }

    @Test func hostileAnswersThrowInsteadOfTrapping() {
        #expect(throws: NTLMServerHelperError.lineTooLong(limit: NTLMServerHelperAnswer.maximumLineBytes)) {
            try NTLMServerHelperAnswer(lines: [Array("Authentication-Error: ".utf8) + Array(repeating: UInt8(ascii: "A"), count: 100_000)])
        }
        #expect(throws: NTLMServerHelperError.tooManyLines(limit: NTLMServerHelperAnswer.maximumLines)) {
            try NTLMServerHelperAnswer(lines: Array(repeating: Array("X: y".utf8), count: 1000))
        }
        #expect(throws: NTLMServerHelperError.notText) { try NTLMServerHelperAnswer(lines: [[0xFF, 0xFE, 0x3A, 0x20, 0x00]]) }
        #expect(throws: NTLMServerHelperError.notText) { try NTLMServerHelperAnswer(lines: [Array("Authenticated: Yes\u{1B}[2J".utf8)]) }
        // Random bytes, split into lines anywhere: an error or an answer, never a trap.
        var generator = SplitMix64(seed: 0x5EED)
        for _ in 0..<2000 {
            let count = Int(generator.next() % 64)
            let bytes = (0..<count).map { _ in UInt8(truncatingIfNeeded: generator.next()) }
            let lines = bytes.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false).map(Array.init)
            _ = try? NTLMServerHelperAnswer(lines: lines)
        }
    }

    @Test func sanitizingKeepsLogLinesShortAndFreeOfHex() {
        #expect(NTLMServerHelperAnswer.sanitized("key 00112233445566778899AABBCCDDEEFF end") == "key [hex] end")
        #expect(NTLMServerHelperAnswer.sanitized("short abcdef12 stays") == "short abcdef12 stays")
        #expect(NTLMServerHelperAnswer.sanitized("tab\tand ü") == "tab?and ?")
        #expect(NTLMServerHelperAnswer.sanitized(String(repeating: "z", count: 10_000)).count == 163)
    }

    @Test func classifiesStatusTexts() {
        #expect(NTLMServerHelperStatus(authenticationError: "  wrong password ") == .wrongPassword)
        #expect(NTLMServerHelperStatus(authenticationError: "failed with NT_STATUS_ACCOUNT_LOCKED_OUT (0xc0000234)") == .accountLockedOut)
        #expect(NTLMServerHelperStatus(authenticationError: "new text 00112233445566778899aabbccddeeff") == .other("new text [hex]"))
    }

    // MARK: the conversation

    @Test func conversationSkipsTheSecondTerminatorOfAFailure() {
        var conversation = HelperConversation()
        let first = conversation.requestSent()
        #expect(first)
        let second = conversation.requestSent()
        #expect(!second)
        #expect(conversation.lineReceived(Array("Authenticated: No".utf8)) == .none)
        #expect(conversation.lineReceived(Array("Authentication-Error: The specified account does not exist.".utf8)) == .none)
        let expected = NTLMServerHelperAnswer(authenticated: false, authenticationError: "The specified account does not exist.")
        #expect(conversation.lineReceived(Array(".".utf8)) == .complete(.answered(expected)))
        // The extra "." while idle...
        #expect(conversation.lineReceived(Array(".".utf8)) == .none)
        #expect(conversation.isIdle)
        // ... or arriving after the next request went out.
        let next = conversation.requestSent()
        #expect(next)
        #expect(conversation.lineReceived(Array(".".utf8)) == .none)
        #expect(conversation.lineReceived(Array("Authenticated: Yes".utf8)) == .none)
        #expect(conversation.lineReceived(Array(".".utf8)) == .complete(.answered(NTLMServerHelperAnswer(authenticated: true))))
    }

    @Test func conversationGivesUpOnUnsolicitedOutputAndExits() {
        var idle = HelperConversation()
        #expect(idle.lineReceived(Array("Authenticated: Yes".utf8)) == .discard(.unsolicitedOutput))
        #expect(idle.state == .dead)
        let accepted = idle.requestSent()
        #expect(!accepted)

        var awaiting = HelperConversation()
        _ = awaiting.requestSent()
        _ = awaiting.lineReceived(Array("Authenticated: Yes".utf8))
        // No terminator, then EOF: no answer, the helper exited.
        #expect(awaiting.closed() == .complete(.exited))
        #expect(awaiting.closed() == .none)

        var slow = HelperConversation()
        #expect(slow.timedOut() == .none)
        _ = slow.requestSent()
        #expect(slow.timedOut() == .complete(.timedOut))
        #expect(slow.lineReceived(Array("Authenticated: Yes".utf8)) == .none)
    }

    @Test func conversationBoundsTheLinesOfAnAnswer() {
        var conversation = HelperConversation()
        _ = conversation.requestSent()
        var last = HelperConversation.Action.none
        for _ in 0...NTLMServerHelperAnswer.maximumLines {
            last = conversation.lineReceived(Array("X-Noise: 1".utf8))
        }
        #expect(last == .complete(.failed(.tooManyLines(limit: NTLMServerHelperAnswer.maximumLines))))
    }

    @Test func conversationReportsGarbageAnswers() {
        var conversation = HelperConversation()
        _ = conversation.requestSent()
        _ = conversation.lineReceived([0x00, 0x01, 0x02])
        #expect(conversation.lineReceived(Array(".".utf8)) == .complete(.failed(.notText)))
    }

    // MARK: line framing

    @Test func lineDecoderSplitsAndStripsCarriageReturns() throws {
        let channel = EmbeddedChannel(handler: ByteToMessageHandler(HelperLineDecoder(maximumLength: 16, failOnOverlongLine: true)))
        try channel.writeInbound(ByteBuffer(string: "Authenticated: Y"))
        #expect(try channel.readInbound(as: ByteBuffer.self) == nil)
        try channel.writeInbound(ByteBuffer(string: "\n.\r\nrest"))
        #expect(try channel.readInbound(as: ByteBuffer.self) == ByteBuffer(string: "Authenticated: Y"))
        #expect(try channel.readInbound(as: ByteBuffer.self) == ByteBuffer(string: "."))
        #expect(try channel.readInbound(as: ByteBuffer.self) == nil)
        // A partial line at EOF is dropped.
        _ = try channel.finish()
        #expect(try channel.readInbound(as: ByteBuffer.self) == nil)
    }

    @Test func lineDecoderFailsOnAnOverlongLineWithoutEnd() throws {
        let channel = EmbeddedChannel(handler: ByteToMessageHandler(HelperLineDecoder(maximumLength: 16, failOnOverlongLine: true)))
        #expect(throws: NTLMServerHelperError.lineTooLong(limit: 16)) {
            try channel.writeInbound(ByteBuffer(repeating: UInt8(ascii: "x"), count: 1_000))
        }
        _ = try? channel.finish()
    }

    @Test func lineDecoderFailsOnAnOverlongCompleteLine() throws {
        let channel = EmbeddedChannel(handler: ByteToMessageHandler(HelperLineDecoder(maximumLength: 16, failOnOverlongLine: true)))
        #expect(throws: NTLMServerHelperError.lineTooLong(limit: 16)) {
            try channel.writeInbound(ByteBuffer(string: String(repeating: "y", count: 17) + "\n"))
        }
        _ = try? channel.finish()
    }

    @Test func diagnosticLineDecoderTruncates() throws {
        let channel = EmbeddedChannel(handler: ByteToMessageHandler(HelperLineDecoder(maximumLength: 8, failOnOverlongLine: false)))
        try channel.writeInbound(ByteBuffer(string: "0123456789abcdef"))
        try channel.writeInbound(ByteBuffer(string: "more\nnext\n"))
        #expect(try channel.readInbound(as: ByteBuffer.self) == ByteBuffer(string: "01234567"))
        #expect(try channel.readInbound(as: ByteBuffer.self) == ByteBuffer(string: "next"))
        try channel.writeInbound(ByteBuffer(string: "a much longer line\n"))
        #expect(try channel.readInbound(as: ByteBuffer.self) == ByteBuffer(string: "a much l"))
        _ = try channel.finish()
    }

    @Test func diagnosticsDropLinesThatMayEchoARequest() {
        #expect(HelperDiagnosticsHandler.loggable(Array("Got 'Password: hunter2' from squid (length: 17).".utf8)) == nil)
        #expect(HelperDiagnosticsHandler.loggable(Array("plaintext PASSWORD check".utf8)) == nil)
        #expect(HelperDiagnosticsHandler.loggable(Array("Winbindd lookupname failed to resolve NTLMTEST\\nosuchgroup into a SID!".utf8))
                == "Winbindd lookupname failed to resolve NTLMTEST\\nosuchgroup into a SID!")
    }
}


extension Sequence where Element == UInt8 {
    fileprivate var base64: String { Base64.encode(Array(self)) }
}
