import NTLM
import Testing
@testable import Kerberos

/// The Kerberos module's decisions that need no KDC: failure classification, renewal times,
/// service names, and what happens when the GSSAPI library is missing.
@Suite("Kerberos without a KDC")
struct KerberosUnitTests {
    static func status(minor: Int32, major: UInt32 = 0x000D_0000) -> GSSStatus {
        GSSStatus(operation: "test", major: major, minor: UInt32(bitPattern: minor), message: "message")
    }

    @Test("a refused password, locked or unknown account is a rejection that never falls back")
    func rejectionsDoNotFallBack() {
        for code in [KerberosMinorCode.preauthenticationFailed, .integrityCheckFailed, .clientRevoked, .keyExpired, .clientPrincipalUnknown] {
            let error = Self.status(minor: code.rawValue).classified(principal: "alice")
            #expect(error == .credentialRejected(principal: "alice", reason: "message"))
            #expect(!error.allowsFallback)
            #expect(error.isCredentialRejection)
        }
    }

    @Test("no KDC, no ticket, no service: Kerberos is unavailable and NTLM may be used")
    func unavailabilityFallsBack() {
        #expect(Self.status(minor: KerberosMinorCode.kdcUnreachable.rawValue).classified(principal: "a") == .kdcUnreachable("message"))
        #expect(Self.status(minor: KerberosMinorCode.realmUnknown.rawValue).classified(principal: "a") == .kdcUnreachable("message"))
        #expect(Self.status(minor: KerberosMinorCode.servicePrincipalUnknown.rawValue).classified(principal: "a", service: "HTTP@web")
            == .serviceUnknown(service: "HTTP@web", reason: "message"))
        #expect(Self.status(minor: KerberosMinorCode.noCredentialsCache.rawValue).classified(principal: "a") == .credentialUnavailable("message"))
        // GSS_S_NO_CRED with a minor code we do not know.
        #expect(Self.status(minor: 12345, major: 0x0007_0000).classified(principal: "a") == .credentialUnavailable("message"))
        #expect(Self.status(minor: 12345).classified(principal: "a") == .failed("message"))
        for error in [KerberosError.kdcUnreachable("x"), .credentialUnavailable("x"), .serviceUnknown(service: "s", reason: "x"), .libraryUnavailable("x"), .failed("x")] {
            #expect(error.allowsFallback)
        }
        #expect(!KerberosError.mutualAuthenticationFailed("x").allowsFallback)
    }

    @Test("tickets are renewed before they expire: 5 minutes early, or a quarter early for short ones")
    func renewalTimes() {
        let policy = TicketRenewalPolicy()
        let start = ContinuousClock.now
        #expect(policy.renewalTime(acquired: start, lifetime: .seconds(36_000)) == start + .seconds(36_000 - 300))
        #expect(policy.renewalTime(acquired: start, lifetime: .seconds(400)) == start + .seconds(300))
        #expect(policy.renewalTime(acquired: start, lifetime: .zero) == start)
        #expect(policy.renewalTime(acquired: start, lifetime: nil) == nil)
    }

    @Test("service names: HTTP@host for GSSAPI, HTTP/host exactly, without URL brackets")
    func serviceNames() {
        let gssapi = KerberosServiceName(host: "WEB.Corp.Example")
        #expect(gssapi.description == "HTTP@web.corp.example")
        #expect(gssapi.resolvedForImport() == ("HTTP@web.corp.example", true))
        let exact = KerberosServiceName(host: "[::1]", canonicalization: .exact)
        #expect(exact.host == "::1")
        #expect(exact.resolvedForImport() == ("HTTP/::1", false))
        // An address literal has no canonical name to follow: the name stays as given.
        #expect(KerberosServiceName(host: "127.0.0.1", canonicalization: .dns).resolvedForImport().text.hasPrefix("HTTP/"))
    }

    @Test("without the GSSAPI library Kerberos is reported unavailable, and a credential says why")
    func missingLibrary() async {
        let missing = GSSAPILibrary.load(candidates: ["libntlmproxy-no-such-gssapi.so.9"])
        guard case .failure(let error) = missing else {
            Issue.record("a library that does not exist was loaded")
            return
        }
        #expect(error.description.contains("libntlmproxy-no-such-gssapi.so.9"))
        #expect(error.allowsFallback)
        let availability = KerberosAvailability.check(missing)
        #expect(!availability.isAvailable)
        #expect(availability.description.contains("NTLM still works"))
        let credential = KerberosCredential(source: .password("secret"), principal: "alice", policy: .default, library: missing)
        await #expect(throws: KerberosError.self) { try await credential.initiate(KerberosServiceName(host: "web")) }
        let report = await credential.report(contactKDC: true)
        #expect(!report.isUsable)
        #expect(!"\(report)".contains("secret"))
        let acceptor = KerberosAcceptor(keytab: "/nonexistent", principal: nil, library: missing)
        await #expect(throws: error) { _ = try await acceptor.accept([0x60, 0x00]) }
    }

    @Test("descriptions of credentials never show a password")
    func redaction() {
        let credential = KerberosCredential(source: .password("Very-Secret-1"), principal: "alice@REALM")
        for text in ["\(credential)", "\(credential.source)", String(reflecting: credential.source)] {
            #expect(!text.contains("Very-Secret-1"))
        }
        #expect(KerberosCredentialSource.ticketCache(nil).kind == "ticket-cache")
    }
}

/// The real system library, when the machine has it (every Debian base image does): it loads,
/// offers the krb5 mechanism, and fails cleanly without a ticket or a keytab.
@Suite("Kerberos with the system GSSAPI, no KDC")
struct KerberosLibraryTests {
    static var loaded: Bool {
        if case .success = GSSAPILibrary.shared { return true }
        return false
    }

    @Test(.enabled(if: loaded, "no GSSAPI library on this machine"))
    func theLibraryOffersKerberos() {
        let availability = KerberosAvailability.current()
        #expect(availability.isAvailable, "\(availability)")
        #expect(availability.hasKerberosMechanism)
    }

    @Test(.enabled(if: loaded, "no GSSAPI library on this machine"))
    func aMissingTicketCacheIsUnavailableNotRejected() async {
        let credential = KerberosCredential(source: .ticketCache("FILE:/nonexistent/ntlmproxy-test-ccache"), principal: nil)
        do {
            _ = try await credential.initiate(KerberosServiceName(host: "web.example"))
            Issue.record("a ticket came out of a cache that does not exist")
        } catch {
            #expect(error.allowsFallback, "\(error)")
            #expect(!error.isCredentialRejection)
        }
        // The failure is remembered: the second try does not go to GSSAPI again.
        let before = credential.acquisitionCount
        await #expect(throws: KerberosError.self) { try await credential.initiate(KerberosServiceName(host: "web.example")) }
        #expect(credential.acquisitionCount == before)
    }

    @Test(.enabled(if: loaded, "no GSSAPI library on this machine"))
    func aDefectiveTokenIsRejectedNotACrash() async {
        let acceptor = KerberosAcceptor(keytab: "/nonexistent/ntlmproxy-test.keytab")
        for token in [[UInt8](), [0x60], [0x60, 0x03, 0x06, 0x01, 0x00], Array(repeating: 0x41, count: 300)] {
            do {
                _ = try await acceptor.accept(token)
                Issue.record("garbage was accepted")
            } catch {
                #expect(error != .libraryUnavailable(""))
            }
        }
    }
}
