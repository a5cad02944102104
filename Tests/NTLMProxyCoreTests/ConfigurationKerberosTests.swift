import Kerberos
import NTLM
import NTLMHTTP
import Testing
@testable import NTLMProxyCore

/// `auth:` and `kerberos:` of credentials and acceptors, and the command-line equivalent:
/// what each combination resolves to, and the errors for the ones that cannot work.
@Suite("Configuration: Kerberos")
struct ConfigurationKerberosTests {
    let scratch: ConfigurationScratch

    init() throws {
        scratch = try ConfigurationScratch()
    }

    func credentials(_ yaml: String, environment: [String: String] = [:]) throws -> [String: CredentialConfiguration] {
        let listener = "\nlisteners:\n  - {name: gw, listen: 8080, mode: gateway, backend: \"http://intranet/\", credential: \(yaml.split(separator: ":").first?.trimmingCharacters(in: .whitespaces) ?? "")}\n"
        let configuration = try scratch.load("credentials:\n" + yaml + listener, environment: environment)
        return Dictionary(uniqueKeysWithValues: configuration.credentials.map { ($0.name, $0) })
    }

    @Test func aPasswordCredentialIsAutoWithKerberosFromThePasswordByDefault() throws {
        let all = try credentials("""
              svc: {user: 'CORP\\svc', password-env: PW}
              upn: {user: svc@CORP.EXAMPLE.COM, password-env: PW}
              named: {user: 'CORP\\svc', password-env: PW, kerberos: {principal: svc-http@CORP.EXAMPLE.COM}}
              ntlm: {user: 'CORP\\svc', password-env: PW, auth: ntlm}
            """, environment: ["PW": ConfigurationFixtures.secret])
        let svc = try #require(all["svc"])
        #expect(svc.authentication.mode == .auto)
        #expect(svc.kerberos?.source == .password(Password(ConfigurationFixtures.secret)))
        // A NetBIOS domain is not a realm: the bare user, completed with the default realm.
        #expect(svc.kerberos?.principal == "svc")
        #expect(svc.httpCredential.canUseNTLM)
        #expect(all["upn"]?.kerberos?.principal == "svc@CORP.EXAMPLE.COM")
        #expect(all["named"]?.kerberos?.principal == "svc-http@CORP.EXAMPLE.COM")
        #expect(all["ntlm"]?.kerberos == nil)
        #expect(all["ntlm"]?.authentication.mode == .ntlm)
        #expect(!svc.authenticationSummary.contains(ConfigurationFixtures.secret))
        #expect(svc.authenticationSummary == "auth auto, SPN gssapi, Kerberos svc from password")
    }

    /// The policy names of the issue (`prefer-kerberos`, `kerberos-only`, `ntlm-only`) are
    /// synonyms of `auto`, `kerberos`, `ntlm`, in the file and on the command line.
    @Test func policyNamesAreSynonyms() throws {
        let all = try credentials("""
              prefer: {user: 'CORP\\svc', password-env: PW, auth: prefer-kerberos}
              only: {user: 'CORP\\svc', password-env: PW, auth: Kerberos-Only}
              never: {user: 'CORP\\svc', password-env: PW, auth: ntlm-only}
            """, environment: ["PW": ConfigurationFixtures.secret])
        #expect(all["prefer"]?.authentication.mode == .auto)
        #expect(all["only"]?.authentication.mode == .kerberos)
        #expect(all["never"]?.authentication.mode == .ntlm)
        #expect(all["never"]?.kerberos == nil)
        #expect(CredentialAuthentication.Mode(name: "sometimes") == nil)
        #expect(CredentialAuthentication.Mode.acceptedNames == "auto (or prefer-kerberos), kerberos (or kerberos-only), ntlm (or ntlm-only), basic")
    }

    /// The renewal margin and the two windows reach the credential's ticket policy; a short
    /// rejection block is warned about (each retry is a failed logon).
    @Test func ticketWindowsAreConfigurable() throws {
        let listener = "\nlisteners:\n  - {name: gw, listen: 8080, mode: gateway, backend: \"http://intranet/\", credential: svc}\n"
        let configuration = try scratch.load("""
            credentials:
              svc: {user: 'CORP\\svc', password-env: PW, kerberos: {renew-before: 10m, retry-after-failure: 2m, block-after-rejection: 30s}}
              plain: {user: 'CORP\\svc', password-env: PW}
            """ + listener, environment: ["PW": ConfigurationFixtures.secret])
        let all = Dictionary(uniqueKeysWithValues: configuration.credentials.map { ($0.name, $0) })
        let expected = TicketRenewalPolicy(renewBefore: .seconds(600), retryAfterFailure: .seconds(120), rejectionWindow: .seconds(30))
        #expect(all["svc"]?.authentication.ticketPolicy == expected)
        #expect(all["svc"]?.kerberos?.policy == expected)
        #expect(all["plain"]?.kerberos?.policy == .default)
        #expect(configuration.warnings.map(\.description).contains { $0.contains("block-after-rejection: a refused password would be offered again every 30s") }, "\(configuration.warnings)")
        #expect(throws: ConfigurationError.self) {
            _ = try scratch.load("credentials:\n  svc: {user: 'CORP\\svc', password-env: PW, kerberos: {retry-after-failure: 0}}" + listener, environment: ["PW": "x"])
        }
    }

    @Test func keytabsAndTicketCachesNeedNoPassword() throws {
        let keytab = try scratch.write("svc.keytab", "not really a keytab")
        let all = try credentials("""
              keytab: {user: 'CORP\\svc', kerberos: {keytab: svc.keytab, spn: exact, timeout: 2s}}
              cache: {user: 'CORP\\alice', auth: kerberos}
              file: {user: 'CORP\\alice', kerberos: {ticket-cache: /tmp/krb5cc_1000}}
              both: {user: 'CORP\\svc', nt-hash: \(ConfigurationFixtures.passwordHash), kerberos: {keytab: svc.keytab}}
            """)
        let fromKeytab = try #require(all["keytab"])
        #expect(fromKeytab.kerberos?.source == .keytab(keytab))
        #expect(fromKeytab.kerberos?.principal == "svc")
        #expect(fromKeytab.authentication == CredentialAuthentication(mode: .kerberos, spnCanonicalization: .exact, kerberosTimeout: .seconds(2)))
        #expect(!fromKeytab.httpCredential.canUseNTLM)
        #expect(fromKeytab.source == .none)
        #expect(all["cache"]?.kerberos?.source == .ticketCache(nil))
        #expect(all["cache"]?.kerberos?.principal == nil)
        #expect(all["file"]?.kerberos?.source == .ticketCache("FILE:/tmp/krb5cc_1000"))
        // A hash for NTLM and a keytab for Kerberos, under auto.
        let both = try #require(all["both"])
        #expect(both.authentication.mode == .auto)
        #expect(both.httpCredential.canUseNTLM)
        #expect(both.kerberos?.source == .keytab(keytab))
    }

    @Test func combinationsThatCannotWorkAreRefusedWithTheReason() throws {
        _ = try scratch.write("svc.keytab", "x")
        let cases: [(String, String)] = [
            ("bad: {user: 'CORP\\svc', password: x, auth: sometimes}", "unknown auth"),
            ("bad: {user: 'CORP\\svc', nt-hash: \(ConfigurationFixtures.passwordHash), auth: kerberos}", "an NT hash cannot get Kerberos tickets"),
            ("bad: {user: 'CORP\\svc'}", "missing secret"),
            ("bad: {user: 'CORP\\svc', kerberos: {keytab: svc.keytab}, allow-basic: true}", "Basic needs a password"),
            ("bad: {user: 'CORP\\svc', kerberos: {keytab: svc.keytab, ticket-cache: default}}", "either keytab or ticket-cache"),
            ("bad: {user: 'CORP\\svc', password: x, kerberos: {principal: 'CORP\\svc'}}", "Kerberos principal"),
            ("bad: {user: 'CORP\\svc', password: x, kerberos: {spn: cname}}", "unknown spn"),
            ("bad: {user: 'CORP\\svc', password: x, kerberos: {keytab: missing.keytab}}", "keytab"),
            ("bad: {user: 'CORP\\svc', password: x, kerberos: {realm: X}}", "realm"),
        ]
        for (yaml, message) in cases {
            let error = scratch.error("credentials:\n  " + yaml)
            #expect(error?.message.contains(message) == true, "\(yaml): \(String(describing: error))")
        }
    }

    @Test func theCredentialsChoiceNarrowsTheClientPolicy() {
        var policy = AuthHandshake.Policy(preemptiveScheme: .ntlm)
        CredentialAuthentication(mode: .kerberos).apply(to: &policy)
        #expect(policy.kerberos == .require)
        #expect(policy.preference == [.negotiate])
        #expect(policy.preemptiveScheme == .negotiate)
        var ntlm = AuthHandshake.Policy(preemptiveScheme: .ntlm)
        CredentialAuthentication(mode: .ntlm).apply(to: &ntlm)
        #expect(ntlm.kerberos == .never)
        #expect(ntlm.preference == [.ntlm, .negotiate, .basic])
        var basic = AuthHandshake.Policy()
        CredentialAuthentication(mode: .basic).apply(to: &basic)
        #expect(basic.preference == [.basic])
        #expect(basic.allowBasic)
        #expect(basic.preemptiveScheme == nil)
        var auto = AuthHandshake.Policy()
        CredentialAuthentication(mode: .auto, spnCanonicalization: .dns, kerberosTimeout: .seconds(9)).apply(to: &auto)
        #expect(auto.kerberos == .prefer)
        #expect(auto.kerberosCanonicalization == .dns)
        #expect(auto.kerberosTimeout == .seconds(9))
    }

    @Test func anAcceptorTakesAServiceKeytab() throws {
        let keytab = try scratch.write("http.keytab", "x")
        _ = try scratch.write("users.txt", ConfigurationFixtures.usersFile)
        let configuration = try scratch.load("""
            listeners:
              - {name: sso, listen: 8081, mode: acceptor, users-file: users.txt, kerberos: {keytab: http.keytab, principal: HTTP/sso.corp.example@CORP.EXAMPLE}}
            """)
        let acceptor = try #require(configuration.listeners.first?.acceptor)
        #expect(acceptor.kerberos == AcceptorKerberosConfiguration(keytab: keytab, principal: "HTTP/sso.corp.example@CORP.EXAMPLE"))
        #expect(configuration.renderSummary().contains("kerberos: keytab \(keytab), principal HTTP/sso.corp.example@CORP.EXAMPLE"))
    }

    @Test func commandLineFlagsResolveLikeTheFile() throws {
        let auto = ConfigurationLoader.KerberosFlags()
        let withPassword = try ConfigurationLoader.credential(userName: "CORP\\alice", passwordFile: nil, kerberos: auto, lookup: { _ in "pw" })
        #expect(withPassword.kerberos?.source == .password("pw"))
        #expect(withPassword.httpCredential.canUseNTLM)
        // --auth kerberos without a password: the default ticket cache, no prompt.
        let kerberos = ConfigurationLoader.KerberosFlags(authentication: CredentialAuthentication(mode: .kerberos))
        let cache = try ConfigurationLoader.credential(userName: "CORP\\alice", passwordFile: nil, kerberos: kerberos, lookup: { _ in nil })
        #expect(cache.kerberos?.source == .ticketCache(nil))
        #expect(!cache.httpCredential.canUseNTLM)
        // auto without a password still needs one (NTLM) unless a keytab or cache is named.
        #expect(throws: ConfigurationError.self) { try ConfigurationLoader.credential(userName: "CORP\\alice", passwordFile: nil, kerberos: auto, lookup: { _ in nil }) }
        let keytab = try scratch.write("alice.keytab", "x")
        let fromKeytab = try ConfigurationLoader.credential(
            userName: "CORP\\alice", passwordFile: nil, kerberos: ConfigurationLoader.KerberosFlags(keytab: keytab), lookup: { _ in nil })
        #expect(fromKeytab.kerberos?.source == .keytab(keytab))
        #expect(fromKeytab.authentication.mode == .kerberos)
        #expect(throws: ConfigurationError.self) {
            try ConfigurationLoader.credential(userName: "CORP\\alice", passwordFile: nil, kerberos: ConfigurationLoader.KerberosFlags(keytab: scratch.directory + "/missing"), lookup: { _ in nil })
        }
        // NTLM only: no Kerberos side at all.
        let ntlm = try ConfigurationLoader.credential(userName: "CORP\\alice", passwordFile: nil, kerberos: .ntlmOnly, lookup: { _ in "pw" })
        #expect(ntlm.kerberos == nil)
    }
}
