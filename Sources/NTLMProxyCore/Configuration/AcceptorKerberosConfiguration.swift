/// An acceptor's Kerberos side (`kerberos:` of an acceptor listener, `--keytab`): the
/// service keytab its tickets are checked with, and optionally which principal in it.
public struct AcceptorKerberosConfiguration: Hashable, Sendable, CustomStringConvertible {
    /// The keytab file; `nil` uses the Kerberos library's default (`KRB5_KTNAME`, else
    /// /etc/krb5.keytab).
    public var keytab: String?
    /// The service principal (`HTTP/sso.corp.example.com@CORP.EXAMPLE.COM`); `nil` accepts a
    /// ticket for any principal in the keytab (browsers ask for `HTTP/<host they typed>`).
    public var principal: String?

    public init(keytab: String?, principal: String? = nil) {
        self.keytab = keytab
        self.principal = principal
    }

    public var description: String {
        "keytab \(keytab ?? "(default: KRB5_KTNAME or /etc/krb5.keytab)"), principal \(principal ?? "any in the keytab")"
    }
}
