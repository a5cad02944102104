import Kerberos
import NTLM
import NTLMHTTP

extension ConfigurationParser {
    static let credentialKeys = [
        "user", "workstation", "password", "password-env", "password-file", "nt-hash", "nt-hash-env", "nt-hash-file",
        "allow-basic", "auth", "kerberos",
    ]
    static let secretSourceKeys = ["password", "password-env", "password-file", "nt-hash", "nt-hash-env", "nt-hash-file"]
    static let kerberosKeys = ["principal", "keytab", "ticket-cache", "spn", "timeout", "renew-before", "retry-after-failure", "block-after-rejection"]

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
        var allowBasic = try map["allow-basic"]?.bool() ?? false
        var authentication = CredentialAuthentication(mode: .auto)
        if let authNode = map["auth"] {
            let text = try authNode.nonEmptyString().lowercased()
            guard let mode = CredentialAuthentication.Mode(name: text) else {
                throw authNode.error("unknown auth \(authNode.shownValue) (one of: \(CredentialAuthentication.Mode.acceptedNames))")
            }
            authentication.mode = mode
            if mode == .basic { allowBasic = true }
        }
        let kerberosSettings = try map["kerberos"].map { node throws(ConfigurationError) in try parseKerberosSettings(node, authentication: &authentication) }

        let present = ConfigurationParser.secretSourceKeys.compactMap { key in map[key].map { (key, $0) } }
        if present.count > 1 {
            throw present[1].1.error(
                "more than one secret source (\(present.map(\.0).joined(separator: ", "))): give exactly one")
        }
        guard let (sourceKey, sourceNode) = present.first else {
            // No password or hash: Kerberos only, from a keytab or a ticket cache (the default
            // cache when auth: kerberos names neither).
            let ticketSource: KerberosCredentialSource?
            switch (kerberosSettings?.source, authentication.mode) {
            case (let source?, .auto), (let source?, .kerberos): ticketSource = source
            case (nil, .kerberos): ticketSource = .ticketCache(nil)
            default: ticketSource = nil
            }
            guard let ticketSource else {
                throw map.owner.error(
                    "missing secret: give exactly one of \(ConfigurationParser.secretSourceKeys.joined(separator: ", ")), or Kerberos (kerberos: {keytab: FILE} or {ticket-cache: default}, or auth: kerberos)")
            }
            if allowBasic, let basicNode = map["allow-basic"] ?? map["auth"] {
                throw basicNode.error("Basic needs a password (it sends it); this credential has none")
            }
            if authentication.mode == .auto { authentication.mode = .kerberos }
            let kerberos = KerberosCredential(
                source: ticketSource, principal: ConfigurationLoader.defaultPrincipal(kerberosSettings?.principal, userName: userName, source: ticketSource))
            return CredentialConfiguration(name: name, userName: userName, kerberos: kerberos, authentication: authentication)
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

        let principal = kerberosSettings?.principal ?? HTTPCredential.kerberosPrincipal(forUserName: userName)
        switch secret {
        case .password(let password, let source):
            guard !password.revealForBasic().isEmpty else { throw sourceNode.error("the password is empty") }
            let kerberos = authentication.kerberosSide(source: kerberosSettings?.source, password: password, principal: principal)
            return CredentialConfiguration(
                name: name, userName: userName, workstation: workstation, password: password, source: source,
                allowBasic: allowBasic, kerberos: kerberos, authentication: authentication)
        case .ntHash(let hash, let source):
            if allowBasic, let basicNode = map["allow-basic"] ?? map["auth"] {
                throw basicNode.error("Basic needs the password itself (it sends it); \(sourceKey) gives only a hash")
            }
            if authentication.mode == .kerberos && kerberosSettings?.source == nil {
                throw (map["auth"] ?? sourceNode).error(
                    "auth: kerberos needs a password, a keytab or a ticket cache (an NT hash cannot get Kerberos tickets)")
            }
            let kerberos = authentication.kerberosSide(source: kerberosSettings?.source, password: nil, principal: principal)
            return CredentialConfiguration(
                name: name, userName: userName, workstation: workstation, ntHash: hash, source: source,
                kerberos: kerberos, authentication: authentication)
        }
    }

    /// What a credential's `kerberos:` mapping says.
    struct KerberosSettings {
        var principal: String?
        var source: KerberosCredentialSource?
    }

    /// `kerberos: {principal, keytab | ticket-cache, spn, timeout, renew-before,
    /// retry-after-failure, block-after-rejection}`.
    mutating func parseKerberosSettings(_ node: ConfigurationNode, authentication: inout CredentialAuthentication) throws(ConfigurationError) -> KerberosSettings {
        let map = try node.mapping()
        try map.checkKeys(allowed: ConfigurationParser.kerberosKeys)
        var settings = KerberosSettings()
        if let value = map["principal"] {
            let principal = try value.nonEmptyString()
            guard !principal.contains("\\"), !principal.hasPrefix("@"), !principal.hasSuffix("@") else {
                throw value.error("expected a Kerberos principal such as alice@CORP.EXAMPLE.COM (not DOMAIN\\user)")
            }
            settings.principal = principal
        }
        if map["keytab"] != nil && map["ticket-cache"] != nil {
            throw (map["ticket-cache"] ?? node).error("give either keytab or ticket-cache, not both")
        }
        if let value = map["keytab"] {
            let path = try existingFile(value, what: "keytab")
            warnIfShared(path, node: value, what: "keytab")
            settings.source = .keytab(path)
        }
        if let value = map["ticket-cache"] {
            settings.source = .ticketCache(Self.ticketCacheName(try value.nonEmptyString()))
        }
        if let value = map["spn"] {
            let text = try value.nonEmptyString().lowercased()
            guard let canonicalization = KerberosServiceName.Canonicalization(rawValue: text) else {
                throw value.error("unknown spn \(value.shownValue) (one of: \(KerberosServiceName.Canonicalization.allCases.map(\.rawValue).joined(separator: ", ")))")
            }
            authentication.spnCanonicalization = canonicalization
        }
        if let value = map["timeout"] {
            authentication.kerberosTimeout = try value.duration()
        }
        if let value = map["renew-before"] {
            authentication.ticketPolicy.renewBefore = try value.duration()
        }
        if let value = map["retry-after-failure"] {
            authentication.ticketPolicy.retryAfterFailure = try value.duration()
        }
        if let value = map["block-after-rejection"] {
            let window = try value.duration()
            authentication.ticketPolicy.rejectionWindow = window
            if window < .seconds(60) {
                warnings.append(value.warning("a refused password would be offered again every \(ConfigurationDuration.format(window)); each try is a failed logon that counts towards the account's lockout"))
            }
        }
        if authentication.mode == .ntlm || authentication.mode == .basic {
            warnings.append(node.warning("ignored: auth \(authentication.mode.rawValue) never uses Kerberos"))
        }
        return settings
    }

    /// `default` → the default cache (KRB5CCNAME); a path → `FILE:path`; a `TYPE:residual`
    /// name as given.
    static func ticketCacheName(_ text: String) -> String? {
        if text.lowercased() == "default" { return nil }
        if text.hasPrefix("/") { return "FILE:" + text }
        return text
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
    /// How a command-line credential gets its Kerberos side (`--auth`, `--keytab`,
    /// `--ticket-cache`, `--principal`, `--spn`).
    public struct KerberosFlags: Sendable {
        public var authentication: CredentialAuthentication
        public var keytab: String?
        /// `default` or a cache name/path; `nil` when not given.
        public var ticketCache: String?
        public var principal: String?

        public init(authentication: CredentialAuthentication = CredentialAuthentication(mode: .auto), keytab: String? = nil, ticketCache: String? = nil, principal: String? = nil) {
            self.authentication = authentication
            self.keytab = keytab
            self.ticketCache = ticketCache
            self.principal = principal
        }

        /// NTLM only (no Kerberos at all).
        public static let ntlmOnly = KerberosFlags(authentication: .ntlmOnly)

        /// Whether the credential needs no password: Kerberos only, from a keytab or a ticket
        /// cache (`--auth kerberos` without a password means the default ticket cache).
        public func needsNoPassword(passwordAvailable: Bool) -> Bool {
            switch authentication.mode {
            case .ntlm, .basic: return false
            case .auto: return keytab != nil || ticketCache != nil
            case .kerberos: return keytab != nil || ticketCache != nil || !passwordAvailable
            }
        }

        /// The ticket source named by the flags, if any.
        var source: KerberosCredentialSource? {
            if let keytab { return .keytab(keytab) }
            if let ticketCache { return .ticketCache(ConfigurationParser.ticketCacheName(ticketCache)) }
            return nil
        }
    }

    /// A credential from command-line flags, for the mode subcommands
    /// (`ntlmproxy gateway --user CORP\\svc --password-file F`): the password is the first
    /// line of `passwordFile` when given, else the value of the environment variable named
    /// `environment`. Throws when neither is available (the caller may then prompt and use
    /// `credential(userName:password:source:...)`), or when the file cannot be read or the
    /// password is empty. The password is hashed at once and kept only when `allowBasic` is
    /// set or Kerberos gets its tickets from it. With `kerberos` naming a keytab or a ticket
    /// cache (or `--auth kerberos` and no password) no password is needed at all.
    public static func credential(
        userName: String, passwordFile: String?, environment: String = "NTLMPROXY_PASSWORD",
        name: String = "default", workstation: String = "", allowBasic: Bool = false,
        kerberos: KerberosFlags = .ntlmOnly,
        lookup: Environment = ConfigurationLoader.processEnvironment
    ) throws(ConfigurationError) -> CredentialConfiguration {
        let (_, user) = NTLMCredentials.splitUserName(userName)
        guard !user.isEmpty else {
            throw ConfigurationError(keyPath: "--user", message: "no user name; expected DOMAIN\\user")
        }
        if let keytab = kerberos.keytab, let problem = ConfigurationFiles.checkReadable(keytab) {
            throw ConfigurationError(keyPath: "--keytab", message: "keytab \(keytab): \(problem)")
        }
        let environmentPassword = lookup(environment).flatMap { $0.isEmpty ? nil : $0 }
        if passwordFile == nil && kerberos.needsNoPassword(passwordAvailable: environmentPassword != nil) {
            return try kerberosOnlyCredential(userName: userName, name: name, allowBasic: allowBasic, kerberos: kerberos)
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
        } else if let environmentPassword {
            password = environmentPassword
            source = .passwordEnvironment(environment)
        } else {
            throw ConfigurationError(message: "no password for \(userName): set \(environment) or use --password-file")
        }
        return credential(userName: userName, password: Password(password), source: source, name: name, workstation: workstation, allowBasic: allowBasic, kerberos: kerberos)
    }

    /// A command-line credential from a password already at hand (typed at a prompt).
    public static func credential(
        userName: String, password: Password, source: SecretSource, name: String = "default", workstation: String = "",
        allowBasic: Bool = false, kerberos: KerberosFlags = .ntlmOnly
    ) -> CredentialConfiguration {
        let principal = kerberos.principal ?? HTTPCredential.kerberosPrincipal(forUserName: userName)
        let ticketSource = kerberos.authentication.kerberosSide(source: kerberos.source, password: password, principal: principal)
        return CredentialConfiguration(
            name: name, userName: userName, workstation: workstation, password: password, source: source,
            allowBasic: allowBasic || kerberos.authentication.mode == .basic, kerberos: ticketSource, authentication: kerberos.authentication)
    }

    /// The principal a Kerberos-only credential acquires for: the one given; for a keytab the
    /// user's (a keytab may hold several); for a ticket cache whoever the cache belongs to.
    static func defaultPrincipal(_ given: String?, userName: String, source: KerberosCredentialSource) -> String? {
        if let given { return given }
        if case .keytab = source { return HTTPCredential.kerberosPrincipal(forUserName: userName) }
        return nil
    }

    static func kerberosOnlyCredential(userName: String, name: String, allowBasic: Bool, kerberos: KerberosFlags) throws(ConfigurationError) -> CredentialConfiguration {
        if allowBasic {
            throw ConfigurationError(keyPath: "--allow-basic", message: "Basic needs a password (it sends it); a keytab or ticket cache has none")
        }
        var authentication = kerberos.authentication
        authentication.mode = .kerberos
        let source = kerberos.source ?? .ticketCache(nil)
        let credential = KerberosCredential(source: source, principal: defaultPrincipal(kerberos.principal, userName: userName, source: source))
        return CredentialConfiguration(name: name, userName: userName, kerberos: credential, authentication: authentication)
    }
}
