import Logging
import NIOCore
import NIOHTTP1
import NTLM
import NTLMHTTP

/// Acceptor mode: the listener verifies the client itself (Negotiate/NTLM, Basic when
/// allowed) and then either forwards to a plain backend with the verified user in an identity
/// header, or answers a built-in who-am-I page.
///
/// A client-supplied copy of the identity header is always removed first (design
/// invariant 8), so a backend can trust the header.
public struct AcceptorMode: ConnectionHandler {
    public var settings: AcceptorSession.Settings
    public var forwarder: Forwarder?
    public var identityHeader: String
    public var padUnauthorizedTo: Int
    /// Sees every handshake event (flags and names only); `ntlmproxy demo` prints them.
    public var observer: (@Sendable (AcceptorSession.Event) -> Void)?

    public init(settings: AcceptorSession.Settings, forwarder: Forwarder?, identityHeader: String = "X-Remote-User", padUnauthorizedTo: Int = 0, observer: (@Sendable (AcceptorSession.Event) -> Void)? = nil) {
        self.settings = settings
        self.forwarder = forwarder
        self.identityHeader = identityHeader
        self.padUnauthorizedTo = padUnauthorizedTo
        self.observer = observer
    }

    public func serve(_ connection: ServerConnection, logger: Logger) async {
        var session = AcceptorSession(settings: settings)
        do {
            while let head = try await connection.nextRequestHead() {
                let started = ContinuousClock.now
                let keepAlive = HopByHopHeaders.keepAlive(version: head.version, headers: head.headers)
                let authorization = head.headers["authorization"].first
                let decision = await session.handle(authorization: authorization)
                for event in session.events {
                    logger.debug("handshake: \(event)")
                    observer?(event)
                }
                var status = 0
                var user = "-"
                switch decision {
                case .challenge(let values):
                    try await connection.drainBody()
                    let (response, body) = SimpleResponses.unauthorized(version: head.version, challenges: values, keepAlive: keepAlive, padTo: padUnauthorizedTo)
                    try await connection.writeResponse(response, body: body)
                    status = 401
                    logger.debug("challenge sent", metadata: ["scheme": "\(values.first?.split(separator: " ").first ?? "")"])

                case .rejected(let reason, let offers):
                    logger.warning("authentication rejected: \(reason)", metadata: ["client": "\(connection.clientDescription)"])
                    try await connection.drainBody()
                    let (response, body) = SimpleResponses.unauthorized(version: head.version, challenges: offers, keepAlive: keepAlive, padTo: padUnauthorizedTo)
                    try await connection.writeResponse(response, body: body)
                    status = 401

                case .unavailable(let reason):
                    logger.error("cannot verify logons now: \(reason)", metadata: ["client": "\(connection.clientDescription)"])
                    try await connection.drainBody()
                    let (response, body) = SimpleResponses.text(
                        .serviceUnavailable, "503 Service Unavailable: the logon cannot be verified right now; try again shortly\n",
                        version: head.version, keepAlive: keepAlive, extraHeaders: [("Retry-After", "5")])
                    try await connection.writeResponse(response, body: body)
                    status = 503

                case .badRequest(let reason):
                    logger.warning("bad request: \(reason)", metadata: ["client": "\(connection.clientDescription)"])
                    let (response, body) = SimpleResponses.text(.badRequest, "400 Bad Request: invalid authentication data\n", version: head.version, keepAlive: false)
                    try await connection.writeResponse(response, body: body)
                    AccessLog.record(logger, head, status: 400, user: user, started: started)
                    return

                case .proceed(let identity, let finalToken):
                    user = identity.qualifiedName
                    if identity.scheme != "Basic" && authorization != nil {
                        logger.debug("authenticated", metadata: ["user": "\(identity.qualifiedName)", "mechanism": "\(identity.mechanism)"])
                    }
                    let extra: [(String, String)] = finalToken.map { [("WWW-Authenticate", $0)] } ?? []
                    if let forwarder {
                        do {
                            let outcome = try await forwarder.forward(
                                head, on: connection, setHeaders: [(identityHeader, identity.qualifiedName)],
                                removeHeaders: [identityHeader, "authorization"], responseHeaders: extra, logger: logger)
                            status = outcome.status
                        } catch let interrupted as ResponseInterrupted {
                            AccessLog.record(logger, head, status: interrupted.status, user: user, started: started, interrupted: interrupted)
                            return
                        }
                    } else {
                        try await connection.drainBody()
                        let page = WhoAmIPage.render(identity: identity, client: connection.clientDescription, acceptsHTML: head.headers["accept"].contains { $0.contains("text/html") })
                        let (response, body) = SimpleResponses.text(.ok, page.body, version: head.version, keepAlive: keepAlive, contentType: page.contentType, extraHeaders: extra + [(identityHeader, identity.qualifiedName)])
                        try await connection.writeResponse(response, body: body)
                        status = 200
                    }
                }
                AccessLog.record(logger, head, status: status, user: user, started: started)
                if !keepAlive { return }
            }
        } catch let error as HTTPParserError {
            // NIO already answered 400 and is closing; without this line a malformed request
            // (e.g. a header block over the limit) would leave no trace at the default level.
            logger.warning("bad request: \(error)", metadata: ["client": "\(connection.clientDescription)"])
        } catch {
            logger.debug("connection closed: \(error)")
        }
    }
}
