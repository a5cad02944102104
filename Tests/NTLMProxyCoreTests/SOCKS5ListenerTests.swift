import Foundation
import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import NTLM
import NTLMTestSupport
import Testing
@testable import NTLMProxyCore

/// Opens every tunnel to the echo upstream whatever the target (so IPv6 and names can be
/// tested on 127.0.0.1), recording what was asked; some names fail on purpose.
final class RecordingOpener: TunnelOpening {
    let echoPort: Int
    private let box = NIOLockedValueBox<[(host: String, port: Int)]>([])

    init(echoPort: Int) { self.echoPort = echoPort }

    var requests: [(host: String, port: Int)] { box.withLockedValue { $0 } }

    func openTunnel(host: String, port: Int, client: SocketAddress?, logger: Logger) async throws(TunnelOpenError) -> OpenedTunnel {
        box.withLockedValue { $0.append((host, port)) }
        switch host {
        case "denied.test": throw .notAllowed("denied.test by rule")
        case "down.test": throw .unreachable("down.test:\(port) refused")
        case "slow.test": throw .timedOut("slow.test:\(port)")
        case "locked.test": throw .authenticationFailed("parent rejected the credential")
        default: break
        }
        do {
            let channel = try await DirectConnector.connect(host: "127.0.0.1", port: echoPort, timeout: .seconds(5), group: MultiThreadedEventLoopGroup.singleton)
            return OpenedTunnel(channel: channel)
        } catch {
            throw error.tunnelOpenError
        }
    }
}

@Suite("SOCKS5 listener")
struct SOCKS5ListenerTests {
    struct Stack {
        let listener: SOCKS5Listener
        let echo: EchoUpstream
        let opener: RecordingOpener
        let task: Task<Void, Error>
        var port: Int { listener.port }

        func stop() async {
            task.cancel()
            await listener.close()
            await echo.stop()
        }
    }

    static func start(users: [SOCKS5UserConfiguration] = []) async throws -> Stack {
        let echo = try await EchoUpstream.start()
        let opener = RecordingOpener(echoPort: echo.port)
        let listener = try await SOCKS5Listener.bind(RawListenerOptions(port: 0), users: users, opener: opener, logger: Logger(label: "test.socks5"))
        let task = Task { try await listener.serve() }
        return Stack(listener: listener, echo: echo, opener: opener, task: task)
    }

    static let success: [UInt8] = [5, 0, 0, 1, 0, 0, 0, 0, 0, 0]

    static func connect(_ address: [UInt8], port: UInt16) -> [UInt8] {
        [5, 1, 0] + address + [UInt8(port >> 8), UInt8(port & 0xFF)]
    }

    static func domain(_ name: String) -> [UInt8] { [3, UInt8(name.utf8.count)] + Array(name.utf8) }

    /// No-auth greeting, a CONNECT, then "hello" through the tunnel; returns (method reply,
    /// connect reply, echoed bytes).
    static func roundTrip(_ port: Int, request: [UInt8]) async throws -> ([UInt8], [UInt8], String) {
        let socket = try await TestSocket.connect(port: port)
        return try await offload { () throws -> ([UInt8], [UInt8], String) in
            try socket.send([5, 1, 0])
            let method = try socket.receive(exactly: 2)
            try socket.send(request)
            let reply = try socket.receive(exactly: 10)
            try socket.send("hello")
            let echoed = try socket.receive(exactly: 5)
            socket.shutdownWrite()
            _ = try socket.receiveUntilEOF()
            return (method, reply, String(decoding: echoed, as: UTF8.self))
        }
    }

    /// The three address types of RFC 1928 §5, each tunnelled without authentication.
    static let targets: [(address: [UInt8], port: UInt16, host: String)] = [
        ([1, 127, 0, 0, 1], 8443, "127.0.0.1"),
        (domain("intranet.example.com"), 443, "intranet.example.com"),
        ([4, 0x20, 0x01, 0x0d, 0xb8] + [UInt8](repeating: 0, count: 11) + [1], 22, "2001:db8::1"),
    ]

    @Test(arguments: 0..<3)
    func noAuthenticationToEachAddressType(index: Int) async throws {
        let target = Self.targets[index]
        let stack = try await Self.start()
        defer { Task { await stack.stop() } }
        let (method, reply, echoed) = try await Self.roundTrip(stack.port, request: Self.connect(target.address, port: target.port))
        #expect(method == [5, 0])
        #expect(reply == Self.success)
        #expect(echoed == "hello")
        #expect(stack.opener.requests.first?.host == target.host)
        #expect(stack.opener.requests.first?.port == Int(target.port))
    }

    @Test func bytesSentRightAfterTheRequestArriveFirst() async throws {
        let stack = try await Self.start()
        defer { Task { await stack.stop() } }
        let socket = try await TestSocket.connect(port: stack.port)
        let (reply, echoed) = try await offload { () throws -> ([UInt8], String) in
            // Greeting, request and data in one packet (clients that do not wait).
            try socket.send([5, 1, 0] + Self.connect([1, 127, 0, 0, 1], port: 80) + Array("GET / HTTP/1.0\r\n\r\n".utf8))
            _ = try socket.receive(exactly: 2)
            let reply = try socket.receive(exactly: 10)
            return (reply, String(decoding: try socket.receive(exactly: 18), as: UTF8.self))
        }
        #expect(reply == Self.success)
        #expect(echoed == "GET / HTTP/1.0\r\n\r\n")
    }

    @Test func usernamePasswordAccepted() async throws {
        let stack = try await Self.start(users: [SOCKS5UserConfiguration(name: "alice", password: "s3cr:et"), SOCKS5UserConfiguration(name: "bob", password: "other")])
        defer { Task { await stack.stop() } }
        let socket = try await TestSocket.connect(port: stack.port)
        let (method, auth, reply, echoed) = try await offload { () throws -> ([UInt8], [UInt8], [UInt8], String) in
            try socket.send([5, 2, 0, 2])
            let method = try socket.receive(exactly: 2)
            try socket.send([1, 5] + Array("alice".utf8) + [7] + Array("s3cr:et".utf8))
            let auth = try socket.receive(exactly: 2)
            try socket.send(Self.connect(Self.domain("example.com"), port: 443))
            let reply = try socket.receive(exactly: 10)
            try socket.send("hello")
            return (method, auth, reply, String(decoding: try socket.receive(exactly: 5), as: UTF8.self))
        }
        #expect(method == [5, 2], "with users configured only username/password is chosen")
        #expect(auth == [1, 0])
        #expect(reply == Self.success)
        #expect(echoed == "hello")
    }

    @Test func wrongPasswordIsRejectedAndClosed() async throws {
        let stack = try await Self.start(users: [SOCKS5UserConfiguration(name: "alice", password: "s3cr:et")])
        defer { Task { await stack.stop() } }
        let socket = try await TestSocket.connect(port: stack.port)
        let (auth, eof) = try await offload { () throws -> ([UInt8], Bool) in
            try socket.send([5, 1, 2])
            _ = try socket.receive(exactly: 2)
            try socket.send([1, 5] + Array("alice".utf8) + [6] + Array("s3cr:e".utf8))
            return (try socket.receive(exactly: 2), try socket.atEOF())
        }
        #expect(auth == [1, 1])
        #expect(eof)
        #expect(stack.opener.requests.isEmpty)
    }

    @Test func noAuthenticationIsNotOfferedWhenUsersAreConfigured() async throws {
        let stack = try await Self.start(users: [SOCKS5UserConfiguration(name: "alice", password: "pw")])
        defer { Task { await stack.stop() } }
        let socket = try await TestSocket.connect(port: stack.port)
        let (method, eof) = try await offload { () throws -> ([UInt8], Bool) in
            try socket.send([5, 1, 0])
            return (try socket.receive(exactly: 2), try socket.atEOF())
        }
        #expect(method == [5, 0xFF])
        #expect(eof)
    }

    @Test(arguments: [2, 3] as [UInt8])
    func bindAndUDPAreNotSupported(_ command: UInt8) async throws {
        let stack = try await Self.start()
        defer { Task { await stack.stop() } }
        let socket = try await TestSocket.connect(port: stack.port)
        let (reply, eof) = try await offload { () throws -> ([UInt8], Bool) in
            try socket.send([5, 1, 0])
            _ = try socket.receive(exactly: 2)
            try socket.send([5, command, 0, 1, 127, 0, 0, 1, 0, 80])
            return (try socket.receive(exactly: 10), try socket.atEOF())
        }
        #expect(reply[1] == SOCKS5ReplyCode.commandNotSupported.rawValue)
        #expect(eof)
        #expect(stack.opener.requests.isEmpty)
    }

    @Test(arguments: [("denied.test", SOCKS5ReplyCode.notAllowedByRuleset), ("down.test", .hostUnreachable), ("slow.test", .ttlExpired), ("locked.test", .generalFailure)])
    func openFailuresMapToReplyCodes(_ host: String, _ code: SOCKS5ReplyCode) async throws {
        let stack = try await Self.start()
        defer { Task { await stack.stop() } }
        let socket = try await TestSocket.connect(port: stack.port)
        let (reply, eof) = try await offload { () throws -> ([UInt8], Bool) in
            try socket.send([5, 1, 0])
            _ = try socket.receive(exactly: 2)
            try socket.send(Self.connect(Self.domain(host), port: 443))
            return (try socket.receive(exactly: 10), try socket.atEOF())
        }
        #expect(reply[0] == 5)
        #expect(reply[1] == code.rawValue)
        #expect(eof)
    }

    @Test func usersCompareWholeNameAndPassword() {
        let users = SOCKS5Users([SOCKS5UserConfiguration(name: "alice", password: "pw1"), SOCKS5UserConfiguration(name: "bob", password: "pw2")])
        #expect(users.verify(username: "alice", password: "pw1"))
        #expect(users.verify(username: "bob", password: "pw2"))
        #expect(!users.verify(username: "alice", password: "pw2"))
        #expect(!users.verify(username: "alic", password: "pw1"))
        #expect(!users.verify(username: "alice", password: "pw1 "))
        #expect(!users.verify(username: "", password: ""))
        #expect(!"\(users)".contains("pw1"))
    }
}

@Suite("Static tunnel listener")
struct StaticTunnelTests {
    @Test func forwardsToItsTargetWithHalfClose() async throws {
        let echo = try await EchoUpstream.start()
        let listener = try await StaticTunnelListener.bind(RawListenerOptions(port: 0), targetHost: "127.0.0.1", targetPort: echo.port, opener: DirectTunnelOpener(group: MultiThreadedEventLoopGroup.singleton), logger: Logger(label: "test.static"))
        let task = Task { try await listener.serve() }
        defer { task.cancel(); Task { await listener.close(); await echo.stop() } }
        let socket = try await TestSocket.connect(port: listener.port)
        let echoed = try await offload { () throws -> [UInt8] in
            try socket.send("static tunnel")
            let first = try socket.receive(exactly: 13)
            try socket.send(" and more")
            socket.shutdownWrite()
            return first + (try socket.receiveUntilEOF())
        }
        #expect(String(decoding: echoed, as: UTF8.self) == "static tunnel and more")
    }

    @Test func bytesAndEOFSentBeforeTheTunnelOpensAreKept() async throws {
        let echo = try await EchoUpstream.start()
        let listener = try await StaticTunnelListener.bind(RawListenerOptions(port: 0), targetHost: "127.0.0.1", targetPort: echo.port, opener: DirectTunnelOpener(group: MultiThreadedEventLoopGroup.singleton), logger: Logger(label: "test.static"))
        let task = Task { try await listener.serve() }
        defer { task.cancel(); Task { await listener.close(); await echo.stop() } }
        let socket = try await TestSocket.connect(port: listener.port)
        let echoed = try await offload { () throws -> [UInt8] in
            try socket.send("at once")
            socket.shutdownWrite()
            return try socket.receiveUntilEOF()
        }
        #expect(String(decoding: echoed, as: UTF8.self) == "at once")
    }

    @Test func anUnreachableTargetClosesTheClient() async throws {
        // A port nobody listens on: bind one, note it, close it.
        let probe = try await EchoUpstream.start()
        let deadPort = probe.port
        await probe.stop()
        let listener = try await StaticTunnelListener.bind(RawListenerOptions(port: 0), targetHost: "127.0.0.1", targetPort: deadPort, opener: DirectTunnelOpener(group: MultiThreadedEventLoopGroup.singleton), logger: Logger(label: "test.static"))
        let task = Task { try await listener.serve() }
        defer { task.cancel(); Task { await listener.close() } }
        let socket = try await TestSocket.connect(port: listener.port)
        #expect(try await offload { try socket.atEOF() })
    }

    @Test func directConnectorReportsRefusedWithTheTarget() async throws {
        // A port bound but never listened on: refused, and no other test's listener can take it
        // meanwhile (a stopped server's port could be, and once was, reused at once).
        let dead = try ClosedPort()
        defer { withExtendedLifetime(dead) {} }
        let deadPort = dead.port
        await #expect(throws: DirectConnectError.refused("127.0.0.1:\(deadPort)")) {
            _ = try await DirectConnector.connect(host: "127.0.0.1", port: deadPort, timeout: .seconds(5), group: MultiThreadedEventLoopGroup.singleton)
        }
        let error = DirectConnectError.refused("127.0.0.1:\(deadPort)")
        #expect(error.description.contains("127.0.0.1:\(deadPort)"))
        if case .unreachable = error.tunnelOpenError {} else { Issue.record("refused should map to unreachable") }
    }
}
