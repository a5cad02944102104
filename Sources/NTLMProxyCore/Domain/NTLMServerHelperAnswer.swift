import NTLM
import NTLMHTTP

/// One answer of Samba's `ntlm_auth --helper-protocol=ntlm-server-1`: the lines a helper
/// wrote before the `.` that ends an answer.
///
/// What ntlm_auth writes (source3/utils/ntlm_auth.c, seen from Samba 4.17):
///
///     Authenticated: Yes                      Authenticated: No
///     User-Session-Key: 0A1B...(32 hex)       Authentication-Error: <NTSTATUS text>
///     LANMAN-Session-Key: 0A1B...(16 hex)     .
///     .                                       .   <- a second "." after every failure
///
/// and `Error: <text>` answers for requests it could not take. Parsing is strict about the
/// lines it relies on and ignores keys it does not know; text from the helper is kept only
/// in sanitized form (`sanitized(_:)`), so nothing it echoes can reach a log line.
public struct NTLMServerHelperAnswer: Hashable, Sendable {
    /// `Authenticated: Yes|No`, absent in an `Error:` answer.
    public var authenticated: Bool?
    /// `User-Session-Key`: the SessionBaseKey (ntlm_auth leaves it out when it is all zero).
    public var userSessionKey: SessionKey?
    /// `LANMAN-Session-Key`: the first 8 bytes of the LM hash.
    public var lmSessionKey: SessionKey?
    /// `Authentication-Error`: winbindd's text for the NTSTATUS of a refused logon.
    public var authenticationError: String?
    /// `Error:` lines: the helper could not take the request.
    public var errors: [String]

    /// Longest line accepted from a helper, in bytes (ntlm_auth's longest is an error text
    /// of a few hundred bytes).
    public static let maximumLineBytes = 4096
    /// Most lines accepted in one answer.
    public static let maximumLines = 32

    public init(authenticated: Bool?, userSessionKey: SessionKey? = nil, lmSessionKey: SessionKey? = nil,
                authenticationError: String? = nil, errors: [String] = []) {
        self.authenticated = authenticated
        self.userSessionKey = userSessionKey
        self.lmSessionKey = lmSessionKey
        self.authenticationError = authenticationError
        self.errors = errors
    }

    /// Parses the lines of one answer, without their line ends and without the final `.`.
    public init(lines: [[UInt8]]) throws(NTLMServerHelperError) {
        guard lines.count <= Self.maximumLines else { throw .tooManyLines(limit: Self.maximumLines) }
        self.init(authenticated: nil)
        var seen: Set<String> = []
        for line in lines {
            guard line.count <= Self.maximumLineBytes else { throw .lineTooLong(limit: Self.maximumLineBytes) }
            let (key, value) = try Self.field(line)
            let name = key.lowercased()
            if name != "error" {
                guard seen.insert(name).inserted else { throw .duplicateKey(key) }
            }
            switch name {
            case "authenticated":
                switch value.lowercased() {
                case "yes": authenticated = true
                case "no": authenticated = false
                default: throw .missingVerdict
                }
            case "user-session-key":
                userSessionKey = try Self.key(value, bytes: 16, field: "User-Session-Key")
            case "lanman-session-key":
                lmSessionKey = try Self.key(value, bytes: 8, field: "LANMAN-Session-Key")
            case "authentication-error":
                authenticationError = Self.sanitized(value)
            case "error":
                errors.append(Self.sanitized(value))
            default:
                continue
            }
        }
        guard authenticated != nil || !errors.isEmpty else { throw .missingVerdict }
    }

    /// Whether the helper may still owe us output: ntlm_auth answers some bad request lines
    /// at once with `Error:` and the `.` once more, so a helper that wrote an `Error:` line
    /// is not trusted with another request.
    public var leavesHelperOutOfStep: Bool { !errors.isEmpty }

    /// Splits `Key: value` or `Key:: base64` (as ntlm_auth does: the first `:: `, else the
    /// first `: `).
    static func field(_ line: [UInt8]) throws(NTLMServerHelperError) -> (key: String, value: String) {
        guard let text = text(line) else { throw .notText }
        let base64Range = text.firstRange(of: ":: ")
        let isBase64 = base64Range != nil
        guard let range = base64Range ?? text.firstRange(of: ": ") else { throw .malformedLine }
        let key = String(text[..<range.lowerBound])
        guard !key.isEmpty, key.utf8.allSatisfy({ $0 > 0x20 && $0 < 0x7F && $0 != UInt8(ascii: ":") }) else {
            throw .malformedLine
        }
        let raw = String(text[range.upperBound...])
        guard isBase64 else { return (key, raw) }
        guard let bytes = Base64.decode(raw), let decoded = Self.text(bytes) else { throw .malformedLine }
        return (key, decoded)
    }

    /// `bytes` as a String if they are UTF-8 without control characters (tab allowed).
    static func text(_ bytes: [UInt8]) -> String? {
        let string = String(decoding: bytes, as: UTF8.self)
        guard string.utf8.elementsEqual(bytes) else { return nil }
        guard string.unicodeScalars.allSatisfy({ $0 == "\t" || ($0.value >= 0x20 && $0.value != 0x7F && !(0x80..<0xA0).contains($0.value)) }) else {
            return nil
        }
        return string
    }

    static func key(_ value: String, bytes count: Int, field: String) throws(NTLMServerHelperError) -> SessionKey {
        guard value.utf8.count == count * 2, let bytes = HexCoding.decode(value) else { throw .invalidSessionKey(field: field) }
        return SessionKey(bytes: bytes)
    }

    /// Helper text made fit for a log line or an error: printable ASCII only, every run of
    /// 16 or more hex digits (an echoed challenge, response or key) replaced, and at most
    /// 160 characters.
    public static func sanitized(_ text: String) -> String {
        let limit = 160
        var out = ""
        var hexRun = ""
        func flushHex() {
            out += hexRun.count >= 16 ? "[hex]" : hexRun
            hexRun = ""
        }
        for scalar in text.unicodeScalars {
            if scalar.properties.isASCIIHexDigit {
                hexRun.unicodeScalars.append(scalar)
                continue
            }
            flushHex()
            if scalar.value >= 0x20 && scalar.value < 0x7F {
                out.unicodeScalars.append(scalar)
            } else {
                out += "?"
            }
            if out.count > limit { break }
        }
        flushHex()
        if out.count > limit { out = String(out.prefix(limit)) + "..." }
        return out
    }
}
