import NTLMTestSupport
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// An Apache + mod_auth_gssapi + gss-ntlmssp origin (scripts/interop/apache-origin).
struct ApacheFixture: Sendable {
    let dir: String
    let httpPort: Int
    let httpsPort: Int
    let backendPort: Int
    var certificate: String { dir + "/apache/tls/cert.pem" }
    var accessLog: String { dir + "/apache/logs/access.log" }
    var http: String { "http://127.0.0.1:\(httpPort)/" }
    var https: String { "https://127.0.0.1:\(httpsPort)/" }

    /// Rejected logons so far (Type 3 legs answered 401), from the fixture's own counter.
    func failedLogons() async throws -> Int { try await Fixtures.counter("apache-origin", "failed-logons", dir) }
    /// Successful logons so far.
    func handshakes() async throws -> Int { try await Fixtures.counter("apache-origin", "handshakes", dir) }

    /// The access log's lines (our format: `conn= req= auth= leg= user= status= ...`).
    func accessLogLines() -> [String] {
        ((try? String(contentsOfFile: accessLog, encoding: .utf8)) ?? "").split(separator: "\n").map(String.init)
    }
}

/// squid + Samba ntlm_auth: an NTLM origin (accel, 401) and a forward proxy (407).
struct SquidFixture: Sendable {
    let dir: String
    let squidPort: Int
    let proxyPort: Int
    let backendPort: Int
    var accel: String { "http://127.0.0.1:\(squidPort)/" }

    func failedLogons() async throws -> Int { try await Fixtures.counter("squid-origin", "failed-logons", dir) }
    func handshakes() async throws -> Int { try await Fixtures.counter("squid-origin", "handshakes", dir) }
}

/// A plain echo_backend.py started by this test process (the acceptor's backend).
struct EchoBackendFixture: Sendable {
    let port: Int
    var url: String { "http://127.0.0.1:\(port)/" }
}

/// The fixtures, started lazily once per test process, all under one temporary folder:
///
/// - `main/apache` and `main/squid`: shared by every test that does not count logons;
/// - `counting`: a second Apache used only by the `.serialized` counting suite, so its
///   failed-logons/handshakes counters see nothing but that suite's traffic;
/// - `pt-counting`: the same for the pass-through isolation suite;
/// - an echo backend for the acceptor tests;
/// - `kerberos` and `kerberos-web`: the shared KDC (realm NTLMTEST.TEST) and the Apache
///   Kerberos origins and parent using it; `kerberos-private-N/{kdc,web}`: a pair of a test's
///   own (`privateKerberos()`), which it may take down.
///
/// They are stopped by an `atexit` handler; a detached watcher process also stops them (and
/// removes the folder) if the test process dies without running its exit handlers.
actor Fixtures {
    static let shared = Fixtures()

    private var apacheTask: Task<ApacheFixture, Error>?
    private var countingTask: Task<ApacheFixture, Error>?
    private var passThroughCountingTask: Task<ApacheFixture, Error>?
    private var squidTask: Task<SquidFixture, Error>?
    private var echoTask: Task<EchoBackendFixture, Error>?
    private var kdcTask: Task<KDCFixture, Error>?
    private var kerberosTask: Task<KerberosApacheFixture, Error>?
    private var privateKerberosCount = 0
    private var domainTask: Task<SambaDomainFixture, Error>?

    struct FixtureFailure: Error, CustomStringConvertible {
        var what: String
        var result: Subprocess.Result?
        var description: String { "\(what) failed\n\(result.map { "\($0)" } ?? "")" }
    }

    /// The folder all fixtures live in, with the exit handler and the watcher installed.
    nonisolated static let root: String = {
        var template = Array(("/tmp/ntlmproxy-interop.XXXXXX").utf8CString)
        let made = template.withUnsafeMutableBufferPointer { buffer -> String? in
            guard let result = mkdtemp(buffer.baseAddress!) else { return nil }
            return String(cString: result)
        }
        let root = made ?? "/tmp/ntlmproxy-interop.\(getpid())"
        try? FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
        let keep = Interop.environment["NTLMPROXY_INTEROP_KEEP"] == "1"
        let stops: [(String, String)] = [
            ("apache-origin", root + "/main"), ("squid-origin", root + "/main-squid"), ("apache-origin", root + "/counting"),
            ("apache-origin", root + "/pt-counting"), ("apache-kerberos", root + "/kerberos-web"), ("kdc", root + "/kerberos"),
            ("samba-domain", root + "/domain"),
        ]
        Cleanup.register {
            // Stop them all in parallel (squid alone takes ~2 s to exit), with the private
            // Kerberos pairs a test did not stop itself.
            var privates: [(String, String)] = []
            for name in (try? FileManager.default.contentsOfDirectory(atPath: root)) ?? [] where name.hasPrefix("kerberos-private-") {
                let dir = root + "/" + name
                privates += [("apache-kerberos", dir + "/web"), ("kdc", dir + "/kdc")]
            }
            stopInParallel(stops + privates)
            let echoPid = root + "/echo/pid"
            if let text = try? String(contentsOfFile: echoPid, encoding: .utf8), let pid = Int32(text.trimmingCharacters(in: .whitespacesAndNewlines)) {
                kill(pid, SIGTERM)
            }
            if !keep { try? FileManager.default.removeItem(atPath: root) }
        }
        startWatcher(root: root, stops: stops, keep: keep)
        if keep { FileHandle.standardError.write(Data("note: interop fixtures in \(root) (kept)\n".utf8)) }
        return root
    }()

    /// A process of its own session that waits for this test process to go away, then stops
    /// the fixtures (a second `stop` is harmless) — for a test process killed without exit
    /// handlers.
    private nonisolated static func startWatcher(root: String, stops: [(String, String)], keep: Bool) {
        var extra = "[ -s \(shellQuote(root + "/echo/pid")) ] && kill $(cat \(shellQuote(root + "/echo/pid"))) 2>/dev/null; "
        extra += "for d in \(shellQuote(root))/kerberos-private-*; do [ -d \"$d\" ] || continue; "
            + "\(shellQuote(Interop.script("apache-kerberos"))) stop \"$d/web\" >/dev/null 2>&1; "
            + "\(shellQuote(Interop.script("kdc"))) stop \"$d/kdc\" >/dev/null 2>&1; done; "
        if !keep { extra += "rm -rf \(shellQuote(root))" }
        spawnWatcher(stops: stops, then: extra)
    }

    /// Spawns `sh -c` that waits for this process to exit, runs `SCRIPT stop DIR` for each of
    /// `stops`, then `extra`. Its own session (a Ctrl-C to our process group does not reach it),
    /// no descriptor of ours; never reaped by us: it outlives this process by design.
    nonisolated static func spawnWatcher(stops: [(String, String)], then extra: String) {
        var script = "while kill -0 \(getpid()) 2>/dev/null; do sleep 1; done; "
        for (name, dir) in stops {
            script += "[ -d \(shellQuote(dir)) ] && \(shellQuote(Interop.script(name))) stop \(shellQuote(dir)) >/dev/null 2>&1; "
        }
        script += extra
        let null = open("/dev/null", O_RDWR | O_CLOEXEC)
        defer { close(null) }
        _ = try? Child.spawn(["/bin/sh", "-c", script], environment: Subprocess.childEnvironment(), stdin: null, stdout: null, stderr: null, newSession: true)
    }

    nonisolated static func shellQuote(_ text: String) -> String { "'" + text.replacingOccurrences(of: "'", with: "'\\''") + "'" }

    /// Runs `SCRIPT stop DIR` for every existing DIR, all at once, and waits for them.
    nonisolated static func stopInParallel(_ stops: [(String, String)]) {
        let group = DispatchGroup()
        for (script, dir) in stops where FileManager.default.fileExists(atPath: dir) {
            group.enter()
            Thread {
                Child.runBlocking([Interop.script(script), "stop", dir])
                group.leave()
            }.start()
        }
        group.wait()
    }

    // MARK: Access

    /// The shared Apache origin (HTTP and HTTPS).
    func apache() async throws -> ApacheFixture {
        try await Interop.needPeers()
        if apacheTask == nil {
            apacheTask = Task { try await Self.startApache(dir: Self.root + "/main") }
        }
        return try await Self.startOrSkip(apacheTask!)
    }

    /// An Apache origin for the counting tests only.
    func countingApache() async throws -> ApacheFixture {
        try await Interop.needPeers()
        if countingTask == nil {
            countingTask = Task { try await Self.startApache(dir: Self.root + "/counting") }
        }
        return try await Self.startOrSkip(countingTask!)
    }

    /// An Apache origin for the pass-through isolation/counting suite only (its counters see
    /// nothing but that suite's traffic, whatever other suites run meanwhile).
    func passThroughCountingApache() async throws -> ApacheFixture {
        try await Interop.needPeers()
        if passThroughCountingTask == nil {
            passThroughCountingTask = Task { try await Self.startApache(dir: Self.root + "/pt-counting") }
        }
        return try await Self.startOrSkip(passThroughCountingTask!)
    }

    /// The shared squid origin/proxy.
    func squid() async throws -> SquidFixture {
        try await Interop.needPeers()
        if squidTask == nil {
            squidTask = Task { try await Self.startSquid(dir: Self.root + "/main-squid") }
        }
        return try await Self.startOrSkip(squidTask!)
    }

    /// An echo_backend.py of our own (stdlib python only).
    func echoBackend() async throws -> EchoBackendFixture {
        try await Interop.needPeers()
        if echoTask == nil {
            echoTask = Task { try await Self.startEcho(dir: Self.root + "/echo") }
        }
        return try await Self.startOrSkip(echoTask!)
    }

    /// The shared KDC (realm NTLMTEST.TEST). Its start also points this test process's
    /// `KRB5_CONFIG` at it, for the in-process Kerberos tests (see `useForThisProcess`).
    func kdc() async throws -> KDCFixture {
        try await Interop.needKerberosPeers()
        if kdcTask == nil {
            kdcTask = Task {
                let kdc = try await Self.startKDC(dir: Self.root + "/kerberos")
                Self.useForThisProcess(kdc)
                return kdc
            }
        }
        return try await Self.startOrSkip(kdcTask!)
    }

    /// The shared Apache Kerberos origins and parent, accepting the shared KDC's tickets.
    func kerberos() async throws -> KerberosApacheFixture {
        let kdc = try await kdc()
        if kerberosTask == nil {
            kerberosTask = Task { try await Self.startKerberosApache(dir: Self.root + "/kerberos-web", kdc: kdc) }
        }
        return try await Self.startOrSkip(kerberosTask!)
    }

    /// A KDC + Apache pair of the caller's own (a database of its own: the same realm, names
    /// and passwords, other keys), which it may stop; `PrivateKerberos.use` stops both. Not
    /// this process's `KRB5_CONFIG`: for the CLI and other children, given `kdc.environment`.
    func privateKerberos() async throws -> PrivateKerberos {
        try await Interop.needKerberosPeers()
        privateKerberosCount += 1
        let dir = Self.root + "/kerberos-private-\(privateKerberosCount)"
        let task = Task {
            let kdc = try await Self.startKDC(dir: dir + "/kdc")
            do {
                return PrivateKerberos(apache: try await Self.startKerberosApache(dir: dir + "/web", kdc: kdc))
            } catch {
                try? await kdc.stop()
                throw error
            }
        }
        return try await Self.startOrSkip(task)
    }

    /// MIT Kerberos takes its configuration file from `KRB5_CONFIG` in the environment (else
    /// /etc/krb5.conf), read whenever it makes a krb5 context; GSSAPI makes those itself and
    /// has no call that names a configuration file. The in-process tests (`NTLMHTTPClient`
    /// with a Kerberos credential) therefore need it in this very process: set once, here,
    /// when the shared KDC is up and before any of them can ask for a ticket (they all get
    /// the KDC from `kdc()` first). scripts/test exports `KRB5_CONFIG=/dev/null` beforehand,
    /// so this only replaces the value of an existing variable (glibc then swaps one pointer
    /// in place; adding one could move `environ` under a thread reading it). Children never
    /// inherit it (`Subprocess.childEnvironment`).
    private static func useForThisProcess(_ kdc: KDCFixture) {
        setenv("KRB5_CONFIG", kdc.krb5Config, 1)
    }

    /// The private winbindd domain (scripts/interop/samba-domain) the acceptor's domain tests
    /// verify against; only the `.serialized` domain suite uses it, so its counters see
    /// nothing else.
    func sambaDomain() async throws -> SambaDomainFixture {
        try await Interop.needPeers()
        if domainTask == nil {
            domainTask = Task {
                let dir = Self.root + "/domain"
                let result = try await Subprocess.run([Interop.script("samba-domain"), "start", dir], timeout: 90)
                guard result.status == 0 else { throw FixtureFailure(what: "samba-domain start \(dir)", result: result) }
                let printed = try await Subprocess.run([Interop.script("samba-domain"), "env", dir], timeout: 30)
                guard printed.status == 0 else { throw FixtureFailure(what: "samba-domain env \(dir)", result: printed) }
                var environment: [String: String] = [:]
                var configFile = ""
                for line in printed.stdout.split(separator: "\n") {
                    let parts = line.split(separator: "=", maxSplits: 1).map(String.init)
                    guard parts.count == 2 else { continue }
                    if parts[0] == "NTLM_AUTH_CONFIGFILE_ARG" { configFile = parts[1] } else { environment[parts[0]] = parts[1] }
                }
                return SambaDomainFixture(dir: dir, helperEnvironment: environment, configFileArgument: configFile)
            }
        }
        return try await Self.startOrSkip(domainTask!)
    }

    /// A start failure fails the test when interop is required, and skips it otherwise (the
    /// peers are installed but cannot run here, e.g. without the rights they need).
    static func startOrSkip<T: Sendable>(_ task: Task<T, Error>) async throws -> T {
        do {
            return try await task.value
        } catch let failure as FixtureFailure {
            try Interop.need(false, "\(failure)")
            throw failure
        }
    }

    // MARK: Starting

    /// Runs `SCRIPT start DIR` and returns the ports it wrote to DIR/ports.env, all of `keys`
    /// present.
    static func startScript(_ script: String, _ dir: String, keys: [String]) async throws -> [String: Int] {
        let result = try await Subprocess.run([Interop.script(script), "start", dir], timeout: 90)
        guard result.status == 0 else { throw FixtureFailure(what: "\(script) start \(dir)", result: result) }
        let ports = readPorts(dir)
        guard keys.allSatisfy({ ports[$0] != nil }) else {
            throw FixtureFailure(what: "\(script) (no \(keys) in \(dir)/ports.env)", result: result)
        }
        return ports
    }

    private static func startApache(dir: String) async throws -> ApacheFixture {
        let ports = try await startScript("apache-origin", dir, keys: ["HTTP_PORT", "HTTPS_PORT", "APACHE_BACKEND_PORT"])
        return ApacheFixture(dir: dir, httpPort: ports["HTTP_PORT"] ?? 0, httpsPort: ports["HTTPS_PORT"] ?? 0, backendPort: ports["APACHE_BACKEND_PORT"] ?? 0)
    }

    static func startSquid(dir: String) async throws -> SquidFixture {
        let ports = try await startScript("squid-origin", dir, keys: ["SQUID_PORT", "PROXY_PORT", "SQUID_BACKEND_PORT"])
        return SquidFixture(dir: dir, squidPort: ports["SQUID_PORT"] ?? 0, proxyPort: ports["PROXY_PORT"] ?? 0, backendPort: ports["SQUID_BACKEND_PORT"] ?? 0)
    }

    private static func startEcho(dir: String) async throws -> EchoBackendFixture {
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let python = FileManager.default.isExecutableFile(atPath: Interop.python) ? Interop.python : "/usr/bin/python3"
        let process = try BackgroundProcess(
            [python, Interop.script("echo_backend.py"), "--port", "0", "--port-file", dir + "/port", "--pid-file", dir + "/pid"],
            name: "echo-backend")
        let portFile = dir + "/port"
        let port = await process.waitForPortFile(portFile)
        guard let port else { throw FixtureFailure(what: "starting echo_backend.py (log: \(process.log))", result: nil) }
        return EchoBackendFixture(port: port)
    }

    private static func startKDC(dir: String) async throws -> KDCFixture {
        let ports = try await startScript("kdc", dir, keys: ["KDC_PORT"])
        return KDCFixture(dir: dir, port: ports["KDC_PORT"] ?? 0)
    }

    private static func startKerberosApache(dir: String, kdc: KDCFixture) async throws -> KerberosApacheFixture {
        let result = try await Subprocess.run([Interop.script("apache-kerberos"), "start", dir, kdc.dir], timeout: 90)
        guard result.status == 0 else { throw FixtureFailure(what: "apache-kerberos start \(dir) \(kdc.dir)", result: result) }
        let ports = readPorts(dir)
        let keys = ["KRB_ORIGIN_PORT", "KRB_BOTH_PORT", "KRB_PARENT_PORT", "KRB_BACKEND_PORT"]
        guard keys.allSatisfy({ ports[$0] != nil }) else {
            throw FixtureFailure(what: "apache-kerberos (no \(keys) in \(dir)/ports.env)", result: result)
        }
        return KerberosApacheFixture(
            dir: dir, kdc: kdc, originPort: ports["KRB_ORIGIN_PORT"] ?? 0, bothPort: ports["KRB_BOTH_PORT"] ?? 0,
            parentPort: ports["KRB_PARENT_PORT"] ?? 0, backendPort: ports["KRB_BACKEND_PORT"] ?? 0)
    }

    private static func readPorts(_ dir: String) -> [String: Int] {
        let text = (try? String(contentsOfFile: dir + "/ports.env", encoding: .utf8)) ?? ""
        var ports: [String: Int] = [:]
        for line in text.split(separator: "\n") {
            let parts = line.split(separator: "=", maxSplits: 1)
            if parts.count == 2, let value = Int(parts[1].trimmingCharacters(in: .whitespaces)) {
                ports[String(parts[0])] = value
            }
        }
        return ports
    }

    static func counter(_ script: String, _ name: String, _ dir: String, _ extra: [String] = []) async throws -> Int {
        let result = try await Subprocess.run([Interop.script(script), name, dir] + extra, timeout: 30)
        guard result.status == 0, let value = Int(result.stdout.trimmingCharacters(in: .whitespacesAndNewlines)) else {
            throw FixtureFailure(what: "\(script) \(name) \(dir) \(extra.joined(separator: " "))", result: result)
        }
        return value
    }
}
