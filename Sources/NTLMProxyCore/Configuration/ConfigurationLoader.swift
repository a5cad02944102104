import Logging
import Yams

/// Reads a YAML configuration file into a `ProxyConfiguration`, checking everything that can
/// be checked before serving: types, unknown keys (typo protection), required keys, URLs and
/// addresses, references between sections, and that the files it names exist. Secrets are
/// resolved here (environment variables and files read, passwords hashed).
///
/// Every error names the file, the line and the key path, and never contains a secret:
/// `ntlmproxy.yaml:12: listeners[1].backend: not a URL ("htp:/x")`.
///
/// Relative paths in the file (users-file, password-file, tls cert/key, ...) are relative to
/// the directory of the configuration file.
public struct ConfigurationLoader: Sendable {
    /// Looks up an environment variable.
    public typealias Environment = @Sendable (String) -> String?

    /// The process environment (`getenv`).
    public static let processEnvironment: Environment = { ConfigurationFiles.environmentValue($0) }

    /// The top-level keys of a configuration file.
    static let rootKeys = ["logging", "credentials", "listeners"]

    public var environment: Environment

    public init(environment: @escaping Environment = ConfigurationLoader.processEnvironment) {
        self.environment = environment
    }

    /// Loads the file at `path`; messages name it as given.
    public func load(path: String) throws(ConfigurationError) -> ProxyConfiguration {
        let text: String
        do {
            text = try ConfigurationFiles.readText(path, limit: 4 << 20)
        } catch {
            throw ConfigurationError(file: path, message: "cannot read configuration file: \(error)")
        }
        return try load(yaml: text, fileName: path, baseDirectory: ConfigurationFiles.directory(of: path))
    }

    /// Loads YAML text. `fileName` labels messages; relative paths in it are resolved against
    /// `baseDirectory` (the current directory when `nil`).
    public func load(yaml: String, fileName: String = "ntlmproxy.yaml", baseDirectory: String? = nil) throws(ConfigurationError) -> ProxyConfiguration {
        var parser = ConfigurationParser(file: fileName, baseDirectory: baseDirectory, environment: environment)
        return try parser.parseDocument(yaml)
    }
}

/// One load: the file being read, and the warnings gathered on the way.
struct ConfigurationParser {
    let file: String
    let baseDirectory: String?
    let environment: ConfigurationLoader.Environment
    var warnings: [ConfigurationWarning] = []

    init(file: String, baseDirectory: String?, environment: @escaping ConfigurationLoader.Environment) {
        self.file = file
        self.baseDirectory = baseDirectory
        self.environment = environment
    }

    mutating func parseDocument(_ yaml: String) throws(ConfigurationError) -> ProxyConfiguration {
        let root = try compose(yaml)
        let document = ConfigurationNode(node: root, keyPath: "", file: file, key: nil)
        let map = try document.mapping()
        try map.checkKeys(allowed: ConfigurationLoader.rootKeys)

        var logging = LoggingConfiguration()
        if let node = map["logging"] { logging = try parseLogging(node) }

        var credentials: [CredentialConfiguration] = []
        var credentialLines: [String: Int?] = [:]
        if let node = map["credentials"] {
            for (credential, line) in try parseCredentials(node) {
                credentials.append(credential)
                credentialLines[credential.name] = line
            }
        }

        let listenersNode = try map.required("listeners", hint: "at least one listener")
        let items = try listenersNode.sequence()
        guard !items.isEmpty else { throw listenersNode.error("at least one listener is required") }
        // Two passes: socks5/tunnel listeners with `via:` borrow a forward listener's settings,
        // which may come later in the file.
        var parsed: [(ListenerConfiguration, name: ConfigurationNode, listen: ConfigurationNode)?] = []
        var forwards: [String: ForwardConfiguration] = [:]
        for item in items {
            guard !ConfigurationParser.needsForwardListeners(item) else {
                parsed.append(nil)
                continue
            }
            let result = try parseListener(item, credentials: credentials)
            if case .forward(let forward) = result.0.mode, forwards[result.0.name] == nil { forwards[result.0.name] = forward }
            parsed.append(result)
        }
        var listeners: [ListenerConfiguration] = []
        var names: [String: Int?] = [:]
        var addresses: [ListenAddress: Int?] = [:]
        for (item, done) in zip(items, parsed) {
            let result: (ListenerConfiguration, name: ConfigurationNode, listen: ConfigurationNode)
            if let done { result = done } else { result = try parseListener(item, credentials: credentials, forwards: forwards) }
            let (listener, nameNode, listenNode) = result
            if let first = names[listener.name] {
                throw nameNode.error("duplicate listener name \"\(listener.name)\"\(first.map { " (first on line \($0))" } ?? "")")
            }
            names[listener.name] = nameNode.line
            if let first = addresses[listener.address] {
                throw listenNode.error("address \(listener.address) is already used by another listener\(first.map { " (line \($0))" } ?? "")")
            }
            addresses[listener.address] = listenNode.line
            listeners.append(listener)
        }

        let used = Set(listeners.flatMap(\.credentialNames))
        for credential in credentials where !used.contains(credential.name) {
            warnings.append(ConfigurationWarning(
                file: file, line: credentialLines[credential.name] ?? nil, keyPath: "credentials.\(credential.name)",
                message: "credential is not used by any listener"))
        }
        return ProxyConfiguration(logging: logging, credentials: credentials, listeners: listeners, warnings: warnings, sourceFile: file)
    }

    /// The YAML document's root node; syntax errors keep only libyaml's own wording and the
    /// position (Yams' description would quote the offending line, which may hold a secret).
    func compose(_ yaml: String) throws(ConfigurationError) -> Node {
        let root: Node?
        do {
            root = try Yams.compose(yaml: yaml)
        } catch let error as YamlError {
            switch error {
            case .scanner(let context, let problem, let mark, _), .parser(let context, let problem, let mark, _),
                .composer(let context, let problem, let mark, _):
                let during = context.map { " (\($0.text))" } ?? ""
                throw ConfigurationError(file: file, line: mark.line, message: "invalid YAML: \(problem)\(during)")
            case .reader(let problem, _, _, _):
                throw ConfigurationError(file: file, message: "invalid YAML: \(problem)")
            default:
                throw ConfigurationError(file: file, message: "invalid YAML")
            }
        } catch {
            throw ConfigurationError(file: file, message: "invalid YAML")
        }
        guard let root else {
            throw ConfigurationError(file: file, line: 1, message: "the file is empty; expected a mapping with listeners:")
        }
        return root
    }

    func parseLogging(_ node: ConfigurationNode) throws(ConfigurationError) -> LoggingConfiguration {
        let map = try node.mapping()
        try map.checkKeys(allowed: ["level"])
        guard let levelNode = map["level"] else { return LoggingConfiguration() }
        let text = try levelNode.nonEmptyString()
        guard let level = LoggingConfiguration.parseLevel(text) else {
            throw levelNode.error("unknown log level \(levelNode.shownValue) (one of: \(LoggingConfiguration.levelNames.joined(separator: ", ")))")
        }
        return LoggingConfiguration(level: level, levelIsExplicit: true)
    }

    // MARK: Files

    /// A path from the file, resolved against the config's directory.
    func path(_ node: ConfigurationNode) throws(ConfigurationError) -> String {
        ConfigurationFiles.resolve(try node.nonEmptyString(), relativeTo: baseDirectory)
    }

    /// A path that must name a readable file now; `what` names it in the message.
    func existingFile(_ node: ConfigurationNode, what: String) throws(ConfigurationError) -> String {
        let resolved = try path(node)
        if let problem = ConfigurationFiles.checkReadable(resolved) {
            throw node.error("\(what) \(resolved): \(problem)")
        }
        return resolved
    }

    /// Warns when a file holding secrets can be read by other users.
    mutating func warnIfShared(_ path: String, node: ConfigurationNode, what: String) {
        if ConfigurationFiles.isReadableByOthers(path) {
            warnings.append(node.warning("\(what) \(path) is readable by other users; chmod 600 it"))
        }
    }
}
