import NTLMTestSupport
import Crypto
import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// A3: a 100 MiB download through the gateway run as the CLI binary, while its resident
/// memory is sampled: bodies stream (invariant 4), so memory stays flat whatever the size.
@Suite("Interop: gateway CLI memory")
struct GatewayMemoryTests {
    static let downloadBytes = 100 * 1024 * 1024
    static let allowedGrowth = 64 * 1024 * 1024

    @Test func download100MiBWithFlatMemory() async throws {
        try Interop.needBinary()
        let apache = try await Fixtures.shared.apache()
        let gateway = try await CLIProcess.start(
            ["gateway", "--backend", apache.http, "--user", Users.alice],
            environment: ["NTLMPROXY_PASSWORD": Users.alicePassword], name: "gateway-cli")
        defer { Task { await gateway.process.stop() } }

        // Warm up: the handshake and the pooled upstream connection exist before the baseline.
        let warm = try await RawHTTPConnection.connect(port: gateway.port).request("GET", "/whoami")
        #expect(warm.status == 200, "\(warm.text)\n\(gateway.process.log)")
        #expect(JSON(parsing: warm.body)["user"].string == Users.alice)
        let baseline = try #require(gateway.process.residentBytes)

        let sampler = RSSSampler(process: gateway.process)
        sampler.start()
        let download = try await StreamingDownload.run(curlArguments: [gateway.url + "download?bytes=\(Self.downloadBytes)"])
        let peak = sampler.stop()

        #expect(download.status == 0, "\(download.stderr)")
        #expect(download.byteCount == Self.downloadBytes)
        #expect(download.sha256 == Bodies.downloadSHA256(Self.downloadBytes))
        let growth = peak - baseline
        FileHandle.standardError.write(Data("note: gateway CLI RSS during a \(Self.downloadBytes >> 20) MiB download: baseline \(baseline >> 10) KiB, peak \(peak >> 10) KiB, \(sampler.sampleCount) samples\n".utf8))
        #expect(growth < Self.allowedGrowth, "gateway RSS grew by \(growth / 1024) KiB (baseline \(baseline / 1024) KiB, peak \(peak / 1024) KiB, \(sampler.sampleCount) samples)")
        #expect(sampler.sampleCount > 0)
        #expect(gateway.process.isRunning)
        #expect(!gateway.process.log.contains(Users.alicePassword))
        await gateway.process.stop()
    }
}

/// Samples a process's VmRSS on a thread of its own until stopped; returns the peak.
final class RSSSampler: @unchecked Sendable {
    private let process: BackgroundProcess
    private let lock = NSLock()
    private var peak = 0
    private var samples = 0
    private var running = true
    private let done = DispatchSemaphore(value: 0)

    init(process: BackgroundProcess) { self.process = process }

    func start() {
        startThread {
            while true {
                self.lock.lock()
                let keepGoing = self.running
                self.lock.unlock()
                guard keepGoing else { break }
                if let rss = self.process.residentBytes {
                    self.lock.lock()
                    self.peak = max(self.peak, rss)
                    self.samples += 1
                    self.lock.unlock()
                }
                usleep(10_000)
            }
            self.done.signal()
        }
    }

    /// Stops sampling (waits for the sampler thread; it sleeps at most 10 ms) and returns the peak.
    func stop() -> Int {
        lock.lock()
        running = false
        lock.unlock()
        done.wait()
        if let rss = process.residentBytes { peak = max(peak, rss) }
        return peak
    }

    var sampleCount: Int {
        lock.lock()
        defer { lock.unlock() }
        return samples
    }
}

/// curl writing the body to a pipe that we hash and count as it streams (never stored).
enum StreamingDownload {
    struct Result {
        var status: Int32
        var byteCount: Int
        var sha256: String
        var stderr: String
    }

    static func run(curlArguments: [String], timeout: Double = 150) async throws -> Result {
        let errURL = Subprocess.scratchFile("curl-err")
        defer { try? FileManager.default.removeItem(at: errURL) }
        let errFD = try Subprocess.openForWriting(errURL)
        defer { close(errFD) }
        let null = Subprocess.openNull()
        defer { close(null) }
        var fds: [Int32] = [0, 0]
        // No O_CLOEXEC needed: every child we spawn closes all descriptors above 2.
        guard pipe(&fds) == 0 else { throw Subprocess.Failure.cannotStart("pipe", String(cString: strerror(errno))) }
        let child: Child
        do {
            child = try Child(
                [Interop.curl, "-sS", "--fail", "--noproxy", "*", "--max-time", String(Int(timeout))] + curlArguments,
                environment: Subprocess.childEnvironment(), stdin: null, stdout: fds[1], stderr: errFD)
        } catch {
            close(fds[0])
            close(fds[1])
            throw error
        }
        close(fds[1])
        let readEnd = fds[0]
        let (count, digest) = await offload { () -> (Int, String) in
            defer { close(readEnd) }
            var hasher = SHA256()
            var count = 0
            var buffer = [UInt8](repeating: 0, count: 1 << 16)
            while true {
                let n = buffer.withUnsafeMutableBytes { read(readEnd, $0.baseAddress, $0.count) }
                if n < 0 && errno == EINTR { continue }
                guard n > 0 else { break }
                count += n
                buffer.withUnsafeBytes { hasher.update(bufferPointer: UnsafeRawBufferPointer(rebasing: $0[0..<n])) }
            }
            return (count, hasher.finalize().hexString)
        }
        let status = await child.wait()
        let stderr = (try? String(contentsOf: errURL, encoding: .utf8)) ?? ""
        return Result(status: status, byteCount: count, sha256: digest, stderr: stderr)
    }
}

/// The `ntlmproxy` binary serving on a free port of 127.0.0.1.
struct CLIProcess: Sendable {
    let process: BackgroundProcess
    let port: Int
    var url: String { "http://127.0.0.1:\(port)/" }

    /// Starts `ntlmproxy ARGS --listen 127.0.0.1:PORT` and waits for its "listening on" line
    /// (retrying on another port if the one picked was taken meanwhile).
    static func start(_ arguments: [String], environment: [String: String] = [:], name: String) async throws -> CLIProcess {
        var lastLog = ""
        for _ in 0..<3 {
            let port = try freePort()
            let process = try BackgroundProcess([Interop.binary] + arguments + ["--listen", "127.0.0.1:\(port)"], name: name, environment: environment)
            let ready = await process.waitForLog(timeout: 30) { $0.contains("listening on http://127.0.0.1:\(port)") }
            if ready && process.isRunning { return CLIProcess(process: process, port: port) }
            lastLog = process.log
            await process.stop()
        }
        throw CLIFailure(log: lastLog)
    }

    struct CLIFailure: Error, CustomStringConvertible {
        var log: String
        var description: String { "ntlmproxy did not start listening:\n\(log)" }
    }
}
