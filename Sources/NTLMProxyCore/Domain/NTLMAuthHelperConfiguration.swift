import NIOCore

/// How `NTLMAuthHelperPool` runs Samba's `ntlm_auth`: the command, how many helpers at most,
/// how many requests may wait for one, how long a helper may take to answer, an optional
/// group every user must belong to, and environment variables for the helpers.
public struct NTLMAuthHelperConfiguration: Hashable, Sendable {
    /// The program and its arguments (the program is looked up in PATH when it has no
    /// slash). `--helper-protocol=ntlm-server-1` is appended unless a `--helper-protocol`
    /// argument is present; other arguments such as `--configfile=` pass through as given.
    public var command: [String]
    /// The most helper processes running at once (at least 1).
    public var maximumHelpers: Int
    /// The most requests waiting for a free helper; one more is refused at once as busy.
    public var queueLimit: Int
    /// How long a helper may take to answer one request; a helper that takes longer is
    /// killed and the request fails as `verifierUnavailable`.
    public var timeout: TimeAmount
    /// A group (`DOMAIN\group` or a SID) every user must be a member of, passed as
    /// `--require-membership-of=`.
    public var requireGroup: String?
    /// Variables added to (or replacing ones in) the helpers' environment.
    public var environment: [String: String]

    public static let defaultCommand = ["/usr/bin/ntlm_auth"]

    public init(command: [String] = NTLMAuthHelperConfiguration.defaultCommand, maximumHelpers: Int = 4, queueLimit: Int = 64,
                timeout: TimeAmount = .seconds(5), requireGroup: String? = nil, environment: [String: String] = [:]) {
        self.command = command
        self.maximumHelpers = maximumHelpers
        self.queueLimit = queueLimit
        self.timeout = timeout
        self.requireGroup = requireGroup
        self.environment = environment
    }

    /// The command line a helper is started with.
    public var arguments: [String] {
        var arguments = command
        if !arguments.dropFirst().contains(where: { $0 == "--helper-protocol" || $0.hasPrefix("--helper-protocol=") }) {
            arguments.append("--helper-protocol=ntlm-server-1")
        }
        if let requireGroup, !requireGroup.isEmpty {
            arguments.append("--require-membership-of=\(requireGroup)")
        }
        return arguments
    }

    /// `maximumHelpers`, at least 1.
    var helperLimit: Int { max(1, maximumHelpers) }
    /// `queueLimit`, at least 0.
    var waitingLimit: Int { max(0, queueLimit) }
    /// `timeout`, at least 1 ms.
    var requestTimeout: TimeAmount { max(timeout, .milliseconds(1)) }
}
