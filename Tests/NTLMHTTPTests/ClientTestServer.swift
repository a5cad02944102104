import Crypto
import NIOConcurrencyHelpers
import NIOCore
import NIOHTTP1
import NIOPosix
import NIOSSL
import NTLM
@testable import NTLMHTTP

/// An in-process HTTP/1.1 origin on 127.0.0.1 that authenticates like IIS: NTLM and
/// Negotiate bound to the connection (our NTLMAcceptor / SPNEGOAcceptor over an
/// NTLMUserStore), or Basic per request; optionally TLS with channel bindings enforced, or
/// 407/Proxy-Authenticate instead of 401/WWW-Authenticate.
///
/// Routes (once authorized): `/whoami` echoes the user (`/close` too, then closes); `/upload`
/// echoes the user, the body's SHA-256 and length; `/download?bytes=N` streams N bytes with
/// backpressure; `/hang` never answers. It counts handshakes, failed logons, connections and body bytes.
final class ClientTestServer: Sendable {
    enum Scheme: Sendable, Hashable {
        /// Offers `Negotiate` and `NTLM` (as IIS and mod_auth_gssapi do).
        case ntlmAndNegotiate
        case negotiateOnly
        case basic
    }

    struct Options: Sendable {
        var scheme: Scheme = .ntlmAndNegotiate
        /// 407 and the Proxy-* fields instead of 401 and WWW-Authenticate/Authorization.
        var proxyAuthentication = false
        var tls = false
        var channelBindings: NTLMAcceptorPolicy.ChannelBindingPolicy = .ignore
        /// The first N Type 2 challenges carry `Connection: close` (and the server closes).
        var closeWithFirstType2s = 0
        /// Like mod_auth_gssapi: an unauthenticated request with `Expect: 100-continue` gets
        /// its 401 with `Connection: close`.
        var closeOnExpectChallenge = true
        /// Ignores `Expect` and answers an unauthenticated request only after reading its
        /// whole body (as a server that does not do 100-continue).
        var challengeAfterBody = false
    }

    struct Stats: Sendable {
        var connections = 0
        var closedConnections = 0
        /// NTLM Type 1 messages or SPNEGO initial tokens received.
        var handshakes = 0
        var successfulLogons = 0
        var failedLogons = 0
        var requests = 0
        /// Request body bytes received, in total and per connection.
        var bodyBytes = 0
        var bodyBytesPerConnection: [Int: Int] = [:]
        /// The users each connection served requests for.
        var usersPerConnection: [Int: Set<String>] = [:]
        /// Handshake legs (requests carrying a Type 1 / SPNEGO init) that had `Expect`.
        var expectOnHandshakeLegs = 0
        /// Handshake legs whose declared body was not empty.
        var bodyOnHandshakeLegs = 0
        var continuesSent = 0
        /// Requests that carried an Authorization (Proxy-Authorization) field.
        var requestsWithAuthorization = 0
        /// First challenges (the offer of schemes) sent to requests without credentials.
        var offersSent = 0
    }

    static let users: NTLMUserStore = {
        var store = NTLMUserStore()
        store.add(user: "alice", domain: "CORP", password: "secret")
        store.add(user: "bob", domain: "CORP", password: "hunter2")
        return store
    }()

    static let basicUsers: [String: String] = [#"CORP\alice"#: "secret", #"CORP\bob"#: "hunter2"]

    let options: Options
    let stats: NIOLockedValueBox<Stats>
    let channel: any Channel
    let port: Int

    var baseURL: String { "\(options.tls ? "https" : "http")://127.0.0.1:\(port)" }

    private init(options: Options, stats: NIOLockedValueBox<Stats>, channel: any Channel, port: Int) {
        self.options = options
        self.stats = stats
        self.channel = channel
        self.port = port
    }

    static func start(_ options: Options = Options()) async throws -> ClientTestServer {
        let sslContext: NIOSSLContext?
        if options.tls {
            let certificate = try NIOSSLCertificate(bytes: Array(ClientTestCertificates.leafPEM.utf8), format: .pem)
            let key = try NIOSSLPrivateKey(bytes: Array(ClientTestCertificates.leafKeyPEM.utf8), format: .pem)
            let configuration = TLSConfiguration.makeServerConfiguration(certificateChain: [.certificate(certificate)], privateKey: .privateKey(key))
            sslContext = try NIOSSLContext(configuration: configuration)
        } else {
            sslContext = nil
        }
        let stats = NIOLockedValueBox(Stats())
        let nextID = NIOLockedValueBox(0)
        let channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    let id = nextID.withLockedValue { $0 += 1; return $0 }
                    stats.withLockedValue { $0.connections += 1 }
                    channel.closeFuture.whenComplete { _ in stats.withLockedValue { $0.closedConnections += 1 } }
                    let sync = channel.pipeline.syncOperations
                    if let sslContext { try sync.addHandler(NIOSSLServerHandler(context: sslContext)) }
                    try sync.configureHTTPServerPipeline(withErrorHandling: true)
                    try sync.addHandler(TestOriginHandler(connectionID: id, options: options, stats: stats))
                }
            }
            .bind(host: "127.0.0.1", port: 0).get()
        guard let port = channel.localAddress?.port else { throw ChannelError.unknownLocalAddress }
        return ClientTestServer(options: options, stats: stats, channel: channel, port: port)
    }

    /// A snapshot of the counters.
    var snapshot: Stats { stats.withLockedValue { $0 } }

    func shutdown() async {
        try? await channel.close()
    }
}

/// One server connection: authentication state bound to it, the routes, and downloads that
/// follow the channel's writability.
final class TestOriginHandler: ChannelInboundHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    enum Handshake {
        case none
        case ntlm(NTLMAcceptor)
        case negotiate(SPNEGOAcceptor)
    }

    enum RequestState {
        case idle
        /// Answered already (a challenge); the rest of the body is discarded.
        case discarding(closeAfter: Bool)
        /// To be answered with this challenge once the body is in.
        case challengeAtEnd(HTTPHeaders)
        case authorized(user: String, route: String, query: String, hasher: SHA256, bytes: Int, finalToken: String?)
    }

    let connectionID: Int
    let options: ClientTestServer.Options
    let stats: NIOLockedValueBox<ClientTestServer.Stats>
    var handshake = Handshake.none
    var authenticatedUser: String?
    var state = RequestState.idle
    var downloadRemaining = 0
    var downloadChunk = ByteBuffer(repeating: 0x61, count: 64 * 1024)

    init(connectionID: Int, options: ClientTestServer.Options, stats: NIOLockedValueBox<ClientTestServer.Stats>) {
        self.connectionID = connectionID
        self.options = options
        self.stats = stats
    }

    var challengeStatus: HTTPResponseStatus { options.proxyAuthentication ? .proxyAuthenticationRequired : .unauthorized }
    var challengeField: String { options.proxyAuthentication ? "Proxy-Authenticate" : "WWW-Authenticate" }
    var authorizationField: String { options.proxyAuthentication ? "Proxy-Authorization" : "Authorization" }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let head):
            stats.withLockedValue { $0.requests += 1 }
            received(head, context: context)
        case .body(let buffer):
            stats.withLockedValue {
                $0.bodyBytes += buffer.readableBytes
                $0.bodyBytesPerConnection[connectionID, default: 0] += buffer.readableBytes
            }
            if case .authorized(let user, let route, let query, var hasher, let bytes, let token) = state {
                buffer.withUnsafeReadableBytes { hasher.update(bufferPointer: $0) }
                state = .authorized(user: user, route: route, query: query, hasher: hasher, bytes: bytes + buffer.readableBytes, finalToken: token)
            }
        case .end:
            switch state {
            case .idle:
                break
            case .discarding(let closeAfter):
                state = .idle
                if closeAfter { context.close(promise: nil) }
            case .challengeAtEnd(let headers):
                sendChallenge(headers: headers, close: false, context: context)
                state = .idle
            case .authorized(let user, let route, let query, let hasher, let bytes, let token):
                state = .idle
                respond(route: route, query: query, user: user, sha256: hasher.finalize(), bytes: bytes, finalToken: token, context: context)
            }
        }
    }

    func received(_ head: HTTPRequestHead, context: ChannelHandlerContext) {
        let expects = head.headers["expect"].contains { $0.lowercased() == "100-continue" }
        let declaredBody = Int(head.headers.first(name: "content-length") ?? "0") ?? 1
        let route = String(head.uri.split(separator: "?", maxSplits: 1).first ?? "/")
        let query = head.uri.split(separator: "?", maxSplits: 1).dropFirst().first.map(String.init) ?? ""
        var user = authenticatedUser
        var finalToken: String? = nil

        if let value = head.headers.first(name: authorizationField), let authorization = try? AuthorizationValue(parsing: value) {
            stats.withLockedValue { $0.requestsWithAuthorization += 1 }
            let token = (try? authorization.decodedToken()) ?? []
            switch options.scheme {
            case .basic:
                guard authorization.hasScheme("Basic") else { return challenge(context: context, expects: expects) }
                let text = String(decoding: token, as: UTF8.self)
                let parts = text.split(separator: ":", maxSplits: 1).map(String.init)
                if parts.count == 2, ClientTestServer.basicUsers[parts[0]] == parts[1] {
                    stats.withLockedValue { $0.successfulLogons += 1 }
                    user = parts[0]
                } else {
                    stats.withLockedValue { $0.failedLogons += 1 }
                    return challenge(context: context, expects: expects)
                }
            case .ntlmAndNegotiate, .negotiateOnly:
                if authorization.hasScheme("NTLM") && options.scheme == .ntlmAndNegotiate {
                    guard let next = ntlmLeg(token, head: head, expects: expects, declaredBody: declaredBody) else {
                        return reject(context: context, scheme: "NTLM")
                    }
                    switch next {
                    case .challenge(let type2): return sendType2("NTLM " + Base64.encode(type2), context: context)
                    case .authenticated(let name): user = name
                    }
                } else if authorization.hasScheme("Negotiate") {
                    guard let next = negotiateLeg(token, head: head, expects: expects, declaredBody: declaredBody) else {
                        return reject(context: context, scheme: "Negotiate")
                    }
                    switch next {
                    case .challenge(let response): return sendType2("Negotiate " + Base64.encode(response), context: context)
                    case .authenticated(let name, let final):
                        user = name
                        finalToken = "Negotiate " + Base64.encode(final)
                    }
                } else {
                    return challenge(context: context, expects: expects)
                }
            }
        }
        guard let user else { return challenge(context: context, expects: expects) }
        _ = stats.withLockedValue { $0.usersPerConnection[connectionID, default: []].insert(user) }
        state = .authorized(user: user, route: route, query: query, hasher: SHA256(), bytes: 0, finalToken: finalToken)
        if expects {
            stats.withLockedValue { $0.continuesSent += 1 }
            context.writeAndFlush(wrapOutboundOut(.head(HTTPResponseHead(version: .http1_1, status: .continue))), promise: nil)
        }
        if route == "/hang" {
            state = .discarding(closeAfter: false)
        }
    }

    enum Leg {
        case challenge([UInt8])
        case authenticated(String)
    }

    enum NegotiateLeg {
        case challenge([UInt8])
        case authenticated(String, final: [UInt8])
    }

    func countHandshakeLeg(expects: Bool, declaredBody: Int) {
        stats.withLockedValue {
            $0.handshakes += 1
            if expects { $0.expectOnHandshakeLegs += 1 }
            if declaredBody != 0 { $0.bodyOnHandshakeLegs += 1 }
        }
    }

    func ntlmLeg(_ token: [UInt8], head: HTTPRequestHead, expects: Bool, declaredBody: Int) -> Leg? {
        let type = token.count >= 12 ? UInt32(token[8]) | UInt32(token[9]) << 8 : 0
        if type == 1 {
            // A new Type 1 restarts the handshake on this connection.
            countHandshakeLeg(expects: expects, declaredBody: declaredBody)
            authenticatedUser = nil
            var acceptor = NTLMAcceptor(policy: NTLMAcceptorPolicy(netbiosDomain: "CORP", channelBindings: options.channelBindings))
            guard let type2 = try? acceptor.challenge(negotiate: token) else { return nil }
            handshake = .ntlm(acceptor)
            return .challenge(type2)
        }
        guard case .ntlm(var acceptor) = handshake else { return nil }
        handshake = .none
        do {
            let user = try acceptor.accept(authenticate: token, verifier: ClientTestServer.users)
            stats.withLockedValue { $0.successfulLogons += 1 }
            authenticatedUser = user.qualifiedName
            return .authenticated(user.qualifiedName)
        } catch {
            stats.withLockedValue { $0.failedLogons += 1 }
            return nil
        }
    }

    func negotiateLeg(_ token: [UInt8], head: HTTPRequestHead, expects: Bool, declaredBody: Int) -> NegotiateLeg? {
        if case .negotiate(var acceptor) = handshake {
            do {
                switch try acceptor.accept(token, verifier: ClientTestServer.users) {
                case .continueWith(let next):
                    handshake = .negotiate(acceptor)
                    return .challenge(next)
                case .authenticated(let user, let final):
                    handshake = .none
                    stats.withLockedValue { $0.successfulLogons += 1 }
                    authenticatedUser = user.qualifiedName
                    return .authenticated(user.qualifiedName, final: final)
                }
            } catch {
                handshake = .none
                stats.withLockedValue { $0.failedLogons += 1 }
                return nil
            }
        }
        countHandshakeLeg(expects: expects, declaredBody: declaredBody)
        authenticatedUser = nil
        var acceptor = SPNEGOAcceptor(ntlm: NTLMAcceptor(policy: NTLMAcceptorPolicy(netbiosDomain: "CORP", channelBindings: options.channelBindings)))
        guard let response = try? acceptor.challenge(token) else { return nil }
        handshake = .negotiate(acceptor)
        return .challenge(response)
    }

    // MARK: Responses

    func offers() -> [String] {
        switch options.scheme {
        case .ntlmAndNegotiate: return ["Negotiate", "NTLM"]
        case .negotiateOnly: return ["Negotiate"]
        case .basic: return [#"Basic realm="test""#]
        }
    }

    /// The first 401: what we offer. With `Expect` (and the option), closes like Apache.
    func challenge(context: ChannelHandlerContext, expects: Bool) {
        stats.withLockedValue { $0.offersSent += 1 }
        var headers = HTTPHeaders()
        for offer in offers() { headers.add(name: challengeField, value: offer) }
        if options.challengeAfterBody {
            state = .challengeAtEnd(headers)
            return
        }
        sendChallenge(headers: headers, close: expects && options.closeOnExpectChallenge, context: context)
    }

    func reject(context: ChannelHandlerContext, scheme: String) {
        var headers = HTTPHeaders()
        headers.add(name: challengeField, value: scheme)
        sendChallenge(headers: headers, close: false, context: context)
    }

    func sendType2(_ value: String, context: ChannelHandlerContext) {
        var headers = HTTPHeaders()
        headers.add(name: challengeField, value: value)
        let close = stats.withLockedValue { stats -> Bool in
            // Counted on handshakes: the first N handshakes get a closing challenge.
            stats.handshakes <= options.closeWithFirstType2s
        }
        sendChallenge(headers: headers, close: close, context: context)
    }

    func sendChallenge(headers: HTTPHeaders, close: Bool, context: ChannelHandlerContext) {
        var headers = headers
        let body = ByteBuffer(string: "authentication required\n")
        headers.add(name: "Content-Length", value: String(body.readableBytes))
        headers.add(name: "Content-Type", value: "text/plain")
        if close { headers.add(name: "Connection", value: "close") }
        context.write(wrapOutboundOut(.head(HTTPResponseHead(version: .http1_1, status: challengeStatus, headers: headers))), promise: nil)
        context.write(wrapOutboundOut(.body(.byteBuffer(body))), promise: nil)
        let done = context.writeAndFlush(wrapOutboundOut(.end(nil)))
        if close {
            done.assumeIsolated().whenComplete { _ in context.close(promise: nil) }
            state = .discarding(closeAfter: true)
        } else {
            state = .discarding(closeAfter: false)
        }
    }

    func respond(route: String, query: String, user: String, sha256: SHA256.Digest, bytes: Int, finalToken: String?, context: ChannelHandlerContext) {
        var headers = HTTPHeaders()
        if let finalToken { headers.add(name: challengeField, value: finalToken) }
        switch route {
        case "/download":
            let total = query.split(separator: "&").compactMap { part -> Int? in
                let pair = part.split(separator: "=")
                return pair.count == 2 && pair[0] == "bytes" ? Int(pair[1]) : nil
            }.first ?? 0
            headers.add(name: "Content-Length", value: String(total))
            context.write(wrapOutboundOut(.head(HTTPResponseHead(version: .http1_1, status: .ok, headers: headers))), promise: nil)
            downloadRemaining = total
            pump(context: context)
        default:
            var text = user + "\n"
            if route == "/upload" {
                text += hex(Array(sha256)) + "\n" + String(bytes) + "\n"
            }
            let body = ByteBuffer(string: text)
            headers.add(name: "Content-Length", value: String(body.readableBytes))
            if route == "/close" { headers.add(name: "Connection", value: "close") }
            context.write(wrapOutboundOut(.head(HTTPResponseHead(version: .http1_1, status: .ok, headers: headers))), promise: nil)
            context.write(wrapOutboundOut(.body(.byteBuffer(body))), promise: nil)
            let done = context.writeAndFlush(wrapOutboundOut(.end(nil)))
            if route == "/close" { done.assumeIsolated().whenComplete { _ in context.close(promise: nil) } }
        }
    }

    /// Writes download chunks while the channel is writable; resumes on writability.
    func pump(context: ChannelHandlerContext) {
        while downloadRemaining > 0 && context.channel.isWritable {
            let count = min(downloadRemaining, downloadChunk.readableBytes)
            downloadRemaining -= count
            context.write(wrapOutboundOut(.body(.byteBuffer(downloadChunk.getSlice(at: downloadChunk.readerIndex, length: count) ?? ByteBuffer()))), promise: nil)
            if downloadRemaining == 0 {
                context.write(wrapOutboundOut(.end(nil)), promise: nil)
            }
        }
        context.flush()
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        if context.channel.isWritable && downloadRemaining > 0 { pump(context: context) }
        context.fireChannelWritabilityChanged()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        context.close(promise: nil)
    }
}

/// Lowercase hex.
func hex(_ bytes: [UInt8]) -> String {
    let digits = Array("0123456789abcdef")
    return String(bytes.flatMap { [digits[Int($0 >> 4)], digits[Int($0 & 0x0F)]] })
}
