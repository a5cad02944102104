import Kerberos
import NTLM

/// `Negotiate` carrying Kerberos (RFC 4559): our SPNEGO NegTokenInit around the AP-REQ the
/// system GSSAPI made for this one request; the server's final token, when it sends one, is
/// its AP-REP, checked for mutual authentication.
public struct KerberosAuthenticator: HTTPAuthenticator {
    public let scheme = HTTPAuthScheme.negotiate
    public let isConnectionBound = false
    let context: any KerberosClientContext

    public init(context: any KerberosClientContext) {
        self.context = context
    }

    public mutating func initialAuthorization() throws(HTTPAuthError) -> String {
        do {
            return "Negotiate " + Base64.encode(try SPNEGOKerberos.initialToken(apReq: context.initialToken))
        } catch {
            throw .protocolError(.spnego(error))
        }
    }

    /// A challenge after our ticket means the server refused it: there is no second leg.
    public mutating func nextAuthorization(for challenge: AuthChallenge) throws(HTTPAuthError) -> String? { nil }

    /// Checks the server's final `Negotiate` token (with the 2xx): its AP-REP must verify.
    public func verifyFinal(_ challenge: AuthChallenge) throws(HTTPAuthError) {
        guard let token = challenge.token68 else { return }
        guard let bytes = Base64.decode(token) else { throw .malformedChallenge(.invalidBase64) }
        let reply: SPNEGOKerberos.ServerReply
        do {
            reply = try SPNEGOKerberos.serverReply(bytes)
        } catch {
            throw .protocolError(.spnego(error))
        }
        guard let apRep = reply.responseToken else { return }
        do {
            try context.verifyServerToken(apRep)
        } catch {
            throw .kerberos(error)
        }
    }
}
