import NIOConcurrencyHelpers

/// What an HTTP authenticator needs of one Kerberos authentication: the token to send and
/// the check of the server's answer. `KerberosInitiatorContext` is the real one.
public protocol KerberosClientContext: AnyObject, Sendable {
    /// The AP-REQ (an RFC 2743 InitialContextToken of the krb5 mechanism).
    var initialToken: [UInt8] { get }
    /// The client principal, for logs.
    var principal: String { get }
    /// Checks the server's AP-REP (mutual authentication).
    func verifyServerToken(_ token: [UInt8]) throws(KerberosError)
}

/// One Kerberos authentication of a client to a service: the first token (the AP-REQ,
/// framed as an RFC 2743 InitialContextToken of the krb5 mechanism) and, once the server
/// answers, the check of its AP-REP (mutual authentication).
///
/// Made by `KerberosCredential.initiate`; used by one request at a time. The GSSAPI context
/// is deleted when the last reference goes away.
public final class KerberosInitiatorContext: KerberosClientContext, @unchecked Sendable {
    /// The AP-REQ to send (inside SPNEGO for HTTP `Negotiate`).
    public let initialToken: [UInt8]
    /// The service the token is for.
    public let service: KerberosServiceName
    /// The client principal.
    public let principal: String

    private let library: GSSAPILibrary
    /// Kept alive while the context may still need it.
    private let credential: GSSCredentialHandle
    /// The service name; GSSAPI wants it again on the second call.
    private let target: GSSName
    private let lock = NIOLock()
    private var context: OpaquePointer?
    private var complete: Bool

    private init(library: GSSAPILibrary, credential: GSSCredentialHandle, target: GSSName, context: OpaquePointer?, token: [UInt8], complete: Bool, service: KerberosServiceName) {
        self.library = library
        self.credential = credential
        self.target = target
        self.context = context
        self.initialToken = token
        self.complete = complete
        self.service = service
        self.principal = credential.principal
    }

    /// Whether mutual authentication has completed (the server's AP-REP was verified).
    public var isComplete: Bool { lock.withLock { complete } }

    /// Starts a context (blocking: may ask the KDC for a service ticket).
    static func start(library: GSSAPILibrary, credential: GSSCredentialHandle, service: KerberosServiceName, channelBindings: [UInt8]?) throws -> KerberosInitiatorContext {
        let (text, hostBased) = service.resolvedForImport()
        let target = try GSSName(text, type: hostBased ? library.oids.hostBasedServiceRaw : library.oids.kerberosPrincipalNameRaw, library: library)
        var minor: UInt32 = 0
        var context: OpaquePointer? = nil
        var output = GSSBuffer()
        let major = withChannelBindings(channelBindings) { bindings in
            library.initSecurityContext(
                &minor, credential.handle, &context, target.handle, library.oids.kerberos5Raw,
                GSSConstant.mutualFlag | GSSConstant.integrityFlag, 0, bindings, nil, nil, &output, nil, nil)
        }
        defer {
            var releaseMinor: UInt32 = 0
            _ = library.releaseBuffer(&releaseMinor, &output)
        }
        if GSSConstant.isError(major) {
            Self.delete(context, library: library)
            try library.check(major, minor, "getting a Kerberos ticket for \(service) as \(credential.principal)")
        }
        let token = output.bytes
        guard !token.isEmpty else {
            Self.delete(context, library: library)
            throw GSSStatus(operation: "starting Kerberos for \(service)", major: 0x000D_0000, minor: 0, message: "GSSAPI produced no token")
        }
        return KerberosInitiatorContext(
            library: library, credential: credential, target: target, context: context, token: token,
            complete: major & GSSConstant.continueNeeded == 0, service: service)
    }

    /// Checks the server's answer (its AP-REP, from the `Negotiate` token of the final
    /// response). Throws when it does not verify: the response may not come from the service
    /// the ticket was for.
    public func verifyServerToken(_ token: [UInt8]) throws(KerberosError) {
        lock.lock()
        defer { lock.unlock() }
        do {
            guard !complete else { return }
            var minor: UInt32 = 0
            var output = GSSBuffer()
            var bytes = token
            let major = bytes.withUnsafeMutableBytes { raw -> UInt32 in
                var input = GSSBuffer(length: raw.count, value: raw.baseAddress)
                return library.initSecurityContext(
                    &minor, credential.handle, &context, target.handle, library.oids.kerberos5Raw,
                    GSSConstant.mutualFlag | GSSConstant.integrityFlag, 0, nil, &input, nil, &output, nil, nil)
            }
            var releaseMinor: UInt32 = 0
            _ = library.releaseBuffer(&releaseMinor, &output)
            guard !GSSConstant.isError(major) else {
                throw .mutualAuthenticationFailed(library.message(major: major, minor: minor))
            }
            guard major & GSSConstant.continueNeeded == 0 else {
                throw .mutualAuthenticationFailed("the server's token did not complete the Kerberos exchange")
            }
            complete = true
        }
    }

    private static func delete(_ context: OpaquePointer?, library: GSSAPILibrary) {
        guard context != nil else { return }
        var minor: UInt32 = 0
        var handle = context
        _ = library.deleteSecurityContext(&minor, &handle, nil)
    }

    deinit {
        Self.delete(context, library: library)
    }
}
