import Kerberos
import NTLM

/// The authentication of one request over one connection, as a value-type state machine:
/// the connection code feeds it response heads and does what it says. It is the same for an
/// origin (401, `WWW-Authenticate`, `Authorization`) and a proxy (407, `Proxy-Authenticate`,
/// `Proxy-Authorization`).
///
/// Rules it enforces (design invariants 3, 4 and 7):
/// - the legs of a connection-bound handshake (NTLM, Negotiate/NTLM) carry no body; the body
///   goes once, with the last leg; one-leg mechanisms (Basic, Kerberos) carry it at once;
/// - a challenge that arrives on a connection the server is closing restarts the handshake
///   on a new connection, a bounded number of times;
/// - a credential the server rejected is reported, never sent again by this machine;
/// - Kerberos first when the upstream offers `Negotiate` and the policy allows it; a ticket
///   that cannot be had (no KDC, no ticket, unknown service) or that the server refuses
///   falls back to NTLM under `prefer`, once, and fails clearly under `require`. A credential
///   the KDC refused never falls back (the same password would fail again).
public struct AuthHandshake: Sendable {
    /// Whom we authenticate to.
    public enum Target: Sendable {
        case origin
        case proxy

        public var challengeStatus: Int { self == .origin ? 401 : 407 }
        public var challengeHeader: String { self == .origin ? "WWW-Authenticate" : "Proxy-Authenticate" }
        public var authorizationHeader: String { self == .origin ? "Authorization" : "Proxy-Authorization" }
    }

    /// What the connection code must do next.
    public enum Action: Sendable, Equatable {
        /// Send the request (again) on this connection with this authorization value (none
        /// for a plain request); with the body only if `withBody`, else `Content-Length: 0`
        /// and no `Expect`. The previous response's body must be drained first.
        case send(authorization: String?, withBody: Bool)
        /// Open a new connection and send the request with this authorization value (the
        /// server closed the connection in the middle of a connection-bound handshake).
        case reconnect(authorization: String?, withBody: Bool)
        /// Get a Kerberos ticket for `kerberosService` (this may ask the KDC: do it off the
        /// event loop), then call `kerberosReady(_:)` or `kerberosFailed(_:)` for the next
        /// action.
        case obtainKerberosTicket
        /// This response is the answer: give it to the caller. `authenticated` is true when
        /// the connection now carries our identity (it may be pooled for this credential).
        case deliver(authenticated: Bool)
        /// The server refused the credential: deliver its 401/407 to the caller and record
        /// the rejection (lockout guard). Never retried.
        case deliverRejected(HTTPAuthError)
        /// Give up with this error (no usable scheme, malformed challenge, too many legs).
        case fail(HTTPAuthError)
    }

    /// How the handshake picks and runs a scheme.
    public struct Policy: Sendable {
        /// Basic sends the password; allowed only over TLS or when set.
        public var allowBasic: Bool
        public var ntlmPolicy: NTLMInitiatorPolicy
        /// How many times a handshake may restart on a new connection.
        public var maximumReconnects: Int
        /// Schemes in order of preference, among those the server offers. Kerberos is tried
        /// first whenever `Negotiate` is among them (see `kerberos`).
        public var preference: [HTTPAuthScheme]
        /// The scheme to start with at once on a new connection to an upstream whose scheme is
        /// not known yet. A gateway sets it: its backend is known to need authentication, and
        /// starting with a Type 1 means a request body is never sent before the handshake.
        public var preemptiveScheme: HTTPAuthScheme?
        /// When Kerberos is used (credentials with a Kerberos side only).
        public var kerberos: KerberosUse
        /// How the Kerberos service name is derived from the host (`HTTP@host`).
        public var kerberosCanonicalization: KerberosServiceName.Canonicalization
        /// How long getting a ticket may take before `prefer` falls back to NTLM (the ticket is
        /// still fetched in the background for the next request).
        public var kerberosTimeout: Duration

        public init(
            allowBasic: Bool = false, ntlmPolicy: NTLMInitiatorPolicy = .default, maximumReconnects: Int = 2,
            preference: [HTTPAuthScheme] = [.ntlm, .negotiate, .basic], preemptiveScheme: HTTPAuthScheme? = nil,
            kerberos: KerberosUse = .prefer, kerberosCanonicalization: KerberosServiceName.Canonicalization = .gssapi,
            kerberosTimeout: Duration = .seconds(5)
        ) {
            self.allowBasic = allowBasic
            self.ntlmPolicy = ntlmPolicy
            self.maximumReconnects = maximumReconnects
            self.preference = preference
            self.preemptiveScheme = preemptiveScheme
            self.kerberos = kerberos
            self.kerberosCanonicalization = kerberosCanonicalization
            self.kerberosTimeout = kerberosTimeout
        }
    }

    enum State: Sendable {
        /// Nothing sent yet.
        case idle
        /// A plain request (no credentials) is out; the body went with it.
        case sentPlain
        /// Waiting for a Kerberos ticket; the leg then goes out (on a new connection if
        /// `reconnecting`). `challenges` are the server's offers, if any came (for a
        /// fallback).
        case awaitingKerberos(reconnecting: Bool, challenges: [AuthChallenge]?)
        /// An authenticator is running; `finalSent` when the leg with the body is out.
        case authenticating(finalSent: Bool)
        case done
    }

    public let target: Target
    public let credential: HTTPCredential
    public let policy: Policy
    /// Channel bindings of the TLS connection, if any; fed to NTLM and Kerberos.
    public var channelBindings: ChannelBindings?
    /// The SPN for MsvAvTargetName, e.g. `HTTP/host`.
    public var targetName: String?
    /// The service Kerberos asks a ticket for (`HTTP@host` of the origin or the proxy).
    public let kerberosService: KerberosServiceName?
    public private(set) var mechanism: HTTPAuthMechanism?
    /// Why Kerberos was not used, when it was passed over for NTLM (for the log).
    public private(set) var kerberosFallbackReason: String?
    /// Kerberos was passed over only because no ticket could be had here and now.
    private var kerberosWasUnavailable = false
    /// What to remember for the upstream's next connections: the mechanism that ran, except
    /// that NTLM used only because no Kerberos ticket could be had does not replace Kerberos
    /// (the next connection tries Kerberos again, once the credential's retry time passed).
    public var mechanismToRemember: HTTPAuthMechanism? { kerberosWasUnavailable ? .kerberos : mechanism }
    public var scheme: HTTPAuthScheme? { mechanism?.scheme }
    private var authenticator: (any HTTPAuthenticator)?
    private var state: State = .idle
    private var legs = 0
    private var reconnects = 0
    private var switchedScheme = false
    /// Kerberos is out for the rest of this handshake (it failed or was refused).
    private var kerberosExcluded = false

    public init(target: Target, credential: HTTPCredential, policy: Policy = Policy(), channelBindings: ChannelBindings? = nil, targetName: String? = nil, kerberosService: KerberosServiceName? = nil) {
        self.target = target
        self.credential = credential
        self.policy = policy
        self.channelBindings = channelBindings
        self.targetName = targetName
        self.kerberosService = kerberosService
    }

    /// The first action. With `preemptive` the handshake starts at once with that scheme (the
    /// upstream is known to require it): `Negotiate` (or NTLM under `prefer`) means Kerberos
    /// when this credential can do it. Without, a plain request goes first.
    public mutating func start(preemptive: HTTPAuthScheme? = nil) -> Action {
        start(preemptiveMechanism: preemptive.flatMap(preemptiveMechanism(for:)))
    }

    /// The first action, starting at once with `mechanism` when given (a remembered one is
    /// adapted to what this credential can do).
    public mutating func start(preemptiveMechanism mechanism: HTTPAuthMechanism?) -> Action {
        guard let mechanism else {
            state = .sentPlain
            return .send(authorization: nil, withBody: true)
        }
        guard let usable = adapted(mechanism) else {
            state = .done
            return .fail(.noUsableScheme(offered: []))
        }
        return begin(usable, reconnecting: false, challenges: nil)
    }

    /// The mechanism a preemptive scheme stands for with this credential and policy.
    func preemptiveMechanism(for scheme: HTTPAuthScheme) -> HTTPAuthMechanism? {
        switch scheme {
        case .basic: return .basic
        case .ntlm:
            // A known NTLM/Negotiate upstream: a Kerberos-capable credential tries Kerberos
            // first under `prefer` (a server offering only NTLM switches us back at once).
            if kerberosUsable && policy.kerberos == .prefer && policy.preference.contains(.negotiate) { return .kerberos }
            if policy.kerberos == .require { return kerberosUsable ? .kerberos : nil }
            return credential.canUseNTLM ? .ntlm : (kerberosUsable ? .kerberos : nil)
        case .negotiate:
            if kerberosUsable { return .kerberos }
            return credential.canUseNTLM && policy.kerberos != .require ? .negotiateNTLM : nil
        }
    }

    /// `mechanism` if this credential and policy can run it, else the closest one that can.
    func adapted(_ mechanism: HTTPAuthMechanism) -> HTTPAuthMechanism? {
        switch mechanism {
        case .kerberos:
            if kerberosUsable { return .kerberos }
            return policy.kerberos == .require ? nil : (credential.canUseNTLM ? .negotiateNTLM : nil)
        case .ntlm, .negotiateNTLM:
            if policy.kerberos == .require { return kerberosUsable ? .kerberos : nil }
            return credential.canUseNTLM ? mechanism : preemptiveMechanism(for: mechanism.scheme)
        case .basic:
            return .basic
        }
    }

    /// Whether this handshake may still use Kerberos.
    var kerberosUsable: Bool {
        credential.kerberos != nil && kerberosService != nil && policy.kerberos != .never && !kerberosExcluded
    }

    /// Feeds the head of a response. `connectionClosing` is true when the server announced
    /// `Connection: close` (or spoke HTTP/1.0 without keep-alive).
    public mutating func received(status: Int, challengeValues: [String], connectionClosing: Bool) -> Action {
        guard status == target.challengeStatus else {
            return finish(challengeValues: challengeValues)
        }
        let challenges: [AuthChallenge]
        do {
            challenges = challengeValues.isEmpty ? [] : try AuthChallenge.parse(fieldValues: challengeValues)
        } catch {
            state = .done
            return .fail(.malformedChallenge(error))
        }
        legs += 1
        guard legs <= 6 else {
            state = .done
            return .fail(.tooManyLegs)
        }
        switch state {
        case .idle, .sentPlain:
            guard let chosen = choose(from: challenges) else {
                state = .done
                return .fail(noUsableScheme(challenges))
            }
            return begin(chosen, reconnecting: connectionClosing, challenges: challenges)

        case .authenticating(let finalSent):
            guard let mechanism else { state = .done; return .fail(.tooManyLegs) }
            if mechanism == .kerberos {
                return kerberosRefused(challenges: challenges, connectionClosing: connectionClosing)
            }
            if finalSent {
                // Our last leg was answered with 401/407: the credential was refused.
                state = .done
                return .deliverRejected(.rejected(scheme: mechanism.scheme, user: credential.qualifiedUser))
            }
            guard let ours = challenges.first(where: { $0.hasScheme(mechanism.scheme.rawValue) }) else {
                // Our opening leg used a scheme this server does not offer (a preemptive
                // guess): switch to one it does, once. Nothing was proven wrong yet.
                if !switchedScheme, let other = choose(from: challenges), other.scheme != mechanism.scheme {
                    switchedScheme = true
                    return begin(other, reconnecting: connectionClosing, challenges: challenges)
                }
                state = .done
                return .deliverRejected(.rejected(scheme: mechanism.scheme, user: credential.qualifiedUser))
            }
            if connectionClosing {
                // The challenge is bound to a connection that is going away; MS-NTHT and
                // mod_auth_gssapi with Expect do this. Start over on a new connection.
                return begin(mechanism, reconnecting: true, challenges: challenges)
            }
            do {
                guard var running = authenticator else {
                    state = .done
                    return .deliverRejected(.rejected(scheme: mechanism.scheme, user: credential.qualifiedUser))
                }
                // The bindings of the connection this leg goes over (it may be a new one).
                running.useChannelBindings(channelBindings)
                guard let next = try running.nextAuthorization(for: ours) else {
                    state = .done
                    return .deliverRejected(.rejected(scheme: mechanism.scheme, user: credential.qualifiedUser))
                }
                authenticator = running
                state = .authenticating(finalSent: true)
                return .send(authorization: next, withBody: true)
            } catch {
                state = .done
                return .fail(error)
            }

        case .awaitingKerberos, .done:
            state = .done
            return .fail(.tooManyLegs)
        }
    }

    /// A final (non-challenge) response: delivered, after checking the server's last token
    /// where the mechanism has one (RFC 4559 §5: SPNEGO's mechListMIC for NTLM, the AP-REP
    /// for Kerberos); a token that does not verify means the exchange was tampered with.
    private mutating func finish(challengeValues: [String]) -> Action {
        var authenticated = false
        if case .authenticating = state, let authenticator, authenticator.isConnectionBound {
            authenticated = true
        }
        let sentCredentials: Bool
        if case .authenticating = state { sentCredentials = true } else { sentCredentials = false }
        state = .done
        guard sentCredentials, let final = (try? AuthChallenge.parse(fieldValues: challengeValues))?.first(where: { $0.hasScheme("Negotiate") && $0.token68 != nil }) else {
            return .deliver(authenticated: authenticated)
        }
        do {
            if var negotiate = authenticator as? NegotiateNTLMAuthenticator {
                try negotiate.verifyFinal(final)
                authenticator = negotiate
            } else if let kerberos = authenticator as? KerberosAuthenticator {
                try kerberos.verifyFinal(final)
            }
        } catch {
            return .fail(error)
        }
        return .deliver(authenticated: authenticated)
    }

    /// Our Kerberos leg was answered with a challenge: the server refused the ticket. Under
    /// `prefer`, NTLM once (the KDC accepted the credential, so this is no failed logon);
    /// otherwise the refusal is delivered.
    private mutating func kerberosRefused(challenges: [AuthChallenge], connectionClosing: Bool) -> Action {
        kerberosExcluded = true
        let service = kerberosService?.description ?? "?"
        if policy.kerberos == .prefer, !switchedScheme, let other = choose(from: challenges) {
            switchedScheme = true
            kerberosFallbackReason = "the upstream refused the Kerberos ticket for \(service)"
            return begin(other, reconnecting: connectionClosing, challenges: challenges)
        }
        state = .done
        return .deliverRejected(.kerberosTicketRefused(service: service))
    }

    /// The ticket asked for with `.obtainKerberosTicket`: the leg goes out with it.
    public mutating func kerberosReady(_ context: any KerberosClientContext) -> Action {
        guard case .awaitingKerberos(let reconnecting, _) = state else {
            state = .done
            return .fail(.tooManyLegs)
        }
        return open(KerberosAuthenticator(context: context), reconnecting: reconnecting)
    }

    /// No ticket could be had: NTLM instead under `prefer` when Kerberos is merely
    /// unavailable; a clear failure otherwise (and never NTLM after the KDC refused the
    /// credential: the same password would only fail again).
    public mutating func kerberosFailed(_ error: KerberosError) -> Action {
        guard case .awaitingKerberos(let reconnecting, let challenges) = state else {
            state = .done
            return .fail(.kerberos(error))
        }
        kerberosExcluded = true
        guard policy.kerberos == .prefer, error.allowsFallback, credential.canUseNTLM else {
            state = .done
            return .fail(.kerberos(error))
        }
        kerberosFallbackReason = "\(error)"
        kerberosWasUnavailable = true
        let fallback: HTTPAuthMechanism?
        if let challenges {
            fallback = choose(from: challenges)
        } else {
            // Preemptive: the upstream's offers are not known yet; raw NTLM, and a server that
            // offers only Negotiate switches us to NTLM in SPNEGO.
            fallback = .ntlm
        }
        guard let fallback else {
            state = .done
            return .fail(.kerberos(error))
        }
        return begin(fallback, reconnecting: reconnecting, challenges: challenges)
    }

    /// The mechanism to use among those offered: Kerberos when `Negotiate` is offered and
    /// allowed, else by scheme preference.
    func choose(from challenges: [AuthChallenge]) -> HTTPAuthMechanism? {
        let negotiateOffered = challenges.contains { $0.hasScheme(HTTPAuthScheme.negotiate.rawValue) }
        if negotiateOffered && kerberosUsable && policy.preference.contains(.negotiate) { return .kerberos }
        if policy.kerberos == .require { return nil }
        for scheme in policy.preference {
            guard challenges.contains(where: { $0.hasScheme(scheme.rawValue) }) else { continue }
            switch scheme {
            case .basic:
                if policy.allowBasic && credential.basicPassword != nil { return .basic }
            case .ntlm:
                if credential.canUseNTLM { return .ntlm }
            case .negotiate:
                if credential.canUseNTLM { return .negotiateNTLM }
            }
        }
        return nil
    }

    /// The error for "nothing offered suits us", naming Kerberos when that is the reason.
    private func noUsableScheme(_ challenges: [AuthChallenge]) -> HTTPAuthError {
        let offered = challenges.map(\.scheme)
        if policy.kerberos == .require {
            if credential.kerberos == nil { return .kerberos(.credentialUnavailable("the credential has no Kerberos side (auth: kerberos needs a password, a keytab or a ticket cache)")) }
            if !challenges.contains(where: { $0.hasScheme("Negotiate") }) {
                return .kerberos(.failed("the upstream does not offer Negotiate (offered: \(offered.isEmpty ? "none" : offered.joined(separator: ", ")))"))
            }
        }
        return .noUsableScheme(offered: offered)
    }

    private mutating func begin(_ chosen: HTTPAuthMechanism, reconnecting: Bool, challenges: [AuthChallenge]?) -> Action {
        if reconnecting {
            reconnects += 1
            guard reconnects <= policy.maximumReconnects else {
                state = .done
                return .fail(.connectionClosedDuringHandshake)
            }
        }
        mechanism = chosen
        let fresh: any HTTPAuthenticator
        switch chosen {
        case .kerberos:
            authenticator = nil
            state = .awaitingKerberos(reconnecting: reconnecting, challenges: challenges)
            return .obtainKerberosTicket
        case .basic:
            guard policy.allowBasic, let password = credential.basicPassword else {
                state = .done
                return .fail(.basicNotAllowed)
            }
            fresh = BasicAuthenticator(user: credential.qualifiedUser, password: password)
        case .ntlm, .negotiateNTLM:
            guard let ntlm = credential.ntlm else {
                state = .done
                return .fail(.noUsableScheme(offered: challenges?.map(\.scheme) ?? []))
            }
            if chosen == .ntlm {
                fresh = NTLMAuthenticator(credentials: ntlm, policy: policy.ntlmPolicy, channelBindings: channelBindings, targetName: targetName)
            } else {
                fresh = NegotiateNTLMAuthenticator(credentials: ntlm, policy: policy.ntlmPolicy, channelBindings: channelBindings, targetName: targetName)
            }
        }
        return open(fresh, reconnecting: reconnecting)
    }

    /// The first leg of `fresh`: its first authorization value, on this connection or a new one.
    private mutating func open(_ fresh: any HTTPAuthenticator, reconnecting: Bool) -> Action {
        var fresh = fresh
        let value: String
        do {
            value = try fresh.initialAuthorization()
        } catch {
            state = .done
            return .fail(error)
        }
        authenticator = fresh
        // A one-leg scheme sends the body now; a connection-bound one waits for the last leg.
        let withBody = !fresh.isConnectionBound
        state = .authenticating(finalSent: withBody)
        return reconnecting ? .reconnect(authorization: value, withBody: withBody) : .send(authorization: value, withBody: withBody)
    }
}
