import NTLMTestSupport
import Foundation
import Testing
@testable import NTLM

// Design invariant 5: untrusted bytes never crash. Every case below feeds a malformed NTLM
// message (or a piece of one) to a parser, the acceptor or the initiator and checks the exact
// typed error that comes back. The valid messages that get cut, corrupted and mutated are made
// by our own initiator and acceptor with fixed randomness, so every run sees the same bytes.

// MARK: - Little-endian helpers (file-private: other test files may define their own)

fileprivate func le16(_ value: UInt16) -> [UInt8] {
    [UInt8(truncatingIfNeeded: value), UInt8(truncatingIfNeeded: value >> 8)]
}

fileprivate func le32(_ value: UInt32) -> [UInt8] {
    (0..<4).map { UInt8(truncatingIfNeeded: value >> UInt32($0 * 8)) }
}

fileprivate func le64(_ value: UInt64) -> [UInt8] {
    (0..<8).map { UInt8(truncatingIfNeeded: value >> UInt64($0 * 8)) }
}

fileprivate func readLE16(_ bytes: [UInt8], at index: Int) -> Int {
    Int(bytes[index]) | Int(bytes[index + 1]) << 8
}

fileprivate func readLE32(_ bytes: [UInt8], at index: Int) -> Int {
    Int(bytes[index]) | Int(bytes[index + 1]) << 8 | Int(bytes[index + 2]) << 16 | Int(bytes[index + 3]) << 24
}

fileprivate func overwrite(_ bytes: inout [UInt8], at index: Int, with value: [UInt8]) {
    bytes.replaceSubrange(index..<index + value.count, with: value)
}

fileprivate func utf16(_ string: String) -> [UInt8] {
    string.utf16.flatMap { le16($0) }
}

fileprivate let ntlmSignature: [UInt8] = Array("NTLMSSP".utf8) + [0]

/// One AV pair as it goes on the wire; the length is truncated to 16 bits like the real field.
fileprivate func avPair(_ id: UInt16, _ value: [UInt8]) -> [UInt8] {
    le16(id) + le16(UInt16(truncatingIfNeeded: value.count)) + value
}

fileprivate let avEOL: [UInt8] = [0, 0, 0, 0]

/// The fixed values every handshake in this file uses.
fileprivate enum Fixture {
    static let now: UInt64 = FileTime.fromUnixSeconds(1_700_000_000)
    static let serverChallenge: [UInt8] = [0x01, 0x23, 0x45, 0x67, 0x89, 0xAB, 0xCD, 0xEF]
    static let clientChallenge: [UInt8] = [0xAA, 0xBB, 0xCC, 0xDD, 0xEE, 0xFF, 0x00, 0x11]
    static let randomSessionKey: [UInt8] = (0..<16).map { UInt8(0x50 + $0) }
    static let credentials = NTLMCredentials(user: "alice", domain: "CORP", workstation: "WS1", password: "Secret1!")
    static let acceptorPolicy = NTLMAcceptorPolicy(netbiosDomain: "CORP")
    static let store: NTLMUserStore = {
        var store = NTLMUserStore()
        store.add(user: "alice", domain: "CORP", password: "Secret1!")
        return store
    }()
    /// 15 minutes in FILETIME ticks: the default acceptor window.
    static let windowTicks: UInt64 = 15 * 60 * 10_000_000
    static let minute: UInt64 = 60 * 10_000_000
    static let day: UInt64 = 24 * 60 * minute

    struct Handshake {
        var type1: [UInt8]
        var type2: [UInt8]
        var type3: [UInt8]
        /// An acceptor that has sent `type2` and waits for a Type 3.
        var challengedAcceptor: NTLMAcceptor
        /// An initiator that has sent `type1` and waits for a Type 2.
        var negotiatedInitiator: NTLMInitiator
    }

    /// A complete, deterministic NTLMv2 handshake with a MIC (our default policies).
    static func handshake(
        initiatorPolicy: NTLMInitiatorPolicy = .default, acceptorPolicy: NTLMAcceptorPolicy = acceptorPolicy
    ) throws -> Handshake {
        var initiator = NTLMInitiator(credentials: credentials, policy: initiatorPolicy)
        var acceptor = NTLMAcceptor(policy: acceptorPolicy)
        let type1 = initiator.negotiate()
        let negotiated = initiator
        let type2 = try acceptor.challenge(negotiate: type1, serverChallenge: serverChallenge, now: now)
        let challenged = acceptor
        let type3 = try initiator.authenticate(
            challenge: type2, clientChallenge: clientChallenge, exportedSessionKey: randomSessionKey, now: now)
        return Handshake(type1: type1, type2: type2, type3: type3, challengedAcceptor: challenged, negotiatedInitiator: negotiated)
    }

    /// An acceptor that answered our Type 1 and now waits for a Type 3.
    static func challengedAcceptor(policy: NTLMAcceptorPolicy = acceptorPolicy) throws -> NTLMAcceptor {
        var acceptor = NTLMAcceptor(policy: policy)
        var initiator = NTLMInitiator(credentials: credentials)
        _ = try acceptor.challenge(negotiate: initiator.negotiate(), serverChallenge: serverChallenge, now: now)
        return acceptor
    }

    /// A Type 1 with OEM domain and workstation payloads (our serializer, not the initiator).
    static let type1WithNames = NegotiateMessage(flags: .initiatorDefault, domain: "CORP", workstation: "WS1").serialize()
}

/// Hand-built messages, written here byte by byte rather than with the module's serializers so
/// that the tests can put anything in any field.
fileprivate enum Raw {
    static let unicodeFlags: NegotiateFlags = [.unicode, .requestTarget, .ntlm, .extendedSessionSecurity, .targetInfo, .version, .negotiate128]
    static let versionBytes: [UInt8] = [10, 0, 0x61, 0x4A, 0, 0, 0, 0x0F]

    /// An AUTHENTICATE_MESSAGE with payloads in header order right after the header.
    static func type3(
        flags: NegotiateFlags = unicodeFlags, lm: [UInt8] = [], nt: [UInt8] = [], domain: [UInt8] = utf16("CORP"),
        user: [UInt8] = utf16("alice"), workstation: [UInt8] = utf16("WS1"), sessionKey: [UInt8] = [],
        version: Bool = true, mic: [UInt8]? = nil
    ) -> [UInt8] {
        let headerLength = mic != nil ? 88 : (version ? 72 : 64)
        var out = ntlmSignature + le32(3) + [UInt8](repeating: 0, count: headerLength - 12)
        for (at, data) in [(12, lm), (20, nt), (28, domain), (36, user), (44, workstation), (52, sessionKey)] {
            let length = le16(UInt16(truncatingIfNeeded: data.count))
            overwrite(&out, at: at, with: length + length + le32(UInt32(out.count)))
            out += data
        }
        overwrite(&out, at: 60, with: le32(flags.rawValue))
        if version || mic != nil { overwrite(&out, at: 64, with: versionBytes) }
        if let mic { overwrite(&out, at: 72, with: mic) }
        return out
    }

    /// A CHALLENGE_MESSAGE with the 56-byte header.
    static func type2(
        flags: NegotiateFlags = unicodeFlags, targetName: [UInt8] = utf16("CORP"),
        challenge: [UInt8] = Fixture.serverChallenge, targetInfo: [UInt8] = avPair(2, utf16("CORP")) + avEOL
    ) -> [UInt8] {
        var out = ntlmSignature + le32(2) + [UInt8](repeating: 0, count: 56 - 12)
        overwrite(&out, at: 20, with: le32(flags.rawValue))
        overwrite(&out, at: 24, with: challenge)
        overwrite(&out, at: 48, with: versionBytes)
        for (at, data) in [(12, targetName), (40, targetInfo)] {
            let length = le16(UInt16(truncatingIfNeeded: data.count))
            overwrite(&out, at: at, with: length + length + le32(UInt32(out.count)))
            out += data
        }
        return out
    }

    /// The NTLMv2 client blob header (RespType, HiRespType, Z(6), time, client challenge, Z(4))
    /// followed by `avList` exactly as given (the caller decides about MsvAvEOL and padding).
    static func ntlmv2Blob(timestamp: UInt64, avList: [UInt8]) -> [UInt8] {
        [1, 1, 0, 0, 0, 0, 0, 0] + le64(timestamp) + Fixture.clientChallenge + [0, 0, 0, 0] + avList
    }

    /// An NTLMv2 NtChallengeResponse with a made-up NTProofStr.
    static func ntlmv2Response(timestamp: UInt64 = Fixture.now, avList: [UInt8]) -> [UInt8] {
        [UInt8](repeating: 0x42, count: 16) + ntlmv2Blob(timestamp: timestamp, avList: avList)
    }

    /// A well-formed server AV list, MsvAvEOL and the trailing Z(4) of the blob.
    static let goodAVList: [UInt8] = avPair(2, utf16("CORP")) + avPair(1, utf16("SRV")) + avEOL + [0, 0, 0, 0]
}


@Suite("Malformed NTLM input")
struct MalformedInputTests {
    // MARK: - Shared model of the three messages

    enum Kind: String, Sendable, CaseIterable, CustomTestStringConvertible {
        case negotiate = "Type 1"
        case challenge = "Type 2"
        case authenticate = "Type 3"

        var testDescription: String { rawValue }
        var messageType: UInt32 {
            switch self {
            case .negotiate: return 1
            case .challenge: return 2
            case .authenticate: return 3
            }
        }
        /// Where the mandatory part of the fixed header ends (optional Version/MIC follow).
        var mandatoryEnd: Int {
            switch self {
            case .negotiate: return 32
            case .challenge: return 40
            case .authenticate: return 64
            }
        }
        /// The payload descriptors in the order the parser reads them: (payload name, offset).
        var payloadDescriptors: [(name: String, at: Int)] {
            switch self {
            case .negotiate: return [("DomainName", 16), ("Workstation", 24)]
            case .challenge: return [("TargetName", 12), ("TargetInfo", 40)]
            case .authenticate:
                return [
                    ("LmChallengeResponse", 12), ("NtChallengeResponse", 20), ("DomainName", 28),
                    ("UserName", 36), ("Workstation", 44), ("EncryptedRandomSessionKey", 52),
                ]
            }
        }
    }

    static func parse(_ kind: Kind, _ bytes: [UInt8]) throws(NTLMError) {
        switch kind {
        case .negotiate: _ = try NegotiateMessage(bytes: bytes)
        case .challenge: _ = try ChallengeMessage(bytes: bytes)
        case .authenticate: _ = try AuthenticateMessage(bytes: bytes)
        }
    }

    /// The valid messages that get cut and corrupted.
    enum Sample: String, Sendable, CaseIterable, CustomTestStringConvertible {
        /// The initiator's 40-byte Type 1: no payload at all.
        case type1Bare = "Type 1 (initiator, 40 bytes)"
        /// A Type 1 with OEM domain and workstation.
        case type1WithNames = "Type 1 (domain + workstation)"
        /// The acceptor's Type 2 with TargetName and TargetInfo.
        case type2 = "Type 2 (acceptor)"
        /// The initiator's NTLMv2 Type 3 with Version, MIC and an encrypted session key.
        case type3 = "Type 3 (initiator, MIC)"

        var testDescription: String { rawValue }
        var kind: Kind {
            switch self {
            case .type1Bare, .type1WithNames: return .negotiate
            case .type2: return .challenge
            case .type3: return .authenticate
            }
        }

        func bytes() throws -> [UInt8] {
            switch self {
            case .type1Bare: return try Fixture.handshake().type1
            case .type1WithNames: return Fixture.type1WithNames
            case .type2: return try Fixture.handshake().type2
            case .type3: return try Fixture.handshake().type3
            }
        }
    }

    /// A mandatory fixed header field of one message.
    struct HeaderField: Sendable, CustomTestStringConvertible {
        var kind: Kind
        var name: String
        var start: Int
        var length: Int
        var testDescription: String { "\(kind.rawValue) \(name) [\(start)..<\(start + length)]" }
    }

    static let mandatoryFields: [HeaderField] = [
        HeaderField(kind: .negotiate, name: "Signature", start: 0, length: 8),
        HeaderField(kind: .negotiate, name: "MessageType", start: 8, length: 4),
        HeaderField(kind: .negotiate, name: "NegotiateFlags", start: 12, length: 4),
        HeaderField(kind: .negotiate, name: "DomainNameFields", start: 16, length: 8),
        HeaderField(kind: .negotiate, name: "WorkstationFields", start: 24, length: 8),
        HeaderField(kind: .challenge, name: "Signature", start: 0, length: 8),
        HeaderField(kind: .challenge, name: "MessageType", start: 8, length: 4),
        HeaderField(kind: .challenge, name: "TargetNameFields", start: 12, length: 8),
        HeaderField(kind: .challenge, name: "NegotiateFlags", start: 20, length: 4),
        HeaderField(kind: .challenge, name: "ServerChallenge", start: 24, length: 8),
        HeaderField(kind: .challenge, name: "Reserved", start: 32, length: 8),
        HeaderField(kind: .authenticate, name: "Signature", start: 0, length: 8),
        HeaderField(kind: .authenticate, name: "MessageType", start: 8, length: 4),
        HeaderField(kind: .authenticate, name: "LmChallengeResponseFields", start: 12, length: 8),
        HeaderField(kind: .authenticate, name: "NtChallengeResponseFields", start: 20, length: 8),
        HeaderField(kind: .authenticate, name: "DomainNameFields", start: 28, length: 8),
        HeaderField(kind: .authenticate, name: "UserNameFields", start: 36, length: 8),
        HeaderField(kind: .authenticate, name: "WorkstationFields", start: 44, length: 8),
        HeaderField(kind: .authenticate, name: "EncryptedRandomSessionKeyFields", start: 52, length: 8),
        HeaderField(kind: .authenticate, name: "NegotiateFlags", start: 60, length: 4),
    ]

    /// What parsing `full` cut to `cut` bytes must report once the mandatory header is complete:
    /// the optional header fields (Version, MIC, Type 2's TargetInfoFields) are absent when the
    /// payload starts before them, so the first payload (in read order) that no longer fits is
    /// out of bounds; nil when everything still fits.
    static func expectedErrorAfterMandatoryHeader(_ kind: Kind, full: [UInt8], cut: Int) -> NTLMError? {
        for (name, at) in kind.payloadDescriptors {
            let length = readLE16(full, at: at)
            let offset = readLE32(full, at: at + 4)
            if length > 0 && offset + length > cut {
                return .payloadOutOfBounds(field: name, offset: at, length: length)
            }
        }
        return nil
    }
}

// MARK: - Truncation

extension MalformedInputTests {
    @Test("the mandatory header fields of each message tile its mandatory header without gaps", arguments: Kind.allCases)
    func mandatoryFieldTableIsComplete(_ kind: Kind) {
        let fields = Self.mandatoryFields.filter { $0.kind == kind }.sorted { $0.start < $1.start }
        var next = 0
        for field in fields {
            #expect(field.start == next, "\(field.name) should start at \(next)")
            next = field.start + field.length
        }
        #expect(next == kind.mandatoryEnd)
    }

    /// Cuts the message at every byte inside the field: the error names the field and the offset
    /// at which the field starts (NTLMError.truncated: "`field` (starting at `offset`)").
    @Test("a cut inside a mandatory header field reports that field at its start offset", arguments: mandatoryFields)
    func truncatedInsideMandatoryField(_ field: HeaderField) throws {
        let sample: Sample = switch field.kind {
        case .negotiate: .type1WithNames
        case .challenge: .type2
        case .authenticate: .type3
        }
        let full = try sample.bytes()
        for cut in field.start..<(field.start + field.length) {
            #expect(throws: NTLMError.truncated(field: field.name, offset: field.start), "\(sample) cut to \(cut) of \(full.count) bytes") {
                try Self.parse(field.kind, Array(full.prefix(cut)))
            }
        }
    }

    @Test("a cut after the mandatory header reports the first payload that no longer fits", arguments: Sample.allCases)
    func truncatedAfterMandatoryHeader(_ sample: Sample) throws {
        let full = try sample.bytes()
        let kind = sample.kind
        var checked = 0
        for cut in kind.mandatoryEnd..<full.count {
            let piece = Array(full.prefix(cut))
            if let expected = Self.expectedErrorAfterMandatoryHeader(kind, full: full, cut: cut) {
                #expect(throws: expected, "\(sample) cut to \(cut) of \(full.count) bytes") { try Self.parse(kind, piece) }
            } else {
                #expect(throws: Never.self, "\(sample) cut to \(cut) of \(full.count) bytes") { try Self.parse(kind, piece) }
            }
            checked += 1
        }
        #expect(checked == full.count - kind.mandatoryEnd)
    }

    @Test("a Type 1 cut inside its Version field is read as the 32-byte form")
    func type1CutInsideVersionIsShortForm() throws {
        let full = try Sample.type1Bare.bytes()
        #expect(full.count == 40)
        for cut in 32..<40 {
            let message = try NegotiateMessage(bytes: Array(full.prefix(cut)))
            #expect(message.version == nil, "cut to \(cut)")
        }
        #expect(try NegotiateMessage(bytes: full).version == .default)
    }

    @Test("empty input is refused by every entry point")
    func emptyInput() throws {
        let expected = NTLMError.truncated(field: "Signature", offset: 0)
        #expect(throws: expected) { try NegotiateMessage(bytes: []) }
        #expect(throws: expected) { try ChallengeMessage(bytes: []) }
        #expect(throws: expected) { try AuthenticateMessage(bytes: []) }
        #expect(throws: expected) { try ntlmMessageType(of: []) }
        #expect(throws: NTLMError.avPairsNotTerminated) { try TargetInfo(bytes: []) }
        var fresh = NTLMAcceptor(policy: Fixture.acceptorPolicy)
        #expect(throws: NTLMRejection.malformed(expected)) { try fresh.challenge(negotiate: []) }
        var acceptor = try Fixture.challengedAcceptor()
        #expect(throws: NTLMRejection.malformed(expected)) { try acceptor.beginVerification(authenticate: [], now: Fixture.now) }
        var initiator = try Fixture.handshake().negotiatedInitiator
        #expect(throws: expected) { try initiator.authenticate(challenge: []) }
    }

    @Test("a bare signature, or one byte short of it, is truncated at the right field")
    func signatureOnly() {
        for kind in Kind.allCases {
            #expect(throws: NTLMError.truncated(field: "Signature", offset: 0)) { try Self.parse(kind, Array(ntlmSignature.prefix(7))) }
            #expect(throws: NTLMError.truncated(field: "MessageType", offset: 8)) { try Self.parse(kind, ntlmSignature) }
            #expect(throws: NTLMError.truncated(field: "MessageType", offset: 8)) { try Self.parse(kind, ntlmSignature + [UInt8(kind.messageType), 0, 0]) }
        }
        #expect(throws: NTLMError.truncated(field: "MessageType", offset: 8)) { try ntlmMessageType(of: ntlmSignature + [3]) }
    }
}

// MARK: - Signature and message type

extension MalformedInputTests {
    struct NamedBytes: Sendable, CustomTestStringConvertible {
        var name: String
        var bytes: [UInt8]
        var testDescription: String { name }
    }

    static let badSignatures: [NamedBytes] = [
        NamedBytes(name: "lower-case ntlmssp", bytes: Array("ntlmssp".utf8) + [0] + le32(1) + [UInt8](repeating: 0, count: 32)),
        NamedBytes(name: "space instead of NUL", bytes: Array("NTLMSSP ".utf8) + le32(1) + [UInt8](repeating: 0, count: 32)),
        NamedBytes(name: "eight zero bytes", bytes: [UInt8](repeating: 0, count: 40)),
        NamedBytes(name: "signature shifted by one byte", bytes: [0] + ntlmSignature + le32(1) + [UInt8](repeating: 0, count: 31)),
        NamedBytes(name: "still base64 (TlRMTVNTUAAB...)", bytes: Array("TlRMTVNTUAABAAAAB4IIogAAAAAAAAAAAAAAAAAAAAAKAGFKAAAADw==".utf8)),
        NamedBytes(name: "HTTP header value", bytes: Array("NTLM TlRMTVNTUAABAAAAB4IIogAAAAA=".utf8)),
        NamedBytes(name: "a SPNEGO NegTokenInit", bytes: [0x60, 0x28, 0x06, 0x06, 0x2B, 0x06, 0x01, 0x05, 0x05, 0x02, 0xA0, 0x1E] + [UInt8](repeating: 0, count: 30)),
        NamedBytes(name: "0xFF filler", bytes: [UInt8](repeating: 0xFF, count: 64)),
    ]

    @Test("a wrong signature is refused by every parser", arguments: badSignatures)
    func badSignature(_ input: NamedBytes) throws {
        for kind in Kind.allCases {
            #expect(throws: NTLMError.badSignature, "\(kind)") { try Self.parse(kind, input.bytes) }
        }
        #expect(throws: NTLMError.badSignature) { try ntlmMessageType(of: input.bytes) }
        var fresh = NTLMAcceptor(policy: Fixture.acceptorPolicy)
        #expect(throws: NTLMRejection.malformed(.badSignature)) { try fresh.challenge(negotiate: input.bytes) }
        var acceptor = try Fixture.challengedAcceptor()
        #expect(throws: NTLMRejection.malformed(.badSignature)) { try acceptor.beginVerification(authenticate: input.bytes, now: Fixture.now) }
        var initiator = try Fixture.handshake().negotiatedInitiator
        #expect(throws: NTLMError.badSignature) { try initiator.authenticate(challenge: input.bytes) }
    }

    @Test("every single-bit flip of the signature is a bad signature")
    func signatureBitFlips() throws {
        let valid = try Sample.type3.bytes()
        for index in 0..<8 {
            for bit in 0..<8 {
                var bytes = valid
                bytes[index] ^= UInt8(1 << bit)
                for kind in Kind.allCases {
                    #expect(throws: NTLMError.badSignature, "byte \(index) bit \(bit), \(kind)") { try Self.parse(kind, bytes) }
                }
            }
        }
    }

    static let foreignMessageTypes: [UInt32] = [0, 1, 2, 3, 4, 0x100, 0x0100_0000, 0xFFFF_FFFF]

    @Test("each parser refuses every other MessageType", arguments: Kind.allCases, foreignMessageTypes)
    func wrongMessageType(_ kind: Kind, _ type: UInt32) throws {
        guard type != kind.messageType else { return }
        let bytes = ntlmSignature + le32(type) + [UInt8](repeating: 0, count: 80)
        #expect(throws: NTLMError.wrongMessageType(expected: kind.messageType, actual: type)) { try Self.parse(kind, bytes) }
        #expect(try ntlmMessageType(of: bytes) == type)
    }

    @Test("real messages handed to the wrong parser or the wrong side of the handshake")
    func realMessagesToWrongParser() throws {
        let handshake = try Fixture.handshake()
        let messages: [(Kind, [UInt8])] = [(.negotiate, handshake.type1), (.challenge, handshake.type2), (.authenticate, handshake.type3)]
        for (actual, bytes) in messages {
            for parser in Kind.allCases where parser != actual {
                #expect(throws: NTLMError.wrongMessageType(expected: parser.messageType, actual: actual.messageType)) { try Self.parse(parser, bytes) }
            }
        }
        // The acceptor gets a Type 3 where it expects a Type 1, and a Type 1 or 2 where it expects a Type 3.
        var fresh = NTLMAcceptor(policy: Fixture.acceptorPolicy)
        #expect(throws: NTLMRejection.malformed(.wrongMessageType(expected: 1, actual: 3))) { try fresh.challenge(negotiate: handshake.type3) }
        var acceptor = handshake.challengedAcceptor
        #expect(throws: NTLMRejection.malformed(.wrongMessageType(expected: 3, actual: 1))) { try acceptor.beginVerification(authenticate: handshake.type1, now: Fixture.now) }
        acceptor = handshake.challengedAcceptor
        #expect(throws: NTLMRejection.malformed(.wrongMessageType(expected: 3, actual: 2))) { try acceptor.beginVerification(authenticate: handshake.type2, now: Fixture.now) }
        // The initiator gets its own Type 1 (a reflecting server) or a Type 3 back.
        var initiator = handshake.negotiatedInitiator
        #expect(throws: NTLMError.wrongMessageType(expected: 2, actual: 1)) { try initiator.authenticate(challenge: handshake.type1) }
        #expect(throws: NTLMError.wrongMessageType(expected: 2, actual: 3)) { try initiator.authenticate(challenge: handshake.type3) }
    }
}

// MARK: - Payload descriptors

extension MalformedInputTests {
    enum DescriptorDamage: String, Sendable, CaseIterable {
        case offsetAtEnd = "offset = message length"
        case offsetOneByteShort = "payload overlaps the end by one byte"
        case offsetMax = "offset 0xFFFFFFFF"
        case lengthMax = "length 0xFFFF"
        case offsetAndLengthMax = "offset 0xFFFFFFFF + length 0xFFFF"
    }

    struct DescriptorCase: Sendable, CustomTestStringConvertible {
        var sample: Sample
        var payload: String
        var at: Int
        var damage: DescriptorDamage
        var testDescription: String { "\(sample.kind.rawValue) \(payload): \(damage.rawValue)" }
    }

    static let descriptorCases: [DescriptorCase] = {
        var cases: [DescriptorCase] = []
        for sample in [Sample.type1WithNames, .type2, .type3] {
            for (name, at) in sample.kind.payloadDescriptors {
                for damage in DescriptorDamage.allCases {
                    cases.append(DescriptorCase(sample: sample, payload: name, at: at, damage: damage))
                }
            }
        }
        return cases
    }()

    @Test("a payload descriptor pointing past the end is out of bounds", arguments: descriptorCases)
    func payloadOutOfBounds(_ test: DescriptorCase) throws {
        var bytes = try test.sample.bytes()
        let length = readLE16(bytes, at: test.at)
        try #require(length > 0, "the sample must carry \(test.payload)")
        let expectedLength: Int
        switch test.damage {
        case .offsetAtEnd:
            overwrite(&bytes, at: test.at + 4, with: le32(UInt32(bytes.count)))
            expectedLength = length
        case .offsetOneByteShort:
            overwrite(&bytes, at: test.at + 4, with: le32(UInt32(bytes.count - length + 1)))
            expectedLength = length
        case .offsetMax:
            overwrite(&bytes, at: test.at + 4, with: le32(0xFFFF_FFFF))
            expectedLength = length
        case .lengthMax:
            overwrite(&bytes, at: test.at, with: le16(0xFFFF))
            expectedLength = 0xFFFF
        case .offsetAndLengthMax:
            overwrite(&bytes, at: test.at, with: le16(0xFFFF) + le16(0xFFFF) + le32(0xFFFF_FFFF))
            expectedLength = 0xFFFF
        }
        #expect(throws: NTLMError.payloadOutOfBounds(field: test.payload, offset: test.at, length: expectedLength)) {
            try Self.parse(test.sample.kind, bytes)
        }
    }

    @Test("MaxLen is ignored and an empty payload may point anywhere", arguments: [Sample.type1WithNames, .type2, .type3])
    func maxLenAndEmptyPayloadOffsets(_ sample: Sample) throws {
        let original = try sample.bytes()
        for maxLen: UInt16 in [0, 1, 0xFFFF] {
            var bytes = original
            for (_, at) in sample.kind.payloadDescriptors { overwrite(&bytes, at: at + 2, with: le16(maxLen)) }
            switch sample.kind {
            case .negotiate: #expect(try NegotiateMessage(bytes: bytes) == NegotiateMessage(bytes: original))
            case .challenge: #expect(try ChallengeMessage(bytes: bytes) == ChallengeMessage(bytes: original))
            case .authenticate: #expect(try AuthenticateMessage(bytes: bytes) == AuthenticateMessage(bytes: original))
            }
        }
        // An empty field with a wild offset is just empty.
        let emptyUser = Raw.type3(user: []).count
        var bytes = Raw.type3(user: [])
        overwrite(&bytes, at: 36 + 4, with: le32(0xFFFF_FFFF))
        #expect(try AuthenticateMessage(bytes: bytes).user == "")
        #expect(bytes.count == emptyUser)
    }

    @Test("one payload of 0xFFFF bytes referenced by every descriptor of a Type 3")
    func overlappingMaximalPayloads() {
        // Six descriptors all pointing at the same 64 KiB: parsed once each, then the
        // session key length is refused.
        var bytes = ntlmSignature + le32(3) + [UInt8](repeating: 0, count: 88 - 12) + [UInt8](repeating: 0, count: 0xFFFF)
        for at in stride(from: 12, through: 52, by: 8) {
            // The three names get an even length so that they decode as UTF-16 (NULs).
            let length: UInt16 = [28, 36, 44].contains(at) ? 0xFFFE : 0xFFFF
            overwrite(&bytes, at: at, with: le16(length) + le16(length) + le32(88))
        }
        overwrite(&bytes, at: 60, with: le32(NegotiateFlags.unicode.rawValue))
        #expect(throws: NTLMError.invalidFieldLength(field: "EncryptedRandomSessionKey", length: 0xFFFF)) { try AuthenticateMessage(bytes: bytes) }
    }
}

// MARK: - AV pairs

extension MalformedInputTests {
    struct AVCase: Sendable, CustomTestStringConvertible {
        var name: String
        var list: [UInt8]
        var expected: NTLMError
        var testDescription: String { name }
    }

    static let badAVLists: [AVCase] = {
        let computer = avPair(1, utf16("SRV"))  // 10 bytes
        var cases: [AVCase] = [
            AVCase(name: "empty list", list: [], expected: .avPairsNotTerminated),
            AVCase(name: "one pair, no MsvAvEOL", list: computer, expected: .avPairsNotTerminated),
            AVCase(name: "three pairs, no MsvAvEOL", list: computer + avPair(2, utf16("CORP")) + avPair(7, le64(1)), expected: .avPairsNotTerminated),
            AVCase(name: "one byte", list: [0x01], expected: .avPairTruncated(offset: 0)),
            AVCase(name: "three-byte header", list: [0x01, 0x00, 0x02], expected: .avPairTruncated(offset: 0)),
            AVCase(name: "half an MsvAvEOL after a pair", list: computer + [0x00, 0x00], expected: .avPairTruncated(offset: 10)),
            AVCase(name: "three bytes of MsvAvEOL after a pair", list: computer + [0x00, 0x00, 0x00], expected: .avPairTruncated(offset: 10)),
            AVCase(name: "value longer than the list", list: le16(1) + le16(10) + [0x41, 0x00, 0x42, 0x00], expected: .avPairTruncated(offset: 0)),
            AVCase(name: "second pair's value past the end", list: computer + le16(2) + le16(8) + [0x41, 0x00] , expected: .avPairTruncated(offset: 10)),
            AVCase(name: "AvLen 0xFFFF with no value", list: le16(3) + le16(0xFFFF), expected: .avPairTruncated(offset: 0)),
            AVCase(name: "MsvAvEOL whose AvLen runs past the end", list: computer + le16(0) + le16(4), expected: .avPairTruncated(offset: 10)),
        ]
        let fixedLengths: [(id: UInt16, name: String, bad: [Int])] = [
            (7, "MsvAvTimestamp", [0, 1, 7, 9, 16]),
            (6, "MsvAvFlags", [0, 2, 3, 5, 8]),
            (10, "MsvAvChannelBindings", [0, 1, 15, 17, 32]),
            (8, "MsvAvSingleHost", [0, 8, 47]),
        ]
        for (id, name, lengths) in fixedLengths {
            for length in lengths {
                cases.append(AVCase(
                    name: "\(name) of \(length) bytes",
                    list: computer + avPair(id, [UInt8](repeating: 0x11, count: length)) + avEOL,
                    expected: .avPairInvalidLength(id: id, length: length)))
            }
        }
        return cases
    }()

    @Test("a malformed AV pair list is refused by TargetInfo, the Type 2 parser, the initiator and the acceptor", arguments: badAVLists)
    func malformedAVList(_ test: AVCase) throws {
        #expect(throws: test.expected) { try TargetInfo(bytes: test.list) }

        // As the TargetInfo of a CHALLENGE_MESSAGE (an empty TargetInfo is simply absent there).
        let type2 = Raw.type2(targetInfo: test.list)
        if test.list.isEmpty {
            #expect(try ChallengeMessage(bytes: type2).targetInfoBytes == nil)
        } else {
            #expect(throws: test.expected) { try ChallengeMessage(bytes: type2) }
            var initiator = try Fixture.handshake().negotiatedInitiator
            #expect(throws: test.expected) { try initiator.authenticate(challenge: type2) }
        }

        // As the AV list inside the client's NTLMv2 blob (nothing after it, not even Z(4)).
        var acceptor = try Fixture.challengedAcceptor()
        let type3 = Raw.type3(lm: [UInt8](repeating: 0, count: 24), nt: Raw.ntlmv2Response(avList: test.list))
        #expect(throws: NTLMRejection.malformed(test.expected)) { try acceptor.beginVerification(authenticate: type3, now: Fixture.now) }
    }

    @Test("well-formed AV pair edge cases are accepted")
    func acceptedAVLists() throws {
        // Only MsvAvEOL.
        #expect(try TargetInfo(bytes: avEOL).pairs.isEmpty)
        // Bytes after MsvAvEOL are padding and ignored, even if they look like broken pairs.
        #expect(try TargetInfo(bytes: avPair(1, utf16("A")) + avEOL + [0xFF, 0xFF, 0xFF]).pairs.count == 1)
        // MsvAvSingleHost of at least 48 bytes, fixed-size pairs of the right size, unknown IDs.
        let list = avPair(8, [UInt8](repeating: 0, count: 48)) + avPair(8, [UInt8](repeating: 0, count: 64))
            + avPair(7, le64(Fixture.now)) + avPair(6, le32(2)) + avPair(10, [UInt8](repeating: 0, count: 16))
            + avPair(0x7777, [1, 2, 3]) + avEOL
        let info = try TargetInfo(bytes: list)
        #expect(info.pairs.count == 6)
        #expect(info.timestamp == Fixture.now)
        #expect(info.flags == .micPresent)
        #expect(info.value(for: AVPair.ID(rawValue: 0x7777)) == [1, 2, 3])
        // A name pair that is not valid UTF-16 parses (names are opaque to the list) but reads as nil.
        let odd = try TargetInfo(bytes: avPair(1, [0x41]) + avEOL)
        #expect(odd.nbComputerName == nil)
    }
}

// MARK: - Text fields

extension MalformedInputTests {
    static let badUTF16: [NamedBytes] = [
        NamedBytes(name: "odd length (1 byte)", bytes: [0x41]),
        NamedBytes(name: "odd length (5 bytes)", bytes: [0x61, 0x00, 0x62, 0x00, 0x63]),
        NamedBytes(name: "lone high surrogate", bytes: [0x3D, 0xD8]),
        NamedBytes(name: "lone low surrogate", bytes: [0x00, 0xDE]),
        NamedBytes(name: "high surrogate then 'A'", bytes: [0x3D, 0xD8, 0x41, 0x00]),
        NamedBytes(name: "surrogates in the wrong order", bytes: [0x00, 0xDE, 0x3D, 0xD8]),
        NamedBytes(name: "'a' then a high surrogate at the end", bytes: [0x61, 0x00, 0x3D, 0xD8]),
        NamedBytes(name: "two high surrogates", bytes: [0x3D, 0xD8, 0x3D, 0xD8]),
    ]

    static let type3TextFields = ["DomainName", "UserName", "Workstation"]

    @Test("invalid UTF-16 in a Type 3 name is refused by the parser and the acceptor", arguments: type3TextFields, badUTF16)
    func invalidUTF16InType3(_ field: String, _ text: NamedBytes) throws {
        let bytes: [UInt8]
        switch field {
        case "DomainName": bytes = Raw.type3(nt: Raw.ntlmv2Response(avList: Raw.goodAVList), domain: text.bytes)
        case "UserName": bytes = Raw.type3(nt: Raw.ntlmv2Response(avList: Raw.goodAVList), user: text.bytes)
        default: bytes = Raw.type3(nt: Raw.ntlmv2Response(avList: Raw.goodAVList), workstation: text.bytes)
        }
        #expect(throws: NTLMError.invalidString(field: field)) { try AuthenticateMessage(bytes: bytes) }
        var acceptor = try Fixture.challengedAcceptor()
        #expect(throws: NTLMRejection.malformed(.invalidString(field: field))) { try acceptor.beginVerification(authenticate: bytes, now: Fixture.now) }
    }

    @Test("invalid UTF-16 in a Type 2 TargetName is refused by the parser and the initiator", arguments: badUTF16)
    func invalidUTF16InType2(_ text: NamedBytes) throws {
        let bytes = Raw.type2(targetName: text.bytes)
        #expect(throws: NTLMError.invalidString(field: "TargetName")) { try ChallengeMessage(bytes: bytes) }
        var initiator = try Fixture.handshake().negotiatedInitiator
        #expect(throws: NTLMError.invalidString(field: "TargetName")) { try initiator.authenticate(challenge: bytes) }
    }

    @Test("the same bytes are fine as OEM text, and a real surrogate pair is fine as UTF-16")
    func textControls() throws {
        let oemFlags = Raw.unicodeFlags.subtracting(.unicode).union(.oem)
        for text in Self.badUTF16 {
            let type3 = try AuthenticateMessage(bytes: Raw.type3(flags: oemFlags, user: text.bytes))
            #expect(type3.user.unicodeScalars.count == text.bytes.count, "\(text.name)")
            #expect(try ChallengeMessage(bytes: Raw.type2(flags: oemFlags, targetName: text.bytes)).targetName.unicodeScalars.count == text.bytes.count)
        }
        let smile: [UInt8] = [0x3D, 0xD8, 0x00, 0xDE]  // U+1F600
        #expect(try AuthenticateMessage(bytes: Raw.type3(user: smile)).user == "\u{1F600}")
        #expect(try ChallengeMessage(bytes: Raw.type2(targetName: smile)).targetName == "\u{1F600}")
    }
}

// MARK: - Fixed-size fields

extension MalformedInputTests {
    @Test("an EncryptedRandomSessionKey that is not 16 bytes is refused", arguments: [1, 5, 8, 15, 17, 24, 32, 0xFFFF])
    func encryptedRandomSessionKeyLength(_ length: Int) throws {
        let bytes = Raw.type3(flags: Raw.unicodeFlags.union(.keyExchange), nt: Raw.ntlmv2Response(avList: Raw.goodAVList), sessionKey: [UInt8](repeating: 0x5A, count: length))
        #expect(throws: NTLMError.invalidFieldLength(field: "EncryptedRandomSessionKey", length: length)) { try AuthenticateMessage(bytes: bytes) }
        var acceptor = try Fixture.challengedAcceptor()
        // The acceptor refuses messages over its size limit (64 KiB) before parsing them.
        let limit = NTLMAcceptorPolicy.default.maximumMessageBytes
        let expected: NTLMRejection = bytes.count > limit
            ? .malformed(.tooLarge(field: "AUTHENTICATE_MESSAGE", length: bytes.count, limit: limit))
            : .malformed(.invalidFieldLength(field: "EncryptedRandomSessionKey", length: length))
        #expect(throws: expected) {
            try acceptor.beginVerification(authenticate: bytes, now: Fixture.now)
        }
    }

    @Test("an EncryptedRandomSessionKey of 0 or 16 bytes is accepted")
    func encryptedRandomSessionKeyControl() throws {
        #expect(try AuthenticateMessage(bytes: Raw.type3(sessionKey: [])).encryptedRandomSessionKey.isEmpty)
        #expect(try AuthenticateMessage(bytes: Raw.type3(sessionKey: [UInt8](repeating: 1, count: 16))).encryptedRandomSessionKey.count == 16)
    }

    @Test("a ServerChallenge that is not 8 bytes cannot build a Type 2", arguments: [0, 1, 7, 9, 16])
    func serverChallengeLength(_ length: Int) {
        #expect(throws: NTLMError.invalidFieldLength(field: "ServerChallenge", length: length)) {
            try ChallengeMessage(flags: Raw.unicodeFlags, serverChallenge: [UInt8](repeating: 0, count: length))
        }
    }

    struct HexCase: Sendable, CustomTestStringConvertible {
        var hex: String
        var expected: NTLMError
        var testDescription: String { "\"\(hex)\"" }
    }

    static let badNTHashHex: [HexCase] = [
        HexCase(hex: "", expected: .invalidFieldLength(field: "NTHash", length: 0)),
        HexCase(hex: "00", expected: .invalidFieldLength(field: "NTHash", length: 1)),
        HexCase(hex: String(repeating: "ab", count: 15), expected: .invalidFieldLength(field: "NTHash", length: 15)),
        HexCase(hex: String(repeating: "ab", count: 17), expected: .invalidFieldLength(field: "NTHash", length: 17)),
        HexCase(hex: String(repeating: "ab", count: 32), expected: .invalidFieldLength(field: "NTHash", length: 32)),
        HexCase(hex: String(repeating: "a", count: 31), expected: .invalidString(field: "NTHash")),
        HexCase(hex: String(repeating: "a", count: 33), expected: .invalidString(field: "NTHash")),
        HexCase(hex: "zz" + String(repeating: "00", count: 15), expected: .invalidString(field: "NTHash")),
        HexCase(hex: String(repeating: "00", count: 15) + "0g", expected: .invalidString(field: "NTHash")),
        HexCase(hex: "0x" + String(repeating: "00", count: 15), expected: .invalidString(field: "NTHash")),
        HexCase(hex: " " + String(repeating: "0", count: 31), expected: .invalidString(field: "NTHash")),
        HexCase(hex: String(repeating: "00", count: 8) + ":" + String(repeating: "0", count: 15), expected: .invalidString(field: "NTHash")),
        HexCase(hex: "é" + String(repeating: "0", count: 30), expected: .invalidString(field: "NTHash")),
        HexCase(hex: "０" + String(repeating: "0", count: 29), expected: .invalidString(field: "NTHash")),
    ]

    @Test("NTHash(hex:) refuses bad hex and wrong lengths", arguments: badNTHashHex)
    func ntHashHex(_ test: HexCase) {
        #expect(throws: test.expected) { try NTHash(hex: test.hex) }
    }

    @Test("LMHash(hex:) and the byte initializers refuse bad input too")
    func lmHashAndBytes() throws {
        #expect(throws: NTLMError.invalidString(field: "LMHash")) { try LMHash(hex: "xyz") }
        #expect(throws: NTLMError.invalidFieldLength(field: "LMHash", length: 8)) { try LMHash(hex: String(repeating: "00", count: 8)) }
        #expect(throws: NTLMError.invalidFieldLength(field: "NTHash", length: 0)) { try NTHash(bytes: []) }
        #expect(throws: NTLMError.invalidFieldLength(field: "NTHash", length: 20)) { try NTHash(bytes: [UInt8](repeating: 0, count: 20)) }
        // Controls: either case of hex digits is fine.
        let lower = try NTHash(hex: "8846f7eaee8fb117ad06bdd830b7586c")
        #expect(try NTHash(hex: "8846F7EAEE8FB117AD06BDD830B7586C") == lower)
    }
}

// MARK: - Acceptor

extension MalformedInputTests {
    @Test("a Type 3 before any Type 2 is an unexpected message")
    func type3BeforeType2() throws {
        let handshake = try Fixture.handshake()
        var acceptor = NTLMAcceptor(policy: Fixture.acceptorPolicy)
        let expected = NTLMRejection.unexpectedMessage("AUTHENTICATE_MESSAGE without a preceding CHALLENGE_MESSAGE")
        #expect(throws: expected) { try acceptor.beginVerification(authenticate: handshake.type3, now: Fixture.now) }
        // Even a garbage Type 3 is refused for its timing, before it is parsed.
        var other = NTLMAcceptor(policy: Fixture.acceptorPolicy)
        #expect(throws: expected) { try other.beginVerification(authenticate: [0xFF], now: Fixture.now) }
        // completeVerification without a pending Type 3.
        var idle = NTLMAcceptor(policy: Fixture.acceptorPolicy)
        #expect(throws: NTLMRejection.unexpectedMessage("completeVerification without a pending AUTHENTICATE_MESSAGE")) {
            try idle.completeVerification(NTLMVerifiedUser(user: "alice", domain: "CORP", sessionBaseKey: nil))
        }
    }

    @Test("a replayed Type 3, after success or after a refusal, is an unexpected message")
    func replayedType3() throws {
        let handshake = try Fixture.handshake()
        let expected = NTLMRejection.unexpectedMessage("AUTHENTICATE_MESSAGE without a preceding CHALLENGE_MESSAGE")
        var acceptor = handshake.challengedAcceptor
        let user = try acceptor.accept(authenticate: handshake.type3, verifier: Fixture.store, now: Fixture.now)
        #expect(user.qualifiedName == "CORP\\alice")
        #expect(throws: expected) { try acceptor.beginVerification(authenticate: handshake.type3, now: Fixture.now) }

        var refused = handshake.challengedAcceptor
        #expect(throws: NTLMRejection.malformed(.badSignature)) { try refused.beginVerification(authenticate: [UInt8](repeating: 0, count: 16), now: Fixture.now) }
        #expect(throws: expected) { try refused.beginVerification(authenticate: handshake.type3, now: Fixture.now) }
    }

    struct Type1Case: Sendable, CustomTestStringConvertible {
        var name: String
        var bytes: [UInt8]
        var expected: NTLMError
        var testDescription: String { name }
    }

    static let malformedType1s: [Type1Case] = [
        Type1Case(name: "7 bytes", bytes: Array(ntlmSignature.prefix(7)), expected: .truncated(field: "Signature", offset: 0)),
        Type1Case(name: "header only", bytes: ntlmSignature + le32(1), expected: .truncated(field: "NegotiateFlags", offset: 12)),
        Type1Case(name: "cut in NegotiateFlags", bytes: ntlmSignature + le32(1) + [0x07, 0x82], expected: .truncated(field: "NegotiateFlags", offset: 12)),
        Type1Case(
            name: "domain past the end",
            bytes: ntlmSignature + le32(1) + le32(0x1000) + le16(4) + le16(4) + le32(40) + [UInt8](repeating: 0, count: 8) + Raw.versionBytes,
            expected: .payloadOutOfBounds(field: "DomainName", offset: 16, length: 4)),
        Type1Case(
            name: "workstation length 0xFFFF at offset 0xFFFFFFFF",
            bytes: ntlmSignature + le32(1) + le32(0x2000) + [UInt8](repeating: 0, count: 8) + le16(0xFFFF) + le16(0xFFFF) + le32(0xFFFF_FFFF),
            expected: .payloadOutOfBounds(field: "Workstation", offset: 24, length: 0xFFFF)),
    ]

    @Test("a malformed Type 1 makes the acceptor refuse and forget its state", arguments: malformedType1s)
    func malformedType1(_ input: Type1Case) throws {
        let expected = input.expected
        let handshake = try Fixture.handshake()
        var acceptor = handshake.challengedAcceptor
        #expect(throws: NTLMRejection.malformed(expected)) { try acceptor.challenge(negotiate: input.bytes) }
        // The previous challenge is gone: the old Type 3 no longer fits anywhere.
        #expect(throws: NTLMRejection.unexpectedMessage("AUTHENTICATE_MESSAGE without a preceding CHALLENGE_MESSAGE")) {
            try acceptor.beginVerification(authenticate: handshake.type3, now: Fixture.now)
        }
    }

    @Test("anonymous Type 3s are refused", arguments: [[], [0]] as [[UInt8]])
    func anonymousRefused(_ lm: [UInt8]) throws {
        var acceptor = try Fixture.challengedAcceptor()
        let bytes = Raw.type3(flags: Raw.unicodeFlags.union(.anonymous), lm: lm, nt: [], domain: [], user: [], workstation: [])
        #expect(throws: NTLMRejection.anonymousRefused) { try acceptor.beginVerification(authenticate: bytes, now: Fixture.now) }
    }

    @Test("an NTLMv1 (24-byte) response is refused by default")
    func ntlmv1Refused() throws {
        var acceptor = try Fixture.challengedAcceptor()
        let bytes = Raw.type3(lm: [UInt8](repeating: 0x11, count: 24), nt: [UInt8](repeating: 0x22, count: 24))
        #expect(throws: NTLMRejection.ntlmv1Refused) { try acceptor.beginVerification(authenticate: bytes, now: Fixture.now) }
        // And the real thing from our own initiator in NTLMv1 mode.
        let handshake = try Fixture.handshake(initiatorPolicy: NTLMInitiatorPolicy(responseMode: .ntlmv1))
        var real = handshake.challengedAcceptor
        #expect(throws: NTLMRejection.ntlmv1Refused) { try real.accept(authenticate: handshake.type3, verifier: Fixture.store, now: Fixture.now) }
    }

    @Test("an LM-only Type 3 is refused by default", arguments: ["alice", ""])
    func lmOnlyRefused(_ user: String) throws {
        var acceptor = try Fixture.challengedAcceptor()
        let bytes = Raw.type3(lm: [UInt8](repeating: 0x33, count: 24), nt: [], user: utf16(user))
        #expect(throws: NTLMRejection.lmRefused) { try acceptor.beginVerification(authenticate: bytes, now: Fixture.now) }
    }

    @Test("an NTLMv2 response shorter than NTProofStr + blob header is malformed", arguments: [1, 2, 8, 16, 23, 25, 32, 43])
    func ntlmv2ResponseTooShort(_ length: Int) throws {
        var acceptor = try Fixture.challengedAcceptor()
        let bytes = Raw.type3(lm: [UInt8](repeating: 0, count: 24), nt: [UInt8](repeating: 0x44, count: length))
        #expect(throws: NTLMRejection.malformed(.invalidFieldLength(field: "NtChallengeResponse", length: length))) {
            try acceptor.beginVerification(authenticate: bytes, now: Fixture.now)
        }
    }

    @Test("an NTLMv2 blob of exactly 28 bytes has no AV list, hence no MsvAvEOL")
    func ntlmv2BlobWithoutAVList() throws {
        var acceptor = try Fixture.challengedAcceptor()
        let bytes = Raw.type3(lm: [UInt8](repeating: 0, count: 24), nt: Raw.ntlmv2Response(avList: []))
        #expect(Raw.ntlmv2Response(avList: []).count == 44)
        #expect(throws: NTLMRejection.malformed(.avPairsNotTerminated)) { try acceptor.beginVerification(authenticate: bytes, now: Fixture.now) }
    }

    @Test("a timestamp outside the window is refused", arguments: [
        // (acceptor clock minus our Type 3's timestamp, in ticks; the sign says which way)
        Int64(Fixture.windowTicks) + 1, Int64(Fixture.day), 365 * Int64(Fixture.day), -Int64(Fixture.windowTicks) - 1, -Int64(Fixture.day),
    ])
    func timestampOutOfWindow(_ skew: Int64) throws {
        let handshake = try Fixture.handshake()
        var acceptor = handshake.challengedAcceptor
        let now = skew >= 0 ? Fixture.now + UInt64(skew) : Fixture.now - UInt64(-skew)
        #expect(throws: NTLMRejection.timestampOutOfWindow) { try acceptor.beginVerification(authenticate: handshake.type3, now: now) }
    }

    @Test("timestamps at the edges of the FILETIME range do not overflow the window check", arguments: [0, 1, UInt64.max - 1, UInt64.max])
    func extremeTimestamps(_ timestamp: UInt64) throws {
        var acceptor = try Fixture.challengedAcceptor()
        let bytes = Raw.type3(lm: [UInt8](repeating: 0, count: 24), nt: Raw.ntlmv2Response(timestamp: timestamp, avList: Raw.goodAVList))
        #expect(throws: NTLMRejection.timestampOutOfWindow) { try acceptor.beginVerification(authenticate: bytes, now: Fixture.now) }
    }

    @Test("a timestamp exactly at the window's edge passes the window check")
    func timestampAtWindowEdge() throws {
        let handshake = try Fixture.handshake()
        for now in [Fixture.now + Fixture.windowTicks, Fixture.now - Fixture.windowTicks] {
            var acceptor = handshake.challengedAcceptor
            let request = try acceptor.beginVerification(authenticate: handshake.type3, now: now)
            #expect(request.kind == .ntlmv2)
        }
    }

    @Test("MsvAvFlags announcing a MIC without a MIC field", arguments: [true, false])
    func micMissing(_ withVersion: Bool) throws {
        var acceptor = try Fixture.challengedAcceptor()
        let avList = avPair(2, utf16("CORP")) + avPair(6, le32(AVFlags.micPresent.rawValue)) + avEOL + [0, 0, 0, 0]
        let bytes = Raw.type3(lm: [UInt8](repeating: 0, count: 24), nt: Raw.ntlmv2Response(avList: avList), version: withVersion)
        #expect(try AuthenticateMessage(bytes: bytes).mic == nil)
        #expect(throws: NTLMRejection.micMissing) { try acceptor.beginVerification(authenticate: bytes, now: Fixture.now) }
    }

    @Test("a real Type 3 whose payload is moved in front of the MIC field loses its MIC")
    func micFieldShadowedByPayload() throws {
        // Point the session key descriptor at offset 80 (16 bytes, inside the MIC field): the
        // header now ends at 80, so there is no MIC field although MsvAvFlags announces one.
        let handshake = try Fixture.handshake()
        var bytes = handshake.type3
        overwrite(&bytes, at: 52, with: le16(16) + le16(16) + le32(80))
        var acceptor = handshake.challengedAcceptor
        #expect(throws: NTLMRejection.micMissing) { try acceptor.beginVerification(authenticate: bytes, now: Fixture.now) }
    }

    @Test("flipping any one bit of a MIC-protected Type 3 never gets it accepted", arguments: [0x01, 0x80] as [UInt8])
    func everyBitOfType3IsProtected(_ mask: UInt8) throws {
        let handshake = try Fixture.handshake()
        var untouched = handshake.challengedAcceptor
        #expect(try untouched.accept(authenticate: handshake.type3, verifier: Fixture.store, now: Fixture.now).qualifiedName == "CORP\\alice")
        for index in handshake.type3.indices {
            var bytes = handshake.type3
            bytes[index] ^= mask
            var acceptor = handshake.challengedAcceptor
            let result = Result { () throws(NTLMRejection) in try acceptor.accept(authenticate: bytes, verifier: Fixture.store, now: Fixture.now) }
            if case .success(let user) = result {
                Issue.record("Type 3 with byte \(index) ^ 0x\(String(mask, radix: 16)) was accepted as \(user)")
            }
        }
    }

    @Test("a zeroed MIC is refused after verification")
    func micZeroed() throws {
        let handshake = try Fixture.handshake()
        var bytes = handshake.type3
        overwrite(&bytes, at: 72, with: [UInt8](repeating: 0, count: 16))
        var acceptor = handshake.challengedAcceptor
        #expect(throws: NTLMRejection.micInvalid) { try acceptor.accept(authenticate: bytes, verifier: Fixture.store, now: Fixture.now) }
    }
}

// MARK: - Initiator

extension MalformedInputTests {
    @Test("the initiator refuses a Type 2 out of order and survives a malformed one")
    func initiatorState() throws {
        let handshake = try Fixture.handshake()
        var fresh = NTLMInitiator(credentials: Fixture.credentials)
        #expect(throws: NTLMError.invalidState("authenticate(challenge:) called before negotiate() or after completion")) {
            try fresh.authenticate(challenge: handshake.type2)
        }
        var initiator = handshake.negotiatedInitiator
        var broken = handshake.type2
        broken.removeLast()
        #expect(throws: NTLMError.payloadOutOfBounds(field: "TargetInfo", offset: 40, length: readLE16(handshake.type2, at: 40))) {
            try initiator.authenticate(challenge: broken)
        }
        // A malformed Type 2 does not consume the handshake: the real one still works.
        let type3 = try initiator.authenticate(challenge: handshake.type2, clientChallenge: Fixture.clientChallenge, exportedSessionKey: Fixture.randomSessionKey, now: Fixture.now)
        #expect(type3 == handshake.type3)
        #expect(throws: NTLMError.invalidState("authenticate(challenge:) called before negotiate() or after completion")) {
            try initiator.authenticate(challenge: handshake.type2)
        }
    }
}

// MARK: - NTLM inside SPNEGO (the DER itself is covered by the SPNEGO test files)

extension MalformedInputTests {
    static func spnegoInit(_ mechanisms: [SPNEGOMechanism] = [.ntlm], mechToken: [UInt8]?) throws -> [UInt8] {
        try SPNEGOToken.initial(NegTokenInit(mechTypes: mechanisms.map(\.oid), mechToken: mechToken)).serialize()
    }

    static func spnegoResponse(
        negState: NegTokenResp.NegState? = nil, supportedMech: SPNEGOMechanism? = nil, responseToken: [UInt8]?
    ) throws -> [UInt8] {
        try SPNEGOToken.response(NegTokenResp(negState: negState, supportedMech: supportedMech?.oid, responseToken: responseToken)).serialize()
    }

    @Test("SPNEGOAcceptor.challenge refuses malformed tokens and malformed Type 1s inside them")
    func spnegoAcceptorChallenge() throws {
        let type1 = try Fixture.handshake().type1
        let type3 = try Fixture.handshake().type3
        let cases: [(String, [UInt8], NTLMRejection)] = [
            ("empty token", [], .malformed(.spnego(.emptyToken))),
            ("a raw NTLM Type 1", type1, .malformed(.spnego(.notSPNEGO))),
            ("64 KiB + 1", [0x60] + [UInt8](repeating: 0, count: SPNEGOToken.defaultMaximumTokenSize), .malformed(.spnego(.tokenTooLarge(size: SPNEGOToken.defaultMaximumTokenSize + 1, limit: SPNEGOToken.defaultMaximumTokenSize)))),
            ("a NegTokenResp", try Self.spnegoResponse(responseToken: type1), .malformed(.spnego(.missingField("negTokenInit")))),
            ("Kerberos only", try Self.spnegoInit([.kerberos5, .microsoftKerberos5], mechToken: [0x6E, 0x00]), .malformed(.spnego(.noAcceptableMechanism))),
            ("truncated Type 1", try Self.spnegoInit(mechToken: Array(type1.prefix(14))), .malformed(.truncated(field: "NegotiateFlags", offset: 12))),
            ("Type 1 with a bad signature", try Self.spnegoInit(mechToken: [0x00] + type1.dropFirst()), .malformed(.badSignature)),
            ("a Type 3 as mechToken", try Self.spnegoInit(mechToken: type3), .malformed(.wrongMessageType(expected: 1, actual: 3))),
            ("empty mechToken", try Self.spnegoInit(mechToken: []), .malformed(.truncated(field: "Signature", offset: 0))),
        ]
        for (name, token, expected) in cases {
            var acceptor = SPNEGOAcceptor(ntlm: NTLMAcceptor(policy: Fixture.acceptorPolicy))
            #expect(throws: expected, "\(name)") { try acceptor.challenge(token) }
        }
    }

    @Test("SPNEGOAcceptor.beginVerification refuses tokens out of order and malformed Type 3s inside them")
    func spnegoAcceptorVerification() throws {
        let handshake = try Fixture.handshake()
        var fresh = SPNEGOAcceptor(ntlm: NTLMAcceptor(policy: Fixture.acceptorPolicy))
        #expect(throws: NTLMRejection.unexpectedMessage("SPNEGO response token without a preceding challenge")) {
            try fresh.beginVerification(try Self.spnegoResponse(responseToken: handshake.type3))
        }

        var challenged = SPNEGOAcceptor(ntlm: NTLMAcceptor(policy: Fixture.acceptorPolicy))
        _ = try challenged.challenge(try Self.spnegoInit(mechToken: handshake.type1))
        let v1 = Raw.type3(lm: [UInt8](repeating: 1, count: 24), nt: [UInt8](repeating: 2, count: 24))
        let cases: [(String, [UInt8], NTLMRejection)] = [
            ("empty token", [], .malformed(.spnego(.emptyToken))),
            ("a raw NTLM Type 3", handshake.type3, .malformed(.spnego(.notSPNEGO))),
            ("a NegTokenInit", try Self.spnegoInit(mechToken: handshake.type3), .malformed(.spnego(.missingField("negTokenResp")))),
            ("no responseToken", try Self.spnegoResponse(negState: .acceptIncomplete, responseToken: nil), .malformed(.spnego(.missingField("responseToken")))),
            ("Type 3 cut in NegotiateFlags", try Self.spnegoResponse(responseToken: Array(handshake.type3.prefix(62))), .malformed(.truncated(field: "NegotiateFlags", offset: 60))),
            ("Type 3 with a bad signature", try Self.spnegoResponse(responseToken: [0x00] + handshake.type3.dropFirst()), .malformed(.badSignature)),
            ("a Type 2 as responseToken", try Self.spnegoResponse(responseToken: handshake.type2), .malformed(.wrongMessageType(expected: 3, actual: 2))),
            ("an NTLMv1 Type 3", try Self.spnegoResponse(responseToken: v1), .ntlmv1Refused),
        ]
        for (name, token, expected) in cases {
            var acceptor = challenged
            #expect(throws: expected, "\(name)") { try acceptor.beginVerification(token) }
        }
    }

    @Test("SPNEGOInitiator.step refuses malformed tokens and malformed Type 2s inside them")
    func spnegoInitiatorStep() throws {
        let handshake = try Fixture.handshake()
        var waiting = SPNEGOInitiator(ntlm: NTLMInitiator(credentials: Fixture.credentials))
        _ = try waiting.initialToken()
        let brokenType2 = Raw.type2(targetInfo: avPair(2, utf16("CORP")))  // no MsvAvEOL
        let cases: [(String, [UInt8], NTLMError)] = [
            ("empty token", [], .spnego(.emptyToken)),
            ("a raw NTLM Type 2", handshake.type2, .spnego(.notSPNEGO)),
            ("a NegTokenInit", try Self.spnegoInit(mechToken: handshake.type2), .spnego(.unexpectedChoice(tag: SPNEGOToken.negTokenInitIdentifier))),
            ("reject", try Self.spnegoResponse(negState: .reject, responseToken: nil), .spnego(.noAcceptableMechanism)),
            ("Kerberos chosen", try Self.spnegoResponse(negState: .acceptIncomplete, supportedMech: .kerberos5, responseToken: handshake.type2), .spnego(.noAcceptableMechanism)),
            ("no responseToken", try Self.spnegoResponse(negState: .acceptIncomplete, supportedMech: .ntlm, responseToken: nil), .spnego(.missingField("responseToken"))),
            ("Type 2 without MsvAvEOL", try Self.spnegoResponse(negState: .acceptIncomplete, supportedMech: .ntlm, responseToken: brokenType2), .avPairsNotTerminated),
            ("Type 2 cut in ServerChallenge", try Self.spnegoResponse(negState: .acceptIncomplete, supportedMech: .ntlm, responseToken: Array(handshake.type2.prefix(30))), .truncated(field: "ServerChallenge", offset: 24)),
            ("a Type 1 as responseToken", try Self.spnegoResponse(negState: .acceptIncomplete, supportedMech: .ntlm, responseToken: handshake.type1), .wrongMessageType(expected: 2, actual: 1)),
        ]
        for (name, token, expected) in cases {
            var initiator = waiting
            #expect(throws: expected, "\(name)") { try initiator.step(token) }
        }
        var notStarted = SPNEGOInitiator(ntlm: NTLMInitiator(credentials: Fixture.credentials))
        #expect(throws: NTLMError.invalidState("SPNEGO token received in the wrong state")) {
            try notStarted.step(try Self.spnegoResponse(negState: .acceptIncomplete, supportedMech: .ntlm, responseToken: handshake.type2))
        }
    }
}

// MARK: - Huge inputs (bounded work, no crash; no timing assertions)

extension MalformedInputTests {
    @Test("10,000 AV pairs, with and without MsvAvEOL")
    func tenThousandAVPairs() throws {
        let pairs = (0..<10_000).flatMap { avPair(UInt16(0x100 + $0 % 7), []) }
        #expect(try TargetInfo(bytes: pairs + avEOL).pairs.count == 10_000)
        #expect(throws: NTLMError.avPairsNotTerminated) { try TargetInfo(bytes: pairs) }
        #expect(throws: NTLMError.avPairTruncated(offset: 40_000)) { try TargetInfo(bytes: pairs + [0, 0]) }
        // A 1 MiB list: 262,143 empty pairs and MsvAvEOL.
        let list = [[UInt8]](repeating: avPair(0x0101, []), count: (1 << 18) - 1).flatMap { $0 } + avEOL
        #expect(list.count == 1 << 20)
        #expect(try TargetInfo(bytes: list).pairs.count == (1 << 18) - 1)
    }

    @Test("an NTLMv2 blob with 10,000 AV pairs reaches the verifier")
    func acceptorWithTenThousandAVPairs() throws {
        let avList = (0..<10_000).flatMap { _ in avPair(0x0101, []) } + avEOL + [0, 0, 0, 0]
        let bytes = Raw.type3(lm: [UInt8](repeating: 0, count: 24), nt: Raw.ntlmv2Response(avList: avList))
        var acceptor = try Fixture.challengedAcceptor()
        #expect(throws: NTLMRejection.invalidResponse(domain: "CORP", user: "alice")) {
            try acceptor.accept(authenticate: bytes, verifier: Fixture.store, now: Fixture.now)
        }
    }

    @Test("a Type 2 with the largest possible TargetInfo")
    func maximalTargetInfo() throws {
        // 16,379 empty pairs + MsvAvTimestamp + MsvAvEOL = 65,532 bytes, just under the 16-bit limit.
        let list = (0..<16_379).flatMap { _ in avPair(0x0101, []) } + avPair(7, le64(Fixture.now)) + avEOL
        #expect(list.count <= 0xFFFF)
        let type2 = Raw.type2(targetInfo: list)
        let parsed = try ChallengeMessage(bytes: type2)
        #expect(parsed.targetInfo?.pairs.count == 16_380)

        // The initiator adds MsvAvFlags, MsvAvChannelBindings and the blob header, which pushes
        // its NtChallengeResponse past the 16-bit length field. It must refuse (any NTLMError)
        // rather than send a Type 3 whose length field silently wrapped.
        var initiator = try Fixture.handshake().negotiatedInitiator
        let result = Result { () throws(NTLMError) -> [UInt8] in
            try initiator.authenticate(challenge: type2, clientChallenge: Fixture.clientChallenge, exportedSessionKey: Fixture.randomSessionKey, now: Fixture.now)
        }
        if case .success(let type3) = result {
            let message = try AuthenticateMessage(bytes: type3)
            #expect(
                message.ntChallengeResponse.count >= 16 + 28 + list.count,
                "the Type 3's NtChallengeResponse is \(message.ntChallengeResponse.count) bytes: its 16-bit length wrapped")
        }
    }

    @Test("1 MiB messages: garbage, zeros behind a valid header, and trailing junk")
    func oneMebibyteMessages() throws {
        let size = 1 << 20
        var rng = SplitMix64(seed: 0x1_0000)
        let garbage = [0x4E] + rng.bytes(size - 1)  // starts like "N" but is not NTLMSSP
        for kind in Kind.allCases {
            #expect(throws: NTLMError.badSignature) { try Self.parse(kind, garbage) }
        }
        #expect(throws: NTLMError.avPairTruncated(offset: 0)) { try TargetInfo(bytes: [0x01, 0x00, 0xFF, 0xFF] + rng.bytes(100)) }

        // A Type 3 header with every payload empty except the user name at the very end of 1 MiB.
        var type3 = ntlmSignature + le32(3) + [UInt8](repeating: 0, count: size - 12)
        let user = utf16("alice")
        overwrite(&type3, at: 36, with: le16(UInt16(user.count)) + le16(UInt16(user.count)) + le32(UInt32(size - user.count)))
        overwrite(&type3, at: size - user.count, with: user)
        overwrite(&type3, at: 60, with: le32(Raw.unicodeFlags.rawValue))
        let message = try AuthenticateMessage(bytes: type3)
        #expect(message.user == "alice")
        var acceptor = try Fixture.challengedAcceptor()
        #expect(throws: NTLMRejection.malformed(.tooLarge(field: "AUTHENTICATE_MESSAGE", length: size, limit: NTLMAcceptorPolicy.default.maximumMessageBytes))) {
            try acceptor.beginVerification(authenticate: type3, now: Fixture.now)
        }

        // A Type 1 followed by 1 MiB of junk: no parser has a size limit of its own (the HTTP
        // layer bounds header sizes), so this is answered or refused as too large, never trapped.
        let type1 = try Fixture.handshake().type1 + [UInt8](repeating: 0xEE, count: size)
        var fresh = NTLMAcceptor(policy: Fixture.acceptorPolicy)
        let outcome = Result { () throws(NTLMRejection) -> [UInt8] in try fresh.challenge(negotiate: type1) }
        switch outcome {
        case .success(let type2): #expect(try ChallengeMessage(bytes: type2).serverChallenge.count == 8)
        case .failure(.malformed(.tooLarge)): break
        case .failure(let other): Issue.record("unexpected rejection \(other)")
        }
    }

    @Test("signatures of the wrong size and huge messages to a session")
    func sessionVerifyWithJunk() throws {
        let handshake = try Fixture.handshake()
        var acceptor = handshake.challengedAcceptor
        _ = try acceptor.accept(authenticate: handshake.type3, verifier: Fixture.store, now: Fixture.now)
        var session = try #require(acceptor.session)
        let mismatch = NTLMError.invalidState("message signature does not match")
        #expect(throws: mismatch) { try session.verify(signature: [], for: [1, 2, 3]) }
        #expect(throws: mismatch) { try session.verify(signature: [UInt8](repeating: 0, count: 15), for: []) }
        #expect(throws: mismatch) { try session.unseal([UInt8](repeating: 0xAB, count: 1 << 20), signature: [UInt8](repeating: 0, count: 16)) }
    }
}

// MARK: - Fuzz-ish: random bytes and single-byte mutations

extension MalformedInputTests {
    /// Everything a peer's bytes can reach, with counts of what happened.
    fileprivate struct Exerciser {
        let handshake: Fixture.Handshake
        /// An SPNEGO initiator that sent its NegTokenInit and waits for the NegTokenResp.
        let spnegoInitiator: SPNEGOInitiator
        /// An SPNEGO acceptor that answered a NegTokenInit and waits for the Type 3.
        let spnegoAcceptor: SPNEGOAcceptor
        var outcomes: [String: Int] = [:]

        mutating func count(_ label: String) { outcomes[label, default: 0] += 1 }

        /// The case name of an error, for the statistics. Mirror rather than an exhaustive
        /// switch, so that a case added to the error enums does not break this file.
        static func caseName(_ value: Any) -> String {
            Mirror(reflecting: value).children.first?.label ?? "\(value)"
        }

        static func name(_ error: NTLMError) -> String {
            if case .spnego(let inner) = error { return "spnego." + caseName(inner) }
            return caseName(error)
        }

        static func name(_ rejection: NTLMRejection) -> String {
            if case .malformed(let error) = rejection { return "malformed." + name(error) }
            return caseName(rejection)
        }

        /// Feeds `bytes` to every parser, to an acceptor (as Type 1 and as Type 3) and to an
        /// initiator (as Type 2). Only typed errors can come back (the closures are typed);
        /// a trap would end the test process. Returns whether the acceptor accepted it as Type 3.
        @discardableResult
        mutating func exercise(_ bytes: [UInt8]) -> Bool {
            switch Result(catching: { () throws(NTLMError) in try NegotiateMessage(bytes: bytes) }) {
            case .success(let message):
                count("Type1.ok")
                reparse { () throws(NTLMError) in _ = try NegotiateMessage(bytes: message.serialize()) }
            case .failure(let error): count("Type1." + Self.name(error))
            }
            switch Result(catching: { () throws(NTLMError) in try ChallengeMessage(bytes: bytes) }) {
            case .success(let message):
                count("Type2.ok")
                _ = message.targetInfo
                reparse { () throws(NTLMError) in _ = try ChallengeMessage(bytes: message.serialize()) }
            case .failure(let error): count("Type2." + Self.name(error))
            }
            switch Result(catching: { () throws(NTLMError) in try AuthenticateMessage(bytes: bytes) }) {
            case .success(let message):
                count("Type3.ok")
                reparse { () throws(NTLMError) in _ = try AuthenticateMessage(bytes: message.serialize()) }
            case .failure(let error): count("Type3." + Self.name(error))
            }
            switch Result(catching: { () throws(NTLMError) in try TargetInfo(bytes: bytes) }) {
            case .success(let info):
                count("TargetInfo.ok")
                _ = (info.timestamp, info.flags, info.nbComputerName, info.channelBindings, info.bytes)
            case .failure(let error): count("TargetInfo." + Self.name(error))
            }
            _ = try? ntlmMessageType(of: bytes)

            var fresh = NTLMAcceptor(policy: Fixture.acceptorPolicy)
            switch Result(catching: { () throws(NTLMRejection) in
                try fresh.challenge(negotiate: bytes, serverChallenge: Fixture.serverChallenge, now: Fixture.now)
            }) {
            case .success(let type2):
                count("acceptor.challenge.ok")
                if (try? ChallengeMessage(bytes: type2)) == nil { Issue.record("the acceptor produced an unparseable Type 2 for \(bytes.hex)") }
            case .failure(let rejection): count("acceptor.challenge." + Self.name(rejection))
            }

            var acceptor = handshake.challengedAcceptor
            let accepted: Bool
            switch Result(catching: { () throws(NTLMRejection) in
                try acceptor.accept(authenticate: bytes, verifier: Fixture.store, now: Fixture.now)
            }) {
            case .success:
                count("acceptor.accept.ok")
                accepted = true
            case .failure(let rejection):
                count("acceptor.accept." + Self.name(rejection))
                accepted = false
            }

            var initiator = handshake.negotiatedInitiator
            switch Result(catching: { () throws(NTLMError) in
                try initiator.authenticate(challenge: bytes, clientChallenge: Fixture.clientChallenge, exportedSessionKey: Fixture.randomSessionKey, now: Fixture.now)
            }) {
            case .success(let type3):
                count("initiator.ok")
                if (try? AuthenticateMessage(bytes: type3)) == nil { Issue.record("the initiator produced an unparseable Type 3 for \(bytes.hex)") }
            case .failure(let error): count("initiator." + Self.name(error))
            }

            // The same bytes as SPNEGO tokens, at each NTLM-level SPNEGO entry point.
            var spnegoFresh = SPNEGOAcceptor(ntlm: NTLMAcceptor(policy: Fixture.acceptorPolicy))
            switch Result(catching: { () throws(NTLMRejection) in try spnegoFresh.challenge(bytes) }) {
            case .success: count("spnegoAcceptor.challenge.ok")
            case .failure(let rejection): count("spnegoAcceptor.challenge." + Self.name(rejection))
            }
            var spnegoAcceptor = spnegoAcceptor
            switch Result(catching: { () throws(NTLMRejection) in try spnegoAcceptor.accept(bytes, verifier: Fixture.store) }) {
            case .success: count("spnegoAcceptor.accept.ok")
            case .failure(let rejection): count("spnegoAcceptor.accept." + Self.name(rejection))
            }
            var spnegoInitiator = spnegoInitiator
            switch Result(catching: { () throws(NTLMError) in try spnegoInitiator.step(bytes) }) {
            case .success: count("spnegoInitiator.step.ok")
            case .failure(let error): count("spnegoInitiator.step." + Self.name(error))
            }
            return accepted
        }

        /// A message we parsed must serialize to something we can parse again.
        func reparse(_ body: () throws(NTLMError) -> Void) {
            do {
                try body()
            } catch {
                Issue.record("a parsed message did not survive serialize → parse: \(error)")
            }
        }
    }

    static var fuzzSeed: UInt64 {
        if let text = ProcessInfo.processInfo.environment["NTLM_FUZZ_SEED"] {
            let trimmed = text.hasPrefix("0x") ? String(text.dropFirst(2)) : text
            if let value = UInt64(trimmed, radix: text.hasPrefix("0x") ? 16 : 10) { return value }
        }
        return 0x4E54_4C4D_5353_5000  // "NTLMSSP\0"
    }

    /// One random input: pure noise, a valid signature and type then noise, a header with
    /// plausible descriptors pointing into the message, or an AV pair list.
    fileprivate static func randomInput(_ rng: inout SplitMix64) -> [UInt8] {
        switch rng.below(4) {
        case 0:
            return rng.bytes(rng.below(160))
        case 1:
            return ntlmSignature + le32(UInt32(1 + rng.below(3))) + rng.bytes(rng.below(200))
        case 2:
            // A header of a plausible size for its type with descriptors of interesting
            // lengths (empty, LM/NTLMv1-sized, around the NTLMv2 minimum) mostly in bounds.
            let type = 1 + rng.below(3)
            let headerChoices = [[32, 40], [32, 48, 56], [64, 72, 88]][type - 1]
            let headerLength = headerChoices[rng.below(headerChoices.count)]
            let total = headerLength + rng.below(256)
            var bytes = ntlmSignature + le32(UInt32(type)) + rng.bytes(total - 12)
            for at in stride(from: 12, through: min(headerLength - 8, 52), by: 8) where rng.below(16) != 0 {
                let wanted = type == 3 && at == 52
                    ? [0, 16, 15][rng.below(3)]  // EncryptedRandomSessionKey: mostly a valid size
                    : [0, 1, 8, 16, 24, 43, 44, 48, 64, rng.below(200)][rng.below(10)]
                let length = min(wanted, total)
                let offset = rng.below(8) == 0 ? rng.below(total + 8) : rng.below(total - length + 1)
                let maxLength = rng.below(2) == 0 ? UInt16(length) : UInt16(truncatingIfNeeded: rng.next())
                overwrite(&bytes, at: at, with: le16(UInt16(length)) + le16(maxLength) + le32(UInt32(offset)))
            }
            if type == 3 && rng.below(2) == 0 {
                overwrite(&bytes, at: 60, with: le32(Raw.unicodeFlags.subtracting(.unicode).union(.oem).rawValue))  // OEM: names always decode
            }
            return bytes
        default:
            var list: [UInt8] = []
            for _ in 0..<rng.below(8) {
                let id = UInt16(rng.below(12))
                let nominal = [0, 4, 8, 16, 48][rng.below(5)]
                let length = max(0, nominal + rng.below(3) - 1)
                list += avPair(id, rng.bytes(length))
            }
            if rng.below(2) == 0 { list += avEOL }
            if rng.below(4) == 0 { list = Array(list.prefix(rng.below(list.count + 1))) }
            return list
        }
    }

    @Test("5,000 random inputs and 5,000 + 2,000 (SPNEGO-wrapped) single-byte mutations of valid messages never trap")
    func fuzz() throws {
        let seed = Self.fuzzSeed
        print("MalformedInputTests.fuzz seed: 0x\(String(seed, radix: 16)) (set NTLM_FUZZ_SEED to reproduce another run)")
        var rng = SplitMix64(seed: seed)
        let handshake = try Fixture.handshake()
        var spnegoInitiator = SPNEGOInitiator(ntlm: NTLMInitiator(credentials: Fixture.credentials))
        let initToken = try spnegoInitiator.initialToken()
        // SPNEGOAcceptor draws its own server challenge; that changes MIC and proof values from
        // run to run, never which parsing paths the inputs take.
        var spnegoAcceptor = SPNEGOAcceptor(ntlm: NTLMAcceptor(policy: Fixture.acceptorPolicy))
        _ = try spnegoAcceptor.challenge(initToken)
        var exerciser = Exerciser(handshake: handshake, spnegoInitiator: spnegoInitiator, spnegoAcceptor: spnegoAcceptor)

        for _ in 0..<5_000 {
            exerciser.exercise(Self.randomInput(&rng))
        }

        let originals = [handshake.type1, Fixture.type1WithNames, handshake.type2, handshake.type3]
        var mutatedType3 = 0
        for _ in 0..<5_000 {
            let which = rng.below(originals.count)
            var bytes = originals[which]
            let index = rng.below(bytes.count)
            bytes[index] ^= UInt8(1 + rng.below(255))  // always a different byte
            let accepted = exerciser.exercise(bytes)
            if which == 3 {
                mutatedType3 += 1
                // Every byte of the Type 3 is covered by the MIC (or the NTProofStr), so no
                // single-byte change may be accepted.
                #expect(!accepted, "mutated Type 3 accepted: byte \(index) now \(bytes[index]) (seed 0x\(String(seed, radix: 16)))")
            }
        }

        // 2,000 more single-byte mutations of the same messages inside SPNEGO tokens.
        let ntlmOID = SPNEGOMechanism.ntlm.oid
        let wrapped = [
            initToken,
            try SPNEGOToken.response(NegTokenResp(negState: .acceptIncomplete, supportedMech: ntlmOID, responseToken: handshake.type2)).serialize(),
            try SPNEGOToken.response(NegTokenResp(responseToken: handshake.type3, mechListMIC: [UInt8](repeating: 0x01, count: 16))).serialize(),
        ]
        for _ in 0..<2_000 {
            var bytes = wrapped[rng.below(wrapped.count)]
            bytes[rng.below(bytes.count)] ^= UInt8(1 + rng.below(255))
            exerciser.exercise(bytes)
        }

        #expect(mutatedType3 > 0)
        // The inputs must actually reach past the signature check, or the run proves little.
        #expect(exerciser.outcomes["Type3.ok", default: 0] > 100)
        for (label, count) in exerciser.outcomes.sorted(by: { $0.key < $1.key }) {
            print("  \(label): \(count)")
        }
    }
}
