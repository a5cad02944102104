#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Dispatch

/// A TCP connection to 127.0.0.1 for tests that must send exact bytes (malformed requests,
/// hand-made NTLM legs) and read raw HTTP/1.x responses. Shared by NTLMProxyCoreTests (also
/// under its PassThroughTestClient) and InteropTests.
///
/// The socket calls block, so every public operation runs on a thread of its own (see
/// `offload`): blocking the Swift concurrency pool (two threads on a 2-core machine) would
/// starve the very server under test.
public final class RawHTTPConnection: @unchecked Sendable {
    public struct Response: Sendable {
        public var status: Int
        public var version: String
        public var headers: [(String, String)]
        public var body: [UInt8]
        /// 1xx statuses received before this response (read with `interim: .collect`).
        public var interim: [Int] = []
        public func header(_ name: String) -> String? { headers.first { $0.0.lowercased() == name.lowercased() }?.1 }
        public func headers(_ name: String) -> [String] { headers.filter { $0.0.lowercased() == name.lowercased() }.map(\.1) }
        public var text: String { String(decoding: body, as: UTF8.self) }
    }

    public enum Failure: Error { case connect(Int32), send, closed, malformed(String) }

    /// What `readResponse` does with an interim (1xx) response.
    public enum InterimResponses: Sendable {
        /// Skips 100 Continue; any other 1xx is the response.
        case skipContinue
        /// Skips every 1xx, recording its status in `Response.interim`.
        case collect
        /// Returns the first response, 1xx or not.
        case stop
    }

    private let fd: Int32
    private var buffer: [UInt8] = []
    private var isOpen = true
    /// This end's port (a proxy logs the client as 127.0.0.1:port).
    public let localPort: Int

    private init(syncPort port: Int, timeoutSeconds: Int) throws {
        let socket: Int32
        do {
            socket = try connectLoopbackSocket(port: port, timeoutSeconds: timeoutSeconds)
        } catch {
            throw Failure.connect(error.code)
        }
        var address = sockaddr_in()
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(socket, $0, &length) }
        }
        fd = socket
        localPort = Int(UInt16(bigEndian: address.sin_port))
    }

    deinit { if isOpen { closeSocket(fd) } }

    /// Closes this end now.
    public func close() {
        if isOpen {
            isOpen = false
            closeSocket(fd)
        }
    }

    static func offload<T: Sendable>(_ work: @escaping @Sendable () throws -> T) async throws -> T {
        try await NTLMTestSupport.offload(work)
    }

    public static func connect(port: Int, timeoutSeconds: Int = 30) async throws -> RawHTTPConnection {
        try await offload { try RawHTTPConnection(syncPort: port, timeoutSeconds: timeoutSeconds) }
    }

    /// Connects and sends a request from one thread, so no wait for the task scheduler sits
    /// between the listener's accept and the request head (tests of an idle timeout under a
    /// loaded parallel run); returns the connection and the response.
    public static func connectAndRequest(port: Int, _ method: String = "GET", _ path: String = "/", timeoutSeconds: Int = 30) async throws -> (RawHTTPConnection, Response) {
        try await offload {
            let connection = try RawHTTPConnection(syncPort: port, timeoutSeconds: timeoutSeconds)
            return (connection, try connection.syncRequest(method, path, headers: [], body: []))
        }
    }

    public func request(_ method: String = "GET", _ path: String = "/", headers: [(String, String)] = [], body: [UInt8] = []) async throws -> Response {
        try await Self.offload { try self.syncRequest(method, path, headers: headers, body: body) }
    }

    /// Sends exact bytes and reads one response.
    public func raw(_ bytes: [UInt8], method: String = "GET") async throws -> Response {
        try await Self.offload {
            try self.send(bytes)
            return try self.readResponse(method: method)
        }
    }

    /// Reads exactly `count` bytes (e.g. from a tunnel after CONNECT).
    public func receive(exactly count: Int) async throws -> [UInt8] {
        try await Self.offload { try self.readBytes(count) }
    }

    /// Reads everything until the peer closes (or the receive timeout ends the wait), for
    /// responses that cannot be framed, e.g. one cut off mid-body.
    public func receiveUntilClosed() async throws -> [UInt8] {
        try await Self.offload {
            while (try? self.fill()) != nil {}
            defer { self.buffer.removeAll() }
            return self.buffer
        }
    }

    /// Reads one response without sending anything first (e.g. inside a tunnel).
    public func receiveResponse(method: String = "GET") async throws -> Response {
        try await Self.offload { try self.readResponse(method: method) }
    }

    /// True when the peer closed the connection (EOF; with `countingReset`, a reset too), false
    /// if it is still open when the receive timeout expires or data arrives.
    public func isClosedByPeer(countingReset: Bool = false) async -> Bool {
        (try? await Self.offload { self.syncIsClosedByPeer(countingReset: countingReset) }) ?? false
    }

    public func send(_ text: String) throws { try send(Array(text.utf8)) }

    public func send(_ bytes: [UInt8]) throws {
        var offset = 0
        while offset < bytes.count {
            let sent = bytes[offset...].withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            guard sent > 0 else { throw Failure.send }
            offset += sent
        }
    }

    /// Sends a request with the given extra header lines and body.
    private func syncRequest(_ method: String, _ path: String, headers: [(String, String)], body: [UInt8]) throws -> Response {
        var text = "\(method) \(path) HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        for (name, value) in headers { text += "\(name): \(value)\r\n" }
        if !body.isEmpty || method == "POST" || method == "PUT" { text += "Content-Length: \(body.count)\r\n" }
        text += "\r\n"
        try send(Array(text.utf8) + body)
        return try readResponse(method: method)
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

    /// Reads one response: its body framed by Content-Length or chunked, none for HEAD/204/304
    /// and, without framing, none or (`bodyUntilClose`) up to the end of the connection.
    public func readResponse(method: String = "GET", interim: InterimResponses = .skipContinue, bodyUntilClose: Bool = false) throws -> Response {
        var interimStatuses: [Int] = []
        while true {
            let statusLine = try readLine()
            let parts = statusLine.split(separator: " ", maxSplits: 2)
            guard parts.count >= 2, let status = Int(parts[1]) else { throw Failure.malformed(statusLine) }
            var headers: [(String, String)] = []
            while true {
                let line = try readLine()
                if line.isEmpty { break }
                if let colon = line.firstIndex(of: ":") {
                    headers.append((String(line[..<colon]), String(line[line.index(after: colon)...]).trimmingSpaces(" ", "\t")))
                }
            }
            var response = Response(status: status, version: String(parts[0]), headers: headers, body: [], interim: interimStatuses)
            if (100..<200).contains(status) {
                switch interim {
                case .stop: return response
                case .collect:
                    interimStatuses.append(status)
                    continue
                case .skipContinue:
                    if status == 100 { continue }
                }
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
            } else if bodyUntilClose {
                while (try? fill()) != nil {}
                response.body = buffer
                buffer = []
            }
            return response
        }
    }

    private func syncIsClosedByPeer(countingReset: Bool) -> Bool {
        if !buffer.isEmpty { return false }
        var byte: UInt8 = 0
        let count = recv(fd, &byte, 1, 0)
        if count == 0 { return true }
        if count < 0 { return countingReset && errno == ECONNRESET }
        buffer.append(byte)
        return false
    }
}

private func closeSocket(_ fd: Int32) { close(fd) }

extension String {
    /// Strips leading and trailing characters of `set`.
    func trimmingSpaces(_ set: Character...) -> String {
        var text = Substring(self)
        while let first = text.first, set.contains(first) { text = text.dropFirst() }
        while let last = text.last, set.contains(last) { text = text.dropLast() }
        return String(text)
    }
}

/// Why `connectLoopbackSocket` failed: the `errno` of `connect`.
public struct LoopbackConnectError: Error {
    public var code: Int32
}

/// A blocking TCP socket connected to 127.0.0.1:`port`, with `TCP_NODELAY` and send/receive
/// timeouts; the caller closes it.
public func connectLoopbackSocket(port: Int, timeoutSeconds: Int) throws(LoopbackConnectError) -> Int32 {
    #if canImport(Glibc)
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    #else
    let fd = socket(AF_INET, SOCK_STREAM, 0)
    #endif
    var timeout = timeval(tv_sec: timeoutSeconds, tv_usec: 0)
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
    var one: Int32 = 1
    setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_port = in_port_t(UInt16(port).bigEndian)
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    let result = withUnsafePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
    }
    guard result == 0 else {
        let code = errno
        close(fd)
        throw LoopbackConnectError(code: code)
    }
    return fd
}
