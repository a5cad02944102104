import NTLM
import NTLMHTTP

/// One named entry of the `credentials:` section: an account the proxy authenticates
/// upstream as, already resolved (passwords are hashed at load; the plaintext is kept inside
/// `httpCredential` only when `allowBasic` is set, because Basic sends it).
public struct CredentialConfiguration: Hashable, Sendable, CustomStringConvertible {
    /// The name listeners refer to it by (`credential: svc`).
    public var name: String
    /// The resolved credential to hand to the upstream client / authenticators.
    public var httpCredential: HTTPCredential
    /// Where the secret came from; what the summary shows instead of the secret.
    public var source: SecretSource
    /// Whether the plaintext password was kept for HTTP Basic.
    public var allowBasic: Bool

    public init(name: String, httpCredential: HTTPCredential, source: SecretSource, allowBasic: Bool = false) {
        self.name = name
        self.httpCredential = httpCredential
        self.source = source
        self.allowBasic = allowBasic
    }

    /// From `DOMAIN\user` (or `user@domain`) and a password, hashed at once.
    public init(
        name: String, userName: String, workstation: String = "", password: Password,
        source: SecretSource, allowBasic: Bool = false
    ) {
        self.init(
            name: name,
            httpCredential: HTTPCredential(userName: userName, password: password, workstation: workstation, allowBasic: allowBasic),
            source: source, allowBasic: allowBasic)
    }

    /// From `DOMAIN\user` (or `user@domain`) and an NT hash (no Basic possible).
    public init(name: String, userName: String, workstation: String = "", ntHash: NTHash, source: SecretSource) {
        let (domain, user) = NTLMCredentials.splitUserName(userName)
        self.init(
            name: name,
            httpCredential: HTTPCredential(ntlm: NTLMCredentials(user: user, domain: domain, workstation: workstation, ntHash: ntHash)),
            source: source, allowBasic: false)
    }

    /// `DOMAIN\user` as configured.
    public var qualifiedUser: String { httpCredential.qualifiedUser }
    public var workstation: String { httpCredential.ntlm.workstation }

    /// `svc: CORP\svc (password from env NTLMPROXY_PASSWORD)`; never a secret.
    public var description: String {
        var text = "\(name): \(qualifiedUser)"
        if !workstation.isEmpty { text += ", workstation \(workstation)" }
        text += " (\(source)"
        if allowBasic { text += "; Basic allowed" }
        return text + ")"
    }
}
