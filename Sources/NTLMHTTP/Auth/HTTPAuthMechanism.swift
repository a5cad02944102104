/// What actually authenticates a request: the HTTP scheme plus, for `Negotiate`, the
/// mechanism inside it. `Negotiate` with NTLM is connection-bound like raw NTLM; with
/// Kerberos it is one leg per request like Basic (every request carries a fresh ticket
/// authenticator; acceptors refuse replays).
public enum HTTPAuthMechanism: String, Hashable, Sendable, CaseIterable, CustomStringConvertible {
    case basic = "Basic"
    case ntlm = "NTLM"
    case negotiateNTLM = "Negotiate/NTLM"
    case kerberos = "Negotiate/Kerberos"

    /// The scheme word of the `Authorization` header.
    public var scheme: HTTPAuthScheme {
        switch self {
        case .basic: return .basic
        case .ntlm: return .ntlm
        case .negotiateNTLM, .kerberos: return .negotiate
        }
    }

    /// Whether credentials go with every request (Basic, Kerberos) rather than once per
    /// connection (NTLM).
    public var isPerRequest: Bool {
        switch self {
        case .basic, .kerberos: return true
        case .ntlm, .negotiateNTLM: return false
        }
    }

    public var description: String { rawValue }
}

/// When Kerberos is used, per the operator's `auth:` setting.
public enum KerberosUse: String, Hashable, Sendable, CaseIterable {
    /// `auto`: Kerberos when the upstream offers `Negotiate` and a ticket can be had, else
    /// NTLM (raw, or inside SPNEGO when only Negotiate is offered).
    case prefer
    /// `kerberos`: Kerberos or nothing (a clear error when no ticket can be had).
    case require
    /// `ntlm`: never Kerberos.
    case never
}
