/// Swift mirrors of the few RFC 2744 C structures ntlmproxy passes to the system GSSAPI.
///
/// They are declared here instead of imported from a header (the machine needs no -dev
/// package). Every field is a fixed-size integer or a pointer, declared in C order, so the
/// Swift layout is the C layout on every 64-bit platform; `GSSAPILibrary` checks the sizes
/// and offsets once at load and refuses the library if they ever differ.

/// `gss_buffer_desc`: `size_t length; void *value`.
struct GSSBuffer {
    var length: Int = 0
    var value: UnsafeMutableRawPointer? = nil
}

/// `gss_OID_desc`: `OM_uint32 length; void *elements` (the DER contents octets of the OID).
struct GSSOID {
    var length: UInt32
    var elements: UnsafeMutableRawPointer?
}

/// `gss_OID_set_desc`: `size_t count; gss_OID elements`.
struct GSSOIDSet {
    var count: Int
    var elements: UnsafeMutablePointer<GSSOID>?
}

/// `gss_key_value_element_desc` (MIT's credential store extension).
struct GSSKeyValueElement {
    var key: UnsafePointer<CChar>?
    var value: UnsafePointer<CChar>?
}

/// `gss_key_value_set_desc`: `OM_uint32 count; gss_key_value_element_desc *elements`.
struct GSSKeyValueSet {
    var count: UInt32
    var elements: UnsafeMutablePointer<GSSKeyValueElement>?
}

/// `struct gss_channel_bindings_struct` (RFC 2744 §3.11).
struct GSSChannelBindingsStruct {
    var initiatorAddressType: UInt32 = 0
    var initiatorAddress = GSSBuffer()
    var acceptorAddressType: UInt32 = 0
    var acceptorAddress = GSSBuffer()
    var applicationData = GSSBuffer()
}

/// The RFC 2744 constants ntlmproxy uses.
enum GSSConstant {
    static let complete: UInt32 = 0
    /// Supplementary bit: another token must be exchanged.
    static let continueNeeded: UInt32 = 1
    /// `GSS_C_INDEFINITE`.
    static let indefinite: UInt32 = 0xFFFF_FFFF

    static let mutualFlag: UInt32 = 2
    static let replayFlag: UInt32 = 4
    static let sequenceFlag: UInt32 = 8
    static let integrityFlag: UInt32 = 32

    static let credentialBoth: Int32 = 0
    static let credentialInitiate: Int32 = 1
    static let credentialAccept: Int32 = 2

    static let gssCode: Int32 = 1
    static let mechCode: Int32 = 2

    /// Whether a major status is an error (a calling or routine error, RFC 2744 §3.9.1).
    static func isError(_ major: UInt32) -> Bool { major & 0xFFFF_0000 != 0 }
    /// The routine error number (bits 16–23).
    static func routineError(_ major: UInt32) -> UInt32 { (major >> 16) & 0xFF }
}

/// The routine errors of RFC 2744 §3.9.1, by number.
enum GSSRoutineError: UInt32 {
    case badMech = 1, badName, badNameType, badBindings, badStatus, badSignature, noCredentials
    case noContext, defectiveToken, defectiveCredential, credentialsExpired, contextExpired
    case failure, badQOP, unauthorized, unavailable, duplicateElement, nameNotMechanism
}

/// The DER contents octets of the OIDs passed to GSSAPI.
enum GSSOIDBytes {
    /// 1.2.840.113554.1.2.2, the Kerberos 5 mechanism (RFC 1964).
    static let kerberos5: [UInt8] = [0x2A, 0x86, 0x48, 0x86, 0xF7, 0x12, 0x01, 0x02, 0x02]
    /// 1.2.840.113554.1.2.1.4, GSS_C_NT_HOSTBASED_SERVICE (`service@host`).
    static let hostBasedService: [UInt8] = [0x2A, 0x86, 0x48, 0x86, 0xF7, 0x12, 0x01, 0x02, 0x01, 0x04]
    /// 1.2.840.113554.1.2.2.1, GSS_KRB5_NT_PRINCIPAL_NAME (`user@REALM`, `HTTP/host@REALM`).
    static let kerberosPrincipalName: [UInt8] = [0x2A, 0x86, 0x48, 0x86, 0xF7, 0x12, 0x01, 0x02, 0x02, 0x01]
}

/// OIDs and OID sets allocated once for the life of the process (GSSAPI only reads them).
final class GSSStaticOIDs: @unchecked Sendable {
    let kerberos5: UnsafeMutablePointer<GSSOID>
    let hostBasedService: UnsafeMutablePointer<GSSOID>
    let kerberosPrincipalName: UnsafeMutablePointer<GSSOID>
    /// `{ kerberos5 }`, for acquiring credentials for Kerberos only.
    let kerberos5Set: UnsafeMutablePointer<GSSOIDSet>

    static let shared = GSSStaticOIDs()

    private init() {
        kerberos5 = Self.allocate(GSSOIDBytes.kerberos5)
        hostBasedService = Self.allocate(GSSOIDBytes.hostBasedService)
        kerberosPrincipalName = Self.allocate(GSSOIDBytes.kerberosPrincipalName)
        kerberos5Set = UnsafeMutablePointer<GSSOIDSet>.allocate(capacity: 1)
        kerberos5Set.initialize(to: GSSOIDSet(count: 1, elements: kerberos5))
    }

    /// The same OIDs as the raw pointers the C function types take.
    var kerberos5Raw: UnsafeMutableRawPointer { UnsafeMutableRawPointer(kerberos5) }
    var hostBasedServiceRaw: UnsafeMutableRawPointer { UnsafeMutableRawPointer(hostBasedService) }
    var kerberosPrincipalNameRaw: UnsafeMutableRawPointer { UnsafeMutableRawPointer(kerberosPrincipalName) }
    var kerberos5SetRaw: UnsafeMutableRawPointer { UnsafeMutableRawPointer(kerberos5Set) }

    private static func allocate(_ bytes: [UInt8]) -> UnsafeMutablePointer<GSSOID> {
        let storage = UnsafeMutableRawPointer.allocate(byteCount: bytes.count, alignment: 1)
        storage.copyMemory(from: bytes, byteCount: bytes.count)
        let oid = UnsafeMutablePointer<GSSOID>.allocate(capacity: 1)
        oid.initialize(to: GSSOID(length: UInt32(bytes.count), elements: storage))
        return oid
    }
}
