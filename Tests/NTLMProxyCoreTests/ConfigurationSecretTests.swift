import Testing
@testable import NTLMProxyCore

/// Invariant 6: a secret never appears in an error, a warning or the summary.
@Suite("Configuration secrets stay secret")
struct ConfigurationSecretTests {
    let secret = ConfigurationFixtures.secret

    func expectNoSecret(_ text: String, sourceLocation: SourceLocation = #_sourceLocation) {
        #expect(!text.contains(secret), "leaked: \(text)", sourceLocation: sourceLocation)
        #expect(!text.lowercased().contains(ConfigurationFixtures.passwordHash), "leaked hash: \(text)", sourceLocation: sourceLocation)
    }

    @Test func summaryAndWarningsNeverShowSecrets() throws {
        let scratch = try ConfigurationScratch()
        try scratch.write("users.txt", "CORP:alice:\(secret)\nCORP\\bob:\(ConfigurationFixtures.passwordHash)\n")
        try scratch.write("pw", secret + "\n", permissions: 0o644)
        try scratch.write("hash", ConfigurationFixtures.passwordHash + "\n")
        let configuration = try scratch.load(
            """
            credentials:
              inline: {user: CORP\\a, password: "\(secret)", allow-basic: true}
              env: {user: CORP\\b, password-env: NTLMPROXY_PASSWORD}
              file: {user: CORP\\c, password-file: pw}
              hash: {user: CORP\\d, nt-hash: \(ConfigurationFixtures.passwordHash)}
              hashfile: {user: CORP\\e, nt-hash-file: hash}
            listeners:
              - {name: gw, listen: 3128, mode: gateway, backend: "https://intranet", credential: inline, auth: {allow-basic: true}}
              - {name: sso, listen: "0.0.0.0:8080", mode: acceptor, users-file: users.txt, allow-basic: true}
            """,
            environment: ["NTLMPROXY_PASSWORD": secret])
        let summary = configuration.renderSummary()
        expectNoSecret(summary)
        #expect(summary.contains("env: CORP\\b (password from env NTLMPROXY_PASSWORD)"))
        #expect(summary.contains("inline: CORP\\a (password inline in the configuration file; Basic allowed)"))
        #expect(summary.contains("hashfile: CORP\\e (NT hash from file \(scratch.directory)/hash)"))
        #expect(summary.contains("gw: gateway on 127.0.0.1:3128 (loopback), TLS off"))
        #expect(summary.contains("credential: inline (CORP\\a, password inline in the configuration file)"))
        #expect(summary.contains("sso: acceptor on 0.0.0.0:8080 (reachable from the network), TLS off"))
        #expect(summary.contains("users: 2 from \(scratch.directory)/users.txt, domain NTLMPROXY"))
        #expect(summary.contains("auth: NTLM/Negotiate, Basic on (allow-basic), NTLMv1 off, no 401 padding"))
        for warning in configuration.warnings { expectNoSecret(warning.description) }
        for credential in configuration.credentials {
            expectNoSecret(credential.description)
            expectNoSecret("\(credential.httpCredential)")
            expectNoSecret(String(describing: credential))
            expectNoSecret(String(reflecting: credential.httpCredential.ntlm))
        }
    }

    @Test func errorsNeverShowSecrets() throws {
        let scratch = try ConfigurationScratch()
        try scratch.write("users.txt", "CORP:alice:\(secret)\nCORP:alice:\(secret)\n")
        try scratch.write("bad-users.txt", "CORP\\bob:\(secret)\n")
        try scratch.write("badhash", secret + "\n")
        let documents = [
            // A secret given a wrong type, then where a hash is expected (inline, env, file).
            "credentials:\n  a: {user: CORP\\a, password: [\(secret)]}\nlisteners: []\n",
            "credentials:\n  a: {user: CORP\\a, nt-hash: \(secret)}\nlisteners: []\n",
            "credentials:\n  a: {user: CORP\\a, nt-hash-env: H}\nlisteners: []\n",
            "credentials:\n  a: {user: CORP\\a, nt-hash-file: badhash}\nlisteners: []\n",
            "credentials:\n  a: {user: CORP\\a, password: \(secret), nt-hash: \(secret)}\nlisteners: []\n",
            "credentials:\n  a: {user: CORP\\a, pasword: \(secret)}\nlisteners: []\n",
            // A YAML syntax error on the line holding the password.
            "credentials:\n  a:\n    user: CORP\\a\n    password: '\(secret)\n",
            "credentials:\n  a:\n    user: CORP\\a\n    password: \(secret): x\n",
            // A URL with credentials in it.
            "listeners:\n  - {name: a, listen: 1, mode: acceptor, users-file: users.txt, backend: \"htp://u:\(secret)@h\"}\n",
            "listeners:\n  - {name: a, listen: 1, mode: acceptor, users-file: users.txt, backend: \"http://u:\(secret)@h\"}\n",
            // Users files: a duplicate gss-ntlmssp entry, and a password where a hash belongs.
            "listeners:\n  - {name: a, listen: 1, mode: acceptor, users-file: users.txt}\n",
            "listeners:\n  - {name: a, listen: 1, mode: acceptor, users-file: bad-users.txt}\n",
        ]
        for document in documents {
            let error = try #require(scratch.error(document, environment: ["H": secret]))
            expectNoSecret(error.description)
            expectNoSecret(String(reflecting: error))
        }
    }

    @Test func credentialHelperErrorsNeverShowSecrets() throws {
        let scratch = try ConfigurationScratch()
        let path = try scratch.write("empty", "")
        do {
            _ = try ConfigurationLoader.credential(userName: "CORP\\svc", passwordFile: path, lookup: { _ in self.secret })
            Issue.record("expected an error for an empty password file")
        } catch {
            expectNoSecret(error.description)
            #expect(error.description.contains("is empty"))
        }
    }
}
