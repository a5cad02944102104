/// Where a credential's secret came from. Only this is kept and shown (never the secret): the
/// secret itself is resolved into an `HTTPCredential` when the configuration is loaded.
public enum SecretSource: Hashable, Sendable, CustomStringConvertible {
    /// `password:` written in the configuration file (allowed; `check-config` warns).
    case inlinePassword
    /// `password-env: VAR`.
    case passwordEnvironment(String)
    /// `password-file: PATH` (first line of the file).
    case passwordFile(String)
    /// `nt-hash:` written in the file (password-equivalent; `check-config` warns).
    case inlineNTHash
    /// `nt-hash-env: VAR`.
    case ntHashEnvironment(String)
    /// `nt-hash-file: PATH`.
    case ntHashFile(String)
    /// Typed at a terminal prompt (command line modes only).
    case prompt
    /// A cntlm.conf line: `Password`, `PassNT`, `PassNTLMv2` (cntlm's complemented hashes);
    /// `path` is the file, when read from one.
    case cntlmConfiguration(keyword: String, path: String?)
    /// No password or hash: a Kerberos-only credential (a keytab or a ticket cache).
    case none

    /// Whether the secret is a plaintext password (needed for Basic) rather than an NT hash.
    public var isPassword: Bool {
        switch self {
        case .inlinePassword, .passwordEnvironment, .passwordFile, .prompt: return true
        case .inlineNTHash, .ntHashEnvironment, .ntHashFile, .none: return false
        case .cntlmConfiguration(let keyword, _): return keyword == "Password"
        }
    }

    /// `password from env NTLMPROXY_PASSWORD`, `NT hash from file /etc/ntlmproxy/svc.hash`, ...
    public var description: String {
        switch self {
        case .inlinePassword: return "password inline in the configuration file"
        case .passwordEnvironment(let name): return "password from env \(name)"
        case .passwordFile(let path): return "password from file \(path)"
        case .inlineNTHash: return "NT hash inline in the configuration file"
        case .ntHashEnvironment(let name): return "NT hash from env \(name)"
        case .ntHashFile(let path): return "NT hash from file \(path)"
        case .prompt: return "password from the terminal prompt"
        case .cntlmConfiguration(let keyword, let path): return "\(keyword) from \(path ?? "the cntlm configuration")"
        case .none: return "no password"
        }
    }
}
