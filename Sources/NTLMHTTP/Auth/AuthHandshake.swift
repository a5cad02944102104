import NTLM

/// The authentication of one request over one connection, as a value-type state machine:
/// the connection code feeds it response heads and does what it says. It is the same for an
/// origin (401, `WWW-Authenticate`, `Authorization`) and a proxy (407, `Proxy-Authenticate`,
/// `Proxy-Authorization`).
///
/// Rules it enforces (design invariants 3, 4 and 7):
/// - the legs of a connection-bound handshake (NTLM, Negotiate) carry no body; the body goes
///   once, with the last leg;
/// - a challenge that arrives on a connection the server is closing restarts the handshake
///   on a new connection, a bounded number of times;
/// - a credential the server rejected is reported, never sent again by this machine.
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
        /// Schemes in order of preference, among those the server offers.
        public var preference: [HTTPAuthScheme]
        /// The scheme to start with at once on a new connection to an upstream whose scheme is
        /// not known yet. A gateway sets it: its backend is known to need authentication, and
        /// starting with a Type 1 means a request body is never sent before the handshake.
        public var preemptiveScheme: HTTPAuthScheme?

        public init(allowBasic: Bool = false, ntlmPolicy: NTLMInitiatorPolicy = .default, maximumReconnects: Int = 2, preference: [HTTPAuthScheme] = [.ntlm, .negotiate, .basic], preemptiveScheme: HTTPAuthScheme? = nil) {
            self.allowBasic = allowBasic
            self.ntlmPolicy = ntlmPolicy
            self.maximumReconnects = maximumReconnects
            self.preference = preference
            self.preemptiveScheme = preemptiveScheme
        }
    }

    enum State: Sendable {
        /// Nothing sent yet.
        case idle
        /// A plain request (no credentials) is out; the body went with it.
        case sentPlain
        /// An authenticator is running; `finalSent` when the leg with the body is out.
        case authenticating(finalSent: Bool)
        case done
    }

    public let target: Target
    public let credential: HTTPCredential
    public let policy: Policy
    /// Channel bindings of the TLS connection, if any; fed to NTLM.
    public var channelBindings: ChannelBindings?
    /// The SPN for MsvAvTargetName, e.g. `HTTP/host`.
    public var targetName: String?
    public private(set) var scheme: HTTPAuthScheme?
    private var authenticator: (any HTTPAuthenticator)?
    private var state: State = .idle
    private var legs = 0
    private var reconnects = 0
    private var switchedScheme = false

    public init(target: Target, credential: HTTPCredential, policy: Policy = Policy(), channelBindings: ChannelBindings? = nil, targetName: String? = nil) {
        self.target = target
        self.credential = credential
        self.policy = policy
        self.channelBindings = channelBindings
        self.targetName = targetName
    }

    /// The first action. With `preemptive` the handshake starts at once with that scheme (the
    /// upstream is known to require it); without, a plain request goes first.
    public mutating func start(preemptive: HTTPAuthScheme? = nil) -> Action {
        guard let preemptive else {
            state = .sentPlain
            return .send(authorization: nil, withBody: true)
        }
        return begin(preemptive, reconnecting: false)
    }

    /// Feeds the head of a response. `connectionClosing` is true when the server announced
    /// `Connection: close` (or spoke HTTP/1.0 without keep-alive).
    public mutating func received(status: Int, challengeValues: [String], connectionClosing: Bool) -> Action {
        guard status == target.challengeStatus else {
            let authenticated: Bool
            if case .authenticating = state, let authenticator, authenticator.isConnectionBound {
                authenticated = true
            } else {
                authenticated = false
            }
            state = .done
            // RFC 4559 §5 / MS-SPNG: the success response may carry the acceptor's final
            // SPNEGO token with its mechListMIC; a token that does not verify means the
            // negotiation was tampered with.
            if authenticated, var negotiate = authenticator as? NegotiateNTLMAuthenticator,
               let final = (try? AuthChallenge.parse(fieldValues: challengeValues))?.first(where: { $0.hasScheme("Negotiate") && $0.token68 != nil }) {
                do {
                    try negotiate.verifyFinal(final)
                    authenticator = negotiate
                } catch {
                    return .fail(error)
                }
            }
            return .deliver(authenticated: authenticated)
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
                return .fail(.noUsableScheme(offered: challenges.map(\.scheme)))
            }
            return begin(chosen, reconnecting: connectionClosing)

        case .authenticating(let finalSent):
            guard let scheme else { state = .done; return .fail(.tooManyLegs) }
            if finalSent {
                // Our last leg was answered with 401/407: the credential was refused.
                state = .done
                return .deliverRejected(.rejected(scheme: scheme, user: credential.qualifiedUser))
            }
            guard let ours = challenges.first(where: { $0.hasScheme(scheme.rawValue) }) else {
                // Our opening leg used a scheme this server does not offer (a preemptive
                // guess): switch to one it does, once. Nothing was proven wrong yet.
                if !switchedScheme, let other = choose(from: challenges), other != scheme {
                    switchedScheme = true
                    return begin(other, reconnecting: connectionClosing)
                }
                state = .done
                return .deliverRejected(.rejected(scheme: scheme, user: credential.qualifiedUser))
            }
            if connectionClosing {
                // The challenge is bound to a connection that is going away; MS-NTHT and
                // mod_auth_gssapi with Expect do this. Start over on a new connection.
                return begin(scheme, reconnecting: true)
            }
            do {
                guard var running = authenticator else {
                    state = .done
                    return .deliverRejected(.rejected(scheme: scheme, user: credential.qualifiedUser))
                }
                // The bindings of the connection this leg goes over (it may be a new one).
                running.useChannelBindings(channelBindings)
                guard let next = try running.nextAuthorization(for: ours) else {
                    state = .done
                    return .deliverRejected(.rejected(scheme: scheme, user: credential.qualifiedUser))
                }
                authenticator = running
                state = .authenticating(finalSent: true)
                return .send(authorization: next, withBody: true)
            } catch {
                state = .done
                return .fail(error)
            }

        case .done:
            return .fail(.tooManyLegs)
        }
    }

    /// The scheme to use among those offered, by policy preference.
    func choose(from challenges: [AuthChallenge]) -> HTTPAuthScheme? {
        for scheme in policy.preference {
            if scheme == .basic && !policy.allowBasic { continue }
            if scheme == .basic && credential.basicPassword == nil { continue }
            if challenges.contains(where: { $0.hasScheme(scheme.rawValue) }) { return scheme }
        }
        return nil
    }

    private mutating func begin(_ chosen: HTTPAuthScheme, reconnecting: Bool) -> Action {
        if reconnecting {
            reconnects += 1
            guard reconnects <= policy.maximumReconnects else {
                state = .done
                return .fail(.connectionClosedDuringHandshake)
            }
        }
        var fresh: any HTTPAuthenticator
        switch chosen {
        case .basic:
            guard policy.allowBasic, let password = credential.basicPassword else {
                state = .done
                return .fail(.basicNotAllowed)
            }
            fresh = BasicAuthenticator(user: credential.qualifiedUser, password: password)
        case .ntlm:
            fresh = NTLMAuthenticator(credential: credential, policy: policy.ntlmPolicy, channelBindings: channelBindings, targetName: targetName)
        case .negotiate:
            fresh = NegotiateNTLMAuthenticator(credential: credential, policy: policy.ntlmPolicy, channelBindings: channelBindings, targetName: targetName)
        }
        let value: String
        do {
            value = try fresh.initialAuthorization()
        } catch {
            state = .done
            return .fail(error)
        }
        scheme = chosen
        authenticator = fresh
        // A one-leg scheme sends the body now; a connection-bound one waits for the last leg.
        let withBody = !fresh.isConnectionBound
        state = .authenticating(finalSent: withBody)
        return reconnecting ? .reconnect(authorization: value, withBody: withBody) : .send(authorization: value, withBody: withBody)
    }
}
