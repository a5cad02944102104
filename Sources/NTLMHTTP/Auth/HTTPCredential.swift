import Kerberos
import NTLM

/// A credential for authenticating to an upstream (origin or proxy).
///
/// NTLM and Negotiate need only the NT hash, which is all this holds for NTLM; the password
/// itself is kept (in a redacting `Password`) only where a protocol needs it: Basic, when
/// enabled for the credential, and a Kerberos password credential, which exchanges it with
/// the KDC for tickets. A credential may also be Kerberos-only (a keytab or a ticket cache,
/// no password at all): then `ntlm` is `nil` and NTLM is never offered.
public struct HTTPCredential: Hashable, Sendable, CustomStringConvertible {
    /// The NTLM side; `nil` for a Kerberos-only credential.
    public let ntlm: NTLMCredentials?
    /// Kept only for Basic (which needs the plaintext); `nil` otherwise.
    let basicPassword: Password?
    /// The Kerberos side (`Negotiate` with a ticket); `nil`: NTLM (and Basic) only.
    public let kerberos: KerberosCredential?
    public let user: String
    public let domain: String

    public init(ntlm: NTLMCredentials, basicPassword: Password? = nil, kerberos: KerberosCredential? = nil) {
        self.ntlm = ntlm
        self.basicPassword = basicPassword
        self.kerberos = kerberos
        user = ntlm.user
        domain = ntlm.domain
    }

    /// A Kerberos-only credential (a keytab or a ticket cache): `userName` names it in logs.
    public init(userName: String, kerberos: KerberosCredential) {
        let (domain, user) = NTLMCredentials.splitUserName(userName)
        ntlm = nil
        basicPassword = nil
        self.kerberos = kerberos
        self.user = user
        self.domain = domain
    }

    /// `DOMAIN\user` (or `user@domain`) and a password; the password is hashed at once and
    /// only kept when `allowBasic` is set or `kerberosPrincipal` is given (Kerberos asks the
    /// KDC with it, as that principal).
    public init(userName: String, password: Password, workstation: String = "", allowBasic: Bool = false, kerberosPrincipal: String? = nil) {
        let (domain, user) = NTLMCredentials.splitUserName(userName)
        let kerberos = kerberosPrincipal.map { KerberosCredential(source: .password(password), principal: $0) }
        self.init(
            ntlm: NTLMCredentials(user: user, domain: domain, workstation: workstation, password: password),
            basicPassword: allowBasic ? password : nil, kerberos: kerberos)
    }

    /// The Kerberos principal implied by a user name: `user@REALM` as given, else the bare
    /// user (`CORP\alice` → `alice`), which Kerberos completes with the default realm — a
    /// NetBIOS domain is not a realm.
    public static func kerberosPrincipal(forUserName userName: String) -> String {
        if userName.contains("@") && !userName.contains("\\") { return userName }
        return NTLMCredentials.splitUserName(userName).user
    }

    public var qualifiedUser: String { domain.isEmpty ? user : "\(domain)\\\(user)" }
    public var description: String { "HTTPCredential(\(qualifiedUser), secrets redacted)" }

    /// Whether NTLM (raw or in SPNEGO) can be answered with this credential.
    public var canUseNTLM: Bool { ntlm != nil }
}
