/// A configuration problem, located as precisely as possible: the file, the line, and the key
/// path inside the file (`listeners[1].backend`).
///
/// `description` reads `ntlmproxy.yaml:12: listeners[1].backend: not a URL ("htp:/x")`.
/// Messages never carry a secret value (design invariant 6): values of secret keys are shown as
/// `<redacted>`, and users-file errors name the line, never the hash or password on it.
public struct ConfigurationError: Error, Hashable, Sendable, CustomStringConvertible {
    /// The file the problem is in (as given to the loader), or `nil` for settings from flags.
    public var file: String?
    /// The 1-based line, when known.
    public var line: Int?
    /// Where in the YAML document: `credentials.svc.password-file`, `listeners[0].limits`.
    public var keyPath: String?
    /// What is wrong, and where possible what is expected instead.
    public var message: String

    public init(file: String? = nil, line: Int? = nil, keyPath: String? = nil, message: String) {
        self.file = file
        self.line = line
        self.keyPath = keyPath
        self.message = message
    }

    public var description: String {
        ConfigurationLocation.render(file: file, line: line, keyPath: keyPath, message: message)
    }
}

/// Something legal but risky that `check-config` points out (an inline password, a gateway
/// reachable from the network, ...). Located like `ConfigurationError`; never carries a secret.
public struct ConfigurationWarning: Hashable, Sendable, CustomStringConvertible {
    public var file: String?
    public var line: Int?
    public var keyPath: String?
    public var message: String

    public init(file: String? = nil, line: Int? = nil, keyPath: String? = nil, message: String) {
        self.file = file
        self.line = line
        self.keyPath = keyPath
        self.message = message
    }

    public var description: String {
        ConfigurationLocation.render(file: file, line: line, keyPath: keyPath, message: message)
    }
}

/// The `file:line: key.path: message` layout shared by errors and warnings.
enum ConfigurationLocation {
    static func render(file: String?, line: Int?, keyPath: String?, message: String) -> String {
        var prefix = ""
        if let file {
            prefix = file
            if let line { prefix += ":\(line)" }
            prefix += ": "
        } else if let line {
            prefix = "line \(line): "
        }
        if let keyPath, !keyPath.isEmpty { prefix += keyPath + ": " }
        return prefix + message
    }
}
