import NTLM
import NTLMHTTP

extension ConfigurationParser {
    static let credentialKeys = [
        "user", "workstation", "password", "password-env", "password-file", "nt-hash", "nt-hash-env", "nt-hash-file",
        "allow-basic",
    ]
    static let secretSourceKeys = ["password", "password-env", "password-file", "nt-hash", "nt-hash-env", "nt-hash-file"]

    /// The `credentials:` mapping, name to settings, each resolved at once.
    mutating func parseCredentials(_ node: ConfigurationNode) throws(ConfigurationError) -> [(CredentialConfiguration, Int?)] {
        var result: [(CredentialConfiguration, Int?)] = []
        for entry in try node.mapping().entries {
            guard ConfigurationParser.isValidName(entry.key) else {
                throw ConfigurationError(
                    file: file, line: entry.keyLine, keyPath: entry.value.keyPath,
                    message: "credential names may use letters, digits, '-', '_' and '.'")
            }
            result.append((try parseCredential(name: entry.key, entry.value), entry.keyLine))
        }
        return result
    }

    mutating func parseCredential(name: String, _ node: ConfigurationNode) throws(ConfigurationError) -> CredentialConfiguration {
        let map = try node.mapping()
        try map.checkKeys(allowed: ConfigurationParser.credentialKeys)
        let userNode = try map.required("user", hint: "DOMAIN\\user")
        let userName = try userNode.nonEmptyString()
        let (_, user) = NTLMCredentials.splitUserName(userName)
        guard !user.isEmpty else { throw userNode.error("no user name in \(userNode.shownValue); expected DOMAIN\\user") }
        let workstation = try map["workstation"]?.nonEmptyString() ?? ""
        let allowBasic = try map["allow-basic"]?.bool() ?? false

        let present = ConfigurationParser.secretSourceKeys.compactMap { key in map[key].map { (key, $0) } }
        guard let (sourceKey, sourceNode) = present.first else {
            throw map.owner.error(
                "missing secret: give exactly one of \(ConfigurationParser.secretSourceKeys.joined(separator: ", "))")
        }
        if present.count > 1 {
            throw present[1].1.error(
                "more than one secret source (\(present.map(\.0).joined(separator: ", "))): give exactly one")
        }

        let secret: ResolvedSecret
        switch sourceKey {
        case "password":
            warnings.append(sourceNode.warning("password written in the configuration file; prefer password-file or password-env"))
            secret = .password(Password(try sourceNode.string()), .inlinePassword)
        case "password-env":
            let variable = try sourceNode.nonEmptyString()
            secret = .password(Password(try environmentValue(variable, node: sourceNode)), .passwordEnvironment(variable))
        case "password-file":
            let path = try existingFile(sourceNode, what: "password file")
            warnIfShared(path, node: sourceNode, what: "password file")
            secret = .password(Password(try firstLine(of: path, node: sourceNode, what: "password file")), .passwordFile(path))
        case "nt-hash":
            warnings.append(sourceNode.warning("NT hash written in the configuration file (it is password-equivalent); prefer nt-hash-file or nt-hash-env"))
            secret = .ntHash(try ntHash(try sourceNode.string(), node: sourceNode), .inlineNTHash)
        case "nt-hash-env":
            let variable = try sourceNode.nonEmptyString()
            secret = .ntHash(try ntHash(try environmentValue(variable, node: sourceNode), node: sourceNode), .ntHashEnvironment(variable))
        default:  // nt-hash-file
            let path = try existingFile(sourceNode, what: "NT hash file")
            warnIfShared(path, node: sourceNode, what: "NT hash file")
            let text = try firstLine(of: path, node: sourceNode, what: "NT hash file")
            secret = .ntHash(try ntHash(text, node: sourceNode, origin: "the first line of \(path)"), .ntHashFile(path))
        }

        switch secret {
        case .password(let password, let source):
            guard !password.revealForBasic().isEmpty else { throw sourceNode.error("the password is empty") }
            return CredentialConfiguration(
                name: name, userName: userName, workstation: workstation, password: password, source: source, allowBasic: allowBasic)
        case .ntHash(let hash, let source):
            if allowBasic, let basicNode = map["allow-basic"] {
                throw basicNode.error("allow-basic needs the password itself (Basic sends it); \(sourceKey) gives only a hash")
            }
            return CredentialConfiguration(name: name, userName: userName, workstation: workstation, ntHash: hash, source: source)
        }
    }

    enum ResolvedSecret {
        case password(Password, SecretSource)
        case ntHash(NTHash, SecretSource)
    }

    func environmentValue(_ variable: String, node: ConfigurationNode) throws(ConfigurationError) -> String {
        guard let value = environment(variable) else { throw node.error("environment variable \(variable) is not set") }
        guard !value.isEmpty else { throw node.error("environment variable \(variable) is empty") }
        return value
    }

    func firstLine(of path: String, node: ConfigurationNode, what: String) throws(ConfigurationError) -> String {
        do {
            let line = try ConfigurationFiles.readFirstLine(path)
            guard !line.isEmpty else { throw node.error("\(what) \(path) is empty (the secret is its first line)") }
            return line
        } catch let problem as ConfigurationFiles.Problem {
            throw node.error("\(what) \(path): \(problem)")
        } catch let error as ConfigurationError {
            throw error
        } catch {
            throw node.error("\(what) \(path): cannot read it")
        }
    }

    func ntHash(_ text: String, node: ConfigurationNode, origin: String? = nil) throws(ConfigurationError) -> NTHash {
        let trimmed = text.trimmingASCIIWhitespace()
        guard trimmed.count == 32, let hash = try? NTHash(hex: trimmed) else {
            let place = origin.map { " in \($0)" } ?? ""
            throw node.error("expected an NT hash of 32 hex digits\(place) (value <redacted>)")
        }
        return hash
    }

    /// Names of credentials and listeners: letters, digits, `-`, `_`, `.`.
    static func isValidName(_ name: String) -> Bool {
        !name.isEmpty && name.count <= 64
            && name.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-" || $0 == "_" || $0 == ".") }
    }
}

extension ConfigurationLoader {
    /// A credential from command-line flags, for the mode subcommands
    /// (`ntlmproxy gateway --user CORP\\svc --password-file F`): the password is the first
    /// line of `passwordFile` when given, else the value of the environment variable named
    /// `environment`. Throws when neither is available (the caller may then prompt and use
    /// `CredentialConfiguration(name:userName:password:source: .prompt)`), or when the file
    /// cannot be read or the password is empty. The password is hashed at once and kept only
    /// when `allowBasic` is set.
    public static func credential(
        userName: String, passwordFile: String?, environment: String = "NTLMPROXY_PASSWORD",
        name: String = "default", workstation: String = "", allowBasic: Bool = false,
        lookup: Environment = ConfigurationLoader.processEnvironment
    ) throws(ConfigurationError) -> CredentialConfiguration {
        let (_, user) = NTLMCredentials.splitUserName(userName)
        guard !user.isEmpty else {
            throw ConfigurationError(keyPath: "--user", message: "no user name; expected DOMAIN\\user")
        }
        let password: String
        let source: SecretSource
        if let passwordFile {
            do {
                password = try ConfigurationFiles.readFirstLine(passwordFile)
            } catch {
                throw ConfigurationError(keyPath: "--password-file", message: "password file \(passwordFile): \(error)")
            }
            source = .passwordFile(passwordFile)
            guard !password.isEmpty else {
                throw ConfigurationError(keyPath: "--password-file", message: "password file \(passwordFile) is empty")
            }
        } else if let value = lookup(environment), !value.isEmpty {
            password = value
            source = .passwordEnvironment(environment)
        } else {
            throw ConfigurationError(message: "no password for \(userName): set \(environment) or use --password-file")
        }
        return CredentialConfiguration(
            name: name, userName: userName, workstation: workstation, password: Password(password), source: source,
            allowBasic: allowBasic)
    }
}
