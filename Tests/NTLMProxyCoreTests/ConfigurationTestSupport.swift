import Foundation
import Testing
@testable import NTLMProxyCore

/// A scratch directory with helpers to write the files a configuration refers to.
final class ConfigurationScratch {
    let directory: String

    init() throws {
        let base = FileManager.default.temporaryDirectory.appendingPathComponent("ntlmproxy-config-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: base, withIntermediateDirectories: true)
        directory = base.path
    }

    deinit { try? FileManager.default.removeItem(atPath: directory) }

    /// Writes `contents` to `name` in the directory (mode 0600) and returns its full path.
    @discardableResult
    func write(_ name: String, _ contents: String, permissions: Int = 0o600) throws -> String {
        let path = directory + "/" + name
        try contents.write(toFile: path, atomically: true, encoding: .utf8)
        try FileManager.default.setAttributes([.posixPermissions: permissions], ofItemAtPath: path)
        return path
    }

    /// Loads `yaml` as if it were `ntlmproxy.yaml` in the directory.
    func load(_ yaml: String, environment: [String: String] = [:]) throws(ConfigurationError) -> ProxyConfiguration {
        let env = environment
        return try ConfigurationLoader(environment: { env[$0] }).load(yaml: yaml, fileName: "ntlmproxy.yaml", baseDirectory: directory)
    }

    /// The error loading `yaml` throws (a test failure if it loads).
    func error(_ yaml: String, environment: [String: String] = [:], sourceLocation: SourceLocation = #_sourceLocation) -> ConfigurationError? {
        do {
            _ = try load(yaml, environment: environment)
            Issue.record("expected a configuration error", sourceLocation: sourceLocation)
            return nil
        } catch {
            return error
        }
    }
}

enum ConfigurationFixtures {
    /// A recognisable fake password that must never show up in any output.
    static let secret = "S3cr3t-P4ss"
    /// NTHash(password: "Password"), a published value.
    static let passwordHash = "a4f49c406510bdcab6824ee7c30fd852"
    static let usersFile = """
        # test users
        CORP\\alice:\(passwordHash)
        bob:\(passwordHash)
        """
}
