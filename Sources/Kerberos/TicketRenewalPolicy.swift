/// When a Kerberos credential is acquired again before its tickets expire, and how long a
/// failure is remembered, as plain values (tested with a virtual clock).
///
/// A credential obtained from a password or a keytab is renewed once less than
/// `renewBefore` of its lifetime is left — or a quarter of the lifetime for short-lived
/// tickets — so a request never meets an expired ticket. A ticket cache belongs to the user
/// (kinit, sssd, k5start renew it): it is read again at the same point, so tickets obtained
/// after ntlmproxy started are used.
public struct TicketRenewalPolicy: Hashable, Sendable {
    /// Renew when less than this is left (default 5 minutes).
    public var renewBefore: Duration
    /// After a failure to get a credential or a service ticket (no KDC, no ticket, no such
    /// service), Kerberos is not tried again for this long (NTLM is used meanwhile where
    /// allowed); default 15 s.
    public var retryAfterFailure: Duration
    /// After the KDC refused the credential (wrong password, locked account), it is not
    /// offered again for this long (default 5 minutes): one failed logon, not one per request.
    public var rejectionWindow: Duration

    public init(renewBefore: Duration = .seconds(300), retryAfterFailure: Duration = .seconds(15), rejectionWindow: Duration = .seconds(300)) {
        self.renewBefore = renewBefore
        self.retryAfterFailure = retryAfterFailure
        self.rejectionWindow = rejectionWindow
    }

    public static let `default` = TicketRenewalPolicy()

    /// The instant at which a credential acquired at `acquired` with `lifetime` seconds of
    /// validity should be acquired again; `nil` when it does not expire.
    public func renewalTime(acquired: ContinuousClock.Instant, lifetime: Duration?) -> ContinuousClock.Instant? {
        guard let lifetime, lifetime > .zero else { return lifetime == nil ? nil : acquired }
        let margin = min(renewBefore, lifetime / 4)
        return acquired + lifetime - margin
    }
}
