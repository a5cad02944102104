import NIOConcurrencyHelpers
import NTLM
import NTLMHTTP

/// Turns a client's `Proxy-Authorization: Basic` into the NTLM credential used toward the
/// parent (forward mode with `client-auth: basic`), remembering the result so the NT hash
/// is computed once per user and password, and so equal credentials share one upstream
/// connection pool (design invariant 2: the pool key is the credential).
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

    init(defaultDomain: String) {
        self.defaultDomain = defaultDomain
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
        let credential = HTTPCredential(userName: qualified, password: password)
        entries.withLockedValue { entries in
            if entries.count >= Self.capacity { entries.removeAll() }
            entries[token] = credential
        }
        return credential
    }
}
