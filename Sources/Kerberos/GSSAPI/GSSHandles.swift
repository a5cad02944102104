/// Owned GSSAPI handles: each releases its handle when the last reference goes away, so a
/// credential replaced by a renewal stays valid for the contexts still using it.
///
/// GSSAPI handles are not tied to a thread; MIT locks credentials internally, and a context
/// is only ever used by one request at a time.

/// A `gss_name_t`.
final class GSSName: @unchecked Sendable {
    let library: GSSAPILibrary
    let handle: OpaquePointer

    /// Imports `text` as a name of `type` (host-based service, Kerberos principal, or the
    /// default user-name type when `nil`).
    init(_ text: String, type: UnsafeMutableRawPointer?, library: GSSAPILibrary) throws(GSSStatus) {
        self.library = library
        var minor: UInt32 = 0
        var output: OpaquePointer? = nil
        var utf8 = Array(text.utf8)
        let major = utf8.withUnsafeMutableBytes { raw -> UInt32 in
            var buffer = GSSBuffer(length: raw.count, value: raw.baseAddress)
            return library.importName(&minor, &buffer, type, &output)
        }
        try library.check(major, minor, "importing the name \(text)")
        guard let output else {
            throw GSSStatus(operation: "importing the name \(text)", major: major, minor: minor, message: "no name returned")
        }
        handle = output
    }

    /// Takes ownership of a name GSSAPI returned.
    init(owning handle: OpaquePointer, library: GSSAPILibrary) {
        self.library = library
        self.handle = handle
    }

    /// The name as text, e.g. `alice@NTLMTEST.TEST`.
    var displayed: String {
        var minor: UInt32 = 0
        var buffer = GSSBuffer()
        let major = library.displayName(&minor, handle, &buffer, nil)
        guard !GSSConstant.isError(major) else { return "?" }
        defer { _ = library.releaseBuffer(&minor, &buffer) }
        return buffer.string
    }

    deinit {
        var minor: UInt32 = 0
        var owned: OpaquePointer? = handle
        _ = library.releaseName(&minor, &owned)
    }
}

/// A `gss_cred_id_t` and what is known about it.
final class GSSCredentialHandle: @unchecked Sendable {
    let library: GSSAPILibrary
    let handle: OpaquePointer
    /// The principal the credential is for, as GSSAPI displays it.
    let principal: String
    /// When its tickets expire, if GSSAPI reported a lifetime (`nil`: indefinite/unknown).
    let expiry: ContinuousClock.Instant?
    /// The lifetime reported at acquisition, in seconds.
    let lifetime: UInt32

    init(owning handle: OpaquePointer, library: GSSAPILibrary, acquiredAt now: ContinuousClock.Instant) {
        self.library = library
        self.handle = handle
        var minor: UInt32 = 0
        var name: OpaquePointer? = nil
        var lifetime: UInt32 = 0
        let major = library.inquireCredential(&minor, handle, &name, &lifetime, nil, nil)
        if !GSSConstant.isError(major), let name {
            principal = GSSName(owning: name, library: library).displayed
        } else {
            principal = "?"
            lifetime = 0
        }
        self.lifetime = lifetime
        expiry = lifetime == GSSConstant.indefinite || GSSConstant.isError(major) ? nil : now + .seconds(Int(lifetime))
    }

    deinit {
        var minor: UInt32 = 0
        var owned: OpaquePointer? = handle
        _ = library.releaseCredential(&minor, &owned)
    }
}

/// Runs `body` with a `gss_key_value_set_desc` of `pairs` (C strings valid only inside).
func withKeyValueSet<T>(_ pairs: [(String, String)], _ body: (UnsafeMutableRawPointer?) throws -> T) rethrows -> T {
    guard !pairs.isEmpty else { return try body(nil) }
    let strings = pairs.flatMap { [strdup($0.0), strdup($0.1)] }
    defer { strings.forEach { free($0) } }
    let elements = UnsafeMutablePointer<GSSKeyValueElement>.allocate(capacity: pairs.count)
    defer { elements.deallocate() }
    for index in pairs.indices {
        elements[index] = GSSKeyValueElement(key: UnsafePointer(strings[2 * index]), value: UnsafePointer(strings[2 * index + 1]))
    }
    var set = GSSKeyValueSet(count: UInt32(pairs.count), elements: elements)
    return try body(&set)
}

/// Runs `body` with GSSAPI channel bindings of `applicationData` (or none for `nil`).
func withChannelBindings<T>(_ applicationData: [UInt8]?, _ body: (UnsafeMutableRawPointer?) throws -> T) rethrows -> T {
    guard var data = applicationData else { return try body(nil) }
    let count = data.count
    return try data.withUnsafeMutableBytes { raw in
        var bindings = GSSChannelBindingsStruct()
        bindings.applicationData = GSSBuffer(length: count, value: raw.baseAddress)
        return try body(&bindings)
    }
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
