import Foundation
import Logging
import NIOConcurrencyHelpers
import NIOCore
import NTLM
import NTLMTestSupport
import Testing
@testable import NTLMProxyCore
#if canImport(Glibc)
import Glibc
#endif

/// The pool against a fake `ntlm_auth`: a small Python 3 script that speaks ntlm-server-1
/// and misbehaves on request (argv: mode, state folder). It records each process start and
/// each request it takes in the state folder, so the tests can count processes and retries.
@Suite("ntlm_auth helper pool (fake helper)")
struct NTLMAuthHelperPoolTests {
    /// The fake helper: a script and a state folder of its own for each test.
    final class FakeHelper: Sendable {
        let folder: String

        init() throws {
            folder = NSTemporaryDirectory() + "ntlmproxy-fake-ntlm-auth-" + UUID().uuidString
            try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
            try Self.script.write(toFile: "\(folder)/fake_ntlm_auth.py", atomically: true, encoding: .utf8)
        }

        deinit {
            try? FileManager.default.removeItem(atPath: folder)
        }

        func configuration(_ mode: String, maximumHelpers: Int = 4, queueLimit: Int = 64, timeout: TimeAmount = .seconds(20),
                           requireGroup: String? = nil) -> NTLMAuthHelperConfiguration {
            let python = FileManager.default.isExecutableFile(atPath: "/usr/bin/python3") ? "/usr/bin/python3" : "python3"
            return NTLMAuthHelperConfiguration(command: [python, "\(folder)/fake_ntlm_auth.py", mode, folder], maximumHelpers: maximumHelpers,
                                               queueLimit: queueLimit, timeout: timeout, requireGroup: requireGroup,
                                               environment: ["PYTHONDONTWRITEBYTECODE": "1"])
        }

        /// Pids of the helper processes started so far.
        var startedPIDs: [Int32] {
            let names = (try? FileManager.default.contentsOfDirectory(atPath: folder)) ?? []
            return names.filter { $0.hasPrefix("started-") }.compactMap { Int32($0.dropFirst("started-".count)) }.sorted()
        }

        /// The pid of the helper that took each request, in order.
        var requestPIDs: [Int32] {
            let text = (try? String(contentsOfFile: "\(folder)/requests", encoding: .utf8)) ?? ""
            return text.split(separator: "\n").compactMap { Int32($0) }
        }

        /// Lets every helper in "hold" mode answer.
        func release() {
            _ = FileManager.default.createFile(atPath: "\(folder)/release", contents: Data())
        }

        static let script = #"""
            import os, sys, time

            mode, folder = sys.argv[1], sys.argv[2]
            pid = os.getpid()
            open(os.path.join(folder, "started-%d" % pid), "w").close()

            def first(tag):
                # True for the first process of this test to get here.
                try:
                    os.close(os.open(os.path.join(folder, tag), os.O_CREAT | os.O_EXCL | os.O_WRONLY))
                    return True
                except FileExistsError:
                    return False

            def answer(*lines):
                sys.stdout.write("".join(line + "\n" for line in lines) + ".\n")
                sys.stdout.flush()

            def ok():
                answer("Authenticated: Yes", "User-Session-Key: %032X" % pid)

            fields = {}
            while True:
                line = sys.stdin.readline()
                if not line:
                    sys.exit(0)
                line = line.rstrip("\n")
                if line != ".":
                    key, _, value = line.partition(": ")
                    fields[key.rstrip(":")] = value
                    continue
                request, fields = fields, {}
                if not request:
                    answer("Error: No username supplied!")
                    continue
                with open(os.path.join(folder, "requests"), "a") as log:
                    log.write("%d\n" % pid)
                if "LANMAN-Challenge" not in request and "Password" not in request:
                    answer("Error: No password supplied!")
                elif request.get("Username") == "wrong":
                    # As ntlm_auth does: a failure ends with two "." lines.
                    sys.stdout.write("Authenticated: No\nAuthentication-Error: When trying to update a password, this return status "
                                     "indicates that the value provided as the current password is not correct.\n.\n.\n")
                    sys.stdout.flush()
                elif mode == "ok":
                    ok()
                elif mode == "hold":
                    while not os.path.exists(os.path.join(folder, "release")):
                        time.sleep(0.01)
                    ok()
                elif mode == "sleep" or (mode == "sleep-once" and first("slept")):
                    time.sleep(3600)
                elif mode == "exit" or (mode == "exit-once" and first("exited")):
                    os._exit(3)
                elif mode == "garbage":
                    sys.stdout.buffer.write(b"\x00\xff\xfe binary \x1b[2J\n.\n")
                    sys.stdout.flush()
                elif mode == "fds":
                    # The descriptors this process has open besides 0-2 (and the one listing them).
                    names = os.listdir("/proc/self/fd")
                    extra = [name for name in names if int(name) > 2 and os.path.exists("/proc/self/fd/" + name)]
                    answer("Authenticated: Yes", "User-Session-Key: %032X" % len(extra))
                elif mode == "chatty":
                    sys.stderr.write("Got 'Password: %s' from squid\n" % request.get("Password", ""))
                    sys.stderr.write("diagnostic line %s\n" % ("x" * 5000))
                    sys.stderr.write(("a" * 100 + "\n") * 2000)
                    sys.stderr.flush()
                    ok()
                else:
                    ok()
            """#
    }

    static func makeLogger(_ lines: NIOLockedValueBox<[String]> = NIOLockedValueBox([])) -> Logger {
        Logger(label: "test.ntlm-auth-pool") { _ in CapturingLogHandler(lines: lines) }
    }

    /// A real verification request, from our own initiator and acceptor.
    static func verificationRequest(user: String = "alice") throws -> NTLMVerificationRequest {
        var initiator = NTLMInitiator(credentials: NTLMCredentials(user: user, domain: "NTLMTEST", workstation: "WS1", password: "Alice-Pass1"))
        var acceptor = NTLMAcceptor(policy: NTLMAcceptorPolicy(netbiosDomain: "NTLMTEST"))
        let type2 = try acceptor.challenge(negotiate: initiator.negotiate())
        return try acceptor.beginVerification(authenticate: initiator.authenticate(challenge: type2))
    }

    /// The pid the fake put in the session key.
    static func pid(of user: NTLMVerifiedUser) -> Int32? {
        user.sessionBaseKey.flatMap { Int32(HexCoding.encode($0.bytes), radix: 16) }
    }

    /// Polls until `condition` holds (true) or a generous cap passes (false). Not a timing
    /// assertion: the cap only keeps a broken pool from hanging the test run.
    static func eventually(_ condition: () -> Bool) async -> Bool {
        for _ in 0..<2000 {
            if condition() { return true }
            try? await Task.sleep(for: .milliseconds(10))
        }
        return condition()
    }

    /// Whether the process is gone and reaped (a zombie still answers kill 0).
    static func isGone(_ pid: Int32) -> Bool {
        kill(pid, 0) == -1 && errno == ESRCH
    }

    static func isUnavailable(_ error: NTLMRejection, saying text: String) -> Bool {
        if case .verifierUnavailable(let why) = error { return why.contains(text) }
        return false
    }

    // MARK: answers

    @Test func successGivesTheUserAndSessionKey() async throws {
        let fake = try FakeHelper()
        let pool = NTLMAuthHelperPool(configuration: fake.configuration("ok"), logger: Self.makeLogger())
        try await pool.start()
        let verified = try await pool.verify(Self.verificationRequest())
        await pool.shutdown()
        #expect(verified.user == "alice")
        #expect(verified.domain == "NTLMTEST")
        #expect(verified.sessionBaseKey?.bytes.count == 16)
        #expect(Self.pid(of: verified) == fake.startedPIDs.first)
        // start() checked the helper with the harmless probe and kept it.
        #expect(fake.startedPIDs.count == 1)
        #expect(fake.requestPIDs.count == 1)
        let statistics = pool.statistics
        #expect(statistics.requests == 1)
        #expect(statistics.helpersStarted == 1)
        #expect(statistics.rejections == 0)
    }

    @Test func aFailedLogonLeavesTheHelperInStep() async throws {
        let fake = try FakeHelper()
        let pool = NTLMAuthHelperPool(configuration: fake.configuration("ok", maximumHelpers: 1), logger: Self.makeLogger())
        await #expect(throws: NTLMRejection.invalidResponse(domain: "NTLMTEST", user: "wrong")) {
            try await pool.verifyPassword(user: "wrong", domain: "NTLMTEST", password: "nope")
        }
        // The second "." of that answer must not be taken as (part of) the next answer.
        for _ in 0..<3 {
            let verified = try await pool.verify(Self.verificationRequest())
            #expect(verified.user == "alice")
        }
        let plain = try await pool.verifyPassword(user: "alice", domain: "NTLMTEST", password: "Alice-Pass1")
        #expect(plain == NTLMVerifiedUser(user: "alice", domain: "NTLMTEST", sessionBaseKey: nil))
        await pool.shutdown()
        #expect(fake.startedPIDs.count == 1)
        #expect(pool.statistics.rejections == 1)
        #expect(pool.statistics.requests == 5)
        #expect(pool.statistics.helperRestarts == 0)
    }

    // MARK: limits

    @Test func concurrencyIsBoundedByMaximumHelpers() async throws {
        let fake = try FakeHelper()
        let pool = NTLMAuthHelperPool(configuration: fake.configuration("hold", maximumHelpers: 2), logger: Self.makeLogger())
        let requests = try (0..<5).map { _ in try Self.verificationRequest() }
        let results = Task {
            await withTaskGroup(of: Int32?.self) { group in
                for request in requests {
                    group.addTask { (try? await pool.verify(request)).flatMap(Self.pid(of:)) }
                }
                return await group.reduce(into: [Int32?]()) { $0.append($1) }
            }
        }
        #expect(await Self.eventually { pool.statistics.busyHelpers == 2 && pool.statistics.waitingRequests == 3 })
        // Both helpers hold a request; nobody started a third.
        #expect(await Self.eventually { fake.requestPIDs.count == 2 })
        #expect(fake.startedPIDs.count == 2)
        fake.release()
        let pids = await results.value
        await pool.shutdown()
        #expect(pids.count == 5)
        #expect(pids.allSatisfy { $0 != nil })
        #expect(Set(pids.compactMap { $0 }).count <= 2)
        #expect(fake.startedPIDs.count == 2)
        #expect(pool.statistics.helpersStarted == 2)
    }

    @Test func aFullQueueRefusesAtOnceAsBusy() async throws {
        let fake = try FakeHelper()
        let pool = NTLMAuthHelperPool(configuration: fake.configuration("hold", maximumHelpers: 1, queueLimit: 1), logger: Self.makeLogger())
        let first = Task { try await pool.verify(Self.verificationRequest()) }
        #expect(await Self.eventually { pool.statistics.busyHelpers == 1 })
        let second = Task { try await pool.verify(Self.verificationRequest()) }
        #expect(await Self.eventually { pool.statistics.waitingRequests == 1 })
        do {
            _ = try await pool.verify(Self.verificationRequest())
            Issue.record("a third request should be refused")
        } catch let error as NTLMRejection {
            #expect(Self.isUnavailable(error, saying: "busy"))
        }
        #expect(pool.statistics.busyRefusals == 1)
        fake.release()
        #expect(try await first.value.user == "alice")
        #expect(try await second.value.user == "alice")
        await pool.shutdown()
        #expect(fake.startedPIDs.count == 1)
    }

    // MARK: failures

    @Test func aTimeoutKillsTheHelperAndAFreshOneTakesOver() async throws {
        let fake = try FakeHelper()
        // The timeout also bounds the fresh helper's answer, which includes starting Python; on a
        // loaded CI machine (two cores, every suite at once) that took over 200 ms.
        let pool = NTLMAuthHelperPool(configuration: fake.configuration("sleep-once", maximumHelpers: 1, timeout: .seconds(3)),
                                      logger: Self.makeLogger())
        do {
            _ = try await pool.verify(Self.verificationRequest())
            Issue.record("the sleeping helper should time out")
        } catch let error as NTLMRejection {
            #expect(Self.isUnavailable(error, saying: "did not answer"))
        }
        let slow = try #require(fake.startedPIDs.first)
        #expect(Self.isGone(slow))
        #expect(pool.statistics.timeouts == 1)
        let verified = try await pool.verify(Self.verificationRequest())
        let fresh = try #require(Self.pid(of: verified))
        #expect(fresh != slow)
        await pool.shutdown()
        #expect(fake.startedPIDs.count == 2)
        #expect(pool.statistics.helpersStarted == 2)
    }

    @Test func aCrashUnderARequestIsRetriedOnAFreshHelper() async throws {
        let fake = try FakeHelper()
        let pool = NTLMAuthHelperPool(configuration: fake.configuration("exit-once", maximumHelpers: 1), logger: Self.makeLogger())
        let verified = try await pool.verify(Self.verificationRequest())
        await pool.shutdown()
        let pids = fake.requestPIDs
        #expect(pids.count == 2)
        #expect(Set(pids).count == 2)
        #expect(Self.pid(of: verified) == pids.last)
        #expect(pool.statistics.helpersStarted == 2)
        #expect(pool.statistics.helperRestarts == 1)
        #expect(pool.statistics.failures == 0)
    }

    @Test func aHelperThatAlwaysCrashesFailsAfterExactlyOneRetry() async throws {
        let fake = try FakeHelper()
        let pool = NTLMAuthHelperPool(configuration: fake.configuration("exit", maximumHelpers: 2), logger: Self.makeLogger())
        do {
            _ = try await pool.verifyPassword(user: "alice", domain: "NTLMTEST", password: "Alice-Pass1")
            Issue.record("a crashing helper cannot verify")
        } catch {
            #expect(Self.isUnavailable(error, saying: "exited"))
            #expect(!error.isCredentialFailure)
        }
        #expect(fake.requestPIDs.count == 2)
        #expect(pool.statistics.helpersStarted == 2)
        #expect(pool.statistics.failures == 1)
        for pid in fake.startedPIDs { #expect(Self.isGone(pid)) }
        await pool.shutdown()
    }

    @Test func garbageFromAHelperIsNotAnAnswer() async throws {
        let fake = try FakeHelper()
        let pool = NTLMAuthHelperPool(configuration: fake.configuration("garbage", maximumHelpers: 1), logger: Self.makeLogger())
        await #expect(throws: NTLMRejection.verifierUnavailable("ntlm_auth answer: line is not text")) {
            try await pool.verifyPassword(user: "alice", domain: "NTLMTEST", password: "x")
        }
        let first = try #require(fake.startedPIDs.first)
        #expect(Self.isGone(first))
        await pool.shutdown()
    }

    @Test func anIdleHelperThatDiesIsDropped() async throws {
        let fake = try FakeHelper()
        let pool = NTLMAuthHelperPool(configuration: fake.configuration("ok", maximumHelpers: 1), logger: Self.makeLogger())
        _ = try await pool.verify(Self.verificationRequest())
        let first = try #require(fake.startedPIDs.first)
        kill(first, SIGKILL)
        #expect(await Self.eventually { pool.statistics.runningHelpers == 0 })
        #expect(Self.isGone(first))
        _ = try await pool.verify(Self.verificationRequest())
        await pool.shutdown()
        #expect(fake.startedPIDs.count == 2)
        #expect(pool.statistics.helperRestarts == 0)
    }

    @Test func aMissingProgramIsUnavailable() async throws {
        let pool = NTLMAuthHelperPool(configuration: NTLMAuthHelperConfiguration(command: ["/nonexistent/ntlm_auth"]), logger: Self.makeLogger())
        do {
            try await pool.check()
            Issue.record("check should fail")
        } catch {
            #expect(Self.isUnavailable(error, saying: "cannot start /nonexistent/ntlm_auth"))
        }
        await #expect(throws: NTLMRejection.self) { try await pool.verify(Self.verificationRequest()) }
        #expect(pool.statistics.failures == 2)
        #expect(pool.statistics.runningHelpers == 0)
        await pool.shutdown()
    }

    @Test func shutdownKillsAndReapsEveryHelper() async throws {
        let fake = try FakeHelper()
        let pool = NTLMAuthHelperPool(configuration: fake.configuration("hold", maximumHelpers: 3), logger: Self.makeLogger())
        let requests = (0..<4).map { _ in
            Task { () -> NTLMRejection? in
                do {
                    _ = try await pool.verify(Self.verificationRequest())
                    return nil
                } catch let error as NTLMRejection {
                    return error
                }
            }
        }
        #expect(await Self.eventually { pool.statistics.busyHelpers == 3 && pool.statistics.waitingRequests == 1 })
        #expect(await Self.eventually { fake.requestPIDs.count == 3 })
        let pids = fake.startedPIDs
        #expect(pids.count == 3)
        await pool.shutdown()
        for pid in pids { #expect(Self.isGone(pid)) }
        for request in requests {
            let error = try #require(await request.value)
            #expect(Self.isUnavailable(error, saying: "shut down"))
        }
        await #expect(throws: NTLMRejection.verifierUnavailable("ntlm_auth helper pool shut down")) {
            try await pool.verifyPassword(user: "alice", domain: "NTLMTEST", password: "x")
        }
    }

    @Test func noSecretReachesTheLog() async throws {
        let fake = try FakeHelper()
        let lines = NIOLockedValueBox<[String]>([])
        let pool = NTLMAuthHelperPool(configuration: fake.configuration("chatty", maximumHelpers: 1), logger: Self.makeLogger(lines))
        let request = try Self.verificationRequest()
        let verified = try await pool.verify(request)
        _ = try await pool.verifyPassword(user: "alice", domain: "NTLMTEST", password: "Secret-Pass9")
        await #expect(throws: NTLMRejection.invalidResponse(domain: "NTLMTEST", user: "wrong")) {
            try await pool.verifyPassword(user: "wrong", domain: "NTLMTEST", password: "Secret-Pass9")
        }
        await pool.shutdown()
        let log = lines.withLockedValue { $0 }.joined(separator: "\n")
        // The helper's stderr was drained (200 KB did not stall it) and logged at debug...
        #expect(log.contains("diagnostic line"))
        // ... without the line that echoed the request, and no key or response anywhere.
        #expect(!log.contains("Secret-Pass9"))
        let key = try #require(verified.sessionBaseKey)
        #expect(!log.lowercased().contains(HexCoding.encode(key.bytes)))
        #expect(!log.contains(HexCoding.encode(Array(request.ntChallengeResponse.prefix(16)))))
    }

    #if os(Linux)
    /// Only the three pipes reach the helper: none of the test process's sockets, pipes or
    /// files (and with several helpers, none of the other helpers' pipes).
    @Test func aHelperInheritsNothingButItsStandardStreams() async throws {
        let fake = try FakeHelper()
        let pool = NTLMAuthHelperPool(configuration: fake.configuration("fds", maximumHelpers: 2), logger: Self.makeLogger())
        let requests = try (0..<4).map { _ in try Self.verificationRequest() }
        let counts = await withTaskGroup(of: Int32?.self) { group in
            for request in requests {
                group.addTask { (try? await pool.verify(request)).flatMap(Self.pid(of:)) }
            }
            return await group.reduce(into: [Int32?]()) { $0.append($1) }
        }
        await pool.shutdown()
        #expect(counts == [0, 0, 0, 0])
    }
    #endif

    @Test func configurationBuildsTheCommandLine() {
        #expect(NTLMAuthHelperConfiguration().arguments == ["/usr/bin/ntlm_auth", "--helper-protocol=ntlm-server-1"])
        let configured = NTLMAuthHelperConfiguration(command: ["ntlm_auth", "--configfile=/x/smb.conf", "--helper-protocol=ntlm-server-1"],
                                                     requireGroup: "NTLMTEST\\webusers")
        #expect(configured.arguments == ["ntlm_auth", "--configfile=/x/smb.conf", "--helper-protocol=ntlm-server-1",
                                         "--require-membership-of=NTLMTEST\\webusers"])
    }

    // MARK: the bookkeeping alone

    @Test func stateMachineHandsSlotsOnFirstInFirstOut() {
        var machine = HelperPoolStateMachine(maximumHelpers: 1, queueLimit: 2)
        #expect(machine.acquire(waiter: 1) == .granted(.start))
        let startedFirst = machine.started(helper: 100)
        #expect(startedFirst)
        #expect(machine.acquire(waiter: 2) == .wait)
        #expect(machine.acquire(waiter: 3) == .wait)
        #expect(machine.acquire(waiter: 4) == .granted(.refused(.busy)))
        // The helper finishes: the first waiter gets it.
        let released = machine.release(helper: 100)
        #expect(released.kept)
        #expect(released.handoff == .init(waiter: 2, grant: .helper(100)))
        // It dies under waiter 2's request, which restarts it in the same slot.
        let restarted = machine.restart(helper: 100)
        #expect(restarted)
        #expect(machine.slots == 1)
        // The restart fails: the slot goes to waiter 3.
        #expect(machine.startFailed() == .init(waiter: 3, grant: .start))
        let startedSecond = machine.started(helper: 101)
        #expect(startedSecond)
        #expect(machine.release(helper: 101).handoff == nil)
        #expect(machine.idle == [101])
        // An idle helper that dies frees its slot.
        let closed = machine.closed(helper: 101)
        #expect(closed.wasIdle)
        #expect(closed.handoff == nil)
        #expect(machine.slots == 0)
        #expect(machine.acquire(waiter: 5) == .granted(.start))
        let (helpers, waiters) = machine.shutdown()
        #expect(helpers.isEmpty && waiters.isEmpty)
        let startedAfterShutdown = machine.started(helper: 102)
        #expect(!startedAfterShutdown)
        #expect(machine.acquire(waiter: 6) == .granted(.refused(.shutDown)))
    }

    @Test func stateMachineCancelsWaiters() {
        var machine = HelperPoolStateMachine(maximumHelpers: 1, queueLimit: 4)
        _ = machine.acquire(waiter: 1)
        _ = machine.started(helper: 10)
        #expect(machine.acquire(waiter: 2) == .wait)
        #expect(machine.acquire(waiter: 3) == .wait)
        let cancelled = machine.cancel(waiter: 2)
        #expect(cancelled)
        let cancelledTwice = machine.cancel(waiter: 2)
        #expect(!cancelledTwice)
        #expect(machine.discard(helper: 10) == .init(waiter: 3, grant: .start))
        #expect(machine.discard(helper: 10) == nil)
    }
}
