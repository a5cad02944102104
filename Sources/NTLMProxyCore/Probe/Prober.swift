import Logging
import NIOCore
import NIOHTTP1
import NIOPosix
import Kerberos
import NTLM
import NTLMHTTP

/// Runs `ntlmproxy probe`: finds which scheme and NTLM variant a parent proxy (or, without
/// one, the URL's origin) accepts, at the lowest cost in failed logons.
///
/// 1. One request without credentials reads the offered schemes (no logon).
/// 2. If NTLM is offered, one bare Type 1 reads the server's challenge: its domain and
///    whether it is NTLMv2-era (no logon either: only a Type 3 is verified).
/// 3. The credentialed attempts of a `ProbePlan`, likeliest first, stopping at the first
///    success, each on a fresh client configured for exactly that scheme and variant.
public struct Prober: Sendable {
    public var url: String
    public var parent: HTTPProxyServer?
    /// `DOMAIN\user` and the hashed password; its plaintext is kept only if Basic is allowed.
    public var credential: HTTPCredential
    public var options: ProbePlan.Options
    /// Per request.
    public var timeout: Duration
    /// The base of every client the probe makes (TLS trust roots, timeouts).
    public var clientConfiguration: NTLMHTTPClient.Configuration

    public init(
        url: String, parent: HTTPProxyServer? = nil, credential: HTTPCredential, options: ProbePlan.Options = .init(),
        timeout: Duration = .seconds(30), clientConfiguration: NTLMHTTPClient.Configuration = .init()
    ) {
        self.url = url
        self.parent = parent
        self.credential = credential
        self.options = options
        self.timeout = timeout
        self.clientConfiguration = clientConfiguration
    }

    /// The status a server answers when it wants (more) authentication.
    var challengeStatus: Int { parent == nil ? 401 : 407 }
    var challengeHeader: String { parent == nil ? "WWW-Authenticate" : "Proxy-Authenticate" }
    var authorizationHeader: String { parent == nil ? "Authorization" : "Proxy-Authorization" }

    /// Probes and returns the report. Throws only when the first, unauthenticated request
    /// fails (the server cannot be reached, the URL is invalid, the challenge is unreadable).
    public func run(eventLoopGroup: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton, logger: Logger = NTLMHTTPClient.loggingDisabled) async throws -> ProbeReport {
        var plain = clientConfiguration
        plain.authentication.preemptiveScheme = nil
        let client = NTLMHTTPClient(eventLoopGroup: eventLoopGroup, configuration: plain, logger: logger)
        let findings: ProbeFindings
        do {
            findings = try await discover(client)
            try? await client.shutdown()
        } catch {
            try? await client.shutdown()
            throw error
        }

        var plan = ProbePlan(findings: findings, options: options)
        while let attempt = plan.next {
            logger.debug("probe attempt", metadata: ["attempt": "\(attempt)"])
            plan.record(attempt, await run(attempt, eventLoopGroup: eventLoopGroup, logger: logger))
        }
        return ProbeReport(url: url, parent: parent?.description, user: credential.qualifiedUser, findings: findings, plan: plan, kerberos: await kerberosStatus())
    }

    /// The Kerberos line of the report: the library, and the credential (a ticket cache or
    /// keytab is read; a password was tried by the Kerberos attempt, if any).
    func kerberosStatus() async -> ProbeKerberosStatus? {
        guard options.kerberos != .never || credential.kerberos != nil else { return nil }
        let availability = KerberosAvailability.current()
        guard let kerberos = credential.kerberos else {
            return ProbeKerberosStatus(availability: "\(availability)", credential: "none (the credential has no password, keytab or ticket cache for Kerberos)", source: nil)
        }
        let report = await kerberos.report(contactKDC: false)
        return ProbeKerberosStatus(availability: "\(availability)", credential: "\(report)", source: kerberos.source)
    }

    /// Steps 1 and 2: no credential is sent.
    func discover(_ client: NTLMHTTPClient) async throws -> ProbeFindings {
        let response = try await client.execute(NTLMHTTPRequest(url: url), credential: nil, via: parent, timeout: timeout)
        _ = try? await response.body.drain(upTo: 1 << 20)
        guard Int(response.status.code) == challengeStatus else {
            return ProbeFindings(status: Int(response.status.code), challenges: [])
        }
        let challenges = try AuthChallenge.parse(fieldValues: response.headers[challengeHeader])
        var findings = ProbeFindings(status: challengeStatus, challenges: challenges)
        guard findings.offeredSchemes.contains(.ntlm) else { return findings }

        // A bare Type 1 (40 bytes, with Version) costs no logon; the Type 2 tells the domain
        // and the server's generation. Any trouble here only leaves the details out.
        let type1 = NegotiateMessage().serialize()
        var headers = HTTPHeaders()
        headers.add(name: authorizationHeader, value: "NTLM " + Base64.encode(type1))
        if let answer = try? await client.execute(NTLMHTTPRequest(url: url, headers: headers), credential: nil, via: parent, timeout: timeout) {
            _ = try? await answer.body.drain(upTo: 1 << 20)
            findings.ntlmChallenge = Self.ntlmChallenge(in: answer.headers[challengeHeader])
        }
        return findings
    }

    /// The NTLM Type 2 among challenge header values, if one parses.
    static func ntlmChallenge(in values: [String]) -> NTLMChallengeSummary? {
        guard let challenges = try? AuthChallenge.parse(fieldValues: values),
            let token = challenges.first(where: { $0.hasScheme("NTLM") })?.token68,
            let bytes = Base64.decode(token), let message = try? ChallengeMessage(bytes: bytes)
        else { return nil }
        return NTLMChallengeSummary(message)
    }

    /// Step 3, one attempt.
    func run(_ attempt: ProbeAttempt, eventLoopGroup: any EventLoopGroup, logger: Logger) async -> ProbeOutcome {
        var configuration = clientConfiguration
        configuration.authentication.preference = [attempt.scheme]
        configuration.authentication.preemptiveScheme = nil
        configuration.authentication.allowBasic = attempt.scheme == .basic
        configuration.authentication.ntlmPolicy = attempt.variant.policy
        configuration.authentication.kerberos = attempt.kerberos ? .require : .never
        let client = NTLMHTTPClient(eventLoopGroup: eventLoopGroup, configuration: configuration, logger: logger)
        let outcome: ProbeOutcome
        do {
            let response = try await client.execute(NTLMHTTPRequest(url: url), credential: credential, via: parent, timeout: timeout)
            _ = try? await response.body.drain(upTo: 1 << 20)
            outcome = Self.outcome(status: Int(response.status.code), failure: response.authenticationFailure, challengeStatus: challengeStatus)
        } catch {
            outcome = Self.outcome(error: error)
        }
        try? await client.shutdown()
        return outcome
    }

    /// A delivered response: refused, broken, or through.
    static func outcome(status: Int, failure: HTTPAuthError?, challengeStatus: Int) -> ProbeOutcome {
        if let failure { return outcome(failure) }
        // Asked again without a verdict from the client: count it as a refusal (safe side).
        if status == challengeStatus { return .rejected }
        return .accepted(status: status)
    }

    /// A thrown error: the server unreachable, or the handshake broken.
    static func outcome(error: any Error) -> ProbeOutcome {
        switch error as? NTLMHTTPClientError {
        case .connectFailed?, .connectTimeout?:
            return .unreachable("\(error)")
        case .authentication(let failure)?:
            return outcome(failure)
        default:
            return .failed("\(error)")
        }
    }

    /// An authentication failure: a refused credential (by the server, or the KDC) is a
    /// failed logon; anything else only a failure.
    static func outcome(_ failure: HTTPAuthError) -> ProbeOutcome {
        switch failure {
        case .rejected: return .rejected
        case .kerberos(let error) where error.isCredentialRejection: return .rejected
        default: return .failed("\(failure)")
        }
    }
}
