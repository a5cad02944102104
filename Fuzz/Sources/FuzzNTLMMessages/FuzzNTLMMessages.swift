import NTLM

/// libFuzzer entry point: every parser of untrusted NTLM/SPNEGO bytes, plus an acceptor
/// consuming the input as a Type 3. A trap anywhere is a bug; thrown errors are expected.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzNTLMMessages(_ start: UnsafeRawPointer?, _ count: Int) -> CInt {
    guard let start, count >= 0 else { return 0 }
    let bytes = Array(UnsafeRawBufferPointer(start: start, count: count))
    _ = try? NegotiateMessage(bytes: bytes)
    _ = try? ChallengeMessage(bytes: bytes)
    _ = try? AuthenticateMessage(bytes: bytes)
    _ = try? TargetInfo(bytes: bytes)
    _ = try? SPNEGOToken(derEncoded: bytes)
    // Kerberos inside SPNEGO: a server's answer, a browser's offer, a bare krb5 token.
    _ = try? SPNEGOKerberos.serverReply(bytes)
    _ = SPNEGOKerberos.optimisticKerberosOffer(inToken: bytes)
    _ = SPNEGOKerberos.isKerberos5InitialContextToken(bytes)

    // Round trip: whatever parses must serialize and parse again.
    if let challenge = try? ChallengeMessage(bytes: bytes) {
        _ = try? ChallengeMessage(bytes: challenge.serialize())
    }
    if let authenticate = try? AuthenticateMessage(bytes: bytes) {
        _ = try? AuthenticateMessage(bytes: authenticate.serialize())
    }

    // The acceptor path a hostile client drives.
    var store = NTLMUserStore()
    store.add(user: "user", domain: "DOMAIN", password: "Password")
    var acceptor = NTLMAcceptor(policy: NTLMAcceptorPolicy(netbiosDomain: "DOMAIN", allowNTLMv1: true, allowLM: true))
    var initiator = NTLMInitiator(credentials: NTLMCredentials(user: "user", domain: "DOMAIN", password: "Password"))
    if (try? acceptor.challenge(negotiate: initiator.negotiate())) != nil {
        _ = try? acceptor.accept(authenticate: bytes, verifier: store)
    }
    var spnego = SPNEGOAcceptor(ntlm: NTLMAcceptor())
    _ = try? spnego.challenge(bytes)
    return 0
}
