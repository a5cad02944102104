/// The server side of an NTLM handshake: answers a Type 1 with a Type 2, then checks the
/// Type 3 with a verifier.
///
/// Verification is split in two so that a slow verifier (a helper process talking to a
/// domain controller) can run asynchronously: `beginVerification` parses the Type 3 and
/// applies the policy (anonymous, v1/LM, timestamp window, channel bindings) before anyone
/// is asked; `completeVerification` derives the session key and checks the MIC with what
/// the verifier returned. `accept(authenticate:verifier:)` does both.
public struct NTLMAcceptor: Sendable {
    enum State: Sendable {
        case initial
        case challenged(type1: [UInt8], type2: [UInt8], serverChallenge: [UInt8], now: UInt64)
        case verifying(Pending)
        case complete
        case failed
    }

    struct Pending: Sendable {
        var type1: [UInt8]
        var type2: [UInt8]
        var type3: [UInt8]
        var message: AuthenticateMessage
        var request: NTLMVerificationRequest
        var micRequired: Bool
    }

    public let policy: NTLMAcceptorPolicy
    /// The signing/sealing context once the handshake completed.
    public internal(set) var session: NTLMSession?
    /// The messages of the current handshake as parsed or sent, for logs (flags, names); each
    /// is set once the acceptor has parsed or built it.
    public private(set) var negotiateMessage: NegotiateMessage?
    public private(set) var challengeMessage: ChallengeMessage?
    public private(set) var authenticateMessage: AuthenticateMessage?
    private var state: State = .initial

    public init(policy: NTLMAcceptorPolicy = .default) {
        self.policy = policy
    }

    /// The CHALLENGE_MESSAGE answering `negotiate` (32- or 40-byte Type 1). Restarts the
    /// handshake if one was under way.
    public mutating func challenge(negotiate: [UInt8]) throws(NTLMRejection) -> [UInt8] {
        try challenge(negotiate: negotiate, serverChallenge: NTLMCrypto.randomBytes(8), now: FileTime.now())
    }

    mutating func challenge(negotiate: [UInt8], serverChallenge: [UInt8], now: UInt64) throws(NTLMRejection) -> [UInt8] {
        session = nil
        negotiateMessage = nil
        challengeMessage = nil
        authenticateMessage = nil
        guard negotiate.count <= policy.maximumMessageBytes else {
            state = .failed
            throw .malformed(.tooLarge(field: "NEGOTIATE_MESSAGE", length: negotiate.count, limit: policy.maximumMessageBytes))
        }
        let request: NegotiateMessage
        do {
            request = try NegotiateMessage(bytes: negotiate)
        } catch {
            state = .failed
            throw .malformed(error)
        }
        negotiateMessage = request
        let flags = challengeFlags(for: request.flags)
        var info = TargetInfo()
        info.set(.nbDomainName, TextEncoding.utf16LE(policy.netbiosDomain))
        info.set(.nbComputerName, TextEncoding.utf16LE(policy.netbiosComputer))
        if !policy.dnsDomain.isEmpty { info.set(.dnsDomainName, TextEncoding.utf16LE(policy.dnsDomain)) }
        if !policy.dnsComputer.isEmpty { info.set(.dnsComputerName, TextEncoding.utf16LE(policy.dnsComputer)) }
        var timestamp = WireWriter(capacity: 8)
        timestamp.append(now)
        info.set(.timestamp, timestamp.bytes)
        let message: ChallengeMessage
        do {
            message = try ChallengeMessage(flags: flags, targetName: policy.netbiosDomain, serverChallenge: serverChallenge, targetInfo: info, version: policy.version)
        } catch {
            state = .failed
            throw .malformed(error)
        }
        let bytes = message.serialize()
        challengeMessage = message
        state = .challenged(type1: negotiate, type2: bytes, serverChallenge: serverChallenge, now: now)
        return bytes
    }

    /// The Type 2 flags: what we always set, plus what the client asked for and we support.
    func challengeFlags(for requested: NegotiateFlags) -> NegotiateFlags {
        var flags: NegotiateFlags = [.requestTarget, .ntlm, .targetTypeDomain, .targetInfo, .version]
        flags.formUnion(requested.intersection([.sign, .seal, .alwaysSign, .extendedSessionSecurity, .negotiate128, .negotiate56, .keyExchange, .identify]))
        flags.insert(requested.contains(.unicode) || !requested.contains(.oem) ? .unicode : .oem)
        if policy.allowLM && requested.contains(.lmKey) && !flags.contains(.extendedSessionSecurity) {
            flags.insert(.lmKey)
        }
        return flags
    }

    /// Parses the AUTHENTICATE_MESSAGE and applies the policy. Returns what the verifier
    /// must check.
    public mutating func beginVerification(authenticate bytes: [UInt8]) throws(NTLMRejection) -> NTLMVerificationRequest {
        try beginVerification(authenticate: bytes, now: FileTime.now())
    }

    mutating func beginVerification(authenticate bytes: [UInt8], now: UInt64) throws(NTLMRejection) -> NTLMVerificationRequest {
        guard case .challenged(let type1, let type2, let serverChallenge, _) = state else {
            state = .failed
            throw .unexpectedMessage("AUTHENTICATE_MESSAGE without a preceding CHALLENGE_MESSAGE")
        }
        state = .failed
        guard bytes.count <= policy.maximumMessageBytes else {
            throw .malformed(.tooLarge(field: "AUTHENTICATE_MESSAGE", length: bytes.count, limit: policy.maximumMessageBytes))
        }
        let message: AuthenticateMessage
        do {
            message = try AuthenticateMessage(bytes: bytes)
        } catch {
            throw .malformed(error)
        }
        authenticateMessage = message
        let nt = message.ntChallengeResponse
        let lm = message.lmChallengeResponse

        // MS-NLMP 3.2.5.1.2: anonymous is an empty user with an empty NT response and an
        // LM response that is empty or a single zero byte.
        if message.user.isEmpty && nt.isEmpty && (lm.isEmpty || lm == [0]) {
            throw .anonymousRefused
        }

        let kind: NTLMVerificationRequest.ResponseKind
        var micRequired = false
        switch nt.count {
        case 0:
            guard policy.allowLM else { throw .lmRefused }
            kind = .lm
        case 24:
            guard policy.allowNTLMv1 else { throw .ntlmv1Refused }
            let essLM = lm.count == 24 && lm[8..<24].allSatisfy { $0 == 0 }
            kind = message.flags.contains(.extendedSessionSecurity) && essLM ? .ntlmv1ExtendedSessionSecurity : .ntlmv1
        default:
            // NTProofStr (16) + RespType, HiRespType, Z(6), time (8), client challenge (8), Z(4).
            guard nt.count >= 16 + 28 else {
                throw .malformed(.invalidFieldLength(field: "NtChallengeResponse", length: nt.count))
            }
            let blobInfo: TargetInfo
            do {
                blobInfo = try TargetInfo(bytes: Array(nt[44...]))
            } catch {
                throw .malformed(error)
            }
            var timeReader = WireReader(nt, offset: 24)
            let timestamp = (try? timeReader.readUInt64("NTLMv2 TimeStamp")) ?? 0
            let (product, overflow) = policy.timestampWindowSeconds.multipliedReportingOverflow(by: 10_000_000)
            let window = overflow ? UInt64.max : product
            let distance = timestamp > now ? timestamp - now : now - timestamp
            guard distance <= window else { throw .timestampOutOfWindow }
            try checkChannelBindings(blobInfo.channelBindings)
            micRequired = blobInfo.flags?.contains(.micPresent) ?? false
            if micRequired && message.mic == nil { throw .micMissing }
            kind = .ntlmv2
        }
        if kind != .ntlmv2 { try checkChannelBindings(nil) }

        let defaultDomain = policy.defaultDomain ?? policy.netbiosDomain
        let request = NTLMVerificationRequest(
            user: message.user, domain: message.domain,
            lookupDomain: message.domain.isEmpty ? defaultDomain : message.domain,
            workstation: message.workstation, serverChallenge: serverChallenge,
            lmChallengeResponse: lm, ntChallengeResponse: nt, flags: message.flags, kind: kind)
        state = .verifying(Pending(type1: type1, type2: type2, type3: bytes, message: message, request: request, micRequired: micRequired))
        return request
    }

    private func checkChannelBindings(_ sent: [UInt8]?) throws(NTLMRejection) {
        let absent = sent.map { $0.allSatisfy { $0 == 0 } } ?? true
        switch policy.channelBindings {
        case .ignore:
            return
        case .whenSupported(let expected):
            if absent { return }
            guard let sent, constantTimeEqual(sent, expected.hash) else { throw .channelBindingsMismatch }
        case .required(let expected):
            guard let sent, !absent, constantTimeEqual(sent, expected.hash) else { throw .channelBindingsMismatch }
        }
    }

    /// Finishes the handshake with the verifier's answer: derives the ExportedSessionKey,
    /// checks the MIC and sets up `session`.
    public mutating func completeVerification(_ verified: NTLMVerifiedUser) throws(NTLMRejection) -> NTLMAuthenticatedUser {
        guard case .verifying(let pending) = state else {
            state = .failed
            throw .unexpectedMessage("completeVerification without a pending AUTHENTICATE_MESSAGE")
        }
        state = .failed
        let message = pending.message
        let flags = message.flags
        var exportedKey: [UInt8]? = nil
        // NTLMv1 with LM_KEY derives the key from the LM hash (MS-NLMP 3.4.5.1); a verifier
        // that cannot provide it (a domain without LM hashes) leaves no key at all rather than
        // a wrong one: no signing, and no MIC can be checked (NTLMv1 carries none anyway).
        let lmKeyUnknown = pending.request.kind != .ntlmv2 && flags.contains(.lmKey) && verified.lmSessionKey == nil
        if let sessionBaseKey = verified.sessionBaseKey?.bytes, !lmKeyUnknown {
            let keyExchangeKey: [UInt8]
            if pending.request.kind == .ntlmv2 {
                keyExchangeKey = sessionBaseKey
            } else {
                do {
                    keyExchangeKey = try NTLMCrypto.keyExchangeKeyV1(
                        flags: flags, sessionBaseKey: sessionBaseKey, lmChallengeResponse: message.lmChallengeResponse,
                        serverChallenge: pending.request.serverChallenge, lmHash: verified.lmSessionKey.map { $0.bytes + [0, 0, 0, 0, 0, 0, 0, 0] })
                } catch {
                    throw .malformed(error)
                }
            }
            if flags.contains(.keyExchange) && message.encryptedRandomSessionKey.count == 16 {
                exportedKey = RC4.apply(key: keyExchangeKey, to: message.encryptedRandomSessionKey)
            } else {
                exportedKey = keyExchangeKey
            }
        }
        if pending.micRequired {
            guard let exportedKey, let mic = message.mic else { throw .micInvalid }
            let expected = NTLMCrypto.mic(exportedSessionKey: exportedKey, negotiate: pending.type1, challenge: pending.type2, authenticate: pending.type3)
            guard constantTimeEqual(expected, mic) else { throw .micInvalid }
        }
        if let exportedKey {
            session = NTLMSession(role: .acceptor, flags: flags, exportedSessionKey: SessionKey(bytes: exportedKey))
        }
        state = .complete
        return NTLMAuthenticatedUser(user: verified.user, domain: verified.domain, workstation: message.workstation, kind: pending.request.kind, flags: flags)
    }

    /// Verifies a Type 3 with a verifier that may do I/O.
    public mutating func accept(authenticate bytes: [UInt8], verifier: some NTLMVerifier) async throws(NTLMRejection) -> NTLMAuthenticatedUser {
        let request = try beginVerification(authenticate: bytes)
        let verified: NTLMVerifiedUser
        do {
            verified = try await verifier.verify(request)
        } catch {
            state = .failed
            throw error
        }
        return try completeVerification(verified)
    }

    /// Verifies a Type 3 with a synchronous verifier such as `NTLMUserStore`.
    public mutating func accept(authenticate bytes: [UInt8], verifier: some NTLMSynchronousVerifier) throws(NTLMRejection) -> NTLMAuthenticatedUser {
        try accept(authenticate: bytes, verifier: verifier, now: FileTime.now())
    }

    mutating func accept(authenticate bytes: [UInt8], verifier: some NTLMSynchronousVerifier, now: UInt64) throws(NTLMRejection) -> NTLMAuthenticatedUser {
        let request = try beginVerification(authenticate: bytes, now: now)
        let verified: NTLMVerifiedUser
        do {
            verified = try verifier.verifySynchronously(request)
        } catch {
            state = .failed
            throw error
        }
        return try completeVerification(verified)
    }
}

/// The outcome of a successful NTLM authentication.
public struct NTLMAuthenticatedUser: Hashable, Sendable, CustomStringConvertible {
    public var user: String
    public var domain: String
    public var workstation: String
    public var kind: NTLMVerificationRequest.ResponseKind
    public var flags: NegotiateFlags

    /// `DOMAIN\user`, the form Windows and the identity header use.
    public var qualifiedName: String { domain.isEmpty ? user : "\(domain)\\\(user)" }
    public var description: String { qualifiedName }
}
