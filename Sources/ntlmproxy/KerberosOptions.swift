import ArgumentParser
import Kerberos
import NTLMProxyCore

/// How a command's credential authenticates upstream: `--auth`, and where Kerberos tickets
/// come from (`--keytab`, `--ticket-cache`, the password), for gateway, forward and probe.
struct KerberosOptions: ParsableArguments {
    @Option(name: .long, help: ArgumentHelp(
        "auto, kerberos, ntlm or basic (default auto: Kerberos when the upstream offers Negotiate and a ticket can be had, else NTLM); with forward --client-auth basic, for the clients' own credentials.",
        valueName: "mode"))
    var auth: String = "auto"

    @Option(name: .long, help: "Get Kerberos tickets from this client keytab (no password needed).")
    var keytab: String?

    @Option(name: .long, help: ArgumentHelp(
        "Use this Kerberos ticket cache ('default' = KRB5CCNAME); --auth kerberos without a password uses the default one.",
        valueName: "cache"))
    var ticketCache: String?

    @Option(name: .long, help: "The Kerberos principal (default: the --user name without its domain, in the default realm).")
    var principal: String?

    @Option(name: .long, help: ArgumentHelp(
        "How the service name HTTP@host is formed: gssapi (the Kerberos library's rules, like curl), exact (as in the URL) or dns (the host's canonical name).",
        valueName: "form"))
    var spn: String = KerberosServiceName.Canonicalization.gssapi.rawValue

    func validate() throws {
        guard CredentialAuthentication.Mode(name: auth) != nil else {
            throw ValidationError("--auth must be one of: \(CredentialAuthentication.Mode.acceptedNames)")
        }
        guard KerberosServiceName.Canonicalization(rawValue: spn.lowercased()) != nil else {
            throw ValidationError("--spn must be one of: \(KerberosServiceName.Canonicalization.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        guard keytab == nil || ticketCache == nil else { throw ValidationError("--keytab and --ticket-cache exclude each other") }
        let mode = CredentialAuthentication.Mode(name: auth)
        if (keytab != nil || ticketCache != nil), mode == .ntlm || mode == .basic {
            throw ValidationError("--keytab/--ticket-cache need --auth auto or kerberos")
        }
    }

    /// The flags as the configuration layer takes them.
    var flags: ConfigurationLoader.KerberosFlags {
        let mode = CredentialAuthentication.Mode(name: auth) ?? .auto
        let canonicalization = KerberosServiceName.Canonicalization(rawValue: spn.lowercased()) ?? .gssapi
        return ConfigurationLoader.KerberosFlags(
            authentication: CredentialAuthentication(mode: mode, spnCanonicalization: canonicalization),
            keytab: keytab, ticketCache: ticketCache, principal: principal)
    }
}
