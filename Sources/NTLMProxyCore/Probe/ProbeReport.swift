import Kerberos
import NTLM
import NTLMHTTP

/// What `ntlmproxy probe` prints: what the server offered, each attempt and its outcome, and
/// the configuration lines that reproduce the working variant (ntlmproxy YAML, the
/// `ntlmproxy forward`/`gateway` command line and, for a parent, cntlm.conf lines). Never
/// contains a secret: the password lines point at `ntlmproxy hash` instead.
public struct ProbeReport: Sendable {
    /// The URL probed.
    public var url: String
    /// The parent proxy probed (`host:port`), or `nil` when the URL's origin was.
    public var parent: String?
    /// `DOMAIN\user` as given.
    public var user: String
    public var findings: ProbeFindings
    public var plan: ProbePlan
    /// Whether Kerberos can be used and with which credential (`nil`: not asked for).
    public var kerberos: ProbeKerberosStatus?

    public init(url: String, parent: String?, user: String, findings: ProbeFindings, plan: ProbePlan, kerberos: ProbeKerberosStatus? = nil) {
        self.url = url
        self.parent = parent
        self.user = user
        self.findings = findings
        self.plan = plan
        self.kerberos = kerberos
    }

    /// The whole report, one line per element.
    public func render() -> String {
        var lines: [String] = []
        let who = parent.map { "parent proxy \($0)" } ?? "origin of \(url)"
        lines.append("probing the \(who) as \(user)")
        if let kerberos {
            lines.append("  kerberos: \(kerberos.availability)")
            if let credential = kerberos.credential { lines.append("  kerberos credential: \(credential)") }
        }
        let offered = findings.challenges.map { $0.token68 == nil ? $0.headerValue : $0.scheme }
        lines.append("  unauthenticated request: status \(findings.status), offers \(offered.isEmpty ? "nothing" : offered.joined(separator: ", "))")
        if let challenge = findings.ntlmChallenge {
            lines.append(contentsOf: Self.describe(challenge, user: user).map { "  " + $0 })
        }
        for note in plan.notes { lines.append("  note: \(note)") }
        for (index, result) in plan.results.enumerated() {
            lines.append("  attempt \(index + 1): \(result.attempt) -> \(result.outcome)")
        }
        if !plan.results.isEmpty {
            let untried = plan.untried
            let redundant = untried.filter(plan.isRedundant)
            let overBudget = untried.filter { !plan.isRedundant($0) }
            if !redundant.isEmpty {
                lines.append("  not tried (the same response was just refused): " + redundant.map(\.description).joined(separator: ", "))
            }
            if !overBudget.isEmpty {
                lines.append("  not tried (to spare failed logons; see --max-attempts): " + overBudget.map(\.description).joined(separator: ", "))
            }
        }
        guard let success = plan.success else {
            if plan.rejections > 0 {
                lines.append("result: no variant worked; the server refused \(plan.rejections) logon(s): check the password and DOMAIN\\user before trying again (lockouts)")
            } else if plan.results.isEmpty {
                lines.append("result: nothing to try")
            } else {
                lines.append("result: no variant worked")
            }
            return lines.joined(separator: "\n")
        }
        lines.append("result: \(success) works")
        lines.append("")
        lines.append(contentsOf: configurationLines(for: success))
        return lines.joined(separator: "\n")
    }

    static func describe(_ challenge: NTLMChallengeSummary, user: String) -> [String] {
        var parts: [String] = []
        if let domain = challenge.netbiosDomain { parts.append("domain \(domain)") }
        if let dns = challenge.dnsDomain { parts.append("DNS domain \(dns)") }
        if let computer = challenge.dnsComputer ?? challenge.netbiosComputer { parts.append("server \(computer)") }
        parts.append(challenge.hasTargetInfo ? "NTLMv2 target info present" : "no target info (pre-NTLMv2)")
        parts.append("extended session security \(challenge.offersExtendedSessionSecurity ? "offered" : "not offered")")
        var lines = ["NTLM challenge: " + parts.joined(separator: ", ")]
        lines.append("  flags: \(challenge.flags.names.joined(separator: " "))")
        let (domain, name) = NTLMCredentials.splitUserName(user)
        if domain.isEmpty, let server = challenge.netbiosDomain {
            lines.append("note: no domain given; the server's is \(server): try --user '\(server)\\\(name)'")
        }
        return lines
    }

    /// The configuration that reproduces `attempt`.
    public func configurationLines(for attempt: ProbeAttempt) -> [String] {
        let (domain, name) = NTLMCredentials.splitUserName(user)
        let fromDomain = domain.lowercased().filter { $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-") }
        let credential = fromDomain.isEmpty ? "account" : fromDomain
        var lines = ["# ntlmproxy.yaml"]
        lines += [
            "credentials:",
            "  \(credential):",
            "    user: \(user)",
        ]
        switch (attempt.kerberos, kerberos?.source) {
        case (true, .keytab(let path)?):
            lines += ["    auth: kerberos", "    kerberos: {keytab: \(path)}"]
        case (true, .ticketCache(let cache)?):
            lines += ["    auth: kerberos", "    kerberos: {ticket-cache: \(cache ?? "default")}"]
        case (true, _):
            lines += ["    password-env: NTLMPROXY_PASSWORD", "    auth: auto            # Kerberos when a ticket can be had, else NTLM"]
        default:
            lines.append("    password-env: NTLMPROXY_PASSWORD")
        }
        if attempt.scheme == .basic { lines.append("    allow-basic: true") }
        lines.append("listeners:")
        let quotedUser = "'\(user)'"
        if let parent {
            let scheme = attempt.scheme.rawValue.lowercased()
            lines += [
                "  - name: proxy",
                "    listen: 127.0.0.1:3128",
                "    mode: forward",
                "    credential: \(credential)",
                "    parents:",
                "      - address: \(parent)",
                "        scheme: \(scheme)",
            ]
            if attempt.scheme != .basic, !attempt.kerberos, attempt.variant != .v2 { lines.append("    ntlm: \(attempt.variant.configurationName)") }
            lines.append("")
            var command = "# or: ntlmproxy forward --parent \(parent) --user \(quotedUser) --scheme \(scheme)"
            if attempt.scheme != .basic, !attempt.kerberos, attempt.variant != .v2 { command += " --ntlmv1" }
            if attempt.kerberos { command += kerberosFlags }
            lines.append(command)
            lines.append("")
            lines += cntlmLines(for: attempt, parent: parent, user: name, domain: domain)
        } else {
            lines += [
                "  - name: app",
                "    listen: 127.0.0.1:8080",
                "    mode: gateway",
                "    backend: \(Self.origin(of: url))",
                "    credential: \(credential)",
            ]
            if attempt.scheme == .basic {
                lines += ["    auth:", "      allow-basic: true"]
            } else if !attempt.kerberos, attempt.variant != .v2 {
                lines += ["    auth:", "      ntlmv1: true"]
            }
            lines.append("")
            var command = "# or: ntlmproxy gateway --backend \(Self.origin(of: url)) --user \(quotedUser)"
            if attempt.scheme == .basic { command += " --allow-basic" }
            if attempt.kerberos { command += kerberosFlags }
            lines.append(command)
        }
        return lines
    }

    /// The command-line flags of the Kerberos source that worked.
    var kerberosFlags: String {
        switch kerberos?.source {
        case .keytab(let path)?: return " --keytab \(path)"
        case .ticketCache(let cache)?: return " --ticket-cache \(cache ?? "default")"
        default: return ""
        }
    }

    func cntlmLines(for attempt: ProbeAttempt, parent: String, user: String, domain: String) -> [String] {
        guard attempt.scheme != .basic else { return ["# cntlm cannot answer Basic; no cntlm.conf equivalent"] }
        guard !attempt.kerberos else { return ["# cntlm 0.92 cannot do Kerberos; no cntlm.conf equivalent"] }
        var lines = ["# cntlm.conf"]
        if attempt.scheme == .negotiate {
            lines.append("# (cntlm speaks raw NTLM only; this parent offered it through Negotiate)")
        }
        lines += [
            "Username    \(user)",
            "Domain      \(domain)",
            "Auth        \(attempt.variant.cntlmName)",
        ]
        let hashLine = attempt.variant == .v2 ? "PassNTLMv2" : "PassNT"
        lines.append("# \(hashLine)  <the line `ntlmproxy hash --user '\(self.user)'` prints>")
        lines.append("Proxy       \(parent)")
        return lines
    }

    /// `scheme://authority/` of a URL, as a gateway backend.
    static func origin(of url: String) -> String {
        guard let schemeEnd = url.range(of: "://") else { return url }
        let rest = url[schemeEnd.upperBound...]
        let authorityEnd = rest.firstIndex { $0 == "/" || $0 == "?" || $0 == "#" } ?? rest.endIndex
        return String(url[..<schemeEnd.upperBound]) + rest[..<authorityEnd] + "/"
    }
}

/// What the probe found out about Kerberos before trying it: the library, and the
/// credential it would use (principal, source, ticket lifetime when a cache or keytab was
/// read).
public struct ProbeKerberosStatus: Sendable {
    /// `Kerberos available (...)`, or why not.
    public var availability: String
    /// The credential's report; `nil` when the credential has no Kerberos side.
    public var credential: String?
    /// Where its tickets come from.
    public var source: KerberosCredentialSource?

    public init(availability: String, credential: String?, source: KerberosCredentialSource?) {
        self.availability = availability
        self.credential = credential
        self.source = source
    }
}
