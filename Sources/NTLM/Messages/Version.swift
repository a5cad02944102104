/// The 8-byte VERSION structure (MS-NLMP 2.2.2.10): the sender's OS version and the NTLM
/// revision. It is informational only and never used for authorization decisions.
public struct Version: Hashable, Sendable {
    public var majorVersion: UInt8
    public var minorVersion: UInt8
    public var build: UInt16
    /// NTLMSSP_REVISION_W2K3 = 0x0F is the only current value.
    public var ntlmRevision: UInt8

    public init(majorVersion: UInt8, minorVersion: UInt8, build: UInt16, ntlmRevision: UInt8 = 0x0F) {
        self.majorVersion = majorVersion
        self.minorVersion = minorVersion
        self.build = build
        self.ntlmRevision = ntlmRevision
    }

    /// What ntlmproxy sends: Windows 10 build 19041, revision 15, a value every acceptor accepts.
    public static let `default` = Version(majorVersion: 10, minorVersion: 0, build: 19041)

    static let size = 8

    init(reading reader: inout WireReader) throws(NTLMError) {
        majorVersion = try reader.readUInt8("Version.ProductMajorVersion")
        minorVersion = try reader.readUInt8("Version.ProductMinorVersion")
        build = try reader.readUInt16("Version.ProductBuild")
        try reader.skip(3, "Version.Reserved")
        ntlmRevision = try reader.readUInt8("Version.NTLMRevisionCurrent")
    }

    func write(to writer: inout WireWriter) {
        writer.append(majorVersion)
        writer.append(minorVersion)
        writer.append(build)
        writer.append(contentsOf: [0, 0, 0])
        writer.append(ntlmRevision)
    }

    var bytes: [UInt8] {
        var writer = WireWriter(capacity: Self.size)
        write(to: &writer)
        return writer.bytes
    }
}

extension Version: CustomStringConvertible {
    public var description: String { "\(majorVersion).\(minorVersion).\(build) rev \(ntlmRevision)" }
}
