import NIOConcurrencyHelpers
import NTLM

/// The server side of Kerberos: verifies a client's AP-REQ with the service's keys from a
/// keytab and says who the client is.
///
/// Each token is verified on its own (Kerberos over HTTP completes in one leg); the library's
/// replay cache refuses a token seen before. The keytab is read by GSSAPI on every
/// verification, so a rotated key is used without a restart.
public final class KerberosAcceptor: Sendable {
    /// The keytab file; `nil` uses the library's default (`KRB5_KTNAME`, else
    /// /etc/krb5.keytab).
    public let keytab: String?
    /// The acceptor principal (`HTTP/host@REALM`); `nil` accepts tickets for any principal
    /// in the keytab.
    public let principal: String?

    private let library: Result<GSSAPILibrary, KerberosError>
    private let credential = NIOLockedValueBox<GSSCredentialHandle?>(nil)

    public convenience init(keytab: String?, principal: String? = nil) {
        self.init(keytab: keytab, principal: principal, library: GSSAPILibrary.shared)
    }

    init(keytab: String?, principal: String?, library: Result<GSSAPILibrary, KerberosError>) {
        self.keytab = keytab
        self.principal = principal
        self.library = library
    }

    /// Verifies `token` (a krb5 InitialContextToken carrying an AP-REQ).
    ///
    /// - Parameter channelBindings: the bindings of the client's TLS connection; when given,
    ///   a token bound to another channel is refused (a token without bindings is accepted).
    /// - Throws: `.tokenRejected` for a token that does not verify (the client's problem:
    ///   answer 401); `.credentialUnavailable`/`.libraryUnavailable` when our own keytab
    ///   cannot be used (the server's problem).
    public func accept(_ token: [UInt8], channelBindings: ChannelBindings? = nil) async throws(KerberosError) -> KerberosAcceptance {
        let library = try self.library.get()
        let credential = try await acceptorCredential(library: library)
        let bindings = channelBindings?.applicationData
        do {
            return try await KerberosThreadPool.run {
                try Self.verify(token, library: library, credential: credential, channelBindings: bindings)
            }
        } catch let status as GSSStatus {
            switch status.routineError {
            case .noCredentials, .defectiveCredential, .credentialsExpired:
                throw .credentialUnavailable("the service keytab\(keytab.map { " \($0)" } ?? "") cannot be used: \(status.message)")
            default:
                throw .tokenRejected(status.message)
            }
        } catch let error as KerberosError {
            throw error
        } catch {
            throw .failed("\(error)")
        }
    }

    static func verify(_ token: [UInt8], library: GSSAPILibrary, credential: GSSCredentialHandle, channelBindings: [UInt8]?) throws -> KerberosAcceptance {
        var minor: UInt32 = 0
        var context: OpaquePointer? = nil
        var source: OpaquePointer? = nil
        var output = GSSBuffer()
        var flags: UInt32 = 0
        var bytes = token
        let major = withChannelBindings(channelBindings) { bindings in
            bytes.withUnsafeMutableBytes { raw -> UInt32 in
                var input = GSSBuffer(length: raw.count, value: raw.baseAddress)
                return library.acceptSecurityContext(&minor, &context, credential.handle, &input, bindings, &source, nil, &output, &flags, nil, nil)
            }
        }
        defer {
            var cleanup: UInt32 = 0
            _ = library.releaseBuffer(&cleanup, &output)
            if context != nil { _ = library.deleteSecurityContext(&cleanup, &context, nil) }
        }
        let client = source.map { GSSName(owning: $0, library: library) }
        try library.check(major, minor, "verifying a Kerberos ticket")
        guard major & GSSConstant.continueNeeded == 0 else {
            throw GSSStatus(operation: "verifying a Kerberos ticket", major: 0x000D_0000, minor: 0, message: "the client's token needs more than one leg (not supported)")
        }
        guard let client else {
            throw GSSStatus(operation: "verifying a Kerberos ticket", major: 0x000D_0000, minor: 0, message: "no client name")
        }
        return KerberosAcceptance(principal: client.displayed, responseToken: output.bytes, mutual: flags & GSSConstant.mutualFlag != 0)
    }

    /// The acceptor credential, acquired once from the keytab.
    private func acceptorCredential(library: GSSAPILibrary) async throws(KerberosError) -> GSSCredentialHandle {
        if let existing = credential.withLockedValue({ $0 }) { return existing }
        let keytab = keytab, principal = principal
        do {
            let made = try await KerberosThreadPool.run { () throws -> GSSCredentialHandle in
                let name = try principal.map { try GSSName($0, type: library.oids.kerberosPrincipalNameRaw, library: library) }
                var minor: UInt32 = 0
                var output: OpaquePointer? = nil
                let what = "opening the service keytab \(keytab ?? "(default)")"
                let major: UInt32
                if let keytab {
                    guard let from = library.acquireCredentialFrom else {
                        throw GSSStatus(operation: what, major: 0x000D_0000, minor: 0, message: "this GSSAPI library cannot use a named keytab (no gss_acquire_cred_from)")
                    }
                    major = withKeyValueSet([("keytab", keytab)]) { store in
                        from(&minor, name?.handle, 0, library.oids.kerberos5SetRaw, GSSConstant.credentialAccept, store, &output, nil, nil)
                    }
                } else {
                    major = library.acquireCredential(&minor, name?.handle, 0, library.oids.kerberos5SetRaw, GSSConstant.credentialAccept, &output, nil, nil)
                }
                try library.check(major, minor, what)
                guard let output else { throw GSSStatus(operation: what, major: major, minor: minor, message: "no credential returned") }
                return GSSCredentialHandle(owning: output, library: library, acquiredAt: .now)
            }
            credential.withLockedValue { $0 = made }
            return made
        } catch let status as GSSStatus {
            throw .credentialUnavailable(status.description)
        } catch {
            throw .failed("\(error)")
        }
    }

    /// Opens the keytab now and reports whether it can be used (for `check-config` and the
    /// start-up log).
    public func check() async -> Result<String, KerberosError> {
        do throws(KerberosError) {
            let library = try self.library.get()
            let handle = try await acceptorCredential(library: library)
            if let principal { return .success(principal) }
            let first = handle.principal == "?" ? "" : ", the first is \(handle.principal)"
            return .success("any principal in \(keytab ?? "the default keytab")\(first)")
        } catch {
            return .failure(error)
        }
    }
}

/// A verified Kerberos client.
public struct KerberosAcceptance: Hashable, Sendable {
    /// The client principal, `alice@REALM`.
    public var principal: String
    /// The AP-REP to send back when the client asked for mutual authentication (empty
    /// otherwise).
    public var responseToken: [UInt8]
    /// Whether the client asked for mutual authentication.
    public var mutual: Bool

    /// The principal split at its last `@`: user (possibly with `/instance`) and realm.
    public var userAndRealm: (user: String, realm: String) {
        guard let at = principal.lastIndex(of: "@") else { return (principal, "") }
        return (String(principal[..<at]), String(principal[principal.index(after: at)...]))
    }
}
