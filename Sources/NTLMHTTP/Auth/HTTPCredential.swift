import NTLM

/// A credential for authenticating to an upstream (origin or proxy).
///
/// NTLM and Negotiate need only the NT hash, which is all this holds unless Basic is
/// enabled for the credential: Basic sends the password itself, so only then is it kept.
public struct HTTPCredential: Hashable, Sendable, CustomStringConvertible {
    public let ntlm: NTLMCredentials
    /// Kept only for Basic (which needs the plaintext); `nil` otherwise.
    let basicPassword: Password?

    public init(ntlm: NTLMCredentials, basicPassword: Password? = nil) {
        self.ntlm = ntlm
        self.basicPassword = basicPassword
    }

    /// `DOMAIN\user` (or `user@domain`) and a password; the password is hashed at once and
    /// only kept when `allowBasic` is set.
    public init(userName: String, password: Password, workstation: String = "", allowBasic: Bool = false) {
        let (domain, user) = NTLMCredentials.splitUserName(userName)
        self.init(ntlm: NTLMCredentials(user: user, domain: domain, workstation: workstation, password: password), basicPassword: allowBasic ? password : nil)
    }

    public var user: String { ntlm.user }
    public var domain: String { ntlm.domain }
    public var qualifiedUser: String { domain.isEmpty ? user : "\(domain)\\\(user)" }
    public var description: String { "HTTPCredential(\(qualifiedUser), secrets redacted)" }
}
