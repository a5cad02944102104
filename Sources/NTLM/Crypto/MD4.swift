/// MD4 message digest (RFC 1320).
///
/// MD4 is cryptographically broken and must only be used where a protocol
/// requires it, e.g. the NTLM `NTOWFv1` password hash
/// (`MD4(UTF-16LE(password))`).
///
/// The implementation works on 32-bit words, reads 64-byte blocks straight out
/// of the caller's buffer and pads the final block(s) in a stack buffer, so the
/// only heap allocation is the 16-byte result.
public enum MD4 {
    /// Length of an MD4 digest in bytes.
    public static let digestLength = 16

    /// Hashes any sequence of bytes.
    ///
    /// Contiguous collections (`Array`, `ArraySlice`, `ContiguousArray`,
    /// native `String.UTF8View`, `UnsafeBufferPointer`, ...) are hashed in
    /// place; other sequences are first copied into an array.
    public static func hash<Bytes: Sequence>(_ data: Bytes) -> [UInt8] where Bytes.Element == UInt8 {
        if let digest = data.withContiguousStorageIfAvailable({ buffer in
            hash(UnsafeRawBufferPointer(buffer))
        }) {
            return digest
        }
        let copy = Array(data)
        return copy.withUnsafeBytes { hash($0) }
    }

    /// Hashes a byte array (fast path).
    public static func hash(_ data: [UInt8]) -> [UInt8] {
        data.withUnsafeBytes { hash($0) }
    }

    /// Hashes the bytes of a raw buffer (fast path).
    public static func hash(_ data: UnsafeRawBufferPointer) -> [UInt8] {
        var state = State()
        let count = data.count
        let fullBlockBytes = count & ~63

        if fullBlockBytes > 0, let base = data.baseAddress {
            var offset = 0
            while offset < fullBlockBytes {
                state.compress(base + offset)
                offset &+= 64
            }
        }

        let remainder = count &- fullBlockBytes
        // Message length in bits, modulo 2^64, as RFC 1320 section 3.2 requires.
        let bitLength = UInt64(truncatingIfNeeded: count) &* 8

        withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 128) { tail in
            tail.initialize(repeating: 0)
            if remainder > 0 {
                let rest = UnsafeRawBufferPointer(rebasing: data[fullBlockBytes..<count])
                UnsafeMutableRawBufferPointer(tail).copyMemory(from: rest)
            }
            tail[remainder] = 0x80
            let paddedLength = remainder < 56 ? 64 : 128
            var length = bitLength
            for index in (paddedLength - 8)..<paddedLength {
                tail[index] = UInt8(truncatingIfNeeded: length)
                length &>>= 8
            }
            guard let tailBase = tail.baseAddress else { return }
            let raw = UnsafeRawPointer(tailBase)
            state.compress(raw)
            if paddedLength == 128 {
                state.compress(raw + 64)
            }
        }

        return state.digest()
    }

    // MARK: - Compression function

    struct State {
        var a: UInt32 = 0x6745_2301
        var b: UInt32 = 0xEFCD_AB89
        var c: UInt32 = 0x98BA_DCFE
        var d: UInt32 = 0x1032_5476

        func digest() -> [UInt8] {
            [UInt8](unsafeUninitializedCapacity: 16) { buffer, initialized in
                @inline(__always)
                func put(_ word: UInt32, at index: Int) {
                    buffer[index] = UInt8(truncatingIfNeeded: word)
                    buffer[index + 1] = UInt8(truncatingIfNeeded: word &>> 8)
                    buffer[index + 2] = UInt8(truncatingIfNeeded: word &>> 16)
                    buffer[index + 3] = UInt8(truncatingIfNeeded: word &>> 24)
                }
                put(a, at: 0)
                put(b, at: 4)
                put(c, at: 8)
                put(d, at: 12)
                initialized = 16
            }
        }

        @inline(__always)
        private static func rotl(_ x: UInt32, _ n: UInt32) -> UInt32 {
            (x &<< n) | (x &>> (32 &- n))
        }

        // Round 1: F(x, y, z) = (x AND y) OR (NOT x AND z)
        @inline(__always)
        private static func r1(_ a: inout UInt32, _ b: UInt32, _ c: UInt32, _ d: UInt32, _ x: UInt32, _ s: UInt32) {
            a = rotl(a &+ (d ^ (b & (c ^ d))) &+ x, s)
        }

        // Round 2: G(x, y, z) = majority(x, y, z), constant sqrt(2) * 2^30
        @inline(__always)
        private static func r2(_ a: inout UInt32, _ b: UInt32, _ c: UInt32, _ d: UInt32, _ x: UInt32, _ s: UInt32) {
            a = rotl(a &+ ((b & c) | (d & (b | c))) &+ x &+ 0x5A82_7999, s)
        }

        // Round 3: H(x, y, z) = x XOR y XOR z, constant sqrt(3) * 2^30
        @inline(__always)
        private static func r3(_ a: inout UInt32, _ b: UInt32, _ c: UInt32, _ d: UInt32, _ x: UInt32, _ s: UInt32) {
            a = rotl(a &+ (b ^ c ^ d) &+ x &+ 0x6ED9_EBA1, s)
        }

        /// Processes one 64-byte block starting at `block` (no alignment needed).
        @inline(__always)
        mutating func compress(_ block: UnsafeRawPointer) {
            @inline(__always)
            func word(_ i: Int) -> UInt32 {
                UInt32(littleEndian: block.loadUnaligned(fromByteOffset: i &* 4, as: UInt32.self))
            }
            let x0 = word(0), x1 = word(1), x2 = word(2), x3 = word(3)
            let x4 = word(4), x5 = word(5), x6 = word(6), x7 = word(7)
            let x8 = word(8), x9 = word(9), x10 = word(10), x11 = word(11)
            let x12 = word(12), x13 = word(13), x14 = word(14), x15 = word(15)

            var a = self.a, b = self.b, c = self.c, d = self.d

            Self.r1(&a, b, c, d, x0, 3);  Self.r1(&d, a, b, c, x1, 7)
            Self.r1(&c, d, a, b, x2, 11); Self.r1(&b, c, d, a, x3, 19)
            Self.r1(&a, b, c, d, x4, 3);  Self.r1(&d, a, b, c, x5, 7)
            Self.r1(&c, d, a, b, x6, 11); Self.r1(&b, c, d, a, x7, 19)
            Self.r1(&a, b, c, d, x8, 3);  Self.r1(&d, a, b, c, x9, 7)
            Self.r1(&c, d, a, b, x10, 11); Self.r1(&b, c, d, a, x11, 19)
            Self.r1(&a, b, c, d, x12, 3); Self.r1(&d, a, b, c, x13, 7)
            Self.r1(&c, d, a, b, x14, 11); Self.r1(&b, c, d, a, x15, 19)

            Self.r2(&a, b, c, d, x0, 3);  Self.r2(&d, a, b, c, x4, 5)
            Self.r2(&c, d, a, b, x8, 9);  Self.r2(&b, c, d, a, x12, 13)
            Self.r2(&a, b, c, d, x1, 3);  Self.r2(&d, a, b, c, x5, 5)
            Self.r2(&c, d, a, b, x9, 9);  Self.r2(&b, c, d, a, x13, 13)
            Self.r2(&a, b, c, d, x2, 3);  Self.r2(&d, a, b, c, x6, 5)
            Self.r2(&c, d, a, b, x10, 9); Self.r2(&b, c, d, a, x14, 13)
            Self.r2(&a, b, c, d, x3, 3);  Self.r2(&d, a, b, c, x7, 5)
            Self.r2(&c, d, a, b, x11, 9); Self.r2(&b, c, d, a, x15, 13)

            Self.r3(&a, b, c, d, x0, 3);  Self.r3(&d, a, b, c, x8, 9)
            Self.r3(&c, d, a, b, x4, 11); Self.r3(&b, c, d, a, x12, 15)
            Self.r3(&a, b, c, d, x2, 3);  Self.r3(&d, a, b, c, x10, 9)
            Self.r3(&c, d, a, b, x6, 11); Self.r3(&b, c, d, a, x14, 15)
            Self.r3(&a, b, c, d, x1, 3);  Self.r3(&d, a, b, c, x9, 9)
            Self.r3(&c, d, a, b, x5, 11); Self.r3(&b, c, d, a, x13, 15)
            Self.r3(&a, b, c, d, x3, 3);  Self.r3(&d, a, b, c, x11, 9)
            Self.r3(&c, d, a, b, x7, 11); Self.r3(&b, c, d, a, x15, 15)

            self.a &+= a
            self.b &+= b
            self.c &+= c
            self.d &+= d
        }
    }
}
