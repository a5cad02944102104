/// A local store of users and their NT hashes: the acceptor's first verifier.
///
/// Lookups ignore case in user and domain, as Windows does. NTLMv2 proofs are recomputed
/// with the user and domain exactly as the client sent them (MS-NLMP 3.3.2), so a client
/// that typed `corp` instead of `CORP` is still verified correctly.
public struct NTLMUserStore: NTLMSynchronousVerifier {
    /// One account in the store.
    public struct Entry: Hashable, Sendable {
        public var user: String
        public var domain: String
        public var ntHash: NTHash
        public var lmHash: LMHash?

        public init(user: String, domain: String, ntHash: NTHash, lmHash: LMHash? = nil) {
            self.user = user
            self.domain = domain
            self.ntHash = ntHash
            self.lmHash = lmHash
        }
    }

    struct Key: Hashable {
        var domain: String
        var user: String
        init(domain: String, user: String) {
            self.domain = TextEncoding.windowsUppercase(domain)
            self.user = TextEncoding.windowsUppercase(user)
        }
    }

    private var entries: [Key: Entry] = [:]

    public init(_ entries: [Entry] = []) {
        for entry in entries { add(entry) }
    }

    public mutating func add(_ entry: Entry) {
        entries[Key(domain: entry.domain, user: entry.user)] = entry
    }

    public mutating func add(user: String, domain: String, password: Password) {
        add(Entry(user: user, domain: domain, ntHash: NTHash(password: password), lmHash: LMHash(password: password)))
    }

    public var count: Int { entries.count }

    public func entry(user: String, domain: String) -> Entry? {
        entries[Key(domain: domain, user: user)]
    }

    /// Checks a plaintext password (HTTP Basic) against the stored NT hash, in constant time.
    public func verifyPassword(user: String, domain: String, password: Password) throws(NTLMRejection) -> NTLMVerifiedUser {
        guard let entry = entry(user: user, domain: domain) else {
            throw .unknownUser(domain: domain, user: user)
        }
        guard constantTimeEqual(entry.ntHash.bytes, NTHash(password: password).bytes) else {
            throw .invalidResponse(domain: entry.domain, user: entry.user)
        }
        return NTLMVerifiedUser(user: entry.user, domain: entry.domain, sessionBaseKey: nil)
    }

    public func verifySynchronously(_ request: NTLMVerificationRequest) throws(NTLMRejection) -> NTLMVerifiedUser {
        guard let entry = entry(user: request.user, domain: request.lookupDomain) else {
            throw .unknownUser(domain: request.lookupDomain, user: request.user)
        }
        let ntHash = entry.ntHash.bytes
        let challenge = request.serverChallenge
        let nt = request.ntChallengeResponse
        let lm = request.lmChallengeResponse
        let failure = NTLMRejection.invalidResponse(domain: entry.domain, user: entry.user)

        switch request.kind {
        case .ntlmv2:
            guard nt.count > 16 else { throw failure }
            let key = HMACMD5(key: NTLMCrypto.ntowfv2(ntHash: ntHash, user: request.user, domain: request.domain))
            let proof = Array(nt[0..<16])
            var mac = key.start()
            mac.update(challenge)
            mac.update(nt[16...])
            guard constantTimeEqual(mac.finalize(), proof) else { throw failure }
            return NTLMVerifiedUser(user: entry.user, domain: entry.domain, sessionBaseKey: SessionKey(bytes: key.authenticate(proof)))

        case .ntlmv1ExtendedSessionSecurity:
            guard lm.count >= 8 else { throw failure }
            let digest = NTLMCrypto.md5(challenge, Array(lm.prefix(8)))
            guard let expected = try? NTLMCrypto.desl(ntHash, Array(digest.prefix(8))), constantTimeEqual(expected, nt) else { throw failure }
            return NTLMVerifiedUser(user: entry.user, domain: entry.domain, sessionBaseKey: SessionKey(bytes: MD4.hash(ntHash)))

        case .ntlmv1:
            guard let expected = try? NTLMCrypto.desl(ntHash, challenge), constantTimeEqual(expected, nt) else { throw failure }
            return NTLMVerifiedUser(
                user: entry.user, domain: entry.domain, sessionBaseKey: SessionKey(bytes: MD4.hash(ntHash)),
                lmSessionKey: entry.lmHash.map { SessionKey(bytes: Array($0.bytes.prefix(8))) })

        case .lm:
            guard lm.count == 24 else { throw failure }
            // LMv2: HMAC_MD5(NTOWFv2, SC || CC) || CC.
            let key = NTLMCrypto.ntowfv2(ntHash: ntHash, user: request.user, domain: request.domain)
            let clientChallenge = Array(lm[16..<24])
            if constantTimeEqual(NTLMCrypto.hmacMD5(key: key, challenge, clientChallenge), Array(lm[0..<16])) {
                return NTLMVerifiedUser(user: entry.user, domain: entry.domain, sessionBaseKey: SessionKey(bytes: NTLMCrypto.hmacMD5(key: key, Array(lm[0..<16]))))
            }
            if let lmHash = entry.lmHash, let expected = try? NTLMCrypto.desl(lmHash.bytes, challenge), constantTimeEqual(expected, lm) {
                return NTLMVerifiedUser(
                    user: entry.user, domain: entry.domain, sessionBaseKey: SessionKey(bytes: MD4.hash(ntHash)),
                    lmSessionKey: SessionKey(bytes: Array(lmHash.bytes.prefix(8))))
            }
            throw failure
        }
    }
}
