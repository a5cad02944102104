import NIOHTTP1
import Testing
@testable import NTLMProxyCore

@Suite("Hop-by-hop headers")
struct HopByHopHeadersTests {
    @Test func stripsStandardAndConnectionNamedFields() {
        var headers = HTTPHeaders([
            ("Host", "example"), ("Connection", "keep-alive, X-Private"), ("Keep-Alive", "timeout=5"),
            ("X-Private", "1"), ("Proxy-Connection", "keep-alive"), ("Transfer-Encoding", "chunked"),
            ("Proxy-Authorization", "NTLM abc"), ("TE", "trailers"), ("Upgrade", "h2c"), ("Accept", "*/*"),
        ])
        HopByHopHeaders.strip(&headers)
        #expect(headers.map(\.name).sorted() == ["Accept", "Host"])
    }

    @Test func persistenceFollowsConnectionNotProxyConnection() {
        #expect(HopByHopHeaders.keepAlive(version: .http1_1, headers: [:]))
        #expect(!HopByHopHeaders.keepAlive(version: .http1_1, headers: ["Connection": "close"]))
        #expect(!HopByHopHeaders.keepAlive(version: .http1_0, headers: ["Proxy-Connection": "keep-alive"]))
        #expect(HopByHopHeaders.keepAlive(version: .http1_0, headers: ["Connection": "Keep-Alive"]))
    }
}
