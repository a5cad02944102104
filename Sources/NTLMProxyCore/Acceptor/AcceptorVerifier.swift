import NTLM

/// Who checks the logons of an acceptor listener: the NTLM proofs of NTLM and Negotiate, and
/// the passwords of Basic. A local users file (`NTLMUserStore`) is one; a domain reached
/// through Samba's winbind (`NTLMAuthHelperPool`) is the other. Kerberos tickets are checked
/// separately, with the service keytab (`KerberosAcceptor`).
public protocol AcceptorVerifier: NTLMVerifier {
    /// Checks a plaintext password (HTTP Basic).
    func verifyPassword(user: String, domain: String, password: Password) async throws(NTLMRejection) -> NTLMVerifiedUser
    /// One line for the start-up log and `check-config`, e.g. "3 users from users.txt".
    var verifierDescription: String { get }
}

// Its synchronous `verifyPassword(user:domain:password:)` meets the requirement.
extension NTLMUserStore: AcceptorVerifier {
    public var verifierDescription: String { "\(count) local user\(count == 1 ? "" : "s")" }
}

extension NTLMAuthHelperPool: AcceptorVerifier {
    public var verifierDescription: String {
        let group = configuration.requireGroup.map { ", members of \($0) only" } ?? ""
        // The helper itself, also when run through a wrapper such as /usr/bin/env.
        let program = configuration.command.first { $0.hasSuffix("ntlm_auth") } ?? configuration.command.first ?? "ntlm_auth"
        return "the domain through \(program) (at most \(configuration.helperLimit) helpers\(group))"
    }
}
