import NTLM
import Testing
@testable import NTLMHTTP

/// The authorization value of a `.send`/`.reconnect` action and whether it carries the body;
/// any other action is a test failure.
func legCredentials(_ action: AuthHandshake.Action, sourceLocation: SourceLocation = #_sourceLocation) throws -> (value: String, withBody: Bool) {
    switch action {
    case .send(let value?, let withBody), .reconnect(let value?, let withBody): return (value, withBody)
    default:
        Issue.record("expected a leg with credentials, got \(action)", sourceLocation: sourceLocation)
        throw CancellationError()
    }
}

/// The token bytes of an `Authorization`/`WWW-Authenticate` value (`Scheme base64`).
func tokenBytes(_ value: String) throws -> [UInt8] {
    try #require(Base64.decode(String(value.split(separator: " ").last ?? "")))
}
