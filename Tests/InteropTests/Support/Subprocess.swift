import NTLMTestSupport
import Dispatch
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A child process started with `posix_spawn`.
///
/// Not Foundation's `Process`: on Linux it detects termination through a socket the child
/// inherits, so a child that starts daemons (the fixture scripts) is "running" for as long as
/// the daemons live. Here every descriptor above 2 is closed in the child
/// (`posix_spawn_file_actions_addclosefrom_np`), signals are reset to their defaults, and
/// exit is awaited with `waitpid` on a thread of its own, off the concurrency pool.
final class Child: @unchecked Sendable {
    let pid: pid_t
    private let lock = NSLock()
    private var status: Int32?
    private var waiters: [CheckedContinuation<Int32, Never>] = []

    /// Spawns `arguments`; the given descriptors become the child's 0, 1 and 2.
    init(_ arguments: [String], environment: [String: String], stdin: Int32, stdout: Int32, stderr: Int32, newSession: Bool = false) throws {
        let pid = try Self.spawn(arguments, environment: environment, stdin: stdin, stdout: stdout, stderr: stderr, newSession: newSession)
        self.pid = pid
        startThread { [self] in
            var raw: Int32 = 0
            while waitpid(pid, &raw, 0) < 0 && errno == EINTR {}
            // WIFEXITED ? WEXITSTATUS : 128 + signal
            let code = (raw & 0x7f) == 0 ? (raw >> 8) & 0xff : 128 + (raw & 0x7f)
            lock.lock()
            status = code
            let resume = waiters
            waiters = []
            lock.unlock()
            for waiter in resume { waiter.resume(returning: code) }
        }
    }

    /// glibc's `posix_spawn_file_actions_addclosefrom_np` (2.34+), which the Swift Glibc module
    /// does not export (it needs _GNU_SOURCE).
    private static let addCloseFrom: (@convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>, Int32) -> Int32)? = {
        guard let symbol = dlsym(nil, "posix_spawn_file_actions_addclosefrom_np") else { return nil }
        return unsafeBitCast(symbol, to: (@convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>, Int32) -> Int32).self)
    }()

    /// `posix_spawn` with descriptors 0-2 given, all others closed, default signal handling.
    /// The caller must reap the child.
    static func spawn(_ arguments: [String], environment: [String: String], stdin: Int32, stdout: Int32, stderr: Int32, newSession: Bool = false) throws -> pid_t {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_adddup2(&actions, stdin, 0)
        posix_spawn_file_actions_adddup2(&actions, stdout, 1)
        posix_spawn_file_actions_adddup2(&actions, stderr, 2)
        // Without it, daemons started by a child would hold our descriptors (and our
        // waiters) open for their whole life: refuse rather than hang.
        guard let closeFrom = Self.addCloseFrom else {
            throw Subprocess.Failure.cannotStart(arguments.joined(separator: " "), "glibc without posix_spawn_file_actions_addclosefrom_np (needs 2.34+)")
        }
        _ = closeFrom(&actions, 3)

        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var noSignals = sigset_t()
        sigemptyset(&noSignals)
        posix_spawnattr_setsigmask(&attributes, &noSignals)
        var defaults = sigset_t()
        sigemptyset(&defaults)
        for signal in Int32(1)..<32 where signal != SIGKILL && signal != SIGSTOP { sigaddset(&defaults, signal) }
        posix_spawnattr_setsigdefault(&attributes, &defaults)
        var flags = Int32(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF)
        if newSession { flags |= 0x80 }   // POSIX_SPAWN_SETSID (glibc; not in the Swift overlay)
        posix_spawnattr_setflags(&attributes, Int16(flags))

        let argv: [UnsafeMutablePointer<CChar>?] = arguments.map { strdup($0) } + [nil]
        let envp: [UnsafeMutablePointer<CChar>?] = environment.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer {
            for pointer in argv { free(pointer) }
            for pointer in envp { free(pointer) }
        }
        var pid: pid_t = 0
        let result = posix_spawn(&pid, arguments[0], &actions, &attributes, argv, envp)
        guard result == 0 else {
            throw Subprocess.Failure.cannotStart(arguments.joined(separator: " "), String(cString: strerror(result)))
        }
        return pid
    }

    /// Spawns and waits on the calling thread (exit handlers only). Output is discarded.
    @discardableResult
    static func runBlocking(_ arguments: [String]) -> Int32 {
        let null = open("/dev/null", O_RDWR | O_CLOEXEC)
        defer { close(null) }
        guard let pid = try? spawn(arguments, environment: Subprocess.childEnvironment(), stdin: null, stdout: null, stderr: null) else { return -1 }
        var raw: Int32 = 0
        while waitpid(pid, &raw, 0) < 0 && errno == EINTR {}
        return raw
    }

    /// The exit status (128 + signal when killed), once it exited.
    var exitStatus: Int32? {
        lock.lock()
        defer { lock.unlock() }
        return status
    }

    var isRunning: Bool { exitStatus == nil }

    /// Waits (suspending, not blocking) for the exit.
    func wait() async -> Int32 {
        await withCheckedContinuation { continuation in
            lock.lock()
            if let status {
                lock.unlock()
                continuation.resume(returning: status)
                return
            }
            waiters.append(continuation)
            lock.unlock()
        }
    }

    /// Blocking wait, for `offload` threads and exit handlers only.
    func waitSync() -> Int32 {
        while true {
            if let status = exitStatus { return status }
            usleep(5_000)
        }
    }

    /// Sends `signal` unless it has already been reaped.
    func signal(_ signal: Int32) {
        lock.lock()
        defer { lock.unlock() }
        if status == nil { kill(pid, signal) }
    }
}

/// External processes (curl, python clients, the fixture scripts, the CLI binary). Output goes
/// to temporary files, so no pipe can fill up and stall the child.
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
        let dir = URL(fileURLWithPath: "/tmp").appendingPathComponent("ntlmproxy-interop-tests-\(getpid())")
        try? FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        Cleanup.register { try? FileManager.default.removeItem(at: dir) }
        return dir
    }()

    static func scratchFile(_ prefix: String) -> URL {
        scratch.appendingPathComponent("\(prefix)-\(UUID().uuidString.prefix(8))")
    }

    /// The environment children get: ours without proxy settings (which would reroute curl and
    /// requests), without curl/requests CA overrides, and without Kerberos settings: our own
    /// `KRB5_CONFIG` names the shared test KDC (`Fixtures.kdc`), and a child that inherited it
    /// (or a ticket cache, a keytab) would find a realm where an NTLM test expects none. The
    /// Kerberos tests pass what their child needs in `extra`.
    static func childEnvironment(_ extra: [String: String] = [:]) -> [String: String] {
        var env = ProcessInfo.processInfo.environment
        for key in ["http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY", "all_proxy", "ALL_PROXY", "no_proxy", "NO_PROXY", "CURL_CA_BUNDLE", "REQUESTS_CA_BUNDLE"] {
            env[key] = nil
        }
        for key in ["KRB5_CONFIG", "KRB5CCNAME", "KRB5_KTNAME", "KRB5_CLIENT_KTNAME", "KRB5RCACHEDIR", "KRB5_TRACE"] {
            env[key] = nil
        }
        env["PYTHONDONTWRITEBYTECODE"] = "1"
        for (key, value) in extra { env[key] = value }
        return env
    }

    static func openForWriting(_ url: URL) throws -> Int32 {
        let fd = open(url.path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw Failure.cannotStart(url.path, String(cString: strerror(errno))) }
        return fd
    }

    static func openNull() -> Int32 { open("/dev/null", O_RDWR | O_CLOEXEC) }

    /// Runs `arguments` to completion (SIGKILL after `timeout` seconds) and returns its exit
    /// status and output.
    static func run(_ arguments: [String], environment: [String: String] = [:], timeout: Double = 120) async throws -> Result {
        let outURL = scratchFile("out"), errURL = scratchFile("err")
        defer {
            try? FileManager.default.removeItem(at: outURL)
            try? FileManager.default.removeItem(at: errURL)
        }
        let outFD = try openForWriting(outURL)
        defer { close(outFD) }
        let errFD = try openForWriting(errURL)
        defer { close(errFD) }
        let null = openNull()
        defer { close(null) }
        let child = try Child(arguments, environment: childEnvironment(environment), stdin: null, stdout: outFD, stderr: errFD)
        let timedOut = LockedFlag()
        DispatchQueue.global().asyncAfter(deadline: .now() + timeout) {
            if child.isRunning {
                timedOut.set()
                child.signal(SIGKILL)
            }
        }
        let status = await child.wait()
        let out = (try? String(contentsOf: outURL, encoding: .utf8)) ?? ""
        let err = (try? String(contentsOf: errURL, encoding: .utf8)) ?? ""
        return Result(status: status, stdout: out, stderr: err, timedOut: timedOut.value)
    }

    /// Blocking variant, for `offload` threads only (stdout and stderr together).
    static func runSync(_ arguments: [String], environment: [String: String] = [:]) throws -> Result {
        let outURL = scratchFile("out")
        defer { try? FileManager.default.removeItem(at: outURL) }
        let outFD = try openForWriting(outURL)
        defer { close(outFD) }
        let null = openNull()
        defer { close(null) }
        let child = try Child(arguments, environment: childEnvironment(environment), stdin: null, stdout: outFD, stderr: outFD)
        let status = child.waitSync()
        let out = (try? String(contentsOf: outURL, encoding: .utf8)) ?? ""
        return Result(status: status, stdout: out, stderr: "", timedOut: false)
    }
}

/// A long-running child (the CLI binary, an echo backend): stdout and stderr go to a file that
/// the test can read while it runs. Killed at process exit if still running.
final class BackgroundProcess: @unchecked Sendable {
    let child: Child
    let logFile: URL
    let name: String

    init(_ arguments: [String], name: String, environment: [String: String] = [:]) throws {
        self.name = name
        logFile = Subprocess.scratchFile(name + ".log")
        let fd = try Subprocess.openForWriting(logFile)
        defer { close(fd) }
        let null = Subprocess.openNull()
        defer { close(null) }
        let child = try Child(arguments, environment: Subprocess.childEnvironment(environment), stdin: null, stdout: fd, stderr: fd)
        self.child = child
        Cleanup.register { child.signal(SIGKILL) }
    }

    var pid: Int32 { child.pid }
    var isRunning: Bool { child.isRunning }

    /// Everything the process has written so far.
    var log: String { (try? String(contentsOf: logFile, encoding: .utf8)) ?? "" }

    /// The log from byte `offset` on.
    func log(from offset: Int) -> (String, Int) {
        guard let data = try? Data(contentsOf: logFile) else { return ("", offset) }
        guard data.count > offset else { return ("", data.count) }
        return (String(decoding: data[offset...], as: UTF8.self), data.count)
    }

    var logSize: Int { (try? FileManager.default.attributesOfItem(atPath: logFile.path)[.size] as? Int) ?? 0 }

    /// Polls (off the pool) until `predicate(log)` holds, the process exits, or `timeout`.
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

    /// Polls (off the pool) until `path` holds a port number, the process exits, or 20 s pass.
    func waitForPortFile(_ path: String) async -> Int? {
        await offload {
            let deadline = Date(timeIntervalSinceNow: 20)
            while Date() < deadline && self.isRunning {
                if let text = try? String(contentsOfFile: path, encoding: .utf8), let port = Int(text.trimmingCharacters(in: .whitespacesAndNewlines)) {
                    return port
                }
                usleep(20_000)
            }
            return nil
        }
    }

    /// SIGTERM, then SIGKILL if it has not exited within 5 s.
    func stop() async {
        guard isRunning else { return }
        child.signal(SIGTERM)
        let child = self.child
        let killer = DispatchWorkItem { child.signal(SIGKILL) }
        DispatchQueue.global().asyncAfter(deadline: .now() + 5, execute: killer)
        _ = await child.wait()
        killer.cancel()
    }

    /// Resident set size in bytes (`VmRSS` of /proc/PID/status), or nil once gone.
    var residentBytes: Int? {
        guard isRunning, let text = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8) else { return nil }
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
