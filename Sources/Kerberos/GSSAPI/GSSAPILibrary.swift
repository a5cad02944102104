#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The system GSSAPI (MIT Kerberos' `libgssapi_krb5.so.2`), loaded with `dlopen` at run time.
///
/// Building ntlmproxy needs no Kerberos headers or -dev package, and a machine without the
/// library still runs everything but Kerberos: `GSSAPILibrary.shared` is then a failure that
/// says why, and Kerberos is reported unavailable.
@dynamicMemberLookup
final class GSSAPILibrary: @unchecked Sendable {
    typealias Handle = OpaquePointer
    typealias Minor = UnsafeMutablePointer<UInt32>

    /// Pointers to the structures of GSSTypes.swift: a C function type cannot name a Swift
    /// struct, so they travel as raw pointers (`&value` converts implicitly).
    typealias Raw = UnsafeMutableRawPointer
    typealias OIDOut = UnsafeMutablePointer<UnsafeMutableRawPointer?>

    typealias ImportName = @convention(c) (Minor, Raw, Raw?, UnsafeMutablePointer<Handle?>) -> UInt32
    typealias ReleaseName = @convention(c) (Minor, UnsafeMutablePointer<Handle?>) -> UInt32
    typealias DisplayName = @convention(c) (Minor, Handle?, Raw, OIDOut?) -> UInt32
    typealias ReleaseBuffer = @convention(c) (Minor, Raw) -> UInt32
    typealias AcquireCredential = @convention(c) (
        Minor, Handle?, UInt32, Raw?, Int32, UnsafeMutablePointer<Handle?>, OIDOut?, UnsafeMutablePointer<UInt32>?
    ) -> UInt32
    typealias AcquireCredentialFrom = @convention(c) (
        Minor, Handle?, UInt32, Raw?, Int32, Raw?, UnsafeMutablePointer<Handle?>, OIDOut?, UnsafeMutablePointer<UInt32>?
    ) -> UInt32
    typealias AcquireCredentialWithPassword = @convention(c) (
        Minor, Handle?, Raw, UInt32, Raw?, Int32, UnsafeMutablePointer<Handle?>, OIDOut?, UnsafeMutablePointer<UInt32>?
    ) -> UInt32
    typealias ReleaseCredential = @convention(c) (Minor, UnsafeMutablePointer<Handle?>) -> UInt32
    typealias InquireCredential = @convention(c) (
        Minor, Handle?, UnsafeMutablePointer<Handle?>?, UnsafeMutablePointer<UInt32>?, UnsafeMutablePointer<Int32>?, OIDOut?
    ) -> UInt32
    typealias InitSecurityContext = @convention(c) (
        Minor, Handle?, UnsafeMutablePointer<Handle?>, Handle?, Raw?, UInt32, UInt32, Raw?, Raw?, OIDOut?, Raw,
        UnsafeMutablePointer<UInt32>?, UnsafeMutablePointer<UInt32>?
    ) -> UInt32
    typealias AcceptSecurityContext = @convention(c) (
        Minor, UnsafeMutablePointer<Handle?>, Handle?, Raw, Raw?, UnsafeMutablePointer<Handle?>?, OIDOut?, Raw,
        UnsafeMutablePointer<UInt32>?, UnsafeMutablePointer<UInt32>?, UnsafeMutablePointer<Handle?>?
    ) -> UInt32
    typealias DeleteSecurityContext = @convention(c) (Minor, UnsafeMutablePointer<Handle?>, Raw?) -> UInt32
    typealias DisplayStatus = @convention(c) (Minor, UInt32, Int32, Raw?, UnsafeMutablePointer<UInt32>, Raw) -> UInt32
    typealias IndicateMechanisms = @convention(c) (Minor, OIDOut) -> UInt32
    typealias ReleaseOIDSet = @convention(c) (Minor, OIDOut) -> UInt32

    /// The file that was loaded.
    let path: String
    /// The entry points; `library.importName(...)` reads `functions.importName`.
    let functions: Functions
    let oids = GSSStaticOIDs.shared

    /// The library names tried in order (Linux, then macOS's Heimdal framework).
    static let candidates = ["libgssapi_krb5.so.2", "libgssapi_krb5.so", "/System/Library/Frameworks/GSS.framework/GSS"]

    /// The process-wide library, loaded on first use; a failure says why.
    static let shared: Result<GSSAPILibrary, KerberosError> = load(candidates: candidates)

    /// Loads the first of `candidates` that opens and has every required symbol.
    static func load(candidates: [String]) -> Result<GSSAPILibrary, KerberosError> {
        guard layoutMatchesC() else {
            return .failure(.libraryUnavailable("GSSAPI structure layout mismatch on this platform"))
        }
        var reasons: [String] = []
        for name in candidates {
            guard let handle = dlopen(name, RTLD_NOW | RTLD_LOCAL) else {
                reasons.append(dlerror().map { String(cString: $0) } ?? "\(name): cannot be loaded")
                continue
            }
            switch make(handle: handle, path: name) {
            case .success(let library): return .success(library)
            case .failure(let error):
                reasons.append(error.description)
                dlclose(handle)
            }
        }
        return .failure(.libraryUnavailable(reasons.joined(separator: "; ")))
    }

    private init(functions: Functions, path: String) {
        self.path = path
        self.functions = functions
    }

    subscript<T>(dynamicMember keyPath: KeyPath<Functions, T>) -> T {
        functions[keyPath: keyPath]
    }

    /// Every GSSAPI function ntlmproxy calls. `acquireCredentialFrom` (MIT's credential-store
    /// extension: keytabs and named caches) and `acquireCredentialWithPassword` may be missing
    /// from other libraries; the rest is required.
    struct Functions {
        var importName: ImportName
        var releaseName: ReleaseName
        var displayName: DisplayName
        var releaseBuffer: ReleaseBuffer
        var acquireCredential: AcquireCredential
        var acquireCredentialFrom: AcquireCredentialFrom?
        var acquireCredentialWithPassword: AcquireCredentialWithPassword?
        var releaseCredential: ReleaseCredential
        var inquireCredential: InquireCredential
        var initSecurityContext: InitSecurityContext
        var acceptSecurityContext: AcceptSecurityContext
        var deleteSecurityContext: DeleteSecurityContext
        var displayStatus: DisplayStatus
        var indicateMechanisms: IndicateMechanisms
        var releaseOIDSet: ReleaseOIDSet
    }

    private static func make(handle: UnsafeMutableRawPointer, path: String) -> Result<GSSAPILibrary, KerberosError> {
        var missing: [String] = []
        func symbol<T>(_ name: String, as type: T.Type) -> T? {
            guard let address = dlsym(handle, name) else {
                missing.append(name)
                return nil
            }
            return unsafeBitCast(address, to: type)
        }
        func optionalSymbol<T>(_ name: String, as type: T.Type) -> T? {
            dlsym(handle, name).map { unsafeBitCast($0, to: type) }
        }
        let importName = symbol("gss_import_name", as: ImportName.self)
        let releaseName = symbol("gss_release_name", as: ReleaseName.self)
        let displayName = symbol("gss_display_name", as: DisplayName.self)
        let releaseBuffer = symbol("gss_release_buffer", as: ReleaseBuffer.self)
        let acquireCredential = symbol("gss_acquire_cred", as: AcquireCredential.self)
        let releaseCredential = symbol("gss_release_cred", as: ReleaseCredential.self)
        let inquireCredential = symbol("gss_inquire_cred", as: InquireCredential.self)
        let initSecurityContext = symbol("gss_init_sec_context", as: InitSecurityContext.self)
        let acceptSecurityContext = symbol("gss_accept_sec_context", as: AcceptSecurityContext.self)
        let deleteSecurityContext = symbol("gss_delete_sec_context", as: DeleteSecurityContext.self)
        let displayStatus = symbol("gss_display_status", as: DisplayStatus.self)
        let indicateMechanisms = symbol("gss_indicate_mechs", as: IndicateMechanisms.self)
        let releaseOIDSet = symbol("gss_release_oid_set", as: ReleaseOIDSet.self)
        guard let importName, let releaseName, let displayName, let releaseBuffer, let acquireCredential,
              let releaseCredential, let inquireCredential, let initSecurityContext, let acceptSecurityContext,
              let deleteSecurityContext, let displayStatus, let indicateMechanisms, let releaseOIDSet
        else {
            return .failure(.libraryUnavailable("\(path) lacks \(missing.joined(separator: ", "))"))
        }
        let functions = Functions(
            importName: importName, releaseName: releaseName, displayName: displayName, releaseBuffer: releaseBuffer,
            acquireCredential: acquireCredential,
            acquireCredentialFrom: optionalSymbol("gss_acquire_cred_from", as: AcquireCredentialFrom.self),
            acquireCredentialWithPassword: optionalSymbol("gss_acquire_cred_with_password", as: AcquireCredentialWithPassword.self),
            releaseCredential: releaseCredential, inquireCredential: inquireCredential,
            initSecurityContext: initSecurityContext, acceptSecurityContext: acceptSecurityContext,
            deleteSecurityContext: deleteSecurityContext, displayStatus: displayStatus,
            indicateMechanisms: indicateMechanisms, releaseOIDSet: releaseOIDSet)
        return .success(GSSAPILibrary(functions: functions, path: path))
    }

    /// Whether the Swift mirrors have the C layout this code assumes (LP64).
    static func layoutMatchesC() -> Bool {
        MemoryLayout<GSSBuffer>.size == 16 && MemoryLayout<GSSBuffer>.offset(of: \GSSBuffer.value) == 8
            && MemoryLayout<GSSOID>.size == 16 && MemoryLayout<GSSOID>.offset(of: \GSSOID.elements) == 8
            && MemoryLayout<GSSOIDSet>.size == 16
            && MemoryLayout<GSSKeyValueElement>.size == 16
            && MemoryLayout<GSSKeyValueSet>.size == 16 && MemoryLayout<GSSKeyValueSet>.offset(of: \GSSKeyValueSet.elements) == 8
            && MemoryLayout<GSSChannelBindingsStruct>.size == 64
            && MemoryLayout<GSSChannelBindingsStruct>.offset(of: \GSSChannelBindingsStruct.acceptorAddress) == 32
            && MemoryLayout<GSSChannelBindingsStruct>.offset(of: \GSSChannelBindingsStruct.applicationData) == 48
    }
}
