/// One end of a splice.
enum SpliceSide: Int, Hashable, Sendable, CustomStringConvertible {
    case client = 0
    case upstream = 1

    var other: SpliceSide { self == .client ? .upstream : .client }
    var description: String { self == .client ? "client" : "upstream" }
}

/// The bookkeeping of a two-way byte splice, free of I/O: events in, actions out.
///
/// - Backpressure: a side is read only while the other side is writable and has fewer than
///   `highWaterMark` bytes pending (handed over, not yet written); reading resumes once they
///   drop to `lowWaterMark`. The count matters when the two channels live on different event
///   loops: the reading loop cannot see the other loop's writability change in time. What
///   waits in memory toward a side stays below the high-water mark plus one read batch.
/// - Half-close: EOF from one side shuts down the other side's output once everything read
///   before the EOF has been written; the other direction keeps flowing.
/// - A side that goes away entirely (reset, full close) ends the splice once what was already
///   read from it has been written to the other side; an error ends it at once.
struct SpliceStateMachine: Sendable {
    enum OutputState: Hashable, Sendable { case open, shuttingDown, shut }

    struct Endpoint: Hashable, Sendable {
        var active = true
        var writable = true
        /// EOF seen (or the side is gone): nothing more will be read from it.
        var inputClosed = false
        var output = OutputState.open
        /// Bytes handed to this side's channel and not yet written.
        var pendingBytes = 0
        var peakPendingBytes = 0
        /// Bytes read from this side (or given as its initial bytes).
        var bytesRead = 0
        /// A read of this side was not renewed for backpressure; renew it when room appears.
        var readPaused = false
    }

    static let highWaterMark = 256 * 1024
    static let lowWaterMark = 64 * 1024

    enum Event: Hashable, Sendable {
        case start
        case readComplete(SpliceSide)
        case writeCompleted(SpliceSide, bytes: Int, succeeded: Bool)
        case writabilityChanged(SpliceSide, writable: Bool)
        case inputClosed(SpliceSide)
        case outputShutdownCompleted(SpliceSide, succeeded: Bool)
        case inactive(SpliceSide)
        case error(SpliceSide, String)
    }

    enum Action: Hashable, Sendable {
        case read(SpliceSide)
        case shutdownOutput(SpliceSide)
        case close(SpliceSide)
    }

    private(set) var endpoints = [Endpoint(), Endpoint()]
    private(set) var started = false
    /// What ended the splice abnormally, if anything did (the first error wins).
    private(set) var failure: String?

    subscript(side: SpliceSide) -> Endpoint {
        get { endpoints[side.rawValue] }
        set { endpoints[side.rawValue] = newValue }
    }

    /// Counts bytes read from `source` that are about to be written to the other side; false
    /// when the other side can take nothing more (they are then dropped).
    mutating func received(from source: SpliceSide, bytes: Int) -> Bool {
        let target = source.other
        guard self[target].active, self[target].output == .open else { return false }
        self[source].bytesRead += bytes
        self[target].pendingBytes += bytes
        self[target].peakPendingBytes = max(self[target].peakPendingBytes, self[target].pendingBytes)
        return true
    }

    mutating func apply(_ event: Event) -> [Action] {
        switch event {
        case .start:
            started = true
            return [SpliceSide.client, .upstream].filter { canRead($0) }.map { .read($0) }

        case .readComplete(let side):
            guard canRead(side) else {
                self[side].readPaused = true
                return []
            }
            return [.read(side)]

        case .writeCompleted(let side, let bytes, let succeeded):
            guard self[side].active else { return [] }
            self[side].pendingBytes = max(0, self[side].pendingBytes - bytes)
            guard succeeded else { return fail("write to \(side) failed") }
            return drained(side) + resume(side.other)

        case .writabilityChanged(let side, let writable):
            self[side].writable = writable
            return writable ? resume(side.other) : []

        case .inputClosed(let side):
            guard !self[side].inputClosed else { return [] }
            self[side].inputClosed = true
            return drained(side.other) + finishIfDone()

        case .outputShutdownCompleted(let side, let succeeded):
            // A channel that cannot half-close (some TLS stacks) is closed instead.
            guard succeeded else { return [.close(side)] }
            if self[side].output == .shuttingDown { self[side].output = .shut }
            return finishIfDone()

        case .inactive(let side):
            guard self[side].active else { return [] }
            self[side].active = false
            self[side].inputClosed = true
            self[side].output = .shut
            self[side].pendingBytes = 0
            let other = side.other
            guard self[other].active else { return [] }
            // Nothing can reach `side` any more: once what it sent is written, close the other.
            return self[other].pendingBytes == 0 ? [.close(other)] : []

        case .error(let side, let description):
            return fail("\(side): \(description)")
        }
    }

    /// Both sides gone: the splice is over.
    var isFinished: Bool { !self[.client].active && !self[.upstream].active }

    private func canRead(_ side: SpliceSide, limit: Int = highWaterMark) -> Bool {
        let target = self[side.other]
        return started && failure == nil && self[side].active && !self[side].inputClosed
            && target.active && target.output == .open && target.writable && target.pendingBytes < limit
    }

    /// Renews a paused read of `side` once the other side has room again.
    private mutating func resume(_ side: SpliceSide) -> [Action] {
        guard self[side].readPaused, canRead(side, limit: Self.lowWaterMark + 1) else { return [] }
        self[side].readPaused = false
        return [.read(side)]
    }

    /// Called when `side` may have no more pending bytes: propagates the source's EOF.
    private mutating func drained(_ side: SpliceSide) -> [Action] {
        let source = self[side.other]
        guard self[side].active, self[side].pendingBytes == 0, source.inputClosed, self[side].output == .open else { return [] }
        if !source.active { return [.close(side)] }
        self[side].output = .shuttingDown
        return [.shutdownOutput(side)]
    }

    /// Both inputs at EOF and both outputs shut: close the channels.
    private func finishIfDone() -> [Action] {
        let done = endpoints.allSatisfy { $0.inputClosed && $0.output == .shut }
        return done ? endpoints.indices.compactMap { SpliceSide(rawValue: $0) }.filter { self[$0].active }.map { .close($0) } : []
    }

    private mutating func fail(_ description: String) -> [Action] {
        if failure == nil { failure = description }
        return [SpliceSide.client, .upstream].filter { self[$0].active }.map { .close($0) }
    }
}
