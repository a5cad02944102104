/// Whether Kerberos can be used in this process at all: the GSSAPI library loaded and the
/// krb5 mechanism present. NTLM never depends on it.
public struct KerberosAvailability: Hashable, Sendable, CustomStringConvertible {
    /// The library that was loaded, if any.
    public var libraryPath: String?
    /// Whether the krb5 mechanism is among the library's mechanisms.
    public var hasKerberosMechanism: Bool
    /// Why Kerberos is unavailable, when it is.
    public var problem: String?
    /// The Kerberos configuration file in effect (`KRB5_CONFIG`, else the default).
    public var configuration: String

    public var isAvailable: Bool { problem == nil }

    /// Checks the process-wide library.
    public static func current() -> KerberosAvailability {
        check(GSSAPILibrary.shared)
    }

    static func check(_ loaded: Result<GSSAPILibrary, KerberosError>) -> KerberosAvailability {
        let configuration = environmentValue("KRB5_CONFIG") ?? "/etc/krb5.conf (default)"
        switch loaded {
        case .failure(let error):
            return KerberosAvailability(libraryPath: nil, hasKerberosMechanism: false, problem: "\(error)", configuration: configuration)
        case .success(let library):
            var minor: UInt32 = 0
            var raw: UnsafeMutableRawPointer? = nil
            let major = library.indicateMechanisms(&minor, &raw)
            var found = false
            if !GSSConstant.isError(major), let set = raw?.assumingMemoryBound(to: GSSOIDSet.self), let elements = set.pointee.elements {
                for index in 0..<set.pointee.count {
                    let oid = elements[index]
                    guard let bytes = oid.elements, Int(oid.length) == GSSOIDBytes.kerberos5.count else { continue }
                    if Array(UnsafeRawBufferPointer(start: bytes, count: Int(oid.length))) == GSSOIDBytes.kerberos5 { found = true }
                }
            }
            if raw != nil { _ = library.releaseOIDSet(&minor, &raw) }
            return KerberosAvailability(
                libraryPath: library.path, hasKerberosMechanism: found,
                problem: found ? nil : "\(library.path) has no Kerberos 5 mechanism", configuration: configuration)
        }
    }

    public var description: String {
        if let problem { return "Kerberos unavailable: \(problem) (NTLM still works)" }
        return "Kerberos available (\(libraryPath ?? "GSSAPI"), configuration \(configuration))"
    }
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

func environmentValue(_ name: String) -> String? {
    guard let value = getenv(name) else { return nil }
    let text = String(cString: value)
    return text.isEmpty ? nil : text
}
