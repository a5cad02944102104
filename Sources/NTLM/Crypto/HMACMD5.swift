import Crypto

/// HMAC-MD5 (RFC 2104) on swift-crypto's MD5, with the key's inner and outer pad states
/// computed once. NTLM computes several HMACs under the same key per handshake (NTProofStr,
/// SessionBaseKey, LMv2), and a credential's NTOWFv2 is fixed, so the keyed states are worth
/// keeping; feeding raw buffers also avoids swift-crypto's generic per-region update path.
struct HMACMD5: Sendable {
    private let inner: Insecure.MD5
    private let outer: Insecure.MD5

    init(key: [UInt8]) {
        var block = [UInt8](repeating: 0, count: 64)
        if key.count > 64 {
            var digest = Insecure.MD5()
            key.withUnsafeBytes { digest.update(bufferPointer: $0) }
            for (index, byte) in digest.finalize().enumerated() { block[index] = byte }
        } else {
            for index in 0..<key.count { block[index] = key[index] }
        }
        var innerPad = block
        var outerPad = block
        for index in 0..<64 {
            innerPad[index] ^= 0x36
            outerPad[index] ^= 0x5C
        }
        var inner = Insecure.MD5()
        innerPad.withUnsafeBytes { inner.update(bufferPointer: $0) }
        var outer = Insecure.MD5()
        outerPad.withUnsafeBytes { outer.update(bufferPointer: $0) }
        self.inner = inner
        self.outer = outer
    }

    /// A running MAC: feed bytes with `update`, then `finalize`.
    struct Computation {
        fileprivate var inner: Insecure.MD5
        fileprivate let outer: Insecure.MD5

        mutating func update(_ bytes: [UInt8]) {
            bytes.withUnsafeBytes { inner.update(bufferPointer: $0) }
        }

        mutating func update(_ bytes: ArraySlice<UInt8>) {
            bytes.withUnsafeBytes { inner.update(bufferPointer: $0) }
        }

        func finalize() -> [UInt8] {
            var outer = self.outer
            inner.finalize().withUnsafeBytes { outer.update(bufferPointer: $0) }
            var result = [UInt8](repeating: 0, count: 16)
            outer.finalize().withUnsafeBytes { digest in
                for index in 0..<min(16, digest.count) { result[index] = digest[index] }
            }
            return result
        }
    }

    func start() -> Computation { Computation(inner: inner, outer: outer) }

    func authenticate(_ parts: [UInt8]...) -> [UInt8] {
        var computation = start()
        for part in parts { computation.update(part) }
        return computation.finalize()
    }
}
