import NIOCore

/// What went through a tunnel.
public struct TunnelStatistics: Sendable, Hashable {
    /// Bytes read from the client and passed to the upstream (including bytes the client sent
    /// before the tunnel was up).
    public var bytesClientToUpstream: Int
    /// Bytes read from the upstream and passed to the client.
    public var bytesUpstreamToClient: Int
    /// The most bytes that ever waited in memory to be written to the client / the upstream:
    /// what backpressure kept bounded.
    public var peakBufferedToClient: Int
    public var peakBufferedToUpstream: Int
    /// `nil` when both sides closed normally, else what ended the tunnel (a reset, an error).
    public var failure: String?

    public init(bytesClientToUpstream: Int = 0, bytesUpstreamToClient: Int = 0, peakBufferedToClient: Int = 0, peakBufferedToUpstream: Int = 0, failure: String? = nil) {
        self.bytesClientToUpstream = bytesClientToUpstream
        self.bytesUpstreamToClient = bytesUpstreamToClient
        self.peakBufferedToClient = peakBufferedToClient
        self.peakBufferedToUpstream = peakBufferedToUpstream
        self.failure = failure
    }
}

/// Splices two connected channels byte for byte in both directions until both are done, with
/// backpressure both ways and half-close (see `SpliceStateMachine`). Used by HTTP `CONNECT`,
/// SOCKS5 and static tunnels.
///
/// Both channels must be connected, with `autoRead == false`; the splice appends its glue
/// handler (right after a `TunnelInputGate` when the channel has one, whose held bytes and
/// half-close are then replayed), requests reads itself and closes both channels at the end.
public enum ChannelSplice {
    /// Returns once both channels are closed. `initialToUpstream` (bytes the client sent ahead)
    /// and `initialToClient` (bytes the upstream sent ahead) are written first. Throws only when
    /// the splice cannot be set up (both channels are closed then); I/O errors end the tunnel
    /// and are reported in `TunnelStatistics.failure`.
    public static func run(client: any Channel, upstream: any Channel, initialToClient: ByteBuffer? = nil, initialToUpstream: ByteBuffer? = nil) async throws -> TunnelStatistics {
        let core = SpliceCore(client: client, upstream: upstream)
        do {
            // Phase 1, on each loop: install the glue and write the initial bytes.
            async let clientReady: Void = install(core, side: .client, initial: initialToClient)
            async let upstreamReady: Void = install(core, side: .upstream, initial: initialToUpstream)
            _ = try await (clientReady, upstreamReady)
            // Phase 2: replay held input, then start reading (initial bytes are queued first).
            async let clientGate: Void = releaseGate(of: client)
            async let upstreamGate: Void = releaseGate(of: upstream)
            _ = try await (clientGate, upstreamGate)
        } catch {
            client.close(promise: nil)
            upstream.close(promise: nil)
            throw error
        }
        core.handle(.start)
        await withTaskCancellationHandler {
            _ = try? await client.closeFuture.get()
            _ = try? await upstream.closeFuture.get()
        } onCancel: {
            client.close(promise: nil)
            upstream.close(promise: nil)
        }
        let state = core.snapshot
        return TunnelStatistics(
            bytesClientToUpstream: state[.client].bytesRead, bytesUpstreamToClient: state[.upstream].bytesRead,
            peakBufferedToClient: state[.client].peakPendingBytes, peakBufferedToUpstream: state[.upstream].peakPendingBytes,
            failure: state.failure)
    }

    /// Adds the glue to `side`'s channel and writes `initial` to it (bytes that came from the
    /// other side before the splice).
    private static func install(_ core: SpliceCore, side: SpliceSide, initial: ByteBuffer?) async throws {
        let channel = core.channel(side)
        try await channel.eventLoop.submit {
            let sync = channel.pipeline.syncOperations
            try channel.syncOptions?.setOption(.autoRead, value: false)
            let glue = SpliceGlueHandler(side: side, core: core)
            if let gate = try? sync.handler(type: TunnelInputGate.self) {
                try sync.addHandler(glue, position: .after(gate))
            } else {
                try sync.addHandler(glue)
            }
            core.register(NIOLoopBound(glue, eventLoop: channel.eventLoop), for: side)
            if !channel.isActive {
                core.handle(.inactive(side))
            } else if let initial, initial.readableBytes > 0 {
                core.forward(initial, from: side.other)
            }
        }.get()
    }

    private static func releaseGate(of channel: any Channel) async throws {
        try await channel.eventLoop.submit {
            if let gate = try? channel.pipeline.syncOperations.handler(type: TunnelInputGate.self) {
                gate.release()
            }
        }.get()
    }
}
