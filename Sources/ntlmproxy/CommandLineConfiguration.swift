import ArgumentParser
import NTLM
import NTLMProxyCore

/// Turns command-line flags into configuration values, with the same checks and messages as
/// the YAML loader.
enum CommandLineConfiguration {
    static func listenAddress(_ text: String) throws -> ListenAddress {
        do {
            return try ListenAddress(parsing: text)
        } catch {
            throw ValidationError("--listen \(text): \(error)")
        }
    }

    static func backend(_ text: String) throws -> BackendURL {
        do {
            return try BackendURL(parsing: text)
        } catch {
            throw ValidationError("--backend: \(error)")
        }
    }

    static func users(_ path: String, domain: String) throws -> NTLMUserStore {
        do {
            return try UsersFile.load(path: path, defaultDomain: domain)
        } catch {
            throw ValidationError("\(error)")
        }
    }

    /// The credential from `--password-file`, `NTLMPROXY_PASSWORD`, or a prompt without echo —
    /// or none at all when Kerberos gets its tickets from a keytab or a ticket cache.
    static func credential(userName: String, passwordFile: String?, workstation: String, allowBasic: Bool, kerberos: ConfigurationLoader.KerberosFlags = .ntlmOnly) throws -> CredentialConfiguration {
        do {
            return try ConfigurationLoader.credential(userName: userName, passwordFile: passwordFile, workstation: workstation, allowBasic: allowBasic, kerberos: kerberos)
        } catch {
            if passwordFile != nil || error.keyPath != nil { throw ValidationError("\(error)") }
            let password = try PasswordSource.promptWithoutEcho("Password for \(userName): ")
            return ConfigurationLoader.credential(
                userName: userName, password: password, source: .prompt, workstation: workstation, allowBasic: allowBasic, kerberos: kerberos)
        }
    }

    /// A cntlm.conf as a `ProxyConfiguration`. When the file holds no secret, the password comes
    /// from `passwordFile`, `NTLMPROXY_PASSWORD`, or (if `interactive`) a prompt, as cntlm
    /// asks for it; without `interactive` (check-config) a missing one is only noted.
    static func cntlmConfiguration(path: String, passwordFile: String?, interactive: Bool) throws -> ProxyConfiguration {
        do {
            let cntlm = try CntlmConfiguration.load(path: path)
            var fallback: (Password, SecretSource)? = nil
            if !cntlm.hasSecret {
                let user = cntlm.username?.value ?? "the cntlm user"
                if let passwordFile {
                    fallback = (try PasswordSource.read(file: passwordFile, environment: "NTLMPROXY_PASSWORD", prompt: ""), .passwordFile(passwordFile))
                } else if let value = ConfigurationLoader.processEnvironment("NTLMPROXY_PASSWORD"), !value.isEmpty {
                    fallback = (Password(value), .passwordEnvironment("NTLMPROXY_PASSWORD"))
                } else if interactive {
                    fallback = (try PasswordSource.promptWithoutEcho("Password for \(user): "), .prompt)
                } else {
                    // Validation only: the real password is asked for when it runs.
                    fallback = (Password("-"), .prompt)
                }
            }
            var configuration = try cntlm.makeProxyConfiguration(password: fallback)
            if !cntlm.hasSecret, !interactive, case .prompt? = fallback?.1 {
                configuration.warnings.append(ConfigurationWarning(
                    file: path, keyPath: "Password",
                    message: "no password or hash in the file: it is asked for at start (or set NTLMPROXY_PASSWORD, or use --password-file)"))
            }
            return configuration
        } catch let error as ConfigurationError {
            StandardError.write("\(error)\n")
            throw ExitCode.failure
        }
    }
}
