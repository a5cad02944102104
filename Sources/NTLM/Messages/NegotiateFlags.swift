/// The NegotiateFlags field of every NTLM message (MS-NLMP 2.2.2.5).
///
/// Bit names follow the specification; the letter in each comment is the spec's bit label.
public struct NegotiateFlags: OptionSet, Hashable, Sendable {
    public var rawValue: UInt32
    public init(rawValue: UInt32) { self.rawValue = rawValue }

    /// A: text fields are UTF-16LE.
    public static let unicode = NegotiateFlags(rawValue: 0x0000_0001)
    /// B: text fields are in the OEM code page.
    public static let oem = NegotiateFlags(rawValue: 0x0000_0002)
    /// C: the server's TargetName must be returned in the CHALLENGE_MESSAGE.
    public static let requestTarget = NegotiateFlags(rawValue: 0x0000_0004)
    /// D: session key for message signatures.
    public static let sign = NegotiateFlags(rawValue: 0x0000_0010)
    /// E: session key for message confidentiality.
    public static let seal = NegotiateFlags(rawValue: 0x0000_0020)
    /// F: connectionless (datagram) authentication.
    public static let datagram = NegotiateFlags(rawValue: 0x0000_0040)
    /// G: LAN Manager session key.
    public static let lmKey = NegotiateFlags(rawValue: 0x0000_0080)
    /// H: NTLM v1 session security.
    public static let ntlm = NegotiateFlags(rawValue: 0x0000_0200)
    /// J: anonymous connection (the "j" bit; 0x800).
    public static let anonymous = NegotiateFlags(rawValue: 0x0000_0800)
    /// K: the Negotiate message carries a DomainName.
    public static let oemDomainSupplied = NegotiateFlags(rawValue: 0x0000_1000)
    /// L: the Negotiate message carries a Workstation.
    public static let oemWorkstationSupplied = NegotiateFlags(rawValue: 0x0000_2000)
    /// M: a signature block with dummy contents is always present.
    public static let alwaysSign = NegotiateFlags(rawValue: 0x0000_8000)
    /// N: TargetName is a domain name.
    public static let targetTypeDomain = NegotiateFlags(rawValue: 0x0001_0000)
    /// O: TargetName is a server name.
    public static let targetTypeServer = NegotiateFlags(rawValue: 0x0002_0000)
    /// P: NTLM v2 session security ("NTLM2 session response", extended session security).
    public static let extendedSessionSecurity = NegotiateFlags(rawValue: 0x0008_0000)
    /// Q: identify-level token requested.
    public static let identify = NegotiateFlags(rawValue: 0x0010_0000)
    /// R: request a non-NT session key.
    public static let requestNonNTSessionKey = NegotiateFlags(rawValue: 0x0040_0000)
    /// S: TargetInfo is populated.
    public static let targetInfo = NegotiateFlags(rawValue: 0x0080_0000)
    /// T: the Version field is present.
    public static let version = NegotiateFlags(rawValue: 0x0200_0000)
    /// U: 128-bit session key.
    public static let negotiate128 = NegotiateFlags(rawValue: 0x2000_0000)
    /// V: explicit key exchange (EncryptedRandomSessionKey is used).
    public static let keyExchange = NegotiateFlags(rawValue: 0x4000_0000)
    /// W: 56-bit encryption.
    public static let negotiate56 = NegotiateFlags(rawValue: 0x8000_0000)

    /// What our initiator asks for by default: Unicode, NTLM, extended session security,
    /// target info, 128-bit keys, key exchange, signing and sealing (needed for SPNEGO's
    /// mechListMIC), and the Version field.
    public static let initiatorDefault: NegotiateFlags = [
        .unicode, .oem, .requestTarget, .sign, .seal, .ntlm, .alwaysSign,
        .extendedSessionSecurity, .targetInfo, .version, .negotiate128, .keyExchange, .negotiate56,
    ]

    /// Readable flag names, for logs and `check-config` output.
    public var names: [String] {
        let all: [(NegotiateFlags, String)] = [
            (.unicode, "UNICODE"), (.oem, "OEM"), (.requestTarget, "REQUEST_TARGET"),
            (.sign, "SIGN"), (.seal, "SEAL"), (.datagram, "DATAGRAM"), (.lmKey, "LM_KEY"),
            (.ntlm, "NTLM"), (.anonymous, "ANONYMOUS"), (.oemDomainSupplied, "OEM_DOMAIN_SUPPLIED"),
            (.oemWorkstationSupplied, "OEM_WORKSTATION_SUPPLIED"), (.alwaysSign, "ALWAYS_SIGN"),
            (.targetTypeDomain, "TARGET_TYPE_DOMAIN"), (.targetTypeServer, "TARGET_TYPE_SERVER"),
            (.extendedSessionSecurity, "EXTENDED_SESSIONSECURITY"), (.identify, "IDENTIFY"),
            (.requestNonNTSessionKey, "REQUEST_NON_NT_SESSION_KEY"), (.targetInfo, "TARGET_INFO"),
            (.version, "VERSION"), (.negotiate128, "128"), (.keyExchange, "KEY_EXCH"),
            (.negotiate56, "56"),
        ]
        return all.compactMap { contains($0.0) ? $0.1 : nil }
    }
}

extension NegotiateFlags: CustomStringConvertible {
    public var description: String {
        "0x" + String(rawValue, radix: 16, uppercase: false) + " [" + names.joined(separator: " ") + "]"
    }
}
