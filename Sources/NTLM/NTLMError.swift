/// Why a piece of NTLM wire data could not be parsed or used.
///
/// Every parser in this module throws `NTLMError` for malformed input and never traps.
/// The cases name the field and, where it helps, the byte offset at which the problem was
/// found, so a log line can say exactly what a peer sent wrong. No case ever carries key
/// material, hashes or responses.
public enum NTLMError: Error, Hashable, Sendable {
    /// The input ended before `field` (starting at `offset`) could be read in full.
    case truncated(field: String, offset: Int)
    /// The message does not start with `NTLMSSP\0`.
    case badSignature
    /// The MessageType field holds `actual` where `expected` was required.
    case wrongMessageType(expected: UInt32, actual: UInt32)
    /// A (Len, MaxLen, BufferOffset) field points outside the message or overflows.
    case payloadOutOfBounds(field: String, offset: Int, length: Int)
    /// A payload field that must have a fixed size or a minimum size has another.
    case invalidFieldLength(field: String, length: Int)
    /// The AV pair list ended without `MsvAvEOL`.
    case avPairsNotTerminated
    /// An AV pair's header or value runs past the end of the list (pair starts at `offset`).
    case avPairTruncated(offset: Int)
    /// An AV pair whose value must have a fixed size (Timestamp, Flags, ...) has another.
    case avPairInvalidLength(id: UInt16, length: Int)
    /// A text field is not valid UTF-16LE (odd length or unpaired surrogate) or OEM text.
    case invalidString(field: String)
    /// The input is not valid base64.
    case invalidBase64
    /// The input is larger than the configured limit.
    case tooLarge(field: String, length: Int, limit: Int)
    /// A SPNEGO token could not be decoded or did not carry NTLM.
    case spnego(SPNEGOError)
    /// A cryptographic primitive was given a key or block of the wrong size.
    case cryptoInput(CryptoInputError)
    /// A call was made in a state where it is not allowed (for example a second Type 3).
    case invalidState(String)
}

extension NTLMError: CustomStringConvertible {
    public var description: String {
        switch self {
        case .truncated(let field, let offset):
            return "NTLM message truncated: \(field) at offset \(offset) runs past the end"
        case .badSignature:
            return "not an NTLM message (signature is not NTLMSSP\\0)"
        case .wrongMessageType(let expected, let actual):
            return "NTLM message type \(actual) where type \(expected) was expected"
        case .payloadOutOfBounds(let field, let offset, let length):
            return "NTLM field \(field) (offset \(offset), length \(length)) lies outside the message"
        case .invalidFieldLength(let field, let length):
            return "NTLM field \(field) has invalid length \(length)"
        case .avPairsNotTerminated:
            return "NTLM target info has no MsvAvEOL terminator"
        case .avPairTruncated(let offset):
            return "NTLM AV pair at offset \(offset) runs past the end of the list"
        case .avPairInvalidLength(let id, let length):
            return "NTLM AV pair \(id) has invalid length \(length)"
        case .invalidString(let field):
            return "NTLM field \(field) is not valid text"
        case .invalidBase64:
            return "invalid base64"
        case .tooLarge(let field, let length, let limit):
            return "\(field) is \(length) bytes, over the limit of \(limit)"
        case .spnego(let error):
            return "SPNEGO: \(error)"
        case .cryptoInput(let error):
            return "crypto input: \(error)"
        case .invalidState(let what):
            return "invalid state: \(what)"
        }
    }
}
