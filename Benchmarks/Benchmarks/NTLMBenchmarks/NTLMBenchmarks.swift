// Micro-benchmarks of the NTLM module's public API (ordo-one/benchmark).
//
//   cd Benchmarks && swift package --disable-sandbox benchmark
//
// Every benchmark runs `benchmark.scaledIterations` (1,000, `.kilo`) operations per sample, so
// `throughput` reads directly as operations per second (the table shows it in K) and the
// malloc count is per operation.
//
// What is measured (all single-threaded, release build):
// - "NTOWFv1 NTHash(password:)": MD4(UTF-16LE(password)).
// - "NTOWFv2 NTLMCredentials(ntHash:)": the credential initializer, whose cost is NTOWFv2
//   (HMAC-MD5 of the uppercased user + domain under the NT hash).
// - "Type 2 creation": a fresh NTLMAcceptor answering a Type 1 (the acceptor's per-request
//   work before any Type 3 arrives).
// - "Type 3 creation": a fresh NTLMInitiator, its Type 1, then its Type 3 for a realistic
//   Type 2: NTLMv2 with MIC and key exchange.
// - "Type 3 verification": NTLMAcceptor.accept(authenticate:verifier:) against an
//   NTLMUserStore. Each sample first prepares 1,000 fresh acceptor/Type 3 pairs outside the
//   measured region (startMeasurement/stopMeasurement), so only verification is timed.
// - "Full handshake": Type 1 + Type 2 + Type 3 + verification with fresh contexts.
import Benchmark
import NTLM

private let user = "alice"
private let domain = "CORP"
private let workstation = "WS-0042"
private let password: Password = "Summer2024!Passw0rd"

/// What a real acceptor announces: NetBIOS and DNS names, so the Type 2's target info (and
/// the client's echo of it in the Type 3 blob) has its usual size.
private let acceptorPolicy = NTLMAcceptorPolicy(
    netbiosDomain: domain, netbiosComputer: "PROXY01",
    dnsDomain: "corp.example.com", dnsComputer: "proxy01.corp.example.com")

private let ntHash = NTHash(password: password)
private let credentials = NTLMCredentials(user: user, domain: domain, workstation: workstation, ntHash: ntHash)

private let userStore: NTLMUserStore = {
    var store = NTLMUserStore()
    store.add(user: user, domain: domain, password: password)
    return store
}()

/// A Type 1 as the initiator sends it (40 bytes, with Version).
private let type1: [UInt8] = {
    var initiator = NTLMInitiator(credentials: credentials)
    return initiator.negotiate()
}()

/// A Type 2 made once by our acceptor for that Type 1.
private let type2: [UInt8] = {
    var acceptor = NTLMAcceptor(policy: acceptorPolicy)
    do {
        return try acceptor.challenge(negotiate: type1)
    } catch {
        fatalError("challenge(negotiate:) failed: \(error)")
    }
}()

/// One acceptor that has sent its Type 2, with the Type 3 answering it.
private struct PendingHandshake {
    var acceptor: NTLMAcceptor
    var type3: [UInt8]
}

private func makePendingHandshake() throws -> PendingHandshake {
    var initiator = NTLMInitiator(credentials: credentials)
    var acceptor = NTLMAcceptor(policy: acceptorPolicy)
    let challenge = try acceptor.challenge(negotiate: initiator.negotiate())
    let type3 = try initiator.authenticate(challenge: challenge)
    return PendingHandshake(acceptor: acceptor, type3: type3)
}

/// Fails loudly before measuring if the handshake does not verify or is not the intended
/// kind (NTLMv2 + MIC + key exchange), so no benchmark times a rejection path.
private func checkScenario() {
    do {
        var initiator = NTLMInitiator(credentials: credentials)
        _ = initiator.negotiate()
        let type3 = try initiator.authenticate(challenge: type2)
        guard let flags = initiator.negotiatedFlags, flags.contains(.keyExchange), flags.contains(.extendedSessionSecurity) else {
            fatalError("Type 3 flags lack key exchange / extended session security: \(String(describing: initiator.negotiatedFlags))")
        }
        guard type3.count > 88 + 16 else { fatalError("Type 3 too short: \(type3.count)") }
        var pending = try makePendingHandshake()
        let result = try pending.acceptor.accept(authenticate: pending.type3, verifier: userStore)
        guard result.kind == .ntlmv2, pending.acceptor.session != nil else {
            fatalError("unexpected verification result: \(result.kind)")
        }
    } catch {
        fatalError("benchmark scenario does not verify: \(error)")
    }
}

let benchmarks: @Sendable () -> Void = {
    Benchmark.defaultConfiguration = .init(
        metrics: [.throughput, .wallClock, .cpuTotal, .mallocCountTotal],
        warmupIterations: 3,
        scalingFactor: .kilo,
        maxDuration: .seconds(3),
        maxIterations: 10_000
    )

    checkScenario()

    Benchmark("NTOWFv1 NTHash(password:)") { benchmark in
        for _ in benchmark.scaledIterations {
            blackHole(NTHash(password: password))
        }
    }

    Benchmark("NTOWFv2 NTLMCredentials(ntHash:)") { benchmark in
        for _ in benchmark.scaledIterations {
            blackHole(NTLMCredentials(user: user, domain: domain, workstation: workstation, ntHash: ntHash))
        }
    }

    Benchmark("Type 2 creation (challenge)") { benchmark in
        for _ in benchmark.scaledIterations {
            var acceptor = NTLMAcceptor(policy: acceptorPolicy)
            blackHole(try acceptor.challenge(negotiate: type1))
        }
    }

    Benchmark("Type 3 creation (NTLMv2+MIC+KEY_EXCH)") { benchmark in
        for _ in benchmark.scaledIterations {
            var initiator = NTLMInitiator(credentials: credentials)
            _ = initiator.negotiate()
            blackHole(try initiator.authenticate(challenge: type2))
        }
    }

    Benchmark("Type 3 verification (NTLMUserStore)") { benchmark in
        var pending: [PendingHandshake] = []
        pending.reserveCapacity(benchmark.scaledIterations.count)
        for _ in benchmark.scaledIterations {
            pending.append(try makePendingHandshake())
        }
        benchmark.startMeasurement()
        for index in benchmark.scaledIterations {
            blackHole(try pending[index].acceptor.accept(authenticate: pending[index].type3, verifier: userStore))
        }
        benchmark.stopMeasurement()
    }

    Benchmark("Full handshake (T1+T2+T3+verify)") { benchmark in
        for _ in benchmark.scaledIterations {
            var initiator = NTLMInitiator(credentials: credentials)
            var acceptor = NTLMAcceptor(policy: acceptorPolicy)
            let challenge = try acceptor.challenge(negotiate: initiator.negotiate())
            let type3 = try initiator.authenticate(challenge: challenge)
            blackHole(try acceptor.accept(authenticate: type3, verifier: userStore))
        }
    }
}
