import NIOHTTP1

/// How our credential stands on one upstream connection after a request it authenticated:
/// the mechanism, and whether the server keeps that logon for the connection's later
/// requests, which decides whether the next request carries credentials of its own.
struct ConnectionAuthentication: Sendable, Equatable {
    /// The mechanism that authenticated the last request that carried credentials.
    var mechanism: HTTPAuthMechanism
    /// The server keeps the logon for this connection: always for NTLM (the connection is
    /// what it authenticates); for Kerberos only when the server said `Persistent-Auth: true`
    /// (IIS with `authPersistNonNTLM`, the default since IIS 7); never for Basic.
    var persists: Bool

    /// The standing after a successful response to a request authenticated with `mechanism`.
    ///
    /// `Persistent-Auth` is a Microsoft response header: `true` promises that the connection
    /// stays authenticated, so the client sends no new Kerberos ticket on it (a later 401
    /// would start a new handshake there). Only an origin's counts: a proxy's answer to us
    /// passes through other hands, and proxies authenticate every request with Kerberos.
    init(mechanism: HTTPAuthMechanism, target: AuthHandshake.Target, responseHeaders: HTTPHeaders) {
        self.mechanism = mechanism
        switch mechanism {
        case .ntlm, .negotiateNTLM:
            persists = true
        case .basic:
            persists = false
        case .kerberos:
            persists = target == .origin && responseHeaders["persistent-auth"].contains { $0.filter { $0 != " " && $0 != "\t" }.lowercased() == "true" }
        }
    }

    /// The mechanism the connection's next request must run again, or `nil` when the
    /// connection itself carries the logon.
    var mechanismForNextRequest: HTTPAuthMechanism? { persists ? nil : mechanism }
}
