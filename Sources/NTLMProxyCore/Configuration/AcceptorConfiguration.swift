import NTLM

/// An acceptor listener's settings: it verifies browsers' NTLM/Negotiate (or Basic) against
/// a users file, then forwards to `backend` with the verified identity in a trusted header,
/// or, without a backend, answers with a built-in "who am I" page.
public struct AcceptorConfiguration: Sendable {
    /// Whether Basic is offered alongside NTLM/Negotiate.
    public enum BasicPolicy: Hashable, Sendable {
        /// Offered only on a TLS listener (the default: Basic sends the password).
        case automatic
        /// `allow-basic: true`: offered even over plain HTTP.
        case enabled
        /// `allow-basic: false`: never offered.
        case disabled
    }

    /// The users file as configured (resolved path); empty when the domain (or Kerberos
    /// alone) verifies instead.
    public var usersFile: String
    /// The accounts loaded from it.
    public var users: NTLMUserStore
    /// Verify NTLM and Basic against the Windows/Samba domain through Samba's `ntlm_auth`
    /// (winbind) instead of a users file.
    public var domainHelper: NTLMAuthHelperConfiguration?
    /// Where verified requests go; `nil` serves the built-in who-am-I page.
    public var backend: BackendURL?
    /// The header carrying `DOMAIN\user` to the backend. Any copy sent by the client is
    /// always stripped first (invariant 8).
    public var identityHeader: String
    /// NetBIOS domain announced in the challenge, and the domain of users who sent none.
    public var domain: String
    public var basic: BasicPolicy
    /// Accept NTLMv1 responses. Default off (invariant 8).
    public var allowNTLMv1: Bool
    /// Pad 401 bodies to at least this many bytes (old IE "friendly error" pages); 0 = off.
    public var pad401To: Int
    /// Kerberos (`Negotiate` with a ticket) checked with a service keytab; `nil`: Kerberos
    /// clients are steered to NTLM.
    public var kerberos: AcceptorKerberosConfiguration?

    public static let defaultIdentityHeader = "X-Remote-User"
    public static let defaultDomain = "NTLMPROXY"

    public init(
        usersFile: String = "", users: NTLMUserStore, backend: BackendURL? = nil,
        identityHeader: String = AcceptorConfiguration.defaultIdentityHeader,
        domain: String = AcceptorConfiguration.defaultDomain, basic: BasicPolicy = .automatic,
        allowNTLMv1: Bool = false, pad401To: Int = 0
    ) {
        self.usersFile = usersFile
        self.users = users
        self.backend = backend
        self.identityHeader = identityHeader
        self.domain = domain
        self.basic = basic
        self.allowNTLMv1 = allowNTLMv1
        self.pad401To = pad401To
    }

    /// Whether to offer Basic on a listener with (`true`) or without TLS.
    public func offersBasic(listenerHasTLS: Bool) -> Bool {
        switch basic {
        case .automatic: return listenerHasTLS
        case .enabled: return true
        case .disabled: return false
        }
    }

    /// Where NTLM and Basic logons are checked: the users file, the domain, or nowhere (a
    /// Kerberos-only listener).
    public var verifiesNTLM: Bool { domainHelper != nil || !usersFile.isEmpty }

    /// The NTLM acceptor policy these settings describe.
    public var acceptorPolicy: NTLMAcceptorPolicy {
        NTLMAcceptorPolicy(netbiosDomain: domain, defaultDomain: domain, allowNTLMv1: allowNTLMv1)
    }
}
