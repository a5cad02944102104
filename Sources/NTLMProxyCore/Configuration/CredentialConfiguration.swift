import Kerberos
import NTLM
import NTLMHTTP

/// One named entry of the `credentials:` section: an account the proxy authenticates
/// upstream as, already resolved (passwords are hashed at load; the plaintext is kept inside
/// `httpCredential` only where a protocol needs it: Basic when `allowBasic` is set, Kerberos
/// when its tickets come from the password).
public struct CredentialConfiguration: Hashable, Sendable, CustomStringConvertible {
    /// The name listeners refer to it by (`credential: svc`).
    public var name: String
    /// The resolved credential to hand to the upstream client / authenticators.
    public var httpCredential: HTTPCredential
    /// Where the NTLM secret came from (`.none` for a Kerberos-only credential); what the
    /// summary shows instead of the secret.
    public var source: SecretSource
    /// Whether the plaintext password was kept for HTTP Basic.
    public var allowBasic: Bool
    /// Which mechanism it uses and how (`auth:`, `kerberos:`).
    public var authentication: CredentialAuthentication

    public init(name: String, httpCredential: HTTPCredential, source: SecretSource, allowBasic: Bool = false, authentication: CredentialAuthentication = .ntlmOnly) {
        self.name = name
        self.httpCredential = httpCredential
        self.source = source
        self.allowBasic = allowBasic
        self.authentication = authentication
    }

    /// From `DOMAIN\user` (or `user@domain`) and a password, hashed at once. With a
    /// `kerberos` source the credential also gets tickets (for `auth: auto` or `kerberos`).
    public init(
        name: String, userName: String, workstation: String = "", password: Password,
        source: SecretSource, allowBasic: Bool = false, kerberos: KerberosCredential? = nil,
        authentication: CredentialAuthentication = .ntlmOnly
    ) {
        let (domain, user) = NTLMCredentials.splitUserName(userName)
        self.init(
            name: name,
            httpCredential: HTTPCredential(
                ntlm: NTLMCredentials(user: user, domain: domain, workstation: workstation, password: password),
                basicPassword: allowBasic ? password : nil, kerberos: kerberos),
            source: source, allowBasic: allowBasic, authentication: authentication)
    }

    /// From `DOMAIN\user` (or `user@domain`) and an NT hash (no Basic possible; Kerberos only
    /// from a keytab or ticket cache given as `kerberos`).
    public init(
        name: String, userName: String, workstation: String = "", ntHash: NTHash, source: SecretSource,
        kerberos: KerberosCredential? = nil, authentication: CredentialAuthentication = .ntlmOnly
    ) {
        let (domain, user) = NTLMCredentials.splitUserName(userName)
        self.init(
            name: name,
            httpCredential: HTTPCredential(ntlm: NTLMCredentials(user: user, domain: domain, workstation: workstation, ntHash: ntHash), kerberos: kerberos),
            source: source, allowBasic: false, authentication: authentication)
    }

    /// A Kerberos-only credential: no password or hash, tickets from `kerberos` (a keytab or
    /// a ticket cache). `userName` names it in logs.
    public init(name: String, userName: String, kerberos: KerberosCredential, authentication: CredentialAuthentication = CredentialAuthentication(mode: .kerberos)) {
        self.init(name: name, httpCredential: HTTPCredential(userName: userName, kerberos: kerberos), source: .none, allowBasic: false, authentication: authentication)
    }

    /// `DOMAIN\user` as configured.
    public var qualifiedUser: String { httpCredential.qualifiedUser }
    public var workstation: String { httpCredential.ntlm?.workstation ?? "" }
    /// The Kerberos side, if any.
    public var kerberos: KerberosCredential? { httpCredential.kerberos }

    /// Narrows a client policy to this credential (see `CredentialAuthentication.apply`).
    public func apply(to policy: inout AuthHandshake.Policy) {
        authentication.apply(to: &policy)
    }

    /// `svc: CORP\svc (password from env NTLMPROXY_PASSWORD)`; never a secret.
    public var description: String {
        var text = "\(name): \(qualifiedUser)"
        if !workstation.isEmpty { text += ", workstation \(workstation)" }
        text += " (\(source)"
        if allowBasic { text += "; Basic allowed" }
        return text + ")"
    }

    /// How it authenticates: `auth auto, SPN gssapi, Kerberos alice from password`, or `auth
    /// ntlm`; never a secret.
    public var authenticationSummary: String {
        var text = "\(authentication)"
        if let kerberos {
            text += ", Kerberos \(kerberos.principal ?? "(the cache's principal)") from \(kerberos.source)"
        } else if authentication.mode == .auto {
            text += ", no Kerberos (an NT hash cannot get tickets; add kerberos: {keytab: ...})"
        }
        if ntlmUnavailable { text += ", no NTLM (no password or hash)" }
        return text
    }

    /// A Kerberos-only credential: NTLM cannot be answered.
    var ntlmUnavailable: Bool { httpCredential.ntlm == nil }
}
