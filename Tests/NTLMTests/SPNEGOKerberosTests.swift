import SwiftASN1
import Testing
@testable import NTLM

/// SPNEGO around Kerberos tokens: the client's NegTokenInit, the server's answer, and the
/// acceptor's reading of what a browser sends.
@Suite("SPNEGO framing of Kerberos")
struct SPNEGOKerberosTests {
    /// A stand-in for a krb5 InitialContextToken: [APPLICATION 0], the krb5 OID, TOK_ID, data.
    static let apReq: [UInt8] = [0x60, 0x0F, 0x06, 0x09, 0x2A, 0x86, 0x48, 0x86, 0xF7, 0x12, 0x01, 0x02, 0x02, 0x01, 0x00, 0x6E, 0x00]

    @Test func theInitialTokenOffersKerberosWithTheTicket() throws {
        let token = try SPNEGOKerberos.initialToken(apReq: Self.apReq)
        let initial = try #require(try SPNEGOToken(derEncoded: token).negTokenInit)
        #expect(initial.mechTypes == [SPNEGOMechanism.kerberos5.oid])
        #expect(initial.mechToken == Self.apReq)
        #expect(initial.mechListMIC == nil)
    }

    @Test func theServersAnswerIsReadAndARejectIsRefused() throws {
        let accept = try SPNEGOToken.response(NegTokenResp(negState: .acceptCompleted, supportedMech: SPNEGOMechanism.kerberos5.oid, responseToken: [1, 2, 3])).serialize()
        #expect(try SPNEGOKerberos.serverReply(accept) == .init(negState: .acceptCompleted, responseToken: [1, 2, 3]))
        // Microsoft's OID is Kerberos too.
        let windows = try SPNEGOToken.response(NegTokenResp(negState: .acceptCompleted, supportedMech: SPNEGOMechanism.microsoftKerberos5.oid)).serialize()
        #expect(try SPNEGOKerberos.serverReply(windows).responseToken == nil)
        let reject = try SPNEGOToken.response(NegTokenResp(negState: .reject)).serialize()
        #expect(throws: SPNEGOError.noAcceptableMechanism) { try SPNEGOKerberos.serverReply(reject) }
        let ntlm = try SPNEGOToken.response(NegTokenResp(negState: .acceptIncomplete, supportedMech: SPNEGOMechanism.ntlm.oid, responseToken: [9])).serialize()
        #expect(throws: SPNEGOError.noAcceptableMechanism) { try SPNEGOKerberos.serverReply(ntlm) }
        // A bare krb5 token (a server that skips SPNEGO) is the AP-REP itself.
        #expect(try SPNEGOKerberos.serverReply(Self.apReq).responseToken == Self.apReq)
        #expect(throws: SPNEGOError.self) { try SPNEGOKerberos.serverReply([0xA1, 0x05, 0x00]) }
    }

    @Test func anAcceptorFindsTheKerberosOfferOnlyWhenItIsPreferred() throws {
        let windows = NegTokenInit(
            mechTypes: [SPNEGOMechanism.microsoftKerberos5.oid, SPNEGOMechanism.kerberos5.oid, SPNEGOMechanism.ntlm.oid], mechToken: Self.apReq)
        let offer = try #require(SPNEGOKerberos.optimisticKerberosOffer(in: windows))
        #expect(offer.mech == SPNEGOMechanism.microsoftKerberos5.oid)
        #expect(offer.apReq == Self.apReq)
        let bytes = try SPNEGOToken.initial(windows).serialize()
        #expect(SPNEGOKerberos.optimisticKerberosOffer(inToken: bytes) == offer)
        // NTLM first, or no optimistic token: not a Kerberos offer.
        #expect(SPNEGOKerberos.optimisticKerberosOffer(in: NegTokenInit(mechTypes: [SPNEGOMechanism.ntlm.oid, SPNEGOMechanism.kerberos5.oid], mechToken: [1])) == nil)
        #expect(SPNEGOKerberos.optimisticKerberosOffer(in: NegTokenInit(mechTypes: [SPNEGOMechanism.kerberos5.oid])) == nil)
        #expect(SPNEGOKerberos.optimisticKerberosOffer(inToken: [0x60, 0x01]) == nil)
        // The answer echoes the client's OID (RFC 4178 §4.2.2) and carries the AP-REP.
        let answer = try SPNEGOKerberos.acceptCompleted(offer, apRep: [7, 7])
        let response = try #require(try SPNEGOToken(derEncoded: answer).negTokenResp)
        #expect(response.negState == .acceptCompleted)
        #expect(response.supportedMech == SPNEGOMechanism.microsoftKerberos5.oid)
        #expect(response.responseToken == [7, 7])
        #expect(response.mechListMIC == nil)
    }

    @Test func bareKerberosTokensAreRecognisedWithoutTrapping() throws {
        #expect(SPNEGOKerberos.isKerberos5InitialContextToken(Self.apReq))
        // Long-form length.
        var long: [UInt8] = [0x60, 0x82, 0x01, 0x00, 0x06, 0x09, 0x2A, 0x86, 0x48, 0x86, 0xF7, 0x12, 0x01, 0x02, 0x02]
        #expect(SPNEGOKerberos.isKerberos5InitialContextToken(long))
        long[14] = 0x03
        #expect(!SPNEGOKerberos.isKerberos5InitialContextToken(long))
        #expect(!SPNEGOKerberos.isKerberos5InitialContextToken(try SPNEGOKerberos.initialToken(apReq: Self.apReq)))
        for prefix in 0...Self.apReq.count {
            _ = SPNEGOKerberos.isKerberos5InitialContextToken(Array(Self.apReq.prefix(prefix)))
        }
        #expect(!SPNEGOKerberos.isKerberos5InitialContextToken([0x60, 0x85, 0, 0, 0, 0, 0]))
        #expect(!SPNEGOKerberos.isKerberos5InitialContextToken([0x60, 0x80]))
    }
}
