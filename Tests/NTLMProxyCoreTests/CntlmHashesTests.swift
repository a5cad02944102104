import NTLM
import Testing
@testable import NTLMProxyCore

@Suite("cntlm hash compatibility")
struct CntlmHashesTests {
    @Test func passNTIsTheComplementOfTheNTHash() {
        // NT hash of "Password" (MS-NLMP 4.2.2.1.2) is a4f49c406510bdcab6824ee7c30fd852.
        let ntHash = NTHash(password: "Password")
        #expect(CntlmHashes.complement(ntHash.bytes) == "5B0B63BF9AEF4235497DB1183CF027AD")
        #expect(CntlmHashes.decode("5B0B63BF9AEF4235497DB1183CF027AD") == ntHash.bytes)
        #expect(CntlmHashes.decode("5b0b63bf9aef4235497db1183cf027ad") == ntHash.bytes)
    }

    @Test func passNTLMv2IsTheComplementOfNTOWFv2() {
        // NTOWFv2("Password", "User", "Domain") = 0c868a403bfd7a93a3001ef22ef02e3f (MS-NLMP 4.2.4.1.1).
        let v2 = CntlmHashes.ntlmv2Hash(ntHash: NTHash(password: "Password"), user: "User", domain: "Domain")
        #expect(HexCoding.encode(v2) == "0c868a403bfd7a93a3001ef22ef02e3f")
        #expect(CntlmHashes.complement(v2) == "F37975BFC402856C5CFFE10DD10FD1C0")
    }

    @Test(arguments: ["", "abc", "zz", "5B0B63BF9AEF4235497DB11838CF27A"])
    func rejectsMalformedHashes(_ text: String) {
        #expect(CntlmHashes.decode(text) == nil)
    }
}
