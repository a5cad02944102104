import NTLM
import NTLMProxyCore

/// libFuzzer entry point: what an `ntlm_auth` helper writes back (split into lines as the
/// line decoder does), parsed and turned into a verdict. A trap anywhere is a bug.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzHelperAnswers(_ start: UnsafeRawPointer?, _ count: Int) -> CInt {
    guard let start, count >= 0 else { return 0 }
    let bytes = Array(UnsafeRawBufferPointer(start: start, count: count))
    let lines = bytes.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false).map { Array($0) }
    guard let answer = try? NTLMServerHelperAnswer(lines: lines) else { return 0 }
    let request = NTLMServerHelperRequest(user: "alice", domain: "CORP", password: "Alice-Pass1")
    _ = answer.outcome(for: request, requireGroup: nil)
    _ = answer.outcome(for: request, requireGroup: "CORP\\web")
    _ = NTLMServerHelperAnswer.sanitized(String(decoding: bytes, as: UTF8.self))
    _ = NTLMServerHelperStatus(authenticationError: String(decoding: bytes, as: UTF8.self))
    return 0
}
