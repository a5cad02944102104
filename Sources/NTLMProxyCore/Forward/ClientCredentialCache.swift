import NIOConcurrencyHelpers
import NTLM
import NTLMHTTP

/// Turns a client's `Proxy-Authorization: Basic` into the credential used toward the parent
/// (forward mode with `client-auth: basic`): NTLM, and, unless the listener's
/// `client-mechanism` rules it out, Kerberos tickets of the client's own, obtained with its
/// password. The result is
/// remembered so the NT hash is computed (and the KDC asked) once per user and password, and
/// so equal credentials share one upstream connection pool (design invariant 2: the pool key
/// is the credential).
///
/// Entries are keyed by the Basic token itself and kept only in memory; the table is
/// bounded and cleared when full.
final class ClientCredentialCache: Sendable {
    enum Failure: Error, Hashable, Sendable {
        case missing
        case malformed
    }

    static let capacity = 1024
    private let entries = NIOLockedValueBox<[String: HTTPCredential]>([:])
    let defaultDomain: String
    /// How clients' credentials authenticate upstream; its Kerberos side (tickets from the
    /// client's password) only under `auto` and `kerberos`.
    let authentication: CredentialAuthentication

    init(defaultDomain: String, authentication: CredentialAuthentication = .ntlmOnly) {
        self.defaultDomain = defaultDomain
        self.authentication = authentication
    }

    /// The credential in the first `Proxy-Authorization: Basic` value.
    func credential(from proxyAuthorization: [String]) throws(Failure) -> HTTPCredential {
        guard let raw = proxyAuthorization.first else { throw .missing }
        guard let value = try? AuthorizationValue(parsing: raw, maximumLength: 4096), value.hasScheme("Basic"),
              let token = value.token68
        else { throw .missing }
        if let cached = entries.withLockedValue({ $0[token] }) { return cached }
        guard let decoded = try? value.decodedToken(), let colon = decoded.firstIndex(of: UInt8(ascii: ":")), colon > 0 else {
            throw .malformed
        }
        let name = String(decoding: decoded[..<colon], as: UTF8.self)
        let password = Password(String(decoding: decoded[(colon + 1)...], as: UTF8.self))
        var (domain, user) = NTLMCredentials.splitUserName(name)
        if domain.isEmpty { domain = defaultDomain }
        let qualified = domain.isEmpty ? user : "\(domain)\\\(user)"
        // The principal from the name as typed: `alice@REALM` as given, else the bare user.
        let principal = HTTPCredential.kerberosPrincipal(forUserName: name)
        let kerberos = authentication.kerberosSide(source: nil, password: password, principal: principal)
        let credential = HTTPCredential(
            ntlm: NTLMCredentials(user: user, domain: domain, password: password), kerberos: kerberos)
        entries.withLockedValue { entries in
            if entries.count >= Self.capacity { entries.removeAll() }
            entries[token] = credential
        }
        return credential
    }
}
