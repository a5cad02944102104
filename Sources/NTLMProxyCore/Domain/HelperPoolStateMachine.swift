/// The bookkeeping of `NTLMAuthHelperPool` as a value-type state machine over helper and
/// waiter ids: which helpers are idle or busy, how many slots are reserved for helpers being
/// started, and who waits (first in, first out). The pool performs what it returns (start a
/// helper, resume a waiter, kill helpers) under its lock.
///
/// A slot is a helper process that exists or is being started; there are never more than
/// `maximumHelpers`. A slot given up (its helper died, was killed or failed to start) goes to
/// the first waiter as a permission to start a helper of its own.
struct HelperPoolStateMachine: Hashable, Sendable {
    /// What a request gets: an idle helper, a slot to start one in, or a refusal.
    enum Grant: Hashable, Sendable {
        case helper(Int)
        case start
        case refused(Refusal)
    }

    enum Refusal: Hashable, Sendable {
        /// All helpers busy and the queue full.
        case busy
        case shutDown
        /// The waiting task was cancelled.
        case cancelled
    }

    enum Acquisition: Hashable, Sendable {
        case granted(Grant)
        /// Queued: the grant comes later, through `Handoff`.
        case wait
    }

    /// A waiter to resume with a grant.
    struct Handoff: Hashable, Sendable {
        var waiter: Int
        var grant: Grant
    }

    let maximumHelpers: Int
    let queueLimit: Int
    private(set) var idle: [Int] = []
    private(set) var busy: Set<Int> = []
    private(set) var starting = 0
    private(set) var waiters: [Int] = []
    private(set) var isShutDown = false

    init(maximumHelpers: Int, queueLimit: Int) {
        self.maximumHelpers = max(1, maximumHelpers)
        self.queueLimit = max(0, queueLimit)
    }

    /// Helpers running or being started.
    var slots: Int { idle.count + busy.count + starting }

    /// A request wants a helper.
    mutating func acquire(waiter: Int) -> Acquisition {
        guard !isShutDown else { return .granted(.refused(.shutDown)) }
        if let helper = idle.popLast() {
            busy.insert(helper)
            return .granted(.helper(helper))
        }
        if slots < maximumHelpers {
            starting += 1
            return .granted(.start)
        }
        guard waiters.count < queueLimit else { return .granted(.refused(.busy)) }
        waiters.append(waiter)
        return .wait
    }

    /// A helper started in a slot from `.start` is ready and in use. False after shutdown:
    /// then the slot is gone and the helper must be killed.
    mutating func started(helper: Int) -> Bool {
        starting -= 1
        guard !isShutDown else { return false }
        busy.insert(helper)
        return true
    }

    /// Starting a helper in a slot from `.start` failed: the slot is free again.
    mutating func startFailed() -> Handoff? {
        starting -= 1
        return slotFreed()
    }

    /// A busy helper finished a request and can take another: the first waiter gets it, or it
    /// becomes idle. If it is not busy (after shutdown) it is not kept: `kept` is false and the
    /// caller kills it.
    mutating func release(helper: Int) -> (kept: Bool, handoff: Handoff?) {
        guard busy.contains(helper), !isShutDown else { return (false, nil) }
        if !waiters.isEmpty {
            let waiter = waiters.removeFirst()
            return (true, Handoff(waiter: waiter, grant: .helper(helper)))
        }
        busy.remove(helper)
        idle.append(helper)
        return (true, nil)
    }

    /// A busy helper is gone (died, killed, out of step) and its request is done with it: its
    /// slot is free. No change if it is not busy.
    mutating func discard(helper: Int) -> Handoff? {
        guard busy.remove(helper) != nil else { return nil }
        return slotFreed()
    }

    /// A helper's process ended: if it was idle, its slot is free. A busy helper's end is
    /// handled by its request (`discard` or `restart`), so nothing changes then.
    mutating func closed(helper: Int) -> (wasIdle: Bool, handoff: Handoff?) {
        guard let index = idle.firstIndex(of: helper) else { return (false, nil) }
        idle.remove(at: index)
        return (true, slotFreed())
    }

    /// A busy helper died under a request that will be retried: the request keeps the slot
    /// to start a fresh helper in. False (slot freed, request not retried) after shutdown or
    /// if the helper is not busy.
    mutating func restart(helper: Int) -> Bool {
        guard busy.remove(helper) != nil else { return false }
        guard !isShutDown else { return false }
        starting += 1
        return true
    }

    /// A waiting task was cancelled: true if it was still waiting (then it is removed).
    mutating func cancel(waiter: Int) -> Bool {
        guard let index = waiters.firstIndex(of: waiter) else { return false }
        waiters.remove(at: index)
        return true
    }

    /// Refuses everything from now on; returns the helpers to kill (idle and busy) and the
    /// waiters to refuse.
    mutating func shutdown() -> (helpers: [Int], waiters: [Int]) {
        isShutDown = true
        let helpers = idle + Array(busy)
        let waiting = waiters
        idle = []
        busy = []
        waiters = []
        return (helpers, waiting)
    }

    private mutating func slotFreed() -> Handoff? {
        guard !isShutDown, !waiters.isEmpty else { return nil }
        let waiter = waiters.removeFirst()
        starting += 1
        return Handoff(waiter: waiter, grant: .start)
    }
}
