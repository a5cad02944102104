/// GSS-API channel bindings (RFC 2744 `gss_channel_bindings_struct`) as NTLM hashes them
/// into MsvAvChannelBindings (MS-NLMP 2.2.2.1, 3.1.5.1.2).
///
/// For HTTPS the application data is `tls-server-end-point:` followed by the hash of the
/// server's certificate (RFC 5929); the address fields stay empty.
public struct ChannelBindings: Hashable, Sendable {
    public var initiatorAddressType: UInt32
    public var initiatorAddress: [UInt8]
    public var acceptorAddressType: UInt32
    public var acceptorAddress: [UInt8]
    public var applicationData: [UInt8]

    public init(initiatorAddressType: UInt32 = 0, initiatorAddress: [UInt8] = [], acceptorAddressType: UInt32 = 0, acceptorAddress: [UInt8] = [], applicationData: [UInt8]) {
        self.initiatorAddressType = initiatorAddressType
        self.initiatorAddress = initiatorAddress
        self.acceptorAddressType = acceptorAddressType
        self.acceptorAddress = acceptorAddress
        self.applicationData = applicationData
    }

    /// RFC 5929 tls-server-end-point bindings from the hash of the server certificate
    /// (SHA-256 for certificates signed with MD5 or SHA-1, else the signature's own hash).
    public static func tlsServerEndPoint(certificateHash: [UInt8]) -> ChannelBindings {
        ChannelBindings(applicationData: Array("tls-server-end-point:".utf8) + certificateHash)
    }

    /// The flat structure that is hashed: each address type and length little-endian.
    public var flattened: [UInt8] {
        var writer = WireWriter(capacity: 20 + initiatorAddress.count + acceptorAddress.count + applicationData.count)
        writer.append(initiatorAddressType)
        writer.append(UInt32(truncatingIfNeeded: initiatorAddress.count))
        writer.append(contentsOf: initiatorAddress)
        writer.append(acceptorAddressType)
        writer.append(UInt32(truncatingIfNeeded: acceptorAddress.count))
        writer.append(contentsOf: acceptorAddress)
        writer.append(UInt32(truncatingIfNeeded: applicationData.count))
        writer.append(contentsOf: applicationData)
        return writer.bytes
    }

    /// MD5 of the flattened structure: the value of MsvAvChannelBindings.
    public var hash: [UInt8] { NTLMCrypto.md5(flattened) }
}
