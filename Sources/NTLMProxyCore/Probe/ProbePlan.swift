import NTLM
import NTLMHTTP

/// What the NTLM challenge (Type 2) of a server says about it, read from the answer to a
/// Type 1, which costs no logon.
public struct NTLMChallengeSummary: Hashable, Sendable {
    public var flags: NegotiateFlags
    public var targetName: String
    public var netbiosDomain: String?
    public var dnsDomain: String?
    public var netbiosComputer: String?
    public var dnsComputer: String?
    /// A server without TargetInfo predates NTLMv2 (MS-NLMP 2.2.1.2: NTLMv2 clients send the
    /// server's TargetInfo back inside the response).
    public var hasTargetInfo: Bool
    /// MsvAvTimestamp present: the server is NTLMv2-era and expects a MIC.
    public var hasTimestamp: Bool

    public init(_ message: ChallengeMessage) {
        flags = message.flags
        targetName = message.targetName
        let info = message.targetInfo
        netbiosDomain = info?.nbDomainName
        dnsDomain = info?.dnsDomainName
        netbiosComputer = info?.nbComputerName
        dnsComputer = info?.dnsComputerName
        hasTargetInfo = message.targetInfoBytes != nil
        hasTimestamp = info?.timestamp != nil
    }

    public var offersExtendedSessionSecurity: Bool { flags.contains(.extendedSessionSecurity) }
}

/// What the unauthenticated request found: the status, the schemes offered (in the server's
/// order) and, if NTLM was offered, the details of its challenge.
public struct ProbeFindings: Hashable, Sendable {
    public var status: Int
    /// The challenges of `WWW-Authenticate` (origin) or `Proxy-Authenticate` (parent).
    public var challenges: [AuthChallenge]
    public var ntlmChallenge: NTLMChallengeSummary?

    public init(status: Int, challenges: [AuthChallenge], ntlmChallenge: NTLMChallengeSummary? = nil) {
        self.status = status
        self.challenges = challenges
        self.ntlmChallenge = ntlmChallenge
    }

    /// The schemes ntlmproxy can answer, among those offered.
    public var offeredSchemes: Set<HTTPAuthScheme> {
        Set(challenges.compactMap { challenge in HTTPAuthScheme.allCases.first { challenge.hasScheme($0.rawValue) } })
    }
}

/// One credentialed try: a scheme and, for NTLM and Negotiate, the NTLM response variant —
/// or Negotiate with Kerberos.
public struct ProbeAttempt: Hashable, Sendable, CustomStringConvertible {
    public var scheme: HTTPAuthScheme
    /// Ignored for Basic and Kerberos.
    public var variant: NTLMResponseVariant
    /// Negotiate with a Kerberos ticket instead of NTLM.
    public var kerberos: Bool

    public init(scheme: HTTPAuthScheme, variant: NTLMResponseVariant = .v2) {
        self.scheme = scheme
        self.variant = scheme == .basic ? .v2 : variant
        kerberos = false
    }

    /// Negotiate with Kerberos.
    public static let kerberos: ProbeAttempt = {
        var attempt = ProbeAttempt(scheme: .negotiate)
        attempt.kerberos = true
        return attempt
    }()

    public var description: String {
        if kerberos { return "Negotiate with Kerberos" }
        return scheme == .basic ? "Basic" : "\(scheme.rawValue) with \(variant)"
    }
}

/// How one attempt ended.
public enum ProbeOutcome: Hashable, Sendable, CustomStringConvertible {
    /// Authenticated: the final status (2xx, 3xx, or an origin's 404...).
    case accepted(status: Int)
    /// The server (or, for Kerberos, the KDC) refused the credential: a failed logon on the
    /// domain.
    case rejected
    /// The handshake broke before a verdict (malformed challenge, connection closed, ...).
    case failed(String)
    /// The server or parent could not be reached; nothing more is tried.
    case unreachable(String)

    public var description: String {
        switch self {
        case .accepted(let status): return "accepted (status \(status))"
        case .rejected: return "rejected (counts as a failed logon)"
        case .failed(let reason): return "failed: \(reason)"
        case .unreachable(let reason): return "unreachable: \(reason)"
        }
    }
}

/// The probe's decisions, with no I/O: from what the server offered to the ordered
/// credentialed attempts, then which attempt comes next given the outcomes so far.
///
/// Every attempt a server rejects is a failed logon on the domain (and a step toward an
/// account lockout), so the plan starts with the likeliest variant — NTLMv2 over NTLM, else
/// over Negotiate (NTLM inside SPNEGO) — stops at the first success, never repeats a
/// rejected NTLM variant under the other scheme (the same response would be refused again),
/// and stays within `maximumAttempts`. NTLMv1 and Basic are tried only when allowed.
public struct ProbePlan: Sendable {
    public struct Options: Hashable, Sendable {
        public var allowBasic: Bool
        public var allowNTLMv1: Bool
        /// Credentialed attempts at most (2 unless the operator asks for more).
        public var maximumAttempts: Int
        /// Whether Kerberos is tried (first, when Negotiate is offered), and whether NTLM is
        /// (`require`: Kerberos only); `never` for a credential without a Kerberos side.
        public var kerberos: KerberosUse
        /// NTLM can be tried (the credential has a password or hash).
        public var ntlmPossible: Bool

        public init(allowBasic: Bool = false, allowNTLMv1: Bool = false, maximumAttempts: Int = 2, kerberos: KerberosUse = .never, ntlmPossible: Bool = true) {
            self.allowBasic = allowBasic
            self.allowNTLMv1 = allowNTLMv1
            self.maximumAttempts = maximumAttempts
            self.kerberos = kerberos
            self.ntlmPossible = ntlmPossible
        }
    }

    public let options: Options
    /// Every candidate, likeliest first (the budget is applied while running).
    public let candidates: [ProbeAttempt]
    /// Why something was left out or what to look at (for the report).
    public let notes: [String]
    /// The attempts made so far and how each ended.
    public private(set) var results: [(attempt: ProbeAttempt, outcome: ProbeOutcome)] = []

    public init(findings: ProbeFindings, options: Options = Options()) {
        self.options = options
        let offered = findings.offeredSchemes
        var notes: [String] = []
        var candidates: [ProbeAttempt] = []
        // NTLM first: raw NTLM needs no SPNEGO round and is what most parents handle best.
        let ntlmSchemes = [HTTPAuthScheme.ntlm, .negotiate].filter { offered.contains($0) }
        let v2 = ntlmSchemes.map { ProbeAttempt(scheme: $0, variant: .v2) }
        var v1: [ProbeAttempt] = []
        if let first = ntlmSchemes.first {
            // Without extended session security on offer, NTLM2SR cannot be negotiated.
            let ess = findings.ntlmChallenge?.offersExtendedSessionSecurity ?? true
            v1 = [ProbeAttempt(scheme: first, variant: ess ? .ntlm2sr : .nt)]
        }
        let legacyServer = findings.ntlmChallenge.map { !$0.hasTargetInfo } ?? false
        if options.allowNTLMv1 {
            candidates = legacyServer ? v1 + v2 : v2 + v1
        } else {
            candidates = v2
            if legacyServer {
                notes.append("the NTLM challenge has no target info (a pre-NTLMv2 server): NTLMv2 may be refused; --allow-ntlmv1 lets the probe try NTLMv1")
            }
        }
        if !options.ntlmPossible || options.kerberos == .require {
            if !candidates.isEmpty { notes.append("NTLM is not tried (\(options.ntlmPossible ? "--auth kerberos" : "the credential has no password"))") }
            candidates = []
        }
        // Kerberos first: a ticket the server refuses costs no failed logon.
        if options.kerberos != .never {
            if offered.contains(.negotiate) {
                candidates.insert(.kerberos, at: 0)
            } else if findings.status == 401 || findings.status == 407 {
                notes.append("Kerberos is not tried: the server does not offer Negotiate")
            }
        }
        if offered.contains(.basic) && options.kerberos != .require {
            if options.allowBasic {
                candidates.append(ProbeAttempt(scheme: .basic))
            } else {
                notes.append("Basic is offered but not tried (it sends the password; add --allow-basic to include it)")
            }
        }
        if candidates.isEmpty {
            let names = findings.challenges.map(\.scheme)
            if findings.status == 401 || findings.status == 407 {
                notes.append("no scheme ntlmproxy can answer is offered (offered: \(names.isEmpty ? "none" : names.joined(separator: ", ")))")
            } else {
                notes.append("no authentication was asked for (status \(findings.status))")
            }
        }
        self.candidates = candidates
        self.notes = notes
    }

    /// The next attempt, or `nil` when done: after a success, after an unreachable server, or
    /// when the budget of credentialed attempts is spent.
    public var next: ProbeAttempt? {
        guard results.count < options.maximumAttempts, success == nil else { return nil }
        if let last = results.last, case .unreachable = last.outcome { return nil }
        let tried = Set(results.map(\.attempt))
        return candidates.first { !tried.contains($0) && !isRedundant($0) }
    }

    public mutating func record(_ attempt: ProbeAttempt, _ outcome: ProbeOutcome) {
        results.append((attempt, outcome))
    }

    /// The attempt that authenticated, if any.
    public var success: ProbeAttempt? {
        results.first { if case .accepted = $0.outcome { return true } else { return false } }?.attempt
    }

    /// How many attempts the server rejected (failed logons caused by the probe).
    public var rejections: Int {
        results.filter { $0.outcome == .rejected }.count
    }

    /// Candidates never tried although nothing succeeded (for the report).
    public var untried: [ProbeAttempt] {
        guard success == nil else { return [] }
        let tried = Set(results.map(\.attempt))
        return candidates.filter { !tried.contains($0) }
    }

    /// Whether `attempt` was left out because the same NTLM response was already refused
    /// (rather than for the attempt budget).
    public func isRedundant(_ attempt: ProbeAttempt) -> Bool {
        // The KDC refusing the password: every other password attempt would fail too.
        if results.contains(where: { $0.outcome == .rejected && $0.attempt.kerberos }) { return true }
        return attempt.scheme != .basic && !attempt.kerberos
            && results.contains { $0.outcome == .rejected && $0.attempt.scheme != .basic && !$0.attempt.kerberos && $0.attempt.variant == attempt.variant }
    }
}
