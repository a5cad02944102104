import NTLMTestSupport
import Foundation
import Testing

/// cntlm compatibility: a cntlm.conf written with the hashes the real `cntlm -H` prints
/// (PassLM, PassNT, PassNTLMv2: bitwise complements of the standard hashes) authenticates
/// unchanged through `ntlmproxy forward --cntlm-config` and `ntlmproxy run --cntlm-config`.
@Suite("Interop: forward from a cntlm.conf made by cntlm -H")
struct ForwardCntlmConfigTests {
    static let cntlm = "/usr/sbin/cntlm"

    /// `cntlm -H` for alice (password on stdin), as cntlm.conf lines. It also prints its
    /// "Password: " prompt on stdout: only the three Pass* lines are kept, comments dropped.
    static func hashLines() async throws -> [String] {
        try Interop.need(FileManager.default.isExecutableFile(atPath: cntlm), "no \(cntlm) (scripts/interop/install-peers installs cntlm)")
        // -c /dev/null: never read the packaged /etc/cntlm.conf.
        let result = try await Subprocess.run(["/bin/sh", "-c", "printf '%s\\n' \"$1\" | \"$2\" -H -c /dev/null -u alice -d NTLMTEST", "cntlm-H", Users.alicePassword, cntlm], timeout: 30)
        let lines = result.stdout.split(separator: "\n").map(String.init).filter { line in
            ["PassLM ", "PassNT ", "PassNTLMv2 "].contains { line.hasPrefix($0) }
        }.map { line in
            (line.range(of: "#").map { String(line[..<$0.lowerBound]) } ?? line).trimmingCharacters(in: .whitespaces)
        }
        #expect(lines.count == 3, "cntlm -H printed: \(result)")
        return lines
    }

    static func writeConfig(_ lines: [String]) throws -> URL {
        let file = Subprocess.scratchFile("cntlm.conf")
        try Data((lines.joined(separator: "\n") + "\n").utf8).write(to: file)
        return file
    }

    static func configLines(hashes: [String], parent: ParentProxy, listenPort: Int, extra: [String] = []) -> [String] {
        ["# written from `cntlm -H` output", "Username\talice", "Domain\t\tNTLMTEST"] + hashes
            + ["Proxy\t\t\(parent.authority)", "Listen\t\t127.0.0.1:\(listenPort)"] + extra
    }

    /// GET and CONNECT through ntlmproxy with the conf: the only credential ntlmproxy has is the
    /// complemented hashes (no --user, no password).
    static func exercise(_ proxy: ForwardCLI, parent: ParentProxy, hashes: [String]) async throws {
        let tls = try await ForwardFixtures.shared.tlsOrigin()
        let get = try await ProxyCurl.run(proxy: proxy.proxyURL, [parent.origin + "whoami"])
        #expect(get.status == 200, "\(get)\n\(proxy.process.log.suffix(2000))")
        #expect(get.json["path"].string == "/whoami")
        let tunnel = try await ProxyCurl.run(proxy: proxy.proxyURL, ["--cacert", tls.caFile, tls.url + "whoami"])
        #expect(tunnel.status == 200, "\(tunnel)")
        for line in hashes {
            let hash = line.split(whereSeparator: { $0 == " " || $0 == "\t" }).last.map(String.init) ?? line
            #expect(!proxy.process.log.lowercased().contains(hash.lowercased()), "a hash reached the log")
        }
    }

    @Test func forwardWithCntlmConfigThroughSquid() async throws {
        let parent = try await ForwardFixtures.shared.parent(.squid)
        let hashes = try await Self.hashLines()
        // Listen names a port of its own; --listen (added by the helper) overrides it.
        let file = try Self.writeConfig(Self.configLines(hashes: hashes, parent: parent, listenPort: try freePort()))
        defer { try? FileManager.default.removeItem(at: file) }
        let proxy = try await CLIProcess.start(["forward", "--cntlm-config", file.path, "--log-level", "info"], name: "forward-cntlm")
        try await ForwardCLI(process: proxy.process, port: proxy.port).use { proxy in
            try await Self.exercise(proxy, parent: parent, hashes: hashes)
        }
    }

    /// `run --cntlm-config`: everything from the file, Listen included.
    @Test func runWithCntlmConfigThroughSquid() async throws {
        let parent = try await ForwardFixtures.shared.parent(.squid)
        let hashes = try await Self.hashLines()
        var file: URL?
        defer { file.map { try? FileManager.default.removeItem(at: $0) } }
        let proxy = try await ForwardCLI.start(name: "run-cntlm") { port in
            let written = try Self.writeConfig(Self.configLines(hashes: hashes, parent: parent, listenPort: port))
            file = written
            return ["run", "--cntlm-config", written.path, "--log-level", "info"]
        }
        try await proxy.use { proxy in
            try await Self.exercise(proxy, parent: parent, hashes: hashes)
        }
    }

    /// The same conf with the `Flags 0x053208a0` line cntlm needs against gss-ntlmssp: ntlmproxy
    /// ignores Flags (with a warning) and authenticates to the strict Apache parent anyway.
    @Test func cntlmFlagsHackIsIgnoredAgainstApache() async throws {
        let parent = try await ForwardFixtures.shared.parent(.apache)
        let hashes = try await Self.hashLines()
        let file = try Self.writeConfig(Self.configLines(hashes: hashes, parent: parent, listenPort: try freePort(), extra: ["Flags\t\t0x053208a0"]))
        defer { try? FileManager.default.removeItem(at: file) }
        let proxy = try await CLIProcess.start(["forward", "--cntlm-config", file.path, "--log-level", "info"], name: "forward-cntlm-flags")
        try await ForwardCLI(process: proxy.process, port: proxy.port).use { proxy in
            #expect(proxy.process.log.contains("Flags"), "a warning about the ignored Flags line: \(proxy.process.log.prefix(2000))")
            try await Self.exercise(proxy, parent: parent, hashes: hashes)
        }
    }

    /// The reference: the real cntlm accepts the very same file against squid (so the file is
    /// what cntlm users have, not something only ntlmproxy reads).
    @Test func theSameConfigWorksWithCntlmItself() async throws {
        let parent = try await ForwardFixtures.shared.parent(.squid)
        let hashes = try await Self.hashLines()
        let port = try freePort()
        let file = try Self.writeConfig(Self.configLines(hashes: hashes, parent: parent, listenPort: port))
        defer { try? FileManager.default.removeItem(at: file) }
        let cntlm = try BackgroundProcess([Self.cntlm, "-f", "-c", file.path], name: "cntlm")
        defer { Task { await cntlm.stop() } }
        #expect(await cntlm.waitForLog(timeout: 10) { $0.contains("Cntlm ready") }, "\(cntlm.log)")
        let get = try await ProxyCurl.run(proxy: "http://127.0.0.1:\(port)", [parent.origin + "whoami"], timeout: 20)
        #expect(get.status == 200, "\(get)\n\(cntlm.log)")
        await cntlm.stop()
    }
}
