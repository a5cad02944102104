/// DES block encryption (FIPS 46-3), ECB mode, encryption direction only, plus
/// the NTLM helpers built on it (MS-NLMP section 6: `DES(K, D)` with a 7-byte
/// key, and `DESL(K, D)`).
///
/// DES is obsolete; it is here only because NTLMv1/LM responses and LM hashes
/// require it.
///
/// Bit numbering follows FIPS 46-3: bit 1 is the most significant bit of the
/// first byte. Blocks and keys are handled as big-endian `UInt64` values.
///
/// Speed: every permutation (IP, IP⁻¹, PC-1, PC-2) is done with byte-indexed
/// lookup tables, and the S-boxes are merged with the P permutation into eight
/// 64-entry "SP" tables. All tables are derived from the FIPS tables once, on
/// first use. Round keys are generated on the fly while encrypting, so no
/// key-schedule storage is allocated.
///
/// Inputs of the wrong length are reported with ``CryptoInputError``; nothing
/// is padded or truncated silently.
public enum DES {
    /// DES block size in bytes.
    public static let blockSize = 8

    /// Encrypts one 8-byte `block` with the 8-byte DES `key` (ECB, single
    /// block). The low bit of each key byte (the parity bit) is ignored, as
    /// DES specifies.
    ///
    /// - Throws: ``CryptoInputError/invalidKeyLength(expected:actual:)`` when
    ///   `key` is not 8 bytes, ``CryptoInputError/invalidBlockLength(expected:actual:)``
    ///   when `block` is not 8 bytes.
    public static func encryptBlock(key: [UInt8], block: [UInt8]) throws(CryptoInputError) -> [UInt8] {
        guard key.count == 8 else { throw .invalidKeyLength(expected: 8, actual: key.count) }
        guard block.count == 8 else { throw .invalidBlockLength(expected: 8, actual: block.count) }
        let result = tables.withUnsafeBufferPointer { t in
            encrypt(key: load64(key), block: load64(block), tables: t)
        }
        return bytes(of: result)
    }

    /// Expands a 7-byte (56-bit) key to an 8-byte DES key, as MS-NLMP's
    /// `DES(K, D)` requires: each successive 7 key bits become the top 7 bits
    /// of an output byte, and the low bit of that byte is set so that the byte
    /// has odd parity.
    ///
    /// - Throws: ``CryptoInputError/invalidKeyLength(expected:actual:)`` when
    ///   `key7` is not 7 bytes.
    public static func expandKey(_ key7: [UInt8]) throws(CryptoInputError) -> [UInt8] {
        guard key7.count == 7 else { throw .invalidKeyLength(expected: 7, actual: key7.count) }
        let spread = spread56(load56(key7, from: 0))
        return [UInt8](unsafeUninitializedCapacity: 8) { buffer, initialized in
            for index in 0..<8 {
                let byte = UInt8(truncatingIfNeeded: spread &>> UInt64(56 - 8 * index))
                // Odd parity: set the low bit when the seven key bits have an even count of ones.
                buffer[index] = byte.nonzeroBitCount & 1 == 0 ? byte | 1 : byte
            }
            initialized = 8
        }
    }

    /// MS-NLMP `DES(K, D)`: encrypts the 8-byte `block` with the 7-byte key
    /// `key7` (expanded as in ``expandKey(_:)``).
    ///
    /// - Throws: ``CryptoInputError/invalidKeyLength(expected:actual:)`` when
    ///   `key7` is not 7 bytes, ``CryptoInputError/invalidBlockLength(expected:actual:)``
    ///   when `block` is not 8 bytes.
    public static func encrypt56(key7: [UInt8], block: [UInt8]) throws(CryptoInputError) -> [UInt8] {
        guard key7.count == 7 else { throw .invalidKeyLength(expected: 7, actual: key7.count) }
        guard block.count == 8 else { throw .invalidBlockLength(expected: 8, actual: block.count) }
        // Parity bits are ignored by PC-1, so they need not be computed here.
        let key = spread56(load56(key7, from: 0))
        let result = tables.withUnsafeBufferPointer { t in
            encrypt(key: key, block: load64(block), tables: t)
        }
        return bytes(of: result)
    }

    /// MS-NLMP `DESL(K, D)`: `K` (16 bytes) is padded with five zero bytes to
    /// 21 bytes; `D` (8 bytes) is encrypted with `DES(K[0..6], D)`,
    /// `DES(K[7..13], D)` and `DES(K[14..20], D)`, and the three results are
    /// concatenated (24 bytes). Used for the NTLMv1 / LMv1 responses.
    ///
    /// - Throws: ``CryptoInputError/invalidKeyLength(expected:actual:)`` when
    ///   `key16` is not 16 bytes, ``CryptoInputError/invalidBlockLength(expected:actual:)``
    ///   when `data8` is not 8 bytes.
    public static func desl(key16: [UInt8], data8: [UInt8]) throws(CryptoInputError) -> [UInt8] {
        guard key16.count == 16 else { throw .invalidKeyLength(expected: 16, actual: key16.count) }
        guard data8.count == 8 else { throw .invalidBlockLength(expected: 8, actual: data8.count) }
        let block = load64(data8)
        let key1 = spread56(load56(key16, from: 0))
        let key2 = spread56(load56(key16, from: 7))
        // Last 7-byte key: K[14], K[15] and five zero bytes of padding.
        let key3 = spread56((UInt64(key16[14]) &<< 48) | (UInt64(key16[15]) &<< 40))
        let (r1, r2, r3) = tables.withUnsafeBufferPointer { t in
            (encrypt(key: key1, block: block, tables: t),
             encrypt(key: key2, block: block, tables: t),
             encrypt(key: key3, block: block, tables: t))
        }
        return [UInt8](unsafeUninitializedCapacity: 24) { buffer, initialized in
            for index in 0..<8 {
                let shift = UInt64(56 - 8 * index)
                buffer[index] = UInt8(truncatingIfNeeded: r1 &>> shift)
                buffer[index + 8] = UInt8(truncatingIfNeeded: r2 &>> shift)
                buffer[index + 16] = UInt8(truncatingIfNeeded: r3 &>> shift)
            }
            initialized = 24
        }
    }

    // MARK: - Byte helpers (callers have validated lengths)

    @inline(__always)
    private static func load64(_ bytes: [UInt8]) -> UInt64 {
        var value: UInt64 = 0
        for index in 0..<8 {
            value = (value &<< 8) | UInt64(bytes[index])
        }
        return value
    }

    /// Reads 7 bytes starting at `start` as a right-aligned 56-bit value.
    @inline(__always)
    private static func load56(_ bytes: [UInt8], from start: Int) -> UInt64 {
        var value: UInt64 = 0
        for index in start..<(start + 7) {
            value = (value &<< 8) | UInt64(bytes[index])
        }
        return value
    }

    /// Spreads a 56-bit value into 8 bytes of 7 bits each (top 7 bits of each
    /// byte; the low, parity bit is left zero).
    @inline(__always)
    static func spread56(_ k: UInt64) -> UInt64 {
        var out: UInt64 = 0
        for index in 0..<8 {
            let seven = (k &>> UInt64(49 - 7 * index)) & 0x7F
            out |= (seven &<< 1) &<< UInt64(56 - 8 * index)
        }
        return out
    }

    @inline(__always)
    private static func bytes(of value: UInt64) -> [UInt8] {
        [UInt8](unsafeUninitializedCapacity: 8) { buffer, initialized in
            for index in 0..<8 {
                buffer[index] = UInt8(truncatingIfNeeded: value &>> UInt64(56 - 8 * index))
            }
            initialized = 8
        }
    }

    // MARK: - Core

    /// Encrypts one block. `key` is a 64-bit DES key (parity bits ignored).
    @inline(__always)
    static func encrypt(key: UInt64, block: UInt64, tables t: UnsafeBufferPointer<UInt64>) -> UInt64 {
        // PC-1 gives C0 (high 28 bits) and D0 (low 28 bits).
        let cd0 = permute(key, chunks: 8, offset: pc1Offset, t)
        var c = UInt32(truncatingIfNeeded: cd0 &>> 28) & 0x0FFF_FFFF
        var d = UInt32(truncatingIfNeeded: cd0) & 0x0FFF_FFFF

        let ip = permute(block, chunks: 8, offset: ipOffset, t)
        var l = UInt32(truncatingIfNeeded: ip &>> 32)
        var r = UInt32(truncatingIfNeeded: ip)

        for round in 0..<16 {
            // Left shifts of the key schedule: 1 in rounds 1, 2, 9, 16, otherwise 2.
            let shift: UInt32 = (0x7EFC &>> UInt32(round)) & 1 == 1 ? 2 : 1
            c = ((c &<< shift) | (c &>> (28 &- shift))) & 0x0FFF_FFFF
            d = ((d &<< shift) | (d &>> (28 &- shift))) & 0x0FFF_FFFF
            let cd = (UInt64(c) &<< 28) | UInt64(d)
            // PC-2: 56 -> 48 bits, i.e. eight 6-bit groups K1..K8 from the MSB.
            let k = permute(cd, chunks: 7, offset: pc2Offset, t)

            // f(R, K) = P(S(E(R) xor K)); E's 6-bit group i is the R bits
            // 4i .. 4i+5 (1-based, cyclic), obtained by a rotation.
            var f: UInt64 = 0
            f |= t[spOffset + 0 * 64 + Int(((rotl(r, 31) &>> 26) ^ UInt32(truncatingIfNeeded: k &>> 42)) & 63)]
            f |= t[spOffset + 1 * 64 + Int(((rotl(r, 3) &>> 26) ^ UInt32(truncatingIfNeeded: k &>> 36)) & 63)]
            f |= t[spOffset + 2 * 64 + Int(((rotl(r, 7) &>> 26) ^ UInt32(truncatingIfNeeded: k &>> 30)) & 63)]
            f |= t[spOffset + 3 * 64 + Int(((rotl(r, 11) &>> 26) ^ UInt32(truncatingIfNeeded: k &>> 24)) & 63)]
            f |= t[spOffset + 4 * 64 + Int(((rotl(r, 15) &>> 26) ^ UInt32(truncatingIfNeeded: k &>> 18)) & 63)]
            f |= t[spOffset + 5 * 64 + Int(((rotl(r, 19) &>> 26) ^ UInt32(truncatingIfNeeded: k &>> 12)) & 63)]
            f |= t[spOffset + 6 * 64 + Int(((rotl(r, 23) &>> 26) ^ UInt32(truncatingIfNeeded: k &>> 6)) & 63)]
            f |= t[spOffset + 7 * 64 + Int(((rotl(r, 27) &>> 26) ^ UInt32(truncatingIfNeeded: k)) & 63)]

            let newR = l ^ UInt32(truncatingIfNeeded: f)
            l = r
            r = newR
        }
        // Pre-output is R16 L16, then the inverse initial permutation.
        return permute((UInt64(r) &<< 32) | UInt64(l), chunks: 8, offset: fpOffset, t)
    }

    @inline(__always)
    private static func rotl(_ x: UInt32, _ n: UInt32) -> UInt32 {
        (x &<< n) | (x &>> (32 &- n))
    }

    /// Applies a byte-table permutation to the low `chunks * 8` bits of `value`.
    @inline(__always)
    private static func permute(_ value: UInt64, chunks: Int, offset: Int, _ t: UnsafeBufferPointer<UInt64>) -> UInt64 {
        var out: UInt64 = 0
        var shift = UInt64(chunks &* 8 &- 8)
        for chunk in 0..<chunks {
            out |= t[offset &+ chunk &* 256 &+ Int((value &>> shift) & 0xFF)]
            shift &-= 8
        }
        return out
    }

    // MARK: - Tables

    private static let ipOffset = 0
    private static let fpOffset = 8 * 256
    private static let pc1Offset = 16 * 256
    private static let pc2Offset = 24 * 256
    private static let spOffset = 31 * 256
    private static let tableCount = 31 * 256 + 8 * 64

    /// All lookup tables in one flat array: IP, IP⁻¹ and PC-1 (8 × 256 entries
    /// each), PC-2 (7 × 256), then the 8 SP tables (8 × 64).
    private static let tables: [UInt64] = makeTables()

    // FIPS 46-3 tables (1-based bit positions, bit 1 = most significant).

    private static let initialPermutation: [Int] = [
        58, 50, 42, 34, 26, 18, 10, 2,
        60, 52, 44, 36, 28, 20, 12, 4,
        62, 54, 46, 38, 30, 22, 14, 6,
        64, 56, 48, 40, 32, 24, 16, 8,
        57, 49, 41, 33, 25, 17, 9, 1,
        59, 51, 43, 35, 27, 19, 11, 3,
        61, 53, 45, 37, 29, 21, 13, 5,
        63, 55, 47, 39, 31, 23, 15, 7,
    ]

    private static let permutedChoice1: [Int] = [
        57, 49, 41, 33, 25, 17, 9,
        1, 58, 50, 42, 34, 26, 18,
        10, 2, 59, 51, 43, 35, 27,
        19, 11, 3, 60, 52, 44, 36,
        63, 55, 47, 39, 31, 23, 15,
        7, 62, 54, 46, 38, 30, 22,
        14, 6, 61, 53, 45, 37, 29,
        21, 13, 5, 28, 20, 12, 4,
    ]

    private static let permutedChoice2: [Int] = [
        14, 17, 11, 24, 1, 5,
        3, 28, 15, 6, 21, 10,
        23, 19, 12, 4, 26, 8,
        16, 7, 27, 20, 13, 2,
        41, 52, 31, 37, 47, 55,
        30, 40, 51, 45, 33, 48,
        44, 49, 39, 56, 34, 53,
        46, 42, 50, 36, 29, 32,
    ]

    private static let permutationP: [Int] = [
        16, 7, 20, 21, 29, 12, 28, 17,
        1, 15, 23, 26, 5, 18, 31, 10,
        2, 8, 24, 14, 32, 27, 3, 9,
        19, 13, 30, 6, 22, 11, 4, 25,
    ]

    /// S1 ... S8, each as 4 rows of 16 entries.
    private static let sBoxes: [[UInt8]] = [
        [14, 4, 13, 1, 2, 15, 11, 8, 3, 10, 6, 12, 5, 9, 0, 7,
         0, 15, 7, 4, 14, 2, 13, 1, 10, 6, 12, 11, 9, 5, 3, 8,
         4, 1, 14, 8, 13, 6, 2, 11, 15, 12, 9, 7, 3, 10, 5, 0,
         15, 12, 8, 2, 4, 9, 1, 7, 5, 11, 3, 14, 10, 0, 6, 13],
        [15, 1, 8, 14, 6, 11, 3, 4, 9, 7, 2, 13, 12, 0, 5, 10,
         3, 13, 4, 7, 15, 2, 8, 14, 12, 0, 1, 10, 6, 9, 11, 5,
         0, 14, 7, 11, 10, 4, 13, 1, 5, 8, 12, 6, 9, 3, 2, 15,
         13, 8, 10, 1, 3, 15, 4, 2, 11, 6, 7, 12, 0, 5, 14, 9],
        [10, 0, 9, 14, 6, 3, 15, 5, 1, 13, 12, 7, 11, 4, 2, 8,
         13, 7, 0, 9, 3, 4, 6, 10, 2, 8, 5, 14, 12, 11, 15, 1,
         13, 6, 4, 9, 8, 15, 3, 0, 11, 1, 2, 12, 5, 10, 14, 7,
         1, 10, 13, 0, 6, 9, 8, 7, 4, 15, 14, 3, 11, 5, 2, 12],
        [7, 13, 14, 3, 0, 6, 9, 10, 1, 2, 8, 5, 11, 12, 4, 15,
         13, 8, 11, 5, 6, 15, 0, 3, 4, 7, 2, 12, 1, 10, 14, 9,
         10, 6, 9, 0, 12, 11, 7, 13, 15, 1, 3, 14, 5, 2, 8, 4,
         3, 15, 0, 6, 10, 1, 13, 8, 9, 4, 5, 11, 12, 7, 2, 14],
        [2, 12, 4, 1, 7, 10, 11, 6, 8, 5, 3, 15, 13, 0, 14, 9,
         14, 11, 2, 12, 4, 7, 13, 1, 5, 0, 15, 10, 3, 9, 8, 6,
         4, 2, 1, 11, 10, 13, 7, 8, 15, 9, 12, 5, 6, 3, 0, 14,
         11, 8, 12, 7, 1, 14, 2, 13, 6, 15, 0, 9, 10, 4, 5, 3],
        [12, 1, 10, 15, 9, 2, 6, 8, 0, 13, 3, 4, 14, 7, 5, 11,
         10, 15, 4, 2, 7, 12, 9, 5, 6, 1, 13, 14, 0, 11, 3, 8,
         9, 14, 15, 5, 2, 8, 12, 3, 7, 0, 4, 10, 1, 13, 11, 6,
         4, 3, 2, 12, 9, 5, 15, 10, 11, 14, 1, 7, 6, 0, 8, 13],
        [4, 11, 2, 14, 15, 0, 8, 13, 3, 12, 9, 7, 5, 10, 6, 1,
         13, 0, 11, 7, 4, 9, 1, 10, 14, 3, 5, 12, 2, 15, 8, 6,
         1, 4, 11, 13, 12, 3, 7, 14, 10, 15, 6, 8, 0, 5, 9, 2,
         6, 11, 13, 8, 1, 4, 10, 7, 9, 5, 0, 15, 14, 2, 3, 12],
        [13, 2, 8, 4, 6, 15, 11, 1, 10, 9, 3, 14, 5, 0, 12, 7,
         1, 15, 13, 8, 10, 3, 7, 4, 12, 5, 6, 11, 0, 14, 9, 2,
         7, 11, 4, 1, 9, 12, 14, 2, 0, 6, 10, 13, 15, 3, 5, 8,
         2, 1, 14, 7, 4, 10, 8, 13, 15, 12, 9, 0, 3, 5, 6, 11],
    ]

    /// Builds byte-indexed lookup tables for a bit permutation: output bit `j`
    /// (1-based from the MSB of a `permutation.count`-bit value) is input bit
    /// `permutation[j - 1]` (1-based from the MSB of an `inputBits`-bit value).
    /// Entry `chunk * 256 + v` is the output contribution of input byte
    /// `chunk` (from the MSB) having value `v`.
    private static func byteTables(for permutation: [Int], inputBits: Int) -> [UInt64] {
        var table = [UInt64](repeating: 0, count: (inputBits / 8) * 256)
        let outputBits = permutation.count
        for (outputIndex, source) in permutation.enumerated() {
            let sourceIndex = source - 1
            let chunk = sourceIndex / 8
            let bitInByte = 7 - sourceIndex % 8
            let mask = UInt64(1) << (outputBits - 1 - outputIndex)
            for value in 0..<256 where (value >> bitInByte) & 1 == 1 {
                table[chunk * 256 + value] |= mask
            }
        }
        return table
    }

    /// Straightforward bit-by-bit permutation, used only to build tables.
    private static func permuteBits(_ value: UInt64, inputBits: Int, _ permutation: [Int]) -> UInt64 {
        var out: UInt64 = 0
        for source in permutation {
            out = (out << 1) | ((value >> (inputBits - source)) & 1)
        }
        return out
    }

    private static func makeTables() -> [UInt64] {
        var inverseIP = [Int](repeating: 0, count: 64)
        for (index, source) in initialPermutation.enumerated() {
            inverseIP[source - 1] = index + 1
        }

        var all: [UInt64] = []
        all.reserveCapacity(tableCount)
        all += byteTables(for: initialPermutation, inputBits: 64)
        all += byteTables(for: inverseIP, inputBits: 64)
        all += byteTables(for: permutedChoice1, inputBits: 64)
        all += byteTables(for: permutedChoice2, inputBits: 56)

        for (boxIndex, box) in sBoxes.enumerated() {
            for input in 0..<64 {
                // Row from the outer bits b1 b6, column from b2 b3 b4 b5.
                let row = ((input >> 4) & 2) | (input & 1)
                let column = (input >> 1) & 15
                let s = UInt64(box[row * 16 + column])
                let beforeP = s << (28 - 4 * boxIndex)
                all.append(permuteBits(beforeP, inputBits: 32, permutationP))
            }
        }
        return all
    }
}
