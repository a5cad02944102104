import Logging
import NIOCore

/// Drains a helper's stderr (after a truncating `HelperLineDecoder`) into the log at debug
/// level, so a chatty helper can never block on a full pipe.
///
/// ntlm_auth's stderr is its debug log; at high debug levels it echoes request lines
/// ("Got '...' from squid"), which may hold a password. Such lines and any line mentioning a
/// password are dropped; the rest is sanitized like helper answers (no long hex runs, at most
/// 160 printable ASCII characters).
final class HelperDiagnosticsHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer

    private let logger: Logger

    /// `logger` should carry the helper's pid in its metadata.
    init(logger: Logger) {
        self.logger = logger
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let line = unwrapInboundIn(data)
        guard let text = Self.loggable(Array(line.readableBytesView)) else { return }
        logger.debug("ntlm_auth stderr", metadata: ["line": "\(text)"])
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        context.close(promise: nil)
    }

    /// The line as it may be logged, or nil when it must not be.
    static func loggable(_ bytes: [UInt8]) -> String? {
        let text = String(decoding: bytes, as: UTF8.self)
        let lower = text.lowercased()
        guard !lower.contains("password"), !lower.contains("got '") else { return nil }
        let sanitized = NTLMServerHelperAnswer.sanitized(text)
        return sanitized.isEmpty ? nil : sanitized
    }
}
