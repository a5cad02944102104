#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The service principal a client asks a ticket for: `HTTP@host` for a web server or proxy.
///
/// Which name the KDC is asked for matters: a ticket is only accepted by the service whose
/// keys encrypted it, and hosts are often reached through aliases. The canonicalization
/// choices mirror what clients do:
/// - `gssapi` (the default, as curl does): `HTTP@host` as a host-based service name; the
///   Kerberos library applies its own rules (`dns_canonicalize_hostname`, `rdns` in
///   krb5.conf);
/// - `exact`: `HTTP/host` exactly as in the URL, no lookup anywhere;
/// - `dns`: the host's canonical DNS name (following CNAMEs, as browsers do), then `exact`.
public struct KerberosServiceName: Hashable, Sendable, CustomStringConvertible {
    public enum Canonicalization: String, Hashable, Sendable, CaseIterable {
        case gssapi
        case exact
        case dns
    }

    public var service: String
    public var host: String
    public var canonicalization: Canonicalization

    public init(service: String = "HTTP", host: String, canonicalization: Canonicalization = .gssapi) {
        self.service = service
        // An IPv6 literal as it appears in a URL, without brackets; names are case-insensitive.
        var bare = host
        if bare.hasPrefix("["), bare.hasSuffix("]") { bare = String(bare.dropFirst().dropLast()) }
        self.host = bare.lowercased()
        self.canonicalization = canonicalization
    }

    /// `HTTP@host` (or `HTTP/host` for the exact forms), for logs and errors.
    public var description: String {
        canonicalization == .gssapi ? "\(service)@\(host)" : "\(service)/\(host)"
    }

    /// The name to import and its form: a host-based service, or a Kerberos principal name.
    /// `dns` resolves the host here (blocking: call it off the event loop).
    func resolvedForImport() -> (text: String, isHostBased: Bool) {
        switch canonicalization {
        case .gssapi: return ("\(service)@\(host)", true)
        case .exact: return ("\(service)/\(host)", false)
        case .dns: return ("\(service)/\(Self.canonicalName(of: host) ?? host)", false)
        }
    }

    /// The canonical name of `host` from the resolver (`AI_CANONNAME`), lowercased, without a
    /// trailing dot; `nil` when it cannot be resolved or is an address literal.
    static func canonicalName(of host: String) -> String? {
        var hints = addrinfo()
        hints.ai_flags = AI_CANONNAME
        hints.ai_family = AF_UNSPEC
        #if canImport(Glibc)
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        #else
        hints.ai_socktype = SOCK_STREAM
        #endif
        var result: UnsafeMutablePointer<addrinfo>? = nil
        guard getaddrinfo(host, nil, &hints, &result) == 0, let first = result else { return nil }
        defer { freeaddrinfo(result) }
        guard let name = first.pointee.ai_canonname else { return nil }
        var canonical = String(cString: name).lowercased()
        if canonical.hasSuffix(".") { canonical.removeLast() }
        return canonical.isEmpty ? nil : canonical
    }
}
