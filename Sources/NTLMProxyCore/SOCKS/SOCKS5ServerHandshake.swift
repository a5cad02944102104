import NTLM

/// The server side of a SOCKS5 handshake as a value-type state machine: bytes in, actions out.
/// The channel handler performs the actions (write, check credentials, open the upstream
/// tunnel) and reports their outcome back with `authenticationCompleted` / `connectCompleted`.
public struct SOCKS5ServerHandshake: Sendable {
    /// Methods this server accepts, in preference order (the first one the client offers wins).
    public struct Configuration: Hashable, Sendable {
        public var methods: [SOCKS5AuthenticationMethod]
        public init(methods: [SOCKS5AuthenticationMethod]) { self.methods = methods }
        public static let noAuthentication = Configuration(methods: [.noAuthenticationRequired])
        public static let usernamePassword = Configuration(methods: [.usernamePassword])
    }

    public enum Action: Hashable, Sendable {
        /// Write these bytes to the client.
        case send([UInt8])
        /// Check the credentials, then call `authenticationCompleted(succeeded:)`.
        case authenticate(username: String, password: Password)
        /// Open the tunnel, then call `connectCompleted(_:)`.
        case connect(host: String, port: UInt16)
        /// The tunnel is up; `leftover` is client data that arrived after the request.
        case established(leftover: [UInt8])
        /// Write `reply` (possibly empty) and close the connection.
        case fail(reply: [UInt8], reason: SOCKS5Error)
    }

    enum State: Hashable, Sendable {
        case awaitingGreeting, awaitingCredentials, authenticating, awaitingRequest, connecting
        case established, failed
    }

    /// The most a client may send ahead before the tunnel is up.
    public static let bufferLimit = 16 * 1024

    public let configuration: Configuration
    private(set) var state: State = .awaitingGreeting
    private var buffer: [UInt8] = []

    public init(configuration: Configuration) { self.configuration = configuration }

    public var isEstablished: Bool { state == .established }

    /// Feeds bytes read from the client.
    public mutating func receive(_ bytes: [UInt8]) -> [Action] {
        switch state {
        case .established, .failed: return []
        default: break
        }
        buffer += bytes
        guard buffer.count <= Self.bufferLimit else { return fail(.bufferLimitExceeded) }
        return advance()
    }

    /// Reports the outcome of `.authenticate`.
    public mutating func authenticationCompleted(succeeded: Bool) -> [Action] {
        guard state == .authenticating else { return fail(.unexpectedEvent("authenticationCompleted")) }
        let reply = SOCKS5UsernamePasswordReply(succeeded: succeeded).serialize()
        guard succeeded else {
            state = .failed
            buffer = []
            return [.fail(reply: reply, reason: .authenticationFailed)]
        }
        state = .awaitingRequest
        return [.send(reply)] + advance()
    }

    /// Reports the outcome of `.connect`.
    public mutating func connectCompleted(_ code: SOCKS5ReplyCode, boundAddress: SOCKS5Address = .unspecifiedIPv4,
                                          boundPort: UInt16 = 0) -> [Action] {
        guard state == .connecting else { return fail(.unexpectedEvent("connectCompleted")) }
        let reply = SOCKS5Reply(code: code, boundAddress: boundAddress, boundPort: boundPort).serialize()
        guard code == .succeeded else {
            state = .failed
            buffer = []
            return [.fail(reply: reply, reason: .connectFailed(code))]
        }
        state = .established
        let leftover = buffer
        buffer = []
        return [.send(reply), .established(leftover: leftover)]
    }

    private mutating func advance() -> [Action] {
        do throws(SOCKS5Error) {
            switch state {
            case .awaitingGreeting:
                guard case .complete(let greeting, let used) = try SOCKS5ClientGreeting.parse(buffer) else { return [] }
                buffer.removeFirst(used)
                guard let method = configuration.methods.first(where: { greeting.methods.contains($0) }) else {
                    state = .failed
                    buffer = []
                    return [.fail(reply: SOCKS5MethodSelection(method: .noAcceptableMethods).serialize(),
                                  reason: .noAcceptableMethods)]
                }
                state = method == .usernamePassword ? .awaitingCredentials : .awaitingRequest
                return [.send(SOCKS5MethodSelection(method: method).serialize())] + advance()
            case .awaitingCredentials:
                guard case .complete(let request, let used) = try SOCKS5UsernamePasswordRequest.parse(buffer) else { return [] }
                buffer.removeFirst(used)
                state = .authenticating
                return [.authenticate(username: request.username, password: request.password)]
            case .awaitingRequest:
                guard case .complete(let request, let used) = try SOCKS5ConnectRequest.parse(buffer) else { return [] }
                buffer.removeFirst(used)
                state = .connecting
                return [.connect(host: request.host, port: request.port)]
            case .authenticating, .connecting, .established, .failed:
                return []
            }
        } catch {
            return fail(error)
        }
    }

    /// Fails with the reply the current phase calls for.
    private mutating func fail(_ error: SOCKS5Error) -> [Action] {
        let reply: [UInt8]
        switch state {
        case .awaitingGreeting: reply = SOCKS5MethodSelection(method: .noAcceptableMethods).serialize()
        case .awaitingCredentials, .authenticating: reply = SOCKS5UsernamePasswordReply(succeeded: false).serialize()
        case .awaitingRequest, .connecting: reply = SOCKS5Reply(code: error.replyCode).serialize()
        case .established, .failed: reply = []
        }
        state = .failed
        buffer = []
        return [.fail(reply: reply, reason: error)]
    }
}
