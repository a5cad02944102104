import NTLMTestSupport
import Foundation
import Testing

/// The interop switch, the paths of the external tools, and "missing → skip or fail".
///
/// `NTLMPROXY_REQUIRE_INTEROP=1` (CI, `scripts/test --interop`): a missing peer, tool or
/// script FAILS the test. Otherwise a test whose peers are missing is cancelled (reported as
/// skipped) with a note; with everything installed the tests run either way.
enum Interop {
    struct Missing: Error, CustomStringConvertible {
        var what: String
        var description: String {
            "interop peer unavailable: \(what) (NTLMPROXY_REQUIRE_INTEROP=1 makes the interop tests mandatory; run scripts/test --interop, or scripts/interop/install-peers)"
        }
    }

    static var environment: [String: String] { ProcessInfo.processInfo.environment }

    static var required: Bool { environment["NTLMPROXY_REQUIRE_INTEROP"] == "1" }

    /// The package root: the nearest directory above this file holding Package.swift.
    static let repoRoot: URL = {
        var dir = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        while dir.path != "/" {
            if FileManager.default.fileExists(atPath: dir.appendingPathComponent("Package.swift").path) { return dir }
            dir = dir.deletingLastPathComponent()
        }
        return URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().deletingLastPathComponent()
    }()

    /// `$NTLMPROXY_INTEROP_SCRIPTS` (scripts/test exports it), else `<repo>/scripts/interop`.
    static var scriptsDir: String {
        if let dir = environment["NTLMPROXY_INTEROP_SCRIPTS"], !dir.isEmpty { return dir }
        return repoRoot.appendingPathComponent("scripts/interop").path
    }

    static func script(_ name: String) -> String { scriptsDir + "/" + name }

    /// Our own Python helpers (excluded from the Swift target).
    static func resource(_ name: String) -> String {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("Resources/\(name)").path
    }

    /// `$NTLMPROXY_PYTHON` (the venv with pyspnego and requests-ntlm), else `<repo>/.venv/bin/python`.
    static var python: String {
        if let p = environment["NTLMPROXY_PYTHON"], !p.isEmpty { return p }
        return repoRoot.appendingPathComponent(".venv/bin/python").path
    }

    /// The CLI binary: `$NTLMPROXY_BINARY`, else the `ntlmproxy` next to this test bundle (the
    /// same scratch path, whatever `--scratch-path` was), else `<repo>/.build/debug/ntlmproxy`.
    static var binary: String {
        if let p = environment["NTLMPROXY_BINARY"], !p.isEmpty { return p }
        if let exe = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe") {
            var dir = URL(fileURLWithPath: exe).deletingLastPathComponent()
            // The bundle may be a directory (…/ntlmproxyPackageTests.xctest/…) or an executable.
            for _ in 0..<4 {
                let candidate = dir.appendingPathComponent("ntlmproxy").path
                if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
                dir = dir.deletingLastPathComponent()
            }
        }
        return repoRoot.appendingPathComponent(".build/debug/ntlmproxy").path
    }

    static var curl: String { "/usr/bin/curl" }

    /// Checks `ok`; when false, fails (interop required) or skips the current test.
    static func need(_ ok: Bool, _ what: @autoclosure () -> String) throws {
        guard !ok else { return }
        let what = what()
        if required { throw Missing(what: what) }
        FileHandle.standardError.write(Data("note: skipping interop test: \(what)\n".utf8))
        try Test.cancel("interop peer unavailable: \(what)")
    }

    // MARK: What is installed (checked once per process)

    private static let checks = Checks()

    private final class Checks: @unchecked Sendable {
        let lock = NSLock()
        var results: [String: String?] = [:]   // name -> nil (ok) or why not
        func cached(_ name: String, _ check: () -> String?) -> String? {
            lock.lock()
            defer { lock.unlock() }
            if let known = results[name] { return known }
            let result = check()
            results[name] = .some(result)
            return result
        }
    }

    /// The Debian peers (apache2 + mod_auth_gssapi + gss-ntlmssp, squid, samba/winbind,
    /// nss_wrapper, curl) and the fixture scripts.
    static func needPeers() async throws {
        let why = await offload {
            checks.cached("peers") {
                for name in ["apache-origin", "squid-origin", "echo_backend.py", "requests_ntlm_client.py", "install-peers"] {
                    if !FileManager.default.fileExists(atPath: script(name)) { return "no \(script(name))" }
                }
                let result = try? Subprocess.runSync([script("install-peers"), "--check"])
                if result?.status != 0 { return "scripts/interop/install-peers --check: \(result?.output ?? "did not run")" }
                if !FileManager.default.isExecutableFile(atPath: curl) { return "no \(curl)" }
                return nil
            }
        }
        try need(why == nil, why ?? "")
    }

    /// The venv python with pyspnego and requests-ntlm.
    static func needPython() async throws {
        let why = await offload {
            checks.cached("python") {
                guard FileManager.default.isExecutableFile(atPath: python) else { return "no python at \(python) (set NTLMPROXY_PYTHON)" }
                let result = try? Subprocess.runSync([python, "-c", "import spnego, requests_ntlm"])
                if result?.status != 0 { return "\(python) cannot import spnego/requests_ntlm: \(result?.output ?? "")" }
                return nil
            }
        }
        try need(why == nil, why ?? "")
    }

    /// MIT Kerberos (krb5-kdc, krb5-admin-server, krb5-user) for scripts/interop/kdc, and the
    /// kdc and apache-kerberos scripts, besides everything `needPeers` wants.
    static func needKerberosPeers() async throws {
        try await needPeers()
        let why = await offload {
            checks.cached("kerberos") {
                for name in ["kdc", "apache-kerberos"] {
                    if !FileManager.default.isExecutableFile(atPath: script(name)) { return "no \(script(name))" }
                }
                for tool in kerberosTools where tool.value == nil {
                    return "no \(tool.key) in /usr/sbin or /usr/bin (krb5-kdc, krb5-admin-server, krb5-user: run scripts/interop/install-peers)"
                }
                return nil
            }
        }
        try need(why == nil, why ?? "")
    }

    /// The MIT tools the KDC fixture runs, found in /usr/sbin or /usr/bin (nil: missing).
    static let kerberosTools: [String: String?] = Dictionary(uniqueKeysWithValues: ["krb5kdc", "kdb5_util", "kadmin.local", "kinit"].map { name in
        (name, ["/usr/sbin/", "/usr/bin/"].map { $0 + name }.first { FileManager.default.isExecutableFile(atPath: $0) })
    })

    /// MIT's kinit (the fixtures fill ticket caches with it).
    static var kinit: String { (kerberosTools["kinit"] ?? nil) ?? "/usr/bin/kinit" }

    /// The `ntlmproxy` CLI binary.
    static func needBinary() throws {
        try need(FileManager.default.isExecutableFile(atPath: binary), "no ntlmproxy binary at \(binary) (swift build, or set NTLMPROXY_BINARY)")
    }
}

/// Minimal JSON access for the fixtures' answers.
struct JSON: CustomStringConvertible {
    let value: Any?

    init(_ value: Any?) { self.value = value }

    init(parsing text: String) {
        value = try? JSONSerialization.jsonObject(with: Data(text.utf8), options: [.fragmentsAllowed])
    }

    init(parsing bytes: [UInt8]) {
        value = try? JSONSerialization.jsonObject(with: Data(bytes), options: [.fragmentsAllowed])
    }

    subscript(key: String) -> JSON { JSON((value as? [String: Any])?[key]) }

    var string: String? { value as? String }
    var int: Int? { (value as? NSNumber)?.intValue ?? (value as? Int) }
    var bool: Bool? { (value as? NSNumber)?.boolValue ?? (value as? Bool) }
    var isNull: Bool { value == nil || value is NSNull }
    var array: [JSON] { (value as? [Any])?.map { JSON($0) } ?? [] }
    var keys: [String] { (value as? [String: Any]).map { Array($0.keys) } ?? [] }

    var description: String {
        guard let value, JSONSerialization.isValidJSONObject(value),
              let data = try? JSONSerialization.data(withJSONObject: value, options: [.sortedKeys])
        else { return String(describing: value) }
        return String(decoding: data, as: UTF8.self)
    }
}

extension Sequence<UInt8> {
    var hexString: String { map { String(format: "%02x", $0) }.joined() }
}
