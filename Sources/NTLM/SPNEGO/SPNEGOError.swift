import SwiftASN1

/// Why a SPNEGO token (RFC 4178, MS-SPNG) could not be decoded, encoded or used.
///
/// Decoding untrusted bytes throws one of these and never traps. No case ever carries token
/// content: the strings name fields, and the identifiers and numbers are tags, sizes or small
/// enumerated values, so an error can be logged as-is.
public enum SPNEGOError: Error, Hashable, Sendable {
    /// The token has no bytes at all.
    case emptyToken
    /// The token is `size` bytes long, over the configured limit of `limit` bytes.
    /// Checked before any parsing is done.
    case tokenTooLarge(size: Int, limit: Int)
    /// The bytes are not valid DER: truncated, a length past the end, indefinite or
    /// non-minimal length, trailing data after the token, nesting too deep, and so on.
    /// The string is swift-asn1's diagnostic, which only names tags, sizes and type names.
    case invalidDER(String)
    /// The token is neither a GSS-API InitialContextToken (`[APPLICATION 0]`) whose `thisMech`
    /// is SPNEGO (1.3.6.1.5.5.2), nor a bare NegotiationToken (`[0]`/`[1]`). A raw NTLMSSP
    /// or raw Kerberos token ends up here.
    case notSPNEGO
    /// The NegotiationToken CHOICE carries a tag other than `[0]` (negTokenInit) or
    /// `[1]` (negTokenResp).
    case unexpectedChoice(tag: ASN1Identifier)
    /// A field that must be present is absent (for example `mechTypes` in a NegTokenInit).
    case missingField(String)
    /// A field is present but has the wrong ASN.1 type or an invalid encoding
    /// (for example `mechTypes` that is not a SEQUENCE OF OBJECT IDENTIFIER, or a `negState`
    /// that is an INTEGER instead of an ENUMERATED).
    case invalidField(String)
    /// `negState` holds a value other than 0...3.
    case invalidNegState(Int)
    /// An element that the grammar does not allow at this position: out of order, repeated,
    /// or of a class that cannot be an extension addition. `structure` names the SEQUENCE.
    case unexpectedElement(structure: String, tag: ASN1Identifier)
    /// None of the mechanisms offered is one we can use, or the peer rejected ours.
    case noAcceptableMechanism
}

extension SPNEGOError: CustomStringConvertible {
    public var description: String {
        switch self {
        case .emptyToken:
            return "empty SPNEGO token"
        case .tokenTooLarge(let size, let limit):
            return "SPNEGO token is \(size) bytes, over the limit of \(limit)"
        case .invalidDER(let reason):
            return "SPNEGO token is not valid DER: \(reason)"
        case .notSPNEGO:
            return "not a SPNEGO token (no [APPLICATION 0] with OID 1.3.6.1.5.5.2, nor a NegotiationToken)"
        case .unexpectedChoice(let tag):
            return "unexpected NegotiationToken choice \(SPNEGOError.describe(tag))"
        case .missingField(let field):
            return "SPNEGO field \(field) is missing"
        case .invalidField(let field):
            return "SPNEGO field \(field) has the wrong type or encoding"
        case .invalidNegState(let value):
            return "SPNEGO negState \(value) is not 0...3"
        case .unexpectedElement(let structure, let tag):
            return "unexpected element \(SPNEGOError.describe(tag)) in \(structure)"
        case .noAcceptableMechanism:
            return "no acceptable SPNEGO mechanism"
        }
    }

    /// `[3]`, `[APPLICATION 0]`, `[UNIVERSAL 16]`, `[PRIVATE 1]`.
    static func describe(_ tag: ASN1Identifier) -> String {
        switch tag.tagClass {
        case .contextSpecific: return "[\(tag.tagNumber)]"
        case .application: return "[APPLICATION \(tag.tagNumber)]"
        case .universal: return "[UNIVERSAL \(tag.tagNumber)]"
        case .private: return "[PRIVATE \(tag.tagNumber)]"
        }
    }

    /// Maps anything thrown while decoding or encoding to a `SPNEGOError`.
    ///
    /// A `SPNEGOError` passes through unchanged; a swift-asn1 `ASN1Error` becomes
    /// ``invalidDER(_:)`` carrying its code and reason (swift-asn1's reasons hold tags, sizes
    /// and type names only, never content bytes); the source location swift-asn1 appends is
    /// dropped, and the text is capped in length.
    static func wrapping(_ error: any Error) -> SPNEGOError {
        if let error = error as? SPNEGOError {
            return error
        }
        if let error = error as? ASN1Error {
            // swift-asn1 formats its errors as "ASN1Error.<code>: <reason> <file>:<line>".
            var text = String(describing: error)
            if let space = text.lastIndex(of: " "), text[space...].contains("SwiftASN1/") {
                text = String(text[..<space])
            }
            if text.hasPrefix("ASN1Error.") {
                text.removeFirst("ASN1Error.".count)
            }
            while let last = text.last, last == " " || last == ":" {
                text.removeLast()
            }
            if text.count > 160 {
                text = String(text.prefix(160)) + "..."
            }
            return .invalidDER(text)
        }
        return .invalidDER("unexpected error")
    }
}

/// Runs `body`, turning any failure that is not already a `SPNEGOError` into
/// ``SPNEGOError/invalidField(_:)`` for `field`.
@inline(__always)
func spnegoField<T>(_ field: String, _ body: () throws -> T) throws -> T {
    do {
        return try body()
    } catch let error as SPNEGOError {
        throw error
    } catch {
        throw SPNEGOError.invalidField(field)
    }
}
