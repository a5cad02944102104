/// Why Kerberos could not be used, or why a Kerberos token was refused.
///
/// The cases separate what may fall back to NTLM (Kerberos is simply not available: no
/// library, no ticket, no KDC, no such service) from a refused credential (a wrong password
/// or a locked account at the KDC), which must not be retried — by Kerberos or by NTLM with
/// the same password — or the account gets locked out (design invariant 7).
///
/// Messages name principals and the GSSAPI/Kerberos error text; never a password or key.
public enum KerberosError: Error, Hashable, Sendable, CustomStringConvertible {
    /// The system GSSAPI library cannot be loaded (or lacks what we need).
    case libraryUnavailable(String)
    /// No usable credential: no ticket cache or no TGT in it (run kinit), an expired ticket,
    /// a keytab without the principal, no default realm.
    case credentialUnavailable(String)
    /// No KDC of the realm answered.
    case kdcUnreachable(String)
    /// The KDC does not know the service principal (no SPN registered for that host).
    case serviceUnknown(service: String, reason: String)
    /// The KDC refused the credential itself: wrong password, unknown or locked or disabled
    /// account, expired password. A failed logon; never retried automatically.
    case credentialRejected(principal: String, reason: String)
    /// The credential was refused recently and is not offered to the KDC again until
    /// `seconds` have passed (a lockout guard).
    case credentialBlocked(principal: String, seconds: Int)
    /// The server's token did not complete mutual authentication (it may be forged).
    case mutualAuthenticationFailed(String)
    /// An acceptor refused a client's token (defective, replayed, wrong key, clock skew).
    case tokenRejected(String)
    /// Any other GSSAPI failure.
    case failed(String)

    public var description: String {
        switch self {
        case .libraryUnavailable(let why): return "Kerberos unavailable: GSSAPI library not loaded (\(why))"
        case .credentialUnavailable(let why): return "no Kerberos credential: \(why)"
        case .kdcUnreachable(let why): return "Kerberos KDC unreachable: \(why)"
        case .serviceUnknown(let service, let why): return "Kerberos service \(service) unknown to the KDC: \(why)"
        case .credentialRejected(let principal, let why): return "the KDC rejected the Kerberos credential of \(principal): \(why)"
        case .credentialBlocked(let principal, let seconds):
            return "the Kerberos credential of \(principal) was rejected by the KDC; not sending it again for \(seconds) s (to avoid locking the account)"
        case .mutualAuthenticationFailed(let why): return "Kerberos mutual authentication failed: \(why)"
        case .tokenRejected(let why): return "Kerberos token rejected: \(why)"
        case .failed(let why): return "Kerberos failed: \(why)"
        }
    }

    /// Whether NTLM may be tried instead (Kerberos is unavailable, not refused).
    public var allowsFallback: Bool {
        switch self {
        case .libraryUnavailable, .credentialUnavailable, .kdcUnreachable, .serviceUnknown, .failed: return true
        case .credentialRejected, .credentialBlocked, .mutualAuthenticationFailed, .tokenRejected: return false
        }
    }

    /// Whether this is the KDC refusing the credential (a failed logon).
    public var isCredentialRejection: Bool {
        switch self {
        case .credentialRejected, .credentialBlocked: return true
        default: return false
        }
    }
}
