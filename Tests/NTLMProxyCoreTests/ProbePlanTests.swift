import NTLM
import NTLMHTTP
import Testing
@testable import NTLMProxyCore

/// The probe's planner: from offered challenges to ordered attempts, stopping early.
@Suite("Probe plan")
struct ProbePlanTests {
    static func findings(_ schemes: [String], challenge: NTLMChallengeSummary? = nil, status: Int = 407) -> ProbeFindings {
        ProbeFindings(status: status, challenges: schemes.map { AuthChallenge(scheme: $0) }, ntlmChallenge: challenge)
    }

    static func challenge(targetInfo: Bool, ess: Bool = true) throws -> NTLMChallengeSummary {
        var flags: NegotiateFlags = [.unicode, .ntlm, .requestTarget]
        if ess { flags.insert(.extendedSessionSecurity) }
        let info = targetInfo ? TargetInfo([.text(.nbDomainName, "CORP"), .text(.dnsComputerName, "proxy.corp")]) : nil
        if targetInfo { flags.insert(.targetInfo) }
        let message = try ChallengeMessage(flags: flags, targetName: "CORP", serverChallenge: Array(repeating: 1, count: 8), targetInfo: info)
        return NTLMChallengeSummary(try ChallengeMessage(bytes: message.serialize()))
    }

    @Test func likeliestFirst() {
        let both = ProbePlan(findings: Self.findings(["Negotiate", "NTLM", "Basic"]))
        #expect(both.candidates == [ProbeAttempt(scheme: .ntlm), ProbeAttempt(scheme: .negotiate)])
        #expect(both.notes.contains { $0.contains("Basic is offered but not tried") })
        #expect(both.next == ProbeAttempt(scheme: .ntlm, variant: .v2))
        let negotiateOnly = ProbePlan(findings: Self.findings(["Negotiate"]))
        #expect(negotiateOnly.candidates == [ProbeAttempt(scheme: .negotiate)])
        let basic = ProbePlan(findings: Self.findings(["NTLM", "Basic"]), options: .init(allowBasic: true))
        #expect(basic.candidates == [ProbeAttempt(scheme: .ntlm), ProbeAttempt(scheme: .basic)])
    }

    @Test func stopsAtTheFirstSuccess() {
        var plan = ProbePlan(findings: Self.findings(["NTLM", "Negotiate"]))
        let first = plan.next
        plan.record(ProbeAttempt(scheme: .ntlm), .accepted(status: 200))
        #expect(first == ProbeAttempt(scheme: .ntlm))
        #expect(plan.next == nil)
        #expect(plan.success == ProbeAttempt(scheme: .ntlm))
        #expect(plan.untried.isEmpty)
    }

    @Test func aRejectedResponseIsNotRepeatedUnderTheOtherScheme() {
        var plan = ProbePlan(findings: Self.findings(["NTLM", "Negotiate"]), options: .init(maximumAttempts: 5))
        plan.record(ProbeAttempt(scheme: .ntlm), .rejected)
        #expect(plan.next == nil)
        #expect(plan.rejections == 1)
        #expect(plan.untried == [ProbeAttempt(scheme: .negotiate)])
        #expect(plan.isRedundant(ProbeAttempt(scheme: .negotiate)))
    }

    @Test func aBrokenHandshakeMovesToTheOtherScheme() {
        var plan = ProbePlan(findings: Self.findings(["NTLM", "Negotiate"]))
        plan.record(ProbeAttempt(scheme: .ntlm), .failed("connection closed during the handshake"))
        #expect(plan.next == ProbeAttempt(scheme: .negotiate))
        plan.record(ProbeAttempt(scheme: .negotiate), .failed("again"))
        #expect(plan.next == nil)
    }

    @Test func neverMoreThanTheBudget() {
        var plan = ProbePlan(findings: Self.findings(["NTLM", "Negotiate", "Basic"]), options: .init(allowBasic: true, allowNTLMv1: true))
        #expect(plan.candidates.count == 4)
        var tried = 0
        while let attempt = plan.next {
            tried += 1
            plan.record(attempt, .rejected)
        }
        #expect(tried == 2)
        #expect(plan.results.map(\.attempt) == [ProbeAttempt(scheme: .ntlm, variant: .v2), ProbeAttempt(scheme: .ntlm, variant: .ntlm2sr)])
        var generous = ProbePlan(findings: Self.findings(["NTLM", "Negotiate", "Basic"]), options: .init(allowBasic: true, allowNTLMv1: true, maximumAttempts: 10))
        while let attempt = generous.next { generous.record(attempt, .rejected) }
        // Negotiate's NTLMv2 and NTLM2SR are the very responses already refused.
        #expect(generous.results.map(\.attempt.description) == ["NTLM with NTLMv2", "NTLM with NTLMv1 with extended session security (NTLM2SR, weak)", "Basic"])
    }

    @Test func unreachableStops() {
        var plan = ProbePlan(findings: Self.findings(["NTLM", "Negotiate"]))
        plan.record(ProbeAttempt(scheme: .ntlm), .unreachable("cannot connect"))
        #expect(plan.next == nil)
    }

    @Test func aPreNTLMv2ServerGetsNTLMv1FirstWhenAllowed() throws {
        let legacy = try Self.challenge(targetInfo: false, ess: false)
        #expect(!legacy.hasTargetInfo)
        let allowed = ProbePlan(findings: Self.findings(["NTLM"], challenge: legacy), options: .init(allowNTLMv1: true))
        #expect(allowed.candidates == [ProbeAttempt(scheme: .ntlm, variant: .nt), ProbeAttempt(scheme: .ntlm, variant: .v2)])
        let refused = ProbePlan(findings: Self.findings(["NTLM"], challenge: legacy))
        #expect(refused.candidates == [ProbeAttempt(scheme: .ntlm, variant: .v2)])
        #expect(refused.notes.contains { $0.contains("--allow-ntlmv1") })
        let modern = try Self.challenge(targetInfo: true)
        #expect(modern.netbiosDomain == "CORP")
        #expect(modern.dnsComputer == "proxy.corp")
        #expect(ProbePlan(findings: Self.findings(["NTLM"], challenge: modern), options: .init(allowNTLMv1: true)).candidates
            == [ProbeAttempt(scheme: .ntlm, variant: .v2), ProbeAttempt(scheme: .ntlm, variant: .ntlm2sr)])
    }

    @Test func nothingToTry() {
        let open = ProbePlan(findings: Self.findings([], status: 200))
        #expect(open.next == nil)
        #expect(open.notes == ["no authentication was asked for (status 200)"])
        let digest = ProbePlan(findings: Self.findings(["Digest"]))
        #expect(digest.notes == ["no scheme ntlmproxy can answer is offered (offered: Digest)"])
    }

    @Test func outcomes() {
        #expect(Prober.outcome(status: 407, failure: .rejected(scheme: .ntlm, user: "u"), challengeStatus: 407) == .rejected)
        #expect(Prober.outcome(status: 407, failure: nil, challengeStatus: 407) == .rejected)
        #expect(Prober.outcome(status: 401, failure: nil, challengeStatus: 407) == .accepted(status: 401))
        #expect(Prober.outcome(status: 200, failure: nil, challengeStatus: 401) == .accepted(status: 200))
        #expect(Prober.outcome(status: 401, failure: .tooManyLegs, challengeStatus: 401) == .failed("upstream asked for too many authentication legs"))
        #expect(Prober.outcome(error: NTLMHTTPClientError.connectFailed(host: "p", port: 1, reason: "refused")) == .unreachable("cannot connect to p:1: refused"))
        #expect(Prober.outcome(error: NTLMHTTPClientError.authentication(.rejected(scheme: .negotiate, user: "u"))) == .rejected)
        #expect(Prober.outcome(error: NTLMHTTPClientError.timeout) == .failed("\(NTLMHTTPClientError.timeout)"))
    }

    @Test func reportForAParent() throws {
        let findings = Self.findings(["NTLM", "Negotiate"], challenge: try Self.challenge(targetInfo: true))
        var plan = ProbePlan(findings: findings)
        plan.record(ProbeAttempt(scheme: .ntlm), .accepted(status: 200))
        let report = ProbeReport(url: "http://example.com/", parent: "proxy.corp:8080", user: "CORP\\alice", findings: findings, plan: plan)
        let text = report.render()
        #expect(text.contains("probing the parent proxy proxy.corp:8080 as CORP\\alice"))
        #expect(text.contains("NTLM challenge: domain CORP, server proxy.corp, NTLMv2 target info present"))
        #expect(text.contains("attempt 1: NTLM with NTLMv2 -> accepted (status 200)"))
        #expect(text.contains("""
              - name: proxy
                listen: 127.0.0.1:3128
                mode: forward
                credential: corp
                parents:
                  - address: proxy.corp:8080
                    scheme: ntlm
            """))
        #expect(text.contains("# or: ntlmproxy forward --parent proxy.corp:8080 --user 'CORP\\alice' --scheme ntlm"))
        #expect(text.contains("Username    alice\nDomain      CORP\nAuth        NTLMv2\n# PassNTLMv2  <the line `ntlmproxy hash --user 'CORP\\alice'` prints>\nProxy       proxy.corp:8080"))
        // The YAML part loads as it is.
        let yaml = text.components(separatedBy: "# ntlmproxy.yaml\n")[1].components(separatedBy: "\n\n")[0]
        let loaded = try ConfigurationScratch().load(yaml, environment: ["NTLMPROXY_PASSWORD": "x"])
        #expect(loaded.listeners.first?.forward?.parents.first?.scheme == .ntlm)
    }

    @Test func reportForAnOriginWithNTLMv1() throws {
        let findings = Self.findings(["NTLM"], status: 401)
        var plan = ProbePlan(findings: findings, options: .init(allowNTLMv1: true))
        plan.record(ProbeAttempt(scheme: .ntlm), .rejected)
        plan.record(ProbeAttempt(scheme: .ntlm, variant: .ntlm2sr), .accepted(status: 200))
        let report = ProbeReport(url: "https://intranet.corp:8443/app/x?y=1", parent: nil, user: "alice", findings: findings, plan: plan)
        let text = report.render()
        #expect(text.contains("backend: https://intranet.corp:8443/"))
        #expect(text.contains("    auth:\n      ntlmv1: true"))
        #expect(text.contains("credentials:\n  account:\n    user: alice"))
        #expect(!text.contains("cntlm.conf"))
        let failed = ProbeReport(url: "http://x/", parent: nil, user: "alice", findings: Self.findings(["NTLM"], status: 401), plan: {
            var plan = ProbePlan(findings: Self.findings(["NTLM"], status: 401))
            plan.record(ProbeAttempt(scheme: .ntlm), .rejected)
            return plan
        }())
        #expect(failed.render().contains("result: no variant worked; the server refused 1 logon(s)"))
    }
}
