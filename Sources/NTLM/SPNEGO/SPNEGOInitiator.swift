/// The client side of `Negotiate` when the mechanism is NTLM: NTLM messages carried in
/// SPNEGO tokens (RFC 4178, MS-SPNG), with the mechListMIC that protects the mechanism list.
///
/// Used when a server offers only `Negotiate` and no Kerberos ticket is at hand.
public struct SPNEGOInitiator: Sendable {
    enum State: Sendable { case initial, sentInit, sentResponse(micSent: Bool), complete, failed }

    public internal(set) var ntlm: NTLMInitiator

    /// The channel bindings the NTLM Type 3 will carry (settable until the Type 3 is made,
    /// e.g. when the handshake moved to a new TLS connection).
    public var channelBindings: ChannelBindings? {
        get { ntlm.channelBindings }
        set { ntlm.channelBindings = newValue }
    }
    /// The mechanisms we offer: NTLM only.
    let mechTypes = [SPNEGOMechanism.ntlm.oid]
    private var state: State = .initial

    public init(ntlm: NTLMInitiator) {
        self.ntlm = ntlm
    }

    public var isComplete: Bool {
        if case .complete = state { return true }
        return false
    }

    /// The first token: a NegTokenInit offering NTLM with the Type 1 as optimistic token.
    public mutating func initialToken() throws(NTLMError) -> [UInt8] {
        let type1 = ntlm.negotiate()
        state = .sentInit
        do {
            return try SPNEGOToken.initial(NegTokenInit(mechTypes: mechTypes, mechToken: type1)).serialize()
        } catch {
            state = .failed
            throw .spnego(error)
        }
    }

    /// Answers the acceptor's token. Returns the next token to send, or `nil` when the
    /// exchange is complete (the acceptor's final accept-completed was checked).
    public mutating func step(_ token: [UInt8]) throws(NTLMError) -> [UInt8]? {
        let response: NegTokenResp
        do throws(SPNEGOError) {
            guard let parsed = try SPNEGOToken(derEncoded: token).negTokenResp else {
                throw SPNEGOError.unexpectedChoice(tag: SPNEGOToken.negTokenInitIdentifier)
            }
            response = parsed
        } catch {
            state = .failed
            throw .spnego(error)
        }
        if response.negState == .reject {
            state = .failed
            throw .spnego(.noAcceptableMechanism)
        }
        switch state {
        case .sentInit:
            if let mech = response.supportedMech, mech != SPNEGOMechanism.ntlm.oid {
                state = .failed
                throw .spnego(.noAcceptableMechanism)
            }
            guard let type2 = response.responseToken else {
                state = .failed
                throw .spnego(.missingField("responseToken"))
            }
            let type3 = try ntlm.authenticate(challenge: type2)
            // MS-SPNG 3.2.5.1: NTLM with a MIC makes the mechListMIC mandatory; we always
            // send one when the session can sign, then reset the RC4 state (MS-SPNG 3.3.5.1).
            var mic: [UInt8]? = nil
            if var session = ntlm.session, session.flags.contains(.sign) || session.flags.contains(.keyExchange) {
                do {
                    mic = session.sign(try NegTokenInit.mechTypeListDER(mechTypes))
                } catch {
                    state = .failed
                    throw .spnego(error)
                }
                session.resetRC4State()
                ntlm.replaceSession(session)
            }
            state = .sentResponse(micSent: mic != nil)
            do {
                return try SPNEGOToken.response(NegTokenResp(responseToken: type3, mechListMIC: mic)).serialize()
            } catch {
                state = .failed
                throw .spnego(error)
            }
        case .sentResponse:
            // accept-completed, usually with the acceptor's own mechListMIC.
            if let mic = response.mechListMIC, var session = ntlm.session {
                do {
                    try session.verify(signature: mic, for: try NegTokenInit.mechTypeListDER(mechTypes))
                } catch let error as SPNEGOError {
                    state = .failed
                    throw .spnego(error)
                } catch {
                    state = .failed
                    throw .invalidState("SPNEGO mechListMIC from the acceptor does not verify")
                }
                session.resetRC4State()
                ntlm.replaceSession(session)
            }
            guard response.negState == nil || response.negState == .acceptCompleted else {
                state = .failed
                throw .invalidState("SPNEGO acceptor did not complete")
            }
            state = .complete
            return nil
        case .initial, .complete, .failed:
            throw .invalidState("SPNEGO token received in the wrong state")
        }
    }
}

extension NTLMInitiator {
    /// Puts back a session whose RC4 state was advanced by SPNEGO.
    mutating func replaceSession(_ session: NTLMSession) {
        self.session = session
    }
}
