/// A bounds-checked little-endian cursor over untrusted NTLM bytes.
///
/// Every read names the field it reads so that a failure can say what was truncated and
/// where. Reads never trap: running past the end throws `NTLMError.truncated`.
struct WireReader {
    let bytes: [UInt8]
    private(set) var offset: Int

    init(_ bytes: [UInt8], offset: Int = 0) {
        self.bytes = bytes
        self.offset = offset
    }

    var remaining: Int { bytes.count - offset }

    mutating func readUInt8(_ field: String) throws(NTLMError) -> UInt8 {
        guard remaining >= 1 else { throw .truncated(field: field, offset: offset) }
        defer { offset += 1 }
        return bytes[offset]
    }

    mutating func readUInt16(_ field: String) throws(NTLMError) -> UInt16 {
        guard remaining >= 2 else { throw .truncated(field: field, offset: offset) }
        defer { offset += 2 }
        return UInt16(bytes[offset]) | UInt16(bytes[offset + 1]) << 8
    }

    mutating func readUInt32(_ field: String) throws(NTLMError) -> UInt32 {
        guard remaining >= 4 else { throw .truncated(field: field, offset: offset) }
        defer { offset += 4 }
        return UInt32(bytes[offset])
            | UInt32(bytes[offset + 1]) << 8
            | UInt32(bytes[offset + 2]) << 16
            | UInt32(bytes[offset + 3]) << 24
    }

    mutating func readUInt64(_ field: String) throws(NTLMError) -> UInt64 {
        guard remaining >= 8 else { throw .truncated(field: field, offset: offset) }
        let low = try readUInt32(field)
        let high = try readUInt32(field)
        return UInt64(low) | UInt64(high) << 32
    }

    mutating func readBytes(_ count: Int, _ field: String) throws(NTLMError) -> [UInt8] {
        guard count >= 0, remaining >= count else { throw .truncated(field: field, offset: offset) }
        defer { offset += count }
        return Array(bytes[offset..<offset + count])
    }

    mutating func skip(_ count: Int, _ field: String) throws(NTLMError) {
        guard count >= 0, remaining >= count else { throw .truncated(field: field, offset: offset) }
        offset += count
    }

    /// Reads an 8-byte security buffer descriptor (Len, MaxLen, BufferOffset) and returns the
    /// bytes it points at in the whole message. MaxLen is ignored as MS-NLMP 2.2.1 says.
    mutating func readPayload(_ field: String) throws(NTLMError) -> [UInt8] {
        let descriptorOffset = offset
        guard remaining >= 8 else { throw .truncated(field: field, offset: offset) }
        let length = Int(try readUInt16(field))
        _ = try readUInt16(field)
        let start = Int(try readUInt32(field))
        guard length > 0 else { return [] }
        // Int is 64-bit here, so start + length cannot overflow for 32-bit inputs.
        guard start <= bytes.count, length <= bytes.count - start else {
            throw .payloadOutOfBounds(field: field, offset: descriptorOffset, length: length)
        }
        return Array(bytes[start..<start + length])
    }

    /// Reads a security buffer descriptor without reading its payload: (length, offset).
    mutating func readPayloadDescriptor(_ field: String) throws(NTLMError) -> (length: Int, offset: Int) {
        guard remaining >= 8 else { throw .truncated(field: field, offset: offset) }
        let length = Int(try readUInt16(field))
        _ = try readUInt16(field)
        let start = Int(try readUInt32(field))
        return (length, start)
    }
}
