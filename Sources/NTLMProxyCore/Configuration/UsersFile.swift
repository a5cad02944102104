import NTLM

/// The acceptor's users file: one account per line, in either of two formats, detected per
/// line:
///
/// - `DOMAIN\user:NTHASH` (32 hex digits, as `ntlmproxy hash` prints), or a bare
///   `user:NTHASH` for an account in the default domain;
/// - gss-ntlmssp's (and Heimdal's) `DOMAIN:user:password`, hashed at load. As in
///   gss-ntlmssp, the password is everything after the second colon (it may contain colons);
///   an empty DOMAIN means the default domain.
///
/// A line whose part before the first colon contains a backslash is the hash format; a line
/// with two or more colons and no backslash there is gss-ntlmssp's; `#` starts a comment
/// line; blank lines are skipped. Errors name the file and line, never the hash or password.
public enum UsersFile {
    /// Reads and parses the file at `path`.
    public static func load(path: String, defaultDomain: String) throws(ConfigurationError) -> NTLMUserStore {
        let text: String
        do {
            text = try ConfigurationFiles.readText(path)
        } catch {
            throw ConfigurationError(file: path, message: "cannot read users file: \(error)")
        }
        return try parse(text, fileName: path, defaultDomain: defaultDomain)
    }

    /// Parses users-file text; `fileName` only labels errors.
    public static func parse(_ text: String, fileName: String, defaultDomain: String) throws(ConfigurationError) -> NTLMUserStore {
        var store = NTLMUserStore()
        var firstLines: [String: Int] = [:]
        var lineNumber = 0
        // "\r\n" is a single Character in Swift, so both endings are split on explicitly.
        for rawLine in text.split(omittingEmptySubsequences: false, whereSeparator: { $0 == "\n" || $0 == "\r\n" }) {
            lineNumber += 1
            var line = rawLine
            if line.hasSuffix("\r") { line = line.dropLast() }
            let trimmed = line.trimmingASCIIWhitespace()
            if trimmed.isEmpty || trimmed.hasPrefix("#") { continue }
            let entry = try parseLine(line, number: lineNumber, fileName: fileName, defaultDomain: defaultDomain)
            let key = "\(entry.domain.uppercased())\\\(entry.user.uppercased())"
            if let first = firstLines[key] {
                throw ConfigurationError(
                    file: fileName, line: lineNumber,
                    message: "duplicate entry for \(entry.domain)\\\(entry.user) (first on line \(first))")
            }
            firstLines[key] = lineNumber
            store.add(entry)
        }
        return store
    }

    static func parseLine(_ line: Substring, number: Int, fileName: String, defaultDomain: String) throws(ConfigurationError) -> NTLMUserStore.Entry {
        func failure(_ message: String) -> ConfigurationError {
            ConfigurationError(file: fileName, line: number, message: message)
        }
        guard let firstColon = line.firstIndex(of: ":") else {
            throw failure("expected DOMAIN\\user:NTHASH, user:NTHASH or DOMAIN:user:password")
        }
        let head = line[..<firstColon]
        let rest = line[line.index(after: firstColon)...]

        if !head.contains("\\"), let secondColon = rest.firstIndex(of: ":") {
            // gss-ntlmssp: DOMAIN:user:password
            let domainField = head.trimmingASCIIWhitespace()
            let user = rest[..<secondColon].trimmingASCIIWhitespace()
            let password = String(rest[rest.index(after: secondColon)...])
            guard !user.isEmpty else { throw failure("empty user name (DOMAIN:user:password format)") }
            guard !password.isEmpty else { throw failure("empty password for \(domainField.isEmpty ? defaultDomain : domainField)\\\(user)") }
            let domain = domainField.isEmpty ? defaultDomain : domainField
            let secret = Password(password)
            return NTLMUserStore.Entry(user: user, domain: domain, ntHash: NTHash(password: secret), lmHash: LMHash(password: secret))
        }

        // DOMAIN\user:NTHASH or user:NTHASH
        var domain = defaultDomain
        var user = head.trimmingASCIIWhitespace()
        if let slash = head.firstIndex(of: "\\") {
            let domainField = head[..<slash].trimmingASCIIWhitespace()
            if !domainField.isEmpty { domain = domainField }
            user = head[head.index(after: slash)...].trimmingASCIIWhitespace()
        }
        guard !user.isEmpty, !user.contains("\\") else { throw failure("expected DOMAIN\\user before the colon") }
        let hashText = rest.trimmingASCIIWhitespace()
        guard hashText.count == 32, let hash = try? NTHash(hex: hashText) else {
            throw failure("the NT hash for \(domain)\\\(user) is not 32 hex digits (value redacted)")
        }
        return NTLMUserStore.Entry(user: user, domain: domain, ntHash: hash)
    }
}
