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

    /// Keys, RC4 streams and counters, derived on first use: HTTP authentication never signs
    /// or seals, so most handshakes never pay for four MD5s and two RC4 key schedules.
    struct Derived: Sendable {
        var signingKeyOut: [UInt8]
        var signingKeyIn: [UInt8]
        var sealingKeyOut: [UInt8]
        var sealingKeyIn: [UInt8]
        var handleOut: RC4
        var handleIn: RC4
        var sequenceOut: UInt32 = 0
        var sequenceIn: UInt32 = 0
    }

    private var derivedState: Derived?

    private var extended: Bool { flags.contains(.extendedSessionSecurity) }

    static let clientSigningMagic = Array("session key to client-to-server signing key magic constant\0".utf8)
    static let serverSigningMagic = Array("session key to server-to-client signing key magic constant\0".utf8)
    static let clientSealingMagic = Array("session key to client-to-server sealing key magic constant\0".utf8)
    static let serverSealingMagic = Array("session key to server-to-client sealing key magic constant\0".utf8)

    public init(role: Role, flags: NegotiateFlags, exportedSessionKey: SessionKey) {
        self.role = role
        self.flags = flags
        self.exportedSessionKey = exportedSessionKey
    }

    private static func derive(role: Role, flags: NegotiateFlags, key: [UInt8]) -> Derived {
        let clientSign = signingKey(flags: flags, key: key, magic: clientSigningMagic)
        let serverSign = signingKey(flags: flags, key: key, magic: serverSigningMagic)
        let clientSeal = sealingKey(flags: flags, key: key, magic: clientSealingMagic)
        let serverSeal = sealingKey(flags: flags, key: key, magic: serverSealingMagic)
        switch role {
        case .initiator:
            return Derived(signingKeyOut: clientSign, signingKeyIn: serverSign, sealingKeyOut: clientSeal, sealingKeyIn: serverSeal, handleOut: RC4(key: clientSeal), handleIn: RC4(key: serverSeal))
        case .acceptor:
            return Derived(signingKeyOut: serverSign, signingKeyIn: clientSign, sealingKeyOut: serverSeal, sealingKeyIn: clientSeal, handleOut: RC4(key: serverSeal), handleIn: RC4(key: clientSeal))
        }
    }

    /// Runs `body` on the derived state, deriving it first if needed.
    private mutating func withDerived<T>(_ body: (inout Derived) throws(NTLMError) -> T) throws(NTLMError) -> T {
        var state = derivedState ?? Self.derive(role: role, flags: flags, key: exportedSessionKey.bytes)
        defer { derivedState = state }
        return try body(&state)
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
        let extended = self.extended
        let keyExchange = flags.contains(.keyExchange)
        return (try? withDerived { (state: inout Derived) throws(NTLMError) -> [UInt8] in
            Self.sign(message, state: &state, extended: extended, keyExchange: keyExchange)
        }) ?? []
    }

    private static func sign(_ message: [UInt8], state: inout Derived, extended: Bool, keyExchange: Bool) -> [UInt8] {
        if extended {
            defer { state.sequenceOut &+= 1 }
            return extendedSignature(key: state.signingKeyOut, handle: &state.handleOut, keyExchange: keyExchange, sequence: state.sequenceOut, message: message)
        }
        // NTLMv1 without ESS: one RC4 stream and counter for both directions.
        defer { state.sequenceOut &+= 1; state.sequenceIn = state.sequenceOut }
        return basicSignature(handle: &state.handleOut, sequence: state.sequenceOut, message: message)
    }

    /// Checks a signature made by the peer over `message`. Throws if it does not match.
    public mutating func verify(signature: [UInt8], for message: [UInt8]) throws(NTLMError) {
        let extended = self.extended
        let keyExchange = flags.contains(.keyExchange)
        try withDerived { (state: inout Derived) throws(NTLMError) in
            try Self.verify(signature: signature, for: message, state: &state, extended: extended, keyExchange: keyExchange)
        }
    }

    private static func verify(signature: [UInt8], for message: [UInt8], state: inout Derived, extended: Bool, keyExchange: Bool) throws(NTLMError) {
        let expected: [UInt8]
        if extended {
            defer { state.sequenceIn &+= 1 }
            expected = extendedSignature(key: state.signingKeyIn, handle: &state.handleIn, keyExchange: keyExchange, sequence: state.sequenceIn, message: message)
        } else {
            defer { state.sequenceIn &+= 1; state.sequenceOut = state.sequenceIn }
            expected = basicSignature(handle: &state.handleOut, sequence: state.sequenceIn, message: message)
        }
        // MS-NLMP 3.4.4.1 zeroes RandomPad in what it sends, but its own example (4.2.2.4)
        // keeps RC4(RandomPad) there; the pad proves nothing, so it is not compared.
        let compared = extended ? expected : withoutRandomPad(expected)
        let received = extended ? signature : withoutRandomPad(signature)
        guard constantTimeEqual(compared, received) else { throw .invalidState("message signature does not match") }
    }

    /// Encrypts `message` for the peer and signs it (MS-NLMP 3.4.3): the RC4 stream first
    /// encrypts the message, then the checksum.
    public mutating func seal(_ message: [UInt8]) -> (sealed: [UInt8], signature: [UInt8]) {
        let extended = self.extended
        let keyExchange = flags.contains(.keyExchange)
        return (try? withDerived { (state: inout Derived) throws(NTLMError) -> ([UInt8], [UInt8]) in
            let sealed = state.handleOut.process(message)
            return (sealed, Self.sign(message, state: &state, extended: extended, keyExchange: keyExchange))
        }) ?? ([], [])
    }

    /// Decrypts a sealed message from the peer and verifies its signature.
    public mutating func unseal(_ sealed: [UInt8], signature: [UInt8]) throws(NTLMError) -> [UInt8] {
        let extended = self.extended
        let keyExchange = flags.contains(.keyExchange)
        return try withDerived { (state: inout Derived) throws(NTLMError) -> [UInt8] in
            let message = extended ? state.handleIn.process(sealed) : state.handleOut.process(sealed)
            try Self.verify(signature: signature, for: message, state: &state, extended: extended, keyExchange: keyExchange)
            return message
        }
    }

    /// Restarts both RC4 streams from their keys. SPNEGO requires this right after the
    /// mechListMIC has been produced or checked (MS-SPNG 3.3.5.1), so that the first real
    /// message starts from a fresh key state.
    public mutating func resetRC4State() {
        _ = try? withDerived { (state: inout Derived) throws(NTLMError) in
            state.handleOut = RC4(key: state.sealingKeyOut)
            state.handleIn = RC4(key: state.sealingKeyIn)
        }
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
