import NIOHTTP1
import Testing
@testable import NTLMHTTP

/// What a connection's next request carries after an authenticated one: nothing after NTLM or
/// a Kerberos logon the origin keeps (`Persistent-Auth: true`), a fresh token otherwise.
@Suite("Connection authentication standing")
struct ConnectionAuthenticationTests {
    static func headers(_ pairs: [(String, String)]) -> HTTPHeaders { HTTPHeaders(pairs) }

    @Test(arguments: [HTTPAuthMechanism.ntlm, .negotiateNTLM])
    func ntlmAlwaysStaysWithTheConnection(mechanism: HTTPAuthMechanism) {
        for target in [AuthHandshake.Target.origin, .proxy] {
            let standing = ConnectionAuthentication(mechanism: mechanism, target: target, responseHeaders: Self.headers([]))
            #expect(standing.persists)
            #expect(standing.mechanismForNextRequest == nil)
        }
    }

    @Test func kerberosStaysOnlyWhenTheOriginSaysPersistentAuthTrue() {
        let cases: [([(String, String)], AuthHandshake.Target, Bool)] = [
            ([], .origin, false),
            ([("Persistent-Auth", "true")], .origin, true),
            ([("persistent-auth", " TRUE ")], .origin, true),
            ([("Persistent-Auth", "false")], .origin, false),
            ([("Persistent-Auth", "truely")], .origin, false),
            // A proxy's answer does not make a proxy logon persistent.
            ([("Persistent-Auth", "true")], .proxy, false),
        ]
        for (pairs, target, persists) in cases {
            let standing = ConnectionAuthentication(mechanism: .kerberos, target: target, responseHeaders: Self.headers(pairs))
            #expect(standing.persists == persists, "\(pairs) \(target)")
            #expect(standing.mechanismForNextRequest == (persists ? nil : .kerberos))
        }
    }

    @Test func basicIsNeverKept() {
        let standing = ConnectionAuthentication(mechanism: .basic, target: .origin, responseHeaders: Self.headers([("Persistent-Auth", "true")]))
        #expect(!standing.persists)
        #expect(standing.mechanismForNextRequest == .basic)
    }
}
