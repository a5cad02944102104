import NTLM
import NTLMHTTP

/// The authentication state of one client connection in acceptor mode, as a value-type
/// state machine: the connection handler feeds it each request's `Authorization` value and
/// does what the returned `Decision` says.
///
/// NTLM and Negotiate authenticate the connection (MS-NTHT): once a handshake succeeded,
/// later requests without `Authorization` are the same user. A new NTLM/Negotiate token on an
/// authenticated connection restarts the handshake. Basic authenticates one request at a time.
public struct AcceptorSession: Sendable {
    /// The verified user of a request.
    public struct Identity: Hashable, Sendable {
        public var user: String
        public var domain: String
        /// How the user proved who they are: `NTLM`, `Negotiate` or `Basic`.
        public var scheme: String
        /// `DOMAIN\user`.
        public var qualifiedName: String { domain.isEmpty ? user : "\(domain)\\\(user)" }
    }

    /// What the connection handler must do with the request.
    public enum Decision: Sendable {
        /// Answer 401 with these `WWW-Authenticate` values, keeping the connection.
        case challenge([String])
        /// Serve the request as `identity`; add `WWW-Authenticate: <finalToken>` to the
        /// response if present (SPNEGO's accept-completed with its mechListMIC).
        case proceed(Identity, finalToken: String?)
        /// The credentials were wrong: log `reason`, answer 401 with fresh offers.
        case rejected(NTLMRejection, offers: [String])
        /// The request's authorization is malformed: log `reason`, answer 400 and close.
        case badRequest(String)
    }

    /// Acceptor settings that do not change per connection.
    public struct Settings: Sendable {
        public var policy: NTLMAcceptorPolicy
        public var users: NTLMUserStore
        /// Offer and accept Basic (only over TLS unless explicitly enabled).
        public var allowBasic: Bool
        public var realm: String
        public var maximumTokenBytes: Int

        public init(policy: NTLMAcceptorPolicy, users: NTLMUserStore, allowBasic: Bool, realm: String = "ntlmproxy", maximumTokenBytes: Int = 64 * 1024) {
            self.policy = policy
            self.users = users
            self.allowBasic = allowBasic
            self.realm = realm
            self.maximumTokenBytes = maximumTokenBytes
        }

        /// The `WWW-Authenticate` values of a fresh 401: Negotiate first, then NTLM, then
        /// Basic when allowed.
        public var offers: [String] {
            var values = ["Negotiate", "NTLM"]
            if allowBasic { values.append("Basic realm=\"\(AuthChallenge.escapeQuoted(realm))\", charset=\"UTF-8\"") }
            return values
        }
    }

    enum Phase: Sendable {
        case unauthenticated
        case ntlm(NTLMAcceptor, scheme: String)
        case spnego(SPNEGOAcceptor)
        case authenticated(Identity)
    }

    /// What happened during the last `handle` call, for logs and `ntlmproxy demo`. Contains
    /// flags and names only, never tokens, responses or keys.
    public enum Event: Sendable {
        case negotiateReceived(scheme: String, flags: NegotiateFlags, length: Int)
        case challengeSent(scheme: String, flags: NegotiateFlags, targetName: String)
        case authenticateReceived(scheme: String, user: String, domain: String, workstation: String, flags: NegotiateFlags, hasMIC: Bool)
        case authenticated(Identity, kind: String)
        case rejected(NTLMRejection)
    }

    public let settings: Settings
    private var phase: Phase = .unauthenticated
    /// The events of the last `handle` call.
    public private(set) var events: [Event] = []

    public init(settings: Settings) {
        self.settings = settings
    }

    /// The identity the connection is authenticated as, if any.
    public var connectionIdentity: Identity? {
        if case .authenticated(let identity) = phase { return identity }
        return nil
    }

    public mutating func handle(authorization: String?) -> Decision {
        events.removeAll(keepingCapacity: true)
        guard let authorization else {
            if case .authenticated(let identity) = phase { return .proceed(identity, finalToken: nil) }
            // A request without credentials in the middle of a handshake abandons it.
            phase = .unauthenticated
            return .challenge(settings.offers)
        }
        let value: AuthorizationValue
        do {
            value = try AuthorizationValue(parsing: authorization, maximumLength: settings.maximumTokenBytes)
        } catch {
            phase = .unauthenticated
            return .badRequest("unparsable Authorization header: \(error)")
        }
        if value.hasScheme("Basic") {
            return handleBasic(value)
        }
        guard value.hasScheme("NTLM") || value.hasScheme("Negotiate") else {
            return .challenge(settings.offers)
        }
        let token: [UInt8]
        do {
            token = try value.decodedToken()
        } catch {
            phase = .unauthenticated
            return .badRequest("Authorization \(value.scheme) token is not valid base64")
        }
        let scheme = value.hasScheme("NTLM") ? "NTLM" : "Negotiate"
        // Raw NTLMSSP can arrive under either scheme (some clients send it under Negotiate).
        if token.starts(with: [0x4E, 0x54, 0x4C, 0x4D, 0x53, 0x53, 0x50, 0x00]) {
            return handleNTLM(token, scheme: scheme)
        }
        guard scheme == "Negotiate" else {
            phase = .unauthenticated
            return .badRequest("Authorization NTLM token is not an NTLM message")
        }
        return handleSPNEGO(token)
    }

    private mutating func handleNTLM(_ token: [UInt8], scheme: String) -> Decision {
        let type: UInt32
        do {
            type = try ntlmMessageType(of: token)
        } catch {
            phase = .unauthenticated
            return .badRequest("malformed NTLM message: \(error)")
        }
        switch type {
        case NegotiateMessage.messageType:
            // A Type 1 always (re)starts the handshake, also on an authenticated connection.
            var acceptor = NTLMAcceptor(policy: settings.policy)
            do {
                let type2 = try acceptor.challenge(negotiate: token)
                if let type1 = acceptor.negotiateMessage {
                    events.append(.negotiateReceived(scheme: scheme, flags: type1.flags, length: token.count))
                }
                if let challenge = acceptor.challengeMessage {
                    events.append(.challengeSent(scheme: scheme, flags: challenge.flags, targetName: challenge.targetName))
                }
                phase = .ntlm(acceptor, scheme: scheme)
                return .challenge(["\(scheme) \(Base64.encode(type2))"])
            } catch {
                phase = .unauthenticated
                return .badRequest("NTLM negotiate message refused: \(error)")
            }
        case AuthenticateMessage.messageType:
            guard case .ntlm(var acceptor, let started) = phase, started == scheme else {
                phase = .unauthenticated
                return .rejected(.unexpectedMessage("NTLM authenticate message without a handshake on this connection"), offers: settings.offers)
            }
            func recordAuthenticate() {
                guard let type3 = acceptor.authenticateMessage else { return }
                events.append(.authenticateReceived(scheme: scheme, user: type3.user, domain: type3.domain, workstation: type3.workstation, flags: type3.flags, hasMIC: type3.mic != nil))
            }
            do {
                let user = try acceptor.accept(authenticate: token, verifier: settings.users)
                recordAuthenticate()
                let identity = Identity(user: user.user, domain: user.domain, scheme: scheme)
                events.append(.authenticated(identity, kind: "\(user.kind)"))
                phase = .authenticated(identity)
                return .proceed(identity, finalToken: nil)
            } catch {
                recordAuthenticate()
                events.append(.rejected(error))
                phase = .unauthenticated
                if case .malformed = error { return .badRequest("malformed NTLM authenticate message: \(error)") }
                return .rejected(error, offers: settings.offers)
            }
        default:
            phase = .unauthenticated
            return .badRequest("unexpected NTLM message type \(type) from a client")
        }
    }

    private mutating func handleSPNEGO(_ token: [UInt8]) -> Decision {
        if case .spnego(var acceptor) = phase, token.first != 0x60 {
            do {
                switch try acceptor.accept(token, verifier: settings.users) {
                case .continueWith(let next):
                    phase = .spnego(acceptor)
                    return .challenge(["Negotiate \(Base64.encode(next))"])
                case .authenticated(let user, let finalToken):
                    let identity = Identity(user: user.user, domain: user.domain, scheme: "Negotiate")
                    events.append(.authenticated(identity, kind: "\(user.kind) in SPNEGO"))
                    phase = .authenticated(identity)
                    return .proceed(identity, finalToken: "Negotiate \(Base64.encode(finalToken))")
                }
            } catch {
                events.append(.rejected(error))
                phase = .unauthenticated
                if case .malformed = error { return .badRequest("malformed SPNEGO token: \(error)") }
                return .rejected(error, offers: settings.offers)
            }
        }
        // A NegTokenInit (re)starts the handshake.
        var acceptor = SPNEGOAcceptor(ntlm: NTLMAcceptor(policy: settings.policy))
        do {
            let reply = try acceptor.challenge(token)
            phase = .spnego(acceptor)
            return .challenge(["Negotiate \(Base64.encode(reply))"])
        } catch {
            phase = .unauthenticated
            if case .malformed(.spnego(.noAcceptableMechanism)) = error {
                // Kerberos-only clients: tell them to fall back (we offer NTLM too).
                return .rejected(error, offers: settings.offers)
            }
            return .badRequest("malformed SPNEGO token: \(error)")
        }
    }

    private mutating func handleBasic(_ value: AuthorizationValue) -> Decision {
        guard settings.allowBasic else { return .challenge(settings.offers) }
        guard let decoded = try? value.decodedToken(), let colon = decoded.firstIndex(of: UInt8(ascii: ":")) else {
            return .badRequest("malformed Basic credentials")
        }
        let name = String(decoding: decoded[..<colon], as: UTF8.self)
        let password = Password(String(decoding: decoded[(colon + 1)...], as: UTF8.self))
        var (domain, user) = NTLMCredentials.splitUserName(name)
        if domain.isEmpty { domain = settings.policy.defaultDomain ?? settings.policy.netbiosDomain }
        let verified: NTLMVerifiedUser
        do {
            verified = try settings.users.verifyPassword(user: user, domain: domain, password: password)
        } catch {
            return .rejected(error, offers: settings.offers)
        }
        // Basic does not authenticate the connection; the state is left as it was.
        return .proceed(Identity(user: verified.user, domain: verified.domain, scheme: "Basic"), finalToken: nil)
    }
}
