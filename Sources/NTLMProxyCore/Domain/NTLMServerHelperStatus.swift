import NTLM

/// What a refused logon's `Authentication-Error` line means.
///
/// ntlm_auth prints winbindd's error string, which is Samba's "friendly" text for the
/// NTSTATUS (`get_friendly_nt_error_msg`: the MS-ERREF description in Samba 4, a short phrase
/// in Samba 3, the `NT_STATUS_...` name for codes without a text). All three spellings are
/// recognised. ntlm_auth's ntlm-server-1 mode does not ask winbindd to squash statuses, so
/// a wrong password and an unknown user stay apart.
public enum NTLMServerHelperStatus: Hashable, Sendable {
    case wrongPassword
    case noSuchUser
    case noSuchDomain
    /// NT_STATUS_LOGON_FAILURE: what winbindd answers when `--require-membership-of` refuses
    /// a right password (and what a squashing DC answers for a wrong one).
    case logonFailure
    case accountDisabled
    case accountLockedOut
    case accountExpired
    case passwordExpired
    case passwordMustChange
    case accountRestriction
    case invalidLogonHours
    case invalidWorkstation
    case logonTypeNotGranted
    case accessDenied
    /// No domain controller answered (or winbindd knows no such domain).
    case noLogonServers
    /// ntlm_auth could not talk to winbindd ("Reading winbind reply failed!").
    case winbindUnreachable
    /// `--require-membership-of` names a group winbindd cannot resolve: ntlm_auth then
    /// prints a NULL error string, "(null)".
    case membershipUnresolved
    /// Anything else (sanitized text).
    case other(String)

    private static let table: [(NTLMServerHelperStatus, [String])] = [
        (.wrongPassword, ["NT_STATUS_WRONG_PASSWORD", "Wrong Password",
                          "When trying to update a password, this return status indicates that the value provided as the current password is not correct."]),
        (.noSuchUser, ["NT_STATUS_NO_SUCH_USER", "No such user", "The specified account does not exist."]),
        (.noSuchDomain, ["NT_STATUS_NO_SUCH_DOMAIN", "No such domain", "The specified domain did not exist."]),
        (.logonFailure, ["NT_STATUS_LOGON_FAILURE", "Logon failure",
                         "The attempted logon is invalid. This is either due to a bad username or authentication information."]),
        (.accountDisabled, ["NT_STATUS_ACCOUNT_DISABLED", "Account disabled",
                            "The referenced account is currently disabled and cannot be logged on to."]),
        (.accountLockedOut, ["NT_STATUS_ACCOUNT_LOCKED_OUT", "Account locked out",
                             "The user account has been automatically locked because too many invalid logon attempts or password change attempts have been requested."]),
        (.accountExpired, ["NT_STATUS_ACCOUNT_EXPIRED", "Account expired", "The user account has expired."]),
        (.passwordExpired, ["NT_STATUS_PASSWORD_EXPIRED", "Password expired", "The user account password has expired."]),
        (.passwordMustChange, ["NT_STATUS_PASSWORD_MUST_CHANGE", "Must change password",
                               "The user password must be changed before logging on the first time."]),
        (.accountRestriction, ["NT_STATUS_ACCOUNT_RESTRICTION", "Account restriction",
                               "Indicates a referenced user name and authentication information are valid, but some user account restriction has prevented successful authentication (such as time-of-day restrictions)."]),
        (.invalidLogonHours, ["NT_STATUS_INVALID_LOGON_HOURS", "Invalid logon hours",
                              "The user account has time restrictions and cannot be logged onto at this time."]),
        (.invalidWorkstation, ["NT_STATUS_INVALID_WORKSTATION", "Invalid workstation",
                               "The user account is restricted so that it cannot be used to log on from the source workstation."]),
        (.logonTypeNotGranted, ["NT_STATUS_LOGON_TYPE_NOT_GRANTED",
                                "A user has requested a type of logon (for example, interactive or network) that has not been granted. An administrator has control over who can logon interactively and through the network."]),
        (.accessDenied, ["NT_STATUS_ACCESS_DENIED", "Access denied",
                         "A process has requested access to an object but has not been granted those access rights."]),
        (.noLogonServers, ["NT_STATUS_NO_LOGON_SERVERS", "No logon servers",
                           "No logon servers are currently available to service the logon request."]),
        (.winbindUnreachable, ["Reading winbind reply failed!"]),
        (.membershipUnresolved, ["(null)"]),
    ]

    /// Classifies an `Authentication-Error` text (case and surrounding spaces ignored; a
    /// text that merely contains a known `NT_STATUS_` name counts as that status).
    public init(authenticationError text: String) {
        let normalized = Self.normalize(text)
        for (status, spellings) in Self.table where spellings.contains(where: { Self.normalize($0) == normalized }) {
            self = status
            return
        }
        let upper = text.uppercased()
        var best: (status: NTLMServerHelperStatus, length: Int)?
        for (status, spellings) in Self.table {
            // The longest name found wins, should one name ever contain another.
            if let name = spellings.first, name.hasPrefix("NT_STATUS_"), upper.contains(name), name.count > best?.length ?? 0 {
                best = (status, name.count)
            }
        }
        self = best?.status ?? .other(NTLMServerHelperAnswer.sanitized(text))
    }

    private static func normalize(_ text: String) -> String {
        var scalars = Substring(text.lowercased())
        while scalars.first == " " { scalars.removeFirst() }
        while scalars.last == " " { scalars.removeLast() }
        return String(scalars)
    }
}

extension NTLMServerHelperAnswer {
    /// The verifier's result for this answer to `request`.
    ///
    /// - A right password → the user (as sent, in the domain checked) with the session keys
    ///   the helper gave.
    /// - Wrong password → `.invalidResponse`; unknown user or domain → `.unknownUser`;
    ///   disabled, locked, expired, restricted → `.accessDenied`; NT_STATUS_LOGON_FAILURE →
    ///   `.accessDenied` when a group is required (that is how winbindd refuses a non-member),
    ///   else `.invalidResponse` (a DC that squashes statuses).
    /// - A plaintext `Authenticated: No` carries no reason: wrong password, unknown user,
    ///   missing group and even an unreachable winbindd all look alike, so it is
    ///   `.invalidResponse`.
    /// - `Error:` lines, no logon servers, winbindd unreachable, an unresolvable group and
    ///   any text not recognised → `.verifierUnavailable` (not the user's fault).
    public func outcome(for request: NTLMServerHelperRequest, requireGroup: String?) -> Result<NTLMVerifiedUser, NTLMRejection> {
        let user = request.user
        let domain = request.domain
        if !errors.isEmpty {
            return .failure(.verifierUnavailable("ntlm_auth refused the request: \(errors.joined(separator: "; "))"))
        }
        switch authenticated {
        case .some(true):
            if request.isPlaintext {
                return .success(NTLMVerifiedUser(user: user, domain: domain, sessionBaseKey: nil))
            }
            return .success(NTLMVerifiedUser(user: user, domain: domain, sessionBaseKey: userSessionKey, lmSessionKey: lmSessionKey))
        case .none:
            return .failure(.verifierUnavailable("ntlm_auth answered without a verdict"))
        case .some(false):
            break
        }
        guard let authenticationError else {
            return .failure(.invalidResponse(domain: domain, user: user))
        }
        switch NTLMServerHelperStatus(authenticationError: authenticationError) {
        case .wrongPassword:
            return .failure(.invalidResponse(domain: domain, user: user))
        case .noSuchUser, .noSuchDomain:
            return .failure(.unknownUser(domain: domain, user: user))
        case .logonFailure:
            if let requireGroup {
                return .failure(.accessDenied("not a member of \(requireGroup) (NT_STATUS_LOGON_FAILURE)"))
            }
            return .failure(.invalidResponse(domain: domain, user: user))
        case .accountDisabled: return .failure(.accessDenied("account disabled"))
        case .accountLockedOut: return .failure(.accessDenied("account locked out"))
        case .accountExpired: return .failure(.accessDenied("account expired"))
        case .passwordExpired: return .failure(.accessDenied("password expired"))
        case .passwordMustChange: return .failure(.accessDenied("password must be changed"))
        case .accountRestriction: return .failure(.accessDenied("account restriction"))
        case .invalidLogonHours: return .failure(.accessDenied("outside the account's logon hours"))
        case .invalidWorkstation: return .failure(.accessDenied("not allowed from this workstation"))
        case .logonTypeNotGranted: return .failure(.accessDenied("network logon not granted"))
        case .accessDenied: return .failure(.accessDenied("access denied by the domain"))
        case .noLogonServers:
            return .failure(.verifierUnavailable("no logon servers for domain \(domain.isEmpty ? "(default)" : domain)"))
        case .winbindUnreachable:
            return .failure(.verifierUnavailable("ntlm_auth cannot reach winbindd"))
        case .membershipUnresolved:
            return .failure(.verifierUnavailable("ntlm_auth cannot resolve the required group \(requireGroup ?? "(none)")"))
        case .other(let text):
            return .failure(.verifierUnavailable("ntlm_auth: \(text)"))
        }
    }
}
