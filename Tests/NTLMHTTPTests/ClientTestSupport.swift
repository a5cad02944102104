import Crypto
import Foundation
import NIOCore
import NTLM
import Testing
@testable import NTLMHTTP

/// All client tests share one serialized suite: they use real sockets and one of them
/// measures the process's memory, which parallel tests would disturb.
@Suite("NTLMHTTPClient", .serialized)
struct ClientTests {}

enum ClientFixtures {
    static let alice = HTTPCredential(userName: #"CORP\alice"#, password: "secret")
    static let bob = HTTPCredential(userName: #"CORP\bob"#, password: "hunter2")
    static let aliceWrong = HTTPCredential(userName: #"CORP\alice"#, password: "not-her-password")
    static let aliceBasic = HTTPCredential(userName: #"CORP\alice"#, password: "secret", allowBasic: true)

    /// A client configuration trusting the test CA.
    static func configuration(_ change: (inout NTLMHTTPClient.Configuration) -> Void = { _ in }) throws -> NTLMHTTPClient.Configuration {
        var configuration = NTLMHTTPClient.Configuration()
        try configuration.useTrustRoots(pemBytes: Array(ClientTestCertificates.caPEM.utf8))
        change(&configuration)
        return configuration
    }

    /// Runs `body` with a fresh server and client, shutting both down afterwards.
    static func withServer(
        _ options: ClientTestServer.Options = .init(),
        configure: (inout NTLMHTTPClient.Configuration) -> Void = { _ in },
        _ body: (ClientTestServer, NTLMHTTPClient) async throws -> Void
    ) async throws {
        let server = try await ClientTestServer.start(options)
        let client = NTLMHTTPClient(configuration: try configuration(configure))
        do {
            try await body(server, client)
        } catch {
            try? await client.shutdown()
            await server.shutdown()
            throw error
        }
        try await client.shutdown()
        await server.shutdown()
    }

    static func text(_ response: NTLMHTTPResponse) async throws -> String {
        String(buffer: try await response.body.collect(upTo: 1 << 20))
    }

    /// Polls `condition` for up to `seconds`.
    static func eventually(_ seconds: Double = 3, _ condition: () -> Bool) async -> Bool {
        let end = ContinuousClock.now + .milliseconds(Int(seconds * 1000))
        while ContinuousClock.now < end {
            if condition() { return true }
            try? await Task.sleep(for: .milliseconds(20))
        }
        return condition()
    }

    /// The process's resident set size, from /proc/self/status (VmRSS), in bytes.
    static func residentBytes() -> Int {
        guard let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8) else { return 0 }
        for line in status.split(separator: "\n") where line.hasPrefix("VmRSS:") {
            let digits = line.filter(\.isNumber)
            return (Int(digits) ?? 0) * 1024
        }
        return 0
    }
}

/// A deterministic request body: a 64 KiB pattern repeated (the same buffer each time, so
/// producing it allocates nothing), `total` bytes in all.
struct PatternBody: AsyncSequence, Sendable {
    typealias Element = ByteBuffer
    static let pattern: ByteBuffer = {
        var buffer = ByteBuffer()
        buffer.reserveCapacity(65536)
        for index in 0..<65536 { buffer.writeInteger(UInt8(truncatingIfNeeded: index &* 7 &+ 3)) }
        return buffer
    }()

    let total: Int

    struct AsyncIterator: AsyncIteratorProtocol {
        let total: Int
        var sent = 0

        mutating func next() async -> ByteBuffer? {
            guard sent < total else { return nil }
            let count = Swift.min(PatternBody.pattern.readableBytes, total - sent)
            sent += count
            return PatternBody.pattern.getSlice(at: 0, length: count)
        }
    }

    func makeAsyncIterator() -> AsyncIterator { AsyncIterator(total: total) }

    /// The SHA-256 of the whole body, hex.
    var sha256: String {
        var hasher = SHA256()
        var remaining = total
        let bytes = Array(PatternBody.pattern.readableBytesView)
        while remaining > 0 {
            let count = Swift.min(bytes.count, remaining)
            hasher.update(data: bytes[0..<count])
            remaining -= count
        }
        return hex(Array(hasher.finalize()))
    }

    var body: NTLMHTTPRequest.Body { .stream(self, length: total) }
}
