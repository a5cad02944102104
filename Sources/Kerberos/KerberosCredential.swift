import NIOConcurrencyHelpers
import NTLM

/// A Kerberos client credential as the proxy uses it: acquired from its source on first use,
/// acquired again before its tickets expire, and turned into a fresh AP-REQ for each service
/// a request goes to.
///
/// It also keeps the two things that make a proxy safe to leave running:
/// - a credential the KDC refused (wrong password, locked account) is not offered again for
///   `policy.rejectionWindow` — one failed logon, not one per request;
/// - a failure that only means "Kerberos is not available" (no KDC, no ticket, unknown
///   service) is remembered for `policy.retryAfterFailure`, so requests meanwhile fall back
///   to NTLM at once instead of each waiting for the KDC.
///
/// Instances are compared by identity: one per configured credential, shared by every
/// request and pool key that uses it.
public final class KerberosCredential: Sendable, Hashable, CustomStringConvertible {
    public let source: KerberosCredentialSource
    /// The principal to acquire for (`alice`, `alice@REALM`); `nil`: the ticket cache's own
    /// principal, or the first one in the keytab.
    public let principal: String?
    public let policy: TicketRenewalPolicy

    private struct State {
        var handle: GSSCredentialHandle?
        var renewAt: ContinuousClock.Instant?
        var acquisition: Task<GSSCredentialHandle, Error>?
        var acquisitionFailure: (until: ContinuousClock.Instant, error: KerberosError)?
        var serviceFailures: [String: (until: ContinuousClock.Instant, error: KerberosError)] = [:]
        /// Services a ticket was got for with the current handle: their tickets are cached,
        /// so the next initiation for them does not ask the KDC.
        var warmServices: Set<String> = []
        var acquisitions = 0
    }

    private let state = NIOLockedValueBox(State())
    private let library: Result<GSSAPILibrary, KerberosError>
    /// The private in-memory cache a keytab credential keeps its tickets in.
    private let memoryCache: String
    private let clock = ContinuousClock()

    /// The most service names remembered as failing (an unbounded map would grow with every
    /// host a forward proxy sees).
    static let maximumRememberedServiceFailures = 1024

    public convenience init(source: KerberosCredentialSource, principal: String? = nil, policy: TicketRenewalPolicy = .default) {
        self.init(source: source, principal: principal, policy: policy, library: GSSAPILibrary.shared)
    }

    init(source: KerberosCredentialSource, principal: String?, policy: TicketRenewalPolicy, library: Result<GSSAPILibrary, KerberosError>) {
        self.source = source
        self.principal = principal
        self.policy = policy
        self.library = library
        memoryCache = "MEMORY:ntlmproxy-\(UInt64.random(in: 1...UInt64.max))"
    }

    public static func == (lhs: KerberosCredential, rhs: KerberosCredential) -> Bool { lhs === rhs }
    public func hash(into hasher: inout Hasher) { hasher.combine(ObjectIdentifier(self)) }

    /// The principal as configured, or what the source implies; for logs and errors.
    public var principalForLog: String { principal ?? (cachedPrincipal ?? "(principal of \(source))") }

    private var cachedPrincipal: String? {
        state.withLockedValue { $0.handle?.principal }
    }

    public var description: String { "Kerberos credential \(principalForLog) from \(source)" }

    /// How many times a credential was acquired from the source (first use and renewals).
    public var acquisitionCount: Int { state.withLockedValue { $0.acquisitions } }

    // MARK: Initiating

    /// A fresh security context for `service`: its first token (an AP-REQ, asking for mutual
    /// authentication) is ready to send. Every call makes a new token; tokens are never reused
    /// (acceptors refuse replays).
    ///
    /// - Parameter channelBindings: the RFC 5929 `tls-server-end-point` application data of
    ///   the TLS connection the token goes over, for Extended Protection; `nil` otherwise.
    public func initiate(_ service: KerberosServiceName, channelBindings: ChannelBindings? = nil) async throws(KerberosError) -> KerberosInitiatorContext {
        let library = try self.library.get()
        let now = clock.now
        let serviceKey = service.description
        if let failure = state.withLockedValue({ state -> KerberosError? in
            if let failed = state.acquisitionFailure, failed.until > now { return failed.error }
            if let failed = state.serviceFailures[serviceKey], failed.until > now { return failed.error }
            return nil
        }) {
            throw Self.blocked(failure, remaining: remainingBlock(now: now))
        }
        let handle = try await currentHandle(library: library)
        let bindings = channelBindings?.applicationData
        do {
            let context = try await KerberosThreadPool.run {
                try KerberosInitiatorContext.start(library: library, credential: handle, service: service, channelBindings: bindings)
            }
            state.withLockedValue { state in
                if state.handle === handle, state.warmServices.count < Self.maximumRememberedServiceFailures { state.warmServices.insert(serviceKey) }
            }
            return context
        } catch let status as GSSStatus {
            let error = status.classified(principal: handle.principal, service: serviceKey)
            record(error, service: serviceKey, handle: handle)
            throw error
        } catch {
            throw .failed("\(error)")
        }
    }

    /// A failure remembered from an earlier attempt, as the caller should see it now.
    private static func blocked(_ error: KerberosError, remaining: Duration?) -> KerberosError {
        if case .credentialRejected(let principal, _) = error, let remaining {
            return .credentialBlocked(principal: principal, seconds: max(1, Int(remaining.components.seconds)))
        }
        return error
    }

    private func remainingBlock(now: ContinuousClock.Instant) -> Duration? {
        state.withLockedValue { state in
            guard let failed = state.acquisitionFailure, failed.until > now else { return nil }
            return now.duration(to: failed.until)
        }
    }

    /// Remembers a failure of `initiate`: a rejection or an unusable credential blocks the
    /// credential, a service-specific failure only that service.
    private func record(_ error: KerberosError, service: String, handle: GSSCredentialHandle) {
        let now = clock.now
        state.withLockedValue { state in
            switch error {
            case .credentialRejected:
                state.acquisitionFailure = (now + policy.rejectionWindow, error)
                if state.handle === handle { state.handle = nil }
            case .credentialUnavailable, .kdcUnreachable:
                // Probably the credential's own tickets (expired, or no KDC for a new TGT):
                // read the source again next time.
                state.acquisitionFailure = (now + policy.retryAfterFailure, error)
                if state.handle === handle { state.handle = nil }
            case .serviceUnknown, .failed:
                if state.serviceFailures.count >= Self.maximumRememberedServiceFailures {
                    state.serviceFailures = state.serviceFailures.filter { $0.value.until > now }
                    if state.serviceFailures.count >= Self.maximumRememberedServiceFailures { state.serviceFailures.removeAll() }
                }
                state.serviceFailures[service] = (now + policy.retryAfterFailure, error)
            case .libraryUnavailable, .credentialBlocked, .mutualAuthenticationFailed, .tokenRejected:
                break
            }
        }
    }

    /// Whether a ticket for `service` is at hand now (the credential is current and a ticket
    /// was got for the service with it): then `initiate` needs no KDC and cannot hang on one.
    public func hasTicket(for service: KerberosServiceName) -> Bool {
        let now = clock.now
        return state.withLockedValue { state in
            state.handle != nil && (state.renewAt.map { now < $0 } ?? true) && state.warmServices.contains(service.description)
        }
    }

    // MARK: Acquiring

    /// The credential handle to use now: the current one unless it is due for renewal, else
    /// a new one (one acquisition at a time; concurrent callers wait for it).
    private func currentHandle(library: GSSAPILibrary) async throws(KerberosError) -> GSSCredentialHandle {
        enum Next {
            case ready(GSSCredentialHandle)
            case wait(Task<GSSCredentialHandle, Error>)
        }
        let now = clock.now
        let next = state.withLockedValue { state -> Next in
            if let handle = state.handle, state.renewAt.map({ now < $0 }) ?? true { return .ready(handle) }
            if let running = state.acquisition { return .wait(running) }
            let source = source, principal = principal, cache = memoryCache
            let started = Task {
                try await KerberosThreadPool.run {
                    try Self.acquire(library: library, source: source, principal: principal, memoryCache: cache)
                }
            }
            state.acquisition = started
            return .wait(started)
        }
        let task: Task<GSSCredentialHandle, Error>
        switch next {
        case .ready(let handle): return handle
        case .wait(let running): task = running
        }
        do {
            let handle = try await task.value
            let acquired = clock.now
            state.withLockedValue { state in
                guard state.handle !== handle else { return }
                state.acquisition = nil
                state.acquisitions += 1
                state.handle = handle
                state.warmServices.removeAll()
                state.acquisitionFailure = nil
                state.renewAt = policy.renewalTime(acquired: acquired, lifetime: handle.lifetimeDuration(for: source))
            }
            return handle
        } catch let status as GSSStatus {
            let error = status.classified(principal: principal ?? "(default principal)")
            let failedAt = clock.now
            state.withLockedValue { state in
                state.acquisition = nil
                let window = error.isCredentialRejection ? policy.rejectionWindow : policy.retryAfterFailure
                state.acquisitionFailure = (failedAt + window, error)
            }
            throw error
        } catch {
            state.withLockedValue { $0.acquisition = nil }
            throw .failed("\(error)")
        }
    }

    /// Acquires a credential from `source` (blocking: a password contacts the KDC).
    static func acquire(library: GSSAPILibrary, source: KerberosCredentialSource, principal: String?, memoryCache: String) throws -> GSSCredentialHandle {
        let name = try principal.map { try GSSName($0, type: library.oids.kerberosPrincipalNameRaw, library: library) }
        var minor: UInt32 = 0
        var output: OpaquePointer? = nil
        let major: UInt32
        let what = "acquiring a Kerberos credential for \(principal ?? "the default principal") from \(source)"
        switch source {
        case .ticketCache(nil):
            major = library.acquireCredential(&minor, name?.handle, 0, library.oids.kerberos5SetRaw, GSSConstant.credentialInitiate, &output, nil, nil)
        case .ticketCache(let cache?):
            guard let from = library.acquireCredentialFrom else {
                throw GSSStatus(operation: what, major: 0x000D_0000, minor: 0, message: "this GSSAPI library cannot use a named ticket cache (no gss_acquire_cred_from)")
            }
            major = withKeyValueSet([("ccache", cache)]) { store in
                from(&minor, name?.handle, 0, library.oids.kerberos5SetRaw, GSSConstant.credentialInitiate, store, &output, nil, nil)
            }
        case .keytab(let path):
            guard let from = library.acquireCredentialFrom else {
                throw GSSStatus(operation: what, major: 0x000D_0000, minor: 0, message: "this GSSAPI library cannot use a client keytab (no gss_acquire_cred_from)")
            }
            major = withKeyValueSet([("client_keytab", path), ("ccache", memoryCache)]) { store in
                from(&minor, name?.handle, 0, library.oids.kerberos5SetRaw, GSSConstant.credentialInitiate, store, &output, nil, nil)
            }
        case .password(let password):
            guard let withPassword = library.acquireCredentialWithPassword else {
                throw GSSStatus(operation: what, major: 0x000D_0000, minor: 0, message: "this GSSAPI library cannot use a password (no gss_acquire_cred_with_password)")
            }
            guard let name else {
                throw GSSStatus(operation: what, major: 0x0002_0000, minor: 0, message: "a password credential needs a principal name")
            }
            var secret = Array(password.revealForKerberos().utf8)
            defer { for index in secret.indices { secret[index] = 0 } }
            major = secret.withUnsafeMutableBytes { raw -> UInt32 in
                var buffer = GSSBuffer(length: raw.count, value: raw.baseAddress)
                return withPassword(&minor, name.handle, &buffer, 0, library.oids.kerberos5SetRaw, GSSConstant.credentialInitiate, &output, nil, nil)
            }
        }
        try library.check(major, minor, what)
        guard let output else { throw GSSStatus(operation: what, major: major, minor: minor, message: "no credential returned") }
        return GSSCredentialHandle(owning: output, library: library, acquiredAt: ContinuousClock.now)
    }

    // MARK: Reporting

    /// Acquires the credential now and says for whom and for how long, or why it cannot be
    /// had (for `probe`, `check-config` and the start-up log). A password credential asks
    /// the KDC, which for a wrong password is a failed logon: pass `contactKDC: false` to only
    /// describe it then.
    public func report(contactKDC: Bool) async -> KerberosCredentialReport {
        if case .password = source, !contactKDC, state.withLockedValue({ $0.handle == nil && $0.acquisitionFailure == nil }) {
            return KerberosCredentialReport(source: source, principal: principal, remainingLifetime: nil, error: nil, checked: false)
        }
        do throws(KerberosError) {
            let library = try self.library.get()
            let handle = try await currentHandle(library: library)
            let remaining = handle.expiry.map { clock.now.duration(to: $0) }
            return KerberosCredentialReport(source: source, principal: handle.principal, remainingLifetime: remaining, error: nil, checked: true)
        } catch {
            return KerberosCredentialReport(source: source, principal: principal, remainingLifetime: nil, error: error, checked: true)
        }
    }
}

/// What `KerberosCredential.report(contactKDC:)` found.
public struct KerberosCredentialReport: Sendable, CustomStringConvertible {
    public var source: KerberosCredentialSource
    public var principal: String?
    /// How long its tickets are still valid, when known.
    public var remainingLifetime: Duration?
    public var error: KerberosError?
    /// `false` when nothing was acquired (a password is only tried on first use).
    public var checked: Bool

    public var isUsable: Bool { error == nil }

    public var description: String {
        let who = principal ?? "(default principal)"
        if let error { return "\(who) from \(source): unusable — \(error)" }
        guard checked else { return "\(who) from \(source) (ticket obtained from the KDC on first use)" }
        if let remainingLifetime {
            let seconds = max(0, remainingLifetime.components.seconds)
            let minutes = (seconds % 3600) / 60
            return "\(who) from \(source), ticket valid for \(seconds / 3600)h\(minutes < 10 ? "0" : "")\(minutes)m"
        }
        return "\(who) from \(source)"
    }
}

extension GSSCredentialHandle {
    /// The lifetime the renewal schedule uses: a keytab credential refreshes its own tickets
    /// inside GSSAPI (its lifetime before first use says nothing), so it has none.
    func lifetimeDuration(for source: KerberosCredentialSource) -> Duration? {
        if case .keytab = source { return nil }
        guard expiry != nil else { return nil }
        return .seconds(Int(lifetime))
    }
}
