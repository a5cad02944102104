import NIOCore
import NIOSSL

extension NTLMHTTPClient {
    /// How an ``NTLMHTTPClient`` connects, times out, pools and authenticates.
    ///
    /// The defaults are safe: certificates are verified against the system trust store,
    /// Basic is used only over TLS (and only with a credential that kept its password), and
    /// channel bindings are sent on HTTPS.
    public struct Configuration: Sendable {
        /// TLS for `https` URLs. Verification is on by default (`.fullVerification`, system
        /// roots); see ``useTrustRoots(pemFile:)`` and ``useTrustRoots(pemBytes:)`` for a
        /// private CA. SNI is the URL's host (not sent for an IP address, which is then
        /// checked against the certificate's IP SANs).
        public var tls: TLSConfiguration
        /// How long establishing a TCP connection (and its TLS handshake) may take.
        public var connectTimeout: Duration
        /// The default deadline of a whole request — connecting, authenticating, sending,
        /// and reading the response body to its end — when `execute` gets no timeout. `nil`:
        /// no overall limit (the read idle timeout still applies).
        public var requestTimeout: Duration?
        /// How long the server may stay silent while the client waits for it (a response
        /// head, more body, or room to write the request body). Time the application takes
        /// to consume the response body does not count.
        public var readIdleTimeout: Duration
        /// How long to wait for `100 Continue` before sending a body anyway, when the request
        /// carries `Expect: 100-continue` (RFC 9110 §10.1.1).
        public var expectContinueTimeout: Duration
        /// Idle kept-alive connections kept per (endpoint, credential); more are closed.
        public var maximumIdleConnectionsPerKey: Int
        /// How long a pooled connection may stay idle before it is closed.
        public var idleTimeout: Duration
        /// Which schemes to use and how (NTLM flags/version, Basic over plain HTTP, how many
        /// times a handshake may restart on a new connection). `allowBasic` here permits
        /// Basic over plain `http`; over `https` Basic is always allowed for a credential
        /// created with `allowBasic: true`.
        public var authentication: AuthHandshake.Policy
        /// Send TLS channel bindings (RFC 5929 tls-server-end-point) in NTLMv2 on `https`:
        /// required by servers with Extended Protection for Authentication.
        public var channelBindings: Bool
        /// `User-Agent` added to requests that carry none; `nil` adds nothing.
        public var userAgent: String?
        /// How much of a streamed request body is kept while it is sent on a leg that may be
        /// answered with a challenge (a plain first request with a credential), so that it can
        /// be sent again. Beyond this the copy is dropped and such a challenge fails with
        /// ``NTLMHTTPClientError/bodyNotReplayable``.
        public var replayBufferLimit: Int
        /// The largest challenge (401/407) body the client reads and discards to keep the
        /// connection for the next leg; a larger one closes the connection.
        public var maximumChallengeBodyBytes: Int

        public init(
            tls: TLSConfiguration = .makeClientConfiguration(),
            connectTimeout: Duration = .seconds(10),
            requestTimeout: Duration? = nil,
            readIdleTimeout: Duration = .seconds(60),
            expectContinueTimeout: Duration = .seconds(1),
            maximumIdleConnectionsPerKey: Int = 8,
            idleTimeout: Duration = .seconds(60),
            authentication: AuthHandshake.Policy = .init(),
            channelBindings: Bool = true,
            userAgent: String? = "ntlmproxy",
            replayBufferLimit: Int = 1 << 20,
            maximumChallengeBodyBytes: Int = 1 << 20
        ) {
            self.tls = tls
            self.connectTimeout = connectTimeout
            self.requestTimeout = requestTimeout
            self.readIdleTimeout = readIdleTimeout
            self.expectContinueTimeout = expectContinueTimeout
            self.maximumIdleConnectionsPerKey = maximumIdleConnectionsPerKey
            self.idleTimeout = idleTimeout
            self.authentication = authentication
            self.channelBindings = channelBindings
            self.userAgent = userAgent
            self.replayBufferLimit = replayBufferLimit
            self.maximumChallengeBodyBytes = maximumChallengeBodyBytes
        }

        /// Trusts only the CA certificates in this PEM file (instead of the system store).
        public mutating func useTrustRoots(pemFile path: String) {
            tls.trustRoots = .file(path)
        }

        /// Trusts only the CA certificates in these PEM bytes (instead of the system store).
        public mutating func useTrustRoots(pemBytes: [UInt8]) throws {
            tls.trustRoots = .certificates(try NIOSSLCertificate.fromPEMBytes(pemBytes))
        }
    }
}
