import SwiftASN1

/// Every SPNEGO token after the first (RFC 4178 §4.2.2), in both directions.
///
/// ```
/// NegTokenResp ::= SEQUENCE {
///     negState       [0] ENUMERATED {
///         accept-completed    (0),
///         accept-incomplete   (1),
///         reject              (2),
///         request-mic         (3)
///     }                                 OPTIONAL,  -- REQUIRED in the first reply from the target
///     supportedMech   [1] MechType      OPTIONAL,  -- present only in the first reply from the target
///     responseToken   [2] OCTET STRING  OPTIONAL,
///     mechListMIC     [3] OCTET STRING  OPTIONAL,
///     ...
/// }
/// ```
///
/// All tags are EXPLICIT. Extension additions (trailing context-specific elements tagged above
/// `[3]`) are skipped and not kept; anything else out of place is an error.
public struct NegTokenResp: Hashable, Sendable {
    /// The state of the negotiation (RFC 4178 §4.2.2).
    public enum NegState: Int, Hashable, Sendable, CaseIterable {
        /// accept-completed: the acceptor is done; no more tokens are expected.
        case acceptCompleted = 0
        /// accept-incomplete: more tokens must be exchanged.
        case acceptIncomplete = 1
        /// reject: the acceptor rejected the initiator's mechanisms or credentials.
        case reject = 2
        /// request-mic: the acceptor wants a mechListMIC from the initiator
        /// (RFC 4178 §5; Windows and pyspnego send it in the first reply with NTLM).
        case requestMIC = 3
    }

    public var negState: NegState?
    /// The mechanism the acceptor chose; present only in its first reply.
    public var supportedMech: ASN1ObjectIdentifier?
    /// The chosen mechanism's token (for NTLM, the Type 2 or Type 3).
    public var responseToken: [UInt8]?
    /// The mechanism list MIC over the initiator's MechTypeList DER.
    public var mechListMIC: [UInt8]?

    public init(
        negState: NegState? = nil,
        supportedMech: ASN1ObjectIdentifier? = nil,
        responseToken: [UInt8]? = nil,
        mechListMIC: [UInt8]? = nil
    ) {
        self.negState = negState
        self.supportedMech = supportedMech
        self.responseToken = responseToken
        self.mechListMIC = mechListMIC
    }

    /// `supportedMech` by name, if we know it.
    public var supportedMechanism: SPNEGOMechanism? {
        self.supportedMech.flatMap { SPNEGOMechanism(oid: $0) }
    }
}

extension NegTokenResp: DERImplicitlyTaggable {
    public static var defaultIdentifier: ASN1Identifier { .sequence }

    public init(derEncoded node: ASN1Node, withIdentifier identifier: ASN1Identifier) throws {
        guard node.identifier == identifier, case .constructed(let children) = node.content else {
            throw SPNEGOError.invalidField("negTokenResp")
        }
        var nodes = children.makeIterator()

        self.negState = try SPNEGODER.optionalExplicit(&nodes, tag: 0, field: "negState") { node in
            let value = try Int(derEncoded: node, withIdentifier: .enumerated)
            guard let state = NegState(rawValue: value) else {
                throw SPNEGOError.invalidNegState(value)
            }
            return state
        }
        self.supportedMech = try SPNEGODER.optionalExplicit(&nodes, tag: 1, field: "supportedMech") { node in
            try ASN1ObjectIdentifier(derEncoded: node)
        }
        self.responseToken = try SPNEGODER.optionalExplicit(&nodes, tag: 2, field: "responseToken", SPNEGODER.octetString)
        self.mechListMIC = try SPNEGODER.optionalExplicit(&nodes, tag: 3, field: "mechListMIC", SPNEGODER.octetString)
        try SPNEGODER.skipExtensions(&nodes, structure: "NegTokenResp", after: 3)
    }

    public func serialize(into coder: inout DER.Serializer, withIdentifier identifier: ASN1Identifier) throws {
        try coder.appendConstructedNode(identifier: identifier) { coder in
            if let negState = self.negState {
                try coder.serialize(explicitlyTaggedWithTagNumber: 0, tagClass: .contextSpecific) { coder in
                    try negState.rawValue.serialize(into: &coder, withIdentifier: .enumerated)
                }
            }
            if let supportedMech = self.supportedMech {
                try coder.serialize(supportedMech, explicitlyTaggedWithTagNumber: 1, tagClass: .contextSpecific)
            }
            try SPNEGODER.serializeOctetString(self.responseToken, tag: 2, into: &coder)
            try SPNEGODER.serializeOctetString(self.mechListMIC, tag: 3, into: &coder)
        }
    }
}
