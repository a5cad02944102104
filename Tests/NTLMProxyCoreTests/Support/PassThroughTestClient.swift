#if canImport(Glibc)
import Glibc
#endif
import Logging
import NIOConcurrencyHelpers
import NTLM
import NTLMHTTP
import NTLMTestSupport

/// A browser-like raw HTTP/1.x client on 127.0.0.1 for pass-through tests: exact bytes out,
/// responses in, with the interim (1xx) responses it saw, and a hand-driven NTLM handshake
/// (our NTLMInitiator). Every blocking socket call runs on a thread of its own.
final class PassThroughTestClient: @unchecked Sendable {
    struct Response: Sendable {
        var status: Int
        var version: String
        var headers: [(String, String)]
        var body: [UInt8]
        /// 1xx statuses received before this response.
        var interim: [Int] = []

        func header(_ name: String) -> String? { headers.first { $0.0.lowercased() == name.lowercased() }?.1 }
        func headers(_ name: String) -> [String] { headers.filter { $0.0.lowercased() == name.lowercased() }.map(\.1) }
        var text: String { String(decoding: body, as: UTF8.self) }
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

    enum Failure: Error { case closed, malformed(String), send, noChallenge(Int) }

    private let fd: Int32
    private var buffer: [UInt8] = []
    private var isOpen = true
    /// This end's port (the proxy logs the client as 127.0.0.1:port).
    let localPort: Int

    private init(port: Int, timeoutSeconds: Int) throws {
        let socket = try connectLoopbackSocket(port: port, timeoutSeconds: timeoutSeconds)
        var address = sockaddr_in()
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(socket, $0, &length) }
        }
        fd = socket
        localPort = Int(UInt16(bigEndian: address.sin_port))
    }

    deinit { if isOpen { Glibc.close(fd) } }

    static func connect(port: Int, timeoutSeconds: Int = 20) async throws -> PassThroughTestClient {
        try await offload { try PassThroughTestClient(port: port, timeoutSeconds: timeoutSeconds) }
    }

    /// Closes this end now.
    func close() {
        if isOpen {
            isOpen = false
            Glibc.close(fd)
        }
    }

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
            try self.syncSend(all)
            return try self.syncReadResponse(method: method, stopAtInterim: false)
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
        try await offload { try self.syncSend(bytes) }
    }

    func send(_ text: String) async throws { try await send(Array(text.utf8)) }

    /// Reads the next response; with `stopAtInterim` a 1xx is returned as it comes.
    func readResponse(method: String = "GET", stopAtInterim: Bool = false) async throws -> Response {
        try await offload { try self.syncReadResponse(method: method, stopAtInterim: stopAtInterim) }
    }

    /// True when the peer closed the connection (EOF or reset), false if it is still open
    /// when the receive timeout expires or data arrives.
    func isClosedByPeer() async -> Bool {
        await offload { () -> Bool in
            if !self.buffer.isEmpty { return false }
            var byte: UInt8 = 0
            let count = recv(self.fd, &byte, 1, 0)
            if count == 0 { return true }
            if count < 0 { return errno == ECONNRESET }
            self.buffer.append(byte)
            return false
        }
    }

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

    // MARK: Socket

    private func syncSend(_ bytes: [UInt8]) throws {
        var offset = 0
        while offset < bytes.count {
            let sent = bytes[offset...].withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            guard sent > 0 else { throw Failure.send }
            offset += sent
        }
    }

    private func fill() throws {
        var chunk = [UInt8](repeating: 0, count: 65536)
        let count = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
        guard count > 0 else { throw Failure.closed }
        buffer.append(contentsOf: chunk[0..<count])
    }

    private func readLine() throws -> String {
        while true {
            if let index = buffer.firstIndex(of: 0x0A) {
                var line = Array(buffer[..<index])
                buffer.removeFirst(index + 1)
                if line.last == 0x0D { line.removeLast() }
                return String(decoding: line, as: UTF8.self)
            }
            try fill()
        }
    }

    private func readBytes(_ count: Int) throws -> [UInt8] {
        while buffer.count < count { try fill() }
        let out = Array(buffer[..<count])
        buffer.removeFirst(count)
        return out
    }

    private func syncReadResponse(method: String, stopAtInterim: Bool) throws -> Response {
        var interim: [Int] = []
        while true {
            let statusLine = try readLine()
            let parts = statusLine.split(separator: " ", maxSplits: 2)
            guard parts.count >= 2, let status = Int(parts[1]) else { throw Failure.malformed(statusLine) }
            var headers: [(String, String)] = []
            while true {
                let line = try readLine()
                if line.isEmpty { break }
                if let colon = line.firstIndex(of: ":") {
                    headers.append((String(line[..<colon]), String(line[line.index(after: colon)...]).trimmingCharacters()))
                }
            }
            var response = Response(status: status, version: String(parts[0]), headers: headers, body: [], interim: interim)
            if (100..<200).contains(status) {
                if stopAtInterim { return response }
                interim.append(status)
                continue
            }
            if method == "HEAD" || status == 204 || status == 304 { return response }
            if let length = response.header("content-length").flatMap({ Int($0) }) {
                response.body = try readBytes(length)
            } else if response.header("transfer-encoding")?.lowercased().contains("chunked") == true {
                while true {
                    let sizeLine = try readLine()
                    guard let size = Int(sizeLine.split(separator: ";").first.map(String.init) ?? "", radix: 16) else { throw Failure.malformed(sizeLine) }
                    if size == 0 {
                        while try !readLine().isEmpty {}
                        break
                    }
                    response.body += try readBytes(size)
                    _ = try readLine()
                }
            } else {
                // Delimited by the end of the connection.
                while (try? fill()) != nil {}
                response.body = buffer
                buffer = []
            }
            return response
        }
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

/// Keeps every log line (level, message, metadata) in memory.
struct PassThroughLogCapture: LogHandler {
    let lines: NIOLockedValueBox<[String]>
    var metadata: Logger.Metadata = [:]
    var logLevel: Logger.Level = .trace

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(level: Logger.Level, message: Logger.Message, metadata extra: Logger.Metadata?, source: String, file: String, function: String, line: UInt) {
        let all = metadata.merging(extra ?? [:]) { $1 }
        let rendered = all.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " ")
        lines.withLockedValue { $0.append("\(level) \(message) \(rendered)") }
    }
}
