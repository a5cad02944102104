/// How one request to a helper ended.
enum HelperExchangeOutcome: Hashable, Sendable {
    /// A complete, well-formed answer.
    case answered(NTLMServerHelperAnswer)
    /// No answer within the request timeout.
    case timedOut
    /// The helper's output ended (it exited or was killed) before the answer was complete.
    case exited
    /// The helper wrote something that is not an answer.
    case failed(NTLMServerHelperError)
}

/// One helper process's conversation as a value-type state machine: idle → awaiting an
/// answer → idle again, or dead. Lines in, actions out; `NTLMAuthHelperHandler` performs
/// the actions.
///
/// ntlm_auth ends every failed logon with two `.` lines, so a lone `.` is skipped: while
/// idle it is that extra terminator, and while awaiting an answer it is the extra
/// terminator of the previous one arriving late. Any other output while idle means the
/// helper is out of step with us, and it is given up.
struct HelperConversation: Sendable {
    enum State: Hashable, Sendable {
        case idle
        case awaiting(lines: [[UInt8]])
        case dead
    }

    enum Action: Hashable, Sendable {
        case none
        /// The request ended: give this outcome to its caller. Unless it is `.answered`,
        /// the conversation is dead and the helper must go.
        case complete(HelperExchangeOutcome)
        /// The helper misbehaved while no request was outstanding: it must go.
        case discard(NTLMServerHelperError)
    }

    private(set) var state: State = .idle

    var isIdle: Bool { state == .idle }

    /// A request was written; false (and nothing changes) unless the conversation was idle.
    mutating func requestSent() -> Bool {
        guard state == .idle else { return false }
        state = .awaiting(lines: [])
        return true
    }

    /// A line of the helper's output, without its line end.
    mutating func lineReceived(_ line: [UInt8]) -> Action {
        switch state {
        case .dead:
            return .none
        case .idle:
            if line == [UInt8(ascii: ".")] { return .none }
            state = .dead
            return .discard(.unsolicitedOutput)
        case .awaiting(var lines):
            guard line == [UInt8(ascii: ".")] else {
                guard lines.count < NTLMServerHelperAnswer.maximumLines else {
                    return fail(.failed(.tooManyLines(limit: NTLMServerHelperAnswer.maximumLines)))
                }
                lines.append(line)
                state = .awaiting(lines: lines)
                return .none
            }
            if lines.isEmpty { return .none }
            do {
                let answer = try NTLMServerHelperAnswer(lines: lines)
                state = .idle
                return .complete(.answered(answer))
            } catch {
                return fail(.failed(error))
            }
        }
    }

    /// The helper's output ended or its channel failed.
    mutating func closed() -> Action {
        switch state {
        case .awaiting: return fail(.exited)
        case .idle, .dead:
            state = .dead
            return .none
        }
    }

    /// The line decoder refused the output (an overlong line).
    mutating func decodingFailed(_ error: NTLMServerHelperError) -> Action {
        switch state {
        case .awaiting: return fail(.failed(error))
        case .idle:
            state = .dead
            return .discard(error)
        case .dead:
            return .none
        }
    }

    /// The request timeout fired.
    mutating func timedOut() -> Action {
        guard case .awaiting = state else { return .none }
        return fail(.timedOut)
    }

    private mutating func fail(_ outcome: HelperExchangeOutcome) -> Action {
        state = .dead
        return .complete(outcome)
    }
}
