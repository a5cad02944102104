import Logging
import NIOCore
import NIOHTTP1
import NTLMHTTP

/// Gateway mode: every request to the listener goes to one backend, authenticated with the
/// configured service credential (NTLM, Negotiate, or Basic where allowed). The client's own
/// `Authorization` is never passed on.
public struct GatewayMode: ConnectionHandler {
    public var forwarder: Forwarder
    public var lockout: LockoutGuard

    public init(forwarder: Forwarder, lockout: LockoutGuard = LockoutGuard()) {
        self.forwarder = forwarder
        self.lockout = lockout
    }

    var upstreamKey: String { forwarder.backend.description }
    var credentialKey: String { forwarder.credential.map { $0.lockoutID } ?? "-" }

    public func serve(_ connection: ServerConnection, logger: Logger) async {
        do {
            while let head = try await connection.nextRequestHead() {
                let started = ContinuousClock.now
                let keepAlive = HopByHopHeaders.keepAlive(version: head.version, headers: head.headers)
                if let remaining = lockout.remainingBlock(upstream: upstreamKey, credentialID: credentialKey) {
                    try await connection.drainBody()
                    let message = "502 Bad Gateway: the backend rejected the configured credential of \(forwarder.credential?.qualifiedUser ?? "-"); ntlmproxy will not send it again for \(remaining.components.seconds) s (to avoid locking the account). Fix the password and restart or reload ntlmproxy.\n"
                    let (response, body) = SimpleResponses.text(.badGateway, message, version: head.version, keepAlive: keepAlive)
                    try await connection.writeResponse(response, body: body)
                    AccessLog.record(logger, head, status: 502, started: started)
                    if !keepAlive { return }
                    continue
                }
                do {
                    let outcome = try await forwarder.forward(head, on: connection, setHeaders: [], removeHeaders: ["authorization"], logger: logger) { failure in
                        if case .rejected = failure {
                            lockout.recordRejection(upstream: upstreamKey, credentialID: credentialKey)
                            logger.error("backend rejected the credential: \(failure); blocking it for \(lockout.window.components.seconds) s")
                        }
                    }
                    AccessLog.record(logger, head, status: outcome.status, started: started)
                    if !outcome.keepAlive { return }
                } catch let failure as ForwardingFailure {
                    logger.error("forwarding failed: \(failure.reason)")
                    let (response, body) = SimpleResponses.text(failure.status, "\(failure.status.code) \(failure.status.reasonPhrase): \(failure.reason)\n", version: head.version, keepAlive: false)
                    try? await connection.writeResponse(response, body: body)
                    AccessLog.record(logger, head, status: Int(failure.status.code), started: started)
                    return
                } catch let interrupted as ResponseInterrupted {
                    AccessLog.record(logger, head, status: interrupted.status, started: started, interrupted: interrupted)
                    return
                }
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

extension HTTPCredential {
    /// A stable, non-secret key for lockout bookkeeping: the user plus a short digest of the
    /// secret (NT hash, or the NTOWFv2 key of a credential configured without one), so a
    /// corrected password is a different key.
    var lockoutID: String {
        var hasher = Hasher()
        hasher.combine(ntlm)
        return "\(qualifiedUser)#\(hasher.finalize())"
    }
}
