import NTLM
import NTLMProxyCore
import Foundation
import Testing

/// Acceptor mode as a domain member: NTLM and Basic verified by the domain through Samba's
/// `ntlm_auth` (a private winbindd, scripts/interop/samba-domain), Kerberos verified with the
/// service keytab of the private MIT KDC — driven by clients nobody on the team wrote (curl's
/// own NTLM, curl's GSSAPI Kerberos, requests-ntlm, pyspnego). Serialized: the domain's
/// counters must see one test's logons at a time.
@Suite("Interop: acceptor verifies against the domain and Kerberos", .serialized)
struct AcceptorDomainTests {
    /// An in-process acceptor in front of the echo backend: the domain for NTLM/Basic (unless
    /// `domain` is false), the shared KDC's service keytab for Kerberos when `kerberos`.
    static func withAcceptor(
        requireGroup: String? = nil, kerberos: Bool = false, domain: Bool = true, allowBasic: Bool = false,
        _ body: (InProcessProxy, SambaDomainFixture) async throws -> Void
    ) async throws {
        try await Interop.needPeers()
        let samba = try await Fixtures.shared.sambaDomain()
        let backend = try await Fixtures.shared.echoBackend()
        var acceptor = AcceptorConfiguration(users: NTLMUserStore(), backend: try BackendURL(parsing: backend.url), domain: "NTLMTEST", basic: allowBasic ? .enabled : .disabled)
        if domain {
            acceptor.domainHelper = NTLMAuthHelperConfiguration(command: samba.helperCommand, maximumHelpers: 2, requireGroup: requireGroup)
        }
        if kerberos {
            let kdc = try await Fixtures.shared.kdc()
            acceptor.kerberos = AcceptorKerberosConfiguration(keytab: kdc.serviceKeytab)
        }
        try await InProcessProxy.runtime(.acceptor(acceptor)).use { proxy in try await body(proxy, samba) }
    }

    /// curl's own NTLM (a 32-byte Type 1) verified by the domain; a wrong password is a 401
    /// and exactly one failed logon on the domain (nothing is retried).
    @Test func curlNTLMIsVerifiedByTheDomainAndAWrongPasswordCostsOneFailedLogon() async throws {
        try await Self.withAcceptor { acceptor, samba in
            let accepted = try await samba.handshakes()
            let ok = try await Curl.run(["--ntlm", "-u", "\(Users.alice):\(Users.alicePassword)", acceptor.url + "whoami"])
            #expect(ok.status == 200, "\(ok)")
            #expect(ok.json["x_remote_user"].string == Users.alice)
            #expect(try await samba.settled(samba.handshakes, expected: accepted + 1) == accepted + 1)

            let failed = try await samba.failedLogons()
            let wrong = try await Curl.run(["--ntlm", "-u", "\(Users.alice):Wrong-Pass", acceptor.url + "whoami"])
            #expect(wrong.status == 401, "\(wrong)")
            #expect(try await samba.settled(samba.failedLogons, expected: failed + 1) == failed + 1)
        }
    }

    /// requests-ntlm (NTLMv2 with a MIC: the domain's session key lets us check it) and
    /// pyspnego as a Negotiate initiator (NTLM in SPNEGO, checking our mechListMIC), three
    /// requests on one connection = one logon.
    @Test func requestsNTLMAndPySPNEGOThroughTheDomain() async throws {
        try await Interop.needPython()
        try await Self.withAcceptor { acceptor, samba in
            let before = try await samba.handshakes()
            let requests = try await RequestsNTLM.run(user: Users.alice, password: Users.alicePassword, url: acceptor.url + "whoami", extra: ["--count", "3"])
            #expect(requests["statuses"].array.map(\.int) == [200, 200, 200], "\(requests)")
            #expect(requests["json"]["user"].string == Users.alice)
            #expect(try await samba.settled(samba.handshakes, expected: before + 1) == before + 1, "one logon for the connection")

            let negotiate = try await PySPNEGOClient.run(protocol: "negotiate", user: Users.alice, password: Users.alicePassword, url: acceptor.url + "whoami", extra: ["--again"])
            #expect(negotiate["status"].int == 200, "\(negotiate)")
            #expect(negotiate["complete"].bool == true)
            #expect(negotiate["final_token"].bool == true, "our mechListMIC, signed with the domain's session key, verified")
            #expect(negotiate["again_json"]["user"].string == Users.alice)
        }
    }

    /// `require-group`: alice (in webusers) gets in, bob (right password, not a member) does
    /// not — a 401 like a refusal, logged as a denial.
    @Test func onlyMembersOfTheRequiredGroupGetIn() async throws {
        try await Interop.needPython()
        try await Self.withAcceptor(requireGroup: "NTLMTEST\\webusers") { acceptor, _ in
            let alice = try await RequestsNTLM.run(user: Users.alice, password: Users.alicePassword, url: acceptor.url + "whoami")
            #expect(alice["status"].int == 200, "\(alice)")
            let bob = try await RequestsNTLM.run(user: "NTLMTEST\\bob", password: "Bob-Pass2", url: acceptor.url + "whoami")
            #expect(bob["status"].int == 401, "\(bob)")
        }
    }

    /// Basic, checked by the domain through the same helpers.
    @Test func basicIsCheckedByTheDomain() async throws {
        try await Self.withAcceptor(allowBasic: true) { acceptor, _ in
            let ok = try await Curl.run(["--basic", "-u", "\(Users.alice):\(Users.alicePassword)", acceptor.url + "whoami"])
            #expect(ok.status == 200, "\(ok)")
            #expect(ok.json["x_remote_user"].string == Users.alice)
            let wrong = try await Curl.run(["--basic", "-u", "\(Users.alice):Wrong-Pass", acceptor.url + "whoami"])
            #expect(wrong.status == 401)
        }
    }

    /// curl --negotiate with alice's Kerberos ticket: verified with the service keytab, the
    /// backend gets the principal, and curl checks our AP-REP (mutual authentication). The
    /// same listener still verifies NTLM through the domain.
    @Test(arguments: ["127.0.0.1", "localhost"])
    func curlNegotiateWithAKerberosTicket(host: String) async throws {
        try await Interop.needKerberosPeers()
        try await Self.withAcceptor(kerberos: true) { acceptor, _ in
            let kdc = try await Fixtures.shared.kdc()
            let cache = try await kdc.kinit()
            defer { cache.remove() }
            let url = "http://\(host):\(acceptor.port)/whoami"
            let environment = kdc.environment.merging(["KRB5CCNAME": cache.name]) { $1 }
            let ok = try await Curl.run(["--negotiate", "-u", ":", "-D", "-", url], environment: environment)
            #expect(ok.status == 200, "\(ok)")
            let json = JSON(parsing: String(ok.body.split(separator: "\r\n\r\n", maxSplits: 1).last ?? ""))
            #expect(json["x_remote_user"].string == Users.alicePrincipal, "\(ok)")
            #expect(json["authorization"].isNull, "the client's token is not passed on")
            #expect(ok.body.contains("WWW-Authenticate: Negotiate "), "the AP-REP comes back")
            #expect(try await kdc.tgsRequests("HTTP/\(host)") >= 1)

            let ntlm = try await Curl.run(["--ntlm", "-u", "\(Users.alice):\(Users.alicePassword)", url])
            #expect(ntlm.json["x_remote_user"].string == Users.alice)
        }
    }

    /// A Kerberos-only acceptor (a keytab, no users file, no domain) offers only Negotiate
    /// and refuses NTLM, while Kerberos works.
    @Test func aKerberosOnlyAcceptorOffersOnlyNegotiate() async throws {
        try await Interop.needKerberosPeers()
        try await Self.withAcceptor(kerberos: true, domain: false) { acceptor, _ in
            let challenge = try await Curl.run(["-D", "-", acceptor.url + "whoami"])
            #expect(challenge.status == 401)
            #expect(challenge.body.contains("WWW-Authenticate: Negotiate\r\n"))
            #expect(!challenge.body.contains("WWW-Authenticate: NTLM"))
            let ntlm = try await Curl.run(["--ntlm", "-u", "\(Users.alice):\(Users.alicePassword)", acceptor.url + "whoami"])
            #expect(ntlm.status == 401, "\(ntlm)")
            let kdc = try await Fixtures.shared.kdc()
            let cache = try await kdc.kinit()
            defer { cache.remove() }
            let ok = try await Curl.run(["--negotiate", "-u", ":", acceptor.url + "whoami"], environment: kdc.environment.merging(["KRB5CCNAME": cache.name]) { $1 })
            #expect(ok.status == 200, "\(ok)")
            #expect(ok.json["x_remote_user"].string == Users.alicePrincipal)
        }
    }
}
