import Logging
import NIOConcurrencyHelpers
import NTLM
import NTLMHTTP
import NTLMTestSupport

/// A browser-like raw HTTP/1.x client on 127.0.0.1 for pass-through tests: exact bytes out,
/// responses in, with the interim (1xx) responses it saw, and a hand-driven NTLM handshake
/// (our NTLMInitiator). Every blocking socket call runs on a thread of its own.
final class PassThroughTestClient: @unchecked Sendable {
    typealias Response = RawHTTPConnection.Response

    enum Failure: Error { case noChallenge(Int) }

    private let connection: RawHTTPConnection
    /// This end's port (the proxy logs the client as 127.0.0.1:port).
    var localPort: Int { connection.localPort }

    private init(connection: RawHTTPConnection) { self.connection = connection }

    static func connect(port: Int, timeoutSeconds: Int = 20) async throws -> PassThroughTestClient {
        PassThroughTestClient(connection: try await RawHTTPConnection.connect(port: port, timeoutSeconds: timeoutSeconds))
    }

    /// Closes this end now.
    func close() { connection.close() }

    // MARK: Requests

    /// Sends a request (`Content-Length` for `body` unless a header says otherwise; `chunks`
    /// go chunked) and reads the response.
    func request(
        _ method: String = "GET", _ path: String = "/protected/", version: String = "HTTP/1.1", headers: [(String, String)] = [],
        body: [UInt8] = [], chunks: [[UInt8]]? = nil
    ) async throws -> Response {
        let head = Self.head(method, path, version: version, headers: headers, bodyLength: chunks == nil ? body.count : nil, forceLength: method == "POST" || method == "PUT")
        var bytes = Array(head.utf8)
        if let chunks {
            for chunk in chunks where !chunk.isEmpty { bytes += Array((String(chunk.count, radix: 16) + "\r\n").utf8) + chunk + Array("\r\n".utf8) }
            bytes += Array("0\r\n\r\n".utf8)
        } else {
            bytes += body
        }
        let all = bytes
        return try await offload {
            try self.connection.send(all)
            return try self.connection.readResponse(method: method, interim: .collect, bodyUntilClose: true)
        }
    }

    static func head(_ method: String, _ path: String, version: String, headers: [(String, String)], bodyLength: Int?, forceLength: Bool) -> String {
        var text = "\(method) \(path) \(version)\r\nHost: 127.0.0.1\r\n"
        for (name, value) in headers { text += "\(name): \(value)\r\n" }
        let named = Set(headers.map { $0.0.lowercased() })
        if let bodyLength {
            if !named.contains("content-length"), bodyLength > 0 || forceLength { text += "Content-Length: \(bodyLength)\r\n" }
        } else if !named.contains("transfer-encoding") {
            text += "Transfer-Encoding: chunked\r\n"
        }
        return text + "\r\n"
    }

    func send(_ bytes: [UInt8]) async throws {
        try await offload { try self.connection.send(bytes) }
    }

    func send(_ text: String) async throws { try await send(Array(text.utf8)) }

    /// Reads the next response; with `stopAtInterim` a 1xx is returned as it comes.
    func readResponse(method: String = "GET", stopAtInterim: Bool = false) async throws -> Response {
        try await offload { try self.connection.readResponse(method: method, interim: stopAtInterim ? .stop : .collect, bodyUntilClose: true) }
    }

    /// True when the peer closed the connection (EOF or reset), false if it is still open
    /// when the receive timeout expires or data arrives.
    func isClosedByPeer() async -> Bool { await connection.isClosedByPeer(countingReset: true) }

    // MARK: NTLM

    static let passwords: [String: Password] = Dictionary(uniqueKeysWithValues: FakeNTLMOrigin.users.map { ($0.0, $0.1) })

    struct Handshake: Sendable {
        var challenge: Response
        var final: Response
        var type1: String
        var type3: String
    }

    /// A browser's NTLM handshake on this connection: Type 1, then the Type 3 answering the
    /// relayed Type 2 (each leg with `headers` and `body`, like browsers do for a POST).
    func login(
        _ user: String, method: String = "GET", path: String = "/protected/", version: String = "HTTP/1.1",
        headers: [(String, String)] = [], body: [UInt8] = [], type1Headers: [(String, String)] = [], type1Body: [UInt8]? = nil,
        scheme: String = "NTLM", domain: String = FakeNTLMOrigin.domain, password: Password? = nil
    ) async throws -> Handshake {
        var initiator = NTLMInitiator(credentials: NTLMCredentials(user: user, domain: domain, password: password ?? Self.passwords[user] ?? "wrong"))
        let type1 = "\(scheme) " + Base64.encode(initiator.negotiate())
        let challenge = try await request(method, path, version: version, headers: headers + type1Headers + [("Authorization", type1)], body: type1Body ?? body)
        guard challenge.status == 401, let type2 = challenge.ntlmChallenge else { throw Failure.noChallenge(challenge.status) }
        let type3 = "\(scheme) " + Base64.encode(try initiator.authenticate(challenge: type2))
        let final = try await request(method, path, version: version, headers: headers + [("Authorization", type3)], body: body)
        return Handshake(challenge: challenge, final: final, type1: type1, type3: type3)
    }
}

extension RawHTTPConnection.Response {
    /// `Connection: close` is among the connection options.
    var closes: Bool { headers("connection").contains { $0.lowercased().split(separator: ",").contains { $0.trimmingCharacters() == "close" } } }
    /// The origin's answer fields.
    func field(_ key: String) -> String? { originField(text, key) }
    /// The Type 2 of `WWW-Authenticate: NTLM <token>`.
    var ntlmChallenge: [UInt8]? {
        for value in headers("www-authenticate") {
            let parts = value.split(separator: " ", maxSplits: 1)
            if parts.count == 2, ["ntlm", "negotiate"].contains(parts[0].lowercased()) { return Base64.decode(String(parts[1])) }
        }
        return nil
    }
}

extension StringProtocol {
    func trimmingCharacters() -> String {
        var text = Substring(self)
        while text.first == " " || text.first == "\t" { text = text.dropFirst() }
        while text.last == " " || text.last == "\t" { text = text.dropLast() }
        return String(text)
    }
}

