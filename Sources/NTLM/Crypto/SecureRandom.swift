#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Cryptographically secure random bytes for challenges, client challenges and session keys.
///
/// Bytes come from the kernel (`/dev/urandom`, `arc4random_buf` on Darwin) in 4 KiB batches kept
/// behind a lock: one system call per byte, as `UInt8.random(in:)` makes, was a third of
/// the cost of a whole Type 3.
enum SecureRandom {
    private static let pool = RandomPool()

    static func bytes(_ count: Int) -> [UInt8] {
        guard count > 0 else { return [] }
        return pool.take(count)
    }
}

private final class RandomPool: @unchecked Sendable {
    private var mutex = pthread_mutex_t()
    private var buffer = [UInt8](repeating: 0, count: 4096)
    private var used = 4096

    init() { pthread_mutex_init(&mutex, nil) }
    deinit { pthread_mutex_destroy(&mutex) }

    func take(_ count: Int) -> [UInt8] {
        if count > buffer.count { return Self.fromKernel(count) }
        pthread_mutex_lock(&mutex)
        defer { pthread_mutex_unlock(&mutex) }
        if used + count > buffer.count {
            buffer = Self.fromKernel(buffer.count)
            used = 0
        }
        let out = Array(buffer[used..<used + count])
        // Handed-out bytes are wiped so that a later memory disclosure cannot replay them.
        for index in used..<used + count { buffer[index] = 0 }
        used += count
        return out
    }

    static func fromKernel(_ count: Int) -> [UInt8] {
        var bytes = [UInt8](repeating: 0, count: count)
        #if canImport(Darwin)
        bytes.withUnsafeMutableBytes { arc4random_buf($0.baseAddress, $0.count) }
        #else
        // /dev/urandom never blocks once the kernel pool is seeded (getrandom(2) is not
        // exported by the Glibc module). One open/read/close per 4 KiB batch.
        var filled = 0
        let fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC)
        if fd >= 0 {
            while filled < count {
                let result = bytes.withUnsafeMutableBytes { raw -> Int in
                    guard let base = raw.baseAddress else { return -1 }
                    return read(fd, base + filled, count - filled)
                }
                if result > 0 {
                    filled += result
                } else if result < 0 && errno == EINTR {
                    continue
                } else {
                    break
                }
            }
            close(fd)
        }
        if filled < count {
            // Never return predictable bytes: fall back to the standard library's generator.
            var generator = SystemRandomNumberGenerator()
            for index in filled..<count { bytes[index] = UInt8.random(in: .min ... .max, using: &generator) }
        }
        #endif
        return bytes
    }
}
