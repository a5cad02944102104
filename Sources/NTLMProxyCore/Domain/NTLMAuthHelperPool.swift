import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import NTLM

/// Verifies NTLM logons (and HTTP Basic passwords) against a Windows or Samba domain through
/// a pool of long-lived Samba `ntlm_auth --helper-protocol=ntlm-server-1` processes, the
/// winbind client that squid uses too.
///
/// - Helpers start on demand (or one at `start()`), serve one request at a time, and there
///   are never more than `maximumHelpers` processes.
/// - Requests wait first in, first out for a free helper, at most `queueLimit` of them; one
///   more is refused at once with `.verifierUnavailable` saying the pool is busy (the HTTP
///   layer answers 503 with Retry-After).
/// - A helper that does not answer within `timeout` is killed, and its request fails with
///   `.verifierUnavailable`; a fresh helper replaces it when one is next needed.
/// - A helper that exits while a request is in flight is replaced at once and that request
///   is sent once more to the fresh helper (a dead helper is not a failed logon); if that one
///   dies too, the request fails with `.verifierUnavailable`. A helper that dies while idle
///   is dropped.
/// - The domain's answer maps to `NTLMRejection` as described in
///   `NTLMServerHelperAnswer.outcome(for:requireGroup:)`.
///
/// No password, challenge response or session key appears in a log line or error.
public final class NTLMAuthHelperPool: NTLMVerifier, Sendable {
    /// Counters for logs and tests.
    public struct Statistics: Hashable, Sendable {
        /// Verifications asked for (`verify`, `verifyPassword`).
        public var requests = 0
        /// Logons refused: by the domain (wrong password, unknown user, access denied), or
        /// as malformed before reaching it.
        public var rejections = 0
        /// Requests that ended in `.verifierUnavailable` (busy refusals and timeouts included).
        public var failures = 0
        /// Requests refused at once because all helpers were busy and the queue full.
        public var busyRefusals = 0
        /// Requests whose helper did not answer in time.
        public var timeouts = 0
        /// Helper processes started.
        public var helpersStarted = 0
        /// Helpers lost in service and replaced: exited under a request, killed after a
        /// timeout, or out of step with the protocol.
        public var helperRestarts = 0
        /// Helper processes running or being started now.
        public var runningHelpers = 0
        /// Helpers serving a request now.
        public var busyHelpers = 0
        /// Requests waiting for a helper now.
        public var waitingRequests = 0
    }

    private struct State {
        var machine: HelperPoolStateMachine
        var helpers: [Int: NTLMAuthHelper] = [:]
        var waiters: [Int: CheckedContinuation<HelperPoolStateMachine.Grant, Never>] = [:]
        var nextID = 1
        var statistics = Statistics()

        mutating func makeID() -> Int {
            defer { nextID += 1 }
            return nextID
        }

        /// Takes the continuation of a handoff, to resume once the lock is released.
        mutating func resumption(_ handoff: HelperPoolStateMachine.Handoff?) -> Resumption? {
            guard let handoff, let continuation = waiters.removeValue(forKey: handoff.waiter) else { return nil }
            return Resumption(continuation: continuation, grant: handoff.grant)
        }
    }

    private struct Resumption {
        var continuation: CheckedContinuation<HelperPoolStateMachine.Grant, Never>
        var grant: HelperPoolStateMachine.Grant
        func resume() { continuation.resume(returning: grant) }
    }

    public let configuration: NTLMAuthHelperConfiguration
    private let eventLoopGroup: any EventLoopGroup
    private let logger: Logger
    private let state: NIOLockedValueBox<State>

    public init(configuration: NTLMAuthHelperConfiguration, eventLoopGroup: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton,
                logger: Logger) {
        self.configuration = configuration
        self.eventLoopGroup = eventLoopGroup
        self.logger = logger
        self.state = NIOLockedValueBox(State(machine: HelperPoolStateMachine(
            maximumHelpers: configuration.helperLimit, queueLimit: configuration.waitingLimit)))
    }

    /// A pool dropped without `shutdown()` still does not leave processes behind: closing
    /// their pipes gets them killed and reaped.
    deinit {
        let helpers = state.withLockedValue { Array($0.helpers.values) }
        for helper in helpers { helper.terminate() }
    }

    /// The counters now.
    public var statistics: Statistics {
        state.withLockedValue { state in
            var statistics = state.statistics
            statistics.runningHelpers = state.machine.slots
            statistics.busyHelpers = state.machine.busy.count
            statistics.waitingRequests = state.machine.waiters.count
            return statistics
        }
    }

    /// Checks a Type 3's proof with the domain.
    public func verify(_ request: NTLMVerificationRequest) async throws(NTLMRejection) -> NTLMVerifiedUser {
        try await verify(NTLMServerHelperRequest(request))
    }

    /// Checks a plaintext password (HTTP Basic) with the domain. ntlm_auth gives no reason
    /// for a refusal here, so every refusal is `.invalidResponse`.
    public func verifyPassword(user: String, domain: String, password: Password) async throws(NTLMRejection) -> NTLMVerifiedUser {
        try await verify(NTLMServerHelperRequest(user: user, domain: domain, password: password))
    }

    /// Makes sure a helper is running (starting one if none is idle) and answers: it is sent
    /// the request `.` alone, which ntlm_auth answers with `Error: No username supplied!`
    /// without a logon attempt. The helper stays in the pool.
    public func check() async throws(NTLMRejection) {
        do {
            _ = try await converse(NTLMServerHelperRequest.probe, isProbe: true)
        } catch {
            count { $0.failures += 1 }
            throw error
        }
    }

    /// Starts one helper ahead of the first request and checks that it answers.
    public func start() async throws(NTLMRejection) {
        try await check()
    }

    /// Kills every helper (and waits until they are reaped), refuses waiting and future
    /// requests with `.verifierUnavailable`. Requests in flight fail the same way.
    public func shutdown() async {
        let (helpers, waiters) = state.withLockedValue { state -> ([NTLMAuthHelper], [CheckedContinuation<HelperPoolStateMachine.Grant, Never>]) in
            let (helperIDs, waiterIDs) = state.machine.shutdown()
            let helpers = helperIDs.compactMap { state.helpers.removeValue(forKey: $0) }
            let waiters = waiterIDs.compactMap { state.waiters.removeValue(forKey: $0) }
            return (helpers, waiters)
        }
        for waiter in waiters { waiter.resume(returning: .refused(.shutDown)) }
        for helper in helpers { helper.terminate() }
        for helper in helpers { try? await helper.reaped.get() }
        logger.debug("ntlm_auth helper pool shut down", metadata: ["helpers": "\(helpers.count)"])
    }

    // MARK: one request

    private func verify(_ request: NTLMServerHelperRequest) async throws(NTLMRejection) -> NTLMVerifiedUser {
        count { $0.requests += 1 }
        let bytes: [UInt8]
        do {
            bytes = try request.encoded()
        } catch {
            count { $0.rejections += 1 }
            throw Self.rejection(for: error)
        }
        let answer: NTLMServerHelperAnswer
        do {
            answer = try await converse(bytes, isProbe: false)
        } catch {
            count { $0.failures += 1 }
            throw error
        }
        let requireGroup = configuration.requireGroup.flatMap { $0.isEmpty ? nil : $0 }
        switch answer.outcome(for: request, requireGroup: requireGroup) {
        case .success(let user):
            logger.debug("ntlm_auth verified a logon", metadata: ["user": "\(request.domain)\\\(request.user)"])
            return user
        case .failure(let rejection):
            count { statistics in
                if case .verifierUnavailable = rejection { statistics.failures += 1 } else { statistics.rejections += 1 }
            }
            logger.debug("ntlm_auth refused a logon", metadata: ["reason": "\(rejection)"])
            throw rejection
        }
    }

    /// Sends `bytes` to a helper and returns its answer, retrying once on a fresh helper when
    /// the first one exits under the request.
    private func converse(_ bytes: [UInt8], isProbe: Bool) async throws(NTLMRejection) -> NTLMServerHelperAnswer {
        var grant = await acquire()
        var retried = false
        while true {
            let helper: NTLMAuthHelper
            switch grant {
            case .refused(let refusal):
                throw rejection(for: refusal)
            case .helper(let id):
                guard let known = state.withLockedValue({ $0.helpers[id] }) else { throw rejection(for: .shutDown) }
                helper = known
            case .start:
                helper = try await startHelper()
            }

            switch await helper.exchange(bytes, timeout: configuration.requestTimeout) {
            case .answered(let answer):
                if answer.leavesHelperOutOfStep && !isProbe {
                    logger.debug("ntlm_auth answered with an error; replacing the helper", metadata: ["pid": "\(helper.pid)"])
                    await retire(helper, restart: false)
                } else {
                    release(helper)
                }
                return answer
            case .timedOut:
                let milliseconds = configuration.requestTimeout.nanoseconds / 1_000_000
                logger.warning("ntlm_auth did not answer in time; killing it", metadata: ["pid": "\(helper.pid)", "timeout-ms": "\(milliseconds)"])
                count { $0.timeouts += 1 }
                await retire(helper, restart: false)
                throw .verifierUnavailable("ntlm_auth did not answer within \(milliseconds) ms")
            case .failed(let error):
                logger.warning("ntlm_auth wrote something that is not an answer; replacing it", metadata: ["pid": "\(helper.pid)", "error": "\(error)"])
                await retire(helper, restart: false)
                throw .verifierUnavailable("\(error)")
            case .exited:
                if retried {
                    await retire(helper, restart: false)
                } else if await retire(helper, restart: true) {
                    logger.info("ntlm_auth exited under a request; retrying on a fresh helper", metadata: ["pid": "\(helper.pid)"])
                    retried = true
                    grant = .start
                    continue
                }
                logger.warning("ntlm_auth exited under a request", metadata: ["pid": "\(helper.pid)", "retried": "\(retried)"])
                if state.withLockedValue({ $0.machine.isShutDown }) { throw rejection(for: .shutDown) }
                throw .verifierUnavailable(retried ? "ntlm_auth exited before answering, twice" : "ntlm_auth exited before answering")
            }
        }
    }

    /// A grant: an idle helper, a slot to start one in, or a refusal; waits in the queue when
    /// all helpers are busy.
    private func acquire() async -> HelperPoolStateMachine.Grant {
        let id = state.withLockedValue { $0.makeID() }
        let grant = await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<HelperPoolStateMachine.Grant, Never>) in
                let immediate = state.withLockedValue { state -> HelperPoolStateMachine.Grant? in
                    // Cancelled before it could be queued: onCancel found nothing to remove.
                    if Task.isCancelled { return .refused(.cancelled) }
                    switch state.machine.acquire(waiter: id) {
                    case .granted(let grant):
                        return grant
                    case .wait:
                        state.waiters[id] = continuation
                        return nil
                    }
                }
                if let immediate { continuation.resume(returning: immediate) }
            }
        } onCancel: {
            let continuation = state.withLockedValue { state in
                state.machine.cancel(waiter: id) ? state.waiters.removeValue(forKey: id) : nil
            }
            continuation?.resume(returning: .refused(.cancelled))
        }
        if grant == .refused(.busy) {
            count { $0.busyRefusals += 1 }
            logger.notice("ntlm_auth helpers all busy and the queue full; refusing a request",
                           metadata: ["helpers": "\(configuration.helperLimit)", "queue": "\(configuration.waitingLimit)"])
        }
        return grant
    }

    /// Starts a helper in a slot granted by `.start`.
    private func startHelper() async throws(NTLMRejection) -> NTLMAuthHelper {
        let id = state.withLockedValue { $0.makeID() }
        let helper: NTLMAuthHelper
        do {
            helper = try await NTLMAuthHelper.start(id: id, arguments: configuration.arguments, environment: configuration.environment,
                                                    eventLoop: eventLoopGroup.next(), logger: logger)
        } catch {
            let resumption = state.withLockedValue { $0.resumption($0.machine.startFailed()) }
            resumption?.resume()
            logger.error("cannot start ntlm_auth", metadata: ["error": "\(error)"])
            throw .verifierUnavailable("cannot start ntlm_auth: \(error)")
        }
        let accepted = state.withLockedValue { state -> Bool in
            guard state.machine.started(helper: id) else { return false }
            state.helpers[id] = helper
            state.statistics.helpersStarted += 1
            return true
        }
        guard accepted else {
            helper.terminate()
            try? await helper.reaped.get()
            throw rejection(for: .shutDown)
        }
        helper.reaped.whenComplete { [weak self] _ in self?.helperEnded(id) }
        return helper
    }

    /// A helper finished a request and can take another. One whose pipes closed meanwhile
    /// (it exited right after answering) is dropped here: its end may already have been
    /// reported while it was busy.
    private func release(_ helper: NTLMAuthHelper) {
        let (kept, resumption) = state.withLockedValue { state -> (Bool, Resumption?) in
            guard helper.isActive else {
                state.helpers[helper.id] = nil
                return (false, state.resumption(state.machine.discard(helper: helper.id)))
            }
            let (kept, handoff) = state.machine.release(helper: helper.id)
            if !kept { state.helpers[helper.id] = nil }
            return (kept, state.resumption(handoff))
        }
        if !kept { helper.terminate() }
        resumption?.resume()
    }

    /// Kills a busy helper and waits until it is reaped; then either keeps its slot for a
    /// restart (returns true) or frees it. Never more processes than `maximumHelpers`.
    @discardableResult
    private func retire(_ helper: NTLMAuthHelper, restart: Bool) async -> Bool {
        helper.terminate()
        try? await helper.reaped.get()
        let (restarting, resumption) = state.withLockedValue { state -> (Bool, Resumption?) in
            state.helpers[helper.id] = nil
            if !state.machine.isShutDown { state.statistics.helperRestarts += 1 }
            if restart, state.machine.restart(helper: helper.id) { return (true, nil) }
            return (false, state.resumption(state.machine.discard(helper: helper.id)))
        }
        resumption?.resume()
        return restarting
    }

    /// A helper's process was reaped: if it was idle, it died on its own and is dropped.
    private func helperEnded(_ id: Int) {
        let (wasIdle, resumption) = state.withLockedValue { state -> (Bool, Resumption?) in
            let (wasIdle, handoff) = state.machine.closed(helper: id)
            if wasIdle { state.helpers[id] = nil }
            return (wasIdle, state.resumption(handoff))
        }
        if wasIdle { logger.info("idle ntlm_auth helper exited; dropped") }
        resumption?.resume()
    }

    private func count(_ update: (inout Statistics) -> Void) {
        state.withLockedValue { update(&$0.statistics) }
    }

    private func rejection(for refusal: HelperPoolStateMachine.Refusal) -> NTLMRejection {
        switch refusal {
        case .busy:
            return .verifierUnavailable("ntlm_auth helpers busy: \(configuration.helperLimit) working, \(configuration.waitingLimit) waiting")
        case .shutDown:
            return .verifierUnavailable("ntlm_auth helper pool shut down")
        case .cancelled:
            return .verifierUnavailable("request cancelled while waiting for an ntlm_auth helper")
        }
    }

    /// A request that cannot be put to the helper is the client's malformed message.
    static func rejection(for error: NTLMServerHelperError) -> NTLMRejection {
        switch error {
        case .invalidValue(let field): return .malformed(.invalidString(field: field))
        case .invalidLength(let field, let length): return .malformed(.invalidFieldLength(field: field, length: length))
        case .missingResponse: return .malformed(.invalidFieldLength(field: "NtChallengeResponse", length: 0))
        default: return .verifierUnavailable("\(error)")
        }
    }
}
