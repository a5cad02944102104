/// What an acceptor announces about itself and what it accepts.
///
/// Safe by default: NTLMv2 only, a bounded timestamp window. Anonymous logons are always
/// refused: a proxy has nothing to grant an anonymous NTLM user.
public struct NTLMAcceptorPolicy: Hashable, Sendable {
    /// How channel bindings (Extended Protection) are enforced.
    public enum ChannelBindingPolicy: Hashable, Sendable {
        /// Not checked (plain HTTP, or a proxy terminating TLS for another host).
        case ignore
        /// Checked when the client sent non-zero bindings; a client that sent none passes.
        case whenSupported(ChannelBindings)
        /// The client must send these exact bindings.
        case required(ChannelBindings)
    }

    public var netbiosDomain: String
    public var netbiosComputer: String
    public var dnsDomain: String
    public var dnsComputer: String
    /// The domain a Type 3 with an empty domain is looked up in; the NetBIOS domain if nil.
    public var defaultDomain: String?
    public var allowNTLMv1: Bool
    public var allowLM: Bool
    /// How far the NTLMv2 blob's timestamp may be from now, in seconds.
    public var timestampWindowSeconds: UInt64
    /// The largest Type 1 or Type 3 accepted, in bytes (real ones are a few hundred).
    public var maximumMessageBytes: Int
    public var channelBindings: ChannelBindingPolicy
    public var version: Version

    public init(
        netbiosDomain: String = "NTLMPROXY", netbiosComputer: String = "NTLMPROXY",
        dnsDomain: String = "", dnsComputer: String = "localhost", defaultDomain: String? = nil,
        allowNTLMv1: Bool = false, allowLM: Bool = false,
        timestampWindowSeconds: UInt64 = 15 * 60, maximumMessageBytes: Int = 64 * 1024, channelBindings: ChannelBindingPolicy = .ignore,
        version: Version = .default
    ) {
        self.netbiosDomain = netbiosDomain
        self.netbiosComputer = netbiosComputer
        self.dnsDomain = dnsDomain
        self.dnsComputer = dnsComputer
        self.defaultDomain = defaultDomain
        self.allowNTLMv1 = allowNTLMv1
        self.allowLM = allowLM
        self.timestampWindowSeconds = timestampWindowSeconds
        self.maximumMessageBytes = maximumMessageBytes
        self.channelBindings = channelBindings
        self.version = version
    }

    public static let `default` = NTLMAcceptorPolicy()
}
