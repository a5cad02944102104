import Crypto

/// The NTLM one-way functions and key derivations of MS-NLMP 3.3 and 3.4.5, bytes in,
/// bytes out. MD5 and HMAC-MD5 come from swift-crypto; MD4, RC4 and DES are our own.
enum NTLMCrypto {
    static func md5(_ parts: [UInt8]...) -> [UInt8] {
        var hasher = Insecure.MD5()
        for part in parts { hasher.update(data: part) }
        return Array(hasher.finalize())
    }

    static func hmacMD5(key: [UInt8], _ parts: [UInt8]...) -> [UInt8] {
        hmacMD5(key: key, parts: parts)
    }

    static func hmacMD5(key: [UInt8], parts: [[UInt8]]) -> [UInt8] {
        var computation = HMACMD5(key: key).start()
        for part in parts { computation.update(part) }
        return computation.finalize()
    }

    static func randomBytes(_ count: Int) -> [UInt8] {
        SecureRandom.bytes(count)
    }

    /// NTOWFv2 (MS-NLMP 3.3.2): HMAC_MD5(NTOWFv1, UNICODE(Uppercase(User) || UserDom)).
    /// The domain is used as given, not uppercased.
    static func ntowfv2(ntHash: [UInt8], user: String, domain: String) -> [UInt8] {
        HMACMD5(key: ntHash).authenticate(TextEncoding.utf16LE(TextEncoding.windowsUppercase(user) + domain))
    }

    /// The NTLMv2 client blob ("temp" in MS-NLMP 3.3.2): RespType, HiRespType, Z(6), time,
    /// client challenge, Z(4), the AV pairs (terminated by EOL), Z(4).
    static func ntlmv2ClientBlob(timestamp: UInt64, clientChallenge: [UInt8], targetInfo: [UInt8]) -> [UInt8] {
        var writer = WireWriter(capacity: 32 + targetInfo.count)
        writer.append(UInt8(1))
        writer.append(UInt8(1))
        writer.append(contentsOf: [0, 0, 0, 0, 0, 0])
        writer.append(timestamp)
        writer.append(contentsOf: clientChallenge)
        writer.append(UInt32(0))
        writer.append(contentsOf: targetInfo)
        writer.append(UInt32(0))
        return writer.bytes
    }

    /// NTLMv2 (MS-NLMP 3.3.2): NTProofStr, the full NtChallengeResponse, the LMv2 response
    /// and the SessionBaseKey.
    static func ntlmv2Response(
        responseKeyNT: [UInt8], serverChallenge: [UInt8], clientChallenge: [UInt8],
        timestamp: UInt64, targetInfo: [UInt8]
    ) -> (ntProofStr: [UInt8], ntResponse: [UInt8], lmResponse: [UInt8], sessionBaseKey: [UInt8]) {
        ntlmv2Response(key: HMACMD5(key: responseKeyNT), serverChallenge: serverChallenge, clientChallenge: clientChallenge, timestamp: timestamp, targetInfo: targetInfo, includeLMv2: true)
    }

    /// NTLMv2 with the keyed HMAC state of NTOWFv2 already computed. `includeLMv2: false`
    /// skips the LMv2 HMAC when the caller will send Z(24) anyway; `lmResponse` is then empty.
    static func ntlmv2Response(
        key: HMACMD5, serverChallenge: [UInt8], clientChallenge: [UInt8],
        timestamp: UInt64, targetInfo: [UInt8], includeLMv2: Bool
    ) -> (ntProofStr: [UInt8], ntResponse: [UInt8], lmResponse: [UInt8], sessionBaseKey: [UInt8]) {
        // NtChallengeResponse = NTProofStr || blob, built in one buffer.
        var response = [UInt8](repeating: 0, count: 16)
        response.reserveCapacity(16 + 32 + targetInfo.count)
        response.append(contentsOf: ntlmv2ClientBlob(timestamp: timestamp, clientChallenge: clientChallenge, targetInfo: targetInfo))
        var mac = key.start()
        mac.update(serverChallenge)
        mac.update(response[16...])
        let proof = mac.finalize()
        response.replaceSubrange(0..<16, with: proof)
        let lm = includeLMv2 ? key.authenticate(serverChallenge, clientChallenge) + clientChallenge : []
        let sessionBaseKey = key.authenticate(proof)
        return (proof, response, lm, sessionBaseKey)
    }

    /// DESL (MS-NLMP 6): three DES encryptions of an 8-byte block under a 16-byte key padded
    /// to 21 bytes.
    static func desl(_ key: [UInt8], _ data: [UInt8]) throws(NTLMError) -> [UInt8] {
        do {
            return try DES.desl(key16: key, data8: data)
        } catch {
            throw .cryptoInput(error)
        }
    }

    /// KXKEY for NTLMv1 (MS-NLMP 3.4.5.1). For NTLMv2 the key exchange key is the
    /// SessionBaseKey itself.
    static func keyExchangeKeyV1(
        flags: NegotiateFlags, sessionBaseKey: [UInt8], lmChallengeResponse: [UInt8],
        serverChallenge: [UInt8], lmHash: [UInt8]?
    ) throws(NTLMError) -> [UInt8] {
        if flags.contains(.extendedSessionSecurity) {
            return hmacMD5(key: sessionBaseKey, serverChallenge + Array(lmChallengeResponse.prefix(8)))
        }
        if flags.contains(.lmKey), let lmHash, lmChallengeResponse.count >= 8 {
            do {
                let data = Array(lmChallengeResponse[0..<8])
                let first = try DES.encrypt56(key7: Array(lmHash[0..<7]), block: data)
                let second = try DES.encrypt56(key7: [lmHash[7], 0xBD, 0xBD, 0xBD, 0xBD, 0xBD, 0xBD], block: data)
                return first + second
            } catch {
                throw .cryptoInput(error)
            }
        }
        if flags.contains(.requestNonNTSessionKey), let lmHash {
            return Array(lmHash[0..<8]) + [UInt8](repeating: 0, count: 8)
        }
        return sessionBaseKey
    }

    /// MIC (MS-NLMP 3.1.5.1.2): HMAC_MD5(ExportedSessionKey, NEGOTIATE || CHALLENGE ||
    /// AUTHENTICATE), the last with its MIC field zeroed.
    static func mic(exportedSessionKey: [UInt8], negotiate: [UInt8], challenge: [UInt8], authenticate: [UInt8]) -> [UInt8] {
        var mac = HMACMD5(key: exportedSessionKey).start()
        mac.update(negotiate)
        mac.update(challenge)
        let start = AuthenticateMessage.micOffset
        let end = start + AuthenticateMessage.micLength
        if authenticate.count >= end {
            // The AUTHENTICATE_MESSAGE with its MIC field taken as zeros, without copying it.
            mac.update(authenticate[0..<start])
            mac.update([UInt8](repeating: 0, count: AuthenticateMessage.micLength))
            mac.update(authenticate[end...])
        } else {
            mac.update(authenticate)
        }
        return mac.finalize()
    }
}
