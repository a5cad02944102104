/// NEGOTIATE_MESSAGE, "Type 1" (MS-NLMP 2.2.1.1): the client's opening move.
///
/// We always send the 40-byte form with the Version field, because strict acceptors
/// (gss-ntlmssp) reject the 32-byte form; when parsing we accept both, since curl and other
/// older clients send 32 bytes.
public struct NegotiateMessage: Hashable, Sendable {
    public var flags: NegotiateFlags
    /// OEM domain name, sent only with NEGOTIATE_OEM_DOMAIN_SUPPLIED.
    public var domain: String?
    /// OEM workstation name, sent only with NEGOTIATE_OEM_WORKSTATION_SUPPLIED.
    public var workstation: String?
    /// Present in the 40-byte form.
    public var version: Version?

    public static let messageType: UInt32 = 1

    public init(flags: NegotiateFlags = .initiatorDefault, domain: String? = nil, workstation: String? = nil, version: Version? = .default) {
        self.flags = flags
        self.domain = domain
        self.workstation = workstation
        self.version = version
    }

    public init(bytes: [UInt8]) throws(NTLMError) {
        var reader = try MessageHeader.read(bytes, expectedType: Self.messageType)
        flags = NegotiateFlags(rawValue: try reader.readUInt32("NegotiateFlags"))
        let domainField = try reader.readPayloadDescriptor("DomainNameFields")
        let workstationField = try reader.readPayloadDescriptor("WorkstationFields")
        // The fixed part ends where the first payload begins; only then may a Version follow.
        let headerEnd = MessageHeader.payloadStart(of: [domainField, workstationField], messageLength: bytes.count)
        if headerEnd >= 40 && bytes.count >= 40 {
            version = try Version(reading: &reader)
        } else {
            version = nil
        }
        var fieldReader = WireReader(bytes, offset: 16)
        let domainBytes = try fieldReader.readPayload("DomainName")
        let workstationBytes = try fieldReader.readPayload("Workstation")
        domain = flags.contains(.oemDomainSupplied) ? TextEncoding.decodeOEM(domainBytes) : nil
        workstation = flags.contains(.oemWorkstationSupplied) ? TextEncoding.decodeOEM(workstationBytes) : nil
    }

    public func serialize() -> [UInt8] {
        var flags = self.flags
        flags.remove([.oemDomainSupplied, .oemWorkstationSupplied])
        if domain != nil { flags.insert(.oemDomainSupplied) }
        if workstation != nil { flags.insert(.oemWorkstationSupplied) }
        if version == nil { flags.remove(.version) }
        let headerLength = version == nil ? 32 : 40
        var writer = WireWriter(headerLength: headerLength, capacity: headerLength + 64)
        MessageHeader.write(into: &writer, type: Self.messageType)
        writer.set(flags.rawValue, at: 12)
        if let version { writer.set(version.bytes, at: 32) }
        // Payloads are OEM strings (MS-NLMP 2.2.1.1: DomainName/Workstation are always OEM).
        writer.appendPayload(domain.map(TextEncoding.oem) ?? [], descriptorAt: 16)
        writer.appendPayload(workstation.map(TextEncoding.oem) ?? [], descriptorAt: 24)
        return writer.bytes
    }
}

/// The 12 bytes every NTLM message starts with: `NTLMSSP\0` and the MessageType.
enum MessageHeader {
    static let signature: [UInt8] = [0x4E, 0x54, 0x4C, 0x4D, 0x53, 0x53, 0x50, 0x00]

    /// Checks signature and type and returns a reader positioned after them.
    static func read(_ bytes: [UInt8], expectedType: UInt32) throws(NTLMError) -> WireReader {
        var reader = WireReader(bytes)
        let signature = try reader.readBytes(8, "Signature")
        guard signature == Self.signature else { throw .badSignature }
        let type = try reader.readUInt32("MessageType")
        guard type == expectedType else { throw .wrongMessageType(expected: expectedType, actual: type) }
        return reader
    }

    /// Reads only the type of a message, for dispatching ("is this a Type 1 or a Type 3?").
    static func messageType(of bytes: [UInt8]) throws(NTLMError) -> UInt32 {
        var reader = WireReader(bytes)
        let signature = try reader.readBytes(8, "Signature")
        guard signature == Self.signature else { throw .badSignature }
        return try reader.readUInt32("MessageType")
    }

    static func write(into writer: inout WireWriter, type: UInt32) {
        writer.set(signature, at: 0)
        writer.set(type, at: 8)
    }

    /// Where the payload begins: the smallest offset of a non-empty field, or the message end.
    /// Optional header fields (Version, MIC) exist only before this point.
    static func payloadStart(of fields: [(length: Int, offset: Int)], messageLength: Int) -> Int {
        var start = messageLength
        for field in fields where field.length > 0 {
            start = min(start, field.offset)
        }
        return start
    }
}

/// Reads the MessageType of an NTLM message without parsing the rest.
public func ntlmMessageType(of bytes: [UInt8]) throws(NTLMError) -> UInt32 {
    try MessageHeader.messageType(of: bytes)
}
