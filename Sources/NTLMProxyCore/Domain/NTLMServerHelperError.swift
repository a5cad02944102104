/// Why a request could not be put into Samba's `ntlm-server-1` helper protocol, or why what
/// a helper wrote back is not a usable answer.
///
/// Helper output is untrusted: every problem with it is one of these cases, never a trap.
/// No case carries a password, a challenge response or a session key (design invariant 6);
/// text taken from a helper is cut short and has long hex runs removed first
/// (`NTLMServerHelperAnswer.sanitized(_:)`).
public enum NTLMServerHelperError: Error, Hashable, Sendable, CustomStringConvertible {
    // MARK: encoding a request

    /// A value that cannot travel in the protocol at all: empty, or with a NUL character
    /// (the helper's C strings would cut it short and check a different value).
    case invalidValue(field: String)
    /// A challenge or response whose length the helper refuses (it would answer twice and the
    /// conversation would lose its step).
    case invalidLength(field: String, length: Int)
    /// Neither an NT nor an LM response to check.
    case missingResponse

    // MARK: reading an answer

    /// A line longer than `limit` bytes.
    case lineTooLong(limit: Int)
    /// More than `limit` lines before the `.` that ends an answer.
    case tooManyLines(limit: Int)
    /// A line that is not UTF-8 text or holds control characters.
    case notText
    /// A line without the `Key: value` shape.
    case malformedLine
    /// A key that may appear once appeared twice.
    case duplicateKey(String)
    /// A session key that is not hex of the right length.
    case invalidSessionKey(field: String)
    /// An answer without an `Authenticated:` line, or with a value other than Yes or No.
    case missingVerdict
    /// Output while no request was outstanding (the helper is out of step with us).
    case unsolicitedOutput

    public var description: String {
        switch self {
        case .invalidValue(let field): return "ntlm_auth request: \(field) is empty or contains a NUL character"
        case .invalidLength(let field, let length): return "ntlm_auth request: \(field) has invalid length \(length)"
        case .missingResponse: return "ntlm_auth request: no NT or LM response"
        case .lineTooLong(let limit): return "ntlm_auth answer: line longer than \(limit) bytes"
        case .tooManyLines(let limit): return "ntlm_auth answer: more than \(limit) lines"
        case .notText: return "ntlm_auth answer: line is not text"
        case .malformedLine: return "ntlm_auth answer: line is not 'Key: value'"
        case .duplicateKey(let key): return "ntlm_auth answer: \(key) given twice"
        case .invalidSessionKey(let field): return "ntlm_auth answer: \(field) is not a hex key of the right length"
        case .missingVerdict: return "ntlm_auth answer: no 'Authenticated: Yes|No' line"
        case .unsolicitedOutput: return "ntlm_auth wrote output while no request was outstanding"
        }
    }
}
