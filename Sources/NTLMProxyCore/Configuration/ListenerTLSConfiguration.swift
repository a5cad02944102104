/// `tls: {cert: PATH, key: PATH}` on a listener: serve HTTPS with this certificate chain and
/// private key (PEM). Both files were checked to exist and be readable at load time; loading
/// them into NIOSSL is the server's job.
public struct ListenerTLSConfiguration: Hashable, Sendable {
    /// PEM certificate chain, leaf first.
    public var certificateFile: String
    /// PEM private key.
    public var privateKeyFile: String

    public init(certificateFile: String, privateKeyFile: String) {
        self.certificateFile = certificateFile
        self.privateKeyFile = privateKeyFile
    }
}
