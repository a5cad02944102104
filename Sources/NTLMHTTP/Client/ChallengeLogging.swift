import Logging
import NIOHTTP1
import NTLM

extension RequestExecution {
    /// Logs a challenge leg (a 401 or 407 answering a request or a `CONNECT`). Never a token.
    static func logChallenge(_ head: HTTPResponseHead, challengeHeader: String, scheme: HTTPAuthScheme?, user: String, leg: Int, logger: Logger) {
        guard logger.logLevel <= .debug else { return }
        var metadata: Logger.Metadata = [
            "status": "\(head.status.code)", "scheme": "\(scheme?.rawValue ?? "-")", "user": "\(user)",
            "closing": "\(!head.isKeepAlive)", "leg": "\(leg)",
        ]
        if scheme == .ntlm,
           let challenges = try? AuthChallenge.parse(fieldValues: head.headers[challengeHeader]),
           let token = challenges.first(where: { $0.hasScheme("NTLM") })?.token68,
           let bytes = Base64.decode(token), let type2 = try? ChallengeMessage(bytes: bytes) {
            metadata["flags"] = "\(type2.flags.names.joined(separator: " "))"
        }
        logger.debug("authentication challenge", metadata: metadata)
    }
}
