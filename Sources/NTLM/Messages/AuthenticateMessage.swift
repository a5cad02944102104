/// AUTHENTICATE_MESSAGE, "Type 3" (MS-NLMP 2.2.1.3): the client's responses and identity.
public struct AuthenticateMessage: Hashable, Sendable {
    public var flags: NegotiateFlags
    public var lmChallengeResponse: [UInt8]
    public var ntChallengeResponse: [UInt8]
    public var domain: String
    public var user: String
    public var workstation: String
    /// RC4K(KeyExchangeKey, ExportedSessionKey) when NEGOTIATE_KEY_EXCH is set.
    public var encryptedRandomSessionKey: [UInt8]
    public var version: Version?
    /// The message integrity code, 16 bytes, when the sender included the MIC field.
    public var mic: [UInt8]?

    public static let messageType: UInt32 = 3
    /// Offset of the MIC field in a message that carries Version and MIC.
    static let micOffset = 72
    static let micLength = 16

    public init(
        flags: NegotiateFlags, lmChallengeResponse: [UInt8], ntChallengeResponse: [UInt8],
        domain: String, user: String, workstation: String, encryptedRandomSessionKey: [UInt8] = [],
        version: Version? = .default, mic: [UInt8]? = nil
    ) {
        self.flags = flags
        self.lmChallengeResponse = lmChallengeResponse
        self.ntChallengeResponse = ntChallengeResponse
        self.domain = domain
        self.user = user
        self.workstation = workstation
        self.encryptedRandomSessionKey = encryptedRandomSessionKey
        self.version = version
        self.mic = mic
    }

    public init(bytes: [UInt8]) throws(NTLMError) {
        var reader = try MessageHeader.read(bytes, expectedType: Self.messageType)
        var descriptors: [(length: Int, offset: Int)] = []
        for name in ["LmChallengeResponseFields", "NtChallengeResponseFields", "DomainNameFields", "UserNameFields", "WorkstationFields", "EncryptedRandomSessionKeyFields"] {
            descriptors.append(try reader.readPayloadDescriptor(name))
        }
        flags = NegotiateFlags(rawValue: try reader.readUInt32("NegotiateFlags"))
        // Version and MIC are optional header fields; they exist only if the payload starts
        // after them (MS-NLMP 2.2.1.3 and 3.2.5.1.2).
        let headerEnd = MessageHeader.payloadStart(of: descriptors, messageLength: bytes.count)
        version = headerEnd >= 72 ? try Version(reading: &reader) : nil
        mic = headerEnd >= 88 ? try reader.readBytes(Self.micLength, "MIC") : nil

        var fieldReader = WireReader(bytes, offset: 12)
        lmChallengeResponse = try fieldReader.readPayload("LmChallengeResponse")
        ntChallengeResponse = try fieldReader.readPayload("NtChallengeResponse")
        let unicode = flags.contains(.unicode)
        domain = try TextEncoding.decode(try fieldReader.readPayload("DomainName"), unicode: unicode, field: "DomainName")
        user = try TextEncoding.decode(try fieldReader.readPayload("UserName"), unicode: unicode, field: "UserName")
        workstation = try TextEncoding.decode(try fieldReader.readPayload("Workstation"), unicode: unicode, field: "Workstation")
        encryptedRandomSessionKey = try fieldReader.readPayload("EncryptedRandomSessionKey")
        if !encryptedRandomSessionKey.isEmpty && encryptedRandomSessionKey.count != 16 {
            throw .invalidFieldLength(field: "EncryptedRandomSessionKey", length: encryptedRandomSessionKey.count)
        }
    }

    /// The wire form. Payload order is Windows': domain, user, workstation, LM response,
    /// NT response, session key. The NEGOTIATE_VERSION flag is cleared when there is no
    /// Version field, because strict acceptors reject that combination.
    public func serialize() -> [UInt8] {
        var flags = self.flags
        if version == nil { flags.remove(.version) }
        let unicode = flags.contains(.unicode)
        let domainBytes = TextEncoding.encode(domain, unicode: unicode)
        let userBytes = TextEncoding.encode(user, unicode: unicode)
        let workstationBytes = TextEncoding.encode(workstation, unicode: unicode)
        let headerLength = mic != nil ? 88 : (version != nil ? 72 : 64)
        let payloadLength = domainBytes.count + userBytes.count + workstationBytes.count
            + lmChallengeResponse.count + ntChallengeResponse.count + encryptedRandomSessionKey.count
        var writer = WireWriter(headerLength: headerLength, capacity: headerLength + payloadLength)
        MessageHeader.write(into: &writer, type: Self.messageType)
        writer.set(flags.rawValue, at: 60)
        if let version { writer.set(version.bytes, at: 64) }
        if let mic, mic.count == Self.micLength { writer.set(mic, at: Self.micOffset) }
        writer.appendPayload(domainBytes, descriptorAt: 28)
        writer.appendPayload(userBytes, descriptorAt: 36)
        writer.appendPayload(workstationBytes, descriptorAt: 44)
        writer.appendPayload(lmChallengeResponse, descriptorAt: 12)
        writer.appendPayload(ntChallengeResponse, descriptorAt: 20)
        writer.appendPayload(encryptedRandomSessionKey, descriptorAt: 52)
        return writer.bytes
    }

    /// `bytes` with the MIC field zeroed, the input of the MIC computation (MS-NLMP 3.1.5.1.2).
    static func zeroingMIC(in bytes: [UInt8]) -> [UInt8] {
        guard bytes.count >= micOffset + micLength else { return bytes }
        var copy = bytes
        for index in micOffset..<(micOffset + micLength) { copy[index] = 0 }
        return copy
    }
}
