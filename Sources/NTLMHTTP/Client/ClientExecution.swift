import Kerberos
import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOHTTP1
import NTLM

/// What `RequestExecution` and `TunnelExecution` share: one call of the client that runs over
/// connections it opens or takes from the pool (or a pin), under a deadline and cancellation.
protocol ClientExecution {
    associatedtype Outcome: Sendable
    var client: NTLMHTTPClient { get }
    var key: PoolKey { get }
    var pin: ConnectionPin? { get }
    var deadline: NIODeadline? { get }
    var cancellation: RequestCancellation { get }
    var logger: Logger { get }
    var connection: HTTP1Connection? { get set }
    /// The current connection is held by the pin.
    var pinned: Bool { get set }

    mutating func run() async throws -> Outcome
}

extension ClientExecution {
    /// Identifies this call to the pin.
    var pinOwner: ObjectIdentifier { ObjectIdentifier(cancellation) }

    /// The call moves to `connection`; with a pin, the pin holds it from now on (a pinned
    /// connection stays pinned for its life and never returns to the shared pool).
    mutating func adopt(_ connection: HTTP1Connection) throws(NTLMHTTPClientError) {
        try cancellation.use(connection)
        self.connection = connection
        pinned = false
        let adopted: Bool
        do {
            adopted = try pin?.adopt(connection, owner: pinOwner) ?? false
        } catch {
            // A pin bound for life lost its connection: this one is nobody's.
            connection.close()
            self.connection = nil
            throw error
        }
        if let pin, adopted {
            client.pool.assign(connection, to: pin)
            pinned = true
        }
    }

    /// A new connection for `key`, registered in the pool; its connect timeout is cut to
    /// what is left before the deadline.
    func connectNew(tls: Bool) async throws -> HTTP1Connection {
        var timeout = TimeAmount(client.configuration.connectTimeout)
        if let deadline {
            let remaining = deadline - .now()
            guard remaining > .zero else { throw NTLMHTTPClientError.timeout }
            timeout = min(timeout, remaining)
        }
        let id = try client.pool.nextConnectionID()
        let tlsContext = tls ? try client.tlsContext() : nil
        let fresh = try await HTTP1Connection.connect(
            id: id, key: key, group: client.eventLoopGroup, tlsContext: tlsContext,
            timeout: timeout, readIdleTimeout: TimeAmount(client.configuration.readIdleTimeout))
        try client.pool.register(fresh)
        return fresh
    }

    /// The handshake cannot go on: the upstream's remembered scheme is forgotten, the
    /// connection closed, and the error to throw returned.
    func abandonHandshake(_ error: HTTPAuthError, on connection: HTTP1Connection, upstream: Logger.Metadata) -> NTLMHTTPClientError {
        client.pool.forgetScheme(for: key)
        connection.close()
        logger.debug("authentication failed", metadata: upstream.merging(["error": "\(error)"]) { _, new in new })
        return .authentication(error)
    }

    /// A challenge answered a leg sent without authorization: next time, authenticate on the
    /// first leg (before any body goes out).
    func rememberScheme(of handshake: AuthHandshake, sentAuthorization authorization: String?) {
        if authorization == nil, let mechanism = handshake.mechanismToRemember {
            client.pool.remember(mechanism, for: key)
        }
    }

    /// A request authenticated with `handshake` succeeded on `connection` with `response`:
    /// the upstream's mechanism is remembered for new connections, and the connection's own
    /// standing for its next request (nothing more for NTLM or a persistent Kerberos logon, a
    /// fresh ticket for Kerberos otherwise).
    func rememberSuccess(of handshake: AuthHandshake, on connection: HTTP1Connection, response: HTTPResponseHead) {
        guard let mechanism = handshake.mechanism else { return }
        if let remembered = handshake.mechanismToRemember { client.pool.remember(remembered, for: key) }
        let standing = ConnectionAuthentication(mechanism: mechanism, target: handshake.target, responseHeaders: response.headers)
        connection.authentication.withLockedValue { $0 = standing }
    }

    /// The handshake for a request with `credential` to `host` (the origin's, or the proxy's),
    /// and its first action. On a new connection it starts at once with the mechanism this
    /// upstream used before (or the policy's preemptive scheme); on a kept connection only a
    /// per-request mechanism (Basic, Kerberos) goes out again, since NTLM authenticated the
    /// connection itself. A mechanism this credential cannot run falls back to a plain leg.
    func makeHandshake(
        credential: HTTPCredential, target: AuthHandshake.Target, host: String, policy: AuthHandshake.Policy,
        channelBindings: ChannelBindings?, on connection: HTTP1Connection, freshConnection: Bool
    ) -> (AuthHandshake, AuthHandshake.Action) {
        // The service name only where Kerberos may run (no string work per NTLM request).
        let service = credential.kerberos == nil || policy.kerberos == .never
            ? nil : KerberosServiceName(host: host, canonicalization: policy.kerberosCanonicalization)
        func make() -> AuthHandshake {
            AuthHandshake(
                target: target, credential: credential, policy: policy, channelBindings: channelBindings, targetName: "HTTP/\(host)",
                kerberosService: service)
        }
        var fresh = make()
        let mechanism: HTTPAuthMechanism?
        if freshConnection {
            let remembered = client.pool.rememberedMechanism(for: key).flatMap { fresh.adapted($0) }
            mechanism = remembered ?? policy.preemptiveScheme.flatMap { fresh.preemptiveMechanism(for: $0) }
        } else {
            let used = connection.authentication.withLockedValue { $0 }?.mechanismForNextRequest.flatMap { fresh.adapted($0) }
            mechanism = used?.isPerRequest == true ? used : nil
        }
        var action = fresh.start(preemptiveMechanism: mechanism)
        if let mechanism {
            if case .fail = action {
                // The remembered mechanism does not suit this credential (Basic without a kept
                // password): ask the server instead.
                fresh = make()
                action = fresh.start(preemptiveMechanism: nil)
            } else {
                logger.debug("authenticating preemptively", metadata: [
                    "mechanism": "\(mechanism)", "user": "\(credential.qualifiedUser)", "connection": "\(connection)",
                ])
            }
        }
        return (fresh, action)
    }

    /// Runs `.obtainKerberosTicket` for `handshake`: a fresh ticket for its service, off the
    /// event loop, and the next action. Under `prefer` with NTLM possible, a ticket that takes
    /// longer than the policy's timeout is given up for this request (NTLM instead); the
    /// attempt goes on in the background and serves later requests.
    func obtainKerberosTicket(for handshake: inout AuthHandshake) async -> AuthHandshake.Action {
        guard let kerberos = handshake.credential.kerberos, let service = handshake.kerberosService else {
            return handshake.kerberosFailed(.credentialUnavailable("the credential has no Kerberos side"))
        }
        let bindings = handshake.channelBindings
        let result: Result<KerberosInitiatorContext, KerberosError>
        let mayFallBack = handshake.policy.kerberos == .prefer && handshake.credential.canUseNTLM
        if mayFallBack && !kerberos.hasTicket(for: service) {
            // The KDC may be asked: bounded, so that a silent KDC costs NTLM, not a hang.
            let attempt = Task { () async -> Result<KerberosInitiatorContext, KerberosError> in
                do throws(KerberosError) {
                    return .success(try await kerberos.initiate(service, channelBindings: bindings))
                } catch {
                    return .failure(error)
                }
            }
            result = await Self.awaitTicket(attempt, timeout: handshake.policy.kerberosTimeout, service: service)
        } else {
            // A cached ticket (the common case: every request after the first), or nothing to
            // fall back to: no race, no extra tasks.
            do throws(KerberosError) {
                result = .success(try await kerberos.initiate(service, channelBindings: bindings))
            } catch {
                result = .failure(error)
            }
        }
        switch result {
        case .success(let context):
            logger.trace("Kerberos ticket ready", metadata: ["service": "\(service)", "principal": "\(context.principal)"])
            return handshake.kerberosReady(context)
        case .failure(let error):
            let next = handshake.kerberosFailed(error)
            if case .fail = next {
                logger.debug("Kerberos failed", metadata: ["service": "\(service)", "error": "\(error)"])
            } else {
                logger.debug("Kerberos unavailable, using NTLM", metadata: ["service": "\(service)", "reason": "\(error)"])
            }
            return next
        }
    }

    /// The outcome of `attempt`, or a timeout failure after `timeout` (the attempt itself is
    /// left to finish).
    static func awaitTicket(_ attempt: Task<Result<KerberosInitiatorContext, KerberosError>, Never>, timeout: Duration, service: KerberosServiceName) async -> Result<KerberosInitiatorContext, KerberosError> {
        let once = NIOLockedValueBox<CheckedContinuation<Result<KerberosInitiatorContext, KerberosError>, Never>?>(nil)
        return await withCheckedContinuation { continuation in
            once.withLockedValue { $0 = continuation }
            let timer = Task {
                try await Task.sleep(for: timeout)
                once.withLockedValue { $0.take() }?.resume(returning: .failure(.kdcUnreachable("no Kerberos ticket for \(service) within \(timeout)")))
            }
            Task {
                let result = await attempt.value
                timer.cancel()
                once.withLockedValue { $0.take() }?.resume(returning: result)
            }
        }
    }
}

extension NTLMHTTPClient {
    /// The deadline of a call given `timeout`, else ``Configuration/requestTimeout``.
    func deadline(for timeout: Duration?) -> NIODeadline? {
        (timeout ?? configuration.requestTimeout).map { NIODeadline.now() + TimeAmount($0) }
    }

    /// Runs `execution` so that cancelling the awaiting task closes its connection and
    /// throws ``NTLMHTTPClientError/cancelled``; on any error its current connection fails.
    func perform<Execution: ClientExecution>(_ execution: Execution) async throws -> Execution.Outcome {
        var execution = execution
        let cancellation = execution.cancellation
        return try await withTaskCancellationHandler {
            do {
                guard !Task.isCancelled else { throw NTLMHTTPClientError.cancelled }
                return try await execution.run()
            } catch {
                execution.connection?.fail((error as? NTLMHTTPClientError) ?? .connectionClosed)
                if cancellation.isCancelled || error is CancellationError { throw NTLMHTTPClientError.cancelled }
                throw error
            }
        } onCancel: {
            cancellation.cancel()
        }
    }
}
