import SwiftASN1

/// The GSS-API mechanisms that appear in SPNEGO tokens, with their object identifiers.
///
/// Unknown OIDs stay plain `ASN1ObjectIdentifier`s in the token types; this enum is only a
/// convenient way to name and recognise the ones we care about.
public enum SPNEGOMechanism: Hashable, Sendable, CaseIterable {
    /// SPNEGO itself, 1.3.6.1.5.5.2 (RFC 4178): `thisMech` of the InitialContextToken.
    case spnego
    /// NTLMSSP, 1.3.6.1.4.1.311.2.2.10 (MS-NLMP).
    case ntlm
    /// Kerberos 5, 1.2.840.113554.1.2.2 (RFC 4121).
    case kerberos5
    /// Microsoft's legacy Kerberos 5 OID, 1.2.840.48018.1.2.2 (MS-KILE); Windows lists it first.
    case microsoftKerberos5
    /// Kerberos 5 user-to-user, 1.2.840.113554.1.2.2.3 (Windows advertises it too).
    case kerberos5UserToUser
    /// IAKERB, 1.3.6.1.5.2.5 (RFC draft, used by MIT and Windows for proxied Kerberos).
    case iakerb
    /// NEGOEX, 1.3.6.1.4.1.311.2.2.30 (MS-NEGOEX); Windows advertises it in NegTokenInit2.
    case negoex

    /// The mechanism's object identifier.
    public var oid: ASN1ObjectIdentifier {
        switch self {
        case .spnego: return OIDs.spnego
        case .ntlm: return OIDs.ntlm
        case .kerberos5: return OIDs.kerberos5
        case .microsoftKerberos5: return OIDs.microsoftKerberos5
        case .kerberos5UserToUser: return OIDs.kerberos5UserToUser
        case .iakerb: return OIDs.iakerb
        case .negoex: return OIDs.negoex
        }
    }

    /// The mechanism with this OID, or `nil` for one we do not know.
    public init?(oid: ASN1ObjectIdentifier) {
        guard let mechanism = Self.allCases.first(where: { $0.oid == oid }) else {
            return nil
        }
        self = mechanism
    }

    /// Whether this is one of the Kerberos OIDs a Negotiate peer may use for Kerberos.
    public var isKerberos: Bool {
        switch self {
        case .kerberos5, .microsoftKerberos5, .iakerb: return true
        case .spnego, .ntlm, .kerberos5UserToUser, .negoex: return false
        }
    }

    private enum OIDs {
        static let spnego: ASN1ObjectIdentifier = [1, 3, 6, 1, 5, 5, 2]
        static let ntlm: ASN1ObjectIdentifier = [1, 3, 6, 1, 4, 1, 311, 2, 2, 10]
        static let kerberos5: ASN1ObjectIdentifier = [1, 2, 840, 113_554, 1, 2, 2]
        static let microsoftKerberos5: ASN1ObjectIdentifier = [1, 2, 840, 48_018, 1, 2, 2]
        static let kerberos5UserToUser: ASN1ObjectIdentifier = [1, 2, 840, 113_554, 1, 2, 2, 3]
        static let iakerb: ASN1ObjectIdentifier = [1, 3, 6, 1, 5, 2, 5]
        static let negoex: ASN1ObjectIdentifier = [1, 3, 6, 1, 4, 1, 311, 2, 2, 30]
    }
}
