/// One attribute/value pair of a TargetInfo list (MS-NLMP 2.2.2.1).
public struct AVPair: Hashable, Sendable {
    /// The AvId of an AV pair.
    public struct ID: RawRepresentable, Hashable, Sendable {
        public var rawValue: UInt16
        public init(rawValue: UInt16) { self.rawValue = rawValue }

        public static let eol = ID(rawValue: 0x0000)
        public static let nbComputerName = ID(rawValue: 0x0001)
        public static let nbDomainName = ID(rawValue: 0x0002)
        public static let dnsComputerName = ID(rawValue: 0x0003)
        public static let dnsDomainName = ID(rawValue: 0x0004)
        public static let dnsTreeName = ID(rawValue: 0x0005)
        public static let flags = ID(rawValue: 0x0006)
        public static let timestamp = ID(rawValue: 0x0007)
        public static let singleHost = ID(rawValue: 0x0008)
        public static let targetName = ID(rawValue: 0x0009)
        public static let channelBindings = ID(rawValue: 0x000A)
    }

    public var id: ID
    public var value: [UInt8]

    public init(id: ID, value: [UInt8]) {
        self.id = id
        self.value = value
    }

    /// A pair holding UTF-16LE text (the names and MsvAvTargetName).
    public static func text(_ id: ID, _ string: String) -> AVPair {
        AVPair(id: id, value: TextEncoding.utf16LE(string))
    }
}

/// Bits of the MsvAvFlags AV pair (MS-NLMP 2.2.2.1).
public struct AVFlags: OptionSet, Hashable, Sendable {
    public var rawValue: UInt32
    public init(rawValue: UInt32) { self.rawValue = rawValue }
    /// The server's account authentication is constrained.
    public static let constrained = AVFlags(rawValue: 0x1)
    /// The AUTHENTICATE_MESSAGE carries a MIC.
    public static let micPresent = AVFlags(rawValue: 0x2)
    /// The client got the SPN from an untrusted source.
    public static let untrustedSPN = AVFlags(rawValue: 0x4)
}

/// The TargetInfo list of AV pairs: server names and timestamp in the CHALLENGE_MESSAGE,
/// echoed (with MsvAvFlags, MsvAvTargetName, MsvAvChannelBindings added) inside the client's
/// NTLMv2 response.
///
/// Pairs keep their order and unknown IDs are preserved, because the client blob must echo
/// the server's list byte for byte apart from the pairs the client adds.
public struct TargetInfo: Hashable, Sendable {
    /// The pairs, without the terminating MsvAvEOL.
    public var pairs: [AVPair]

    public init(_ pairs: [AVPair] = []) {
        self.pairs = pairs.filter { $0.id != .eol }
    }

    /// Parses an AV pair list. The list must end with MsvAvEOL; bytes after it are ignored
    /// (Windows pads the blob with zeros after the list).
    public init(bytes: [UInt8]) throws(NTLMError) {
        var reader = WireReader(bytes)
        var pairs: [AVPair] = []
        while true {
            let start = reader.offset
            guard reader.remaining >= 4 else {
                if reader.remaining == 0 { throw .avPairsNotTerminated }
                throw .avPairTruncated(offset: start)
            }
            let rawID = try reader.readUInt16("AvId")
            let length = Int(try reader.readUInt16("AvLen"))
            guard reader.remaining >= length else { throw .avPairTruncated(offset: start) }
            let value = try reader.readBytes(length, "AvValue")
            let id = AVPair.ID(rawValue: rawID)
            if id == .eol { break }
            switch id {
            case .timestamp where length != 8,
                 .flags where length != 4,
                 .channelBindings where length != 16:
                throw .avPairInvalidLength(id: rawID, length: length)
            case .singleHost where length < 48:
                throw .avPairInvalidLength(id: rawID, length: length)
            default:
                break
            }
            pairs.append(AVPair(id: id, value: value))
        }
        self.pairs = pairs
    }

    /// The wire form, terminated by MsvAvEOL.
    public var bytes: [UInt8] {
        var writer = WireWriter(capacity: pairs.reduce(4) { $0 + 4 + $1.value.count })
        for pair in pairs {
            writer.append(pair.id.rawValue)
            writer.append(UInt16(truncatingIfNeeded: pair.value.count))
            writer.append(contentsOf: pair.value)
        }
        writer.append(UInt32(0))
        return writer.bytes
    }

    public func value(for id: AVPair.ID) -> [UInt8]? {
        pairs.first { $0.id == id }?.value
    }

    public mutating func set(_ id: AVPair.ID, _ value: [UInt8]) {
        if let index = pairs.firstIndex(where: { $0.id == id }) {
            pairs[index].value = value
        } else {
            pairs.append(AVPair(id: id, value: value))
        }
    }

    func text(for id: AVPair.ID) -> String? {
        guard let value = value(for: id) else { return nil }
        return try? TextEncoding.decodeUTF16LE(value, field: "AvPair")
    }

    public var nbComputerName: String? { text(for: .nbComputerName) }
    public var nbDomainName: String? { text(for: .nbDomainName) }
    public var dnsComputerName: String? { text(for: .dnsComputerName) }
    public var dnsDomainName: String? { text(for: .dnsDomainName) }
    public var dnsTreeName: String? { text(for: .dnsTreeName) }
    public var targetName: String? { text(for: .targetName) }

    /// MsvAvTimestamp as a FILETIME (100 ns ticks since 1601-01-01 UTC).
    public var timestamp: UInt64? {
        guard let value = value(for: .timestamp), value.count == 8 else { return nil }
        var reader = WireReader(value)
        return try? reader.readUInt64("MsvAvTimestamp")
    }

    public var flags: AVFlags? {
        guard let value = value(for: .flags), value.count == 4 else { return nil }
        var reader = WireReader(value)
        guard let raw = try? reader.readUInt32("MsvAvFlags") else { return nil }
        return AVFlags(rawValue: raw)
    }

    public var channelBindings: [UInt8]? { value(for: .channelBindings) }
}
