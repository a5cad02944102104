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

    /// The Kerberos + NTLM origin is connection-bound and answers `Persistent-Auth: true`, as
    /// IIS does (`authPersistNonNTLM`): after the first request's ticket, the kept-alive
    /// connection's next requests go without one, and the origin still knows alice on them.
    /// (The Kerberos-only origin says nothing of the kind: there every request carries a
    /// ticket, `KerberosGatewayTests`.)
    @Test func aKerberosLogonTheOriginKeepsIsNotRepeated() async throws {
        let site = try await Fixtures.shared.kerberos()
        let credential = HTTPCredential(userName: Users.alice, password: Password(Users.alicePassword), kerberosPrincipal: "alice")
        let client = NTLMHTTPClient(logger: quietLogger)
        let marker = UInt32.random(in: 0...UInt32.max)
        do {
            for n in 1...3 {
                let response = try await client.execute(NTLMHTTPRequest(url: site.both + "whoami?persistent=\(marker)&n=\(n)"), credential: credential, timeout: .seconds(30))
                let json = JSON(parsing: Array(buffer: try await response.body.collect(upTo: 1 << 20)))
                #expect(response.status == .ok, "\(json)")
                #expect(response.headers.first(name: "persistent-auth") == "true")
                #expect(json["user"].string == Users.alicePrincipal, "\(json)")
                // The ticket went with the first request only.
                #expect(json["authorization"].string == (n == 1 ? "Negotiate" : nil), "request \(n): \(json)")
                #expect(response.authenticationMechanism == (n == 1 ? .kerberos : nil))
            }
            try await client.shutdown()
        } catch {
            try? await client.shutdown()
            throw error
        }
        // Apache's view: three requests as alice on one connection, one AP-REQ among them
        // (before them, the first contact's 401 that offered Negotiate and NTLM).
        let lines = await site.accessLogLines(count: 3) { $0.contains(" fx=both ") && $0.contains("persistent=\(marker)&n=") && $0.contains("status=200") }
        #expect(lines.count == 3, "\(lines)")
        #expect(lines.filter { $0.contains("tok=krb mech=Negotiate/krb5") }.count == 1, "\(lines)")
        #expect(lines.allSatisfy { $0.contains("user=\"\(Users.alicePrincipal)\"") && $0.contains("status=200") }, "\(lines)")
        let connections = Set(lines.compactMap { $0.split(separator: " ").first { $0.hasPrefix("conn=") } })
        #expect(connections.count == 1, "\(lines)")
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
