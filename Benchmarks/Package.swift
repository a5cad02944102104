// swift-tools-version: 6.1
// Micro-benchmarks of the NTLM module (ordo-one/benchmark). A separate package so that the
// main build and `swift test` never compile the benchmark dependencies.
//
//   cd Benchmarks && swift package --disable-sandbox benchmark
import PackageDescription

let package = Package(
    name: "NTLMBenchmarks",
    platforms: [.macOS(.v13)],
    dependencies: [
        .package(name: "ntlmproxy", path: ".."),
        .package(url: "https://github.com/ordo-one/benchmark.git", from: "1.38.1", traits: ["MallocInterposer"]),
        // Already a dependency of NTLM; named here for the HMAC-MD5 comparison in ntlm-profile.
        .package(url: "https://github.com/apple/swift-crypto.git", "3.0.0"..<"5.0.0"),
    ],
    targets: [
        .executableTarget(
            name: "NTLMBenchmarks",
            dependencies: [
                .product(name: "NTLM", package: "ntlmproxy"),
                .product(name: "Benchmark", package: "benchmark"),
            ],
            path: "Benchmarks/NTLMBenchmarks",
            plugins: [.plugin(name: "BenchmarkPlugin", package: "benchmark")]
        ),
        // Not a benchmark: one operation in a loop, for perf / valgrind (see its main.swift).
        .executableTarget(
            name: "ntlm-profile",
            dependencies: [
                .product(name: "NTLM", package: "ntlmproxy"),
                .product(name: "Crypto", package: "swift-crypto"),
            ],
            path: "Profile/NTLMProfile"
        ),
    ]
)
