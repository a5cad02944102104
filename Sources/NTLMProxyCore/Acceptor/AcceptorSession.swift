import Kerberos
import NTLM
import NTLMHTTP

/// The authentication state of one client connection in acceptor mode: the connection
/// handler feeds it each request's `Authorization` value and does what the returned
/// `Decision` says.
///
/// NTLM and Negotiate authenticate the connection (MS-NTHT): once a handshake succeeded,
/// later requests without `Authorization` are the same user. A new NTLM/Negotiate token on an
/// authenticated connection restarts the handshake. Basic authenticates one request at a
/// time. Kerberos (`Negotiate` with a ticket) completes in one leg; the ticket is checked with
/// the service keytab and the connection is then authenticated as the ticket's principal.
///
/// The protocol state lives in value types (`NTLMAcceptor`, `SPNEGOAcceptor`); `handle` is
/// async only because the verifier may be — a winbind helper process, a keytab read — and it
/// runs between the two halves of each acceptor's verification.
public struct AcceptorSession: Sendable {
    /// The verified user of a request.
    public struct Identity: Hashable, Sendable {
        public var user: String
        /// The NTLM domain, or the Kerberos realm.
        public var domain: String
        /// How the user proved who they are: `NTLM`, `Negotiate` or `Basic`.
        public var scheme: String
        /// Whether a Kerberos ticket proved it (then the name is a principal).
        public var kerberos: Bool

        public init(user: String, domain: String, scheme: String, kerberos: Bool = false) {
            self.user = user
            self.domain = domain
            self.scheme = scheme
            self.kerberos = kerberos
        }

        /// `DOMAIN\user`, or `user@REALM` for Kerberos.
        public var qualifiedName: String {
            if kerberos { return domain.isEmpty ? user : "\(user)@\(domain)" }
            return domain.isEmpty ? user : "\(domain)\\\(user)"
        }

        /// What proved it, for logs and the who-am-I page.
        public var mechanism: String { kerberos ? "Kerberos" : scheme }
    }

    /// What the connection handler must do with the request.
    public enum Decision: Sendable {
        /// Answer 401 with these `WWW-Authenticate` values, keeping the connection.
        case challenge([String])
        /// Serve the request as `identity`; add `WWW-Authenticate: <finalToken>` to the
        /// response if present (SPNEGO's accept-completed with its mechListMIC or AP-REP).
        case proceed(Identity, finalToken: String?)
        /// The credentials were wrong: log `reason`, answer 401 with fresh offers.
        case rejected(AcceptorRejection, offers: [String])
        /// The verifier cannot answer now (helper processes busy or down, our keytab
        /// unusable): log `reason`, answer 503 with `Retry-After`. Not the user's fault.
        case unavailable(String)
        /// The request's authorization is malformed: log `reason`, answer 400 and close.
        case badRequest(String)
    }

    /// Acceptor settings that do not change per connection.
    public struct Settings: Sendable {
        public var policy: NTLMAcceptorPolicy
        /// Checks NTLM proofs and Basic passwords; `nil`: Kerberos only (NTLM and Basic are
        /// neither offered nor accepted).
        public var verifier: (any AcceptorVerifier)?
        /// Checks Kerberos tickets; `nil`: Kerberos clients are steered to NTLM.
        public var kerberos: KerberosAcceptor?
        /// Offer and accept Basic (only over TLS unless explicitly enabled).
        public var allowBasic: Bool
        public var realm: String
        /// The largest `Authorization` value taken (64 KiB: Kerberos tickets of users in
        /// many groups are large).
        public var maximumTokenBytes: Int

        public init(policy: NTLMAcceptorPolicy, verifier: (any AcceptorVerifier)?, kerberos: KerberosAcceptor? = nil, allowBasic: Bool, realm: String = "ntlmproxy", maximumTokenBytes: Int = 64 * 1024) {
            self.policy = policy
            self.verifier = verifier
            self.kerberos = kerberos
            self.allowBasic = allowBasic
            self.realm = realm
            self.maximumTokenBytes = maximumTokenBytes
        }

        /// With a local users file.
        public init(policy: NTLMAcceptorPolicy, users: NTLMUserStore, allowBasic: Bool, realm: String = "ntlmproxy", maximumTokenBytes: Int = 64 * 1024) {
            self.init(policy: policy, verifier: users, allowBasic: allowBasic, realm: realm, maximumTokenBytes: maximumTokenBytes)
        }

        /// The `WWW-Authenticate` values of a fresh 401: Negotiate first, then NTLM, then
        /// Basic when allowed (NTLM and Basic only with a verifier for them).
        public var offers: [String] {
            guard verifier != nil else { return ["Negotiate"] }
            var values = ["Negotiate", "NTLM"]
            if allowBasic { values.append("Basic realm=\"\(AuthChallenge.escapeQuoted(realm))\", charset=\"UTF-8\"") }
            return values
        }

        /// The verifier, or the refusal when this acceptor takes Kerberos only.
        func ntlmVerifier() throws(NTLMRejection) -> any AcceptorVerifier {
            guard let verifier else { throw .accessDenied("this listener accepts Kerberos only (no users file or domain for NTLM)") }
            return verifier
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
        case kerberosTicketReceived(length: Int)
        case authenticated(Identity, kind: String)
        case rejected(AcceptorRejection)
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

    /// Decides what to do with a request carrying `authorization`. `channelBindings` are the
    /// TLS bindings of the client's connection (checked in Kerberos tickets that carry some).
    public mutating func handle(authorization: String?, channelBindings: ChannelBindings? = nil) async -> Decision {
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
            return await handleBasic(value)
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
            return await handleNTLM(token, scheme: scheme)
        }
        guard scheme == "Negotiate" else {
            phase = .unauthenticated
            return .badRequest("Authorization NTLM token is not an NTLM message")
        }
        // A bare Kerberos token (no SPNEGO around it), as some Java and older clients send.
        if SPNEGOKerberos.isKerberos5InitialContextToken(token) {
            return await handleKerberos(token, offer: nil, channelBindings: channelBindings)
        }
        return await handleSPNEGO(token, channelBindings: channelBindings)
    }

    private mutating func handleNTLM(_ token: [UInt8], scheme: String) async -> Decision {
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
            if settings.verifier == nil { return kerberosOnlyRefusal() }
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
                return .rejected(.ntlm(.unexpectedMessage("NTLM authenticate message without a handshake on this connection")), offers: settings.offers)
            }
            phase = .unauthenticated
            do throws(NTLMRejection) {
                let request: NTLMVerificationRequest
                do {
                    request = try acceptor.beginVerification(authenticate: token)
                } catch {
                    recordAuthenticate(acceptor, scheme: scheme)
                    throw error
                }
                recordAuthenticate(acceptor, scheme: scheme)
                let verified = try await settings.ntlmVerifier().verify(request)
                let user = try acceptor.completeVerification(verified)
                let identity = Identity(user: user.user, domain: user.domain, scheme: scheme)
                events.append(.authenticated(identity, kind: "\(user.kind)"))
                phase = .authenticated(identity)
                return .proceed(identity, finalToken: nil)
            } catch {
                return refusal(error, what: "malformed NTLM authenticate message")
            }
        default:
            phase = .unauthenticated
            return .badRequest("unexpected NTLM message type \(type) from a client")
        }
    }

    private mutating func recordAuthenticate(_ acceptor: NTLMAcceptor, scheme: String) {
        guard let type3 = acceptor.authenticateMessage else { return }
        events.append(.authenticateReceived(scheme: scheme, user: type3.user, domain: type3.domain, workstation: type3.workstation, flags: type3.flags, hasMIC: type3.mic != nil))
    }

    /// NTLM on a Kerberos-only acceptor: refused before any challenge (a 401 offering only
    /// Negotiate).
    private mutating func kerberosOnlyRefusal() -> Decision {
        phase = .unauthenticated
        let rejection = AcceptorRejection.ntlm(.accessDenied("this listener accepts Kerberos only"))
        events.append(.rejected(rejection))
        return .rejected(rejection, offers: settings.offers)
    }

    /// The decision for a refused NTLM logon: 400 for a malformed message, 503 when the
    /// verifier is out of reach, else 401 with fresh offers.
    private mutating func refusal(_ error: NTLMRejection, what: String) -> Decision {
        events.append(.rejected(.ntlm(error)))
        phase = .unauthenticated
        switch error {
        case .malformed: return .badRequest("\(what): \(error)")
        case .verifierUnavailable(let why): return .unavailable(why)
        default: return .rejected(.ntlm(error), offers: settings.offers)
        }
    }

    private mutating func handleSPNEGO(_ token: [UInt8], channelBindings: ChannelBindings?) async -> Decision {
        if case .spnego(var acceptor) = phase, token.first != 0x60 {
            phase = .unauthenticated
            do throws(NTLMRejection) {
                switch try acceptor.beginVerification(token) {
                case .challenge(let next):
                    phase = .spnego(acceptor)
                    return .challenge(["Negotiate \(Base64.encode(next))"])
                case .verify(let request):
                    let verified = try await settings.ntlmVerifier().verify(request)
                    let (user, finalToken) = try acceptor.completeVerification(verified)
                    let identity = Identity(user: user.user, domain: user.domain, scheme: "Negotiate")
                    events.append(.authenticated(identity, kind: "\(user.kind) in SPNEGO"))
                    phase = .authenticated(identity)
                    return .proceed(identity, finalToken: "Negotiate \(Base64.encode(finalToken))")
                }
            } catch {
                return refusal(error, what: "malformed SPNEGO token")
            }
        }
        // A NegTokenInit (re)starts the handshake: Kerberos when it is the client's first
        // choice and we hold a keytab, else NTLM inside SPNEGO.
        if settings.kerberos != nil, let offer = SPNEGOKerberos.optimisticKerberosOffer(inToken: token) {
            return await handleKerberos(offer.apReq, offer: offer, channelBindings: channelBindings)
        }
        if settings.verifier == nil { return kerberosOnlyRefusal() }
        var acceptor = SPNEGOAcceptor(ntlm: NTLMAcceptor(policy: settings.policy))
        do {
            let reply = try acceptor.challenge(token)
            phase = .spnego(acceptor)
            return .challenge(["Negotiate \(Base64.encode(reply))"])
        } catch {
            phase = .unauthenticated
            if case .malformed(.spnego(.noAcceptableMechanism)) = error {
                // Kerberos-only clients without a keytab here: tell them to fall back (we
                // offer NTLM too).
                return .rejected(.ntlm(error), offers: settings.offers)
            }
            return .badRequest("malformed SPNEGO token: \(error)")
        }
    }

    /// A Kerberos AP-REQ, from inside a NegTokenInit (`offer`: answered with SPNEGO
    /// accept-completed) or bare (`offer` nil: answered with the bare AP-REP).
    private mutating func handleKerberos(_ apReq: [UInt8], offer: SPNEGOKerberos.KerberosOffer?, channelBindings: ChannelBindings?) async -> Decision {
        phase = .unauthenticated
        events.append(.kerberosTicketReceived(length: apReq.count))
        guard let kerberos = settings.kerberos else {
            events.append(.rejected(.kerberos(.credentialUnavailable("no service keytab configured"))))
            return .rejected(.kerberos(.credentialUnavailable("no service keytab configured")), offers: settings.offers)
        }
        let accepted: KerberosAcceptance
        do {
            accepted = try await kerberos.accept(apReq, channelBindings: channelBindings)
        } catch {
            events.append(.rejected(.kerberos(error)))
            switch error {
            case .tokenRejected:
                return .rejected(.kerberos(error), offers: settings.offers)
            default:
                return .unavailable("\(error)")
            }
        }
        let (user, realm) = accepted.userAndRealm
        let identity = Identity(user: user, domain: realm, scheme: "Negotiate", kerberos: true)
        events.append(.authenticated(identity, kind: "Kerberos"))
        phase = .authenticated(identity)
        let reply: [UInt8]
        if let offer {
            do {
                reply = try SPNEGOKerberos.acceptCompleted(offer, apRep: accepted.responseToken)
            } catch {
                return .unavailable("cannot encode the SPNEGO answer: \(error)")
            }
        } else {
            reply = accepted.responseToken
        }
        return .proceed(identity, finalToken: reply.isEmpty ? nil : "Negotiate \(Base64.encode(reply))")
    }

    private mutating func handleBasic(_ value: AuthorizationValue) async -> Decision {
        guard settings.allowBasic, let verifier = settings.verifier else { return .challenge(settings.offers) }
        guard let decoded = try? value.decodedToken(), let colon = decoded.firstIndex(of: UInt8(ascii: ":")) else {
            return .badRequest("malformed Basic credentials")
        }
        let name = String(decoding: decoded[..<colon], as: UTF8.self)
        let password = Password(String(decoding: decoded[(colon + 1)...], as: UTF8.self))
        var (domain, user) = NTLMCredentials.splitUserName(name)
        if domain.isEmpty { domain = settings.policy.defaultDomain ?? settings.policy.netbiosDomain }
        let verified: NTLMVerifiedUser
        do {
            verified = try await verifier.verifyPassword(user: user, domain: domain, password: password)
        } catch {
            if case .verifierUnavailable(let why) = error { return .unavailable(why) }
            return .rejected(.ntlm(error), offers: settings.offers)
        }
        // Basic does not authenticate the connection; the state is left as it was.
        return .proceed(Identity(user: verified.user, domain: verified.domain, scheme: "Basic"), finalToken: nil)
    }
}

/// Why an acceptor refused a logon: an NTLM (or Basic) rejection, or a Kerberos one.
public enum AcceptorRejection: Error, Hashable, Sendable, CustomStringConvertible {
    case ntlm(NTLMRejection)
    case kerberos(KerberosError)

    public var description: String {
        switch self {
        case .ntlm(let rejection): return "\(rejection)"
        case .kerberos(let error): return "\(error)"
        }
    }
}
