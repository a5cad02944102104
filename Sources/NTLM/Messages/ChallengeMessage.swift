/// CHALLENGE_MESSAGE, "Type 2" (MS-NLMP 2.2.1.2): the server's challenge, its names and
/// (for NTLMv2) the TargetInfo list the client must echo.
public struct ChallengeMessage: Hashable, Sendable {
    public var flags: NegotiateFlags
    public var targetName: String
    /// The 8-byte nonce the client's response proves knowledge of the password against.
    public var serverChallenge: [UInt8]
    /// Present when NEGOTIATE_TARGET_INFO is set. Kept as the exact bytes the server sent,
    /// since the NTLMv2 blob echoes them; use `targetInfo` for the decoded pairs.
    public var targetInfoBytes: [UInt8]? {
        didSet { decodedTargetInfo = targetInfoBytes.flatMap { try? TargetInfo(bytes: $0) } }
    }
    public var version: Version?
    /// `targetInfoBytes` decoded once, when set or parsed (the initiator reads it on the hot
    /// path; parsing validated it already).
    private var decodedTargetInfo: TargetInfo?

    public static let messageType: UInt32 = 2

    public init(flags: NegotiateFlags, targetName: String = "", serverChallenge: [UInt8], targetInfo: TargetInfo? = nil, version: Version? = .default) throws(NTLMError) {
        guard serverChallenge.count == 8 else { throw .invalidFieldLength(field: "ServerChallenge", length: serverChallenge.count) }
        self.flags = flags
        self.targetName = targetName
        self.serverChallenge = serverChallenge
        self.targetInfoBytes = targetInfo?.bytes
        self.decodedTargetInfo = targetInfo.map { TargetInfo($0.pairs) }
        self.version = version
    }

    /// The decoded TargetInfo (validated when the message was parsed).
    public var targetInfo: TargetInfo? { decodedTargetInfo }

    public init(bytes: [UInt8]) throws(NTLMError) {
        var reader = try MessageHeader.read(bytes, expectedType: Self.messageType)
        let targetNameField = try reader.readPayloadDescriptor("TargetNameFields")
        flags = NegotiateFlags(rawValue: try reader.readUInt32("NegotiateFlags"))
        serverChallenge = try reader.readBytes(8, "ServerChallenge")
        try reader.skip(8, "Reserved")
        // Old servers send a 32-byte message without TargetInfoFields; the fixed part ends
        // where the first payload begins.
        var headerEnd = MessageHeader.payloadStart(of: [targetNameField], messageLength: bytes.count)
        var targetInfoField: (length: Int, offset: Int)? = nil
        if headerEnd >= 48 {
            let field = try reader.readPayloadDescriptor("TargetInfoFields")
            targetInfoField = field
            headerEnd = MessageHeader.payloadStart(of: [targetNameField, field], messageLength: bytes.count)
        }
        version = (headerEnd >= 56 && flags.contains(.version)) ? try Version(reading: &reader) : nil

        var fieldReader = WireReader(bytes, offset: 12)
        let nameBytes = try fieldReader.readPayload("TargetName")
        targetName = try TextEncoding.decode(nameBytes, unicode: flags.contains(.unicode), field: "TargetName")
        if targetInfoField != nil {
            fieldReader = WireReader(bytes, offset: 40)
            let infoBytes = try fieldReader.readPayload("TargetInfo")
            if infoBytes.isEmpty {
                targetInfoBytes = nil
                decodedTargetInfo = nil
            } else {
                decodedTargetInfo = try TargetInfo(bytes: infoBytes)
                targetInfoBytes = infoBytes
            }
        } else {
            targetInfoBytes = nil
            decodedTargetInfo = nil
        }
    }

    public func serialize() -> [UInt8] {
        var flags = self.flags
        if version == nil { flags.remove(.version) }
        if targetInfoBytes != nil { flags.insert(.targetInfo) }
        let headerLength = 56
        let name = TextEncoding.encode(targetName, unicode: flags.contains(.unicode))
        var writer = WireWriter(headerLength: headerLength, capacity: headerLength + name.count + (targetInfoBytes?.count ?? 0))
        MessageHeader.write(into: &writer, type: Self.messageType)
        writer.set(flags.rawValue, at: 20)
        writer.set(serverChallenge, at: 24)
        if let version { writer.set(version.bytes, at: 48) }
        writer.appendPayload(name, descriptorAt: 12)
        writer.appendPayload(targetInfoBytes ?? [], descriptorAt: 40)
        return writer.bytes
    }
}
