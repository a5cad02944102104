/// Why a SOCKS5 (RFC 1928) or username/password (RFC 1929) message was refused.
///
/// "Not enough bytes yet" is never an error: parsers report it as `SOCKS5ParseResult.incomplete`.
/// Descriptions never carry a username or password (design invariant 6).
public enum SOCKS5Error: Error, Hashable, Sendable, CustomStringConvertible {
    /// VER was not 5 (greeting, request) or not 1 (RFC 1929 subnegotiation).
    case unsupportedVersion(UInt8)
    /// The greeting listed zero authentication methods.
    case noAuthenticationMethods
    /// None of the client's methods is one this server accepts.
    case noAcceptableMethods
    /// RFC 1929 ULEN was 0.
    case emptyUsername
    /// The username or password is not valid UTF-8.
    case invalidCredentialEncoding
    /// The authenticator rejected the credentials.
    case authenticationFailed
    /// CMD was BIND (2), UDP ASSOCIATE (3) or unknown; only CONNECT (1) is supported.
    case unsupportedCommand(UInt8)
    /// ATYP was not 1 (IPv4), 3 (domain name) or 4 (IPv6).
    case unsupportedAddressType(UInt8)
    /// The domain name was empty or is not valid host text.
    case invalidDomainName
    /// A client sent more than the handshake allows to buffer before the tunnel is up.
    case bufferLimitExceeded
    /// The connect attempt failed with this reply code.
    case connectFailed(SOCKS5ReplyCode)
    /// An event arrived in a state that does not expect it (a bug in the caller).
    case unexpectedEvent(String)

    /// The reply code to send for this error once the request phase is reached.
    public var replyCode: SOCKS5ReplyCode {
        switch self {
        case .unsupportedCommand: return .commandNotSupported
        case .unsupportedAddressType: return .addressTypeNotSupported
        case .connectFailed(let code): return code
        default: return .generalFailure
        }
    }

    public var description: String {
        switch self {
        case .unsupportedVersion(let version): return "SOCKS: unsupported version \(version)"
        case .noAuthenticationMethods: return "SOCKS5: greeting lists no authentication methods"
        case .noAcceptableMethods: return "SOCKS5: no acceptable authentication method offered"
        case .emptyUsername: return "SOCKS5: empty username"
        case .invalidCredentialEncoding: return "SOCKS5: username or password is not UTF-8"
        case .authenticationFailed: return "SOCKS5: authentication failed"
        case .unsupportedCommand(let command): return "SOCKS5: unsupported command \(command)"
        case .unsupportedAddressType(let type): return "SOCKS5: unsupported address type \(type)"
        case .invalidDomainName: return "SOCKS5: invalid domain name"
        case .bufferLimitExceeded: return "SOCKS5: too many bytes before the tunnel was established"
        case .connectFailed(let code): return "SOCKS5: connect failed (\(code))"
        case .unexpectedEvent(let event): return "SOCKS5: unexpected event \(event)"
        }
    }
}
