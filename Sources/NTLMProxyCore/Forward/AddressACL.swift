/// Which client addresses may use the proxy: ordered `Allow`/`Deny` rules as in cntlm.
///
/// Rules are checked in the order they were added and the first rule whose block contains the
/// client address decides. When no rule matches, only loopback clients are allowed
/// (127.0.0.0/8, `::1`, and `::ffff:127.x.x.x`), so a proxy with no ACL, or with only
/// `Allow` rules, never becomes an open proxy for the network. To allow everyone, add
/// `Allow 0/0` explicitly; to refuse loopback too, end with `Deny 0/0`.
public struct AddressACL: Sendable, Hashable {
    public enum Action: Sendable, Hashable {
        case allow, deny
    }

    public struct Rule: Sendable, Hashable {
        public var action: Action
        public var block: CIDRBlock

        public init(_ action: Action, _ block: CIDRBlock) {
            self.action = action
            self.block = block
        }
    }

    /// The blocks allowed when no rule matches.
    public static let defaultAllowed: [CIDRBlock] = [.ipv4Loopback, .ipv6Loopback]

    public private(set) var rules: [Rule]

    public init(rules: [Rule] = []) {
        self.rules = rules
    }

    /// Appends a rule parsed from cntlm syntax: a CIDR block or single address, or `0/0`
    /// (also `*`) for every address of both families (added as two rules, IPv4 then IPv6).
    public mutating func append(_ action: Action, _ spec: String) throws(AddressRuleError) {
        let text = spec.trimmingASCIIWhitespace()
        if text == "0/0" || text == "*" {
            rules.append(Rule(action, .anyIPv4))
            rules.append(Rule(action, .anyIPv6))
            return
        }
        rules.append(Rule(action, try CIDRBlock(parsing: text)))
    }

    /// The action of the first matching rule, or `nil` when no rule matches.
    public func decision(for address: IPAddress) -> Action? {
        rules.first { $0.block.contains(address) }?.action
    }

    /// Whether a client at `address` may use the proxy (see the type's documentation).
    public func permits(_ address: IPAddress) -> Bool {
        if let action = decision(for: address) { return action == .allow }
        return Self.defaultAllowed.contains { $0.contains(address) }
    }
}
