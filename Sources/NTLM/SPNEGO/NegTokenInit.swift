import SwiftASN1

/// The initiator's opening SPNEGO token (RFC 4178 §4.2.1), and Microsoft's NegTokenInit2
/// (MS-SPNG §2.2.1) that Windows acceptors send unsolicited.
///
/// ```
/// NegTokenInit ::= SEQUENCE {                 NegTokenInit2 ::= SEQUENCE {
///     mechTypes     [0] MechTypeList,             mechTypes    [0] MechTypeList OPTIONAL,
///     reqFlags      [1] ContextFlags OPTIONAL,    reqFlags     [1] ContextFlags OPTIONAL,
///     mechToken     [2] OCTET STRING OPTIONAL,    mechToken    [2] OCTET STRING OPTIONAL,
///     mechListMIC   [3] OCTET STRING OPTIONAL,    negHints     [3] NegHints     OPTIONAL,
///     ...                                         mechListMIC  [4] OCTET STRING OPTIONAL,
/// }                                               ... }
/// MechTypeList ::= SEQUENCE OF MechType       NegHints ::= SEQUENCE {
/// MechType ::= OBJECT IDENTIFIER                  hintName    [0] GeneralString OPTIONAL,
///                                                 hintAddress [1] OCTET STRING  OPTIONAL }
/// ```
///
/// All tags are EXPLICIT (the RFC 4178 module is `DEFINITIONS EXPLICIT TAGS`). The two forms
/// share the `[0]` NegotiationToken choice and differ only in what `[3]` holds, so parsing
/// decides by the type inside `[3]`: a SEQUENCE is `negHints` (and the MIC, if any, is `[4]`),
/// an OCTET STRING is `mechListMIC`. Serializing writes the RFC 4178 form when `negHints` is
/// `nil` and the NegTokenInit2 form otherwise (as pyspnego and Windows do).
///
/// `mechTypes` is required here even though MS-SPNG marks it OPTIONAL in NegTokenInit2:
/// without it there is nothing to negotiate and no mechListMIC can be checked.
///
/// Extension additions (the `...`) are tolerated: trailing context-specific elements tagged
/// above `[4]` are skipped and not kept. Anything else out of place is an error.
public struct NegTokenInit: Hashable, Sendable {
    /// The mechanisms the initiator offers, most preferred first.
    public var mechTypes: [ASN1ObjectIdentifier]
    /// `ContextFlags` BIT STRING, kept exactly as received (RFC 4178 recommends leaving it out;
    /// bit 0 is delegFlag, 1 mutualFlag, 2 replayFlag, 3 sequenceFlag, 4 anonFlag,
    /// 5 confFlag, 6 integFlag, counting from the most significant bit of the first byte).
    public var reqFlags: ASN1BitString?
    /// The optimistic token for the first mechanism in `mechTypes` (for NTLM, the Type 1).
    public var mechToken: [UInt8]?
    /// MS-SPNG NegTokenInit2 hints; `nil` for an RFC 4178 NegTokenInit.
    public var negHints: NegHints?
    /// The mechanism list MIC, computed over ``mechTypeListDER``.
    public var mechListMIC: [UInt8]?

    public init(
        mechTypes: [ASN1ObjectIdentifier],
        reqFlags: ASN1BitString? = nil,
        mechToken: [UInt8]? = nil,
        negHints: NegHints? = nil,
        mechListMIC: [UInt8]? = nil
    ) {
        self.mechTypes = mechTypes
        self.reqFlags = reqFlags
        self.mechToken = mechToken
        self.negHints = negHints
        self.mechListMIC = mechListMIC
    }

    /// The DER encoding of the MechTypeList SEQUENCE alone (without the `[0]` tag): the bytes
    /// the SPNEGO mechListMIC is computed over (RFC 4178 §5).
    public var mechTypeListDER: [UInt8] {
        get throws(SPNEGOError) {
            try Self.mechTypeListDER(self.mechTypes)
        }
    }

    /// The DER encoding of a MechTypeList SEQUENCE holding `mechTypes`, in order.
    public static func mechTypeListDER(_ mechTypes: [ASN1ObjectIdentifier]) throws(SPNEGOError) -> [UInt8] {
        var coder = DER.Serializer()
        do {
            try coder.serializeSequenceOf(mechTypes)
        } catch {
            throw SPNEGOError.wrapping(error)
        }
        return coder.serializedBytes
    }

    /// This token's mechanisms that we know by name, in the initiator's order.
    public var knownMechanisms: [SPNEGOMechanism] {
        self.mechTypes.compactMap { SPNEGOMechanism(oid: $0) }
    }
}

extension NegTokenInit {
    /// MS-SPNG NegHints. Windows sends `hintName` = "not_defined_in_RFC4178@please_ignore"
    /// (older versions sent the acceptor's principal name) and never `hintAddress`.
    public struct NegHints: Hashable, Sendable {
        /// The GeneralString's bytes as sent (ASCII in practice; pre-2008 Windows used the
        /// OEM code page).
        public var hintName: [UInt8]?
        public var hintAddress: [UInt8]?

        /// The hint name every Windows version since 2008 sends.
        public static let windowsHintName: [UInt8] = Array("not_defined_in_RFC4178@please_ignore".utf8)

        public init(hintName: [UInt8]? = nil, hintAddress: [UInt8]? = nil) {
            self.hintName = hintName
            self.hintAddress = hintAddress
        }

        /// `hintName` read as UTF-8 (invalid sequences become U+FFFD); for display only.
        public var hintNameString: String? {
            self.hintName.map { String(decoding: $0, as: UTF8.self) }
        }
    }
}

extension NegTokenInit: DERImplicitlyTaggable {
    public static var defaultIdentifier: ASN1Identifier { .sequence }

    public init(derEncoded node: ASN1Node, withIdentifier identifier: ASN1Identifier) throws {
        guard node.identifier == identifier, case .constructed(let children) = node.content else {
            throw SPNEGOError.invalidField("negTokenInit")
        }
        var nodes = children.makeIterator()

        guard
            let mechTypes = try SPNEGODER.optionalExplicit(&nodes, tag: 0, field: "mechTypes", { node in
                try DER.sequence(of: ASN1ObjectIdentifier.self, identifier: .sequence, rootNode: node)
            })
        else {
            throw SPNEGOError.missingField("mechTypes")
        }
        self.mechTypes = mechTypes
        self.reqFlags = try SPNEGODER.optionalExplicit(&nodes, tag: 1, field: "reqFlags") { node in
            try ASN1BitString(derEncoded: node)
        }
        self.mechToken = try SPNEGODER.optionalExplicit(&nodes, tag: 2, field: "mechToken", SPNEGODER.octetString)

        // [3] is mechListMIC in RFC 4178 and negHints in MS-SPNG's NegTokenInit2.
        let third = try SPNEGODER.optionalExplicit(&nodes, tag: 3, field: "mechListMIC") { node -> ThirdElement in
            if node.identifier == .sequence {
                return .negHints(try NegHints(derEncoded: node))
            }
            return .mechListMIC(try SPNEGODER.octetString(node))
        }
        switch third {
        case .negHints(let hints)?:
            self.negHints = hints
            self.mechListMIC = nil
        case .mechListMIC(let mic)?:
            self.negHints = nil
            self.mechListMIC = mic
        case nil:
            self.negHints = nil
            self.mechListMIC = nil
        }
        if self.mechListMIC == nil {
            self.mechListMIC = try SPNEGODER.optionalExplicit(&nodes, tag: 4, field: "mechListMIC", SPNEGODER.octetString)
        }
        try SPNEGODER.skipExtensions(&nodes, structure: "NegTokenInit", after: 4)
    }

    public func serialize(into coder: inout DER.Serializer, withIdentifier identifier: ASN1Identifier) throws {
        try coder.appendConstructedNode(identifier: identifier) { coder in
            try coder.serialize(explicitlyTaggedWithTagNumber: 0, tagClass: .contextSpecific) { coder in
                try coder.serializeSequenceOf(self.mechTypes)
            }
            if let reqFlags = self.reqFlags {
                try coder.serialize(reqFlags, explicitlyTaggedWithTagNumber: 1, tagClass: .contextSpecific)
            }
            try SPNEGODER.serializeOctetString(self.mechToken, tag: 2, into: &coder)
            if let negHints = self.negHints {
                try coder.serialize(negHints, explicitlyTaggedWithTagNumber: 3, tagClass: .contextSpecific)
                try SPNEGODER.serializeOctetString(self.mechListMIC, tag: 4, into: &coder)
            } else {
                try SPNEGODER.serializeOctetString(self.mechListMIC, tag: 3, into: &coder)
            }
        }
    }

    private enum ThirdElement {
        case negHints(NegHints)
        case mechListMIC([UInt8])
    }
}

extension NegTokenInit.NegHints: DERImplicitlyTaggable {
    public static var defaultIdentifier: ASN1Identifier { .sequence }

    public init(derEncoded node: ASN1Node, withIdentifier identifier: ASN1Identifier) throws {
        guard node.identifier == identifier, case .constructed(let children) = node.content else {
            throw SPNEGOError.invalidField("negHints")
        }
        var nodes = children.makeIterator()
        self.hintName = try SPNEGODER.optionalExplicit(&nodes, tag: 0, field: "hintName") { node in
            Array(try ASN1OctetString(derEncoded: node, withIdentifier: .generalString).bytes)
        }
        self.hintAddress = try SPNEGODER.optionalExplicit(&nodes, tag: 1, field: "hintAddress", SPNEGODER.octetString)
        try SPNEGODER.skipExtensions(&nodes, structure: "NegHints", after: 1)
    }

    public func serialize(into coder: inout DER.Serializer, withIdentifier identifier: ASN1Identifier) throws {
        try coder.appendConstructedNode(identifier: identifier) { coder in
            if let hintName = self.hintName {
                try coder.serialize(explicitlyTaggedWithTagNumber: 0, tagClass: .contextSpecific) { coder in
                    try ASN1OctetString(contentBytes: hintName[...]).serialize(into: &coder, withIdentifier: .generalString)
                }
            }
            try SPNEGODER.serializeOctetString(self.hintAddress, tag: 1, into: &coder)
        }
    }
}
