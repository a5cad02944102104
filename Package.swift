// swift-tools-version: 6.1
import PackageDescription

let package = Package(
    name: "ntlmproxy",
    platforms: [.macOS(.v13)],
    products: [
        .library(name: "NTLM", targets: ["NTLM"]),
        .library(name: "Kerberos", targets: ["Kerberos"]),
        .library(name: "NTLMHTTP", targets: ["NTLMHTTP"]),
        .library(name: "NTLMProxyCore", targets: ["NTLMProxyCore"]),
        .executable(name: "ntlmproxy", targets: ["ntlmproxy"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-crypto.git", "3.0.0"..<"5.0.0"),
        .package(url: "https://github.com/apple/swift-asn1.git", from: "1.1.0"),
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.80.0"),
        .package(url: "https://github.com/apple/swift-nio-ssl.git", from: "2.30.0"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.6.0"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.5.0"),
        .package(url: "https://github.com/jpsim/Yams.git", from: "5.0.0"),
    ],
    targets: [
        .target(
            name: "NTLM",
            dependencies: [
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "SwiftASN1", package: "swift-asn1"),
            ]
        ),
        .target(
            name: "Kerberos",
            dependencies: [
                "NTLM",
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
            ]
        ),
        .target(
            name: "NTLMHTTP",
            dependencies: [
                "NTLM",
                "Kerberos",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "NIOTLS", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Crypto", package: "swift-crypto"),
            ]
        ),
        .target(
            name: "NTLMProxyCore",
            dependencies: [
                "NTLM",
                "Kerberos",
                "NTLMHTTP",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Yams", package: "Yams"),
            ]
        ),
        .executableTarget(
            name: "ntlmproxy",
            dependencies: [
                "NTLM",
                "Kerberos",
                "NTLMHTTP",
                "NTLMProxyCore",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .target(
            name: "NTLMTestSupport",
            dependencies: [
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
            ],
            path: "Tests/TestSupport"
        ),
        .testTarget(
            name: "NTLMTests",
            dependencies: ["NTLM", "NTLMTestSupport"]
        ),
        .testTarget(
            name: "KerberosTests",
            dependencies: ["Kerberos", "NTLM"]
        ),
        .testTarget(
            name: "NTLMHTTPTests",
            dependencies: ["NTLMHTTP", "NTLM", "Kerberos", "NTLMTestSupport"]
        ),
        .testTarget(
            name: "NTLMProxyCoreTests",
            dependencies: [
                "NTLMProxyCore", "NTLMHTTP", "NTLM", "Kerberos", "NTLMTestSupport",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOEmbedded", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ]
        ),
        .testTarget(
            name: "InteropTests",
            dependencies: [
                "NTLMProxyCore", "NTLMHTTP", "NTLM", "Kerberos", "NTLMTestSupport",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ],
            path: "Tests/InteropTests",
            exclude: ["Resources"]
        ),
    ],
    swiftLanguageModes: [.v6]
)
