import NTLM

/// Which NTLM responses ntlmproxy computes toward a parent: the `ntlm:` key of a forward
/// listener and cntlm's `Auth` keyword, mapped onto `NTLMInitiatorPolicy`.
///
/// | written | variant | what goes in the Type 3 |
/// |---|---|---|
/// | `v2`, `NTLMv2` | `.v2` (default) | NTLMv2 response (MS-NLMP 3.3.2) |
/// | `v1`, `NTLM2SR` | `.ntlm2sr` | NTLMv1 with extended session security when the server agrees (3.3.1) |
/// | `NT` | `.nt` | NTLMv1, NT response only (no extended session security) |
/// | `NTLM`, `LM` | `.ntlmWithLM` | NTLMv1, NT and LM responses |
///
/// Every variant but `.v2` is weak: a captured NTLMv1 exchange gives the NT hash away.
public enum NTLMResponseVariant: String, Hashable, Sendable, CaseIterable, CustomStringConvertible {
    case v2
    case ntlm2sr
    case nt
    case ntlmWithLM

    /// The names accepted in a file, lowercased: ours and cntlm's.
    static let names: [String: NTLMResponseVariant] = [
        "v2": .v2, "ntlmv2": .v2, "v1": .ntlm2sr, "ntlm2sr": .ntlm2sr, "nt": .nt, "ntlm": .ntlmWithLM, "lm": .ntlmWithLM,
    ]

    /// Parses `v2`, `v1` or a cntlm `Auth` name, in any case. cntlm's `LM` (LM response only)
    /// maps to `.ntlmWithLM`, which sends the NT response too.
    public init?(parsing text: String) {
        guard let variant = Self.names[text.lowercased()] else { return nil }
        self = variant
    }

    /// From cntlm's `Auth` value.
    public init(cntlm mode: CntlmAuthMode) {
        switch mode {
        case .ntlmv2: self = .v2
        case .ntlm2sr: self = .ntlm2sr
        case .nt: self = .nt
        case .ntlm, .lm: self = .ntlmWithLM
        }
    }

    /// The variant a policy implements (for summaries).
    public init(policy: NTLMInitiatorPolicy) {
        switch policy.responseMode {
        case .ntlmv2: self = .v2
        case .ntlmv1: self = policy.flags.contains(.extendedSessionSecurity) ? .ntlm2sr : .nt
        case .ntlmv1WithLM: self = .ntlmWithLM
        }
    }

    /// The initiator policy: the default (NTLMv2, MIC, 40-byte Type 1) with the response mode
    /// changed; the NTLMv1 variants other than NTLM2SR do not ask for extended session
    /// security, so the server answers with plain NTLMv1 (MS-NLMP 3.1.5.1.2).
    public var policy: NTLMInitiatorPolicy {
        var policy = NTLMInitiatorPolicy()
        switch self {
        case .v2: break
        case .ntlm2sr: policy.responseMode = .ntlmv1
        case .nt:
            policy.responseMode = .ntlmv1
            policy.flags.remove(.extendedSessionSecurity)
        case .ntlmWithLM:
            policy.responseMode = .ntlmv1WithLM
            policy.flags.remove(.extendedSessionSecurity)
        }
        return policy
    }

    /// Whether this is one of the broken NTLMv1/LM variants.
    public var isWeak: Bool { self != .v2 }

    /// The value to write after cntlm's `Auth`.
    public var cntlmName: String {
        switch self {
        case .v2: return "NTLMv2"
        case .ntlm2sr: return "NTLM2SR"
        case .nt: return "NT"
        case .ntlmWithLM: return "NTLM"
        }
    }

    /// The value to write after `ntlm:` in ntlmproxy's configuration.
    public var configurationName: String {
        switch self {
        case .v2: return "v2"
        case .ntlm2sr: return "v1"
        case .nt: return "NT"
        case .ntlmWithLM: return "NTLM"
        }
    }

    public var description: String {
        switch self {
        case .v2: return "NTLMv2"
        case .ntlm2sr: return "NTLMv1 with extended session security (NTLM2SR, weak)"
        case .nt: return "NTLMv1, NT response only (weak)"
        case .ntlmWithLM: return "NTLMv1 with LM response (weak)"
        }
    }
}
