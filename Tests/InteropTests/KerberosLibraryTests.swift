import NTLMTestSupport
import Foundation
import Kerberos
import NIOCore
import NTLM
import NTLMHTTP
import Testing

/// The NTLMHTTP client in this process with Kerberos credentials, against the Apache Kerberos
/// origins and parent (scripts/interop/apache-kerberos). MIT finds the shared KDC through this
/// process's `KRB5_CONFIG`, which `Fixtures.kdc()` sets before any of these runs.
@Suite("Interop: NTLMHTTP client with Kerberos → Apache (mod_auth_gssapi, MIT KDC)")
struct KerberosLibraryTests {
    /// Where the credential's tickets come from.
    enum Source: String, CaseIterable, Sendable, CustomTestStringConvertible {
        /// `HTTPCredential(userName:password:kerberosPrincipal:)`.
        case password
        /// `.keytab(alice.keytab)`.
        case keytab
        /// `.ticketCache("FILE:…")`, filled by kinit.
        case ticketCache

        var testDescription: String { rawValue }

        /// alice's credential from this source (and the cache to remove afterwards).
        func credential(_ kdc: KDCFixture) async throws -> (HTTPCredential, TicketCache?) {
            switch self {
            case .password:
                return (HTTPCredential(userName: Users.alice, password: Password(Users.alicePassword), kerberosPrincipal: "alice"), nil)
            case .keytab:
                let kerberos = KerberosCredential(source: .keytab(kdc.aliceKeytab), principal: Users.alicePrincipal)
                return (HTTPCredential(userName: Users.alice, kerberos: kerberos), nil)
            case .ticketCache:
                let cache = try await kdc.kinit()
                return (HTTPCredential(userName: Users.alice, kerberos: KerberosCredential(source: .ticketCache(cache.name))), cache)
            }
        }
    }

    /// One GET with a client of its own: the response (body read) and the body as JSON.
    static func get(_ url: String, credential: HTTPCredential, via proxy: HTTPProxyServer? = nil,
                    configuration: NTLMHTTPClient.Configuration = .init()) async throws -> (NTLMHTTPResponse, JSON) {
        let client = NTLMHTTPClient(configuration: configuration, logger: quietLogger)
        do {
            let response = try await client.execute(NTLMHTTPRequest(url: url), credential: credential, via: proxy, timeout: .seconds(30))
            let body = try await response.body.collect(upTo: 1 << 20)
            try await client.shutdown()
            return (response, JSON(parsing: Array(buffer: body)))
        } catch {
            try? await client.shutdown()
            throw error
        }
    }

    @Test(arguments: Source.allCases)
    func kerberosOriginAcceptsTicketsFromTheSource(source: Source) async throws {
        let site = try await Fixtures.shared.kerberos()
        let (credential, cache) = try await source.credential(site.kdc)
        defer { cache?.remove() }
        let service = KerberosServiceName(host: "127.0.0.1")
        #expect(credential.kerberos?.hasTicket(for: service) == false)
        let (response, json) = try await Self.get(site.origin + "whoami", credential: credential)
        #expect(response.status == .ok, "\(json)")
        #expect(response.authenticationMechanism == .kerberos)
        #expect(json["user"].string == Users.alicePrincipal, "\(json)")
        #expect(json["authorization"].string == "Negotiate")
        // Its ticket is cached now: the next requests need no KDC (and no timeout race).
        #expect(credential.kerberos?.hasTicket(for: service) == true)
        #expect(credential.kerberos?.hasTicket(for: KerberosServiceName(host: "localhost")) == false)
    }

    /// Through the Kerberos parent (`via:`), `407 Proxy-Authenticate: Negotiate` answered with
    /// a ticket for `HTTP/127.0.0.1`; the parent tells the backend who it was.
    @Test(arguments: Source.allCases)
    func kerberosParentAcceptsTicketsFromTheSource(source: Source) async throws {
        let site = try await Fixtures.shared.kerberos()
        let (credential, cache) = try await source.credential(site.kdc)
        defer { cache?.remove() }
        let parent = HTTPProxyServer(host: "127.0.0.1", port: site.parentPort)
        let (response, json) = try await Self.get(site.backend + "whoami?via=parent", credential: credential, via: parent)
        #expect(response.status == .ok, "\(json)")
        #expect(response.authenticationMechanism == .kerberos)
        #expect(json["x_remote_user"].string == Users.alicePrincipal, "\(json)")
        #expect(json["path"].string == "/whoami?via=parent")
    }

    /// `auth auto` (`.prefer`, the default) with a credential that can do both, against the
    /// origin offering `Negotiate` and `NTLM`: Kerberos.
    @Test func autoPicksKerberosWhereNTLMIsOfferedToo() async throws {
        let site = try await Fixtures.shared.kerberos()
        let credential = HTTPCredential(userName: Users.alice, password: Password(Users.alicePassword), kerberosPrincipal: "alice")
        let (response, json) = try await Self.get(site.both + "whoami", credential: credential)
        #expect(response.status == .ok, "\(json)")
        #expect(response.authenticationMechanism == .kerberos)
        #expect(json["user"].string == Users.alicePrincipal, "\(json)")
    }

    /// Ways of not wanting Kerberos.
    enum NoKerberos: String, CaseIterable, Sendable, CustomTestStringConvertible {
        /// A Kerberos-capable credential, the client's policy `.never` (`auth: ntlm`).
        case policyNever
        /// `HTTPCredential(userName:password:)`: no Kerberos side at all.
        case credentialWithoutPrincipal

        var testDescription: String { rawValue }
    }

    /// The same origin as above, Kerberos not wanted: NTLM, as `NTLMTEST\alice`.
    @Test(arguments: NoKerberos.allCases)
    func ntlmWhenKerberosIsNotWanted(_ way: NoKerberos) async throws {
        let site = try await Fixtures.shared.kerberos()
        var configuration = NTLMHTTPClient.Configuration()
        let credential: HTTPCredential
        switch way {
        case .policyNever:
            configuration.authentication.kerberos = .never
            credential = HTTPCredential(userName: Users.alice, password: Password(Users.alicePassword), kerberosPrincipal: "alice")
        case .credentialWithoutPrincipal:
            credential = HTTPCredential(userName: Users.alice, password: Password(Users.alicePassword))
        }
        let (response, json) = try await Self.get(site.both + "whoami", credential: credential, configuration: configuration)
        #expect(response.status == .ok, "\(json)")
        #expect(response.authenticationMechanism == .ntlm || response.authenticationMechanism == .negotiateNTLM,
                "\(response.authenticationMechanism.map { "\($0)" } ?? "nil")")
        #expect(json["user"].string == Users.alice, "\(json)")
    }
}
