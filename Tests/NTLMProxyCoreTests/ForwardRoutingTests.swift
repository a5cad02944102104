import NIOHTTP1
import NTLM
import Kerberos
import NTLMHTTP
import Testing
@testable import NTLMProxyCore

@Suite("Forward mode: request targets, routing, parent health, client credentials")
struct ForwardRoutingTests {
    // MARK: Request targets

    static let targets: [(String, Bool, String, Int)] = [
        ("http://example.com/path?q=1", false, "example.com", 80),
        ("HTTP://Example.COM:8080", false, "example.com", 8080),
        ("https://intranet:8443/x", false, "intranet", 8443),
        ("http://[::1]:3128/", false, "::1", 3128),
        ("http://[fe80::1]/", false, "fe80::1", 80),
        ("example.com:443", true, "example.com", 443),
        ("[2001:db8::1]:22", true, "2001:db8::1", 22),
        ("127.0.0.1:65535", true, "127.0.0.1", 65535),
    ]

    @Test(arguments: targets)
    func parsesTargets(uri: String, isConnect: Bool, host: String, port: Int) throws {
        let target = try ProxyRequestTarget(parsing: uri, isConnect: isConnect)
        #expect(target.host == host)
        #expect(target.port == port)
    }

    static let badTargets: [(String, Bool)] = [
        ("/just/a/path", false),
        ("ftp://example.com/", false),
        ("http://user:pw@example.com/", false),
        ("http://:80/", false),
        ("http://host:0/", false),
        ("http://host:99999/", false),
        ("http://host:8x/", false),
        ("http://[::1/", false),
        ("http://[::1]x/", false),
        ("http://ho st/", false),
        ("example.com", true),
        ("example.com:", true),
        ("::1:443", true),
        ("", true),
        ("", false),
        (String(repeating: "a", count: 300) + ":1", true),
    ]

    @Test(arguments: badTargets)
    func rejectsBadTargets(uri: String, isConnect: Bool) {
        #expect(throws: ProxyRequestTarget.ParseError.self) { try ProxyRequestTarget(parsing: uri, isConnect: isConnect) }
    }

    @Test func originFormSaysWhatToDo() {
        #expect(throws: ProxyRequestTarget.ParseError.notAProxyRequest) { try ProxyRequestTarget(parsing: "/", isConnect: false) }
        #expect(ProxyRequestTarget.ParseError.notAProxyRequest.description.contains("http_proxy"))
    }

    // MARK: Routing

    static let first = ParentProxyConfiguration(name: "first", host: "10.0.0.1", port: 3128)
    static let second = ParentProxyConfiguration(name: "second", host: "10.0.0.2", port: 8080)

    @Test func routesByRuleThenNoProxyThenParents() throws {
        let configuration = ForwardConfiguration(
            parents: [Self.first, Self.second],
            rules: HostRouter(rules: [
                try HostRule(pattern: "*.direct.example", target: .direct),
                try HostRule(pattern: "special.example", target: .parent("second")),
            ]),
            noProxy: try NoProxyRules(parsing: "localhost, 10.0.0.0/8, *.corp.example"))
        let router = ForwardRouter(configuration: configuration)
        #expect(router.route(host: "a.direct.example", port: 80) == .direct)
        #expect(router.route(host: "special.example", port: 80) == .parents([Self.second, Self.first]))
        #expect(router.route(host: "www.corp.example", port: 443) == .direct)
        #expect(router.route(host: "10.9.8.7", port: 443) == .direct)
        #expect(router.route(host: "localhost", port: 443) == .direct)
        #expect(router.route(host: "example.org", port: 443) == .parents([Self.first, Self.second]))
    }

    @Test func withoutParentsEverythingGoesDirect() {
        let router = ForwardRouter(configuration: ForwardConfiguration())
        #expect(router.route(host: "example.org", port: 80) == .direct)
    }

    @Test func ruleNamingAnUnknownParentFallsThrough() throws {
        let configuration = ForwardConfiguration(parents: [Self.first], rules: HostRouter(rules: [try HostRule(pattern: "x.example", target: .parent("nope"))]))
        #expect(ForwardRouter(configuration: configuration).route(host: "x.example", port: 80) == .parents([Self.first]))
    }

    // MARK: Parent health

    @Test func downParentsGoLastAndComeBack() {
        var health = ParentHealth()
        let names = ["a", "b", "c"]
        #expect(health.ordered(names, name: { $0 }) == ["a", "b", "c"])
        let firstFailure = health.recordFailure("a")
        let secondFailure = health.recordFailure("a")
        #expect(firstFailure)
        #expect(!secondFailure, "a second failure is not news")
        #expect(health.ordered(names, name: { $0 }) == ["b", "c", "a"])
        #expect(health.downParents == ["a"])
        health.recordFailure("b")
        health.recordFailure("c")
        #expect(health.ordered(names, name: { $0 }) == ["a", "b", "c"], "all down: still tried, in order")
        let recovered = health.recordSuccess("b")
        let recoveredAgain = health.recordSuccess("b")
        #expect(recovered)
        #expect(!recoveredAgain)
        #expect(health.ordered(names, name: { $0 }) == ["b", "a", "c"])
        if case .down(_, let failures) = health.state(of: "a") {
            #expect(failures == 2)
        } else {
            Issue.record("a should be down")
        }
    }

    // MARK: Client credentials (client-auth: basic)

    @Test func basicCredentialsBecomeNTLMCredentials() throws {
        let cache = ClientCredentialCache(defaultDomain: "CORP")
        let token = Base64.encode(Array(#"alice:Secret-1"#.utf8))
        let credential = try cache.credential(from: ["Basic \(token)"])
        #expect(credential.qualifiedUser == #"CORP\alice"#)
        #expect(credential.ntlm?.ntHash == NTHash(password: "Secret-1"))
        let again = try cache.credential(from: ["Basic \(token)"])
        #expect(again == credential, "equal credentials share one upstream pool")

        let qualified = try cache.credential(from: ["Basic " + Base64.encode(Array(#"OTHER\bob:pw:with:colons"#.utf8))])
        #expect(qualified.qualifiedUser == #"OTHER\bob"#)
        #expect(qualified.ntlm?.ntHash == NTHash(password: "pw:with:colons"))
        #expect(!"\(qualified)".contains("pw:with"))
    }

    /// Under `auth: auto` (the default without a listener credential) a client's Basic also
    /// gets a Kerberos side: tickets from its password, as the principal its name implies;
    /// under `ntlm` none.
    @Test func basicCredentialsGetKerberosUnlessTheListenerSaysNTLM() throws {
        let auto = ClientCredentialCache(defaultDomain: "CORP", authentication: CredentialAuthentication(mode: .auto))
        let alice = try auto.credential(from: ["Basic " + Base64.encode(Array(#"CORP\alice:Secret-1"#.utf8))])
        #expect(alice.kerberos?.principal == "alice")
        #expect(alice.kerberos?.source == .password(Password("Secret-1")))
        #expect(alice.canUseNTLM)
        let upn = try auto.credential(from: ["Basic " + Base64.encode(Array("bob@CORP.EXAMPLE.COM:Secret-2".utf8))])
        #expect(upn.kerberos?.principal == "bob@CORP.EXAMPLE.COM")
        #expect(!"\(upn)".contains("Secret-2"))

        let ntlmOnly = ClientCredentialCache(defaultDomain: "CORP", authentication: CredentialAuthentication(mode: .ntlm))
        #expect(try ntlmOnly.credential(from: ["Basic " + Base64.encode(Array(#"CORP\alice:Secret-1"#.utf8))]).kerberos == nil)
    }

    @Test func missingOrMalformedBasic() {
        let cache = ClientCredentialCache(defaultDomain: "")
        #expect(throws: ClientCredentialCache.Failure.missing) { try cache.credential(from: []) }
        #expect(throws: ClientCredentialCache.Failure.missing) { try cache.credential(from: ["NTLM TlRMTVNTUAAB"]) }
        #expect(throws: ClientCredentialCache.Failure.malformed) { try cache.credential(from: ["Basic " + Base64.encode(Array("no-colon".utf8))]) }
        #expect(throws: ClientCredentialCache.Failure.malformed) { try cache.credential(from: ["Basic " + Base64.encode(Array(":pw".utf8))]) }
        #expect(throws: (any Error).self) { try cache.credential(from: ["Basic !!!notbase64"]) }
    }

    // MARK: Connection-bound origin authentication

    @Test func detectsConnectionBoundOriginAuthentication() {
        #expect(ForwardMode.carriesConnectionAuthorization(["Authorization": "NTLM TlRMTVNTUAABAAAA"]))
        #expect(ForwardMode.carriesConnectionAuthorization(["authorization": "negotiate YIIB"]))
        #expect(!ForwardMode.carriesConnectionAuthorization(["Authorization": "Basic YTpi"]))
        #expect(!ForwardMode.carriesConnectionAuthorization([:]))
        #expect(ForwardMode.offersConnectionAuthentication(["WWW-Authenticate": "Negotiate", "www-authenticate": "NTLM"]))
        #expect(!ForwardMode.offersConnectionAuthentication(["WWW-Authenticate": "Basic realm=\"x\""]))
    }
}
