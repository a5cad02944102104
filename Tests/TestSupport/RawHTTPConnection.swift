#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Dispatch

/// A TCP connection to 127.0.0.1 for tests that must send exact bytes (malformed requests,
/// hand-made NTLM legs) and read raw responses. Shared by NTLMProxyCoreTests and InteropTests.
///
/// The socket calls block, so every public operation runs on a thread of its own (see
/// `offload`): blocking the Swift concurrency pool (two threads on a 2-core machine) would
/// starve the very server under test.
public final class RawHTTPConnection: @unchecked Sendable {
    public struct Response: Sendable {
        public var status: Int
        public var headers: [(String, String)]
        public var body: [UInt8]
        public func header(_ name: String) -> String? { headers.first { $0.0.lowercased() == name.lowercased() }?.1 }
        public func headers(_ name: String) -> [String] { headers.filter { $0.0.lowercased() == name.lowercased() }.map(\.1) }
        public var text: String { String(decoding: body, as: UTF8.self) }
    }

    public enum Failure: Error { case connect(Int32), send, closed, malformed(String) }

    private let fd: Int32
    private var buffer: [UInt8] = []

    private init(syncPort port: Int, timeoutSeconds: Int) throws {
        do {
            fd = try connectLoopbackSocket(port: port, timeoutSeconds: timeoutSeconds)
        } catch {
            throw Failure.connect(error.code)
        }
    }

    deinit { close(fd) }

    static func offload<T: Sendable>(_ work: @escaping @Sendable () throws -> T) async throws -> T {
        try await NTLMTestSupport.offload(work)
    }

    public static func connect(port: Int, timeoutSeconds: Int = 30) async throws -> RawHTTPConnection {
        try await offload { try RawHTTPConnection(syncPort: port, timeoutSeconds: timeoutSeconds) }
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

    /// Reads one response without sending anything first (e.g. inside a tunnel).
    public func receiveResponse(method: String = "GET") async throws -> Response {
        try await Self.offload { try self.readResponse(method: method) }
    }

    public func isClosedByPeer() async -> Bool {
        (try? await Self.offload { self.syncIsClosedByPeer() }) ?? false
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

    public func readResponse(method: String = "GET") throws -> Response {
        var statusLine = try readLine()
        var status = 0
        var headers: [(String, String)] = []
        while true {
            let parts = statusLine.split(separator: " ", maxSplits: 2)
            guard parts.count >= 2, let code = Int(parts[1]) else { throw Failure.malformed(statusLine) }
            status = code
            headers = []
            while true {
                let line = try readLine()
                if line.isEmpty { break }
                if let colon = line.firstIndex(of: ":") {
                    headers.append((String(line[..<colon]), String(line[line.index(after: colon)...]).trimmingSpaces(" ")))
                }
            }
            if status == 100 { statusLine = try readLine(); continue }
            break
        }
        var response = Response(status: status, headers: headers, body: [])
        if method == "HEAD" || status == 204 || status == 304 { return response }
        if let length = response.header("content-length").flatMap({ Int($0) }) {
            response.body = try readBytes(length)
        } else if response.header("transfer-encoding")?.lowercased().contains("chunked") == true {
            while true {
                let sizeLine = try readLine()
                guard let size = Int(sizeLine.split(separator: ";").first.map(String.init) ?? "", radix: 16) else { throw Failure.malformed(sizeLine) }
                if size == 0 { _ = try readLine(); break }
                response.body += try readBytes(size)
                _ = try readLine()
            }
        }
        return response
    }

    /// True when the server closed the connection (read returns EOF).
    private func syncIsClosedByPeer() -> Bool {
        if !buffer.isEmpty { return false }
        var byte: UInt8 = 0
        let count = recv(fd, &byte, 1, 0)
        return count == 0
    }
}

extension String {
    /// Strips leading and trailing `set` characters.
    func trimmingSpaces(_ set: Character) -> String {
        var text = Substring(self)
        while text.first == set { text = text.dropFirst() }
        while text.last == set { text = text.dropLast() }
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
