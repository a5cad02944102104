/// RC4 stream cipher (a.k.a. ARCFOUR).
///
/// RC4 is cryptographically weak; it exists here only because NTLM message
/// sealing (MS-NLMP 3.4.3) and key exchange require it.
///
/// A value of this type is a *continuing* keystream: every call to
/// ``process(_:)`` or ``process(inPlace:)`` consumes keystream bytes and the
/// position is kept for the next call, so encrypting a message in several
/// chunks gives the same result as encrypting it in one go. NTLM sealing
/// relies on this: one RC4 handle is used across all messages of a session.
/// Being a value type, a copy of an `RC4` continues independently from the
/// point where it was copied.
///
/// Key handling:
/// - An **empty key** is treated exactly like the one-byte key `[0x00]`
///   (it never traps and never passes data through unencrypted).
/// - Key bytes after the first 256 have no effect, as in the standard key
///   schedule (which only ever reads `key[i % key.count]` for `i < 256`).
public struct RC4: Sendable {
    /// The 256-byte permutation `S`.
    private var state: [UInt8]
    private var i: UInt8 = 0
    private var j: UInt8 = 0

    /// Creates a keystream from `key` using the RC4 key-scheduling algorithm.
    ///
    /// An empty key is treated as `[0x00]`; see the type documentation.
    public init(key: [UInt8]) {
        let effectiveKey: [UInt8] = key.isEmpty ? [0] : key
        var s = [UInt8](unsafeUninitializedCapacity: 256) { buffer, initialized in
            for index in 0..<256 {
                buffer[index] = UInt8(truncatingIfNeeded: index)
            }
            initialized = 256
        }
        s.withUnsafeMutableBufferPointer { s in
            effectiveKey.withUnsafeBufferPointer { k in
                let keyLength = k.count
                var j: UInt8 = 0
                var keyIndex = 0
                for index in 0..<256 {
                    let si = s[index]
                    j = j &+ si &+ k[keyIndex]
                    s[index] = s[Int(j)]
                    s[Int(j)] = si
                    keyIndex &+= 1
                    if keyIndex == keyLength { keyIndex = 0 }
                }
            }
        }
        self.state = s
    }

    /// Encrypts or decrypts `data`, continuing the keystream, and returns the
    /// result (same length as `data`).
    public mutating func process(_ data: [UInt8]) -> [UInt8] {
        var output = data
        process(inPlace: &output)
        return output
    }

    /// Encrypts or decrypts `data` in place, continuing the keystream.
    public mutating func process(inPlace data: inout [UInt8]) {
        data.withUnsafeMutableBytes { process(buffer: $0) }
    }

    /// Encrypts or decrypts the bytes of `buffer` in place, continuing the
    /// keystream.
    public mutating func process(buffer: UnsafeMutableRawBufferPointer) {
        let count = buffer.count
        guard count > 0 else { return }
        var i = self.i
        var j = self.j
        state.withUnsafeMutableBufferPointer { s in
            for n in 0..<count {
                i &+= 1
                let si = s[Int(i)]
                j &+= si
                let sj = s[Int(j)]
                s[Int(i)] = sj
                s[Int(j)] = si
                buffer[n] ^= s[Int(si &+ sj)]
            }
        }
        self.i = i
        self.j = j
    }

    /// One-shot RC4: encrypts or decrypts `data` with a fresh keystream
    /// derived from `key` (an empty key is treated as `[0x00]`).
    public static func apply(key: [UInt8], to data: [UInt8]) -> [UInt8] {
        var cipher = RC4(key: key)
        return cipher.process(data)
    }
}
