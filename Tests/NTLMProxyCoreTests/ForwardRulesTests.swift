import Testing
@testable import NTLMProxyCore

@Suite("Forward rules: addresses, ACL, NoProxy, host routing")
struct ForwardRulesTests {
    // MARK: IP addresses

    static let validAddresses: [(String, IPAddress)] = [
        ("127.0.0.1", .v4(0x7F00_0001)),
        ("0.0.0.0", .v4(0)),
        ("255.255.255.255", .v4(0xFFFF_FFFF)),
        ("10.20.30.40", .v4(0x0A14_1E28)),
        ("::", .v6(0, 0)),
        ("::1", .v6(0, 1)),
        ("[::1]", .v6(0, 1)),
        ("fd00::", .v6(0xFD00_0000_0000_0000, 0)),
        ("FE80::1%eth0", .v6(0xFE80_0000_0000_0000, 1)),
        ("2001:db8:0:0:1:0:0:1", .v6(0x2001_0DB8_0000_0000, 0x0001_0000_0000_0001)),
        ("2001:db8::1:0:0:1", .v6(0x2001_0DB8_0000_0000, 0x0001_0000_0000_0001)),
        ("1:2:3:4:5:6:7::", .v6(0x0001_0002_0003_0004, 0x0005_0006_0007_0000)),
        ("::ffff:10.1.2.3", .v6(0, 0x0000_FFFF_0A01_0203)),
        ("64:ff9b::192.0.2.33", .v6(0x0064_FF9B_0000_0000, 0x0000_0000_C000_0221)),
        ("1:2:3:4:5:6:1.2.3.4", .v6(0x0001_0002_0003_0004, 0x0005_0006_0102_0304)),
    ]

    @Test(arguments: validAddresses)
    func parsesAddress(text: String, expected: IPAddress) throws {
        #expect(try IPAddress.parse(text) == expected)
        #expect(IPAddress(parsing: text) == expected)
    }

    static let malformedAddresses: [(String, AddressRuleError)] = [
        ("300.1.1.1", .ipv4OctetOutOfRange("300.1.1.1")),
        ("1.2.3.256", .ipv4OctetOutOfRange("1.2.3.256")),
        ("1.2.3", .invalidIPv4("1.2.3")),
        ("1.2.3.4.5", .invalidIPv4("1.2.3.4.5")),
        ("01.2.3.4", .invalidIPv4("01.2.3.4")),
        ("1..3.4", .invalidIPv4("1..3.4")),
        ("1.2.3.-4", .invalidIPv4("1.2.3.-4")),
        ("a.b.c.d", .invalidIPv4("a.b.c.d")),
        ("::1::", .invalidIPv6("::1::")),
        (":::", .invalidIPv6(":::")),
        ("1:2:3:4:5:6:7:8:9", .invalidIPv6("1:2:3:4:5:6:7:8:9")),
        ("1:2:3:4:5:6:7", .invalidIPv6("1:2:3:4:5:6:7")),
        ("1:2:3:4:5:6:7::8", .invalidIPv6("1:2:3:4:5:6:7::8")),
        ("12345::", .invalidIPv6("12345::")),
        ("g::1", .invalidIPv6("g::1")),
        (":1::", .invalidIPv6(":1::")),
        ("::1.2.3.4:5", .invalidIPv6("::1.2.3.4:5")),
        ("::ffff:300.1.2.3", .invalidIPv6("::ffff:300.1.2.3")),
        ("fe80::1%", .emptyZone("fe80::1%")),
        ("[::1", .invalidIPv6("[::1")),
        ("[1.2.3.4]", .invalidIPv6("[1.2.3.4]")),
        ("", .emptyEntry),
        ("   ", .emptyEntry),
    ]

    @Test(arguments: malformedAddresses)
    func rejectsMalformedAddress(text: String, error: AddressRuleError) {
        #expect(throws: error) { try IPAddress.parse(text) }
        #expect(IPAddress(parsing: text) == nil)
    }

    @Test(arguments: [
        ("10.1.2.3", "10.1.2.3"), ("::1", "::1"), ("::", "::"), ("fd00::", "fd00::"),
        ("2001:db8:0:0:1:0:0:1", "2001:db8::1:0:0:1"), ("::ffff:10.1.2.3", "::ffff:10.1.2.3"),
        ("1:0:2:3:4:5:6:7", "1:0:2:3:4:5:6:7"),
    ])
    func formatsAddress(text: String, expected: String) throws {
        #expect(try IPAddress.parse(text).description == expected)
    }

    // MARK: CIDR blocks

    static let blockMembership: [(String, String, Bool)] = [
        ("10.0.0.0/8", "10.255.1.2", true),
        ("10.0.0.0/8", "11.0.0.1", false),
        ("10.1.2.3/8", "10.9.9.9", true),               // host bits are cleared
        ("127.0.0.1", "127.0.0.1", true),
        ("127.0.0.1", "127.0.0.2", false),
        ("0.0.0.0/0", "203.0.113.9", true),
        ("192.168.1.0/24", "192.168.2.1", false),
        ("192.168.1.128/25", "192.168.1.200", true),
        ("192.168.1.128/25", "192.168.1.100", false),
        ("::1", "::1", true),
        ("::1", "::2", false),
        ("fd00::/8", "fd12:3456::1", true),
        ("fd00::/8", "fe80::1", false),
        ("[fd00::]/8", "fdff::", true),
        ("2001:db8::/64", "2001:db8::ffff:1", true),
        ("2001:db8::/65", "2001:db8:0:0:8000::1", false),
        ("::/0", "2001:db8::1", true),
        ("::/0", "10.0.0.1", false),                    // families do not mix
        ("10.0.0.0/8", "fd00::1", false),
        // IPv4-mapped IPv6 addresses match the equivalent IPv4 block, both ways.
        ("10.0.0.0/8", "::ffff:10.1.2.3", true),
        ("10.0.0.0/8", "::ffff:11.1.2.3", false),
        ("::ffff:10.1.2.3/128", "10.1.2.3", true),
        ("::ffff:10.1.2.3/128", "::ffff:10.1.2.3", true),
        ("::ffff:10.0.0.0/104", "10.200.0.1", true),
        ("::ffff:10.0.0.0/104", "11.0.0.1", false),
    ]

    @Test(arguments: blockMembership)
    func blockContains(block: String, address: String, expected: Bool) throws {
        let cidr = try CIDRBlock(parsing: block)
        let ip = try IPAddress.parse(address)
        #expect(cidr.contains(ip) == expected)
    }

    @Test func blockNormalization() throws {
        #expect(try CIDRBlock(parsing: "127.0.0.1").prefixLength == 32)
        #expect(try CIDRBlock(parsing: "::1").prefixLength == 128)
        #expect(try CIDRBlock(parsing: "10.1.2.3/8").description == "10.0.0.0/8")
        #expect(try CIDRBlock(parsing: "::ffff:10.1.2.3/128") == CIDRBlock(parsing: "10.1.2.3"))
        #expect(try CIDRBlock(parsing: " fd00::/8 ").description == "fd00::/8")
        #expect(try CIDRBlock(address: .v4(0x0A00_0001), prefixLength: 16).description == "10.0.0.0/16")
        #expect(throws: AddressRuleError.prefixLengthOutOfRange("10.0.0.1/40", maximum: 32)) {
            try CIDRBlock(address: .v4(0x0A00_0001), prefixLength: 40)
        }
    }

    static let malformedBlocks: [(String, AddressRuleError)] = [
        ("10.0.0.0/33", .prefixLengthOutOfRange("10.0.0.0/33", maximum: 32)),
        ("fd00::/129", .prefixLengthOutOfRange("fd00::/129", maximum: 128)),
        ("10.0.0.0/", .invalidPrefixLength("10.0.0.0/")),
        ("10.0.0.0/-1", .invalidPrefixLength("10.0.0.0/-1")),
        ("10.0.0.0/8a", .invalidPrefixLength("10.0.0.0/8a")),
        ("10.0.0.0/1000", .invalidPrefixLength("10.0.0.0/1000")),
        ("300.0.0.0/8", .ipv4OctetOutOfRange("300.0.0.0")),
        ("1.2.3/24", .invalidIPv4("1.2.3")),
        ("::1::/64", .invalidIPv6("::1::")),
        ("fe80::1%/64", .emptyZone("fe80::1%")),
        ("/8", .emptyEntry),
        ("", .emptyEntry),
    ]

    @Test(arguments: malformedBlocks)
    func rejectsMalformedBlock(text: String, error: AddressRuleError) {
        #expect(throws: error) { try CIDRBlock(parsing: text) }
    }

    // MARK: ACL

    @Test(arguments: [
        ("127.0.0.1", true), ("127.8.9.10", true), ("::1", true), ("::ffff:127.0.0.1", true),
        ("10.0.0.1", false), ("::2", false), ("fd00::1", false),
    ])
    func emptyACLAllowsOnlyLoopback(address: String, expected: Bool) throws {
        #expect(AddressACL().permits(try IPAddress.parse(address)) == expected)
    }

    @Test func firstMatchWins() throws {
        var acl = AddressACL()
        try acl.append(.deny, "10.1.0.0/16")
        try acl.append(.allow, "10.0.0.0/8")
        try acl.append(.deny, "0/0")
        let cases: [(String, Bool)] = [
            ("10.1.2.3", false),          // the earlier, narrower deny wins
            ("10.2.3.4", true),
            ("::ffff:10.2.3.4", true),    // mapped client matches the IPv4 rule
            ("::ffff:10.1.2.3", false),
            ("192.168.0.1", false),
            ("127.0.0.1", false),         // Deny 0/0 overrides the loopback default
            ("::1", false),
        ]
        for (address, expected) in cases {
            #expect(acl.permits(try IPAddress.parse(address)) == expected, "\(address)")
        }
        #expect(acl.rules.count == 4)

        var reversed = AddressACL()
        try reversed.append(.allow, "10.0.0.0/8")
        try reversed.append(.deny, "10.1.0.0/16")
        #expect(reversed.permits(try IPAddress.parse("10.1.2.3")))   // the allow comes first
        #expect(reversed.permits(try IPAddress.parse("::1")))        // no match: loopback default
        #expect(!reversed.permits(try IPAddress.parse("172.16.0.1")))
        #expect(reversed.decision(for: try IPAddress.parse("172.16.0.1")) == nil)
    }

    @Test func allowEverythingAndErrors() throws {
        var acl = AddressACL()
        try acl.append(.allow, "*")
        #expect(acl.permits(try IPAddress.parse("203.0.113.1")))
        #expect(acl.permits(try IPAddress.parse("2001:db8::1")))
        #expect(throws: AddressRuleError.prefixLengthOutOfRange("10.0.0.0/33", maximum: 32)) {
            try acl.append(.deny, "10.0.0.0/33")
        }
        #expect(throws: AddressRuleError.emptyEntry) { try acl.append(.deny, " ") }
        #expect(acl.rules.count == 2)
    }

    // MARK: NoProxy

    static let noProxyList =
        "intranet.corp, *.corp.example .svc.example.,localhost 10.0.0.0/8 192.168.1.5 [fd00::]/8 "
        + "build.corp:8080 [::1]:9000 10.* Web-*.Lab"

    static let noProxyCases: [(String, Int, Bool)] = [
        ("intranet.corp", 80, true),
        ("INTRANET.Corp.", 443, true),            // case and trailing dot ignored
        ("www.intranet.corp", 80, false),         // exact name only
        ("a.corp.example", 80, true),
        ("a.b.corp.example", 80, true),
        ("corp.example", 80, false),              // *.x is subdomains only
        ("svc.example", 80, true),                // .x includes the domain itself
        ("api.svc.example", 80, true),
        ("xsvc.example", 80, false),
        ("localhost", 3128, true),
        ("LOCALHOST.", 80, true),
        ("127.0.0.5", 80, true),                  // localhost entry covers loopback literals
        ("[::1]", 80, true),
        ("10.9.8.7", 80, true),
        ("::ffff:10.9.8.7", 80, true),
        ("192.168.1.5", 80, true),
        ("192.168.1.6", 80, false),
        ("[fd00::1]", 443, true),
        ("fd00::1", 443, true),
        ("build.corp", 8080, true),
        ("build.corp", 80, false),                // port-specific entry
        ("web-1.lab", 80, true),
        ("web.lab", 80, false),
        ("example.com", 80, false),
        ("11.0.0.1", 80, false),
    ]

    @Test(arguments: noProxyCases)
    func noProxyMatches(host: String, port: Int, expected: Bool) throws {
        let rules = try NoProxyRules(parsing: Self.noProxyList)
        #expect(rules.matches(host: host, port: port) == expected)
    }

    @Test func noProxyPortAndNameRules() throws {
        let rules = try NoProxyRules(parsing: "[2001:db8::1]:9000,*:8443,10.0.0.0/8")
        #expect(rules.matches(host: "[2001:db8::1]", port: 9000))
        #expect(!rules.matches(host: "[2001:db8::1]", port: 9001))
        #expect(rules.matches(host: "anything.example", port: 8443))
        #expect(!rules.matches(host: "anything.example", port: 443))
        // Names are never resolved: an IP rule does not match a name.
        #expect(!rules.matches(host: "ten.example", port: 80))
        #expect(try NoProxyRules(parsing: "*").matches(host: "x.y", port: 1))
        #expect(try NoProxyRules(parsing: "  ").patterns.isEmpty)
        #expect(!NoProxyRules.none.matches(host: "localhost", port: 80))
        #expect(try NoProxyRules(parsing: "a.b, c.d\te.f").patterns.map(\.text) == ["a.b", "c.d", "e.f"])
    }

    static let malformedNoProxy: [(String, AddressRuleError)] = [
        ("*.", .invalidHostPattern("*.")),
        (".", .invalidHostPattern(".")),
        ("a,,b", .emptyEntry),
        ("a.corp,", .emptyEntry),
        (",a.corp", .emptyEntry),
        ("a, ,b", .emptyEntry),
        ("a..corp", .invalidHostPattern("a..corp")),
        ("ho$t.corp", .invalidHostPattern("ho$t.corp")),
        ("300.1.1.1", .ipv4OctetOutOfRange("300.1.1.1")),
        ("1.2.3", .invalidIPv4("1.2.3")),
        ("10.0.0.0/33", .prefixLengthOutOfRange("10.0.0.0/33", maximum: 32)),
        ("::1::", .invalidIPv6("::1::")),
        ("fe80::1%", .emptyZone("fe80::1%")),
        ("host:0", .invalidPort("host:0")),
        ("host:65536", .invalidPort("host:65536")),
        ("host:", .invalidPort("host:")),
        ("host:http", .invalidPort("host:http")),
        ("[::1]x", .invalidHostPattern("[::1]x")),
        ("[::1", .invalidIPv6("[::1")),
    ]

    @Test(arguments: malformedNoProxy)
    func rejectsMalformedNoProxy(list: String, error: AddressRuleError) {
        #expect(throws: error) { try NoProxyRules(parsing: list) }
    }

    @Test func patternDescriptions() throws {
        #expect(HostPattern(kind: .subdomains(of: "corp"), port: 8080).text == "*.corp:8080")
        #expect(HostPattern(kind: .block(try CIDRBlock(parsing: "::1")), port: 443).text == "[::1]:443")
        #expect(HostPattern(kind: .block(try CIDRBlock(parsing: "10.0.0.0/8"))).text == "10.0.0.0/8")
        #expect(try HostPattern(parsing: ".Corp.Example.").kind == .domain("corp.example"))
        #expect(try HostPattern(parsing: "192.168.1.5:8080") == HostPattern(
            parsing: "192.168.1.5:8080"))
        #expect(try HostPattern(parsing: "192.168.1.5:8080").port == 8080)
        #expect(AddressRuleError.invalidPort("h:0").description == "invalid port in 'h:0'")
    }

    // MARK: Host routing

    @Test func routerFirstMatchWins() throws {
        let router = HostRouter(rules: [
            try HostRule(pattern: "secure.corp.example:443", target: .parent("dmz")),
            try HostRule(pattern: ".corp.example", target: .direct),
            try HostRule(pattern: "*.corp.example", target: .parent("never")),  // shadowed
            try HostRule(pattern: "10.0.0.0/8", target: .direct),
            try HostRule(pattern: "*", target: .parent("default")),
        ])
        let cases: [(String, Int, HostRule.Target?)] = [
            ("secure.corp.example", 443, .parent("dmz")),
            ("secure.corp.example", 80, .direct),
            ("a.corp.example", 443, .direct),
            ("10.1.1.1", 80, .direct),
            ("::ffff:10.1.1.1", 80, .direct),
            ("github.com", 443, .parent("default")),
        ]
        for (host, port, expected) in cases {
            #expect(router.route(host: host, port: port) == expected, "\(host):\(port)")
        }
        let partial = HostRouter(rules: [try HostRule(pattern: "git.corp", target: .parent("p1"))])
        #expect(partial.route(host: "git.corp", port: 22) == .parent("p1"))
        #expect(partial.route(host: "other", port: 22) == nil)
        #expect(throws: AddressRuleError.invalidHostPattern("*.")) {
            try HostRule(pattern: "*.", target: .direct)
        }
    }
}
