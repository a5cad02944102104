import NIOCore
import NTLM
import Testing
@testable import NTLMProxyCore

/// An acceptor's `winbind:` (the domain through Samba's ntlm_auth) and `kerberos:` alone.
@Suite("Configuration: acceptor domain and Kerberos-only acceptors")
struct ConfigurationAcceptorDomainTests {
    let scratch: ConfigurationScratch

    init() throws {
        scratch = try ConfigurationScratch()
    }

    func acceptor(_ settings: String) throws -> AcceptorConfiguration {
        let configuration = try scratch.load("listeners:\n  - {name: sso, listen: 8081, mode: acceptor, domain: NTLMTEST, \(settings)}\n")
        return try #require(configuration.listeners.first?.acceptor)
    }

    @Test func winbindTakesTheHelperItsLimitsAndAGroup() throws {
        let defaults = try acceptor("winbind: true")
        #expect(defaults.domainHelper == NTLMAuthHelperConfiguration())
        #expect(defaults.verifiesNTLM)
        let tuned = try acceptor("winbind: {helper: [/usr/bin/env, FOO=1, /usr/bin/true, --configfile=/etc/samba/smb.conf], helpers: 8, queue: 10, timeout: 3s, require-group: 'NTLMTEST\\webusers'}")
        let helper = try #require(tuned.domainHelper)
        #expect(helper.command == ["/usr/bin/env", "FOO=1", "/usr/bin/true", "--configfile=/etc/samba/smb.conf"])
        #expect(helper.maximumHelpers == 8)
        #expect(helper.queueLimit == 10)
        #expect(helper.timeout == .seconds(3))
        #expect(helper.arguments.suffix(2) == ["--helper-protocol=ntlm-server-1", "--require-membership-of=NTLMTEST\\webusers"])
        let summary = try scratch.load("listeners:\n  - {name: sso, listen: 8081, mode: acceptor, winbind: {require-group: 'NTLMTEST\\webusers'}}\n").renderSummary()
        #expect(summary.contains("users: the domain through /usr/bin/ntlm_auth --helper-protocol=ntlm-server-1 --require-membership-of=NTLMTEST\\webusers (at most 4 helpers"))
    }

    @Test func kerberosAloneIsAKerberosOnlyAcceptor() throws {
        let keytab = try scratch.write("http.keytab", "x")
        let kerberosOnly = try acceptor("kerberos: {keytab: http.keytab}")
        #expect(!kerberosOnly.verifiesNTLM)
        #expect(kerberosOnly.kerberos?.keytab == keytab)
    }

    @Test func theWrongCombinationsSayWhy() throws {
        _ = try scratch.write("users.txt", ConfigurationFixtures.usersFile)
        let cases: [(String, String)] = [
            ("users-file: users.txt, winbind: true", "either users-file or winbind"),
            ("allow-basic: true", "missing users-file"),
            ("winbind: false", "leave it out"),
            ("winbind: {helper: ntlm_auth}", "absolute path"),
            ("winbind: {helper: /nonexistent/ntlm_auth}", "helper /nonexistent/ntlm_auth"),
            ("winbind: {helpers: 0}", "helpers"),
            ("winbind: {pool: 3}", "pool"),
        ]
        for (settings, message) in cases {
            let error = scratch.error("listeners:\n  - {name: sso, listen: 8081, mode: acceptor, \(settings)}\n")
            #expect(error?.description.contains(message) == true, "\(settings): \(String(describing: error))")
        }
    }
}
