/// A gateway listener's settings: an app calls `http://127.0.0.1:PORT/...` and the gateway
/// forwards to `backend`, authenticating with one service credential (NTLM, Negotiate, or
/// Basic when allowed).
public struct GatewayConfiguration: Hashable, Sendable {
    /// The NTLM/Negotiate-protected origin.
    public var backend: BackendURL
    /// The service credential, resolved from `credentials:` (`credential: NAME`).
    public var credential: CredentialConfiguration
    /// PEM file of CA certificates to trust for an https backend, instead of the system store.
    public var trustRootsFile: String?
    /// Send TLS channel bindings (Extended Protection) to an https backend. Default on.
    public var channelBindings: Bool
    /// Answer a Basic-only challenge with the credential's password (needs the credential's
    /// own `allow-basic`, which keeps the plaintext). Default off.
    public var allowBasic: Bool
    /// Answer with NTLMv1 when a server insists on it. Default off (invariant 8).
    public var allowNTLMv1: Bool

    public init(
        backend: BackendURL, credential: CredentialConfiguration, trustRootsFile: String? = nil,
        channelBindings: Bool = true, allowBasic: Bool = false, allowNTLMv1: Bool = false
    ) {
        self.backend = backend
        self.credential = credential
        self.trustRootsFile = trustRootsFile
        self.channelBindings = channelBindings
        self.allowBasic = allowBasic
        self.allowNTLMv1 = allowNTLMv1
    }
}
