import SwiftASN1

/// The server side of `Negotiate` with NTLM inside SPNEGO (RFC 4178, MS-SPNG).
///
/// Like `NTLMAcceptor`, verification is split so a verifier may be asynchronous:
/// `step(_:)` answers the NegTokenInit with the Type 2; `beginVerification(_:)` takes the
/// NegTokenResp carrying the Type 3; `completeVerification(_:)` checks the NTLM MIC and the
/// mechListMIC and returns the final accept-completed token.
public struct SPNEGOAcceptor: Sendable {
    enum State: Sendable {
        case initial
        case challenged(mechTypes: [ASN1ObjectIdentifier], ntlmWasPreferred: Bool)
        case verifying(mechTypes: [ASN1ObjectIdentifier], ntlmWasPreferred: Bool, mechListMIC: [UInt8]?)
        case complete
        case failed
    }

    public private(set) var ntlm: NTLMAcceptor
    private var state: State = .initial

    public init(ntlm: NTLMAcceptor) {
        self.ntlm = ntlm
    }

    /// Answers the client's NegTokenInit with a NegTokenResp carrying the Type 2.
    public mutating func challenge(_ token: [UInt8]) throws(NTLMRejection) -> [UInt8] {
        let initToken: NegTokenInit
        do throws(SPNEGOError) {
            guard let parsed = try SPNEGOToken(derEncoded: token).negTokenInit else {
                throw SPNEGOError.missingField("negTokenInit")
            }
            initToken = parsed
        } catch {
            state = .failed
            throw .malformed(.spnego(error))
        }
        let ntlmOID = SPNEGOMechanism.ntlm.oid
        guard initToken.mechTypes.contains(ntlmOID) else {
            state = .failed
            throw .malformed(.spnego(.noAcceptableMechanism))
        }
        // The optimistic token belongs to the first mechanism; it is ours only if that is NTLM.
        let preferred = initToken.mechTypes.first == ntlmOID
        guard preferred, let type1 = initToken.mechToken else {
            // RFC 4178 §5: we pick NTLM although it was not the initiator's first choice; ask
            // for its Type 1 and insist on a mechListMIC (request-mic).
            state = .challenged(mechTypes: initToken.mechTypes, ntlmWasPreferred: false)
            return try Self.encode(NegTokenResp(negState: .requestMIC, supportedMech: ntlmOID))
        }
        let type2 = try ntlm.challenge(negotiate: type1)
        state = .challenged(mechTypes: initToken.mechTypes, ntlmWasPreferred: true)
        return try Self.encode(NegTokenResp(negState: .acceptIncomplete, supportedMech: ntlmOID, responseToken: type2))
    }

    /// Takes the client's NegTokenResp carrying the Type 3 (or, after request-mic, its
    /// Type 1: then the returned value is `.challenge(token)` to send back).
    public mutating func beginVerification(_ token: [UInt8]) throws(NTLMRejection) -> SPNEGOStep {
        guard case .challenged(let mechTypes, let preferred) = state else {
            state = .failed
            throw .unexpectedMessage("SPNEGO response token without a preceding challenge")
        }
        let response: NegTokenResp
        do throws(SPNEGOError) {
            guard let parsed = try SPNEGOToken(derEncoded: token).negTokenResp else {
                throw SPNEGOError.missingField("negTokenResp")
            }
            response = parsed
        } catch {
            state = .failed
            throw .malformed(.spnego(error))
        }
        guard let inner = response.responseToken else {
            state = .failed
            throw .malformed(.spnego(.missingField("responseToken")))
        }
        if (try? ntlmMessageType(of: inner)) == NegotiateMessage.messageType {
            let type2 = try ntlm.challenge(negotiate: inner)
            return .challenge(try Self.encode(NegTokenResp(negState: .acceptIncomplete, responseToken: type2)))
        }
        let request = try ntlm.beginVerification(authenticate: inner)
        state = .verifying(mechTypes: mechTypes, ntlmWasPreferred: preferred, mechListMIC: response.mechListMIC)
        return .verify(request)
    }

    /// Finishes with the verifier's answer: NTLM MIC, mechListMIC, and the final
    /// accept-completed token (with our own mechListMIC) to send with the response.
    public mutating func completeVerification(_ verified: NTLMVerifiedUser) throws(NTLMRejection) -> (user: NTLMAuthenticatedUser, finalToken: [UInt8]) {
        guard case .verifying(let mechTypes, let preferred, let clientMIC) = state else {
            state = .failed
            throw .unexpectedMessage("SPNEGO completion without a pending verification")
        }
        state = .failed
        let user = try ntlm.completeVerification(verified)
        let mechList: [UInt8]
        do {
            mechList = try NegTokenInit.mechTypeListDER(mechTypes)
        } catch {
            throw .malformed(.spnego(error))
        }
        var ourMIC: [UInt8]? = nil
        if var session = ntlm.session {
            if let clientMIC {
                do {
                    try session.verify(signature: clientMIC, for: mechList)
                } catch {
                    throw .micInvalid
                }
                session.resetRC4State()
                ourMIC = session.sign(mechList)
                session.resetRC4State()
                ntlm.session = session
            } else if !preferred {
                // RFC 4178 §5: without the MIC a downgrade away from the preferred mechanism
                // could go unnoticed.
                throw .micMissing
            }
        } else if clientMIC != nil || !preferred {
            throw .micInvalid
        }
        let token = try Self.encode(NegTokenResp(negState: .acceptCompleted, mechListMIC: ourMIC))
        state = .complete
        return (user, token)
    }

    /// Verifies with a synchronous verifier in one call. Returns either a token to send
    /// back (another leg) or the user and the final token.
    public mutating func accept(_ token: [UInt8], verifier: some NTLMSynchronousVerifier) throws(NTLMRejection) -> SPNEGOOutcome {
        switch try beginVerification(token) {
        case .challenge(let next):
            return .continueWith(next)
        case .verify(let request):
            let verified: NTLMVerifiedUser
            do {
                verified = try verifier.verifySynchronously(request)
            } catch {
                state = .failed
                throw error
            }
            let (user, final) = try completeVerification(verified)
            return .authenticated(user, finalToken: final)
        }
    }

    /// Verifies with a verifier that may do I/O.
    public mutating func accept(_ token: [UInt8], verifier: some NTLMVerifier) async throws(NTLMRejection) -> SPNEGOOutcome {
        switch try beginVerification(token) {
        case .challenge(let next):
            return .continueWith(next)
        case .verify(let request):
            let verified: NTLMVerifiedUser
            do {
                verified = try await verifier.verify(request)
            } catch {
                state = .failed
                throw error
            }
            let (user, final) = try completeVerification(verified)
            return .authenticated(user, finalToken: final)
        }
    }

    static func encode(_ response: NegTokenResp) throws(NTLMRejection) -> [UInt8] {
        do {
            return try SPNEGOToken.response(response).serialize()
        } catch {
            throw .malformed(.spnego(error))
        }
    }
}

/// What `SPNEGOAcceptor.beginVerification` asks of its caller.
public enum SPNEGOStep: Sendable {
    /// Send this token back and wait for the next one.
    case challenge([UInt8])
    /// Verify this request, then call `completeVerification`.
    case verify(NTLMVerificationRequest)
}

/// The result of `SPNEGOAcceptor.accept`.
public enum SPNEGOOutcome: Sendable {
    case continueWith([UInt8])
    case authenticated(NTLMAuthenticatedUser, finalToken: [UInt8])
}
