import Logging
import NIOCore
import NIOHTTP1
import NTLM

/// One `execute`: the legs of a request over one or more connections, as `AuthHandshake`
/// directs. This is where its actions become I/O:
///
/// - `.send` goes on the current connection (or a new one if the current one cannot carry
///   another exchange and the handshake is not in the middle of a connection-bound leg);
/// - `.reconnect` opens a new connection;
/// - a leg without the body carries `Content-Length: 0` and no `Expect`/`Transfer-Encoding`;
/// - a challenge's body is read and discarded before the next leg on the same connection;
/// - `.deliver` hands the response over and pools the connection after its body (only if
///   HTTP/1.1 persistence allows); `.deliverRejected` delivers the 401/407 and closes.
///
/// Through a proxy the connection goes to the proxy, the request line is in absolute-form
/// (RFC 9112 §3.2.2) and the credential answers the proxy's 407; the request's own
/// `Authorization` is the caller's business and passes untouched. With a pin the request
/// uses (and leaves its connection in) the pin instead of the shared pool.
struct RequestExecution: ClientExecution {
    let client: NTLMHTTPClient
    let request: NTLMHTTPRequest
    let target: RequestTarget
    let credential: HTTPCredential?
    let proxy: HTTPProxyServer?
    let pin: ConnectionPin?
    let deadline: NIODeadline?
    let cancellation: RequestCancellation
    var logger: Logger
    var body: RequestBodyState
    var handshake: AuthHandshake?
    var connection: HTTP1Connection?
    /// The last leg was a connection-bound intermediate leg (Type 1): the next must use the
    /// same connection.
    var midHandshake = false
    var legs = 0
    var legsOnConnection = 0
    /// The current connection came from the pool (it carries our identity already).
    var connectionFromPool = false
    /// The current connection is held by the pin (a pin in use by another request is not).
    var pinned = false
    var connectionsOpened = 0
    let baseHead: HTTPRequestHead
    let expectsContinue: Bool
    /// The caller's own `Authorization`/`Proxy-Authorization` carries NTLM or Negotiate: the
    /// connection gets authenticated for whoever that is, so without a pin it is closed after
    /// the response instead of being pooled for anyone else (design invariant 1).
    let carriesForeignConnectionAuth: Bool

    init(client: NTLMHTTPClient, request: NTLMHTTPRequest, target: RequestTarget, credential: HTTPCredential?, proxy: HTTPProxyServer? = nil, pin: ConnectionPin? = nil, deadline: NIODeadline?, cancellation: RequestCancellation, logger: Logger) {
        self.client = client
        self.request = request
        self.target = target
        self.credential = credential
        self.proxy = proxy
        self.pin = pin
        self.deadline = deadline
        self.cancellation = cancellation
        self.logger = logger
        body = RequestBodyState(request.body)
        var headers = request.headers
        if !headers.contains(name: "host") { headers.add(name: "Host", value: target.endpoint.hostHeader) }
        if let agent = client.configuration.userAgent, !headers.contains(name: "user-agent") {
            headers.add(name: "User-Agent", value: agent)
        }
        // Our credential answers the upstream we authenticate to: the origin, or the proxy.
        if credential != nil { headers.remove(name: proxy == nil ? "authorization" : "proxy-authorization") }
        // The body's framing is ours.
        headers.remove(name: "content-length")
        headers.remove(name: "transfer-encoding")
        expectsContinue = headers["expect"].contains { $0.lowercased() == "100-continue" }
        carriesForeignConnectionAuth = (headers["authorization"] + headers["proxy-authorization"]).contains { value in
            let scheme = value.split(separator: " ", maxSplits: 1).first?.lowercased()
            return scheme == "ntlm" || scheme == "negotiate"
        }
        // Through a proxy: absolute-form, `https` included (the proxy speaks TLS to the origin).
        let uri = proxy == nil ? target.path : "\(target.endpoint)\(target.path)"
        baseHead = HTTPRequestHead(version: .http1_1, method: request.method, uri: uri, headers: headers)
    }

    var key: PoolKey {
        PoolKey(endpoint: proxy?.endpoint ?? target.endpoint, credential: credential, proxy: proxy)
    }

    /// Where the credential goes, for logs: the proxy or the origin.
    var upstreamForLog: String { proxy.map { "proxy \($0)" } ?? "\(target.endpoint)" }

    // MARK: The leg loop

    mutating func run() async throws -> NTLMHTTPResponse {
        var action: AuthHandshake.Action
        var reused: Bool
        if pin?.hasLostItsConnection == true { throw NTLMHTTPClientError.pinnedConnectionLost }
        if let pooled = pin?.checkOut(key, owner: pinOwner) ?? client.pool.take(key) {
            try adopt(pooled)
            connectionFromPool = true
            legsOnConnection = 0
            reused = true
            // The connection already carries our identity (or needed none): send the request
            // as is; a fresh challenge on it restarts the handshake there.
            action = startHandshake(on: pooled, preemptive: false)
        } else {
            let fresh = try await openConnection()
            reused = false
            action = startHandshake(on: fresh, preemptive: true)
        }
        while true {
            let authorization: String?
            let withBody: Bool
            var needsNewConnection: Bool
            switch action {
            case .send(let value, let body):
                authorization = value
                withBody = body
                needsNewConnection = false
                // After a leg on this connection, check that it can carry another exchange.
                if legsOnConnection > 0, let connection, await !connection.isReusable { needsNewConnection = true }
            case .reconnect(let value, let body):
                // The handshake restarts from its first leg on a new connection.
                authorization = value
                withBody = body
                needsNewConnection = true
                midHandshake = false
            case .obtainKerberosTicket:
                guard var running = handshake else { throw NTLMHTTPClientError.remoteProtocolError("internal: no handshake") }
                action = await obtainKerberosTicket(for: &running)
                handshake = running
                continue
            case .fail(let error):
                connection?.close()
                throw NTLMHTTPClientError.authentication(error)
            case .deliver, .deliverRejected:
                // Only `received` answers these, and they are handled right after it.
                connection?.close()
                throw NTLMHTTPClientError.remoteProtocolError("internal: no response to deliver")
            }
            if needsNewConnection {
                if midHandshake {
                    // A connection-bound leg must continue where it started.
                    connection?.close()
                    throw NTLMHTTPClientError.authentication(.connectionClosedDuringHandshake)
                }
                connection?.close()
                let fresh = try await openConnection()
                reused = false
                // Bindings of the new TLS session (the same server certificate in practice);
                // used by the authenticator the handshake starts next.
                let bindings = channelBindings(of: fresh)
                handshake?.channelBindings = bindings
            }
            guard let current = connection else { throw NTLMHTTPClientError.connectionClosed }
            if withBody && !body.canSend {
                current.close()
                throw NTLMHTTPClientError.bodyNotReplayable
            }

            let start: HTTP1ConnectionHandler.ResponseStart
            do {
                start = try await sendLeg(authorization: authorization, withBody: withBody, on: current)
            } catch let error as NTLMHTTPClientError where reused && error == .connectionClosed && body.canSend && request.method.isIdempotent && !cancellation.isCancelled {
                // A pooled connection the server had closed while it was idle: start over,
                // once, on a new connection (idempotent methods only, RFC 9110 §9.2.2: the
                // server may have acted on a request whose answer was lost).
                logger.debug("pooled connection was closed by the server; retrying on a new connection", metadata: ["connection": "\(current)"])
                reused = false
                let fresh = try await openConnection()
                action = startHandshake(on: fresh, preemptive: true)
                continue
            }
            reused = false
            legsOnConnection += 1
            midHandshake = authorization != nil && !withBody

            guard var running = handshake else {
                return await deliver(start, on: current, reusable: true, mechanism: nil, failure: nil)
            }
            let head = start.head
            let challengeValues = head.headers[running.target.challengeHeader]
            let next = running.received(status: Int(head.status.code), challengeValues: challengeValues, connectionClosing: !head.isKeepAlive)
            handshake = running
            switch next {
            case .deliver(let authenticated):
                // The mechanism that ran for this request, if credentials went with it.
                let mechanism = authorization != nil ? running.mechanism : nil
                if let mechanism {
                    rememberSuccess(of: running, on: current, response: head)
                    var metadata: Logger.Metadata = [
                        "mechanism": "\(mechanism)", "user": "\(running.credential.qualifiedUser)", "connection": "\(current)",
                        "connection-bound": "\(authenticated)",
                    ]
                    if let reason = running.kerberosFallbackReason { metadata["kerberos-not-used"] = "\(reason)" }
                    logger.debug("authenticated", metadata: metadata)
                }
                return await deliver(start, on: current, reusable: true, mechanism: mechanism, failure: nil)
            case .deliverRejected(let error):
                client.pool.forgetScheme(for: key)
                logger.warning("upstream rejected the credential", metadata: ["scheme": "\(running.scheme?.rawValue ?? "-")", "user": "\(running.credential.qualifiedUser)", "endpoint": "\(upstreamForLog)"])
                return await deliver(start, on: current, reusable: false, mechanism: nil, failure: error)
            case .fail(let error):
                throw abandonHandshake(error, on: current, upstream: ["endpoint": "\(upstreamForLog)"])
            case .send, .reconnect, .obtainKerberosTicket:
                rememberScheme(of: running, sentAuthorization: authorization)
                if !body.canSend {
                    // Every way on needs the body again, and the stream is gone.
                    current.close()
                    logger.warning("the server asked for authentication after the streamed request body was sent; it is too large to resend", metadata: [
                        "replay-buffer-limit": "\(client.configuration.replayBufferLimit)", "endpoint": "\(target.endpoint)",
                    ])
                    throw NTLMHTTPClientError.bodyNotReplayable
                }
                logChallenge(head, scheme: running.scheme, user: running.credential.qualifiedUser)
                if case .send = next {
                    do {
                        try await start.body.drain(upTo: client.configuration.maximumChallengeBodyBytes)
                    } catch let error as NTLMHTTPClientError where error != .cancelled && error != .timeout {
                        // Too large, or the connection went away: the next leg decides whether
                        // a new connection will do.
                        current.close()
                    }
                } else {
                    current.close()
                }
                action = next
            }
        }
    }

    /// A handshake for a request with a credential (see `makeHandshake`). Without a
    /// credential the request is sent plain and whatever comes back is delivered.
    mutating func startHandshake(on connection: HTTP1Connection, preemptive: Bool) -> AuthHandshake.Action {
        guard let credential else {
            handshake = nil
            return .send(authorization: nil, withBody: true)
        }
        var policy = client.configuration.authentication
        // Basic's password is protected by TLS; the credential still has to opt in. (The
        // connection to a proxy is plain HTTP whatever the URL.)
        if proxy == nil && target.endpoint.isTLS { policy.allowBasic = true }
        let (fresh, action) = makeHandshake(
            credential: credential, target: proxy == nil ? .origin : .proxy, host: proxy?.host ?? target.endpoint.host, policy: policy,
            channelBindings: channelBindings(of: connection), on: connection, freshConnection: preemptive)
        handshake = fresh
        midHandshake = false
        return action
    }

    func channelBindings(of connection: HTTP1Connection) -> ChannelBindings? {
        client.configuration.channelBindings ? connection.channelBindings : nil
    }

    mutating func openConnection() async throws -> HTTP1Connection {
        // A pin bound for life never gets a second connection (not even a retry's).
        if pin?.hasLostItsConnection == true { throw NTLMHTTPClientError.pinnedConnectionLost }
        let fresh = try await connectNew(tls: key.endpoint.isTLS)
        try adopt(fresh)
        connectionFromPool = false
        legsOnConnection = 0
        connectionsOpened += 1
        logger.trace("connected", metadata: ["connection": "\(fresh)", "endpoint": "\(key.endpoint)", "tls-channel-bindings": "\(fresh.channelBindings != nil)"])
        return fresh
    }

    // MARK: One leg

    /// Sends the request once — with `authorization`, with or without its body — and
    /// returns the response head and body stream.
    mutating func sendLeg(authorization: String?, withBody: Bool, on connection: HTTP1Connection) async throws -> HTTP1ConnectionHandler.ResponseStart {
        legs += 1
        var head = baseHead
        let authorizationHeader = handshake?.target.authorizationHeader ?? "Authorization"
        if let authorization { head.headers.replaceOrAdd(name: authorizationHeader, value: authorization) }
        let sendsBody = withBody && body.isPresent
        if sendsBody {
            if let length = body.length {
                head.headers.replaceOrAdd(name: "Content-Length", value: String(length))
            } else {
                head.headers.replaceOrAdd(name: "Transfer-Encoding", value: "chunked")
            }
        } else {
            // A leg without the body (design invariant 4): Content-Length: 0, no Expect.
            head.headers.remove(name: "expect")
            if body.isPresent || [.POST, .PUT, .PATCH].contains(head.method) {
                head.headers.replaceOrAdd(name: "Content-Length", value: "0")
            }
        }
        guard sendsBody else {
            return try await connection.exchange(head: head, body: nil, deadline: deadline)
        }
        // The first request to a host we know nothing about, with a credential and a stream
        // that may not fit the replay buffer: ask with `Expect: 100-continue` whether the body
        // is wanted, so that a challenge arrives before the body is gone (RFC 9110 §10.1.1).
        let probe = !expectsContinue && authorization == nil && handshake != nil && !connectionFromPool
            && body.isStream && (body.length ?? .max) > client.configuration.replayBufferLimit
        if probe { head.headers.replaceOrAdd(name: "Expect", value: "100-continue") }
        if expectsContinue || probe {
            // Keep `Expect: 100-continue` on the leg with the body: the body goes after
            // `100 Continue` (or the wait times out); a final answer instead leaves it unsent.
            let timeout = TimeAmount(client.configuration.expectContinueTimeout)
            let proceed = try await connection.startStreaming(head: head, deadline: deadline, expectContinueTimeout: timeout)
            guard proceed else { return try await connection.responseHead() }
        } else if case .bytes(let buffer) = body {
            // Head, body and end in one write and one flush.
            return try await connection.exchange(head: head, body: buffer, deadline: deadline)
        } else if handshake == nil, case .fresh = body {
            // A relay (no credential of ours, so no leg will need the body again): the body
            // goes out while the response is awaited, so a server that answers before reading
            // the body — a 401 page of any size on a handshake leg — cannot stall both sides.
            _ = try await connection.startStreaming(head: head, deadline: deadline, expectContinueTimeout: nil)
            let upload = startUpload(on: connection)
            do {
                let start = try await connection.responseHead()
                return HTTP1ConnectionHandler.ResponseStart(head: start.head, body: start.body.awaiting(upload))
            } catch {
                upload.cancel()
                await upload.value
                throw error
            }
        } else {
            _ = try await connection.startStreaming(head: head, deadline: deadline, expectContinueTimeout: nil)
        }
        do {
            // A copy is kept while a challenge could still ask for the body again: after a
            // plain leg, or a Kerberos leg that a server refusing the ticket answers with a
            // challenge (then NTLM follows).
            try await sendBody(on: connection, keepCopy: handshake != nil && (authorization == nil || handshake?.mechanism == .kerberos))
        } catch let error as NTLMHTTPClientError where error == .connectionClosed {
            // The server may have answered before the whole body went out, then closed; that
            // answer is what the caller gets.
            return try await connection.responseHead()
        }
        return try await connection.responseHead()
    }

    /// Sends a stream body (then the end) in a task of its own, with backpressure. A failure
    /// fails the connection (the response being awaited fails with it), except the server
    /// closing, which leaves its answer, if any, to be read.
    mutating func startUpload(on connection: HTTP1Connection) -> Task<Void, Never> {
        guard case .fresh(let length, let makeIterator) = body else { return Task {} }
        body = .consumed(length: length)
        return Task {
            do {
                try await Self.sendStream(makeIterator(), length: length, on: connection)
                try await connection.sendEnd()
            } catch {
                // `sendStream` failed the connection already, or the server closed it.
            }
        }
    }

    /// Writes the body (then the end) with backpressure. A stream read now is copied while
    /// it fits in the replay buffer when `keepCopy` (a leg that may be answered with a
    /// challenge).
    mutating func sendBody(on connection: HTTP1Connection, keepCopy: Bool) async throws {
        switch body {
        case .none, .consumed:
            break
        case .bytes(let buffer):
            try await connection.sendBody(buffer)
        case .replay(_, let chunks):
            for chunk in chunks { try await connection.sendBody(chunk) }
        case .fresh(let length, let makeIterator):
            body = .consumed(length: length)
            let limit = client.configuration.replayBufferLimit
            var copy: [ByteBuffer]? = keepCopy ? [] : nil
            var copied = 0
            try await Self.sendStream(makeIterator(), length: length, on: connection) { chunk in
                guard copy != nil else { return }
                copied += chunk.readableBytes
                if copied <= limit { copy?.append(chunk) } else { copy = nil }
            }
            if let copy { body = .replay(length: length, chunks: copy) }
        }
        try await connection.sendEnd()
    }

    /// Sends a stream's chunks (not the end), each shown to `keep` first, and checks them
    /// against the declared length. A stream that fails or lies about its length fails the
    /// connection (the request cannot be completed on it); the server closing is rethrown.
    static func sendStream(_ iterator: RequestBodyIterator, length: Int?, on connection: HTTP1Connection, keep: (ByteBuffer) -> Void = { _ in }) async throws {
        var sent = 0
        do {
            while let chunk = try await iterator.next() {
                guard chunk.readableBytes > 0 else { continue }
                sent += chunk.readableBytes
                if let length, sent > length { throw NTLMHTTPClientError.requestBodyLengthMismatch(declared: length, sent: sent) }
                keep(chunk)
                try await connection.sendBody(chunk)
            }
            if let length, sent != length { throw NTLMHTTPClientError.requestBodyLengthMismatch(declared: length, sent: sent) }
        } catch let error as NTLMHTTPClientError where error == .connectionClosed {
            throw error
        } catch {
            connection.fail(error as? NTLMHTTPClientError ?? .cancelled)
            throw error
        }
    }

    // MARK: Delivering

    func deliver(_ start: HTTP1ConnectionHandler.ResponseStart, on connection: HTTP1Connection, reusable: Bool, mechanism: HTTPAuthMechanism?, failure: HTTPAuthError?) async -> NTLMHTTPResponse {
        // Awaited, so that once the caller has read the body, the connection is in the pool
        // (or its pin).
        await connection.release(reusable: reusable && (pinned || !carriesForeignConnectionAuth))
        let head = start.head
        var metadata: Logger.Metadata = [
            "legs": "\(legs)", "connection": "\(connection)", "new-connections": "\(connectionsOpened)",
            "mechanism": "\(mechanism?.rawValue ?? "-")", "user": "\(credential?.qualifiedUser ?? "-")",
        ]
        if let proxy { metadata["via"] = "\(proxy)" }
        if pinned { metadata["pinned"] = "true" }
        logger.debug("\(request.method) \(target.endpoint)\(pathForLog) → \(head.status.code)", metadata: metadata)
        return NTLMHTTPResponse(status: head.status, version: head.version, headers: head.headers, body: start.body, authenticationFailure: failure, authenticationMechanism: mechanism)
    }

    /// The path without the query (which may carry tokens).
    var pathForLog: String {
        target.path.split(separator: "?", maxSplits: 1, omittingEmptySubsequences: false).first.map(String.init) ?? "/"
    }

    /// Logs a challenge leg: scheme, user and, for NTLM, the server's Type 2 flags by name.
    func logChallenge(_ head: HTTPResponseHead, scheme: HTTPAuthScheme?, user: String) {
        Self.logChallenge(head, challengeHeader: handshake?.target.challengeHeader ?? "WWW-Authenticate", scheme: scheme, user: user, leg: legs, logger: logger)
    }
}

extension HTTPMethod {
    /// RFC 9110 §9.2.2.
    var isIdempotent: Bool {
        switch self {
        case .GET, .HEAD, .OPTIONS, .TRACE, .PUT, .DELETE: return true
        default: return false
        }
    }
}
