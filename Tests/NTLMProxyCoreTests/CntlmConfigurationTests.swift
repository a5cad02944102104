import NTLM
import Testing
@testable import NTLMProxyCore

@Suite("cntlm.conf compatibility")
struct CntlmConfigurationTests {
    /// Debian's sample cntlm.conf with its values filled in (tabs and comments as shipped).
    static let debianSample = """
    #
    # Cntlm Authentication Proxy Configuration
    #
    # NOTE: all values are parsed literally, do NOT escape spaces,
    # do not quote. Use 0600 perms if you use plaintext password.
    #

    Username\ttestuser
    Domain\t\tcorp-uk
    Password\tS3cretPassw0rd
    # NOTE: Use plaintext password only at your own risk
    # Use hashes instead. You can use a "cntlm -M" and "cntlm -H"
    # command sequence to get the right config for your environment.

    Workstation\tLAPTOP01

    # List of parent proxies to use. More proxies can be defined
    # one per line in format <proxy_ip>:<proxy_port>
    #
    Proxy\t\t10.0.0.41:8080
    Proxy\t\tproxy2.corp-uk.example 3128

    # List addresses you do not want to pass to parent proxies
    # * and ? wildcards can be used
    #
    NoProxy\t\tlocalhost, 127.0.0.*, 10.*, 192.168.*
    NoProxy\t\t*.corp-uk.example

    Listen\t\t3128
    Listen\t\t127.0.0.1:3129

    SOCKS5Proxy\t8010
    SOCKS5User\tdave:SocksPa:ss

    Auth\t\tntlmv2
    Flags\t\t0x06820000

    Gateway\tyes
    Allow\t\t127.0.0.1
    Allow\t\t10.0.0.0/8
    Deny\t\t0/0

    ISAScannerSize     1024
    Header\t\tUser-Agent: Mozilla/4.0 (compatible; MSIE 5.5; Windows 98)
    Tunnel\t\t11443:remote.com:443
    Tunnel\t\t127.0.0.1:2222:git.corp-uk.example:22   # trailing comment
    """

    static let secrets = ["S3cretPassw0rd", "SocksPa:ss", "SocksPa", "5B0B63BF9AEF4235497DB1183CF027AD",
                          "5b0b63bf9aef4235497db1183cf027ad", "a4f49c406510bdcab6824ee7c30fd852",
                          "F37975BFC402856C5CFFE10DD10FD1C0", "0c868a403bfd7a93a3001ef22ef02e3f", "Mozilla"]

    static func expectNoSecrets(_ text: String, sourceLocation: SourceLocation = #_sourceLocation) {
        for secret in secrets {
            #expect(!text.contains(secret), "leaked \(secret) in \(text)", sourceLocation: sourceLocation)
        }
    }

    @Test func parsesDebianSample() throws {
        let config = try CntlmConfigurationParser.parse(Self.debianSample, file: "cntlm.conf")
        #expect(config.username == CntlmSetting("testuser", line: 8))
        #expect(config.domain == CntlmSetting("corp-uk", line: 9))
        #expect(config.password?.value == Password("S3cretPassw0rd"))
        #expect(config.password?.line == 10)
        #expect(config.workstation?.value == "LAPTOP01")
        #expect(config.proxies.map(\.value) == [CntlmEndpoint(host: "10.0.0.41", port: 8080),
                                                CntlmEndpoint(host: "proxy2.corp-uk.example", port: 3128)])
        #expect(config.proxies.map(\.line) == [20, 21])
        #expect(config.noProxy.map(\.value) == ["localhost", "127.0.0.*", "10.*", "192.168.*", "*.corp-uk.example"])
        #expect(config.noProxy.last?.line == 27)
        #expect(config.listen.map(\.value) == [CntlmEndpoint(host: nil, port: 3128), CntlmEndpoint(host: "127.0.0.1", port: 3129)])
        #expect(config.socks5Proxies.map(\.value) == [CntlmEndpoint(host: nil, port: 8010)])
        #expect(config.socks5Users.map(\.value) == [CntlmSOCKS5User(username: "dave", password: "SocksPa:ss")])
        #expect(config.auth == CntlmSetting(.ntlmv2, line: 35))
        #expect(config.gateway?.value == true)
        #expect(config.accessRules.map(\.value) == [CntlmAccessRule(allow: true, pattern: "127.0.0.1"),
                                                    CntlmAccessRule(allow: true, pattern: "10.0.0.0/8"),
                                                    CntlmAccessRule(allow: false, pattern: "0/0")])
        #expect(config.accessRules.map(\.line) == [39, 40, 41])
        #expect(config.headers.map(\.value) == [CntlmHeader(name: "User-Agent", value: "Mozilla/4.0 (compatible; MSIE 5.5; Windows 98)")])
        #expect(config.tunnels.map(\.value) == [
            CntlmTunnel(listen: CntlmEndpoint(host: nil, port: 11443), remoteHost: "remote.com", remotePort: 443),
            CntlmTunnel(listen: CntlmEndpoint(host: "127.0.0.1", port: 2222), remoteHost: "git.corp-uk.example", remotePort: 22),
        ])
        #expect(config.warnings.map(\.line) == [36, 43])
        #expect(config.warnings.first?.description == "cntlm.conf:36: Flags: ignored: ntlmproxy negotiates flags itself")
        #expect(config.warnings.last?.description == "cntlm.conf:43: ISAScannerSize: not supported by ntlmproxy; ignored")
        Self.expectNoSecrets(config.description)
        Self.expectNoSecrets(String(reflecting: config))
        for warning in config.warnings { Self.expectNoSecrets(warning.description) }
        #expect(config.description.contains("testuser"))
    }

    @Test func decodesCntlmHashBlock() throws {
        // `cntlm -H -u User -d Domain` for the password "Password".
        let text = """
        Username    User
        Domain      Domain
        PassLM      1AD35398BE6565DDB5C4EF70C0593492
        PassNT      5B0B63BF9AEF4235497DB1183CF027AD
        PassNTLMv2  F37975BFC402856C5CFFE10DD10FD1C0    # Only for user 'User', domain 'Domain'
        """
        let config = try CntlmConfigurationParser.parse(text)
        #expect(config.passNT?.value == NTHash(password: "Password"))
        #expect(config.passNT?.value.revealHex() == "a4f49c406510bdcab6824ee7c30fd852")
        #expect(config.passNT?.line == 4)
        #expect(config.passLM?.value.bytes == CntlmHashes.decode("1AD35398BE6565DDB5C4EF70C0593492"))
        #expect(config.passNTLMv2?.value.bytes == HexCoding.decode("0c868a403bfd7a93a3001ef22ef02e3f"))
        #expect(config.passNTLMv2?.line == 5)
        #expect(config.warnings.isEmpty)
        Self.expectNoSecrets(config.description)
        #expect(!config.description.contains("1AD35398"))
    }

    @Test func keywordsAreCaseInsensitiveAndCRLFIsAccepted() throws {
        let config = try CntlmConfigurationParser.parse("USERNAME bob\r\nauth NTLM2SR\r\nlisten 0.0.0.0:3128\r\ngateway NO\r\n")
        #expect(config.username?.value == "bob")
        #expect(config.auth?.value == .ntlm2sr)
        #expect(config.listen.first?.value == CntlmEndpoint(host: "0.0.0.0", port: 3128))
        #expect(config.gateway?.value == false)
    }

    @Test(arguments: ["NTLMv2", "ntlm2sr", "NT", "ntlm", "Lm"])
    func acceptsEveryAuthMode(_ mode: String) throws {
        #expect(try CntlmConfigurationParser.parse("Auth \(mode)").auth?.value.rawValue.lowercased() == mode.lowercased())
    }

    @Test func unknownKeywordWarnsWithLine() throws {
        let config = try CntlmConfigurationParser.parse("Username u\n\nFrobnicate yes\n", file: "c.conf")
        #expect(config.warnings == [ConfigurationWarning(file: "c.conf", line: 3, keyPath: "Frobnicate", message: "unknown keyword; ignored")])
    }

    @Test func malformedLinesAndRepeatsWarnWithoutValues() throws {
        let config = try CntlmConfigurationParser.parse("Password=S3cretPassw0rd\nPassword S3cretPassw0rd\nPassword SocksPa\nDomain\n")
        #expect(config.warnings.map(\.line) == [1, 3, 4])
        #expect(config.password?.line == 2)
        for warning in config.warnings { Self.expectNoSecrets(warning.description) }
    }

    @Test(arguments: [
        ("Listen 70000", "Listen"), ("Listen host:", "Listen"), ("Listen :80", "Listen"), ("Listen a b c:1", "Listen"),
        ("Tunnel 11443:remote.com", "Tunnel"), ("Tunnel x:1:remote.com:443:5", "Tunnel"), ("Tunnel 11443:remote.com:http", "Tunnel"),
        ("Proxy 10.0.0.41", "Proxy"), ("Proxy 8080", "Proxy"), ("Proxy 10.0.0.41:0", "Proxy"),
        ("Gateway maybe", "Gateway"), ("Auth Kerberos", "Auth"), ("SOCKS5Proxy x:y", "SOCKS5Proxy"),
    ])
    func malformedValuesAreErrorsWithLines(_ line: String, _ keyword: String) {
        let text = "# header\nUsername u\n" + line + "\n"
        do throws(ConfigurationError) {
            _ = try CntlmConfigurationParser.parse(text, file: "cntlm.conf")
            Issue.record("accepted \(line)")
        } catch {
            #expect(error.line == 3)
            #expect(error.keyPath == keyword)
            #expect(error.description.hasPrefix("cntlm.conf:3: \(keyword): "))
        }
    }

    @Test(arguments: [
        "PassNT 5B0B63BF9AEF4235497DB1183CF027", "PassNT S3cretPassw0rd", "PassLM zz", "PassNTLMv2 F37975BFC402856C5CFFE10DD10FD1",
        "SOCKS5User SocksPa", "SOCKS5User :SocksPa:ss", "Header Mozilla", "Header : Mozilla",
    ])
    func secretValueErrorsDoNotLeak(_ line: String) {
        do throws(ConfigurationError) {
            _ = try CntlmConfigurationParser.parse("\n" + line)
            Issue.record("accepted \(line)")
        } catch {
            #expect(error.line == 2)
            Self.expectNoSecrets(error.description)
            let value = line.split(separator: " ", maxSplits: 1).last.map(String.init) ?? ""
            #expect(!error.description.contains(value))
        }
    }
}
