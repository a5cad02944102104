/// The security context left after a successful handshake: message signatures and sealing
/// (MS-NLMP 3.4). HTTP itself does not sign messages, but SPNEGO's mechListMIC is an NTLM
/// signature, and library users may want integrity or confidentiality.
///
/// With extended session security each direction has its own signing key, sealing key, RC4
/// stream and sequence number. Without it (NTLMv1), one RC4 stream and one sequence number
/// serve both directions, as MS-NLMP 3.4.4.1 and Windows do.
public struct NTLMSession: Sendable {
    /// Which side of the handshake this session belongs to; it chooses the key direction.
    public enum Role: Sendable { case initiator, acceptor }

    public let role: Role
    public let flags: NegotiateFlags
    /// The ExportedSessionKey (MS-NLMP 3.1.5.1.2).
    public let exportedSessionKey: SessionKey

    private let signingKeyOut: [UInt8]
    private let signingKeyIn: [UInt8]
    private let sealingKeyOut: [UInt8]
    private let sealingKeyIn: [UInt8]
    private var handleOut: RC4
    private var handleIn: RC4
    private var sequenceOut: UInt32 = 0
    private var sequenceIn: UInt32 = 0

    private var extended: Bool { flags.contains(.extendedSessionSecurity) }

    static let clientSigningMagic = Array("session key to client-to-server signing key magic constant\0".utf8)
    static let serverSigningMagic = Array("session key to server-to-client signing key magic constant\0".utf8)
    static let clientSealingMagic = Array("session key to client-to-server sealing key magic constant\0".utf8)
    static let serverSealingMagic = Array("session key to server-to-client sealing key magic constant\0".utf8)

    public init(role: Role, flags: NegotiateFlags, exportedSessionKey: SessionKey) {
        self.role = role
        self.flags = flags
        self.exportedSessionKey = exportedSessionKey
        let key = exportedSessionKey.bytes
        let clientSign = Self.signingKey(flags: flags, key: key, magic: Self.clientSigningMagic)
        let serverSign = Self.signingKey(flags: flags, key: key, magic: Self.serverSigningMagic)
        let clientSeal = Self.sealingKey(flags: flags, key: key, magic: Self.clientSealingMagic)
        let serverSeal = Self.sealingKey(flags: flags, key: key, magic: Self.serverSealingMagic)
        switch role {
        case .initiator:
            (signingKeyOut, signingKeyIn, sealingKeyOut, sealingKeyIn) = (clientSign, serverSign, clientSeal, serverSeal)
        case .acceptor:
            (signingKeyOut, signingKeyIn, sealingKeyOut, sealingKeyIn) = (serverSign, clientSign, serverSeal, clientSeal)
        }
        handleOut = RC4(key: sealingKeyOut)
        handleIn = RC4(key: sealingKeyIn)
    }

    /// SIGNKEY (MS-NLMP 3.4.5.2): only defined with extended session security.
    static func signingKey(flags: NegotiateFlags, key: [UInt8], magic: [UInt8]) -> [UInt8] {
        guard flags.contains(.extendedSessionSecurity) else { return [] }
        return NTLMCrypto.md5(key, magic)
    }

    /// SEALKEY (MS-NLMP 3.4.5.3), including the 40- and 56-bit weakenings.
    static func sealingKey(flags: NegotiateFlags, key: [UInt8], magic: [UInt8]) -> [UInt8] {
        if flags.contains(.extendedSessionSecurity) {
            let truncated: [UInt8]
            if flags.contains(.negotiate128) {
                truncated = key
            } else if flags.contains(.negotiate56) {
                truncated = Array(key.prefix(7))
            } else {
                truncated = Array(key.prefix(5))
            }
            return NTLMCrypto.md5(truncated, magic)
        }
        if flags.contains(.lmKey) || flags.contains(.datagram) {
            if flags.contains(.negotiate56) { return Array(key.prefix(7)) + [0xA0] }
            return Array(key.prefix(5)) + [0xE5, 0x38, 0xB0]
        }
        return key
    }

    /// The 16-byte NTLMSSP_MESSAGE_SIGNATURE of `message` for the outgoing direction.
    public mutating func sign(_ message: [UInt8]) -> [UInt8] {
        if extended {
            defer { sequenceOut &+= 1 }
            return Self.extendedSignature(key: signingKeyOut, handle: &handleOut, keyExchange: flags.contains(.keyExchange), sequence: sequenceOut, message: message)
        }
        // NTLMv1 without ESS: one RC4 stream and counter for both directions.
        defer { sequenceOut &+= 1; sequenceIn = sequenceOut }
        return Self.basicSignature(handle: &handleOut, sequence: sequenceOut, message: message)
    }

    /// Checks a signature made by the peer over `message`. Throws if it does not match.
    public mutating func verify(signature: [UInt8], for message: [UInt8]) throws(NTLMError) {
        let expected: [UInt8]
        if extended {
            defer { sequenceIn &+= 1 }
            expected = Self.extendedSignature(key: signingKeyIn, handle: &handleIn, keyExchange: flags.contains(.keyExchange), sequence: sequenceIn, message: message)
        } else {
            defer { sequenceIn &+= 1; sequenceOut = sequenceIn }
            expected = Self.basicSignature(handle: &handleOut, sequence: sequenceIn, message: message)
        }
        // MS-NLMP 3.4.4.1 zeroes RandomPad in what it sends, but its own example (4.2.2.4)
        // keeps RC4(RandomPad) there; the pad proves nothing, so it is not compared.
        let compared = extended ? expected : Self.withoutRandomPad(expected)
        let received = extended ? signature : Self.withoutRandomPad(signature)
        guard constantTimeEqual(compared, received) else { throw .invalidState("message signature does not match") }
    }

    /// Encrypts `message` for the peer and signs it (MS-NLMP 3.4.3): the RC4 stream first
    /// encrypts the message, then the checksum.
    public mutating func seal(_ message: [UInt8]) -> (sealed: [UInt8], signature: [UInt8]) {
        let sealed = handleOut.process(message)
        return (sealed, sign(message))
    }

    /// Decrypts a sealed message from the peer and verifies its signature.
    public mutating func unseal(_ sealed: [UInt8], signature: [UInt8]) throws(NTLMError) -> [UInt8] {
        let message = extended ? handleIn.process(sealed) : handleOut.process(sealed)
        try verify(signature: signature, for: message)
        return message
    }

    /// Restarts both RC4 streams from their keys. SPNEGO requires this right after the
    /// mechListMIC has been produced or checked (MS-SPNG 3.3.5.1), so that the first real
    /// message starts from a fresh key state.
    public mutating func resetRC4State() {
        handleOut = RC4(key: sealingKeyOut)
        handleIn = RC4(key: sealingKeyIn)
    }

    static func withoutRandomPad(_ signature: [UInt8]) -> [UInt8] {
        guard signature.count == 16 else { return signature }
        return Array(signature[0..<4]) + Array(signature[8..<16])
    }

    /// MS-NLMP 3.4.4.2: Version 1, HMAC_MD5(SigningKey, SeqNum || Message)[0..8] (RC4'd with
    /// key exchange), SeqNum.
    static func extendedSignature(key: [UInt8], handle: inout RC4, keyExchange: Bool, sequence: UInt32, message: [UInt8]) -> [UInt8] {
        var sequenceBytes = WireWriter(capacity: 4)
        sequenceBytes.append(sequence)
        var checksum = Array(NTLMCrypto.hmacMD5(key: key, sequenceBytes.bytes, message).prefix(8))
        if keyExchange { checksum = handle.process(checksum) }
        var writer = WireWriter(capacity: 16)
        writer.append(UInt32(1))
        writer.append(contentsOf: checksum)
        writer.append(sequence)
        return writer.bytes
    }

    /// MS-NLMP 3.4.4.1: Version 1, then RandomPad, CRC32 and SeqNum, each RC4'd in turn,
    /// the sequence number XORed in (connection-oriented).
    static func basicSignature(handle: inout RC4, sequence: UInt32, message: [UInt8]) -> [UInt8] {
        var body = WireWriter(capacity: 12)
        body.append(UInt32(0))
        body.append(CRC32.checksum(message))
        body.append(UInt32(0))
        var encrypted = handle.process(body.bytes)
        // SeqNum = RC4(0) XOR sequence.
        encrypted[8] ^= UInt8(truncatingIfNeeded: sequence)
        encrypted[9] ^= UInt8(truncatingIfNeeded: sequence >> 8)
        encrypted[10] ^= UInt8(truncatingIfNeeded: sequence >> 16)
        encrypted[11] ^= UInt8(truncatingIfNeeded: sequence >> 24)
        // Windows puts zero in the RandomPad field of the output.
        encrypted[0] = 0; encrypted[1] = 0; encrypted[2] = 0; encrypted[3] = 0
        var writer = WireWriter(capacity: 16)
        writer.append(UInt32(1))
        writer.append(contentsOf: encrypted)
        return writer.bytes
    }
}

/// Compares two byte strings in time that depends only on their lengths.
func constantTimeEqual(_ lhs: [UInt8], _ rhs: [UInt8]) -> Bool {
    guard lhs.count == rhs.count else { return false }
    var difference: UInt8 = 0
    for index in 0..<lhs.count { difference |= lhs[index] ^ rhs[index] }
    return difference == 0
}
