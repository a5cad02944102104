import ArgumentParser
import NTLMProxyCore

/// Options of a listener that browsers talk to (acceptor, pass-through): HTTPS with a
/// certificate and key, and padding of 401 bodies for old Internet Explorer.
struct BrowserListenerOptions: ParsableArguments {
    @Option(name: .long, help: "TLS certificate chain (PEM) for an HTTPS listener.")
    var tlsCert: String?

    @Option(name: .long, help: "TLS private key (PEM) for an HTTPS listener.")
    var tlsKey: String?

    @Option(name: .customLong("pad-401-to"), help: "Pad 401 bodies to at least this many bytes (IE6 SP1 needed more than 1460).")
    var pad401To: Int = 0

    func validate() throws {
        guard (tlsCert == nil) == (tlsKey == nil) else { throw ValidationError("--tls-cert and --tls-key go together") }
        guard (0...65536).contains(pad401To) else { throw ValidationError("--pad-401-to must be 0-65536") }
    }

    /// The listener's TLS settings, if HTTPS was asked for.
    var tls: ListenerTLSConfiguration? {
        tlsCert.flatMap { cert in tlsKey.map { ListenerTLSConfiguration(certificateFile: cert, privateKeyFile: $0) } }
    }
}
