import SwiftASN1
import Testing

@testable import NTLM

/// Parses a hex string (whitespace ignored) into bytes. Test-only helper; malformed input
/// records an issue and yields an empty array.
fileprivate func spnegoHex(_ s: String, sourceLocation: SourceLocation = #_sourceLocation) -> [UInt8] { hexBytes(s, sourceLocation: sourceLocation) }

/// Decodes `bytes` and returns the error, or `nil` if it decoded.
fileprivate func spnegoDecodeError(_ bytes: [UInt8], limit: Int = SPNEGOToken.defaultMaximumTokenSize) -> SPNEGOError? {
    do {
        _ = try SPNEGOToken(derEncoded: bytes, maximumTokenSize: limit)
        return nil
    } catch {
        return error
    }
}

fileprivate func contextTag(_ number: UInt) -> ASN1Identifier {
    ASN1Identifier(tagWithNumber: number, tagClass: .contextSpecific)
}

/// Tokens captured from a real pyspnego 0.12.4 exchange: `spnego.client("DOMAIN\\user", ...,
/// protocol="negotiate")` against `spnego.server(protocol="negotiate")` with NTLM_USER_FILE
/// holding `DOMAIN:user:Passw0rd!` (no Kerberos on the machine, so pyspnego negotiates NTLM
/// inside SPNEGO). Field values are what `spnego._spnego.unpack_token` reported.
fileprivate enum Captured {
    /// Client → server: InitialContextToken { SPNEGO, [0] NegTokenInit { mechTypes [NTLM],
    /// mechToken Type 1 } }.
    static let clientInit = spnegoHex("""
        604806062b0601050502a03e303ca00e300c060a2b06010401823702020aa22a04284e544c4d53535000
        01000000378208e200000000280000000000000028000000000c04000000000f
        """)
    static let type1 = spnegoHex("""
        4e544c4d5353500001000000378208e200000000280000000000000028000000000c04000000000f
        """)

    /// Server → client: [1] NegTokenResp { negState request-mic (3), supportedMech NTLM,
    /// responseToken Type 2 }.
    static let serverChallenge = spnegoHex("""
        a1819030818da0030a0103a10c060a2b06010401823702020aa27804764e544c4d5353500002000000040004
        003800000035828ae2fb61c40f2d87627d00000000000000003a003a003c000000000c04000000000f5600
        4d000100040056004d000200160057004f0052004b00530054004100540049004f004e0003000400760
        06d00070008008230d60db87cdd0100000000
        """)
    static let type2 = spnegoHex("""
        4e544c4d5353500002000000040004003800000035828ae2fb61c40f2d87627d00000000000000003a00
        3a003c000000000c04000000000f56004d000100040056004d000200160057004f0052004b00530054004
        100540049004f004e000300040076006d00070008008230d60db87cdd0100000000
        """)

    /// Client → server: [1] NegTokenResp { negState accept-incomplete (1), responseToken
    /// Type 3 (308 bytes, so two-octet lengths), mechListMIC }.
    static let clientAuthenticate = spnegoHex("""
        a182015930820155a0030a0101a2820138048201344e544c4d535350000300000018001800580000009c009c
        00700000000c000c000c01000008000800180100000400040020010000100010002401000035828ae2000c04
        000000000f6af6c049dfe1cba6de3a13753942a8f40000000000000000000000000000000000000000000000
        005b427d3b4fc0c4a1a9f7e871f66d3c9b01010000000000008230d60db87cdd01eecfc9c4c733439e000000
        000100040056004d000200160057004f0052004b00530054004100540049004f004e000300040076006d0007
        0008008230d60db87cdd010900260048005400540050002f007300650072007600650072002e006500780061
        006d0070006c0065000600040002000000000000000000000044004f004d00410049004e0075007300650072
        0056004d00188747dd6704e8a7ea5305a27831a586a312041001000000c1cb8ede794749e700000000
        """)
    static let type3 = spnegoHex("""
        4e544c4d535350000300000018001800580000009c009c00700000000c000c000c0100000800080018010000
        0400040020010000100010002401000035828ae2000c04000000000f6af6c049dfe1cba6de3a13753942a8
        f40000000000000000000000000000000000000000000000005b427d3b4fc0c4a1a9f7e871f66d3c9b0101
        0000000000008230d60db87cdd01eecfc9c4c733439e000000000100040056004d000200160057004f00520
        04b00530054004100540049004f004e000300040076006d00070008008230d60db87cdd0109002600480054
        00540050002f007300650072007600650072002e006500780061006d0070006c006500060004000200000
        0000000000000000044004f004d00410049004e00750073006500720056004d00188747dd6704e8a7ea5305
        a27831a586
        """)
    static let clientMIC = spnegoHex("01000000c1cb8ede794749e700000000")

    /// Server → client: [1] NegTokenResp { negState accept-completed (0), mechListMIC }.
    static let serverComplete = spnegoHex("a11b3019a0030a0100a3120410010000008887cc767318a04500000000")
    static let serverMIC = spnegoHex("010000008887cc767318a04500000000")
}

/// Tokens packed by pyspnego 0.12.4 (`spnego._spnego.NegTokenInit(...).pack()`,
/// `NegTokenResp(...).pack()`, `pack_mech_type_list(...)`) from the values stated.
fileprivate enum Packed {
    static let ntlm: ASN1ObjectIdentifier = [1, 3, 6, 1, 4, 1, 311, 2, 2, 10]
    static let kerberos5: ASN1ObjectIdentifier = [1, 2, 840, 113_554, 1, 2, 2]
    static let msKerberos5: ASN1ObjectIdentifier = [1, 2, 840, 48_018, 1, 2, 2]
    static let kerberos5U2U: ASN1ObjectIdentifier = [1, 2, 840, 113_554, 1, 2, 2, 3]
    static let negoex: ASN1ObjectIdentifier = [1, 3, 6, 1, 4, 1, 311, 2, 2, 30]

    /// The NegTokenInit2 Windows acceptors send: mechTypes [NEGOEX, MS-KRB5, KRB5, KRB5-U2U,
    /// NTLM], negHints { hintName "not_defined_in_RFC4178@please_ignore" }.
    /// `NegTokenInit([NEGOEX, MSKRB, KRB5, KRB5U2U, NTLM], hint_name=b"not_defined_in_RFC4178@please_ignore")`
    static let windowsInit2 = spnegoHex("""
        607606062b0601050502a06c306aa03c303a060a2b06010401823702021e06092a864882f7120102020609
        2a864886f712010202060a2a864886f71201020203060a2b06010401823702020aa32a3028a0261b246e6f
        745f646566696e65645f696e5f5246433431373840706c656173655f69676e6f7265
        """)

    /// `NegTokenInit([MSKRB, KRB5, NTLM], req_flags=ContextFlags(0x22),
    /// mech_token=b"NTLMSSP\0\1\0\0\0", mech_list_mic=bytes(range(16)))`: every RFC 4178 field.
    /// (pyspnego packs reqFlags as one byte with no padding bits: BIT STRING 00 22.)
    static let fullInit = spnegoHex("""
        605c06062b0601050502a0523050a024302206092a864882f71201020206092a864886f712010202060a2b
        06010401823702020aa10403020022a20e040c4e544c4d5353500001000000a31204100001020304050607
        08090a0b0c0d0e0f
        """)

    /// `NegTokenInit([NTLM], mech_token=b"\xaa\xbb", hint_name=b"host/server.example@EXAMPLE.COM",
    /// hint_address=b"\1\2\3\4", mech_list_mic=b"U"*16)`: NegTokenInit2 with every field, MIC at [4].
    static let fullInit2 = spnegoHex("""
        606506062b0601050502a05b3059a00e300c060a2b06010401823702020aa2040402aabba32d302ba0211b
        1f686f73742f7365727665722e6578616d706c65404558414d504c452e434f4da106040401020304a41204
        1055555555555555555555555555555555
        """)

    /// `NegTokenResp(NegState.reject).pack()`.
    static let reject = spnegoHex("a1073005a0030a0102")

    /// `pack_mech_type_list(["1.3.6.1.4.1.311.2.2.10"])`.
    static let mechTypeListNTLM = spnegoHex("300c060a2b06010401823702020a")
    /// `pack_mech_type_list([MSKRB, KRB5, NTLM])`.
    static let mechTypeListThree = spnegoHex("""
        302206092a864882f71201020206092a864886f712010202060a2b06010401823702020a
        """)

    /// Header of `NegTokenResp(accept_incomplete, NTLM, bytes(range(256)) * 2).pack()` (547
    /// bytes); the 512 payload bytes follow it. Exercises 0x82 lengths at three levels.
    static let bigResponseHeader = spnegoHex("""
        a182021f3082021ba0030a0101a10c060a2b06010401823702020aa282020404820200
        """)
    static var bigPayload: [UInt8] { (0..<512).map { UInt8(truncatingIfNeeded: $0) } }
}

@Suite("SPNEGO tokens")
struct SPNEGOTests {
    // MARK: - Captured pyspnego exchange

    @Test("pyspnego's initial NegTokenInit decodes field by field")
    func decodeCapturedInit() throws {
        let token = try SPNEGOToken(derEncoded: Captured.clientInit)
        let initial = try #require(token.negTokenInit)
        #expect(initial.mechTypes == [SPNEGOMechanism.ntlm.oid])
        #expect(initial.knownMechanisms == [.ntlm])
        #expect(initial.reqFlags == nil)
        #expect(initial.mechToken == Captured.type1)
        #expect(initial.negHints == nil)
        #expect(initial.mechListMIC == nil)
        #expect(token.negTokenResp == nil)
        #expect(try initial.mechTypeListDER == Packed.mechTypeListNTLM)
    }

    @Test("pyspnego's request-mic challenge decodes field by field")
    func decodeCapturedChallenge() throws {
        let token = try SPNEGOToken(derEncoded: Captured.serverChallenge)
        let response = try #require(token.negTokenResp)
        #expect(response.negState == .requestMIC)
        #expect(response.supportedMech == SPNEGOMechanism.ntlm.oid)
        #expect(response.supportedMechanism == .ntlm)
        #expect(response.responseToken == Captured.type2)
        #expect(response.mechListMIC == nil)
    }

    @Test("pyspnego's accept-incomplete with Type 3 and mechListMIC decodes field by field")
    func decodeCapturedAuthenticate() throws {
        let token = try SPNEGOToken(derEncoded: Captured.clientAuthenticate)
        let response = try #require(token.negTokenResp)
        #expect(response.negState == .acceptIncomplete)
        #expect(response.supportedMech == nil)
        #expect(response.responseToken == Captured.type3)
        #expect(response.responseToken?.count == 308)
        #expect(response.mechListMIC == Captured.clientMIC)
    }

    @Test("pyspnego's accept-completed with mechListMIC decodes field by field")
    func decodeCapturedComplete() throws {
        let token = try SPNEGOToken(derEncoded: Captured.serverComplete)
        #expect(
            token == .response(NegTokenResp(negState: .acceptCompleted, mechListMIC: Captured.serverMIC))
        )
    }

    @Test(
        "captured tokens re-serialize byte for byte",
        arguments: [
            Captured.clientInit, Captured.serverChallenge, Captured.clientAuthenticate, Captured.serverComplete,
        ]
    )
    func capturedRoundTrip(bytes: [UInt8]) throws {
        #expect(try SPNEGOToken(derEncoded: bytes).serialize() == bytes)
    }

    @Test("building the captured exchange from values gives pyspnego's bytes")
    func serializeCapturedFromValues() throws {
        let initial = SPNEGOToken.initial(NegTokenInit(mechTypes: [SPNEGOMechanism.ntlm.oid], mechToken: Captured.type1))
        #expect(try initial.serialize() == Captured.clientInit)

        let challenge = SPNEGOToken.response(
            NegTokenResp(negState: .requestMIC, supportedMech: SPNEGOMechanism.ntlm.oid, responseToken: Captured.type2)
        )
        #expect(try challenge.serialize() == Captured.serverChallenge)

        let authenticate = SPNEGOToken.response(
            NegTokenResp(negState: .acceptIncomplete, responseToken: Captured.type3, mechListMIC: Captured.clientMIC)
        )
        #expect(try authenticate.serialize() == Captured.clientAuthenticate)

        let complete = SPNEGOToken.response(NegTokenResp(negState: .acceptCompleted, mechListMIC: Captured.serverMIC))
        #expect(try complete.serialize() == Captured.serverComplete)
    }

    // MARK: - pyspnego-packed tokens

    @Test("Windows-style NegTokenInit2 with negHints decodes and round-trips")
    func windowsNegTokenInit2() throws {
        let token = try SPNEGOToken(derEncoded: Packed.windowsInit2)
        let initial = try #require(token.negTokenInit)
        #expect(initial.mechTypes == [Packed.negoex, Packed.msKerberos5, Packed.kerberos5, Packed.kerberos5U2U, Packed.ntlm])
        #expect(initial.knownMechanisms == [.negoex, .microsoftKerberos5, .kerberos5, .kerberos5UserToUser, .ntlm])
        #expect(initial.mechToken == nil)
        #expect(initial.reqFlags == nil)
        #expect(initial.mechListMIC == nil)
        let hints = try #require(initial.negHints)
        #expect(hints.hintName == NegTokenInit.NegHints.windowsHintName)
        #expect(hints.hintNameString == "not_defined_in_RFC4178@please_ignore")
        #expect(hints.hintAddress == nil)
        #expect(try token.serialize() == Packed.windowsInit2)
    }

    @Test("a NegTokenInit2 can be re-serialized without its negHints")
    func dropNegHints() throws {
        var initial = try #require(try SPNEGOToken(derEncoded: Packed.fullInit2).negTokenInit)
        #expect(initial.negHints != nil)
        initial.negHints = nil
        let bytes = try SPNEGOToken.initial(initial).serialize()
        let reparsed = try #require(try SPNEGOToken(derEncoded: bytes).negTokenInit)
        #expect(reparsed == initial)
        // Without negHints the MIC moves from [4] to [3] (RFC 4178 layout).
        let expected = try SPNEGOToken.initial(
            NegTokenInit(mechTypes: [Packed.ntlm], mechToken: [0xAA, 0xBB], mechListMIC: Array(repeating: 0x55, count: 16))
        ).serialize()
        #expect(bytes == expected)
        #expect(bytes.suffix(20) == ArraySlice(spnegoHex("a312041055555555555555555555555555555555")))
    }

    @Test("NegTokenInit with every RFC 4178 field matches pyspnego both ways")
    func fullNegTokenInit() throws {
        let token = try SPNEGOToken(derEncoded: Packed.fullInit)
        let initial = try #require(token.negTokenInit)
        #expect(initial.mechTypes == [Packed.msKerberos5, Packed.kerberos5, Packed.ntlm])
        let flags = try #require(initial.reqFlags)
        #expect(Array(flags.bytes) == [0x22])
        #expect(flags.paddingBits == 0)
        #expect(initial.mechToken == Array("NTLMSSP\u{0}".utf8) + [1, 0, 0, 0])
        #expect(initial.mechListMIC == Array(0..<16))
        #expect(initial.negHints == nil)
        #expect(try initial.mechTypeListDER == Packed.mechTypeListThree)

        let built = NegTokenInit(
            mechTypes: [SPNEGOMechanism.microsoftKerberos5.oid, SPNEGOMechanism.kerberos5.oid, SPNEGOMechanism.ntlm.oid],
            reqFlags: ASN1BitString(bytes: [0x22]),
            mechToken: Array("NTLMSSP\u{0}".utf8) + [1, 0, 0, 0],
            mechListMIC: Array(0..<16)
        )
        #expect(built == initial)
        #expect(try SPNEGOToken.initial(built).serialize() == Packed.fullInit)
    }

    @Test("NegTokenInit2 with every field (MIC at [4]) matches pyspnego both ways")
    func fullNegTokenInit2() throws {
        let initial = try #require(try SPNEGOToken(derEncoded: Packed.fullInit2).negTokenInit)
        let expected = NegTokenInit(
            mechTypes: [Packed.ntlm],
            mechToken: [0xAA, 0xBB],
            negHints: .init(hintName: Array("host/server.example@EXAMPLE.COM".utf8), hintAddress: [1, 2, 3, 4]),
            mechListMIC: Array(repeating: 0x55, count: 16)
        )
        #expect(initial == expected)
        #expect(try SPNEGOToken.initial(expected).serialize() == Packed.fullInit2)
    }

    @Test("reject NegTokenResp matches pyspnego both ways")
    func rejectResponse() throws {
        #expect(try SPNEGOToken(derEncoded: Packed.reject) == .response(NegTokenResp(negState: .reject)))
        #expect(try SPNEGOToken.response(NegTokenResp(negState: .reject)).serialize() == Packed.reject)
    }

    @Test("multi-octet lengths at three levels match pyspnego")
    func bigResponse() throws {
        let bytes = Packed.bigResponseHeader + Packed.bigPayload
        #expect(bytes.count == 547)
        let value = NegTokenResp(negState: .acceptIncomplete, supportedMech: Packed.ntlm, responseToken: Packed.bigPayload)
        #expect(try SPNEGOToken.response(value).serialize() == bytes)
        #expect(try SPNEGOToken(derEncoded: bytes) == .response(value))
    }

    @Test("mechTypeListDER is the DER of the MechTypeList alone, as pyspnego packs it")
    func mechTypeList() throws {
        #expect(try NegTokenInit.mechTypeListDER([Packed.ntlm]) == Packed.mechTypeListNTLM)
        #expect(
            try NegTokenInit.mechTypeListDER([Packed.msKerberos5, Packed.kerberos5, Packed.ntlm]) == Packed.mechTypeListThree
        )
        #expect(try NegTokenInit.mechTypeListDER([]) == [0x30, 0x00])
    }

    // MARK: - Framing and round trips

    @Test("a bare [0] NegTokenInit (no InitialContextToken) is accepted and re-wrapped on output")
    func bareInit() throws {
        // Strip the 10-byte "60 48 06 06 2b0601050502" header from the captured init.
        let bare = Array(Captured.clientInit.dropFirst(10))
        #expect(bare.first == 0xA0)
        let token = try SPNEGOToken(derEncoded: bare)
        #expect(token == (try SPNEGOToken(derEncoded: Captured.clientInit)))
        #expect(try token.serialize() == Captured.clientInit)
    }

    @Test("a [1] NegTokenResp wrapped in an InitialContextToken is accepted")
    func wrappedResponse() throws {
        let inner = Packed.reject
        let wrapped = [0x60, UInt8(8 + inner.count), 0x06, 0x06, 0x2B, 0x06, 0x01, 0x05, 0x05, 0x02] + inner
        #expect(try SPNEGOToken(derEncoded: wrapped) == .response(NegTokenResp(negState: .reject)))
    }

    @Test("value round trips through serialize and parse")
    func valueRoundTrips() throws {
        let values: [SPNEGOToken] = [
            .initial(NegTokenInit(mechTypes: [])),
            .initial(NegTokenInit(mechTypes: SPNEGOMechanism.allCases.map(\.oid))),
            .initial(
                NegTokenInit(
                    mechTypes: [SPNEGOMechanism.iakerb.oid],
                    reqFlags: ASN1BitString(bytes: [0b0110_0000], paddingBits: 5),
                    negHints: .init(hintAddress: [])
                )
            ),
            .initial(NegTokenInit(mechTypes: [SPNEGOMechanism.ntlm.oid], negHints: .init())),
            .initial(NegTokenInit(mechTypes: [SPNEGOMechanism.ntlm.oid], mechToken: [], mechListMIC: [])),
            .response(NegTokenResp()),
            .response(NegTokenResp(supportedMech: SPNEGOMechanism.kerberos5.oid)),
            .response(NegTokenResp(negState: .requestMIC, responseToken: Array(repeating: 7, count: 70_000))),
        ]
        for value in values {
            let bytes = try value.serialize()
            #expect(try SPNEGOToken(derEncoded: bytes, maximumTokenSize: .max) == value)
        }
    }

    @Test("SPNEGOMechanism knows its OIDs")
    func mechanismOIDs() {
        #expect(SPNEGOMechanism.spnego.oid.description == "1.3.6.1.5.5.2")
        #expect(SPNEGOMechanism.ntlm.oid.description == "1.3.6.1.4.1.311.2.2.10")
        #expect(SPNEGOMechanism.kerberos5.oid.description == "1.2.840.113554.1.2.2")
        #expect(SPNEGOMechanism.microsoftKerberos5.oid.description == "1.2.840.48018.1.2.2")
        #expect(SPNEGOMechanism.iakerb.oid.description == "1.3.6.1.5.2.5")
        #expect(SPNEGOMechanism.negoex.oid.description == "1.3.6.1.4.1.311.2.2.30")
        for mechanism in SPNEGOMechanism.allCases {
            #expect(SPNEGOMechanism(oid: mechanism.oid) == mechanism)
        }
        #expect(SPNEGOMechanism(oid: [1, 2, 3]) == nil)
        #expect(SPNEGOMechanism.microsoftKerberos5.isKerberos)
        #expect(!SPNEGOMechanism.ntlm.isKerberos)
    }

    @Test("an unknown extension element at the end of a NegTokenResp is skipped")
    func extensionSkipped() throws {
        // { [0] accept-completed, [5] { NULL } }
        let bytes = spnegoHex("a10b3009a0030a0100a5020500")
        #expect(try SPNEGOToken(derEncoded: bytes) == .response(NegTokenResp(negState: .acceptCompleted)))
    }

    // MARK: - Malformed input, each with its specific error

    @Test("empty input")
    func emptyInput() {
        #expect(spnegoDecodeError([]) == .emptyToken)
    }

    @Test("truncated length octets")
    func truncatedLength() throws {
        // Long-form length announcing two octets, only one present.
        let error = try #require(spnegoDecodeError(spnegoHex("608201")))
        guard case .invalidDER(let reason) = error else {
            Issue.record("expected invalidDER, got \(error)")
            return
        }
        #expect(reason.hasPrefix("truncatedASN1Field"))
    }

    @Test("length past the end of the input")
    func lengthPastEnd() throws {
        let error = try #require(spnegoDecodeError(Array(Captured.serverComplete.dropLast())))
        guard case .invalidDER(let reason) = error else {
            Issue.record("expected invalidDER, got \(error)")
            return
        }
        #expect(reason.hasPrefix("truncatedASN1Field"))
    }

    @Test("every truncation of a captured token fails with a DER error, never a crash")
    func everyTruncation() {
        for token in [Captured.clientInit, Captured.serverChallenge, Captured.clientAuthenticate, Captured.serverComplete] {
            for length in 1..<token.count {
                let error = spnegoDecodeError(Array(token.prefix(length)))
                guard case .invalidDER? = error else {
                    Issue.record("prefix \(length) of \(token.count): \(String(describing: error))")
                    continue
                }
            }
        }
    }

    @Test("wrong thisMech OID in the InitialContextToken")
    func wrongOuterOID() {
        // 1.3.6.1.5.5.3 instead of 1.3.6.1.5.5.2.
        var bytes = Captured.clientInit
        bytes[9] = 0x03
        #expect(spnegoDecodeError(bytes) == .notSPNEGO)
        // Kerberos 5 OID in thisMech (a raw Kerberos AP-REQ framing).
        #expect(spnegoDecodeError(spnegoHex("600f06092a864886f712010202a0023000")) == .notSPNEGO)
    }

    @Test("InitialContextToken without thisMech, or without an inner token")
    func missingOuterParts() {
        #expect(spnegoDecodeError(spnegoHex("6004a0023000")) == .notSPNEGO)
        #expect(spnegoDecodeError(spnegoHex("600806062b0601050502")) == .missingField("innerContextToken"))
        #expect(
            spnegoDecodeError(spnegoHex("600a06062b0601050502a100")) == .invalidField("negTokenResp")
        )
        #expect(
            spnegoDecodeError(spnegoHex("600e06062b0601050502a10230000500"))
                == .unexpectedElement(structure: "InitialContextToken", tag: .null)
        )
    }

    @Test("raw NTLMSSP, a universal SEQUENCE or another APPLICATION tag is not SPNEGO")
    func notSPNEGOAtAll() {
        #expect(spnegoDecodeError(Captured.type1) == .notSPNEGO)
        #expect(spnegoDecodeError(spnegoHex("3000")) == .notSPNEGO)
        #expect(spnegoDecodeError(spnegoHex("6e00")) == .notSPNEGO)
        #expect(spnegoDecodeError(spnegoHex("ff")) == .notSPNEGO)
    }

    @Test("unknown NegotiationToken CHOICE [5], bare and wrapped")
    func unknownChoice() {
        #expect(spnegoDecodeError(spnegoHex("a5023000")) == .unexpectedChoice(tag: contextTag(5)))
        #expect(
            spnegoDecodeError(spnegoHex("600c06062b0601050502a5023000")) == .unexpectedChoice(tag: contextTag(5))
        )
    }

    @Test("mechTypes that is not a SEQUENCE OF OBJECT IDENTIFIER")
    func mechTypesNotSequence() {
        // [0] { [0] { OID ntlm } }: the OID where the SEQUENCE should be.
        #expect(spnegoDecodeError(spnegoHex("a010300ea00c060a2b06010401823702020a")) == .invalidField("mechTypes"))
        // [0] { [0] { SET { OID ntlm } } }
        #expect(spnegoDecodeError(spnegoHex("a0123010a00e310c060a2b06010401823702020a")) == .invalidField("mechTypes"))
        // [0] { [0] { SEQUENCE { INTEGER 1 } } }
        #expect(spnegoDecodeError(spnegoHex("a0093007a0053003020101")) == .invalidField("mechTypes"))
    }

    @Test("NegTokenInit without mechTypes")
    func missingMechTypes() {
        // [0] { [2] mechToken "" }
        #expect(spnegoDecodeError(spnegoHex("a0063004a2020400")) == .missingField("mechTypes"))
    }

    @Test("negState out of range")
    func negStateOutOfRange() {
        #expect(spnegoDecodeError(spnegoHex("a1073005a0030a0107")) == .invalidNegState(7))
        #expect(spnegoDecodeError(spnegoHex("a1073005a0030a01ff")) == .invalidNegState(-1))
    }

    @Test("negState of the wrong type, or too big for any integer")
    func negStateWrongType() {
        // INTEGER 1 instead of ENUMERATED 1.
        #expect(spnegoDecodeError(spnegoHex("a1073005a003020101")) == .invalidField("negState"))
        // ENUMERATED with 9 content octets.
        #expect(spnegoDecodeError(spnegoHex("a10f300da00b0a09010000000000000000")) == .invalidField("negState"))
        // Primitive [0] where the explicit tag must be constructed.
        #expect(spnegoDecodeError(spnegoHex("a104 3002 8000")) == .invalidField("negState"))
    }

    @Test("mechListMIC and responseToken of the wrong type")
    func octetStringsWrongType() {
        #expect(spnegoDecodeError(spnegoHex("a1073005a3030201ff")) == .invalidField("mechListMIC"))
        #expect(spnegoDecodeError(spnegoHex("a1073005a2030101ff")) == .invalidField("responseToken"))
        // Constructed OCTET STRING (BER-only).
        #expect(spnegoDecodeError(spnegoHex("a1093007a2052403040100")) == .invalidField("responseToken"))
        // In a NegTokenInit, [3] holding neither SEQUENCE (negHints) nor OCTET STRING (MIC).
        #expect(
            spnegoDecodeError(spnegoHex("a0163014a00e300c060a2b06010401823702020aa3020500"))
                == .invalidField("mechListMIC")
        )
    }

    @Test("elements out of order or repeated")
    func outOfOrder() {
        // { [2] responseToken, [0] negState }
        #expect(
            spnegoDecodeError(spnegoHex("a10c300aa2030401aaa0030a0100"))
                == .unexpectedElement(structure: "NegTokenResp", tag: contextTag(0))
        )
        // { [0], [0] }
        #expect(
            spnegoDecodeError(spnegoHex("a10c300aa0030a0100a0030a0101"))
                == .unexpectedElement(structure: "NegTokenResp", tag: contextTag(0))
        )
        // A universal element where only context tags may appear.
        #expect(
            spnegoDecodeError(spnegoHex("a10a30080a0100a0030a0100"))
                == .unexpectedElement(structure: "NegTokenResp", tag: .enumerated)
        )
    }

    @Test("indefinite length is rejected (DER forbids it)")
    func indefiniteLength() throws {
        let error = try #require(spnegoDecodeError(spnegoHex("a180 3080 a0030a0100 0000 0000")))
        guard case .invalidDER(let reason) = error else {
            Issue.record("expected invalidDER, got \(error)")
            return
        }
        #expect(reason.hasPrefix("unsupportedFieldLength"))
    }

    @Test("non-minimal length octets are rejected (DER)")
    func nonMinimalLength() throws {
        let error = try #require(spnegoDecodeError(spnegoHex("a181073005a0030a0100")))
        guard case .invalidDER(let reason) = error else {
            Issue.record("expected invalidDER, got \(error)")
            return
        }
        #expect(reason.hasPrefix("unsupportedFieldLength"))
    }

    @Test("huge length octets")
    func hugeLength() throws {
        // 0x84 ff ff ff ff: four-octet length of 4 GiB, with 2 bytes behind it.
        let fourOctets = try #require(spnegoDecodeError(spnegoHex("a184ffffffff3000")))
        guard case .invalidDER(let reason4) = fourOctets else {
            Issue.record("expected invalidDER, got \(fourOctets)")
            return
        }
        #expect(reason4.hasPrefix("truncatedASN1Field"))
        // Eight octets, too large for Int.
        let eightOctets = try #require(spnegoDecodeError(spnegoHex("a188ffffffffffffffff3000")))
        guard case .invalidDER(let reason8) = eightOctets else {
            Issue.record("expected invalidDER, got \(eightOctets)")
            return
        }
        #expect(reason8.hasPrefix("invalidASN1Object"))
        // More length octets than any integer holds.
        let nineOctets = try #require(spnegoDecodeError(spnegoHex("a189ffffffffffffffffff3000")))
        guard case .invalidDER = nineOctets else {
            Issue.record("expected invalidDER, got \(nineOctets)")
            return
        }
    }

    @Test("trailing garbage after the token")
    func trailingGarbage() throws {
        let error = try #require(spnegoDecodeError(Captured.serverComplete + [0x00]))
        guard case .invalidDER(let reason) = error else {
            Issue.record("expected invalidDER, got \(error)")
            return
        }
        #expect(reason.contains("Trailing"))
    }

    @Test("excessive nesting is rejected, not recursed into")
    func deepNesting() throws {
        var bytes: [UInt8] = []
        for _ in 0..<60 { bytes = [0xA1, UInt8(bytes.count)] + bytes }
        let error = try #require(spnegoDecodeError(bytes))
        guard case .invalidDER = error else {
            Issue.record("expected invalidDER, got \(error)")
            return
        }
    }

    @Test("token over the size limit")
    func overSizeLimit() {
        #expect(
            spnegoDecodeError(Captured.clientAuthenticate, limit: 256) == .tokenTooLarge(size: 349, limit: 256)
        )
        #expect(spnegoDecodeError(Captured.clientAuthenticate, limit: 349) == nil)
        let huge = [UInt8](repeating: 0xA1, count: SPNEGOToken.defaultMaximumTokenSize + 1)
        #expect(spnegoDecodeError(huge) == .tokenTooLarge(size: 65_537, limit: 65_536))
    }

    @Test("single-bit corruptions of captured tokens never crash")
    func bitFlips() {
        var decoded = 0
        var rejected = 0
        for token in [
            Captured.clientInit, Captured.serverChallenge, Captured.serverComplete, Packed.windowsInit2, Packed.fullInit2,
        ] {
            for index in token.indices {
                for bit in 0..<8 {
                    var corrupted = token
                    corrupted[index] ^= UInt8(1) << bit
                    if spnegoDecodeError(corrupted) == nil { decoded += 1 } else { rejected += 1 }
                }
            }
        }
        #expect(decoded > 0)
        #expect(rejected > 0)
    }

    @Test("errors carry no token content")
    func errorsCarryNoContent() {
        // A Type 3 token with its last byte missing, and one with a bad trailing byte.
        let samples = [
            Array(Captured.clientAuthenticate.dropLast()),
            Captured.clientAuthenticate + [0x41],
            Array(Captured.clientAuthenticate.prefix(40)),
        ]
        for sample in samples {
            guard let error = spnegoDecodeError(sample) else {
                Issue.record("sample decoded")
                continue
            }
            let text = String(describing: error)
            #expect(text.count < 200)
            #expect(!text.contains("NTLMSSP"))
            #expect(!text.contains("4e544c4d"))
            #expect(!text.contains("SwiftASN1/"))
        }
    }
}

