import Dispatch
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Runs blocking work on a Dispatch thread: the Swift concurrency pool has two threads on a
/// 2-core machine, and blocking one would starve the in-process servers under test.
func offload<T: Sendable>(_ work: @escaping @Sendable () -> T) async -> T {
    await withCheckedContinuation { continuation in
        DispatchQueue.global().async { continuation.resume(returning: work()) }
    }
}

func offload<T: Sendable>(_ work: @escaping @Sendable () throws -> T) async throws -> T {
    try await withCheckedThrowingContinuation { continuation in
        DispatchQueue.global().async { continuation.resume(with: Result { try work() }) }
    }
}

/// External processes (curl, python clients, the fixture scripts, the CLI binary) via
/// Foundation `Process`. Output goes to temporary files (no pipe can fill up and stall the
/// child); waiting happens in `terminationHandler`, never on the concurrency pool.
enum Subprocess {
    struct Result: Sendable, CustomStringConvertible {
        var status: Int32
        var stdout: String
        var stderr: String
        var timedOut: Bool
        var output: String { stdout + stderr }
        var description: String {
            "exit \(status)\(timedOut ? " (killed: timeout)" : "")\nstdout: \(stdout.prefix(2000))\nstderr: \(stderr.prefix(2000))"
        }
    }

    enum Failure: Error, CustomStringConvertible {
        case cannotStart(String, String)
        var description: String {
            switch self {
            case .cannotStart(let what, let why): return "cannot start \(what): \(why)"
            }
        }
    }

    /// A scratch folder for this test process (output files, bodies, users files).
    static let scratch: URL = {
        let dir = URL(fileURLWithPath: NSTemporaryDirectory()).appendingPathComponent("ntlmproxy-interop-tests-\(getpid())")
        try? FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        Cleanup.register { try? FileManager.default.removeItem(at: dir) }
        return dir
    }()

    static func scratchFile(_ prefix: String) -> URL {
        scratch.appendingPathComponent("\(prefix)-\(UUID().uuidString.prefix(8))")
    }

    /// The environment children get: ours without proxy settings (which would reroute curl and
    /// requests) and without curl/requests CA overrides.
    static func childEnvironment(_ extra: [String: String] = [:]) -> [String: String] {
        var env = ProcessInfo.processInfo.environment
        for key in ["http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY", "all_proxy", "ALL_PROXY", "no_proxy", "NO_PROXY", "CURL_CA_BUNDLE", "REQUESTS_CA_BUNDLE"] {
            env[key] = nil
        }
        env["PYTHONDONTWRITEBYTECODE"] = "1"
        for (key, value) in extra { env[key] = value }
        return env
    }

    /// Runs `arguments` to completion (killed after `timeout` seconds) and returns its exit
    /// status and output.
    static func run(_ arguments: [String], environment: [String: String] = [:], timeout: Double = 120) async throws -> Result {
        let outURL = scratchFile("out"), errURL = scratchFile("err")
        FileManager.default.createFile(atPath: outURL.path, contents: nil)
        FileManager.default.createFile(atPath: errURL.path, contents: nil)
        defer {
            try? FileManager.default.removeItem(at: outURL)
            try? FileManager.default.removeItem(at: errURL)
        }
        let outHandle = try FileHandle(forWritingTo: outURL)
        let errHandle = try FileHandle(forWritingTo: errURL)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: arguments[0])
        process.arguments = Array(arguments.dropFirst())
        process.environment = childEnvironment(environment)
        process.standardInput = FileHandle.nullDevice
        process.standardOutput = outHandle
        process.standardError = errHandle
        let timedOut = LockedFlag()
        let status: Int32 = try await withCheckedThrowingContinuation { continuation in
            process.terminationHandler = { finished in
                continuation.resume(returning: finished.terminationStatus)
            }
            do {
                try process.run()
            } catch {
                process.terminationHandler = nil
                continuation.resume(throwing: Failure.cannotStart(arguments.joined(separator: " "), "\(error)"))
                return
            }
            let pid = process.processIdentifier
            DispatchQueue.global().asyncAfter(deadline: .now() + timeout) {
                if process.isRunning {
                    timedOut.set()
                    kill(pid, SIGKILL)
                }
            }
        }
        try? outHandle.close()
        try? errHandle.close()
        let out = (try? String(contentsOf: outURL, encoding: .utf8)) ?? ""
        let err = (try? String(contentsOf: errURL, encoding: .utf8)) ?? ""
        return Result(status: status, stdout: out, stderr: err, timedOut: timedOut.value)
    }

    /// Blocking variant, for Dispatch threads and exit handlers only.
    static func runSync(_ arguments: [String], environment: [String: String] = [:]) throws -> Result {
        let outURL = scratchFile("out")
        FileManager.default.createFile(atPath: outURL.path, contents: nil)
        defer { try? FileManager.default.removeItem(at: outURL) }
        let outHandle = try FileHandle(forWritingTo: outURL)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: arguments[0])
        process.arguments = Array(arguments.dropFirst())
        process.environment = childEnvironment(environment)
        process.standardInput = FileHandle.nullDevice
        process.standardOutput = outHandle
        process.standardError = outHandle
        try process.run()
        process.waitUntilExit()
        try? outHandle.close()
        let out = (try? String(contentsOf: outURL, encoding: .utf8)) ?? ""
        return Result(status: process.terminationStatus, stdout: out, stderr: "", timedOut: false)
    }
}

/// A long-running child (the CLI binary, an echo backend): stderr (and stdout) go to a file
/// that the test can read while it runs. Killed at process exit if still running.
final class BackgroundProcess: @unchecked Sendable {
    let process: Process
    let logFile: URL
    let name: String
    private let exited = LockedFlag()

    init(_ arguments: [String], name: String, environment: [String: String] = [:]) throws {
        self.name = name
        logFile = Subprocess.scratchFile(name + ".log")
        FileManager.default.createFile(atPath: logFile.path, contents: nil)
        let handle = try FileHandle(forWritingTo: logFile)
        process = Process()
        process.executableURL = URL(fileURLWithPath: arguments[0])
        process.arguments = Array(arguments.dropFirst())
        process.environment = Subprocess.childEnvironment(environment)
        process.standardInput = FileHandle.nullDevice
        process.standardOutput = handle
        process.standardError = handle
        let exited = self.exited
        process.terminationHandler = { _ in exited.set() }
        do {
            try process.run()
        } catch {
            throw Subprocess.Failure.cannotStart(arguments.joined(separator: " "), "\(error)")
        }
        try? handle.close()
        let pid = process.processIdentifier
        Cleanup.register {
            if kill(pid, 0) == 0 && !exited.value { kill(pid, SIGKILL) }
        }
    }

    var pid: Int32 { process.processIdentifier }
    var isRunning: Bool { !exited.value }

    /// Everything the process has written so far.
    var log: String { (try? String(contentsOf: logFile, encoding: .utf8)) ?? "" }

    /// The log from byte `offset` on, and the new offset.
    func log(from offset: Int) -> (String, Int) {
        guard let data = try? Data(contentsOf: logFile) else { return ("", offset) }
        guard data.count > offset else { return ("", data.count) }
        return (String(decoding: data[offset...], as: UTF8.self), data.count)
    }

    var logSize: Int { (try? FileManager.default.attributesOfItem(atPath: logFile.path)[.size] as? Int) ?? 0 }

    /// Polls (off the pool) until `predicate(log)` holds or the process exits or `timeout`.
    func waitForLog(timeout: Double = 20, _ predicate: @escaping @Sendable (String) -> Bool) async -> Bool {
        await offload {
            let deadline = Date(timeIntervalSinceNow: timeout)
            while Date() < deadline {
                if predicate(self.log) { return true }
                if !self.isRunning { return predicate(self.log) }
                usleep(20_000)
            }
            return false
        }
    }

    /// SIGTERM, then SIGKILL if it does not exit within 5 s; waits off the pool.
    func stop() async {
        guard isRunning else { return }
        let pid = self.pid
        kill(pid, SIGTERM)
        _ = await offload {
            let deadline = Date(timeIntervalSinceNow: 5)
            while self.isRunning && Date() < deadline { usleep(10_000) }
            if self.isRunning { kill(pid, SIGKILL) }
            while self.isRunning { usleep(10_000) }
        }
    }

    /// Resident set size in bytes (`VmRSS` of /proc/PID/status), or nil once gone.
    var residentBytes: Int? {
        guard let text = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8) else { return nil }
        for line in text.split(separator: "\n") where line.hasPrefix("VmRSS:") {
            let digits = line.split(separator: " ").dropFirst().first.flatMap { Int($0) }
            return digits.map { $0 * 1024 }
        }
        return nil
    }
}

final class LockedFlag: @unchecked Sendable {
    private let lock = NSLock()
    private var flag = false
    func set() { lock.lock(); flag = true; lock.unlock() }
    var value: Bool { lock.lock(); defer { lock.unlock() }; return flag }
}

/// Work to do when the test process exits (stop fixtures, kill children, remove scratch
/// files), run by an `atexit` handler in reverse order of registration.
enum Cleanup {
    private final class Registry: @unchecked Sendable {
        let lock = NSLock()
        var actions: [@Sendable () -> Void] = []
        var installed = false
    }

    private static let registry = Registry()

    static func register(_ action: @escaping @Sendable () -> Void) {
        registry.lock.lock()
        defer { registry.lock.unlock() }
        registry.actions.append(action)
        if !registry.installed {
            registry.installed = true
            atexit { Cleanup.runAll() }
        }
    }

    static func runAll() {
        registry.lock.lock()
        let actions = registry.actions.reversed()
        registry.actions.removeAll()
        registry.lock.unlock()
        for action in actions { action() }
    }
}
