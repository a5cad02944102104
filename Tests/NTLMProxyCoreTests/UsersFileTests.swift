import NTLM
import Testing
@testable import NTLMProxyCore

@Suite("Users file")
struct UsersFileTests {
    let hash = ConfigurationFixtures.passwordHash

    func parse(_ text: String, defaultDomain: String = "NTLMPROXY") throws(ConfigurationError) -> NTLMUserStore {
        try UsersFile.parse(text, fileName: "users.txt", defaultDomain: defaultDomain)
    }

    func error(_ text: String, sourceLocation: SourceLocation = #_sourceLocation) -> ConfigurationError? {
        do {
            _ = try parse(text)
            Issue.record("expected an error", sourceLocation: sourceLocation)
            return nil
        } catch {
            return error
        }
    }

    @Test func hashFormatWithCommentsAndBlankLines() throws {
        let store = try parse("# users\n\nCORP\\alice:\(hash)\n   \n  # indented comment\nbob:\(hash.uppercased())\r\n\\carol:\(hash)\n")
        #expect(store.count == 3)
        let alice = try #require(store.entry(user: "alice", domain: "CORP"))
        #expect(alice.ntHash == (try NTHash(hex: hash)))
        #expect(store.entry(user: "ALICE", domain: "corp") != nil)
        #expect(store.entry(user: "bob", domain: "NTLMPROXY") != nil)
        #expect(store.entry(user: "carol", domain: "NTLMPROXY") != nil)
    }

    @Test func gssNTLMSSPFormatHashesThePassword() throws {
        let store = try parse("CORP:alice:\(ConfigurationFixtures.secret)\n:bob:pass:with:colons\nCORP:carol: spaced \n", defaultDomain: "HOME")
        #expect(store.count == 3)
        #expect(store.entry(user: "alice", domain: "CORP")?.ntHash == NTHash(password: Password(ConfigurationFixtures.secret)))
        #expect(store.entry(user: "bob", domain: "HOME")?.ntHash == NTHash(password: "pass:with:colons"))
        #expect(store.entry(user: "carol", domain: "CORP")?.ntHash == NTHash(password: " spaced "))
        #expect(try parse("D:u:Password\n").entry(user: "u", domain: "D")?.ntHash == (try NTHash(hex: hash)))
    }

    @Test func bothFormatsInOneFile() throws {
        let store = try parse("CORP\\alice:\(hash)\nCORP:bob:secret\n")
        #expect(store.count == 2)
        #expect(store.entry(user: "bob", domain: "CORP")?.ntHash == NTHash(password: "secret"))
    }

    @Test func errorsNameTheLineButNotTheSecret() throws {
        let cases: [(String, Int, String)] = [
            ("# ok\nno colon here\n", 2, "expected DOMAIN\\user:NTHASH, user:NTHASH or DOMAIN:user:password"),
            ("CORP\\alice:\(hash)\n\nCORP\\bob:\(ConfigurationFixtures.secret)\n", 3, "the NT hash for CORP\\bob is not 32 hex digits (value redacted)"),
            ("alice:\(hash)x\n", 1, "the NT hash for NTLMPROXY\\alice is not 32 hex digits"),
            ("CORP\\:\(hash)\n", 1, "expected DOMAIN\\user before the colon"),
            ("CORP::\(ConfigurationFixtures.secret)\n", 1, "empty user name"),
            ("CORP:alice:\n", 1, "empty password for CORP\\alice"),
            ("CORP\\alice:\(hash)\n# x\ncorp\\ALICE:\(hash)\n", 3, "duplicate entry for corp\\ALICE (first on line 1)"),
            ("CORP:alice:\(ConfigurationFixtures.secret)\nCORP\\alice:\(hash)\n", 2, "duplicate entry"),
        ]
        for (text, line, message) in cases {
            let error = try #require(self.error(text))
            #expect(error.file == "users.txt")
            #expect(error.line == line, "\(error)")
            #expect(error.keyPath == nil)
            #expect(error.message.contains(message), "\(error)")
            #expect(!error.description.contains(ConfigurationFixtures.secret))
            #expect(!error.description.lowercased().contains(hash))
        }
    }

    @Test func loadReportsAMissingFile() {
        #expect(throws: ConfigurationError.self) {
            try UsersFile.load(path: "/nonexistent/users", defaultDomain: "X")
        }
    }
}
