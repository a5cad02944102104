/// The client side of an NTLM handshake: produces the Type 1, then turns the server's
/// Type 2 into a Type 3.
///
/// ```swift
/// var initiator = NTLMInitiator(credentials: NTLMCredentials(user: "alice", domain: "CORP", password: "secret"))
/// let type1 = initiator.negotiate()                      // send in Authorization: NTLM ...
/// let type3 = try initiator.authenticate(challenge: type2) // the server's WWW-Authenticate
/// ```
public struct NTLMInitiator: Sendable {
    enum State: Sendable {
        case initial
        case negotiateSent(type1: [UInt8])
        case complete
    }

    public let credentials: NTLMCredentials
    public let policy: NTLMInitiatorPolicy
    /// Channel bindings of the TLS connection the handshake runs on, if any.
    public var channelBindings: ChannelBindings?
    /// The SPN put into MsvAvTargetName (e.g. `HTTP/server.example.com`), if any.
    public var targetName: String?
    /// The signing/sealing context, once `authenticate` succeeded.
    public internal(set) var session: NTLMSession?
    /// The flags of the Type 3 that was sent.
    public private(set) var negotiatedFlags: NegotiateFlags?
    private var state: State = .initial

    public init(credentials: NTLMCredentials, policy: NTLMInitiatorPolicy = .default, channelBindings: ChannelBindings? = nil, targetName: String? = nil) {
        self.credentials = credentials
        self.policy = policy
        self.channelBindings = channelBindings
        self.targetName = targetName
    }

    /// The NEGOTIATE_MESSAGE (Type 1). Calling it again restarts the handshake.
    public mutating func negotiate() -> [UInt8] {
        var flags = policy.flags
        if policy.responseMode != .ntlmv1WithLM { flags.remove(.lmKey) }
        let bytes = NegotiateMessage(flags: flags, version: policy.version).serialize()
        state = .negotiateSent(type1: bytes)
        session = nil
        return bytes
    }

    /// The AUTHENTICATE_MESSAGE (Type 3) answering `challenge` (a Type 2).
    public mutating func authenticate(challenge: [UInt8]) throws(NTLMError) -> [UInt8] {
        let random = NTLMCrypto.randomBytes(24)
        return try authenticate(
            challenge: challenge, clientChallenge: Array(random[0..<8]),
            exportedSessionKey: Array(random[8..<24]), now: FileTime.now())
    }

    /// Deterministic core of `authenticate(challenge:)`: the random values and the clock are
    /// parameters so that tests can reproduce the MS-NLMP 4.2 examples.
    mutating func authenticate(challenge challengeBytes: [UInt8], clientChallenge: [UInt8], exportedSessionKey randomKey: [UInt8], now: UInt64) throws(NTLMError) -> [UInt8] {
        guard case .negotiateSent(let type1) = state else {
            throw .invalidState("authenticate(challenge:) called before negotiate() or after completion")
        }
        let challenge = try ChallengeMessage(bytes: challengeBytes)
        let flags = Self.authenticateFlags(challenge: challenge.flags, policy: policy)

        let lmResponse: [UInt8]
        let ntResponse: [UInt8]
        let keyExchangeKey: [UInt8]
        var includeMIC = false

        switch policy.responseMode {
        case .ntlmv2:
            let serverInfo = challenge.targetInfo ?? TargetInfo()
            let serverTimestamp = serverInfo.timestamp
            var clientInfo = serverInfo
            if challenge.targetInfoBytes != nil {
                if serverTimestamp != nil && policy.sendMIC {
                    let existing = serverInfo.flags ?? []
                    var value = WireWriter(capacity: 4)
                    value.append(existing.union(.micPresent).rawValue)
                    clientInfo.set(.flags, value.bytes)
                    includeMIC = true
                }
                clientInfo.set(.channelBindings, channelBindings?.hash ?? [UInt8](repeating: 0, count: 16))
                if let targetName { clientInfo.set(.targetName, TextEncoding.utf16LE(targetName)) }
            }
            let targetInfoBytes = challenge.targetInfoBytes == nil ? [] : clientInfo.bytes
            let v2 = NTLMCrypto.ntlmv2Response(
                key: credentials.responseKeyNTv2MAC, serverChallenge: challenge.serverChallenge,
                clientChallenge: clientChallenge, timestamp: serverTimestamp ?? now, targetInfo: targetInfoBytes,
                includeLMv2: serverTimestamp == nil)
            ntResponse = v2.ntResponse
            // MS-NLMP 3.1.5.1.2: with a server timestamp the LmChallengeResponse is Z(24).
            lmResponse = serverTimestamp != nil ? [UInt8](repeating: 0, count: 24) : v2.lmResponse
            keyExchangeKey = v2.sessionBaseKey

        case .ntlmv1, .ntlmv1WithLM:
            guard credentials.hasNTHash else {
                throw .invalidState("NTLMv1 needs the NT hash; this credential holds only an NTLMv2 key")
            }
            let ntHash = credentials.ntHash.bytes
            if flags.contains(.extendedSessionSecurity) {
                let digest = NTLMCrypto.md5(challenge.serverChallenge, clientChallenge)
                ntResponse = try NTLMCrypto.desl(ntHash, Array(digest.prefix(8)))
                lmResponse = clientChallenge + [UInt8](repeating: 0, count: 16)
            } else {
                ntResponse = try NTLMCrypto.desl(ntHash, challenge.serverChallenge)
                if policy.responseMode == .ntlmv1WithLM, let lmHash = credentials.lmHash {
                    lmResponse = try NTLMCrypto.desl(lmHash.bytes, challenge.serverChallenge)
                } else {
                    lmResponse = ntResponse
                }
            }
            let sessionBaseKey = MD4.hash(ntHash)
            keyExchangeKey = try NTLMCrypto.keyExchangeKeyV1(
                flags: flags, sessionBaseKey: sessionBaseKey, lmChallengeResponse: lmResponse,
                serverChallenge: challenge.serverChallenge,
                lmHash: policy.responseMode == .ntlmv1WithLM ? credentials.lmHash?.bytes : nil)
        }

        // The Type 3 carries each response in a field with a 16-bit length; a server whose
        // TargetInfo makes the NTLMv2 response longer cannot be answered correctly.
        guard ntResponse.count <= Int(UInt16.max) else {
            throw .tooLarge(field: "NtChallengeResponse", length: ntResponse.count, limit: Int(UInt16.max))
        }
        let exportedSessionKey: [UInt8]
        let encryptedKey: [UInt8]
        if flags.contains(.keyExchange) {
            exportedSessionKey = randomKey
            encryptedKey = RC4.apply(key: keyExchangeKey, to: randomKey)
        } else {
            exportedSessionKey = keyExchangeKey
            encryptedKey = []
        }

        let message = AuthenticateMessage(
            flags: flags, lmChallengeResponse: lmResponse, ntChallengeResponse: ntResponse,
            domain: credentials.domain, user: credentials.user, workstation: credentials.workstation,
            encryptedRandomSessionKey: encryptedKey, version: policy.version,
            mic: includeMIC ? [UInt8](repeating: 0, count: 16) : nil)
        var bytes = message.serialize()
        if includeMIC {
            let mic = NTLMCrypto.mic(exportedSessionKey: exportedSessionKey, negotiate: type1, challenge: challengeBytes, authenticate: bytes)
            bytes.replaceSubrange(AuthenticateMessage.micOffset..<AuthenticateMessage.micOffset + 16, with: mic)
        }
        negotiatedFlags = flags
        session = NTLMSession(role: .initiator, flags: flags, exportedSessionKey: SessionKey(bytes: exportedSessionKey))
        state = .complete
        return bytes
    }

    /// The flags of the Type 3: what both sides support. Unicode wins over OEM, extended
    /// session security over LM_KEY (MS-NLMP 3.1.5.1.2 / 2.2.2.5 note on P and G).
    static func authenticateFlags(challenge: NegotiateFlags, policy: NTLMInitiatorPolicy) -> NegotiateFlags {
        var flags = challenge.intersection(policy.flags)
        flags.formUnion(challenge.intersection([.targetTypeDomain, .targetTypeServer, .targetInfo]))
        if flags.contains(.unicode) { flags.remove(.oem) }
        if !flags.contains(.unicode) && !flags.contains(.oem) {
            flags.insert(challenge.contains(.unicode) ? .unicode : .oem)
        }
        if flags.contains(.extendedSessionSecurity) { flags.remove(.lmKey) }
        // MS-NLMP 3.1.5.1.2 exchanges a key only when it will sign or seal; implementations
        // differ on KEY_EXCH alone (pyspnego ignores it, Samba honours it), so never send that.
        if !flags.contains(.sign) && !flags.contains(.seal) { flags.remove(.keyExchange) }
        if policy.responseMode == .ntlmv2 { flags.remove(.lmKey) }
        flags.insert(.ntlm)
        if policy.version == nil { flags.remove(.version) } else { flags.insert(.version) }
        return flags
    }
}
