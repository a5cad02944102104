#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Windows FILETIME: 100-nanosecond ticks since 1601-01-01 UTC, the unit of MsvAvTimestamp
/// and of the NTLMv2 client blob's time field.
public enum FileTime {
    /// Ticks between 1601-01-01 and 1970-01-01.
    public static let unixEpochOffset: UInt64 = 116_444_736_000_000_000

    /// The current wall-clock time as a FILETIME.
    public static func now() -> UInt64 {
        var spec = timespec()
        clock_gettime(CLOCK_REALTIME, &spec)
        let ticks = UInt64(max(0, Int64(spec.tv_sec))) &* 10_000_000 &+ UInt64(max(0, Int64(spec.tv_nsec))) / 100
        return unixEpochOffset &+ ticks
    }

    public static func fromUnixSeconds(_ seconds: UInt64) -> UInt64 {
        unixEpochOffset &+ seconds &* 10_000_000
    }
}
