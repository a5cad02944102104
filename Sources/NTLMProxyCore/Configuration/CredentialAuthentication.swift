import Kerberos
import NTLM
import NTLMHTTP

/// How a configured credential authenticates upstream (`auth:` and `kerberos:` of a
/// credential, `--auth`, `--keytab`, `--principal` on the command line).
public struct CredentialAuthentication: Hashable, Sendable, CustomStringConvertible {
    /// The operator's choice of mechanism.
    public enum Mode: String, Hashable, Sendable, CaseIterable {
        /// Kerberos when the upstream offers `Negotiate` and a ticket can be had, else NTLM
        /// (raw, or inside SPNEGO when only Negotiate is offered); Basic only where allowed.
        case auto
        /// Kerberos only: a clear error when no ticket can be had.
        case kerberos
        /// NTLM only (raw or in SPNEGO), never Kerberos.
        case ntlm
        /// Basic only (the password is sent; TLS or an explicit opt-in).
        case basic

        /// The policy names the issue tracker and other tools use, taken as synonyms.
        static let aliases: [String: Mode] = ["prefer-kerberos": .auto, "kerberos-only": .kerberos, "ntlm-only": .ntlm]

        /// Parses `auth:`/`--auth` (case-insensitive): a mode's name or one of its aliases.
        public init?(name: String) {
            let text = name.lowercased()
            guard let mode = Mode(rawValue: text) ?? Self.aliases[text] else { return nil }
            self = mode
        }

        /// The accepted names, for error messages.
        public static var acceptedNames: String {
            allCases.map { mode in
                let synonyms = aliases.filter { $0.value == mode }.map(\.key).sorted()
                return synonyms.isEmpty ? mode.rawValue : "\(mode.rawValue) (or \(synonyms.joined(separator: ", ")))"
            }.joined(separator: ", ")
        }

        /// The `KerberosUse` of the handshake policy.
        public var kerberosUse: KerberosUse {
            switch self {
            case .auto: return .prefer
            case .kerberos: return .require
            case .ntlm, .basic: return .never
            }
        }
    }

    public var mode: Mode

    /// The Kerberos side a credential with this mode gets: none under `ntlm` and `basic`;
    /// tickets from the keytab or cache named in `source`, else from `password`; none from an
    /// NT hash alone (it cannot get tickets). The same rule for the file and the command line.
    public func kerberosSide(source: KerberosCredentialSource?, password: Password?, principal: String) -> KerberosCredential? {
        guard mode == .auto || mode == .kerberos, let source = source ?? password.map(KerberosCredentialSource.password) else { return nil }
        return KerberosCredential(source: source, principal: principal, policy: ticketPolicy)
    }
    /// How the service name `HTTP@host` is formed for the ticket request.
    public var spnCanonicalization: KerberosServiceName.Canonicalization
    /// How long `auto` waits for a ticket before using NTLM for that request.
    public var kerberosTimeout: Duration
    /// When tickets are renewed, and how long an unavailable KDC or a refused credential keeps
    /// Kerberos from being tried again.
    public var ticketPolicy: TicketRenewalPolicy

    public init(mode: Mode = .auto, spnCanonicalization: KerberosServiceName.Canonicalization = .gssapi, kerberosTimeout: Duration = .seconds(5),
                ticketPolicy: TicketRenewalPolicy = .default) {
        self.mode = mode
        self.spnCanonicalization = spnCanonicalization
        self.kerberosTimeout = kerberosTimeout
        self.ticketPolicy = ticketPolicy
    }

    /// NTLM only: what credentials configured without any Kerberos setting (programmatically,
    /// or from a cntlm.conf) use.
    public static let ntlmOnly = CredentialAuthentication(mode: .ntlm)

    /// Narrows a client's handshake policy to this credential's choice: the mechanism, the
    /// schemes it may answer, the Kerberos service naming and timeout.
    public func apply(to policy: inout AuthHandshake.Policy) {
        policy.kerberos = mode.kerberosUse
        policy.kerberosCanonicalization = spnCanonicalization
        policy.kerberosTimeout = kerberosTimeout
        switch mode {
        case .auto, .ntlm:
            break
        case .kerberos:
            policy.preference = [.negotiate]
            if policy.preemptiveScheme != nil { policy.preemptiveScheme = .negotiate }
        case .basic:
            policy.preference = [.basic]
            policy.allowBasic = true
            if policy.preemptiveScheme != nil { policy.preemptiveScheme = .basic }
        }
    }

    public var description: String {
        var text = "auth \(mode.rawValue)"
        if mode == .auto || mode == .kerberos {
            text += ", SPN \(spnCanonicalization.rawValue)"
        }
        return text
    }
}
