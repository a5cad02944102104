import Foundation
import NTLMTestSupport
import Testing

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Why talking to the pyspnego peer failed.
enum PythonPeerError: Error, CustomStringConvertible {
    /// python, the helper script or pyspnego is missing (thrown only when interop is required).
    case unavailable(String)
    /// The peer did not answer within the timeout; it has been killed.
    case timeout(op: String, seconds: Double, stderr: String)
    /// The peer exited or closed its output.
    case exited(String)
    /// The request could not be encoded, or the reply was not what the protocol promises.
    case protocolError(String)
    /// The peer answered `{"error": ...}` (a bad input, or e.g. a rejected authentication).
    case remote(op: String, message: String, type: String)

    var description: String {
        switch self {
        case .unavailable(let why): return "pyspnego peer unavailable: \(why)"
        case .timeout(let op, let s, let err): return "pyspnego peer: no answer to '\(op)' within \(s) s; killed it. stderr: \(err)"
        case .exited(let why): return "pyspnego peer exited: \(why)"
        case .protocolError(let why): return "pyspnego peer protocol error: \(why)"
        case .remote(let op, let message, let type): return "pyspnego peer '\(op)' failed: \(type): \(message)"
        }
    }
}

/// Drives `scripts/pyspnego_peer.py` (pyspnego, an independent NTLM implementation) over JSON
/// lines, so tests can check the Swift NTLM code against it. See the docstring of that script
/// for the operations and their fields.
///
/// Typical use:
///
///     guard let peer = try PythonPeer.shared() else { return }   // nil: skipped (noted on stderr)
///     let r = try peer.call(["op": "ntlmv2", "user": "User", ...])
///     #expect(try r.peerBytes("nt_proof_str") == expected)
///
/// `shared()` returns nil when python/pyspnego is missing, unless `NTLMPROXY_REQUIRE_INTEROP=1`
/// (CI, `scripts/test --interop`), where it throws instead so the test fails. Calls are
/// serialised (one request in flight per peer); contexts are named by the caller, use
/// `contextName(_:)` for names unique across parallel tests.
final class PythonPeer: @unchecked Sendable {
    // MARK: Configuration

    /// `NTLMPROXY_REQUIRE_INTEROP == "1"`: a missing peer is a failure, not a skip.
    static var interopRequired: Bool {
        ProcessInfo.processInfo.environment["NTLMPROXY_REQUIRE_INTEROP"] == "1"
    }

    /// The package root: the nearest directory above this file holding Package.swift.
    static let repoRoot: URL = {
        var dir = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        while dir.path != "/" {
            if FileManager.default.fileExists(atPath: dir.appendingPathComponent("Package.swift").path) {
                return dir
            }
            dir = dir.deletingLastPathComponent()
        }
        // Tests/NTLMTests/Support/PythonPeer.swift -> four levels up.
        return URL(fileURLWithPath: #filePath)
            .deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().deletingLastPathComponent()
    }()

    /// `$NTLMPROXY_PYTHON`, else `<repo>/.venv/bin/python` (what scripts/test creates).
    static var pythonPath: String {
        if let p = ProcessInfo.processInfo.environment["NTLMPROXY_PYTHON"], !p.isEmpty { return p }
        return repoRoot.appendingPathComponent(".venv/bin/python").path
    }

    static var scriptPath: String {
        repoRoot.appendingPathComponent("scripts/pyspnego_peer.py").path
    }

    /// Seconds to wait for one answer: `$NTLMPROXY_PEER_TIMEOUT`, default 30.
    static var defaultTimeout: Double {
        if let s = ProcessInfo.processInfo.environment["NTLMPROXY_PEER_TIMEOUT"], let v = Double(s), v > 0 { return v }
        return 30
    }

    // MARK: Shared instance

    private final class SharedState: @unchecked Sendable {
        let lock = NSLock()
        var peer: PythonPeer?
        var missing: String?
    }

    private static let sharedState = SharedState()

    /// The process-wide peer, started on first use (and restarted if it died).
    /// Returns nil, after printing a note, when the peer is unavailable and interop is not
    /// required; throws `PythonPeerError.unavailable` when it is unavailable and required.
    static func shared(caller: String = #function) throws -> PythonPeer? {
        let state = sharedState
        state.lock.lock()
        defer { state.lock.unlock() }
        if let peer = state.peer, peer.isAlive { return peer }
        state.peer = nil
        if state.missing == nil {
            do {
                state.peer = try launch()
                return state.peer
            } catch PythonPeerError.unavailable(let why) {
                state.missing = why
            } catch {
                state.missing = String(describing: error)
            }
        }
        let why = state.missing ?? "unknown"
        if interopRequired {
            throw PythonPeerError.unavailable(
                "\(why) (NTLMPROXY_REQUIRE_INTEROP=1 makes the pyspnego interop tests mandatory; run scripts/test to set up .venv)")
        }
        FileHandle.standardError.write(Data(
            "note: skipping pyspnego interop in \(caller): \(why) (run scripts/test to set up .venv)\n".utf8))
        return nil
    }

    /// `shared()` from a thread of its own. The first use starts Python and waits for pyspnego
    /// to import while every other user waits on the same lock; called on the task pool (two
    /// threads on a 2-CPU machine) that stalled every other test for 12–15 s at the start of a
    /// unit run, and the real-time tests then failed.
    static func sharedOffPool(caller: String = #function) async throws -> PythonPeer? {
        try await offload { try shared(caller: caller) }
    }


    /// Starts a private peer (the caller owns it and should `close()` it) and checks that
    /// pyspnego imports (`ping`). Throws `.unavailable` when python, the script or pyspnego is
    /// missing, whatever the interop switch says.
    static func launch(python: String = pythonPath, timeout: Double = defaultTimeout) throws -> PythonPeer {
        guard FileManager.default.isExecutableFile(atPath: python) else {
            throw PythonPeerError.unavailable("no python at \(python)")
        }
        guard FileManager.default.fileExists(atPath: scriptPath) else {
            throw PythonPeerError.unavailable("no helper script at \(scriptPath)")
        }
        let peer = try PythonPeer(python: python, script: scriptPath, timeout: timeout)
        do {
            let pong = try peer.call(["op": "ping"])
            peer.pyspnegoVersion = pong["pyspnego_version"] as? String
        } catch {
            peer.close()
            throw PythonPeerError.unavailable("\(python) \(scriptPath) does not work: \(error)")
        }
        return peer
    }

    // MARK: Instance

    let timeout: Double
    private(set) var pyspnegoVersion: String?

    private let process: Process
    private let stdinHandle: FileHandle
    private let callLock = NSLock()      // one request in flight
    private let cond = NSCondition()     // guards the fields below
    private var outBuffer: [UInt8] = []
    private var outEOF = false
    private var errEOF = false
    private var errTail: [UInt8] = []
    private var dead = false
    private var nextID = 1
    private var contextCounter = 0

    private init(python: String, script: String, timeout: Double) throws {
        // A write to a peer that just died must be an error, not a SIGPIPE that kills the tests.
        _ = signal(SIGPIPE, SIG_IGN)

        self.timeout = timeout
        let process = Process()
        process.executableURL = URL(fileURLWithPath: python)
        process.arguments = [script]
        process.currentDirectoryURL = Self.repoRoot
        var env = ProcessInfo.processInfo.environment
        env["PYTHONUNBUFFERED"] = "1"
        env["PYTHONDONTWRITEBYTECODE"] = "1"
        process.environment = env
        let inPipe = Pipe(), outPipe = Pipe(), errPipe = Pipe()
        process.standardInput = inPipe
        process.standardOutput = outPipe
        process.standardError = errPipe
        do {
            try process.run()
        } catch {
            throw PythonPeerError.unavailable("cannot start \(python): \(error)")
        }
        self.process = process
        self.stdinHandle = inPipe.fileHandleForWriting

        let outHandle = outPipe.fileHandleForReading
        let errHandle = errPipe.fileHandleForReading
        let out = Thread { [self] in self.pump(outHandle, isStdout: true) }
        out.name = "PythonPeer.stdout"
        out.start()
        let err = Thread { [self] in self.pump(errHandle, isStdout: false) }
        err.name = "PythonPeer.stderr"
        err.start()
    }

    deinit {
        close()
    }

    /// False once the peer timed out, exited or was closed.
    var isAlive: Bool {
        cond.lock()
        defer { cond.unlock() }
        return !dead && !outEOF && process.isRunning
    }

    /// The last few KiB the peer wrote on stderr.
    var stderrTail: String {
        cond.lock()
        defer { cond.unlock() }
        return String(decoding: errTail, as: UTF8.self)
    }

    /// A context name no other caller of this peer gets.
    func contextName(_ prefix: String = "ctx") -> String {
        cond.lock()
        defer { cond.unlock() }
        contextCounter += 1
        return "\(prefix)-\(contextCounter)-\(UUID().uuidString.prefix(8))"
    }

    /// Sends one request and returns the reply. Adds `id` (and checks it comes back).
    /// `[UInt8]` and `Data` values are sent as lowercase hex strings. Throws
    /// `PythonPeerError.remote` when the peer answers with `error`.
    func call(_ request: [String: Any], timeout: Double? = nil) throws -> [String: Any] {
        let reply = try callAllowingError(request, timeout: timeout)
        if let message = reply["error"] as? String {
            throw PythonPeerError.remote(
                op: request["op"] as? String ?? "?", message: message, type: reply["error_type"] as? String ?? "Error")
        }
        return reply
    }

    /// Like `call`, but an `{"error": ...}` answer is returned rather than thrown.
    func callAllowingError(_ request: [String: Any], timeout: Double? = nil) throws -> [String: Any] {
        callLock.lock()
        defer { callLock.unlock() }
        let op = request["op"] as? String ?? "?"

        cond.lock()
        if dead || outEOF {
            cond.unlock()
            throw PythonPeerError.exited("peer is no longer running (op '\(op)'); stderr: \(stderrTailLocked())")
        }
        let id = nextID
        nextID += 1
        cond.unlock()

        var req = request
        req["id"] = id
        let line = try Self.encodeJSON(req) + "\n"
        do {
            try stdinHandle.write(contentsOf: Data(line.utf8))
        } catch {
            markDead()
            throw PythonPeerError.exited("cannot write to the peer (op '\(op)'): \(error); stderr: \(stderrTail)")
        }

        let seconds = timeout ?? self.timeout
        let replyLine = try readLine(op: op, deadline: Date(timeIntervalSinceNow: seconds), seconds: seconds)
        guard let object = try? JSONSerialization.jsonObject(with: Data(replyLine)),
              let reply = object as? [String: Any]
        else {
            throw PythonPeerError.protocolError("reply to '\(op)' is not a JSON object: \(String(decoding: replyLine, as: UTF8.self))")
        }
        guard Self.intValue(reply["id"]) == id else {
            markDead()
            throw PythonPeerError.protocolError("reply to '\(op)' has id \(String(describing: reply["id"])), expected \(id)")
        }
        return reply
    }

    /// Ends the peer (closing its stdin makes it exit; a stuck one is killed).
    func close() {
        cond.lock()
        let wasDead = dead
        dead = true
        cond.unlock()
        if !wasDead {
            try? stdinHandle.close()
        }
        if process.isRunning {
            let deadline = Date(timeIntervalSinceNow: 2)
            while process.isRunning && Date() < deadline { usleep(10_000) }
            if process.isRunning { process.terminate() }
        }
    }

    // MARK: Plumbing

    private func pump(_ handle: FileHandle, isStdout: Bool) {
        while true {
            let chunk = handle.availableData
            cond.lock()
            if chunk.isEmpty {
                if isStdout { outEOF = true } else { errEOF = true }
                cond.broadcast()
                cond.unlock()
                return
            }
            if isStdout {
                outBuffer.append(contentsOf: chunk)
            } else {
                errTail.append(contentsOf: chunk)
                if errTail.count > 8192 { errTail.removeFirst(errTail.count - 8192) }
            }
            cond.broadcast()
            cond.unlock()
        }
    }

    private func readLine(op: String, deadline: Date, seconds: Double) throws -> [UInt8] {
        cond.lock()
        while true {
            if let nl = outBuffer.firstIndex(of: UInt8(ascii: "\n")) {
                let line = Array(outBuffer[..<nl])
                outBuffer.removeFirst(nl + 1)
                cond.unlock()
                return line
            }
            if outEOF {
                cond.unlock()
                // Give the process a moment to exit and its last stderr lines to arrive.
                let grace = Date(timeIntervalSinceNow: 1)
                while Date() < grace && (process.isRunning || !errEOFFlag) { usleep(10_000) }
                let status = process.isRunning ? "still running" : "exit status \(process.terminationStatus)"
                throw PythonPeerError.exited("closed its output while answering '\(op)' (\(status)); stderr: \(stderrTail)")
            }
            if !cond.wait(until: deadline) && Date() >= deadline {
                let err = stderrTailLocked()
                dead = true
                cond.unlock()
                process.terminate()
                throw PythonPeerError.timeout(op: op, seconds: seconds, stderr: err)
            }
        }
    }

    private var errEOFFlag: Bool {
        cond.lock()
        defer { cond.unlock() }
        return errEOF
    }

    private func markDead() {
        cond.lock()
        dead = true
        cond.unlock()
        if process.isRunning { process.terminate() }
    }

    private func stderrTailLocked() -> String {
        String(decoding: errTail, as: UTF8.self)
    }

    static func intValue(_ value: Any?) -> Int? {
        switch value {
        case let v as Int: return v
        case let v as NSNumber: return v.intValue
        default: return nil
        }
    }

    // MARK: JSON encoding of requests

    /// Encodes String, Bool, integers, Double, nil/NSNull, [UInt8]/Data (as hex), arrays and
    /// string-keyed dictionaries (keys sorted). Anything else is a `.protocolError`.
    static func encodeJSON(_ value: Any?) throws -> String {
        guard let value else { return "null" }
        let mirror = Mirror(reflecting: value)
        if mirror.displayStyle == .optional {
            return try encodeJSON(mirror.children.first?.value)
        }
        switch value {
        case is NSNull: return "null"
        case let v as Bool: return v ? "true" : "false"
        case let v as String: return quote(v)
        case let v as [UInt8]: return quote(v.hex)
        case let v as Data: return quote([UInt8](v).hex)
        case let v as Int: return String(v)
        case let v as Int8: return String(v)
        case let v as Int16: return String(v)
        case let v as Int32: return String(v)
        case let v as Int64: return String(v)
        case let v as UInt: return String(v)
        case let v as UInt8: return String(v)
        case let v as UInt16: return String(v)
        case let v as UInt32: return String(v)
        case let v as UInt64: return String(v)
        case let v as Double:
            guard v.isFinite else { throw PythonPeerError.protocolError("cannot encode \(v) as JSON") }
            return String(v)
        case let v as [String: Any]:
            let members = try v.keys.sorted().map { key in "\(quote(key)):\(try encodeJSON(v[key]!))" }
            return "{" + members.joined(separator: ",") + "}"
        case let v as [Any]:
            return "[" + (try v.map { try encodeJSON($0) }).joined(separator: ",") + "]"
        default:
            throw PythonPeerError.protocolError("cannot encode a \(type(of: value)) as JSON")
        }
    }

    private static func quote(_ s: String) -> String {
        var out = "\""
        for scalar in s.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case let c where c.value < 0x20:
                let hex = String(c.value, radix: 16)
                out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out + "\""
    }
}

// MARK: Reading replies

extension Dictionary where Key == String, Value == Any {
    /// A hex field of a peer reply, decoded. Throws if missing, null or not hex.
    func peerBytes(_ key: String) throws -> [UInt8] {
        guard let s = self[key] as? String else {
            throw PythonPeerError.protocolError("reply has no hex field '\(key)': \(self)")
        }
        guard let bytes = PythonPeer.decodeHex(s) else {
            throw PythonPeerError.protocolError("reply field '\(key)' is not hex: \(s)")
        }
        return bytes
    }

    /// A hex field that may be null (e.g. `token` once a context is complete).
    func peerOptionalBytes(_ key: String) throws -> [UInt8]? {
        if self[key] == nil || self[key] is NSNull { return nil }
        return try peerBytes(key)
    }

    func peerString(_ key: String) throws -> String {
        guard let s = self[key] as? String else {
            throw PythonPeerError.protocolError("reply has no string field '\(key)': \(self)")
        }
        return s
    }

    func peerBool(_ key: String) throws -> Bool {
        switch self[key] {
        case let b as Bool: return b
        case let n as NSNumber: return n.boolValue
        default: throw PythonPeerError.protocolError("reply has no bool field '\(key)': \(self)")
        }
    }

    func peerInt(_ key: String) throws -> Int {
        guard let v = PythonPeer.intValue(self[key]) else {
            throw PythonPeerError.protocolError("reply has no integer field '\(key)': \(self)")
        }
        return v
    }
}

extension PythonPeer {
    /// Strict hex decoding for replies (no Issue recording: a bad reply is a thrown error).
    static func decodeHex(_ s: String) -> [UInt8]? {
        let chars = Array(s.utf8)
        guard chars.count % 2 == 0 else { return nil }
        func nibble(_ c: UInt8) -> UInt8? {
            switch c {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): return c - UInt8(ascii: "0")
            case UInt8(ascii: "a")...UInt8(ascii: "f"): return c - UInt8(ascii: "a") + 10
            case UInt8(ascii: "A")...UInt8(ascii: "F"): return c - UInt8(ascii: "A") + 10
            default: return nil
            }
        }
        var out: [UInt8] = []
        out.reserveCapacity(chars.count / 2)
        var i = 0
        while i < chars.count {
            guard let hi = nibble(chars[i]), let lo = nibble(chars[i + 1]) else { return nil }
            out.append(hi << 4 | lo)
            i += 2
        }
        return out
    }
}
