import NTLMTestSupport
import Foundation
import Testing

@testable import NTLM

// Differential tests against pyspnego (an independent NTLM/SPNEGO implementation, driven
// through scripts/pyspnego_peer.py; see Support/PythonPeer.swift).
//
// 1. Random primitives: NTOWFv2, NTProofStr, NT response, LMv2, SessionBaseKey, the MIC over
//    a real Type 1/2/3 triple, RC4K, signing/sealing keys and signatures.
// 2. Full contexts across implementations, raw NTLM and inside SPNEGO, in both directions,
//    with wrong passwords and channel bindings.
// 3. Sign/seal interop on the completed contexts.
//
// Everything random comes from one SplitMix64 seed, printed at start; set
// NTLMPROXY_DIFF_SEED (decimal or 0x-hex) to replay a run.

/// The shared peer, fetched off the task pool (see `PythonPeer.sharedOffPool`). Unavailable:
/// the test is skipped (cancelled; on compilers before 6.3, which lack `Test.cancel`, it
/// returns early), or fails with NTLMPROXY_REQUIRE_INTEROP=1. Each test then runs its calls to
/// the peer (thousands of blocking pipe round trips) outside the task pool through `runBlocking`.
fileprivate func diffPeer(caller: String = #function) async throws -> PythonPeer? {
    let peer = try await PythonPeer.sharedOffPool(caller: caller)
    #if compiler(>=6.3)
    guard let peer else { try Test.cancel("pyspnego peer unavailable (run scripts/test to set up .venv)") }
    #endif
    return peer
}

fileprivate extension Dictionary where Key == String, Value == Any {
    /// A string field that may be null or missing.
    func peerOptionalString(_ key: String) -> String? { self[key] as? String }
}

// MARK: - Tests

@Suite("pyspnego differential", .serialized)
struct PySPNEGODifferentialTests {
    static let randomCases = 1_000
    static let signSealEvery = 4  // every 4th case: 250 sign/seal cases
    static let contextAccounts = 60
    /// 9999-12-31T23:59:59Z as a FILETIME: the end of Python's datetime, and of what pyspnego's
    /// `messages.FileTime` (hence its `parse`) can decode.
    static let lastPythonFileTime: UInt64 = 2_650_467_743_990_000_000

    static func elapsed(_ start: ContinuousClock.Instant) -> String {
        let d = ContinuousClock.now - start
        let ms = Double(d.components.seconds) * 1000 + Double(d.components.attoseconds) / 1e15
        return String(format: "%.0f ms", ms)
    }

    // MARK: 1. Random primitives

    @Test("1,000 random cases: NTLMv2 responses, MIC over real triples, RC4K, sign/seal keys and signatures")
    func randomPrimitives() async throws {
        guard let peer = try await diffPeer() else { return }
        try await runBlocking { try self.randomPrimitivesOffPool(peer) }
    }

    private func randomPrimitivesOffPool(_ peer: PythonPeer) throws {
        var rng = DiffSeed.generator(0x5052_494D)  // "PRIM"
        let start = ContinuousClock.now
        var check = DiffChecker()
        var counts = (ntlmv2: 0, triples: 0, mic: 0, micPeerZeroing: 0, noTimestamp: 0, parsed: 0, signSeal: 0)
        var tripleResponses = 0, rc4ks = 0, signatures = 0

        for index in 0..<Self.randomCases {
            if check.shouldStop { Issue.record("stopped after \(check.failingCases) failing cases (seed \(DiffSeed.value))"); break }
            check.begin()
            defer { check.end() }

            let user = DiffInputs.user(&rng, index: index)
            let domain = DiffInputs.domain(&rng)
            let password = DiffInputs.password(&rng)
            let workstation = rng.chance(0.5) ? "" : DiffInputs.name(&rng, length: 1...15)
            let serverChallenge = rng.bytes(8)
            let clientChallenge = rng.bytes(8)
            let timestamp = DiffInputs.fileTime(&rng)
            let info = DiffInputs.targetInfo(&rng)
            let describe = "case \(index) (seed \(DiffSeed.value)): user \(user.debugDescription) domain \(domain.debugDescription) password \(password.debugDescription) SC \(serverChallenge.hex) CC \(clientChallenge.hex) time \(timestamp) TI \(info.bytes.hex)"

            // (a) NTOWFv2, NTProofStr, NT response, LMv2, SessionBaseKey.
            let credentials = NTLMCredentials(user: user, domain: domain, workstation: workstation, password: Password(password))
            let ours = NTLMCrypto.ntlmv2Response(
                responseKeyNT: credentials.responseKeyNTv2, serverChallenge: serverChallenge,
                clientChallenge: clientChallenge, timestamp: timestamp, targetInfo: info.bytes)
            let v2 = try peer.call([
                "op": "ntlmv2", "user": user, "domain": domain, "password": password,
                "server_challenge": serverChallenge, "client_challenge": clientChallenge,
                "timestamp": timestamp, "target_info": info.bytes,
            ])
            check.same(credentials.ntHash.bytes, try v2.peerBytes("nt_hash"), "NT hash (NTOWFv1)", describe)
            check.same(NTLMCrypto.ntowfv2(ntHash: credentials.ntHash.bytes, user: user, domain: domain), try v2.peerBytes("ntowfv2"), "NTOWFv2", describe)
            check.same(credentials.responseKeyNTv2, try v2.peerBytes("ntowfv2"), "NTLMCredentials.responseKeyNTv2", describe)
            check.same(ours.ntProofStr, try v2.peerBytes("nt_proof_str"), "NTProofStr", describe)
            check.same(ours.ntResponse, try v2.peerBytes("nt_response"), "NtChallengeResponse", describe)
            check.same(ours.lmResponse, try v2.peerBytes("lm_response"), "LMv2 response", describe)
            check.same(ours.sessionBaseKey, try v2.peerBytes("session_base_key"), "SessionBaseKey", describe)
            counts.ntlmv2 += 1

            // RC4K(SessionBaseKey, random ExportedSessionKey).
            let exported = rng.bytes(16)
            let rc4k = try peer.call(["op": "encrypt_session_key", "key_exchange_key": ours.sessionBaseKey, "exported_session_key": exported])
            check.same(RC4.apply(key: ours.sessionBaseKey, to: exported), try rc4k.peerBytes("encrypted_session_key"), "RC4K", describe)
            rc4ks += 1

            // (b) A real triple: our Type 1, a Type 2 carrying this case's AV pairs (with a
            // timestamp, so the initiator adds a MIC), our Type 3.
            var challengeInfo = info
            if challengeInfo.timestamp == nil {
                var w = WireWriter(capacity: 8)
                w.append(DiffInputs.fileTime(&rng))
                challengeInfo.pairs.insert(AVPair(id: .timestamp, value: w.bytes), at: rng.int(0...challengeInfo.pairs.count))
            }
            let tripleContext = try triple(
                peer, &rng, &check, &tripleResponses, &rc4ks, credentials: credentials, info: challengeInfo,
                serverChallenge: serverChallenge, clientChallenge: clientChallenge, describe: describe)
            counts.triples += 1
            if let (type1, type2, type3, exportedKey) = tripleContext {
                let parsed = try AuthenticateMessage(bytes: type3)
                let mic = try peer.call([
                    "op": "mic", "exported_session_key": exportedKey, "negotiate": type1, "challenge": type2,
                    "authenticate": AuthenticateMessage.zeroingMIC(in: type3),
                ])
                check.same(parsed.mic ?? [], try mic.peerBytes("mic"), "MIC", describe)
                counts.mic += 1
                if index % 10 == 0 {
                    // pyspnego zeroing the MIC field itself (messages.Authenticate) agrees.
                    let again = try peer.call([
                        "op": "mic", "exported_session_key": exportedKey, "negotiate": type1, "challenge": type2,
                        "authenticate": type3, "zero_mic": true,
                    ])
                    check.same(parsed.mic ?? [], try again.peerBytes("mic"), "MIC (pyspnego zeroing)", describe)
                    counts.micPeerZeroing += 1
                }
                // (pyspnego's parser turns MsvAvTimestamp into a datetime, which ends in year 9999.)
                let parseable = (challengeInfo.timestamp ?? 0) < Self.lastPythonFileTime
                if index % 50 == 0 && parsed.flags.contains(.unicode) && parseable {
                    // pyspnego reads our Type 3 as we wrote it.
                    let p = try peer.call(["op": "parse", "token": type3])
                    check.require(try p.peerInt("message_type") == 3, "parse: message type", describe)
                    check.require(UInt32(try p.peerInt("flags")) == parsed.flags.rawValue, "parse: flags", describe)
                    check.require(p.peerOptionalString("user") == user, "parse: user \(String(describing: p["user"]))", describe)
                    check.require((p.peerOptionalString("domain") ?? "") == domain, "parse: domain \(String(describing: p["domain"]))", describe)
                    check.require((p.peerOptionalString("workstation") ?? "") == workstation, "parse: workstation \(String(describing: p["workstation"]))", describe)
                    check.same(parsed.ntChallengeResponse, try p.peerBytes("nt_response"), "parse: NT response", describe)
                    check.same(parsed.mic ?? [], try p.peerBytes("mic"), "parse: MIC", describe)
                    counts.parsed += 1
                }
            }

            // (b') Every 8th case, a Type 2 without MsvAvTimestamp: no MIC, and a real LMv2.
            if index % 8 == 0 {
                var plain = info
                plain.pairs.removeAll { $0.id == .timestamp }
                var ignored = 0
                _ = try triple(
                    peer, &rng, &check, &tripleResponses, &ignored, credentials: credentials, info: plain,
                    serverChallenge: serverChallenge, clientChallenge: clientChallenge, describe: describe + " (no timestamp)")
                counts.noTimestamp += 1
            }

            // (c) Signing and sealing keys, and signatures, for a subset.
            if index % Self.signSealEvery == 0 {
                try signSeal(peer, &rng, &check, &signatures, describe: describe)
                counts.signSeal += 1
            }
        }
        #expect(check.failingCases == 0, "seed \(DiffSeed.value)")
        #expect(counts.mic >= 1_000)
        #expect(counts.signSeal >= 200)
        print("""
            PySPNEGODifferentialTests.randomPrimitives: \(counts.ntlmv2) NTLMv2 cases, \(counts.triples) Type 1/2/3 \
            triples (+\(counts.noTimestamp) without timestamp), \(counts.mic) MICs (\(counts.micPeerZeroing) also zeroed by \
            pyspnego), \(tripleResponses) Type 3 NT responses, \(rc4ks) RC4K, \(counts.parsed) Type 3 parsed, \
            \(counts.signSeal) sign/seal key sets with \(signatures) signatures/seals; \(Self.elapsed(start)); \
            seed \(DiffSeed.value)
            """)
    }

    /// Builds Type 1/2/3 with our initiator; checks the Type 3's NT (and LM) response with
    /// pyspnego's `ntlmv2` over the AV pairs actually sent, and its EncryptedRandomSessionKey
    /// with pyspnego's RC4K. Returns the triple and the ExportedSessionKey pyspnego derives,
    /// when the Type 3 carries a MIC.
    private func triple(
        _ peer: PythonPeer, _ rng: inout SplitMix64, _ check: inout DiffChecker, _ responses: inout Int, _ rc4ks: inout Int,
        credentials: NTLMCredentials, info: TargetInfo, serverChallenge: [UInt8], clientChallenge: [UInt8], describe: String
    ) throws -> (type1: [UInt8], type2: [UInt8], type3: [UInt8], exportedSessionKey: [UInt8])? {
        let bindings: ChannelBindings? = rng.chance(0.3) ? .tlsServerEndPoint(certificateHash: rng.bytes(32)) : nil
        let spn: String? = rng.chance(0.5) ? "HTTP/" + DiffInputs.name(&rng, length: 1...20).lowercased() : nil
        var initiator = NTLMInitiator(credentials: credentials, channelBindings: bindings, targetName: spn)
        let type1 = initiator.negotiate()
        let challenge = try ChallengeMessage(
            flags: DiffInputs.challengeFlags(&rng), targetName: DiffInputs.name(&rng, length: 0...15),
            serverChallenge: serverChallenge, targetInfo: info, version: rng.chance(0.8) ? .default : nil)
        let type2 = challenge.serialize()
        let randomKey = rng.bytes(16)
        let now = DiffInputs.fileTime(&rng)
        let type3 = try initiator.authenticate(challenge: type2, clientChallenge: clientChallenge, exportedSessionKey: randomKey, now: now)
        let message = try AuthenticateMessage(bytes: type3)
        let context = describe + "; Type2 \(type2.hex); Type3 \(type3.hex)"

        // The NT response pyspnego computes over the AV pairs we put in the blob.
        let nt = message.ntChallengeResponse
        guard nt.count >= 48 else {
            check.require(false, "Type 3 NT response too short (\(nt.count))", context)
            return nil
        }
        let blobInfo = Array(nt[44..<(nt.count - 4)])
        let blobTime = info.timestamp ?? now
        let v2 = try peer.call([
            "op": "ntlmv2", "user": credentials.user, "domain": credentials.domain,
            "nt_hash": credentials.ntHash.bytes, "server_challenge": serverChallenge,
            "client_challenge": clientChallenge, "timestamp": blobTime, "target_info": blobInfo,
        ])
        check.same(nt, try v2.peerBytes("nt_response"), "Type 3 NtChallengeResponse", context)
        let hasTimestamp = info.timestamp != nil
        // MS-NLMP 3.1.5.1.2: Z(24) when the server sent MsvAvTimestamp, else the LMv2 response.
        let expectedLM = hasTimestamp ? [UInt8](repeating: 0, count: 24) : try v2.peerBytes("lm_response")
        check.same(message.lmChallengeResponse, expectedLM, "Type 3 LmChallengeResponse", context)
        responses += 1

        // ExportedSessionKey: RC4K-encrypted random key with KEY_EXCH, else the KeyExchangeKey.
        let keyExchangeKey = try v2.peerBytes("key_exchange_key")
        var exportedKey = keyExchangeKey
        if message.flags.contains(.keyExchange) {
            let enc = try peer.call(["op": "encrypt_session_key", "key_exchange_key": keyExchangeKey, "exported_session_key": randomKey])
            check.same(message.encryptedRandomSessionKey, try enc.peerBytes("encrypted_session_key"), "Type 3 EncryptedRandomSessionKey", context)
            rc4ks += 1
            exportedKey = randomKey
        } else {
            check.require(message.encryptedRandomSessionKey.isEmpty, "EncryptedRandomSessionKey without KEY_EXCH", context)
        }
        check.same(initiator.session?.exportedSessionKey.bytes ?? [], exportedKey, "initiator ExportedSessionKey", context)

        // MS-NLMP 3.1.5.1.2: with a server timestamp, MsvAvFlags gets micPresent and the message a
        // MIC; without one, the server's MsvAvFlags (if any) are echoed unchanged, as pyspnego
        // does too, and there is no MIC field.
        let sentInfo = try TargetInfo(bytes: blobInfo)
        let expectedMICFlag = hasTimestamp || (info.flags?.contains(.micPresent) ?? false)
        check.require((sentInfo.flags?.contains(.micPresent) ?? false) == expectedMICFlag, "MsvAvFlags.micPresent wrong", context)
        check.require(sentInfo.flags?.rawValue == (hasTimestamp ? (info.flags ?? []).union(.micPresent) : info.flags)?.rawValue, "MsvAvFlags not echoed", context)
        check.require((message.mic != nil) == hasTimestamp, "MIC field present != server timestamp", context)
        check.same(sentInfo.channelBindings ?? [], bindings?.hash ?? [UInt8](repeating: 0, count: 16), "MsvAvChannelBindings", context)
        return hasTimestamp ? (type1, type2, type3, exportedKey) : nil
    }

    /// SIGNKEY/SEALKEY for both directions, then signatures at a random sequence number and a
    /// session's first seal, in both directions.
    private func signSeal(_ peer: PythonPeer, _ rng: inout SplitMix64, _ check: inout DiffChecker, _ signatures: inout Int, describe: String) throws {
        let flags = DiffInputs.sessionFlags(&rng)
        let key = rng.bytes(16)
        let context = describe + "; flags \(flags); key \(key.hex)"
        let keys = try peer.call(["op": "seal_keys", "exported_session_key": key, "flags": flags.rawValue])
        let clientSign = NTLMSession.signingKey(flags: flags, key: key, magic: NTLMSession.clientSigningMagic)
        let serverSign = NTLMSession.signingKey(flags: flags, key: key, magic: NTLMSession.serverSigningMagic)
        let clientSeal = NTLMSession.sealingKey(flags: flags, key: key, magic: NTLMSession.clientSealingMagic)
        let serverSeal = NTLMSession.sealingKey(flags: flags, key: key, magic: NTLMSession.serverSealingMagic)
        check.same(clientSign, try keys.peerBytes("client_sign_key"), "client signing key", context)
        check.same(serverSign, try keys.peerBytes("server_sign_key"), "server signing key", context)
        check.same(clientSeal, try keys.peerBytes("client_seal_key"), "client sealing key", context)
        check.same(serverSeal, try keys.peerBytes("server_seal_key"), "server sealing key", context)

        let directions: [(String, NTLMSession.Role, [UInt8], [UInt8])] = [
            ("client", .initiator, clientSign, clientSeal), ("server", .acceptor, serverSign, serverSeal),
        ]
        for (direction, role, signKey, sealKey) in directions {
            // A signature at a random sequence number from a fresh RC4 handle.
            let message = rng.bytes(rng.int(0...200))
            let sequence = rng.chance(0.3) ? UInt32(rng.int(0...3)) : UInt32.random(in: .min ... .max, using: &rng)
            var handle = RC4(key: sealKey)
            let ours = flags.contains(.extendedSessionSecurity)
                ? NTLMSession.extendedSignature(key: signKey, handle: &handle, keyExchange: flags.contains(.keyExchange), sequence: sequence, message: message)
                : NTLMSession.basicSignature(handle: &handle, sequence: sequence, message: message)
            let signed = try peer.call([
                "op": "sign", "flags": flags.rawValue, "seq_num": Int(sequence), "message": message,
                "exported_session_key": key, "direction": direction,
            ])
            check.same(ours, try signed.peerBytes("signature"), "\(direction) signature (seq \(sequence))", context + "; message \(message.hex)")

            // A new session's first seal (sequence 0), and the peer's first seal unsealed by the
            // session of the other side.
            var session = NTLMSession(role: role, flags: flags, exportedSessionKey: SessionKey(bytes: key))
            let plain = rng.bytes(rng.int(0...200))
            let (sealed, signature) = session.seal(plain)
            let theirs = try peer.call([
                "op": "seal", "flags": flags.rawValue, "seq_num": 0, "message": plain,
                "exported_session_key": key, "direction": direction,
            ])
            check.same(sealed, try theirs.peerBytes("sealed_message"), "\(direction) sealed message", context + "; message \(plain.hex)")
            check.same(signature, try theirs.peerBytes("signature"), "\(direction) seal signature", context + "; message \(plain.hex)")
            var other = NTLMSession(role: role == .initiator ? .acceptor : .initiator, flags: flags, exportedSessionKey: SessionKey(bytes: key))
            do {
                let opened = try other.unseal(try theirs.peerBytes("sealed_message"), signature: try theirs.peerBytes("signature"))
                check.same(opened, plain, "unsealed \(direction) message", context)
            } catch {
                check.require(false, "our \(role == .initiator ? "acceptor" : "initiator") cannot unseal pyspnego's \(direction) seal: \(error)", context)
            }
            signatures += 3
        }
    }

    @Test("pyspnego upper-cases user names with Python's full case mapping (ß → SS); we use the simple one, as Windows does")
    func knownUppercaseDifference() async throws {
        guard let peer = try await diffPeer() else { return }
        try await runBlocking { try self.knownUppercaseDifferenceOffPool(peer) }
    }

    private func knownUppercaseDifferenceOffPool(_ peer: PythonPeer) throws {
        let ntHash = NTHash(password: "Password").bytes
        let r = try peer.call([
            "op": "ntlmv2", "user": "straße", "domain": "Domain", "password": "Password",
            "server_challenge": [UInt8](repeating: 1, count: 8), "client_challenge": [UInt8](repeating: 2, count: 8),
            "timestamp": 0, "target_info": [UInt8](repeating: 0, count: 4),
        ])
        // MS-NLMP 3.3.2 Uppercase(User): Windows (RtlUpcaseUnicodeString) maps each UTF-16 unit
        // to one unit, so "ß" stays; Python's str.upper() turns it into "SS".
        #expect(try r.peerBytes("ntowfv2") == NTLMCrypto.ntowfv2(ntHash: ntHash, user: "STRASSE", domain: "Domain"))
        #expect(try r.peerBytes("ntowfv2") != NTLMCrypto.ntowfv2(ntHash: ntHash, user: "straße", domain: "Domain"))
        #expect(TextEncoding.windowsUppercase("straße") == "STRAßE")
    }

    // MARK: NTLMv1 (beyond the brief's NTLMv2 scope, cheap to check)

    @Test("200 random NTLMv1 cases: NT/LM responses, SessionBaseKey, KXKEY (ESS, LM_KEY, NON_NT_SESSION_KEY)")
    func randomNTLMv1() async throws {
        guard let peer = try await diffPeer() else { return }
        try await runBlocking { try self.randomNTLMv1OffPool(peer) }
    }

    private func randomNTLMv1OffPool(_ peer: PythonPeer) throws {
        var rng = DiffSeed.generator(0x4E54_4C31)  // "NTL1"
        let start = ContinuousClock.now
        var check = DiffChecker()
        var cases = 0, lmHashes = 0
        for index in 0..<200 {
            if check.shouldStop { Issue.record("stopped after \(check.failingCases) failing cases (seed \(DiffSeed.value))"); break }
            check.begin()
            defer { check.end() }
            let password = DiffInputs.password(&rng)
            var flags: NegotiateFlags = [.ntlm, .unicode]
            if rng.chance(0.5) { flags.insert(.extendedSessionSecurity) }
            if rng.chance(0.4) { flags.insert(.lmKey) }
            if rng.chance(0.3) { flags.insert(.requestNonNTSessionKey) }
            let serverChallenge = rng.bytes(8)
            let clientChallenge = rng.bytes(8)
            let withLM = rng.chance(0.5)
            let ntHash = NTHash(password: Password(password)).bytes
            let lmHash = LMHash(password: Password(password)).bytes
            let describe = "v1 case \(index) (seed \(DiffSeed.value)): password \(password.debugDescription) flags \(flags) SC \(serverChallenge.hex) CC \(clientChallenge.hex) LM \(withLM)"

            // Our side, as NTLMInitiator (.ntlmv1 / .ntlmv1WithLM) computes it.
            let nt: [UInt8]
            let lm: [UInt8]
            if flags.contains(.extendedSessionSecurity) {
                nt = try NTLMCrypto.desl(ntHash, Array(NTLMCrypto.md5(serverChallenge, clientChallenge).prefix(8)))
                lm = clientChallenge + [UInt8](repeating: 0, count: 16)
            } else {
                nt = try NTLMCrypto.desl(ntHash, serverChallenge)
                lm = withLM ? try NTLMCrypto.desl(lmHash, serverChallenge) : nt
            }
            let kxkey = try NTLMCrypto.keyExchangeKeyV1(flags: flags, sessionBaseKey: MD4.hash(ntHash), lmChallengeResponse: lm, serverChallenge: serverChallenge, lmHash: lmHash)
            let r = try peer.call([
                "op": "ntlmv1", "nt_hash": ntHash, "lm_hash": lmHash, "flags": flags.rawValue,
                "server_challenge": serverChallenge, "client_challenge": clientChallenge, "no_lm_response": !withLM,
            ])
            check.same(nt, try r.peerBytes("nt_response"), "NTLMv1 NtChallengeResponse", describe)
            check.same(lm, try r.peerBytes("lm_response"), "NTLMv1 LmChallengeResponse", describe)
            check.same(MD4.hash(ntHash), try r.peerBytes("session_base_key"), "NTLMv1 SessionBaseKey", describe)
            check.same(kxkey, try r.peerBytes("key_exchange_key"), "NTLMv1 KeyExchangeKey", describe)
            cases += 1
            // LMOWFv1 from the password agrees for ASCII passwords (pyspnego encodes others as
            // UTF-8, we as '?', Windows in the OEM code page).
            if password.unicodeScalars.allSatisfy(\.isASCII) {
                let h = try peer.call(["op": "ntlmv1", "password": password, "flags": flags.rawValue, "server_challenge": serverChallenge, "client_challenge": clientChallenge])
                check.same(lmHash, try h.peerBytes("lm_hash"), "LMOWFv1", describe)
                check.same(ntHash, try h.peerBytes("nt_hash"), "NTOWFv1", describe)
                lmHashes += 1
            }
        }
        #expect(check.failingCases == 0, "seed \(DiffSeed.value)")
        print("PySPNEGODifferentialTests.randomNTLMv1: \(cases) NTLMv1 cases, \(lmHashes) LM hashes; \(Self.elapsed(start)); seed \(DiffSeed.value)")
    }

    @Test("NTLMv1 contexts: pyspnego client at LM_COMPAT_LEVEL 0/1/2 → our acceptor; our .ntlmv1 initiator → pyspnego server", arguments: ["ntlm", "negotiate"])
    func ntlmv1Contexts(protocolName: String) async throws {
        guard let peer = try await diffPeer() else { return }
        try await runBlocking { try self.ntlmv1ContextsOffPool(peer, protocolName: protocolName) }
    }

    private func ntlmv1ContextsOffPool(_ peer: PythonPeer, protocolName: String) throws {
        var rng = DiffSeed.generator(protocolName == "ntlm" ? 0x5631_4E54 : 0x5631_5350)
        // ASCII passwords: LM hashes only agree for those (see randomNTLMv1).
        let accounts = DiffAccount.make(&rng, count: 10, defaultDomain: Self.acceptorDomain).map {
            DiffAccount(user: $0.user, domain: $0.domain, password: String($0.password.unicodeScalars.filter { $0.isASCII && $0 != ":" }) + "Aa1")
        }
        var store = NTLMUserStore()
        for a in accounts { store.add(user: a.user, domain: a.domain.isEmpty ? Self.acceptorDomain : a.domain, password: Password(a.password)) }
        let policy = NTLMAcceptorPolicy(netbiosDomain: Self.acceptorDomain, allowNTLMv1: true, allowLM: true)
        let userFile = try Self.writeUserFile(accounts.filter { !$0.domain.isEmpty })
        defer { try? FileManager.default.removeItem(at: userFile.deletingLastPathComponent()) }

        var accepted = 0, completed = 0
        for account in accounts {
            for level in [0, 1, 2] {
                let describe = "\(protocolName) LM_COMPAT_LEVEL \(level) \(account) (seed \(DiffSeed.value))"
                let run = try runPeerClient(peer, protocolName: protocolName, account: account, password: account.password, workstation: nil, policy: policy, store: store, bindings: nil, lmCompatLevel: level)
                switch run.result {
                case .success(let user):
                    #expect(user.kind == (level == 0 ? .ntlmv1 : .ntlmv1ExtendedSessionSecurity), "\(describe)")
                    #expect(run.peerComplete, "\(describe)")
                    if let session = run.session, let key = run.peerSessionKey, let flags = run.peerFlags {
                        try sessionInterop(peer, &rng, ours: session, peerKey: key, peerFlags: flags, spnego: protocolName == "negotiate", describe: describe)
                    } else {
                        Issue.record("no session or pyspnego session key/flags: \(describe)")
                    }
                    accepted += 1
                case .failure(let error):
                    Issue.record("our acceptor refused pyspnego's NTLMv1 client: \(error); \(describe)")
                }
            }
            guard !account.domain.isEmpty else { continue }
            let describe = "\(protocolName) our .ntlmv1 initiator \(account) (seed \(DiffSeed.value))"
            let credentials = NTLMCredentials(user: account.user, domain: account.domain, password: Password(account.password))
            let run = try runOurInitiator(peer, protocolName: protocolName, credentials: credentials, targetName: nil, userFile: userFile.path, bindings: nil, serverBindings: nil,
                                          policy: NTLMInitiatorPolicy(responseMode: .ntlmv1), describe: describe)
            if let error = run.peerError {
                Issue.record("pyspnego server refused our NTLMv1 initiator: \(error); \(describe)")
            } else if let session = run.session, let key = run.peerSessionKey, let flags = run.peerFlags {
                #expect(run.principal == account.peerName, "\(describe)")
                try sessionInterop(peer, &rng, ours: session, peerKey: key, peerFlags: flags, spnego: protocolName == "negotiate", describe: describe)
                completed += 1
            }
        }
        print("PySPNEGODifferentialTests.ntlmv1Contexts(\(protocolName)): \(accepted) pyspnego NTLMv1 clients accepted, \(completed) of our NTLMv1 initiators completed; seed \(DiffSeed.value)")
    }


    @Test("without SIGN or SEAL our initiator drops KEY_EXCH, so pyspnego (which ignores it then) and we agree")
    func knownKeyExchangeDifference() async throws {
        guard let peer = try await diffPeer() else { return }
        try await runBlocking { try self.knownKeyExchangeDifferenceOffPool(peer) }
    }

    private func knownKeyExchangeDifferenceOffPool(_ peer: PythonPeer) throws {
        let account = DiffAccount(user: "alice", domain: "CORP", password: "Secret1!")
        let userFile = try Self.writeUserFile([account])
        defer { try? FileManager.default.removeItem(at: userFile.deletingLastPathComponent()) }
        let credentials = NTLMCredentials(user: account.user, domain: account.domain, password: Password(account.password))

        // An initiator asking for neither SIGN nor SEAL. pyspnego's acceptor echoes KEY_EXCH in
        // its Type 2 but derives ExportedSessionKey = KeyExchangeKey unless SIGN or SEAL is also
        // set; Samba and gss-ntlmssp honour KEY_EXCH alone. Our initiator therefore never sends
        // KEY_EXCH without SIGN or SEAL, which both readings agree on.
        var flags = NegotiateFlags.initiatorDefault
        flags.remove([.sign, .seal])
        let without = try runOurInitiator(peer, protocolName: "ntlm", credentials: credentials, targetName: nil, userFile: userFile.path, bindings: nil,
                                          serverBindings: nil, policy: NTLMInitiatorPolicy(flags: flags), describe: "KEY_EXCH without SIGN/SEAL")
        #expect(without.peerError == nil, "\(String(describing: without.peerError))")
        #expect(without.principal == "CORP\\alice")

        // Without KEY_EXCH as well, both sides use the KeyExchangeKey and agree.
        flags.remove(.keyExchange)
        let plain = try runOurInitiator(peer, protocolName: "ntlm", credentials: credentials, targetName: nil, userFile: userFile.path, bindings: nil,
                                        serverBindings: nil, policy: NTLMInitiatorPolicy(flags: flags), describe: "neither KEY_EXCH nor SIGN/SEAL")
        #expect(plain.peerError == nil)
        #expect(plain.principal == "CORP\\alice")
        #expect(plain.session?.exportedSessionKey.bytes == plain.peerSessionKey)
    }

    // MARK: 2. Full contexts: pyspnego client → our acceptor

    static let acceptorDomain = "DIFFDOM"

    @Test("pyspnego client → our NTLMAcceptor / SPNEGOAcceptor, 60 random users, right and wrong passwords", arguments: ["ntlm", "negotiate"])
    func peerClientOurAcceptor(protocolName: String) async throws {
        guard let peer = try await diffPeer() else { return }
        try await runBlocking { try self.peerClientOurAcceptorOffPool(peer, protocolName: protocolName) }
    }

    private func peerClientOurAcceptorOffPool(_ peer: PythonPeer, protocolName: String) throws {
        var rng = DiffSeed.generator(protocolName == "ntlm" ? 0x4143_4E54 : 0x4143_5350)
        let start = ContinuousClock.now
        let accounts = DiffAccount.make(&rng, count: Self.contextAccounts, defaultDomain: Self.acceptorDomain)
        var store = NTLMUserStore()
        for a in accounts { store.add(user: a.user, domain: a.domain.isEmpty ? Self.acceptorDomain : a.domain, password: Password(a.password)) }
        store.add(user: "decoy", domain: Self.acceptorDomain, password: "decoy")
        let policy = NTLMAcceptorPolicy(netbiosDomain: Self.acceptorDomain)

        var authenticated = 0, rejected = 0, sessions = 0, failing = 0
        for account in accounts {
            if failing >= 10 { Issue.record("stopped after 10 failing accounts (seed \(DiffSeed.value))"); break }
            let issuesBefore = authenticated + rejected
            let workstation = rng.chance(0.5) ? DiffInputs.name(&rng, length: 1...15).uppercased() : nil
            let expectedName = "\(account.domain.isEmpty ? Self.acceptorDomain : account.domain)\\\(account.user)"
            // Now and then the client types user and domain in another case: the store looks
            // them up case-insensitively and NTOWFv2 uses them as sent (MS-NLMP 3.3.2).
            var sent = account
            if rng.chance(0.3) {
                sent.user = DiffInputs.flipASCIICase(account.user)
                sent.domain = DiffInputs.flipASCIICase(account.domain)
            }
            let describe = "\(protocolName) \(sent) (seed \(DiffSeed.value))"

            // Right password.
            let run = try runPeerClient(peer, protocolName: protocolName, account: sent, password: account.password, workstation: workstation, policy: policy, store: store, bindings: nil)
            switch run.result {
            case .success(let user):
                #expect(user.qualifiedName == expectedName, "\(describe)")
                #expect(user.kind == .ntlmv2, "\(describe)")
                #expect(run.peerComplete, "pyspnego client did not complete: \(describe)")
                if let session = run.session, let key = run.peerSessionKey, let flags = run.peerFlags {
                    try sessionInterop(peer, &rng, ours: session, peerKey: key, peerFlags: flags, spnego: protocolName == "negotiate", describe: describe)
                    sessions += 1
                } else {
                    Issue.record("no session or pyspnego session key/flags: \(describe)")
                }
                authenticated += 1
            case .failure(let error):
                Issue.record("our acceptor refused pyspnego's client: \(error); \(describe)")
                failing += 1
            }

            // Wrong password.
            var wrong = DiffInputs.password(&rng, forUserFile: true)
            if wrong == account.password { wrong += "x" }
            let bad = try runPeerClient(peer, protocolName: protocolName, account: sent, password: wrong, workstation: workstation, policy: policy, store: store, bindings: nil)
            switch bad.result {
            case .success(let user):
                Issue.record("wrong password accepted as \(user): \(describe) wrong \(wrong.debugDescription)")
                failing += 1
            case .failure(let rejection):
                let entryDomain = store.entry(user: account.user, domain: account.domain.isEmpty ? Self.acceptorDomain : account.domain)?.domain ?? "?"
                #expect(rejection == .invalidResponse(domain: entryDomain, user: account.user), "\(describe)")
                rejected += 1
            }
            if authenticated + rejected != issuesBefore + 2 { failing += 1 }
        }
        #expect(authenticated >= 50 && rejected >= 50)
        print("PySPNEGODifferentialTests.peerClientOurAcceptor(\(protocolName)): \(authenticated) authenticated, \(rejected) wrong passwords rejected, \(sessions) sessions sign/seal-checked; \(Self.elapsed(start)); seed \(DiffSeed.value)")
    }

    @Test("pyspnego client with channel bindings → our acceptor requiring them; a mismatch is refused")
    func peerClientChannelBindings() async throws {
        guard let peer = try await diffPeer() else { return }
        try await runBlocking { try self.peerClientChannelBindingsOffPool(peer) }
    }

    private func peerClientChannelBindingsOffPool(_ peer: PythonPeer) throws {
        var rng = DiffSeed.generator(0x4342_4143)
        let account = DiffAccount(user: "Jürgen", domain: "MÜNCHEN", password: "pässwörd-with-more-than-14")
        var store = NTLMUserStore()
        store.add(user: account.user, domain: account.domain, password: Password(account.password))
        let hash = rng.bytes(32)
        let bindings = ChannelBindings.tlsServerEndPoint(certificateHash: hash)
        for protocolName in ["ntlm", "negotiate"] {
            let good = try runPeerClient(peer, protocolName: protocolName, account: account, password: account.password, workstation: nil,
                                         policy: NTLMAcceptorPolicy(netbiosDomain: "MÜNCHEN", channelBindings: .required(bindings)), store: store,
                                         bindings: bindings.applicationData)
            #expect(try good.result.get().qualifiedName == "MÜNCHEN\\Jürgen", "\(protocolName)")
            let other = ChannelBindings.tlsServerEndPoint(certificateHash: rng.bytes(32))
            let bad = try runPeerClient(peer, protocolName: protocolName, account: account, password: account.password, workstation: nil,
                                        policy: NTLMAcceptorPolicy(netbiosDomain: "MÜNCHEN", channelBindings: .required(other)), store: store,
                                        bindings: bindings.applicationData)
            #expect(throws: NTLMRejection.channelBindingsMismatch, "\(protocolName)") { try bad.result.get() }
            // A client that sends no bindings at all (pyspnego then omits MsvAvChannelBindings).
            let none = try runPeerClient(peer, protocolName: protocolName, account: account, password: account.password, workstation: nil,
                                         policy: NTLMAcceptorPolicy(netbiosDomain: "MÜNCHEN", channelBindings: .required(bindings)), store: store,
                                         bindings: nil)
            #expect(throws: NTLMRejection.channelBindingsMismatch, "\(protocolName)") { try none.result.get() }
            let lenient = try runPeerClient(peer, protocolName: protocolName, account: account, password: account.password, workstation: nil,
                                            policy: NTLMAcceptorPolicy(netbiosDomain: "MÜNCHEN", channelBindings: .whenSupported(bindings)), store: store,
                                            bindings: nil)
            #expect(try lenient.result.get().qualifiedName == "MÜNCHEN\\Jürgen", "\(protocolName)")
        }
    }

    private struct PeerClientRun {
        var result: Result<NTLMAuthenticatedUser, NTLMRejection>
        var session: NTLMSession?
        var peerComplete = false
        var peerSessionKey: [UInt8]?
        var peerFlags: UInt32?
    }

    /// pyspnego's client against our acceptor, raw NTLM or SPNEGO.
    private func runPeerClient(
        _ peer: PythonPeer, protocolName: String, account: DiffAccount, password: String, workstation: String?,
        policy: NTLMAcceptorPolicy, store: NTLMUserStore, bindings: [UInt8]?, lmCompatLevel: Int? = nil
    ) throws -> PeerClientRun {
        let ctx = peer.contextName("diff-client")
        defer { _ = try? peer.call(["op": "ctx_close", "ctx": ctx]) }
        var request: [String: Any] = ["op": "client_new", "ctx": ctx, "user": account.peerName, "password": password, "protocol": protocolName]
        if let workstation { request["workstation"] = workstation }
        if let bindings { request["channel_bindings_app_data"] = bindings }
        if let lmCompatLevel { request["lm_compat_level"] = lmCompatLevel }
        let first = try peer.call(request)
        var run = PeerClientRun(result: .failure(.unexpectedMessage("not run")))

        func finish(_ reply: [String: Any]) throws {
            run.peerComplete = try reply.peerBool("complete")
            if run.peerComplete {
                run.peerSessionKey = try reply.peerBytes("session_key")
                run.peerFlags = UInt32(try reply.peerInt("ntlm_flags"))
            }
        }

        if protocolName == "ntlm" {
            var acceptor = NTLMAcceptor(policy: policy)
            let type2 = try acceptor.challenge(negotiate: try first.peerBytes("token"))
            let step = try peer.call(["op": "client_step", "ctx": ctx, "token": type2])
            try finish(step)
            let type3 = try step.peerBytes("token")
            run.result = Result { () throws(NTLMRejection) in try acceptor.accept(authenticate: type3, verifier: store) }
            run.session = acceptor.session
            return run
        }

        var acceptor = SPNEGOAcceptor(ntlm: NTLMAcceptor(policy: policy))
        var token = try acceptor.challenge(try first.peerBytes("token"))
        for _ in 0..<3 {
            let step = try peer.call(["op": "client_step", "ctx": ctx, "token": token])
            try finish(step)
            guard let next = try step.peerOptionalBytes("token") else {
                run.result = .failure(.unexpectedMessage("pyspnego sent no token"))
                return run
            }
            let outcome: SPNEGOOutcome
            do {
                outcome = try acceptor.accept(next, verifier: store)
            } catch {
                run.result = .failure(error)
                return run
            }
            switch outcome {
            case .continueWith(let t):
                token = t
            case .authenticated(let user, let final):
                run.result = .success(user)
                run.session = acceptor.ntlm.session
                // pyspnego checks our accept-completed token and its mechListMIC.
                let last = try peer.call(["op": "client_step", "ctx": ctx, "token": final])
                try finish(last)
                #expect(try last.peerOptionalBytes("token") == nil)
                return run
            }
        }
        run.result = .failure(.unexpectedMessage("SPNEGO did not finish in 3 legs"))
        return run
    }

    // MARK: 2. Full contexts: our initiator → pyspnego server

    @Test("our NTLMInitiator / SPNEGOInitiator → pyspnego server, 60 random users, right and wrong passwords", arguments: ["ntlm", "negotiate"])
    func ourInitiatorPeerServer(protocolName: String) async throws {
        guard let peer = try await diffPeer() else { return }
        try await runBlocking { try self.ourInitiatorPeerServerOffPool(peer, protocolName: protocolName) }
    }

    private func ourInitiatorPeerServerOffPool(_ peer: PythonPeer, protocolName: String) throws {
        var rng = DiffSeed.generator(protocolName == "ntlm" ? 0x494E_4E54 : 0x494E_5350)
        let start = ContinuousClock.now
        let accounts = DiffAccount.make(&rng, count: Self.contextAccounts, defaultDomain: "")
        let userFile = try Self.writeUserFile(accounts + [DiffAccount(user: "decoy", domain: "", password: "decoy")])
        defer { try? FileManager.default.removeItem(at: userFile.deletingLastPathComponent()) }

        var completed = 0, refused = 0, sessions = 0, failing = 0
        for account in accounts {
            if failing >= 10 { Issue.record("stopped after 10 failing accounts (seed \(DiffSeed.value))"); break }
            // Now and then in another case: pyspnego's user file lookup ignores case and names the
            // principal as sent.
            var sent = account
            if rng.chance(0.3) {
                sent.user = DiffInputs.flipASCIICase(account.user)
                sent.domain = DiffInputs.flipASCIICase(account.domain)
            }
            let describe = "\(protocolName) \(sent) (seed \(DiffSeed.value))"
            let workstation = rng.chance(0.5) ? DiffInputs.name(&rng, length: 1...15).uppercased() : ""
            let credentials = NTLMCredentials(user: sent.user, domain: sent.domain, workstation: workstation, password: Password(account.password))
            let spn: String? = rng.chance(0.5) ? "HTTP/" + DiffInputs.name(&rng, length: 1...20).lowercased() : nil

            let run = try runOurInitiator(peer, protocolName: protocolName, credentials: credentials, targetName: spn, userFile: userFile.path, bindings: nil, serverBindings: nil, describe: describe)
            if let error = run.peerError {
                Issue.record("pyspnego server refused our initiator: \(error); \(describe)")
                failing += 1
            } else {
                #expect(run.principal == sent.peerName, "\(describe)")
                #expect(run.ourComplete, "our initiator did not complete: \(describe)")
                if let session = run.session, let key = run.peerSessionKey, let flags = run.peerFlags {
                    #expect(session.exportedSessionKey.bytes == key, "session keys differ: \(describe)")
                    try sessionInterop(peer, &rng, ours: session, peerKey: key, peerFlags: flags, spnego: protocolName == "negotiate", describe: describe)
                    sessions += 1
                } else {
                    Issue.record("no session or pyspnego session key/flags: \(describe)")
                }
                completed += 1
            }

            var wrongPassword = DiffInputs.password(&rng, forUserFile: true)
            if wrongPassword == account.password { wrongPassword += "x" }
            let wrong = NTLMCredentials(user: sent.user, domain: sent.domain, workstation: workstation, password: Password(wrongPassword))
            let bad = try runOurInitiator(peer, protocolName: protocolName, credentials: wrong, targetName: spn, userFile: userFile.path, bindings: nil, serverBindings: nil, describe: describe)
            if let error = bad.peerError {
                #expect(error.contains("Invalid NTLM response"), "\(error); \(describe)")
                refused += 1
            } else {
                Issue.record("pyspnego accepted a wrong password as \(bad.principal ?? "?"): \(describe)")
                failing += 1
            }
        }
        #expect(completed >= 50 && refused >= 50)
        print("PySPNEGODifferentialTests.ourInitiatorPeerServer(\(protocolName)): \(completed) completed, \(refused) wrong passwords refused, \(sessions) sessions sign/seal-checked; \(Self.elapsed(start)); seed \(DiffSeed.value)")
    }

    @Test("our initiator with tls-server-end-point channel bindings → pyspnego server with the same; a mismatch is refused", arguments: ["ntlm", "negotiate"])
    func ourInitiatorChannelBindings(protocolName: String) async throws {
        guard let peer = try await diffPeer() else { return }
        try await runBlocking { try self.ourInitiatorChannelBindingsOffPool(peer, protocolName: protocolName) }
    }

    private func ourInitiatorChannelBindingsOffPool(_ peer: PythonPeer, protocolName: String) throws {
        var rng = DiffSeed.generator(0x4342_494E)
        let account = DiffAccount(user: "ΣΊΣΥΦΟΣ", domain: "ΑΘΗΝΑ", password: "Pässwörd!Pässwörd!")
        let userFile = try Self.writeUserFile([account])
        defer { try? FileManager.default.removeItem(at: userFile.deletingLastPathComponent()) }
        let credentials = NTLMCredentials(user: account.user, domain: account.domain, password: Password(account.password))
        let hash = rng.bytes(32)
        let bindings = ChannelBindings.tlsServerEndPoint(certificateHash: hash)

        let good = try runOurInitiator(peer, protocolName: protocolName, credentials: credentials, targetName: "HTTP/server.example.com", userFile: userFile.path,
                                       bindings: bindings, serverBindings: bindings.applicationData, describe: "channel bindings")
        #expect(good.peerError == nil)
        #expect(good.principal == account.peerName)
        #expect(good.ourComplete)

        let otherHash = rng.bytes(32)
        let bad = try runOurInitiator(peer, protocolName: protocolName, credentials: credentials, targetName: "HTTP/server.example.com", userFile: userFile.path,
                                      bindings: bindings, serverBindings: Array("tls-server-end-point:".utf8) + otherHash, describe: "channel bindings mismatch")
        #expect(bad.peerError?.contains("bindings") == true, "\(String(describing: bad.peerError))")
        #expect(bad.principal == nil)
    }

    private struct OurInitiatorRun {
        var peerError: String?
        var principal: String?
        var peerSessionKey: [UInt8]?
        var peerFlags: UInt32?
        var session: NTLMSession?
        var ourComplete = false
    }

    /// Our initiator against pyspnego's server, raw NTLM or SPNEGO.
    private func runOurInitiator(
        _ peer: PythonPeer, protocolName: String, credentials: NTLMCredentials, targetName: String?, userFile: String,
        bindings: ChannelBindings?, serverBindings: [UInt8]?, policy: NTLMInitiatorPolicy = .default, describe: String
    ) throws -> OurInitiatorRun {
        let ctx = peer.contextName("diff-server")
        defer { _ = try? peer.call(["op": "ctx_close", "ctx": ctx]) }
        var request: [String: Any] = ["op": "server_new", "ctx": ctx, "protocol": protocolName, "user_file": userFile]
        if let serverBindings { request["channel_bindings_app_data"] = serverBindings }
        _ = try peer.call(request)
        var run = OurInitiatorRun()

        /// One server step; false when pyspnego answered with an error.
        func serverStep(_ token: [UInt8]) throws -> [String: Any]? {
            let reply = try peer.callAllowingError(["op": "server_step", "ctx": ctx, "token": token])
            if let error = reply["error"] as? String {
                run.peerError = "\(reply["error_type"] as? String ?? "Error"): \(error)"
                return nil
            }
            if try reply.peerBool("complete") {
                run.principal = reply.peerOptionalString("client_principal")
                run.peerSessionKey = try reply.peerBytes("session_key")
                run.peerFlags = UInt32(try reply.peerInt("ntlm_flags"))
            }
            return reply
        }

        var ntlm = NTLMInitiator(credentials: credentials, policy: policy, channelBindings: bindings, targetName: targetName)
        if protocolName == "ntlm" {
            guard let challenge = try serverStep(ntlm.negotiate()) else { return run }
            let type3 = try ntlm.authenticate(challenge: try challenge.peerBytes("token"))
            guard let done = try serverStep(type3) else { return run }
            #expect(try done.peerBool("complete"), "\(describe)")
            #expect(try done.peerOptionalBytes("token") == nil, "\(describe)")
            #expect(ntlm.negotiatedFlags?.rawValue == run.peerFlags, "\(describe)")
            run.session = ntlm.session
            run.ourComplete = ntlm.session != nil
            return run
        }

        var spnego = SPNEGOInitiator(ntlm: ntlm)
        guard let challenge = try serverStep(try spnego.initialToken()) else { return run }
        guard let response = try spnego.step(try challenge.peerBytes("token")) else {
            Issue.record("SPNEGOInitiator finished before sending the Type 3: \(describe)")
            return run
        }
        guard let done = try serverStep(response) else { return run }
        #expect(try done.peerBool("complete"), "\(describe)")
        guard let final = try done.peerOptionalBytes("token") else {
            Issue.record("pyspnego sent no accept-completed token: \(describe)")
            return run
        }
        // pyspnego's final token carries its mechListMIC; our initiator must verify it …
        let finalResp = try SPNEGOToken(derEncoded: final).negTokenResp
        #expect(finalResp?.negState == .acceptCompleted, "\(describe)")
        if let mic = finalResp?.mechListMIC {
            // … and reject it when tampered with.
            var tampered = spnego
            var badMIC = mic
            badMIC[badMIC.count - 5] ^= 0x01  // inside the checksum
            let badToken = try SPNEGOToken.response(NegTokenResp(negState: .acceptCompleted, mechListMIC: badMIC)).serialize()
            #expect(throws: NTLMError.self, "tampered mechListMIC accepted: \(describe)") { _ = try tampered.step(badToken) }
        } else {
            Issue.record("pyspnego's accept-completed has no mechListMIC: \(describe)")
        }
        #expect(try spnego.step(final) == nil, "\(describe)")
        #expect(spnego.ntlm.negotiatedFlags?.rawValue == run.peerFlags, "\(describe)")
        run.ourComplete = spnego.isComplete
        run.session = spnego.ntlm.session
        return run
    }

    private static func writeUserFile(_ accounts: [DiffAccount]) throws -> URL {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("ntlmproxy-diff-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        let file = dir.appendingPathComponent("users.txt")
        let lines = accounts.map { "\($0.domain):\($0.user):\($0.password)" }.joined(separator: "\n") + "\n"
        try lines.write(to: file, atomically: true, encoding: .utf8)
        return file
    }

    // MARK: 3. Sign/seal on completed contexts

    /// Compares our completed session with pyspnego's view of the same context (its session key
    /// and flags): our outgoing signature and seal against pyspnego's for our direction, and
    /// pyspnego's for the other direction opened by us. pyspnego's `sign`/`seal` ops start from
    /// a fresh RC4 handle with the given sequence number, which is exactly our state right after
    /// the handshake (sequence 0) or after SPNEGO's mechListMICs (RC4 reset, MS-SPNG 3.3.5.1).
    private func sessionInterop(_ peer: PythonPeer, _ rng: inout SplitMix64, ours: NTLMSession, peerKey: [UInt8], peerFlags: UInt32, spnego: Bool, describe: String) throws {
        // SPNEGO used sequence 0 of each direction for the mechListMICs. Without extended session
        // security one counter serves both directions (MS-NLMP 3.4.4.1), so both MICs used it.
        let sequence = spnego ? (ours.flags.contains(.extendedSessionSecurity) ? 1 : 2) : 0
        #expect(ours.exportedSessionKey.bytes == peerKey, "ExportedSessionKey differs: \(describe)")
        #expect(ours.flags.rawValue == peerFlags, "flags differ: ours \(ours.flags), pyspnego \(NegotiateFlags(rawValue: peerFlags)); \(describe)")
        let mine = ours.role == .initiator ? "client" : "server"
        let theirs = ours.role == .initiator ? "server" : "client"
        let common: [String: Any] = ["flags": Int(peerFlags), "seq_num": sequence, "exported_session_key": peerKey]

        // Our direction.
        let message = rng.bytes(rng.int(0...300))
        var signer = ours
        let signature = signer.sign(message)
        let peerSig = try peer.call(common.merging(["op": "sign", "message": message, "direction": mine]) { $1 })
        #expect(try peerSig.peerBytes("signature") == signature, "\(mine) signature: \(describe)")
        var sealer = ours
        let (sealed, sealSig) = sealer.seal(message)
        let peerSeal = try peer.call(common.merging(["op": "seal", "message": message, "direction": mine]) { $1 })
        #expect(try peerSeal.peerBytes("sealed_message") == sealed, "\(mine) sealed: \(describe)")
        #expect(try peerSeal.peerBytes("signature") == sealSig, "\(mine) seal signature: \(describe)")

        // Their direction.
        let incoming = rng.bytes(rng.int(0...300))
        let theirSig = try peer.call(common.merging(["op": "sign", "message": incoming, "direction": theirs]) { $1 })
        var verifier = ours
        #expect(throws: Never.self, "verifying pyspnego's \(theirs) signature: \(describe)") {
            try verifier.verify(signature: try theirSig.peerBytes("signature"), for: incoming)
        }
        let theirSeal = try peer.call(common.merging(["op": "seal", "message": incoming, "direction": theirs]) { $1 })
        var opener = ours
        #expect(throws: Never.self, "unsealing pyspnego's \(theirs) seal: \(describe)") {
            let opened = try opener.unseal(try theirSeal.peerBytes("sealed_message"), signature: try theirSeal.peerBytes("signature"))
            #expect(opened == incoming, "\(describe)")
        }
    }
}
