import NTLMProxyCore
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// The private winbindd domain NTLMTEST (scripts/interop/samba-domain): alice and bob, a
/// group `webusers` holding alice only, and winbind's own logon audit as counters.
struct SambaDomainFixture: Sendable {
    let dir: String
    /// What an `ntlm_auth` of this domain needs: nss_wrapper and the winbindd socket folder.
    let helperEnvironment: [String: String]
    /// `--configfile=DIR/samba/smb.conf`.
    let configFileArgument: String

    /// The helper command for `NTLMAuthHelperConfiguration`: ntlm_auth through `/usr/bin/env`
    /// with that environment (as a deployment on a member server needs none of it).
    var helperCommand: [String] {
        ["/usr/bin/env"] + helperEnvironment.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" } + ["/usr/bin/ntlm_auth", configFileArgument]
    }

    /// Logons winbind refused / accepted so far (its auth_audit lines).
    func failedLogons() async throws -> Int { try await Fixtures.counter("samba-domain", "failed-logons", dir) }
    func handshakes() async throws -> Int { try await Fixtures.counter("samba-domain", "handshakes", dir) }

    /// `counter` once it reached `expected`, waiting up to `timeout` seconds (winbindd writes
    /// its audit line a moment after answering), then a little longer to see it stays there.
    func settled(_ counter: @Sendable () async throws -> Int, expected: Int, timeout: Double = 5) async throws -> Int {
        let deadline = Date(timeIntervalSinceNow: timeout)
        var value = try await counter()
        while value < expected && Date() < deadline {
            try await Task.sleep(for: .milliseconds(50))
            value = try await counter()
        }
        try await Task.sleep(for: .milliseconds(300))
        return try await counter()
    }
}
