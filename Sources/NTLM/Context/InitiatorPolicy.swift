/// Which NTLM responses an initiator may send, and what it asks for.
///
/// The default is NTLMv2 only, with a MIC and the 40-byte Type 1. NTLMv1 and LM are broken
/// and must be chosen explicitly, for the rare old server that still needs them.
public struct NTLMInitiatorPolicy: Hashable, Sendable {
    /// The family of responses the initiator computes.
    public enum ResponseMode: Hashable, Sendable {
        /// NTLMv2 and LMv2 (MS-NLMP 3.3.2). The default.
        case ntlmv2
        /// NTLMv1 (MS-NLMP 3.3.1), with extended session security (the "NTLM2 session
        /// response") when the server agrees to it; the LM slot carries the client challenge
        /// or a copy of the NT response, never an LM response.
        case ntlmv1
        /// NTLMv1 plus the LM response. Only for servers that demand LM.
        case ntlmv1WithLM
    }

    public var responseMode: ResponseMode
    /// Flags sent in the Type 1.
    public var flags: NegotiateFlags
    /// The Version field; `nil` sends the 32-byte Type 1 (some very old acceptors need it).
    public var version: Version?
    /// Add MsvAvFlags.micPresent and a MIC when the server sent a timestamp (NTLMv2).
    public var sendMIC: Bool

    public init(responseMode: ResponseMode = .ntlmv2, flags: NegotiateFlags = .initiatorDefault, version: Version? = .default, sendMIC: Bool = true) {
        self.responseMode = responseMode
        self.flags = flags
        self.version = version
        self.sendMIC = sendMIC
    }

    public static let `default` = NTLMInitiatorPolicy()
}
