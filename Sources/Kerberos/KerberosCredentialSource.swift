import NTLM

/// Where a Kerberos client credential comes from.
public enum KerberosCredentialSource: Hashable, Sendable, CustomStringConvertible {
    /// A ticket cache filled by someone else (kinit, sssd, k5start): `nil` for the default
    /// one (`KRB5CCNAME`), else a cache name such as `FILE:/tmp/krb5cc_1000`. Read again
    /// whenever its ticket nears its end, so tickets obtained after start are used.
    case ticketCache(String?)
    /// A client keytab holding the principal's keys: tickets are obtained from it (into a
    /// private in-memory cache) and refreshed before they expire, without any password.
    case keytab(String)
    /// A password, exchanged with the KDC for a ticket that is renewed before it expires.
    case password(Password)

    public var description: String {
        switch self {
        case .ticketCache(nil): return "the default ticket cache (KRB5CCNAME)"
        case .ticketCache(let name?): return "ticket cache \(name)"
        case .keytab(let path): return "keytab \(path)"
        case .password: return "password"
        }
    }

    /// A short name for configuration summaries: `ticket-cache`, `keytab`, `password`.
    public var kind: String {
        switch self {
        case .ticketCache: return "ticket-cache"
        case .keytab: return "keytab"
        case .password: return "password"
        }
    }
}
