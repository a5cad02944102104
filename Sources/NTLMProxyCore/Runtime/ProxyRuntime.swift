import Logging
import NIOCore
import NIOPosix
import Kerberos
import NIOSSL
import NTLMHTTP

/// The running proxy: every listener of a `ProxyConfiguration`, bound and serving.
///
/// ```swift
/// let runtime = try await ProxyRuntime.start(configuration, logger: logger)
/// try await runtime.run()      // until the task is cancelled (SIGINT/SIGTERM in the CLI)
/// ```
public final class ProxyRuntime: Sendable {
    /// A bound listener and the mode it serves.
    public struct RunningListener: Sendable {
        public let name: String
        public let mode: String
        public let listener: any ServingListener
        public var port: Int { listener.port }
    }

    public let listeners: [RunningListener]
    private let shutdownTasks: [@Sendable () async -> Void]
    private let backgroundJobs: [@Sendable () async -> Void]

    private init(listeners: [RunningListener], shutdownTasks: [@Sendable () async -> Void], backgroundJobs: [@Sendable () async -> Void]) {
        self.listeners = listeners
        self.shutdownTasks = shutdownTasks
        self.backgroundJobs = backgroundJobs
    }

    /// What building one listener's mode produced.
    struct BuiltMode {
        /// Serves HTTP with this handler (unless `raw` is set).
        var handler: (any ConnectionHandler)? = nil
        /// HTTP listener that can switch connections to byte tunnels (`CONNECT`).
        var allowsTunnels = false
        /// A raw (non-HTTP) listener instead: SOCKS5 or a static tunnel.
        var raw: (@Sendable (ListenerOptions, any EventLoopGroup, Logger) async throws -> any ServingListener)? = nil
        var shutdown: [@Sendable () async -> Void] = []
        var background: [@Sendable () async -> Void] = []
    }

    /// Builds every listener's mode and binds its socket. Fails (closing what was bound)
    /// if any listener cannot start.
    public static func start(_ configuration: ProxyConfiguration, group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton, logger: Logger) async throws -> ProxyRuntime {
        var running: [RunningListener] = []
        var shutdownTasks: [@Sendable () async -> Void] = []
        var background: [@Sendable () async -> Void] = []
        var context = BuildContext(group: group)
        do {
            for listener in configuration.listeners {
                var listenerLogger = logger
                listenerLogger[metadataKey: "listener"] = "\(listener.name)"
                let built = try makeHandler(for: listener, context: &context, logger: listenerLogger)
                shutdownTasks += built.shutdown
                background += built.background
                var options = ListenerOptions(
                    host: listener.address.host, port: listener.address.port, tls: try listener.tls.map(makeServerTLS),
                    maximumHeaderBytes: listener.limits.maxHeaderBytes, maximumConnections: listener.limits.maxConnections,
                    idleTimeout: TimeAmount(listener.idleTimeout))
                options.allowsTunnels = built.allowsTunnels
                let bound: any ServingListener
                if let raw = built.raw {
                    bound = try await raw(options, group, listenerLogger)
                } else if let handler = built.handler {
                    bound = try await ProxyListener.bind(options, group: group, handler: handler, logger: listenerLogger)
                } else {
                    throw ProxyError.upstream("internal: listener \(listener.name) has nothing to serve")
                }
                let scheme = built.raw != nil ? "tcp" : (listener.tls == nil ? "http" : "https")
                listenerLogger.notice("listening on \(scheme)://\(listener.address.host.contains(":") ? "[\(listener.address.host)]" : listener.address.host):\(bound.port) (\(listener.mode.name))")
                running.append(RunningListener(name: listener.name, mode: listener.mode.name, listener: bound))
            }
        } catch {
            for item in running { await item.listener.close() }
            for task in shutdownTasks { await task() }
            throw error
        }
        return ProxyRuntime(listeners: running, shutdownTasks: shutdownTasks, backgroundJobs: background)
    }

    /// Serves all listeners until the calling task is cancelled or `shutdown()` is called.
    public func run() async throws {
        let jobs = Task {
            await withDiscardingTaskGroup { group in
                for job in backgroundJobs { group.addTask { await job() } }
            }
        }
        defer { jobs.cancel() }
        try await withThrowingTaskGroup(of: Void.self) { group in
            for item in listeners {
                group.addTask { try await item.listener.serve() }
            }
            try await group.waitForAll()
        }
        jobs.cancel()
        for task in shutdownTasks { await task() }
    }

    /// Stops accepting connections on every listener.
    public func shutdown() async {
        for item in listeners { await item.listener.close() }
        for task in shutdownTasks { await task() }
    }

    public func listener(named name: String) -> RunningListener? {
        listeners.first { $0.name == name }
    }

    /// What listeners of one configuration share: the upstream side of each forward
    /// configuration (so a SOCKS5 or tunnel listener `via` a forward listener uses its
    /// pools, failover and lockout guard) and one lockout guard per window.
    struct BuildContext {
        let group: any EventLoopGroup
        var lockoutGuards: [Duration: LockoutGuard] = [:]
        var forwardModes: [String: ForwardMode] = [:]

        init(group: any EventLoopGroup) {
            self.group = group
        }

        mutating func lockoutGuard(window: Duration) -> LockoutGuard {
            if let existing = lockoutGuards[window] { return existing }
            let made = LockoutGuard(window: window)
            lockoutGuards[window] = made
            return made
        }

        /// The forward mode for `forward`, made once per distinct routing.
        mutating func forwardMode(_ forward: ForwardConfiguration, requestTimeout: Duration?, logger: Logger, built: inout BuiltMode) -> ForwardMode {
            let key = forward.identityKey
            if let existing = forwardModes[key] { return existing }
            let upstreams = ForwardUpstreams(configuration: forward, lockout: lockoutGuard(window: forward.lockoutWindow), requestTimeout: requestTimeout, group: group, logger: logger)
            built.shutdown.append { await upstreams.shutdown() }
            if !forward.parents.isEmpty {
                built.background.append { await upstreams.runHealthChecks() }
            }
            let mode = ForwardMode(upstreams: upstreams)
            forwardModes[key] = mode
            return mode
        }
    }

    static func makeHandler(for listener: ListenerConfiguration, context: inout BuildContext, logger: Logger) throws -> BuiltMode {
        let group = context.group
        switch listener.mode {
        case .gateway(let gateway):
            var configuration = NTLMHTTPClient.Configuration()
            if let roots = gateway.trustRootsFile { configuration.useTrustRoots(pemFile: roots) }
            configuration.channelBindings = gateway.channelBindings
            configuration.authentication.allowBasic = gateway.allowBasic && gateway.credential.allowBasic
            if gateway.allowNTLMv1 { configuration.authentication.ntlmPolicy.responseMode = .ntlmv1 }
            configuration.requestTimeout = listener.limits.requestTimeout
            configuration.authentication.preemptiveScheme = .ntlm
            gateway.credential.apply(to: &configuration.authentication)
            // Every client connection may hold an authenticated upstream connection; keeping
            // fewer idle ones than that means a fresh NTLM handshake for each one dropped.
            configuration.maximumIdleConnectionsPerKey = max(8, listener.limits.maxConnections)
            let client = NTLMHTTPClient(eventLoopGroup: group, configuration: configuration, logger: logger)
            let forwarder = Forwarder(client: client, backend: gateway.backend, credential: gateway.credential.httpCredential)
            return BuiltMode(handler: GatewayMode(forwarder: forwarder, lockout: context.lockoutGuard(window: .seconds(300))), shutdown: [{ try? await client.shutdown() }])

        case .passThrough(let passThrough):
            var configuration = NTLMHTTPClient.Configuration()
            if let roots = passThrough.trustRootsFile { configuration.useTrustRoots(pemFile: roots) }
            configuration.requestTimeout = listener.limits.requestTimeout
            let client = NTLMHTTPClient(eventLoopGroup: group, configuration: configuration, logger: logger)
            let mode = PassThroughMode(configuration: passThrough, client: client)
            return BuiltMode(handler: mode, shutdown: [{ try? await client.shutdown() }])

        case .acceptor(let acceptor):
            let kerberos = acceptor.kerberos.map { KerberosAcceptor(keytab: $0.keytab, principal: $0.principal) }
            var shutdown: [@Sendable () async -> Void] = []
            var background: [@Sendable () async -> Void] = []
            let verifier: (any AcceptorVerifier)?
            if let helper = acceptor.domainHelper {
                let pool = NTLMAuthHelperPool(configuration: helper, eventLoopGroup: group, logger: logger)
                shutdown.append { await pool.shutdown() }
                // A helper that cannot start is reported at once (the listener still serves:
                // Kerberos may work, and helpers are started again on demand).
                background.append {
                    do {
                        try await pool.start()
                        logger.notice("domain logons checked by \(pool.verifierDescription)")
                    } catch {
                        logger.error("the domain helper does not work: \(error)")
                    }
                }
                verifier = pool
            } else if !acceptor.usersFile.isEmpty {
                verifier = acceptor.users
            } else {
                verifier = nil
            }
            if let kerberos {
                background.append {
                    switch await kerberos.check() {
                    case .success(let principal): logger.notice("Kerberos tickets checked with the service keytab (\(principal))")
                    case .failure(let error): logger.error("Kerberos cannot be accepted: \(error)")
                    }
                }
            }
            let settings = AcceptorSession.Settings(
                policy: acceptor.acceptorPolicy, verifier: verifier, kerberos: kerberos,
                allowBasic: acceptor.offersBasic(listenerHasTLS: listener.tls != nil))
            var forwarder: Forwarder? = nil
            if let backend = acceptor.backend {
                var configuration = NTLMHTTPClient.Configuration()
                configuration.requestTimeout = listener.limits.requestTimeout
                let made = NTLMHTTPClient(eventLoopGroup: group, configuration: configuration, logger: logger)
                shutdown.append { try? await made.shutdown() }
                forwarder = Forwarder(client: made, backend: backend, credential: nil)
            }
            let mode = AcceptorMode(settings: settings, forwarder: forwarder, identityHeader: acceptor.identityHeader, padUnauthorizedTo: acceptor.pad401To)
            return BuiltMode(handler: mode, shutdown: shutdown, background: background)

        case .forward(let forward):
            var built = BuiltMode(allowsTunnels: true)
            // No overall deadline: a download through a forward proxy may rightly take an hour;
            // the client's read-idle timeout (60 s of silence) and the connect timeout bound it.
            built.handler = context.forwardMode(forward, requestTimeout: nil, logger: logger, built: &built)
            return built

        case .socks5(let socks):
            var built = BuiltMode()
            let mode = context.forwardMode(socks.forward, requestTimeout: nil, logger: logger, built: &built)
            let users = socks.users
            built.raw = { options, group, logger in
                try await SOCKS5Listener.bind(RawListenerOptions(options), users: users, opener: mode, group: group, logger: logger)
            }
            return built

        case .tunnel(let tunnel):
            var built = BuiltMode()
            let mode = context.forwardMode(tunnel.forward, requestTimeout: nil, logger: logger, built: &built)
            let target = (tunnel.targetHost, tunnel.targetPort)
            built.raw = { options, group, logger in
                try await StaticTunnelListener.bind(RawListenerOptions(options), targetHost: target.0, targetPort: target.1, opener: mode, group: group, logger: logger)
            }
            return built
        }
    }

    static func makeServerTLS(_ tls: ListenerTLSConfiguration) throws -> NIOSSLContext {
        do {
            let chain = try NIOSSLCertificate.fromPEMFile(tls.certificateFile).map { NIOSSLCertificateSource.certificate($0) }
            let key = try NIOSSLPrivateKey(file: tls.privateKeyFile, format: .pem)
            let configuration = TLSConfiguration.makeServerConfiguration(certificateChain: chain, privateKey: .privateKey(key))
            return try NIOSSLContext(configuration: configuration)
        } catch {
            throw ProxyError.tlsSetup("cannot load \(tls.certificateFile) / \(tls.privateKeyFile): \(error)")
        }
    }
}

extension TimeAmount {
    init(_ duration: Duration) {
        let (seconds, attoseconds) = duration.components
        self = .nanoseconds(seconds * 1_000_000_000 + attoseconds / 1_000_000_000)
    }
}

extension RawListenerOptions {
    /// The socket settings of an HTTP listener's options, for a raw listener.
    init(_ options: ListenerOptions) {
        self.init(host: options.host, port: options.port, maximumConnections: options.maximumConnections, idleTimeout: options.idleTimeout)
    }
}
