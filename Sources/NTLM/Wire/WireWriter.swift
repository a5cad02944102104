/// Builds little-endian NTLM wire data.
///
/// An NTLM message is a fixed header holding (Len, MaxLen, BufferOffset) descriptors followed
/// by a payload. `WireWriter` allocates the header up front; `appendPayload(_:descriptorAt:)`
/// appends a field's bytes after the header and patches its descriptor in place, so the
/// payload order can differ from the descriptor order (Windows writes Domain, User and
/// Workstation before the responses, and the MS-NLMP 4.2 vectors follow that order).
struct WireWriter {
    private(set) var bytes: [UInt8]

    init(capacity: Int = 64) {
        bytes = []
        bytes.reserveCapacity(capacity)
    }

    /// A writer whose first `headerLength` bytes are zero, to be patched later.
    init(headerLength: Int, capacity: Int) {
        bytes = [UInt8](repeating: 0, count: headerLength)
        bytes.reserveCapacity(max(capacity, headerLength))
    }

    var count: Int { bytes.count }

    mutating func append(_ value: UInt8) { bytes.append(value) }

    mutating func append(_ value: UInt16) {
        bytes.append(UInt8(truncatingIfNeeded: value))
        bytes.append(UInt8(truncatingIfNeeded: value >> 8))
    }

    mutating func append(_ value: UInt32) {
        for shift in stride(from: 0, to: 32, by: 8) { bytes.append(UInt8(truncatingIfNeeded: value >> UInt32(shift))) }
    }

    mutating func append(_ value: UInt64) {
        for shift in stride(from: 0, to: 64, by: 8) { bytes.append(UInt8(truncatingIfNeeded: value >> UInt64(shift))) }
    }

    mutating func append(contentsOf data: [UInt8]) { bytes.append(contentsOf: data) }

    mutating func set(_ value: UInt16, at index: Int) {
        bytes[index] = UInt8(truncatingIfNeeded: value)
        bytes[index + 1] = UInt8(truncatingIfNeeded: value >> 8)
    }

    mutating func set(_ value: UInt32, at index: Int) {
        for byte in 0..<4 { bytes[index + byte] = UInt8(truncatingIfNeeded: value >> UInt32(byte * 8)) }
    }

    mutating func set(_ data: [UInt8], at index: Int) {
        bytes.replaceSubrange(index..<index + data.count, with: data)
    }

    /// Appends `data` to the payload and writes its descriptor at `descriptorOffset`.
    /// An empty field gets length 0 and the current end as its offset, as Windows does.
    mutating func appendPayload(_ data: [UInt8], descriptorAt descriptorOffset: Int) {
        let length = UInt16(truncatingIfNeeded: data.count)
        set(length, at: descriptorOffset)
        set(length, at: descriptorOffset + 2)
        set(UInt32(truncatingIfNeeded: bytes.count), at: descriptorOffset + 4)
        bytes.append(contentsOf: data)
    }
}
