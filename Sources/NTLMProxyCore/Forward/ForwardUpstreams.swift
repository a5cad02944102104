import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import NTLMHTTP

/// The upstream side of a forward listener: one authenticating client per parent (each with
/// its own pool of authenticated connections per credential), one for direct requests, the
/// parents' reachability, and the lockout guard.
///
/// Shared by the HTTP, SOCKS5 and static-tunnel listeners of the same forward
/// configuration, so they fail over, pool and lock out together.
public final class ForwardUpstreams: Sendable {
    public let configuration: ForwardConfiguration
    public let lockout: LockoutGuard
    let group: any EventLoopGroup
    let logger: Logger
    private let parentClients: [String: NTLMHTTPClient]
    let directClient: NTLMHTTPClient
    private let health = NIOLockedValueBox(ParentHealth())

    /// - Parameter lockout: share one guard between listeners that reach the same parents
    ///   (its keys are parent and credential), so that together they send a rejected
    ///   credential no more than once.
    public init(configuration: ForwardConfiguration, lockout: LockoutGuard? = nil, requestTimeout: Duration? = nil, group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton, logger: Logger) {
        self.configuration = configuration
        self.group = group
        self.logger = logger
        self.lockout = lockout ?? LockoutGuard(window: configuration.lockoutWindow)
        var clients: [String: NTLMHTTPClient] = [:]
        for parent in configuration.parents {
            clients[parent.name] = NTLMHTTPClient(eventLoopGroup: group, configuration: Self.clientConfiguration(for: parent, in: configuration, requestTimeout: requestTimeout), logger: logger)
        }
        parentClients = clients
        var direct = Self.baseConfiguration(configuration, requestTimeout: requestTimeout)
        direct.authentication.preemptiveScheme = nil
        directClient = NTLMHTTPClient(eventLoopGroup: group, configuration: direct, logger: logger)
    }

    static func baseConfiguration(_ forward: ForwardConfiguration, requestTimeout: Duration?) -> NTLMHTTPClient.Configuration {
        var configuration = NTLMHTTPClient.Configuration()
        configuration.connectTimeout = forward.connectTimeout
        configuration.requestTimeout = requestTimeout
        configuration.maximumIdleConnectionsPerKey = max(1, forward.idleConnectionsPerParent)
        configuration.idleTimeout = forward.idleConnectionTimeout
        configuration.authentication.ntlmPolicy = forward.ntlmPolicy
        // The client's own User-Agent goes upstream; we add none.
        configuration.userAgent = nil
        return configuration
    }

    /// The scheme choice per parent: the scheme is used preemptively on every new connection
    /// (no plain first leg, which could carry a body the parent then refuses); with `auto`
    /// the guess is NTLM and a different offer in the 407 is followed.
    static func clientConfiguration(for parent: ParentProxyConfiguration, in forward: ForwardConfiguration, requestTimeout: Duration?) -> NTLMHTTPClient.Configuration {
        var configuration = baseConfiguration(forward, requestTimeout: requestTimeout)
        var policy = configuration.authentication
        let basicAllowed = forward.allowBasic && (forward.credential(for: parent)?.allowBasic ?? false)
        switch parent.scheme {
        case .auto:
            policy.preference = basicAllowed ? [.ntlm, .negotiate, .basic] : [.ntlm, .negotiate]
            policy.allowBasic = basicAllowed
            // Start every new connection with an NTLM Type 1 (no body on that leg); a parent
            // that offers only Negotiate or Basic gets the scheme it asks for on the next leg.
            policy.preemptiveScheme = forward.credential(for: parent) == nil ? nil : .ntlm
        case .ntlm:
            policy.preference = [.ntlm]
            policy.preemptiveScheme = .ntlm
        case .negotiate:
            policy.preference = [.negotiate]
            policy.preemptiveScheme = .negotiate
        case .basic:
            policy.preference = [.basic]
            policy.allowBasic = true
            policy.preemptiveScheme = .basic
        case .none:
            policy.preemptiveScheme = nil
        }
        // The credential's own choice (auth: kerberos, ntlm, ...) narrows the parent's.
        if parent.scheme != .none, let credential = forward.credential(for: parent) {
            credential.apply(to: &policy)
        }
        configuration.authentication = policy
        return configuration
    }

    func client(for parent: ParentProxyConfiguration) -> NTLMHTTPClient {
        parentClients[parent.name] ?? directClient
    }

    static func proxyServer(_ parent: ParentProxyConfiguration) -> HTTPProxyServer {
        HTTPProxyServer(host: parent.host, port: parent.port)
    }

    // MARK: Reachability

    /// `parents` in the order to try them (reachable ones first).
    func ordered(_ parents: [ParentProxyConfiguration]) -> [ParentProxyConfiguration] {
        health.withLockedValue { $0.ordered(parents, name: \.name) }
    }

    func recordFailure(_ parent: ParentProxyConfiguration, _ error: any Error) {
        let changed = health.withLockedValue { $0.recordFailure(parent.name) }
        if changed {
            logger.warning("parent \(parent.name) is unreachable (\(error)); using the next parent, retrying it every \(configuration.parentRetryInterval.components.seconds) s")
        }
    }

    func recordSuccess(_ parent: ParentProxyConfiguration) {
        let changed = health.withLockedValue { $0.recordSuccess(parent.name) }
        if changed { logger.notice("parent \(parent.name) is reachable again") }
    }

    public func isUp(_ parentName: String) -> Bool {
        health.withLockedValue { $0.isUp(parentName) }
    }

    /// Retries unreachable parents in the background (a TCP connect, no request, no
    /// credential) until the task is cancelled.
    public func runHealthChecks() async {
        while !Task.isCancelled {
            do {
                try await Task.sleep(for: configuration.parentRetryInterval)
            } catch {
                return
            }
            let down = health.withLockedValue { $0.downParents }
            for name in down {
                guard let parent = configuration.parent(named: name) else { continue }
                do {
                    let channel = try await DirectConnector.connect(host: parent.host, port: parent.port, timeout: configuration.connectTimeout, group: group)
                    try? await channel.close()
                    recordSuccess(parent)
                } catch {
                    logger.debug("parent \(name) still unreachable: \(error)")
                }
            }
        }
    }

    /// Closes every upstream connection.
    public func shutdown() async {
        for client in parentClients.values { try? await client.shutdown() }
        try? await directClient.shutdown()
    }
}

extension ForwardUpstreams {
    /// Whether an error means the parent could not be reached at all (nothing was sent), so
    /// the request may go to the next parent. A rejection is never such an error.
    static func isUnreachable(_ error: any Error) -> Bool {
        switch error as? NTLMHTTPClientError {
        case .connectFailed, .connectTimeout: return true
        default: return false
        }
    }
}
