import Logging
import NIOCore
import NIOHTTP1
import NTLMHTTP

/// Pass-through mode: a reverse proxy in front of an NTLM/Negotiate backend (IIS,
/// SharePoint) that relays each browser's own handshake, so every user reaches the backend
/// as themselves.
///
/// ntlmproxy authenticates nobody here. It relays `Authorization` and the backend's
/// `WWW-Authenticate` unchanged (curl's 32-byte Type 1 stays 32 bytes), and keeps the rule
/// that makes this safe (design invariant 1): a request to a protected path rides the
/// upstream connection pinned to its client connection — opened for it, never pooled, never
/// handed to another client connection, closed when the client connection closes (and the
/// client connection is closed when the backend closes it). Requests to public paths without
/// an NTLM/Negotiate `Authorization` share a pool instead.
public struct PassThroughMode: ConnectionHandler {
    public let configuration: PassThroughConfiguration
    public let client: NTLMHTTPClient
    public let pins: PinRegistry
    /// The `Via` pseudonym (RFC 9110 §7.6.3).
    public let viaName: String

    public init(configuration: PassThroughConfiguration, client: NTLMHTTPClient, viaName: String = "ntlmproxy") {
        self.configuration = configuration
        self.client = client
        self.pins = PinRegistry(maxPins: configuration.pins.maxPins)
        self.viaName = viaName
    }

    enum Next {
        case keepGoing
        case close(PinLifecycle.EndReason)
    }

    public func serve(_ connection: ServerConnection, logger: Logger) async {
        let session = PassThroughSession(connection: connection, registry: pins, limits: configuration.pins, logger: logger)
        var reason = PinLifecycle.EndReason.clientClosed
        do {
            while let head = try await connection.nextRequestHead() {
                if case .close(let why) = try await relay(head, session: session, logger: logger) {
                    reason = why
                    break
                }
            }
        } catch let error as HTTPParserError {
            logger.warning("bad request: \(error)", metadata: ["client": "\(connection.clientDescription)"])
            reason = .clientError
        } catch {
            logger.debug("connection closed: \(error)")
        }
        session.end(reason)
    }

    /// Relays one request and its response; says whether the client connection goes on.
    func relay(_ head: HTTPRequestHead, session: PassThroughSession, logger: Logger) async throws -> Next {
        let connection = session.connection
        let started = ContinuousClock.now
        let keepAlive = HopByHopHeaders.keepAlive(version: head.version, headers: head.headers)
        let authorization = RelayedAuthorization(head.headers)
        let pinned = authorization.bindsConnection || !configuration.isPublic(head.uri)
        if pinned {
            guard session.openPin() else {
                logger.warning("pin limit reached: refusing a client connection", metadata: ["client": "\(connection.clientDescription)", "max-pins": "\(pins.maxPins)"])
                let message = "503 Service Unavailable: the proxy holds its maximum of \(pins.maxPins) pinned backend connections; try again shortly.\n"
                try await answer(head, .serviceUnavailable, message, on: connection, extraHeaders: [("Retry-After", "5")], started: started, logger: logger)
                return .close(.pinLimit)
            }
            if let ended = session.beginPinnedRequest() {
                // Like the backend itself: the client's keep-alive connection closes without
                // an answer, and the client retries on a new one (and authenticates again).
                return .close(ended)
            }
        }

        var headers = head.headers
        HopByHopHeaders.strip(&headers)
        Forwarder.addReverseProxyHeaders(&headers, head: head, originalHost: head.headers.first(name: "host"), backend: configuration.backend, connection: connection, viaName: viaName)
        // `Expect` goes to the backend (and `Authorization`, unchanged); the client gets its
        // `100 Continue` when the backend asks for the body (a 401 on a handshake leg does not).
        let (continueGate, body) = ContinueGate.forRequest(head, on: connection)
        let request = NTLMHTTPRequest(url: configuration.backend.url(forRequestTarget: head.uri), method: head.method, headers: headers, body: body)

        let response: NTLMHTTPResponse
        do {
            response = try await client.execute(request, credential: nil, pin: pinned ? session.pin : nil, logger: logger)
        } catch {
            if pinned { _ = session.finishRequest() }
            if pinned, Self.backendDroppedPin(error, pinWasInUse: session.pinCarriedRequests) {
                logger.debug("the backend closed the pinned connection; closing the client connection", metadata: ["pin": "\(session.pinID ?? 0)"])
                return .close(.backendClosed)
            }
            let failure = (error as? NTLMHTTPClientError).map(ForwardingFailure.init) ?? ForwardingFailure(status: .badGateway, reason: "\(error)")
            logger.error("backend request failed: \(failure.reason)", metadata: ["backend": "\(configuration.backend)"])
            try? await answer(head, failure.status, "\(failure.status.code) \(failure.status.reasonPhrase): \(failure.reason)\n", on: connection, started: started, logger: logger)
            return .close(.upstreamError)
        }

        if pinned, case .authenticate(let user) = authorization.leg, response.status != .unauthorized {
            session.authenticated(as: user)
        }
        // A 401 answering a Type 1 carries the Type 2: the next leg must reach this pin.
        let midHandshake = response.status == .unauthorized && authorization.leg == .negotiate
        var ending: PinLifecycle.EndReason? = nil
        if pinned {
            let backendKeeps = HopByHopHeaders.keepAlive(version: response.version, headers: response.headers)
            ending = backendKeeps ? session.limitReached(midHandshake: midHandshake) : .backendClosed
        }
        // A client that asked `Expect: 100-continue` and never got to send its body cannot
        // continue on this connection (RFC 9110 §10.1.1).
        if ending == nil, continueGate.leavesBodyUnread { ending = .continueNotSent }
        let stays = keepAlive && ending == nil
        do {
            let relay = ResponseRelay(viaName: viaName, challengeBodyPadding: configuration.pad401To)
            try await relay.write(response, for: head, on: connection, keepAlive: stays)
        } catch {
            AccessLog.record(logger, head, status: error.status, user: pinned ? session.user : nil, started: started, interrupted: error)
            if pinned { _ = session.finishRequest() }
            throw error
        }
        AccessLog.record(logger, head, status: Int(response.status.code), user: pinned ? session.user : nil, started: started)
        if pinned, let closed = session.finishRequest() { return .close(closed) }
        if let ending { return .close(ending) }
        return keepAlive ? .keepGoing : .close(.clientClosed)
    }

    /// Answers `head` with a page of our own and `Connection: close`.
    func answer(_ head: HTTPRequestHead, _ status: HTTPResponseStatus, _ message: String, on connection: ServerConnection, extraHeaders: [(String, String)] = [], started: ContinuousClock.Instant, logger: Logger) async throws {
        let (response, body) = SimpleResponses.text(status, message, version: head.version, keepAlive: false, extraHeaders: extraHeaders)
        try await connection.writeResponse(response, body: body)
        AccessLog.record(logger, head, status: Int(status.code), started: started)
    }

    /// The backend closed a pinned connection that had carried requests before this one
    /// reached it: the client sees what it would see directly — its kept-alive connection
    /// closing without an answer — rather than a 502 (browsers resend on a new connection).
    static func backendDroppedPin(_ error: any Error, pinWasInUse: Bool) -> Bool {
        switch error as? NTLMHTTPClientError {
        case .pinnedConnectionLost?: return true
        case .connectionClosed?: return pinWasInUse
        default: return false
        }
    }
}
