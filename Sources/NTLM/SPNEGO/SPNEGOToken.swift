import SwiftASN1

/// A SPNEGO token as carried in `Authorization: Negotiate` / `WWW-Authenticate: Negotiate`.
///
/// ```
/// InitialContextToken ::= [APPLICATION 0] IMPLICIT SEQUENCE {    -- RFC 2743 §3.1
///     thisMech           MechType,                                -- 1.3.6.1.5.5.2
///     innerContextToken  ANY DEFINED BY thisMech }                -- a NegotiationToken
///
/// NegotiationToken ::= CHOICE {                                   -- RFC 4178 §4.2
///     negTokenInit  [0] NegTokenInit,
///     negTokenResp  [1] NegTokenResp }
/// ```
///
/// The first token of a context is framed as an InitialContextToken; every later one is the
/// bare NegotiationToken. Parsing accepts both framings for both choices; serializing wraps
/// ``initial(_:)`` in the InitialContextToken and writes ``response(_:)`` bare, which is what
/// Windows, MIT/Heimdal and pyspnego do.
public enum SPNEGOToken: Hashable, Sendable {
    case initial(NegTokenInit)
    case response(NegTokenResp)

    /// The default limit for ``init(derEncoded:maximumTokenSize:)``: 64 KiB, above Windows'
    /// largest Kerberos token (MaxTokenSize 65535) and far above any NTLM exchange.
    public static let defaultMaximumTokenSize = 64 * 1024

    /// Decodes a token from untrusted bytes.
    ///
    /// The size is checked before anything else is looked at; then the bytes must be one
    /// complete DER element with nothing after it.
    public init(derEncoded bytes: [UInt8], maximumTokenSize: Int = Self.defaultMaximumTokenSize) throws(SPNEGOError) {
        try self.init(derEncoded: bytes[...], maximumTokenSize: maximumTokenSize)
    }

    /// Decodes a token from untrusted bytes; see the `[UInt8]` overload.
    public init(derEncoded bytes: ArraySlice<UInt8>, maximumTokenSize: Int = Self.defaultMaximumTokenSize) throws(SPNEGOError) {
        guard let first = bytes.first else {
            throw SPNEGOError.emptyToken
        }
        guard bytes.count <= maximumTokenSize else {
            throw SPNEGOError.tokenTooLarge(size: bytes.count, limit: maximumTokenSize)
        }
        // Refuse anything that cannot start a SPNEGO token before running the DER parser over
        // it, so that a raw NTLMSSP ("N" = [APPLICATION 14]) or a Kerberos AP-REQ gets a clear
        // `notSPNEGO` rather than whatever DER complaint its bytes happen to produce.
        switch first & 0xC0 {
        case 0x40:  // APPLICATION: only [APPLICATION 0] in the short form.
            guard first & 0x1F == 0 else { throw SPNEGOError.notSPNEGO }
        case 0x80:  // CONTEXT-SPECIFIC: the NegotiationToken choice, checked after parsing.
            break
        default:
            throw SPNEGOError.notSPNEGO
        }
        do {
            let root = try DER.parse(bytes)
            self = try Self(rootNode: root)
        } catch {
            throw SPNEGOError.wrapping(error)
        }
    }

    /// The DER encoding: an InitialContextToken for ``initial(_:)``, a bare `[1]` for
    /// ``response(_:)``.
    public func serialize() throws(SPNEGOError) -> [UInt8] {
        var coder = DER.Serializer()
        do {
            try self.serialize(into: &coder)
        } catch {
            throw SPNEGOError.wrapping(error)
        }
        return coder.serializedBytes
    }

    /// The NegTokenInit, if this is the initial token.
    public var negTokenInit: NegTokenInit? {
        if case .initial(let token) = self { return token }
        return nil
    }

    /// The NegTokenResp, if this is a response token.
    public var negTokenResp: NegTokenResp? {
        if case .response(let token) = self { return token }
        return nil
    }

    static let initialContextTokenIdentifier = ASN1Identifier(tagWithNumber: 0, tagClass: .application)
    static let negTokenInitIdentifier = ASN1Identifier(tagWithNumber: 0, tagClass: .contextSpecific)
    static let negTokenRespIdentifier = ASN1Identifier(tagWithNumber: 1, tagClass: .contextSpecific)

    /// Either framing: `[APPLICATION 0] { SPNEGO OID, NegotiationToken }` or a bare
    /// NegotiationToken.
    init(rootNode node: ASN1Node) throws {
        guard node.identifier == Self.initialContextTokenIdentifier else {
            self = try Self(negotiationToken: node)
            return
        }
        guard case .constructed(let children) = node.content else {
            throw SPNEGOError.notSPNEGO
        }
        var nodes = children.makeIterator()
        guard
            let mechNode = nodes.next(),
            let thisMech = try? ASN1ObjectIdentifier(derEncoded: mechNode),
            thisMech == SPNEGOMechanism.spnego.oid
        else {
            throw SPNEGOError.notSPNEGO
        }
        guard let inner = nodes.next() else {
            throw SPNEGOError.missingField("innerContextToken")
        }
        if let extra = nodes.next() {
            throw SPNEGOError.unexpectedElement(structure: "InitialContextToken", tag: extra.identifier)
        }
        self = try Self(negotiationToken: inner)
    }

    /// The NegotiationToken CHOICE.
    init(negotiationToken node: ASN1Node) throws {
        switch node.identifier {
        case Self.negTokenInitIdentifier:
            self = .initial(
                try spnegoField("negTokenInit") {
                    try DER.explicitlyTagged(node, tagNumber: 0, tagClass: .contextSpecific) { try NegTokenInit(derEncoded: $0) }
                }
            )
        case Self.negTokenRespIdentifier:
            self = .response(
                try spnegoField("negTokenResp") {
                    try DER.explicitlyTagged(node, tagNumber: 1, tagClass: .contextSpecific) { try NegTokenResp(derEncoded: $0) }
                }
            )
        default:
            guard node.identifier.tagClass == .contextSpecific else {
                throw SPNEGOError.notSPNEGO
            }
            throw SPNEGOError.unexpectedChoice(tag: node.identifier)
        }
    }
}

extension SPNEGOToken: DERSerializable {
    public func serialize(into coder: inout DER.Serializer) throws {
        switch self {
        case .initial(let token):
            try coder.appendConstructedNode(identifier: Self.initialContextTokenIdentifier) { coder in
                try coder.serialize(SPNEGOMechanism.spnego.oid)
                try coder.serialize(token, explicitlyTaggedWithTagNumber: 0, tagClass: .contextSpecific)
            }
        case .response(let token):
            try coder.serialize(token, explicitlyTaggedWithTagNumber: 1, tagClass: .contextSpecific)
        }
    }
}

/// DER helpers shared by the SPNEGO types.
enum SPNEGODER {
    /// An OPTIONAL `[tag] EXPLICIT` field of a SEQUENCE: `nil` if the next element has another
    /// tag (and then it is not consumed); any decoding failure becomes
    /// `SPNEGOError.invalidField(field)` unless it already is a `SPNEGOError`.
    static func optionalExplicit<T>(
        _ nodes: inout ASN1NodeCollection.Iterator,
        tag: UInt,
        field: String,
        _ body: (ASN1Node) throws -> T
    ) throws -> T? {
        try spnegoField(field) {
            try DER.optionalExplicitlyTagged(&nodes, tagNumber: tag, tagClass: .contextSpecific, body)
        }
    }

    /// The contents of an OCTET STRING (primitive form only, as DER requires).
    static func octetString(_ node: ASN1Node) throws -> [UInt8] {
        Array(try ASN1OctetString(derEncoded: node).bytes)
    }

    /// Writes `[tag] EXPLICIT OCTET STRING` if `bytes` is not `nil`.
    static func serializeOctetString(_ bytes: [UInt8]?, tag: UInt, into coder: inout DER.Serializer) throws {
        guard let bytes else { return }
        try coder.serialize(ASN1OctetString(contentBytes: bytes[...]), explicitlyTaggedWithTagNumber: tag, tagClass: .contextSpecific)
    }

    /// Consumes what is left of a SEQUENCE after its known fields: only extension additions
    /// may remain, i.e. constructed context-specific elements tagged above `lastKnownTag`, in
    /// increasing tag order. They are skipped. Anything else is
    /// `SPNEGOError.unexpectedElement`.
    static func skipExtensions(_ nodes: inout ASN1NodeCollection.Iterator, structure: String, after lastKnownTag: UInt) throws {
        var previous = lastKnownTag
        while let node = nodes.next() {
            guard
                node.identifier.tagClass == .contextSpecific,
                node.identifier.tagNumber > previous,
                case .constructed = node.content
            else {
                throw SPNEGOError.unexpectedElement(structure: structure, tag: node.identifier)
            }
            previous = node.identifier.tagNumber
        }
    }
}
