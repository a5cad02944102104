import Testing
@testable import NTLM

/// Parses a hex string (whitespace ignored) into bytes; malformed input records an issue.
fileprivate func cryptoHex(_ string: String) -> [UInt8] { hexBytes(string) }

/// Formats bytes as lowercase hex.
fileprivate func cryptoHex(_ bytes: [UInt8]) -> String { bytes.hex }

@Suite("Crypto primitive vectors (MD4, RC4, DES)")
struct CryptoVectorTests {

    // MARK: MD4

    /// The complete RFC 1320 appendix A.5 test suite.
    @Test(arguments: [
        ("", "31d6cfe0d16ae931b73c59d7e0c089c0"),
        ("a", "bde52cb31de33e46245e05fbdbd6fb24"),
        ("abc", "a448017aaf21d8525fc10ae87aa6729d"),
        ("message digest", "d9130a8164549fe818874806e1c7014b"),
        ("abcdefghijklmnopqrstuvwxyz", "d79e1c308aa5bbcdeea8ed63df412da9"),
        ("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789",
         "043f8582f241db351ce627e153e7f0e4"),
        ("12345678901234567890123456789012345678901234567890123456789012345678901234567890",
         "e33b4ddc9c38f2199c3e7b164fcc0536"),
    ])
    func md4RFC1320(message: String, digest: String) {
        let bytes = Array(message.utf8)
        #expect(cryptoHex(MD4.hash(bytes)) == digest)
        // Generic entry point, non-array sequence and raw buffer must agree.
        #expect(cryptoHex(MD4.hash(message.utf8)) == digest)
        #expect(cryptoHex(MD4.hash(bytes[...])) == digest)
        #expect(cryptoHex(MD4.hash(bytes.lazy.map { $0 })) == digest)
        #expect(cryptoHex(bytes.withUnsafeBytes { MD4.hash($0) }) == digest)
    }

    @Test func md4NTHashOfPassword() {
        let utf16le = "Password".utf16.flatMap { [UInt8(truncatingIfNeeded: $0), UInt8(truncatingIfNeeded: $0 >> 8)] }
        #expect(cryptoHex(MD4.hash(utf16le)) == "a4f49c406510bdcab6824ee7c30fd852")
    }

    /// Expected values computed independently with
    /// `openssl dgst -md4 -provider legacy -provider default` and a separate
    /// pure-Python MD4 (both agreed).
    @Test func md4MillionBytes() {
        let as_ = [UInt8](repeating: 0x61, count: 1_000_000)
        #expect(cryptoHex(MD4.hash(as_)) == "bbce80cc6bb65e5c6745e30d4eeca9a4")
        let pattern = (0..<1_000_000).map { UInt8($0 % 251) }
        #expect(cryptoHex(MD4.hash(pattern)) == "8ea46622e2c7df3c58da7a2e5d0cb153")
    }

    /// Lengths around the padding boundaries (55/56/63/64/65 bytes) must not
    /// trap and must match the generic path.
    @Test func md4PaddingBoundaries() {
        for length in [0, 1, 55, 56, 57, 63, 64, 65, 119, 120, 127, 128, 129] {
            let data = (0..<length).map { UInt8(truncatingIfNeeded: $0 &* 7) }
            let digest = MD4.hash(data)
            #expect(digest.count == 16)
            #expect(MD4.hash(AnySequence(data)) == digest)
            #expect(MD4.hash(data[...]) == digest)
        }
        // Slices that do not start at index 0.
        let data = (0..<200).map { UInt8($0) }
        #expect(MD4.hash(data[3..<150]) == MD4.hash(Array(data[3..<150])))
    }

    // MARK: RC4

    @Test(arguments: [
        ("Key", "Plaintext", "bbf316e8d940af0ad3"),
        ("Wiki", "pedia", "1021bf0420"),
        ("Secret", "Attack at dawn", "45a01f645fc35b383552544b9bf5"),
    ])
    func rc4Vectors(key: String, plaintext: String, ciphertext: String) {
        let k = Array(key.utf8)
        let p = Array(plaintext.utf8)
        #expect(cryptoHex(RC4.apply(key: k, to: p)) == ciphertext)

        var stream = RC4(key: k)
        #expect(cryptoHex(stream.process(p)) == ciphertext)

        var inPlace = p
        var stream2 = RC4(key: k)
        stream2.process(inPlace: &inPlace)
        #expect(cryptoHex(inPlace) == ciphertext)

        // Decryption is the same operation.
        #expect(RC4.apply(key: k, to: cryptoHex(ciphertext)) == p)
    }

    /// RFC 6229, 40-bit key 0x0102030405, keystream offset 0.
    @Test func rc4RFC6229Keystream() {
        let keystream = RC4.apply(key: [1, 2, 3, 4, 5], to: [UInt8](repeating: 0, count: 32))
        #expect(cryptoHex(keystream) == "b2396305f03dc027ccc3524a0a1118a86982944f18fc82d589c403a47a0d0919")
    }

    @Test func rc4StatePersistsAcrossCalls() {
        let key = Array("Secret".utf8)
        let message = Array("Attack at dawn".utf8)
        let oneShot = RC4.apply(key: key, to: message)

        var stream = RC4(key: key)
        let first = stream.process(Array(message[0..<5]))
        var second = Array(message[5...])
        stream.process(inPlace: &second)
        #expect(first + second == oneShot)

        // Byte-by-byte, including empty calls, over a longer stream.
        let long = (0..<1000).map { UInt8(truncatingIfNeeded: $0) }
        let expected = RC4.apply(key: key, to: long)
        var bytewise = RC4(key: key)
        var collected: [UInt8] = []
        for byte in long {
            collected += bytewise.process([])
            collected += bytewise.process([byte])
        }
        #expect(collected == expected)

        // A copy continues independently from the point of copying.
        var a = RC4(key: key)
        _ = a.process([1, 2, 3])
        var b = a
        #expect(a.process([9, 9, 9]) == b.process([9, 9, 9]))
    }

    @Test func rc4EmptyKeyIsSingleZeroByte() {
        let message = Array("Attack at dawn".utf8)
        let ciphertext = RC4.apply(key: [], to: message)
        #expect(ciphertext == RC4.apply(key: [0], to: message))
        #expect(cryptoHex(ciphertext) == "9f6cfd20c05c7d5bfe267a062000")
        #expect(ciphertext != message)
    }

    @Test func rc4LongKeyDoesNotTrap() {
        let key = (0..<1000).map { UInt8(truncatingIfNeeded: $0) }
        // Key bytes past 256 never influence the key schedule.
        #expect(RC4.apply(key: key, to: [0, 0, 0, 0]) == RC4.apply(key: Array(key[0..<256]), to: [0, 0, 0, 0]))
    }

    // MARK: DES

    /// Published DES vectors (FIPS 81 example, the classic worked example,
    /// NBS/SP 800-17 known-answer tests); all also re-checked with
    /// `openssl enc -des-ecb`.
    @Test(arguments: [
        ("0123456789abcdef", "4e6f772069732074", "3fa40e8a984d4815"),
        ("133457799bbcdff1", "0123456789abcdef", "85e813540f0ab405"),
        ("0000000000000000", "0000000000000000", "8ca64de9c1b123a7"),
        ("ffffffffffffffff", "ffffffffffffffff", "7359b2163e4edc58"),
        ("3000000000000000", "1000000000000001", "958e6e627a05557b"),
        ("1111111111111111", "1111111111111111", "f40379ab9e0ec533"),
        ("0123456789abcdef", "1111111111111111", "17668dfc7292532d"),
        ("fedcba9876543210", "0123456789abcdef", "ed39d950fa74bcc4"),
        ("0101010101010101", "95f8a5e5dd31d900", "8000000000000000"),
        ("7ca110454a1a6e57", "01a1d6d039776742", "690f5b0d9a26939b"),
    ])
    func desVectors(key: String, plaintext: String, ciphertext: String) throws {
        let result = try DES.encryptBlock(key: cryptoHex(key), block: cryptoHex(plaintext))
        #expect(cryptoHex(result) == ciphertext)
    }

    @Test func desIgnoresParityBits() throws {
        let key = cryptoHex("133457799bbcdff1")
        let flipped = key.map { $0 ^ 1 }
        let block = cryptoHex("0123456789abcdef")
        #expect(try DES.encryptBlock(key: flipped, block: block) == DES.encryptBlock(key: key, block: block))
    }

    @Test func desExpandKeyParity() throws {
        // All-zero bits: every byte gets only the parity bit.
        #expect(try DES.expandKey([0, 0, 0, 0, 0, 0, 0]) == [UInt8](repeating: 0x01, count: 8))
        // All-one bits: seven ones is already odd, parity bit stays clear.
        #expect(try DES.expandKey([UInt8](repeating: 0xFF, count: 7)) == [UInt8](repeating: 0xFE, count: 8))
        // "PASSWOR" -> first LM half key.
        let expanded = try DES.expandKey(Array("PASSWOR".utf8))
        #expect(cryptoHex(expanded) == "5120546b34ba3da4")
        for byte in expanded {
            #expect(byte.nonzeroBitCount % 2 == 1)
        }
        // The top seven bits of each output byte are the successive key bits.
        let key7: [UInt8] = [0x12, 0x34, 0x56, 0x78, 0x9A, 0xBC, 0xDE]
        var keyBits: UInt64 = 0
        for byte in key7 { keyBits = keyBits << 8 | UInt64(byte) }
        let out = try DES.expandKey(key7)
        for (index, byte) in out.enumerated() {
            let seven = UInt8((keyBits >> UInt64(49 - 7 * index)) & 0x7F)
            #expect(byte >> 1 == seven)
            #expect(byte.nonzeroBitCount % 2 == 1)
        }
    }

    @Test func desEncrypt56MatchesExpandedKey() throws {
        let key7: [UInt8] = [0x12, 0x34, 0x56, 0x78, 0x9A, 0xBC, 0xDE]
        let block = cryptoHex("0123456789abcdef")
        #expect(try DES.encrypt56(key7: key7, block: block)
                == DES.encryptBlock(key: DES.expandKey(key7), block: block))
    }

    /// MS-NLMP 4.2.2.1.1: LMOWFv1("Password") = DES("PASSWOR", "KGS!@#$%") ||
    /// DES("D\0\0\0\0\0\0", "KGS!@#$%").
    @Test func desLMOWFv1() throws {
        let upper = Array("PASSWORD".utf8) + [UInt8](repeating: 0, count: 6)
        let magic = Array("KGS!@#$%".utf8)
        let lm = try DES.encrypt56(key7: Array(upper[0..<7]), block: magic)
            + DES.encrypt56(key7: Array(upper[7..<14]), block: magic)
        #expect(cryptoHex(lm) == "e52cac67419a9a224a3b108f3fa6cb6d")
    }

    /// MS-NLMP 4.2.2.2.2 (LMv1 response) and 4.2.2.2.1 (NTLMv1 response).
    @Test func deslNTLMv1Responses() throws {
        let serverChallenge = cryptoHex("0123456789abcdef")

        let lmowf = cryptoHex("e52cac67419a9a224a3b108f3fa6cb6d")
        #expect(cryptoHex(try DES.desl(key16: lmowf, data8: serverChallenge))
                == "98def7b87f88aa5dafe2df779688a172def11c7d5ccdef13")

        let password = "Password".utf16.flatMap { [UInt8(truncatingIfNeeded: $0), UInt8(truncatingIfNeeded: $0 >> 8)] }
        let ntowf = MD4.hash(password)
        #expect(cryptoHex(ntowf) == "a4f49c406510bdcab6824ee7c30fd852")
        #expect(cryptoHex(try DES.desl(key16: ntowf, data8: serverChallenge))
                == "67c43011f30298a2ad35ece64f16331c44bdbed927841f94")
    }

    @Test func desWrongLengthsThrowTypedError() {
        let eight = [UInt8](repeating: 1, count: 8)
        for bad in [0, 1, 7, 9, 16] where bad != 8 {
            let data = [UInt8](repeating: 2, count: bad)
            #expect(throws: CryptoInputError.invalidKeyLength(expected: 8, actual: bad)) {
                try DES.encryptBlock(key: data, block: eight)
            }
            #expect(throws: CryptoInputError.invalidBlockLength(expected: 8, actual: bad)) {
                try DES.encryptBlock(key: eight, block: data)
            }
            #expect(throws: CryptoInputError.invalidBlockLength(expected: 8, actual: bad)) {
                try DES.encrypt56(key7: [1, 2, 3, 4, 5, 6, 7], block: data)
            }
            #expect(throws: CryptoInputError.invalidBlockLength(expected: 8, actual: bad)) {
                try DES.desl(key16: [UInt8](repeating: 3, count: 16), data8: data)
            }
        }
        for bad in [0, 1, 6, 8, 14] {
            let key = [UInt8](repeating: 2, count: bad)
            #expect(throws: CryptoInputError.invalidKeyLength(expected: 7, actual: bad)) {
                try DES.expandKey(key)
            }
            #expect(throws: CryptoInputError.invalidKeyLength(expected: 7, actual: bad)) {
                try DES.encrypt56(key7: key, block: eight)
            }
        }
        for bad in [0, 8, 15, 17, 21] {
            #expect(throws: CryptoInputError.invalidKeyLength(expected: 16, actual: bad)) {
                try DES.desl(key16: [UInt8](repeating: 2, count: bad), data8: eight)
            }
        }
        // Both wrong: the key is reported first.
        #expect(throws: CryptoInputError.invalidKeyLength(expected: 8, actual: 3)) {
            try DES.encryptBlock(key: [1, 2, 3], block: [4])
        }
    }

    /// Typed throws: the error type is statically `CryptoInputError`.
    @Test func desErrorIsStaticallyTyped() {
        do {
            _ = try DES.desl(key16: [], data8: [])
            Issue.record("expected an error")
        } catch {
            let typed: CryptoInputError = error
            #expect(typed == .invalidKeyLength(expected: 16, actual: 0))
        }
    }
}
