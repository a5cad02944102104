import ArgumentParser
import NTLM
import NTLMProxyCore

/// `ntlmproxy hash`: turns a password into the NT hash to put in a config file, and prints
/// the values cntlm's configuration expects (cntlm stores the bitwise complement).
struct HashCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "hash",
        abstract: "Print the NT hash of a password (and cntlm's PassNT/PassNTLMv2 values)."
    )

    @OptionGroup var globals: GlobalOptions

    @Option(name: .long, help: "User as DOMAIN\\user, for the NTLMv2 hash (cntlm's PassNTLMv2).")
    var user: String?

    @Option(name: .long, help: "Read the password from this file (first line) instead of prompting.")
    var passwordFile: String?

    func run() throws {
        LoggingSetup.bootstrap(level: globals.resolvedLogLevel())
        let password = try PasswordSource.read(file: passwordFile, environment: "NTLMPROXY_PASSWORD", prompt: "Password: ")
        let ntHash = NTHash(password: password)
        print("NT hash:            \(ntHash.revealHex())")
        print("cntlm PassNT        \(CntlmHashes.complement(ntHash.bytes))")
        if let user {
            let (domain, name) = NTLMCredentials.splitUserName(user)
            let v2 = CntlmHashes.ntlmv2Hash(ntHash: ntHash, user: name, domain: domain)
            print("cntlm PassNTLMv2    \(CntlmHashes.complement(v2))    # for \(domain)\\\(name)")
        } else {
            print("(add --user DOMAIN\\\\user for cntlm's PassNTLMv2 value)")
        }
    }
}
