// A small release executable that repeats one NTLM operation, for profilers:
//
//   cd Benchmarks && swift build -c release --product ntlm-profile
//   perf record -g .build/release/ntlm-profile type3 200000 && perf report --children
//   # Debian's valgrind 3.19 cannot read Swift 6.3's DWARF 5: profile a copy without it.
//   cp .build/release/ntlm-profile /tmp/p && strip -g /tmp/p
//   valgrind --tool=callgrind /tmp/p type3 2000 && callgrind_annotate --inclusive=yes callgrind.out.*
//
// Operations: ntowfv1, ntowfv2, type2, type3, verify, handshake (what Benchmarks/ measures).
// It prints µs/op and ops/s by wall clock and by thread CPU time (the fairer single-core figure
// on a busy machine); under a profiler both are meaningless.
//
// Building blocks, for comparing implementation choices (not NTLM API calls):
//   hmac            HMAC<Insecure.MD5> over an 8-byte challenge + 170-byte blob, as NTLMCrypto does
//   hmac-direct     the same HMAC-MD5 from two Insecure.MD5 hashers (update(bufferPointer:)),
//                   pads built per call in a stack buffer (for keys that change: MIC, session)
//   hmac-cached     the same with the inner/outer states computed once and copied per call
//                   (for a key that is fixed per credential: ResponseKeyNT)
//   random-perbyte  24 random bytes via UInt8.random(in:using:) (one getrandom call per byte)
//   random-bulk     24 random bytes via three SystemRandomNumberGenerator.next() UInt64s
import Crypto
import NTLM

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

let arguments = CommandLine.arguments
let operation = arguments.count > 1 ? arguments[1] : "type3"
let count = arguments.count > 2 ? Int(arguments[2]) ?? 100_000 : 100_000

let password: Password = "Summer2024!Passw0rd"
let policy = NTLMAcceptorPolicy(
    netbiosDomain: "CORP", netbiosComputer: "PROXY01",
    dnsDomain: "corp.example.com", dnsComputer: "proxy01.corp.example.com")
let ntHash = NTHash(password: password)
let credentials = NTLMCredentials(user: "alice", domain: "CORP", workstation: "WS-0042", ntHash: ntHash)
var store = NTLMUserStore()
store.add(user: "alice", domain: "CORP", password: password)
let userStore = store
var firstInitiator = NTLMInitiator(credentials: credentials)
let type1 = firstInitiator.negotiate()
var firstAcceptor = NTLMAcceptor(policy: policy)
let type2 = try firstAcceptor.challenge(negotiate: type1)

func now(_ clock: clockid_t = CLOCK_MONOTONIC) -> Double {
    var ts = timespec()
    clock_gettime(clock, &ts)
    return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
}

@inline(never)
func sink<T>(_ value: T) {
    withExtendedLifetime(value) {}
}

let hmacKey: [UInt8] = (0..<16).map { UInt8($0 &* 7 &+ 1) }
let hmacChallenge: [UInt8] = [1, 2, 3, 4, 5, 6, 7, 8]
let hmacBlob: [UInt8] = (0..<170).map { UInt8(truncatingIfNeeded: $0 &* 13) }

/// HMAC-MD5 (RFC 2104) from two MD5 hashers, the pads in a stack buffer: no SymmetricKey,
/// no generic DataProtocol iteration.
func hmacDirect(key: [UInt8], _ first: [UInt8], _ second: [UInt8]) -> [UInt8] {
    withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 64) { pad in
        pad.initialize(repeating: 0x36)
        for index in 0..<min(key.count, 64) { pad[index] ^= key[index] }
        var inner = Insecure.MD5()
        inner.update(bufferPointer: UnsafeRawBufferPointer(pad))
        first.withUnsafeBytes { inner.update(bufferPointer: $0) }
        second.withUnsafeBytes { inner.update(bufferPointer: $0) }
        let innerDigest = inner.finalize()
        for index in 0..<64 { pad[index] ^= 0x36 ^ 0x5C }
        var outer = Insecure.MD5()
        outer.update(bufferPointer: UnsafeRawBufferPointer(pad))
        innerDigest.withUnsafeBytes { outer.update(bufferPointer: $0) }
        return outer.finalize().withUnsafeBytes { Array($0) }
    }
}

/// HMAC-MD5 with the keyed inner/outer states computed once (RFC 2104 section 4 "precomputed
/// values"), as a credential's fixed ResponseKeyNT allows.
struct CachedHMACMD5 {
    let inner: Insecure.MD5
    let outer: Insecure.MD5
    init(key: [UInt8]) {
        var pad = [UInt8](repeating: 0x36, count: 64)
        for index in 0..<min(key.count, 64) { pad[index] ^= key[index] }
        var inner = Insecure.MD5()
        pad.withUnsafeBytes { inner.update(bufferPointer: $0) }
        for index in 0..<64 { pad[index] ^= 0x36 ^ 0x5C }
        var outer = Insecure.MD5()
        pad.withUnsafeBytes { outer.update(bufferPointer: $0) }
        self.inner = inner
        self.outer = outer
    }
    func mac(_ first: [UInt8], _ second: [UInt8]) -> [UInt8] {
        var inner = self.inner
        first.withUnsafeBytes { inner.update(bufferPointer: $0) }
        second.withUnsafeBytes { inner.update(bufferPointer: $0) }
        let innerDigest = inner.finalize()
        var outer = self.outer
        innerDigest.withUnsafeBytes { outer.update(bufferPointer: $0) }
        return outer.finalize().withUnsafeBytes { Array($0) }
    }
}

do {
    var mac = HMAC<Insecure.MD5>(key: SymmetricKey(data: hmacKey))
    mac.update(data: hmacChallenge)
    mac.update(data: hmacBlob)
    let reference = Array(mac.finalize())
    guard hmacDirect(key: hmacKey, hmacChallenge, hmacBlob) == reference,
          CachedHMACMD5(key: hmacKey).mac(hmacChallenge, hmacBlob) == reference else {
        print("hand-rolled HMAC-MD5 disagrees with swift-crypto")
        exit(1)
    }
}

var pending: [(NTLMAcceptor, [UInt8])] = []
if operation == "verify" {
    pending.reserveCapacity(count)
    for _ in 0..<count {
        var initiator = NTLMInitiator(credentials: credentials)
        var acceptor = NTLMAcceptor(policy: policy)
        let challenge = try acceptor.challenge(negotiate: initiator.negotiate())
        pending.append((acceptor, try initiator.authenticate(challenge: challenge)))
    }
}

let start = now()
let cpuStart = now(CLOCK_THREAD_CPUTIME_ID)
switch operation {
case "ntowfv1":
    for _ in 0..<count { sink(NTHash(password: password)) }
case "ntowfv2":
    for _ in 0..<count { sink(NTLMCredentials(user: "alice", domain: "CORP", workstation: "WS-0042", ntHash: ntHash)) }
case "type2":
    for _ in 0..<count {
        var acceptor = NTLMAcceptor(policy: policy)
        sink(try acceptor.challenge(negotiate: type1))
    }
case "type3":
    for _ in 0..<count {
        var initiator = NTLMInitiator(credentials: credentials)
        _ = initiator.negotiate()
        sink(try initiator.authenticate(challenge: type2))
    }
case "verify":
    for index in 0..<count {
        sink(try pending[index].0.accept(authenticate: pending[index].1, verifier: userStore))
    }
case "handshake":
    for _ in 0..<count {
        var initiator = NTLMInitiator(credentials: credentials)
        var acceptor = NTLMAcceptor(policy: policy)
        let challenge = try acceptor.challenge(negotiate: initiator.negotiate())
        let type3 = try initiator.authenticate(challenge: challenge)
        sink(try acceptor.accept(authenticate: type3, verifier: userStore))
    }
case "hmac":
    for _ in 0..<count {
        var mac = HMAC<Insecure.MD5>(key: SymmetricKey(data: hmacKey))
        mac.update(data: hmacChallenge)
        mac.update(data: hmacBlob)
        sink(Array(mac.finalize()))
    }
case "hmac-direct":
    for _ in 0..<count { sink(hmacDirect(key: hmacKey, hmacChallenge, hmacBlob)) }
case "hmac-cached":
    let cached = CachedHMACMD5(key: hmacKey)
    for _ in 0..<count { sink(cached.mac(hmacChallenge, hmacBlob)) }
case "random-perbyte":
    var generator = SystemRandomNumberGenerator()
    for _ in 0..<count {
        var bytes = [UInt8](repeating: 0, count: 24)
        for index in 0..<24 { bytes[index] = UInt8.random(in: .min ... .max, using: &generator) }
        sink(bytes)
    }
case "random-bulk":
    var generator = SystemRandomNumberGenerator()
    for _ in 0..<count {
        var bytes = [UInt8](repeating: 0, count: 24)
        bytes.withUnsafeMutableBytes { raw in
            for word in 0..<3 { raw.storeBytes(of: generator.next() as UInt64, toByteOffset: word * 8, as: UInt64.self) }
        }
        sink(bytes)
    }
default:
    print("unknown operation \(operation): ntowfv1 ntowfv2 type2 type3 verify handshake")
    exit(2)
}
let cpu = now(CLOCK_THREAD_CPUTIME_ID) - cpuStart
let elapsed = now() - start
func format(_ value: Double) -> String {
    let hundredths = Int((value * 100).rounded())
    return "\(hundredths / 100).\(hundredths % 100 < 10 ? "0" : "")\(hundredths % 100)"
}
// Thread CPU time is the fairer single-core figure when other processes share the cores.
print("\(operation): \(count) ops; wall \(format(elapsed / Double(count) * 1e6)) µs/op = \(Int(Double(count) / elapsed)) ops/s; "
    + "thread CPU \(format(cpu / Double(count) * 1e6)) µs/op = \(Int(Double(count) / cpu)) ops/s")
