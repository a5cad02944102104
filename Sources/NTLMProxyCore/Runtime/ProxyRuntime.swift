import Logging
import NIOCore
import NIOPosix
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
        public let listener: ProxyListener
        public var port: Int { listener.port }
    }

    public let listeners: [RunningListener]
    private let clients: [NTLMHTTPClient]

    private init(listeners: [RunningListener], clients: [NTLMHTTPClient]) {
        self.listeners = listeners
        self.clients = clients
    }

    /// Builds every listener's mode and binds its socket. Fails (closing what was bound)
    /// if any listener cannot start.
    public static func start(_ configuration: ProxyConfiguration, group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton, logger: Logger) async throws -> ProxyRuntime {
        var running: [RunningListener] = []
        var clients: [NTLMHTTPClient] = []
        do {
            for listener in configuration.listeners {
                var listenerLogger = logger
                listenerLogger[metadataKey: "listener"] = "\(listener.name)"
                let (handler, client) = try makeHandler(for: listener, group: group, logger: listenerLogger)
                if let client { clients.append(client) }
                let options = ListenerOptions(
                    host: listener.address.host, port: listener.address.port, tls: try listener.tls.map(makeServerTLS),
                    maximumHeaderBytes: listener.limits.maxHeaderBytes, maximumConnections: listener.limits.maxConnections,
                    idleTimeout: TimeAmount(listener.limits.idleTimeout))
                let bound = try await ProxyListener.bind(options, group: group, handler: handler, logger: listenerLogger)
                listenerLogger.notice("listening on \(listener.tls == nil ? "http" : "https")://\(listener.address.host.contains(":") ? "[\(listener.address.host)]" : listener.address.host):\(bound.port) (\(listener.mode.name))")
                running.append(RunningListener(name: listener.name, mode: listener.mode.name, listener: bound))
            }
        } catch {
            for item in running { await item.listener.close() }
            for client in clients { try? await client.shutdown() }
            throw error
        }
        return ProxyRuntime(listeners: running, clients: clients)
    }

    /// Serves all listeners until the calling task is cancelled or `shutdown()` is called.
    public func run() async throws {
        try await withThrowingTaskGroup(of: Void.self) { group in
            for item in listeners {
                group.addTask { try await item.listener.serve() }
            }
            try await group.waitForAll()
        }
        for client in clients { try? await client.shutdown() }
    }

    /// Stops accepting connections on every listener.
    public func shutdown() async {
        for item in listeners { await item.listener.close() }
        for client in clients { try? await client.shutdown() }
    }

    public func listener(named name: String) -> RunningListener? {
        listeners.first { $0.name == name }
    }

    static func makeHandler(for listener: ListenerConfiguration, group: any EventLoopGroup, logger: Logger) throws -> (any ConnectionHandler, NTLMHTTPClient?) {
        switch listener.mode {
        case .gateway(let gateway):
            var configuration = NTLMHTTPClient.Configuration()
            if let roots = gateway.trustRootsFile { configuration.useTrustRoots(pemFile: roots) }
            configuration.channelBindings = gateway.channelBindings
            configuration.authentication.allowBasic = gateway.allowBasic && gateway.credential.allowBasic
            if gateway.allowNTLMv1 { configuration.authentication.ntlmPolicy.responseMode = .ntlmv1 }
            configuration.requestTimeout = listener.limits.requestTimeout
            configuration.authentication.preemptiveScheme = .ntlm
            // Every client connection may hold an authenticated upstream connection; keeping
            // fewer idle ones than that means a fresh NTLM handshake for each one dropped.
            configuration.maximumIdleConnectionsPerKey = max(8, listener.limits.maxConnections)
            let client = NTLMHTTPClient(eventLoopGroup: group, configuration: configuration, logger: logger)
            let forwarder = Forwarder(client: client, backend: gateway.backend, credential: gateway.credential.httpCredential)
            return (GatewayMode(forwarder: forwarder), client)

        case .acceptor(let acceptor):
            let settings = AcceptorSession.Settings(
                policy: acceptor.acceptorPolicy, users: acceptor.users,
                allowBasic: acceptor.offersBasic(listenerHasTLS: listener.tls != nil))
            var client: NTLMHTTPClient? = nil
            var forwarder: Forwarder? = nil
            if let backend = acceptor.backend {
                var configuration = NTLMHTTPClient.Configuration()
                configuration.requestTimeout = listener.limits.requestTimeout
                let made = NTLMHTTPClient(eventLoopGroup: group, configuration: configuration, logger: logger)
                client = made
                forwarder = Forwarder(client: made, backend: backend, credential: nil)
            }
            let mode = AcceptorMode(settings: settings, forwarder: forwarder, identityHeader: acceptor.identityHeader, padUnauthorizedTo: acceptor.pad401To)
            return (mode, client)

        case .forward, .socks5, .tunnel:
            // Wired up with ForwardMode (issue 4, in progress).
            throw ProxyError.upstream("\(listener.mode.name) listeners are not wired yet")
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
