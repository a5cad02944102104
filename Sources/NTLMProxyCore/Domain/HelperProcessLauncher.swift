#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Why a helper process could not be started.
enum HelperLaunchError: Error, Hashable, Sendable, CustomStringConvertible {
    /// `pipe` failed with this errno.
    case pipe(Int32)
    /// `posix_spawnp` failed with this errno (most often ENOENT: no such program).
    case spawn(program: String, errno: Int32)
    /// The command is empty.
    case noCommand
    /// The pipes could not be set up as NIO channels.
    case channel(String)

    var description: String {
        switch self {
        case .pipe(let code): return "cannot create a pipe: \(HelperProcessLauncher.errorText(code))"
        case .spawn(let program, let code): return "cannot start \(program): \(HelperProcessLauncher.errorText(code))"
        case .noCommand: return "no helper command configured"
        case .channel(let why): return "cannot attach to the helper's pipes: \(why)"
        }
    }
}

/// A started helper: its pid and our ends of its three standard streams (all close-on-exec,
/// so no other child inherits them).
struct LaunchedHelperProcess: Sendable {
    var pid: pid_t
    /// Write end of the child's stdin.
    var input: Int32
    /// Read end of the child's stdout.
    var output: Int32
    /// Read end of the child's stderr.
    var diagnostics: Int32
}

/// Starts helper processes with `posix_spawnp` and reaps them.
///
/// The child gets pipes as descriptors 0, 1 and 2 and nothing else of ours: every other
/// descriptor is closed in the child (glibc 2.34+ `posix_spawn_file_actions_addclosefrom_np`,
/// older glibc a close action for each descriptor listed in /proc/self/fd, Darwin
/// `POSIX_SPAWN_CLOEXEC_DEFAULT`). Close-on-exec alone is not enough: a test process was seen
/// to hold 16 inheritable descriptors. Signal dispositions go back to their defaults and the signal mask is
/// emptied, whatever the spawning thread had. The environment is ours plus `additions`.
enum HelperProcessLauncher {
    static func launch(arguments: [String], environmentAdditions additions: [String: String]) throws(HelperLaunchError) -> LaunchedHelperProcess {
        guard let program = arguments.first else { throw .noCommand }
        let stdinPipe = try makePipe()
        let stdoutPipe: (read: Int32, write: Int32)
        let stderrPipe: (read: Int32, write: Int32)
        do {
            stdoutPipe = try makePipe()
        } catch {
            closeAll([stdinPipe.read, stdinPipe.write])
            throw error
        }
        do {
            stderrPipe = try makePipe()
        } catch {
            closeAll([stdinPipe.read, stdinPipe.write, stdoutPipe.read, stdoutPipe.write])
            throw error
        }
        let pid: pid_t
        do {
            pid = try spawn(program: program, arguments: arguments, environment: environment(adding: additions),
                            stdin: stdinPipe.read, stdout: stdoutPipe.write, stderr: stderrPipe.write)
        } catch {
            closeAll([stdinPipe.read, stdinPipe.write, stdoutPipe.read, stdoutPipe.write, stderrPipe.read, stderrPipe.write])
            throw error
        }
        // The child's ends live on in the child only.
        closeAll([stdinPipe.read, stdoutPipe.write, stderrPipe.write])
        return LaunchedHelperProcess(pid: pid, input: stdinPipe.write, output: stdoutPipe.read, diagnostics: stderrPipe.read)
    }

    /// SIGKILL (harmless when it already exited: until reaped the pid stays ours) and a
    /// blocking `waitpid`. Call it once per process, off any event loop.
    static func killAndReap(_ pid: pid_t) {
        _ = kill(pid, SIGKILL)
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
    }

    static func errorText(_ code: Int32) -> String {
        guard let text = strerror(code) else { return "errno \(code)" }
        return String(cString: text)
    }

    private static func closeAll(_ descriptors: [Int32]) {
        for descriptor in descriptors { _ = close(descriptor) }
    }

    private static func makePipe() throws(HelperLaunchError) -> (read: Int32, write: Int32) {
        var descriptors: [Int32] = [-1, -1]
        var created = false
        #if canImport(Glibc)
        if let pipe2 = Self.pipe2 {
            guard pipe2(&descriptors, O_CLOEXEC) == 0 else { throw .pipe(errno) }
            created = true
        }
        #endif
        if !created {
            // Darwin has no pipe2: a child spawned by another thread in between could inherit
            // these two descriptors (ours close everything above 2 anyway).
            guard pipe(&descriptors) == 0 else { throw .pipe(errno) }
            for descriptor in descriptors { _ = fcntl(descriptor, F_SETFD, FD_CLOEXEC) }
        }
        // A process started with 0, 1 or 2 closed gets them back from pipe(): move them up,
        // or the child's dup2 to 0-2 would overwrite one pipe end with another.
        for index in descriptors.indices where descriptors[index] <= 2 {
            let moved = fcntl(descriptors[index], F_DUPFD_CLOEXEC, 3)
            guard moved >= 0 else {
                let code = errno
                closeAll(descriptors)
                throw .pipe(code)
            }
            _ = close(descriptors[index])
            descriptors[index] = moved
        }
        return (descriptors[0], descriptors[1])
    }

    /// Our environment with `additions` replacing or adding variables.
    private static func environment(adding additions: [String: String]) -> [String] {
        var result: [String] = []
        #if canImport(Darwin)
        var cursor: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>? = _NSGetEnviron().pointee
        #else
        var cursor: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>? = environ
        #endif
        while let current = cursor, let entry = current.pointee {
            let text = String(cString: entry)
            let name = text.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false).first.map(String.init) ?? text
            if additions[name] == nil { result.append(text) }
            cursor = current.successor()
        }
        for (name, value) in additions.sorted(by: { $0.key < $1.key }) { result.append("\(name)=\(value)") }
        return result
    }

    #if canImport(Glibc)
    /// glibc's `pipe2`, which the Swift Glibc module does not declare either.
    private typealias Pipe2 = @convention(c) (UnsafeMutablePointer<Int32>, Int32) -> Int32
    private static let pipe2: Pipe2? = {
        guard let symbol = dlsym(nil, "pipe2") else { return nil }
        return unsafeBitCast(symbol, to: Pipe2.self)
    }()

    /// glibc's `posix_spawn_file_actions_addclosefrom_np` (2.34+), which the Swift Glibc
    /// module does not declare (it needs _GNU_SOURCE).
    private typealias AddCloseFrom = @convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>, Int32) -> Int32
    private static let addCloseFrom: AddCloseFrom? = {
        guard let symbol = dlsym(nil, "posix_spawn_file_actions_addclosefrom_np") else { return nil }
        return unsafeBitCast(symbol, to: AddCloseFrom.self)
    }()
    #endif

    #if canImport(Glibc)
    /// The descriptors open in this process, from /proc/self/fd.
    private static func openDescriptors() -> [Int32] {
        guard let directory = opendir("/proc/self/fd") else { return [] }
        defer { closedir(directory) }
        var result: [Int32] = []
        while let entry = readdir(directory) {
            let name = withUnsafePointer(to: entry.pointee.d_name) { tuple in
                tuple.withMemoryRebound(to: CChar.self, capacity: MemoryLayout.size(ofValue: entry.pointee.d_name)) { String(cString: $0) }
            }
            if let descriptor = Int32(name) { result.append(descriptor) }
        }
        return result
    }
    #endif

    private static func spawn(program: String, arguments: [String], environment: [String],
                              stdin: Int32, stdout: Int32, stderr: Int32) throws(HelperLaunchError) -> pid_t {
        #if canImport(Darwin)
        var actions: posix_spawn_file_actions_t? = nil
        var attributes: posix_spawnattr_t? = nil
        #else
        var actions = posix_spawn_file_actions_t()
        var attributes = posix_spawnattr_t()
        #endif
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_adddup2(&actions, stdin, 0)
        posix_spawn_file_actions_adddup2(&actions, stdout, 1)
        posix_spawn_file_actions_adddup2(&actions, stderr, 2)
        #if canImport(Glibc)
        if let addCloseFrom {
            _ = addCloseFrom(&actions, 3)
        } else {
            // glibc before 2.34: close what is open now (a descriptor another thread closes
            // meanwhile is ignored by posix_spawn; one it opens meanwhile may slip through).
            for descriptor in openDescriptors() where descriptor > 2 {
                posix_spawn_file_actions_addclose(&actions, descriptor)
            }
        }
        #endif

        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var emptyMask = sigset_t()
        sigemptyset(&emptyMask)
        posix_spawnattr_setsigmask(&attributes, &emptyMask)
        var defaults = sigset_t()
        sigemptyset(&defaults)
        for signal in Int32(1)..<32 where signal != SIGKILL && signal != SIGSTOP { sigaddset(&defaults, signal) }
        posix_spawnattr_setsigdefault(&attributes, &defaults)
        var flags = Int32(POSIX_SPAWN_SETSIGMASK) | Int32(POSIX_SPAWN_SETSIGDEF)
        #if canImport(Darwin)
        flags |= Int32(POSIX_SPAWN_CLOEXEC_DEFAULT)
        #endif
        posix_spawnattr_setflags(&attributes, Int16(flags))

        let argv: [UnsafeMutablePointer<CChar>?] = arguments.map { strdup($0) } + [nil]
        let envp: [UnsafeMutablePointer<CChar>?] = environment.map { strdup($0) } + [nil]
        defer {
            for pointer in argv { free(pointer) }
            for pointer in envp { free(pointer) }
        }
        var pid: pid_t = 0
        let result = posix_spawnp(&pid, program, &actions, &attributes, argv, envp)
        guard result == 0 else { throw .spawn(program: program, errno: result) }
        return pid
    }
}
