import ArgumentParser
import Logging
import NIOCore
import NIOHTTP1
import NTLM
import NTLMHTTP
import NTLMProxyCore

/// `ntlmproxy demo`: an NTLM-protected origin (acceptor mode, one demo user) and a gateway in
/// front of it, in one process, on loopback. It sends one request through the gateway, prints
/// the handshake stage by stage, then keeps serving so you can try both with curl.
struct DemoCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "demo",
        abstract: "Show an NTLM handshake end to end: a protected origin and a gateway in front of it, on this machine."
    )

    @OptionGroup var globals: GlobalOptions

    @Option(name: .long, help: "Gateway port (0 picks a free one).")
    var gatewayPort: Int = 8080

    @Option(name: .long, help: "Origin (acceptor) port (0 picks a free one).")
    var originPort: Int = 8081

    @Flag(name: .long, help: "Exit after the first request instead of serving.")
    var once = false

    static let domain = "DEMO"
    static let user = "demo"
    static let password = "demo-password"

    func run() async throws {
        LoggingSetup.bootstrap(level: globals.resolvedLogLevel(configured: .warning))
        let logger = Logger(label: "ntlmproxy.demo")
        let printer = DemoPrinter()

        var users = NTLMUserStore()
        users.add(user: Self.user, domain: Self.domain, password: Password(Self.password))
        let settings = AcceptorSession.Settings(policy: NTLMAcceptorPolicy(netbiosDomain: Self.domain, netbiosComputer: "DEMO-ORIGIN"), users: users, allowBasic: false)
        let origin = AcceptorMode(settings: settings, forwarder: nil, observer: { printer.originEvent($0) })
        let originListener = try await Self.bind(port: originPort, handler: origin, logger: logger)

        let backend = try BackendURL(parsing: "http://127.0.0.1:\(originListener.port)/")
        let credential = HTTPCredential(userName: "\(Self.domain)\\\(Self.user)", password: Password(Self.password), workstation: "DEMO-GATEWAY")
        var upstreamConfiguration = NTLMHTTPClient.Configuration()
        upstreamConfiguration.authentication.preemptiveScheme = .ntlm
        let upstreamClient = NTLMHTTPClient(configuration: upstreamConfiguration, logger: logger)
        let gateway = GatewayMode(forwarder: Forwarder(client: upstreamClient, backend: backend, credential: credential))
        let gatewayListener = try await Self.bind(port: gatewayPort, handler: gateway, logger: logger)

        print("""
        ntlmproxy demo: an NTLM-protected origin and a gateway in front of it, on 127.0.0.1 only.
          origin  (acceptor mode) http://127.0.0.1:\(originListener.port)/  accepts \(Self.domain)\\\(Self.user), password \(Self.password)
          gateway (gateway mode)  http://127.0.0.1:\(gatewayListener.port)/  forwards to the origin as \(Self.domain)\\\(Self.user)

        One request through the gateway: GET http://127.0.0.1:\(gatewayListener.port)/
        """)

        let serving = Task {
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask { try await originListener.serve() }
                group.addTask { try await gatewayListener.serve() }
                try await group.waitForAll()
            }
        }
        let probeClient = NTLMHTTPClient(configuration: .init(), logger: logger)
        do {
            let response = try await probeClient.execute(NTLMHTTPRequest(url: "http://127.0.0.1:\(gatewayListener.port)/"), credential: nil)
            let body = try await response.body.collect(upTo: 64 * 1024)
            let text = String(buffer: body)
            print("  [gateway  → you    ]  \(response.status.code) \(response.status.reasonPhrase): the origin says")
            for line in text.split(separator: "\n") { print("                          | \(line)") }
        } catch {
            print("  the demo request failed: \(error)")
        }
        try? await probeClient.shutdown()

        print("""

        Try it yourself (Ctrl-C to stop):
          curl http://127.0.0.1:\(gatewayListener.port)/                                        # through the gateway, no credentials needed
          curl --ntlm -u '\(Self.domain)\\\(Self.user):\(Self.password)' http://127.0.0.1:\(originListener.port)/   # straight to the origin
          curl -i http://127.0.0.1:\(originListener.port)/                                        # the origin's 401 challenge
        """)
        if once {
            serving.cancel()
            await originListener.close()
            await gatewayListener.close()
            try? await upstreamClient.shutdown()
            return
        }
        try await Serving.runUntilSignal(logger: logger) {
            // `serving` is not a child of this task: pass the cancellation on explicitly.
            try await withTaskCancellationHandler {
                try await serving.value
            } onCancel: {
                serving.cancel()
            }
        }
        try? await upstreamClient.shutdown()
    }

    static func bind(port: Int, handler: any ConnectionHandler, logger: Logger) async throws -> ProxyListener {
        do {
            return try await ProxyListener.bind(ListenerOptions(host: "127.0.0.1", port: port), handler: handler, logger: logger)
        } catch {
            guard port != 0 else { throw error }
            // The fixed demo port is taken: any free port will do.
            return try await ProxyListener.bind(ListenerOptions(host: "127.0.0.1", port: 0), handler: handler, logger: logger)
        }
    }
}

/// Prints the origin's view of the handshake, one line per stage, without any secret.
final class DemoPrinter: Sendable {
    func originEvent(_ event: AcceptorSession.Event) {
        switch event {
        case .negotiateReceived(let scheme, let flags, let length):
            print("  [gateway  → origin ]  \(scheme) Type 1 NEGOTIATE (\(length) bytes)\n                          flags \(flags)")
        case .challengeSent(let scheme, let flags, let targetName):
            print("  [origin   → gateway]  401 + \(scheme) Type 2 CHALLENGE, target \(targetName)\n                          flags \(flags)")
        case .authenticateReceived(let scheme, let user, let domain, let workstation, let flags, let hasMIC):
            print("  [gateway  → origin ]  \(scheme) Type 3 AUTHENTICATE as \(domain)\\\(user) from \(workstation)\(hasMIC ? ", with MIC" : "")\n                          flags \(flags)")
        case .kerberosTicketReceived(let length):
            print("  [gateway  → origin ]  Negotiate Kerberos ticket (\(length) bytes)")
        case .authenticated(let identity, let kind):
            print("  [origin            ]  verified \(identity.qualifiedName) (\(kind)) → 200")
        case .rejected(let reason):
            print("  [origin            ]  rejected: \(reason) → 401")
        }
    }
}
