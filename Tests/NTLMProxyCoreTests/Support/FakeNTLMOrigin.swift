import Crypto
import Foundation
import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOHTTP1
import NTLM
import NTLMHTTP
@testable import NTLMProxyCore

/// An in-process NTLM origin for pass-through tests, connection-bound like IIS: a protected
/// path answers `401 WWW-Authenticate: NTLM` until a good Type 3 arrives on the TCP
/// connection; from then on the connection is authenticated as that user (a new Type 1 on it
/// restarts the handshake). Protected answers name the user and the origin's connection id:
///
///     user=NTLMTEST\alice conn=7 requests=3 length=0 sha256=e3b0...
///
/// Paths under `/public/` answer without authentication (`user=-`), unless the request
/// carries NTLM itself. Counts logons, connections and requests, and remembers which
/// connections ended.
///
/// The protocol against real servers is in InteropTests; this one is for behaviour.
final class FakeNTLMOrigin: ConnectionHandler, Sendable {
    struct Options: Sendable {
        /// Answer a 401 leg before reading the request body, then read and discard the body
        /// (Apache, IIS). Otherwise the body is read first.
        var challengeBeforeBody = false
        /// Bytes of the 401 body (HTML, with `Content-Length`).
        var challengeBodySize = 120
        /// Send `100 Continue` when a request asks for it and is authenticated (or carries a
        /// good Type 3). A 401 leg never gets one (the 401 goes out before the body is read).
        var honoursExpect = true
        /// Answer the Nth request on a connection with `Connection: close`, then close it.
        var closeAfterRequests: Int? = nil
        /// Answer the Nth request on a connection normally (keep-alive), then drop the
        /// connection without a word (an idle timeout or a recycled worker).
        var dropAfterRequests: Int? = nil
        /// How long an authorized answer under `/slow/` takes (a report, a slow page).
        var slowAnswer: Duration = .seconds(3)
    }

    struct Counters: Sendable {
        var logons = 0
        var failedLogons = 0
        var connections = 0
        var requests = 0
        /// Connection ids whose TCP connection has ended.
        var closed: Set<Int> = []
        /// `100 Continue` sent.
        var continues = 0
    }

    static let domain = "NTLMTEST"
    static let users: [(String, Password)] = [("alice", "Alice-Pass1"), ("bob", "Bob-Pass2")]

    let options: Options
    let users: NTLMUserStore
    let counters = NIOLockedValueBox(Counters())
    private let channels = NIOLockedValueBox<[Int: any Channel]>([:])
    private let listenerBox = NIOLockedValueBox<(ProxyListener, Task<Void, Error>)?>(nil)

    init(options: Options) {
        self.options = options
        var store = NTLMUserStore()
        for (user, password) in Self.users { store.add(user: user, domain: Self.domain, password: password) }
        users = store
    }

    var port: Int { listenerBox.withLockedValue { $0?.0.port ?? 0 } }
    var url: String { "http://127.0.0.1:\(port)" }
    var snapshot: Counters { counters.withLockedValue { $0 } }

    static func start(_ options: Options = Options()) async throws -> FakeNTLMOrigin {
        let origin = FakeNTLMOrigin(options: options)
        let listener = try await ProxyListener.bind(ListenerOptions(port: 0), handler: origin, logger: Logger(label: "test.origin", factory: { _ in SwiftLogNoOpLogHandler() }))
        let task = Task { try await listener.serve() }
        origin.listenerBox.withLockedValue { $0 = (listener, task) }
        return origin
    }

    func stop() async {
        if let (listener, task) = listenerBox.withLockedValue({ $0 }) {
            await listener.close()
            task.cancel()
        }
        closeAllConnections()
    }

    /// Closes every open connection now (as a backend that drops idle connections).
    func closeAllConnections() {
        let all = channels.withLockedValue { $0.values }
        for channel in all { channel.close(promise: nil) }
    }

    /// Waits (bounded) until connection `id` has ended; false if it is still open.
    func waitUntilClosed(_ id: Int, attempts: Int = 400) async -> Bool {
        for _ in 0..<attempts {
            if snapshot.closed.contains(id) { return true }
            try? await Task.sleep(for: .milliseconds(25))
        }
        return snapshot.closed.contains(id)
    }

    // MARK: Serving

    func serve(_ connection: ServerConnection, logger: Logger) async {
        let id = counters.withLockedValue { counters -> Int in
            counters.connections += 1
            return counters.connections
        }
        if let channel = connection.channel { channels.withLockedValue { $0[id] = channel } }
        defer {
            channels.withLockedValue { $0[id] = nil }
            counters.withLockedValue { _ = $0.closed.insert(id) }
        }
        var acceptor: NTLMAcceptor? = nil
        var user: String? = nil
        var requestsOnConnection = 0
        do {
            while let head = try await connection.nextRequestHead() {
                requestsOnConnection += 1
                counters.withLockedValue { $0.requests += 1 }
                let closing = options.closeAfterRequests.map { requestsOnConnection >= $0 } ?? false
                let expects = head.headers["expect"].contains { $0.lowercased() == "100-continue" }
                let isPublic = head.uri.hasPrefix("/public/")

                var challenge: String? = nil
                if let token = Self.ntlmToken(head.headers) {
                    if token.count > 8, token[8] == 1 {
                        // A new handshake, even on an authenticated connection.
                        user = nil
                        var fresh = NTLMAcceptor(policy: NTLMAcceptorPolicy(netbiosDomain: Self.domain))
                        if let type2 = try? fresh.challenge(negotiate: token) {
                            acceptor = fresh
                            // Answered in the scheme it came in (raw NTLMSSP under Negotiate too).
                            challenge = Self.scheme(head.headers) + " " + Base64.encode(type2)
                        } else {
                            acceptor = nil
                            challenge = "NTLM"
                        }
                    } else if token.count > 8, token[8] == 3, var pending = acceptor {
                        acceptor = nil
                        if let accepted = try? await pending.accept(authenticate: token, verifier: users) {
                            counters.withLockedValue { $0.logons += 1 }
                            user = accepted.qualifiedName
                        } else {
                            counters.withLockedValue { $0.failedLogons += 1 }
                            user = nil
                            challenge = "NTLM"
                        }
                    } else {
                        user = nil
                        acceptor = nil
                        challenge = "NTLM"
                    }
                } else if user == nil && !isPublic {
                    challenge = "NTLM"
                }

                if let challenge {
                    let before = options.challengeBeforeBody || expects
                    if !before { try await connection.drainBody() }
                    try await writeChallenge(challenge, head: head, closing: closing, on: connection)
                    if closing { return }
                    if before { try await connection.drainBody() }
                    continue
                }

                if expects && options.honoursExpect {
                    counters.withLockedValue { $0.continues += 1 }
                    try await connection.writeHead(HTTPResponseHead(version: head.version, status: .continue))
                }
                var hasher = SHA256()
                var length = 0
                while let chunk = try await connection.nextBodyChunk() {
                    length += chunk.readableBytes
                    chunk.withUnsafeReadableBytes { hasher.update(bufferPointer: $0) }
                }
                let digest = hasher.finalize().map { String(format: "%02x", $0) }.joined()
                if head.uri.contains("/slow/") { try await Task.sleep(for: options.slowAnswer) }
                let text = "user=\(user ?? "-") conn=\(id) requests=\(requestsOnConnection) length=\(length) sha256=\(digest) uri=\(head.uri)\n"
                var headers = HTTPHeaders()
                headers.add(name: "Content-Type", value: "text/plain")
                headers.add(name: "Content-Length", value: String(text.utf8.count))
                if closing { headers.add(name: "Connection", value: "close") }
                try await connection.writeResponse(HTTPResponseHead(version: head.version, status: .ok, headers: headers), body: ByteBuffer(string: text))
                if closing { return }
                if let drop = options.dropAfterRequests, requestsOnConnection >= drop {
                    // Returning closes the connection once the answer is flushed.
                    return
                }
            }
        } catch {
            logger.debug("fake origin connection ended: \(error)")
        }
    }

    private func writeChallenge(_ challenge: String, head: HTTPRequestHead, closing: Bool, on connection: ServerConnection) async throws {
        let opening = "<html><body><h1>401 Unauthorized</h1>"
        let closingTag = "</body></html>"
        let fill = max(0, options.challengeBodySize - opening.utf8.count - closingTag.utf8.count)
        let html = opening + String(repeating: "x", count: fill) + closingTag
        var headers = HTTPHeaders()
        headers.add(name: "WWW-Authenticate", value: challenge)
        if challenge == "NTLM" { headers.add(name: "WWW-Authenticate", value: "Negotiate") }
        headers.add(name: "Content-Type", value: "text/html")
        headers.add(name: "Content-Length", value: String(html.utf8.count))
        if closing { headers.add(name: "Connection", value: "close") }
        try await connection.writeResponse(HTTPResponseHead(version: head.version, status: .unauthorized, headers: headers), body: ByteBuffer(string: html))
    }

    /// `NTLM` or `Negotiate`, as the client wrote it.
    static func scheme(_ headers: HTTPHeaders) -> String {
        String(headers.first(name: "authorization")?.split(separator: " ").first ?? "NTLM")
    }

    /// The NTLM token of `Authorization: NTLM ...` or `Negotiate <raw NTLMSSP>`.
    static func ntlmToken(_ headers: HTTPHeaders) -> [UInt8]? {
        guard let value = headers.first(name: "authorization") else { return nil }
        let parts = value.split(separator: " ", maxSplits: 1)
        guard parts.count == 2, ["ntlm", "negotiate"].contains(parts[0].lowercased()) else { return nil }
        return Base64.decode(String(parts[1]))
    }
}

/// A field `key=value` of a FakeNTLMOrigin answer.
func originField(_ text: String, _ key: String) -> String? {
    for item in text.split(whereSeparator: { $0 == " " || $0 == "\n" }) where item.hasPrefix(key + "=") {
        return String(item.dropFirst(key.count + 1))
    }
    return nil
}
