import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOHTTP1
import NIOPosix
import NTLM
import NTLMHTTP
@testable import NTLMProxyCore

/// An in-process NTLM parent proxy for forward-mode tests: answers `407 Proxy-Authenticate:
/// NTLM` (with an HTML body and Content-Length, like squid), verifies the Type 3 against a
/// user store, authenticates the connection, then forwards absolute-form requests to their
/// origin and tunnels CONNECT. Counts logons, failures and requests per connection.
///
/// The protocol itself is checked against squid and Apache in InteropTests; this one is for
/// behaviour: failover, pooling, lockout, Expect, pinning.
final class FakeNTLMParent: ConnectionHandler, Sendable {
    struct Counters: Sendable {
        var logons = 0
        var failedLogons = 0
        var connections = 0
        var requests = 0
        var connects = 0
        /// Requests that arrived with a body on a 407 leg (must stay 0).
        var bodiesOnChallengeLegs = 0
        var proxyAuthorizationsSeen: [String] = []
    }

    let users: NTLMUserStore
    let counters = NIOLockedValueBox(Counters())
    let client = NTLMHTTPClient()
    private let listenerBox = NIOLockedValueBox<(ProxyListener, Task<Void, Error>)?>(nil)

    init(users: [(String, String, Password)]) {
        var store = NTLMUserStore()
        for (domain, user, password) in users { store.add(user: user, domain: domain, password: password) }
        self.users = store
    }

    var port: Int { listenerBox.withLockedValue { $0?.0.port ?? 0 } }
    var snapshot: Counters { counters.withLockedValue { $0 } }

    static func start(users: [(String, String, Password)] = [("CORP", "alice", "Alice-Pass1")], port: Int = 0) async throws -> FakeNTLMParent {
        let parent = FakeNTLMParent(users: users)
        var options = ListenerOptions(port: port)
        options.allowsTunnels = true
        let listener = try await ProxyListener.bind(options, handler: parent, logger: Logger(label: "test.parent", factory: { _ in SwiftLogNoOpLogHandler() }))
        let task = Task { try await listener.serve() }
        parent.listenerBox.withLockedValue { $0 = (listener, task) }
        return parent
    }

    func stop() async {
        if let (listener, task) = listenerBox.withLockedValue({ $0 }) {
            await listener.close()
            task.cancel()
        }
        try? await client.shutdown()
    }

    func serve(_ connection: ServerConnection, logger: Logger) async {
        counters.withLockedValue { $0.connections += 1 }
        var acceptor: NTLMAcceptor? = nil
        var authenticated = false
        do {
            while let head = try await connection.nextRequestHead() {
                counters.withLockedValue { counters in
                    counters.requests += 1
                    counters.proxyAuthorizationsSeen += head.headers["proxy-authorization"].map { String($0.prefix(12)) }
                }
                if !authenticated {
                    let token = head.headers.first(name: "proxy-authorization").flatMap { value -> [UInt8]? in
                        guard value.lowercased().hasPrefix("ntlm ") else { return nil }
                        return Base64.decode(String(value.dropFirst(5)))
                    }
                    var challenge = "NTLM"
                    if let token, token.count > 8, token[8] == 1 {
                        var fresh = NTLMAcceptor(policy: NTLMAcceptorPolicy(netbiosDomain: "CORP"))
                        if let type2 = try? fresh.challenge(negotiate: token) {
                            challenge = "NTLM " + Base64.encode(type2)
                            acceptor = fresh
                        }
                        if (head.headers.first(name: "content-length").flatMap { Int($0) } ?? 0) > 0 {
                            counters.withLockedValue { $0.bodiesOnChallengeLegs += 1 }
                        }
                    } else if let token, token.count > 8, token[8] == 3, var pending = acceptor {
                        acceptor = nil
                        do {
                            _ = try await pending.accept(authenticate: token, verifier: users)
                            counters.withLockedValue { $0.logons += 1 }
                            authenticated = true
                        } catch {
                            counters.withLockedValue { $0.failedLogons += 1 }
                        }
                    }
                    if !authenticated {
                        try await connection.drainBody()
                        let html = "<html><body><h1>407 Proxy Authentication Required</h1>" + String(repeating: "padding ", count: 64) + "</body></html>"
                        var headers = HTTPHeaders()
                        headers.add(name: "Proxy-Authenticate", value: challenge)
                        headers.add(name: "Content-Type", value: "text/html")
                        headers.add(name: "Content-Length", value: String(html.utf8.count))
                        let response = HTTPResponseHead(version: .http1_1, status: .proxyAuthenticationRequired, headers: headers)
                        if head.method == .CONNECT {
                            try await connection.refuseConnect(response, body: ByteBuffer(string: html), keepAlive: true)
                        } else {
                            try await connection.writeResponse(response, body: ByteBuffer(string: html))
                        }
                        continue
                    }
                }
                if head.method == .CONNECT {
                    counters.withLockedValue { $0.connects += 1 }
                    let target = try ProxyRequestTarget(parsing: head.uri, isConnect: true)
                    let upstream = try await DirectConnector.connect(host: target.host, port: target.port, timeout: .seconds(5), group: MultiThreadedEventLoopGroup.singleton)
                    _ = try await connection.startTunnel(to: upstream, initialBytesToClient: nil)
                    return
                }
                var headers = head.headers
                HopByHopHeaders.strip(&headers)
                let length = head.headers.first(name: "content-length").flatMap { Int($0) }
                let chunked = head.headers["transfer-encoding"].contains { $0.lowercased().contains("chunked") }
                let body: NTLMHTTPRequest.Body? = (chunked || (length ?? 0) > 0) ? .stream(connection.requestBody(), length: chunked ? nil : length) : nil
                if head.headers["expect"].contains(where: { $0.lowercased() == "100-continue" }) {
                    try await connection.writeHead(HTTPResponseHead(version: head.version, status: .continue))
                    headers.remove(name: "expect")
                }
                let response = try await client.execute(NTLMHTTPRequest(url: head.uri, method: head.method, headers: headers, body: body))
                var out = response.headers
                HopByHopHeaders.strip(&out)
                try await connection.writeHead(HTTPResponseHead(version: head.version, status: response.status, headers: out))
                for try await chunk in response.body { try await connection.writeBody(chunk) }
                try await connection.writeEnd()
            }
        } catch {
            logger.debug("fake parent connection ended: \(error)")
        }
    }
}
