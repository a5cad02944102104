// swift-tools-version: 6.1
// libFuzzer targets for the parsers of untrusted bytes. A separate package so that the
// main build never needs the fuzzer runtime. Run with scripts/fuzz.
import PackageDescription

let package = Package(
    name: "ntlmproxy-fuzz",
    platforms: [.macOS(.v13)],
    dependencies: [
        .package(name: "ntlmproxy", path: ".."),
    ],
    targets: [
        .executableTarget(
            name: "FuzzNTLMMessages",
            dependencies: [.product(name: "NTLM", package: "ntlmproxy")]
        ),
        .executableTarget(
            name: "FuzzHelperAnswers",
            dependencies: [.product(name: "NTLMProxyCore", package: "ntlmproxy")]
        ),
    ],
    swiftLanguageModes: [.v6]
)
