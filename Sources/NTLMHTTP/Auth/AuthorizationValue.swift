/// The credentials of an `Authorization` or `Proxy-Authorization` field (RFC 9110 §11.6.2):
/// a scheme and, for NTLM, Negotiate and Basic, a token68.
public struct AuthorizationValue: Hashable, Sendable {
    public var scheme: String
    public var token68: String?

    public init(scheme: String, token68: String?) {
        self.scheme = scheme
        self.token68 = token68
    }

    public func hasScheme(_ name: String) -> Bool { scheme.lowercased() == name.lowercased() }

    /// Parses `Scheme token68`. Parameters (`Digest ...`) are not supported by this proxy and
    /// are reported as an error.
    public init(parsing value: String, maximumLength: Int = 64 * 1024) throws(AuthHeaderError) {
        guard value.utf8.count <= maximumLength else { throw .tooLong(limit: maximumLength) }
        var parser = AuthHeaderParser(Array(value.utf8))
        parser.skipWhitespace()
        guard !parser.atEnd else { throw .empty }
        guard let scheme = parser.readToken() else { throw .expectedScheme(offset: parser.index) }
        self.scheme = scheme
        parser.skipWhitespace()
        if parser.atEnd {
            token68 = nil
            return
        }
        guard let token = parser.tryToken68() else { throw .unexpectedCharacter(offset: parser.index) }
        parser.skipWhitespace()
        guard parser.atEnd else { throw .unexpectedCharacter(offset: parser.index) }
        token68 = token
    }

    /// The decoded token bytes (NTLM message, SPNEGO token, Basic user:password).
    public func decodedToken() throws(AuthHeaderError) -> [UInt8] {
        guard let token68, let bytes = Base64.decode(token68) else { throw .invalidBase64 }
        return bytes
    }

    public var headerValue: String {
        token68.map { "\(scheme) \($0)" } ?? scheme
    }
}
