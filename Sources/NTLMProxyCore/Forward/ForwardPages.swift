import NIOCore
import NIOHTTP1
import NTLMHTTP

/// The responses forward mode writes itself: refusals that tell the user what went wrong and
/// what to do, as plain text with `Content-Length` (also for `CONNECT`, where a body-less
/// refusal without framing makes clients hang).
enum ForwardPages {
    struct Refusal: Error, Sendable {
        var status: HTTPResponseStatus
        var message: String
        /// Adds `Proxy-Authenticate: Basic realm=...` (client-auth basic).
        var basicRealm: String?
        var extraHeaders: [(String, String)] = []

        init(status: HTTPResponseStatus, message: String, basicRealm: String? = nil, extraHeaders: [(String, String)] = []) {
            self.status = status
            self.message = message
            self.basicRealm = basicRealm
            self.extraHeaders = extraHeaders
        }

        func render(version: HTTPVersion, keepAlive: Bool) -> (HTTPResponseHead, ByteBuffer) {
            var extra = extraHeaders
            if let basicRealm {
                extra.append(("Proxy-Authenticate", "Basic realm=\"\(AuthChallenge.escapeQuoted(basicRealm))\", charset=\"UTF-8\""))
            }
            return page(status, message, version: version, keepAlive: keepAlive, extraHeaders: extra)
        }
    }

    static func page(_ status: HTTPResponseStatus, _ message: String, version: HTTPVersion, keepAlive: Bool, extraHeaders: [(String, String)] = []) -> (HTTPResponseHead, ByteBuffer) {
        SimpleResponses.text(status, "\(status.code) \(status.reasonPhrase): \(message)\n", version: version, keepAlive: keepAlive, extraHeaders: extraHeaders + [("Proxy-Agent", "ntlmproxy")])
    }

    /// The parent rejected the credential just now.
    static func rejected(parent: ParentProxyConfiguration, user: String, identity: ForwardMode.ClientIdentity, configuration: ForwardConfiguration, window: Duration) -> Refusal {
        let seconds = window.components.seconds
        if case .client = identity, case .basic(let realm) = configuration.clientAuthentication {
            return Refusal(
                status: .proxyAuthenticationRequired,
                message: "the parent proxy \(parent.name) rejected the password of \(user). It will not be tried there again for \(seconds) s, so that your account is not locked; enter the right password.",
                basicRealm: realm)
        }
        return Refusal(
            status: .badGateway,
            message: "the parent proxy \(parent.name) rejected the configured credential of \(user). ntlmproxy will not send it there again for \(seconds) s (to avoid locking the account). Fix the password and restart ntlmproxy.")
    }

    /// The KDC refused a client's own password (`client-auth: basic`, Kerberos tickets from it):
    /// the client is asked again, like after a parent's rejection. `nil` for anything else
    /// (the configured credential's failures are a 502 naming the KDC's reason).
    static func kdcRejected(_ error: any Error, credential: HTTPCredential?, identity: ForwardMode.ClientIdentity, configuration: ForwardConfiguration) -> Refusal? {
        guard case .client = identity, case .basic(let realm) = configuration.clientAuthentication,
              case .authentication(.kerberos(let kerberos))? = error as? NTLMHTTPClientError, kerberos.isCredentialRejection,
              let credential, let window = credential.kerberos?.policy.rejectionWindow
        else { return nil }
        return Refusal(
            status: .proxyAuthenticationRequired,
            message: "the Kerberos KDC refused the password of \(credential.qualifiedUser) (\(kerberos)). It is not offered again for \(window.components.seconds) s, so that your account is not locked; enter the right password.",
            basicRealm: realm)
    }

    /// The credential is blocked at this parent (it was rejected within the window).
    static func lockout(parent: ParentProxyConfiguration, user: String, remaining: Duration, identity: ForwardMode.ClientIdentity, configuration: ForwardConfiguration) -> Refusal {
        let seconds = max(1, remaining.components.seconds)
        if case .client = identity, case .basic(let realm) = configuration.clientAuthentication {
            return Refusal(
                status: .proxyAuthenticationRequired,
                message: "the parent proxy \(parent.name) rejected the password of \(user) recently; it is not tried again for another \(seconds) s so that your account is not locked. Enter the right password.",
                basicRealm: realm)
        }
        return Refusal(
            status: .badGateway,
            message: "the parent proxy \(parent.name) rejected the configured credential of \(user); ntlmproxy will not send it again for another \(seconds) s (to avoid locking the account). Fix the password and restart ntlmproxy.")
    }
}
