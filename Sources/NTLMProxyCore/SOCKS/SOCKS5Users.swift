import NTLM

/// The RFC 1929 users of a SOCKS5 listener. With none, only "no authentication" is offered;
/// with some, only username/password (a client offering nothing else gets 0xFF).
public struct SOCKS5Users: Sendable, CustomStringConvertible {
    private let users: [SOCKS5UserConfiguration]

    public init(_ users: [SOCKS5UserConfiguration]) {
        self.users = users
    }

    public var isEmpty: Bool { users.isEmpty }

    public var description: String { "SOCKS5Users(\(users.map(\.name)), passwords redacted)" }

    /// What the handshake offers.
    public var handshakeConfiguration: SOCKS5ServerHandshake.Configuration {
        users.isEmpty ? .noAuthentication : .usernamePassword
    }

    /// Checks a username and password against every user, in time independent of where (or
    /// whether) they match; only the lengths show.
    public func verify(username: String, password: Password) -> Bool {
        let name = Array(username.utf8)
        let secret = Array(password.revealForBasic().utf8)
        var matched: UInt8 = 0
        for user in users {
            let nameEqual = Self.equal(Array(user.name.utf8), name)
            let passwordEqual = Self.equal(Array(user.password.revealForBasic().utf8), secret)
            matched |= nameEqual & passwordEqual
        }
        return matched == 1
    }

    /// 1 when equal, else 0, without an early exit.
    private static func equal(_ lhs: [UInt8], _ rhs: [UInt8]) -> UInt8 {
        var difference = UInt(bitPattern: lhs.count ^ rhs.count)
        for index in 0..<max(lhs.count, rhs.count) {
            let left = index < lhs.count ? lhs[index] : 0
            let right = index < rhs.count ? rhs[index] : 0
            difference |= UInt(left ^ right)
        }
        return difference == 0 ? 1 : 0
    }
}
