import NIOCore
import NIOHTTP1

extension ChannelPipeline.SynchronousOperations {
    /// The HTTP/1.1 server handlers of a tunnel-capable listener, built by hand instead of
    /// `configureHTTPServerPipeline` (whose parser cannot continue after a refused `CONNECT`
    /// and whose encoder strips the Content-Length of every response to `CONNECT`):
    ///
    /// gate → encoder (no automatic framing) → request decoder (`.forwardBytes`) →
    /// `HTTPTunnelSwitchHandler` (framing, CONNECT switch) → pipelining assistance →
    /// header validation → protocol error handling.
    func configureTunnelCapableHTTPServerPipeline(decoderLimits: NIOHTTPDecoderLimitConfiguration, tunnelIdleTimeout: TimeAmount) throws {
        let makeDecoder = {
            ByteToMessageHandler(HTTPRequestDecoder(leftOverBytesStrategy: .forwardBytes, informationalResponseStrategy: .drop, limitConfiguration: decoderLimits))
        }
        var encoderConfiguration = HTTPResponseEncoder.Configuration()
        encoderConfiguration.automaticallySetFramingHeaders = false
        let gate = TunnelInputGate(holding: false)
        let decoder = makeDecoder()
        try addHandler(gate)
        try addHandler(HTTPResponseEncoder(configuration: encoderConfiguration))
        try addHandler(decoder)
        try addHandler(HTTPTunnelSwitchHandler(gate: gate, decoder: decoder, tunnelIdleTimeout: tunnelIdleTimeout, makeDecoder: makeDecoder))
        try addHandler(HTTPServerPipelineHandler())
        try addHandler(NIOHTTPResponseHeadersValidator())
        try addHandler(HTTPServerProtocolErrorHandler())
    }
}
