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

    /// The credential from `--password-file`, `NTLMPROXY_PASSWORD`, or a prompt without echo.
    static func credential(userName: String, passwordFile: String?, workstation: String, allowBasic: Bool) throws -> CredentialConfiguration {
        do {
            return try ConfigurationLoader.credential(userName: userName, passwordFile: passwordFile, workstation: workstation, allowBasic: allowBasic)
        } catch {
            if passwordFile != nil { throw ValidationError("\(error)") }
            let password = try PasswordSource.promptWithoutEcho("Password for \(userName): ")
            return CredentialConfiguration(name: "default", userName: userName, workstation: workstation, password: password, source: .prompt, allowBasic: allowBasic)
        }
    }
}
