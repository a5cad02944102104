import Logging
import NIOCore
import NIOHTTP1
import NTLMHTTP

/// Forwards one client request to the backend through `NTLMHTTPClient` and streams the
/// response back, used by gateway and acceptor modes.
///
/// Both bodies stream with backpressure: the client's body is pulled from its connection only
/// as the upstream accepts it, and the response is written to the client chunk by chunk.
public struct Forwarder: Sendable {
    public let client: NTLMHTTPClient
    public let backend: BackendURL
    /// The service credential (gateway mode), or `nil` for a plain backend (acceptor mode).
    public let credential: HTTPCredential?
    /// The `Via` pseudonym (RFC 9110 §7.6.3).
    public let viaName: String

    public init(client: NTLMHTTPClient, backend: BackendURL, credential: HTTPCredential?, viaName: String = "ntlmproxy") {
        self.client = client
        self.backend = backend
        self.credential = credential
        self.viaName = viaName
    }

    /// The outcome of a forwarded request, for the access log and connection reuse.
    public struct Outcome: Sendable {
        public var status: Int
        public var bytesOut: Int
        public var keepAlive: Bool
    }

    /// Forwards `head` (whose body is still unread on `connection`) with the given extra
    /// headers, and writes the response.
    public func forward(
        _ head: HTTPRequestHead, on connection: ServerConnection, setHeaders: [(String, String)], removeHeaders: [String],
        responseHeaders: [(String, String)] = [], logger: Logger,
        onAuthenticationFailure: (HTTPAuthError) -> Void = { _ in }
    ) async throws -> Outcome {
        let clientKeepAlive = HopByHopHeaders.keepAlive(version: head.version, headers: head.headers)
        var headers = head.headers
        let originalHost = headers.first(name: "host")
        let expectsContinue = headers["expect"].contains { $0.lowercased() == "100-continue" }
        HopByHopHeaders.strip(&headers)
        headers.remove(name: "expect")
        headers.remove(name: "authorization")
        for name in removeHeaders { headers.remove(name: name) }
        Self.addReverseProxyHeaders(&headers, head: head, originalHost: originalHost, backend: backend, connection: connection, viaName: viaName)
        for (name, value) in setHeaders { headers.replaceOrAdd(name: name, value: value) }

        let contentLength = head.headers.first(name: "content-length").flatMap { Int($0) }
        let chunked = head.headers["transfer-encoding"].contains { $0.lowercased().contains("chunked") }
        var body: NTLMHTTPRequest.Body? = nil
        if chunked || (contentLength ?? 0) > 0 {
            if expectsContinue {
                // We take the client's body as soon as the upstream wants it; the upstream's
                // own handshake legs never carry it (NTLMHTTPClient sends them empty).
                try await connection.writeHead(HTTPResponseHead(version: head.version, status: .continue))
            }
            body = .stream(connection.requestBody(), length: chunked ? nil : contentLength)
        }
        let request = NTLMHTTPRequest(url: backend.url(forRequestTarget: head.uri), method: head.method, headers: headers, body: body)
        let response: NTLMHTTPResponse
        do {
            response = try await client.execute(request, credential: credential)
        } catch let error as NTLMHTTPClientError {
            throw ForwardingFailure(error)
        }
        if let failure = response.authenticationFailure { onAuthenticationFailure(failure) }

        var relay = ResponseRelay(viaName: viaName, setting: responseHeaders)
        if response.authenticationFailure != nil || response.status == .unauthorized {
            // The client cannot answer the upstream's NTLM challenge through us.
            relay.removing = ["www-authenticate"]
        }
        if credential != nil {
            // `Persistent-Auth` describes our logon on our upstream connection, not anything
            // between the client and us.
            relay.removing.append("persistent-auth")
        }
        let keepAlive = clientKeepAlive
        let bytesOut = try await relay.write(response, for: head, on: connection, keepAlive: keepAlive)
        return Outcome(status: Int(response.status.code), bytesOut: bytesOut, keepAlive: keepAlive)
    }
}

extension Forwarder {
    /// The request headers of a reverse-proxy hop: `Host` of the backend, `Via`, and
    /// `X-Forwarded-For/-Host/-Proto` describing the client's side.
    static func addReverseProxyHeaders(_ headers: inout HTTPHeaders, head: HTTPRequestHead, originalHost: String?, backend: BackendURL, connection: ServerConnection, viaName: String) {
        headers.replaceOrAdd(name: "host", value: backend.hostHeader)
        headers.add(name: "via", value: "\(head.version.major).\(head.version.minor) \(viaName)")
        if let ip = connection.remoteAddress?.ipAddress { headers.add(name: "x-forwarded-for", value: ip) }
        if let originalHost { headers.replaceOrAdd(name: "x-forwarded-host", value: originalHost) }
        headers.replaceOrAdd(name: "x-forwarded-proto", value: connection.isTLS ? "https" : "http")
    }
}

/// A failure to get any response from the backend; nothing has been written to the client
/// yet, so it can still get a clear 502/504.
public struct ForwardingFailure: Error, Sendable {
    public var status: HTTPResponseStatus
    public var reason: String

    public init(status: HTTPResponseStatus, reason: String) {
        self.status = status
        self.reason = reason
    }

    init(_ error: NTLMHTTPClientError) {
        switch error {
        case .timeout, .connectTimeout, .idleTimeout: status = .gatewayTimeout
        default: status = .badGateway
        }
        reason = "\(error)"
    }
}
