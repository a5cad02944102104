import Logging
import NIOCore
import NIOPosix

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// One running helper process: its stdin/stdout as a NIO pipe channel carrying the
/// ntlm-server-1 conversation (`HelperLineDecoder` + `NTLMAuthHelperHandler`), its stderr
/// as a second channel drained into the log, and its reaping.
///
/// Whatever ends the process's use — EOF on its stdout, a timeout, garbage, `terminate()` —
/// ends in the stdout channel closing; then the process is sent SIGKILL and reaped with
/// `waitpid` on NIO's blocking thread pool, off the event loops, and `reaped` succeeds.
final class NTLMAuthHelper: Sendable {
    let id: Int
    let pid: Int32
    private let channel: any Channel
    private let handler: NIOLoopBound<NTLMAuthHelperHandler>
    /// Succeeds once the process has been killed and reaped.
    let reaped: EventLoopFuture<Void>

    private init(id: Int, pid: Int32, channel: any Channel, handler: NIOLoopBound<NTLMAuthHelperHandler>, reaped: EventLoopFuture<Void>) {
        self.id = id
        self.pid = pid
        self.channel = channel
        self.handler = handler
        self.reaped = reaped
    }

    /// Whether its stdout channel is still open (the process may still have died: a read of
    /// EOF closes the channel a moment later).
    var isActive: Bool { channel.isActive }

    /// Starts the process and attaches its pipes to `eventLoop`.
    static func start(id: Int, arguments: [String], environment: [String: String], eventLoop: any EventLoop,
                      logger: Logger) async throws(HelperLaunchError) -> NTLMAuthHelper {
        let process = try HelperProcessLauncher.launch(arguments: arguments, environmentAdditions: environment)
        var processLogger = logger
        processLogger[metadataKey: "helper-pid"] = "\(process.pid)"
        let helperLogger = processLogger
        let channelLogger = processLogger
        let channel: any Channel
        do {
            channel = try await NIOPipeBootstrap(group: eventLoop)
                .channelInitializer { channel in
                    channel.eventLoop.makeCompletedFuture {
                        let decoder = HelperLineDecoder(maximumLength: NTLMServerHelperAnswer.maximumLineBytes, failOnOverlongLine: true)
                        try channel.pipeline.syncOperations.addHandler(ByteToMessageHandler(decoder))
                        try channel.pipeline.syncOperations.addHandler(NTLMAuthHelperHandler(logger: channelLogger))
                    }
                }
                .takingOwnershipOfDescriptors(input: process.output, output: process.input)
                .get()
        } catch {
            _ = close(process.output)
            _ = close(process.input)
            _ = close(process.diagnostics)
            await reap(process.pid)
            throw .channel("\(error)")
        }
        let diagnostics: any Channel
        do {
            diagnostics = try await NIOPipeBootstrap(group: eventLoop)
                .channelInitializer { channel in
                    channel.eventLoop.makeCompletedFuture {
                        let decoder = HelperLineDecoder(maximumLength: 1024, failOnOverlongLine: false)
                        try channel.pipeline.syncOperations.addHandler(ByteToMessageHandler(decoder))
                        try channel.pipeline.syncOperations.addHandler(HelperDiagnosticsHandler(logger: channelLogger))
                    }
                }
                .takingOwnershipOfDescriptor(input: process.diagnostics)
                .get()
        } catch {
            _ = close(process.diagnostics)
            try? await channel.close()
            await reap(process.pid)
            throw .channel("\(error)")
        }
        let handler: NIOLoopBound<NTLMAuthHelperHandler>
        do {
            handler = try await eventLoop.submit {
                NIOLoopBound(try channel.pipeline.syncOperations.handler(type: NTLMAuthHelperHandler.self), eventLoop: eventLoop)
            }.get()
        } catch {
            try? await diagnostics.close()
            try? await channel.close()
            await reap(process.pid)
            throw .channel("\(error)")
        }

        let pid = process.pid
        let reaped = channel.closeFuture.flatMap { _ in
            diagnostics.close(promise: nil)
            return NIOThreadPool.singleton.runIfActive(eventLoop: eventLoop) {
                HelperProcessLauncher.killAndReap(pid)
            }
        }.map {
            helperLogger.debug("ntlm_auth helper ended")
        }
        helperLogger.debug("ntlm_auth helper started")
        return NTLMAuthHelper(id: id, pid: pid, channel: channel, handler: handler, reaped: reaped)
    }

    /// Sends one request and waits for how it ends (answer, timeout, exit, garbage). Every
    /// outcome but `.answered` leaves the helper closing.
    func exchange(_ request: [UInt8], timeout: TimeAmount) async -> HelperExchangeOutcome {
        let promise = channel.eventLoop.makePromise(of: HelperExchangeOutcome.self)
        let buffer = ByteBuffer(bytes: request)
        let handler = self.handler
        channel.eventLoop.execute {
            handler.value.send(buffer, timeout: timeout, promise: promise)
        }
        do {
            return try await promise.futureResult.get()
        } catch {
            return .exited
        }
    }

    /// Closes its pipes; the process is then killed and reaped (`reaped`).
    func terminate() {
        channel.close(promise: nil)
    }

    private static func reap(_ pid: Int32) async {
        _ = try? await NIOThreadPool.singleton.runIfActive {
            HelperProcessLauncher.killAndReap(pid)
        }
    }
}
