import NTLM
import Testing
@testable import NTLMProxyCore

@Suite("SOCKS5 messages and server handshake")
struct SOCKS5Tests {
    /// CONNECT example.com:443 by domain name.
    static let connectExample: [UInt8] = [5, 1, 0, 3, 11] + Array("example.com".utf8) + [0x01, 0xBB]

    // MARK: greeting

    @Test func parsesGreeting() throws {
        let result = try SOCKS5ClientGreeting.parse([5, 2, 0, 2, 0xAA])
        #expect(result == .complete(SOCKS5ClientGreeting(methods: [.noAuthenticationRequired, .usernamePassword]), consumed: 4))
    }

    @Test func greetingRoundTrips() throws {
        let greeting = SOCKS5ClientGreeting(methods: [.usernamePassword, .gssapi])
        #expect(try SOCKS5ClientGreeting.parse(greeting.serialize()) == .complete(greeting, consumed: 4))
    }

    @Test(arguments: [[], [5], [5, 2], [5, 2, 0]] as [[UInt8]])
    func truncatedGreetingIsIncomplete(_ bytes: [UInt8]) throws {
        #expect(try SOCKS5ClientGreeting.parse(bytes) == .incomplete)
    }

    @Test func greetingWithBadVersionThrows() {
        #expect(throws: SOCKS5Error.unsupportedVersion(4)) { try SOCKS5ClientGreeting.parse([4, 1, 0]) }
    }

    @Test func greetingWithZeroMethodsThrows() {
        #expect(throws: SOCKS5Error.noAuthenticationMethods) { try SOCKS5ClientGreeting.parse([5, 0]) }
    }

    @Test func methodSelectionSerializes() throws {
        #expect(SOCKS5MethodSelection(method: .usernamePassword).serialize() == [5, 2])
        #expect(SOCKS5MethodSelection(method: .noAcceptableMethods).serialize() == [5, 0xFF])
        #expect(try SOCKS5MethodSelection.parse([5, 0]) == .complete(SOCKS5MethodSelection(method: .noAuthenticationRequired), consumed: 2))
    }

    // MARK: RFC 1929

    @Test func usernamePasswordRoundTrips() throws {
        let request = SOCKS5UsernamePasswordRequest(username: "alice", password: "s3cr:et")
        let bytes = try #require(request.serialize())
        #expect(bytes == [1, 5] + Array("alice".utf8) + [7] + Array("s3cr:et".utf8))
        #expect(try SOCKS5UsernamePasswordRequest.parse(bytes + [9]) == .complete(request, consumed: bytes.count))
        for cut in 0..<bytes.count {
            #expect(try SOCKS5UsernamePasswordRequest.parse(Array(bytes[0..<cut])) == .incomplete)
        }
        #expect(SOCKS5UsernamePasswordReply(succeeded: true).serialize() == [1, 0])
        #expect(SOCKS5UsernamePasswordReply(succeeded: false).serialize() == [1, 1])
        #expect(try SOCKS5UsernamePasswordReply.parse([1, 0]) == .complete(SOCKS5UsernamePasswordReply(succeeded: true), consumed: 2))
    }

    @Test func usernamePasswordRejectsBadInput() {
        #expect(throws: SOCKS5Error.unsupportedVersion(5)) { try SOCKS5UsernamePasswordRequest.parse([5, 1, 0x61, 0]) }
        #expect(throws: SOCKS5Error.emptyUsername) { try SOCKS5UsernamePasswordRequest.parse([1, 0, 0]) }
        #expect(throws: SOCKS5Error.invalidCredentialEncoding) {
            try SOCKS5UsernamePasswordRequest.parse([1, 1, 0xFF, 1, 0x61])
        }
    }

    @Test func emptyPasswordIsAccepted() throws {
        let result = try SOCKS5UsernamePasswordRequest.parse([1, 1, 0x61, 0])
        #expect(result == .complete(SOCKS5UsernamePasswordRequest(username: "a", password: ""), consumed: 4))
    }

    @Test func passwordIsRedacted() {
        let request = SOCKS5UsernamePasswordRequest(username: "alice", password: "hunter2")
        #expect(!request.description.contains("hunter2"))
        #expect(!"\(request)".contains("hunter2"))
        #expect(!String(reflecting: request).contains("hunter2"))
        #expect(request.description.contains("alice"))
    }

    // MARK: CONNECT

    @Test func parsesConnectWithDomainName() throws {
        let result = try SOCKS5ConnectRequest.parse(Self.connectExample + [0x16, 0x03])
        let expected = SOCKS5ConnectRequest(address: .domainName("example.com"), port: 443)
        #expect(result == .complete(expected, consumed: Self.connectExample.count))
        #expect(expected.serialize() == Self.connectExample)
    }

    @Test func everyTruncationOfAConnectIsIncomplete() throws {
        for cut in 0..<Self.connectExample.count {
            #expect(try SOCKS5ConnectRequest.parse(Array(Self.connectExample[0..<cut])) == .incomplete, "cut at \(cut)")
        }
    }

    @Test func parsesConnectWithIPv4() throws {
        let result = try SOCKS5ConnectRequest.parse([5, 1, 0, 1, 192, 0, 2, 10, 0x1F, 0x90])
        guard case .complete(let request, 10) = result else { Issue.record("\(result)"); return }
        #expect(request.host == "192.0.2.10")
        #expect(request.port == 8080)
    }

    @Test func parsesConnectWithIPv6() throws {
        let address: [UInt8] = [0x20, 0x01, 0x0D, 0xB8] + [UInt8](repeating: 0, count: 11) + [1]
        let bytes: [UInt8] = [5, 1, 0, 4] + address + [0, 80]
        let result = try SOCKS5ConnectRequest.parse(bytes)
        guard case .complete(let request, 22) = result else { Issue.record("\(result)"); return }
        #expect(request.host == "2001:db8::1")
        #expect(request.port == 80)
        #expect(request.serialize() == bytes)
        for cut in 0..<bytes.count { #expect(try SOCKS5ConnectRequest.parse(Array(bytes[0..<cut])) == .incomplete) }
    }

    @Test func connectWithBadVersionThrows() {
        #expect(throws: SOCKS5Error.unsupportedVersion(4)) { try SOCKS5ConnectRequest.parse([4, 1, 0, 1, 1, 2, 3, 4, 0, 80]) }
    }

    @Test(arguments: [2, 3, 9] as [UInt8])
    func unsupportedCommandsThrow(_ command: UInt8) {
        #expect(throws: SOCKS5Error.unsupportedCommand(command)) { try SOCKS5ConnectRequest.parse([5, command]) }
        #expect(SOCKS5Error.unsupportedCommand(command).replyCode == .commandNotSupported)
    }

    @Test func unsupportedAddressTypeThrows() {
        #expect(throws: SOCKS5Error.unsupportedAddressType(2)) { try SOCKS5ConnectRequest.parse([5, 1, 0, 2, 1]) }
        #expect(SOCKS5Error.unsupportedAddressType(2).replyCode == .addressTypeNotSupported)
    }

    @Test func zeroLengthDomainNameThrows() {
        #expect(throws: SOCKS5Error.invalidDomainName) { try SOCKS5ConnectRequest.parse([5, 1, 0, 3, 0, 0, 80]) }
    }

    @Test(arguments: ["exa mple.com", "a..b", ".example", "ex\u{0}ample", "host:80", "exämple.com"])
    func invalidHostTextThrows(_ name: String) {
        let utf8 = Array(name.utf8)
        let bytes: [UInt8] = [5, 1, 0, 3, UInt8(utf8.count)] + utf8 + [0, 80]
        #expect(throws: SOCKS5Error.invalidDomainName) { try SOCKS5ConnectRequest.parse(bytes) }
    }

    @Test func maximumDomainNameIsAccepted() throws {
        let labels = Array(repeating: String(repeating: "a", count: 63), count: 4).joined(separator: ".")
        let name = String(labels.prefix(255))
        let bytes: [UInt8] = [5, 1, 0, 3, 255] + Array(name.utf8) + [0, 80]
        #expect(try SOCKS5ConnectRequest.parse(bytes) == .complete(SOCKS5ConnectRequest(address: .domainName(name), port: 80), consumed: bytes.count))
    }

    @Test func randomBytesNeverTrap() {
        var generator = SystemRandomNumberGenerator()
        for _ in 0..<2000 {
            let length = Int.random(in: 0..<40, using: &generator)
            var bytes = (0..<length).map { _ in UInt8.random(in: 0...255, using: &generator) }
            if !bytes.isEmpty, Bool.random(using: &generator) { bytes[0] = 5 }
            _ = try? SOCKS5ClientGreeting.parse(bytes)
            _ = try? SOCKS5ConnectRequest.parse(bytes)
            _ = try? SOCKS5UsernamePasswordRequest.parse(bytes)
            _ = try? SOCKS5Reply.parse(bytes)
        }
    }

    // MARK: replies

    @Test func replySerializesEveryCode() throws {
        let codes: [(SOCKS5ReplyCode, UInt8)] = [
            (.succeeded, 0), (.generalFailure, 1), (.notAllowedByRuleset, 2), (.networkUnreachable, 3),
            (.hostUnreachable, 4), (.connectionRefused, 5), (.ttlExpired, 6), (.commandNotSupported, 7),
            (.addressTypeNotSupported, 8),
        ]
        for (code, raw) in codes {
            #expect(SOCKS5Reply(code: code).serialize() == [5, raw, 0, 1, 0, 0, 0, 0, 0, 0])
        }
        let reply = SOCKS5Reply(code: .succeeded, boundAddress: .ipv4([10, 0, 0, 1]), boundPort: 1080)
        #expect(try SOCKS5Reply.parse(reply.serialize()) == .complete(reply, consumed: 10))
    }

    // MARK: handshake

    @Test func noAuthenticationHandshake() {
        var handshake = SOCKS5ServerHandshake(configuration: .noAuthentication)
        #expect(handshake.receive([5, 1]) == [])
        #expect(handshake.receive([0]) == [.send([5, 0])])
        #expect(handshake.receive(Array(Self.connectExample.prefix(7))) == [])
        #expect(handshake.receive(Array(Self.connectExample.dropFirst(7)) + [0x16]) == [.connect(host: "example.com", port: 443)])
        #expect(handshake.receive([0x03]) == [])
        #expect(handshake.connectCompleted(.succeeded) == [.send([5, 0, 0, 1, 0, 0, 0, 0, 0, 0]), .established(leftover: [0x16, 0x03])])
        #expect(handshake.isEstablished)
    }

    @Test func usernamePasswordHandshakeWithPipelinedRequest() {
        var handshake = SOCKS5ServerHandshake(configuration: .usernamePassword)
        let auth = SOCKS5UsernamePasswordRequest(username: "bob", password: "pw").serialize() ?? []
        let actions = handshake.receive([5, 2, 0, 2] + auth + Self.connectExample)
        #expect(actions == [.send([5, 2]), .authenticate(username: "bob", password: "pw")])
        #expect(handshake.authenticationCompleted(succeeded: true) == [.send([1, 0]), .connect(host: "example.com", port: 443)])
        let failed = handshake.connectCompleted(.hostUnreachable)
        #expect(failed == [.fail(reply: [5, 4, 0, 1, 0, 0, 0, 0, 0, 0], reason: .connectFailed(.hostUnreachable))])
        #expect(handshake.receive([1]) == [])
    }

    @Test func rejectedCredentialsFail() {
        var handshake = SOCKS5ServerHandshake(configuration: .usernamePassword)
        _ = handshake.receive([5, 1, 2])
        #expect(handshake.receive([1, 1, 0x61, 1, 0x62]) == [.authenticate(username: "a", password: "b")])
        #expect(handshake.authenticationCompleted(succeeded: false) == [.fail(reply: [1, 1], reason: .authenticationFailed)])
    }

    @Test func noAcceptableMethodFails() {
        var handshake = SOCKS5ServerHandshake(configuration: .usernamePassword)
        #expect(handshake.receive([5, 1, 0]) == [.fail(reply: [5, 0xFF], reason: .noAcceptableMethods)])
    }

    @Test func serverPreferenceOrderWins() {
        var handshake = SOCKS5ServerHandshake(configuration: .init(methods: [.usernamePassword, .noAuthenticationRequired]))
        #expect(handshake.receive([5, 2, 0, 2]) == [.send([5, 2])])
        var open = SOCKS5ServerHandshake(configuration: .init(methods: [.usernamePassword, .noAuthenticationRequired]))
        #expect(open.receive([5, 1, 0]) == [.send([5, 0])])
    }

    @Test func unsupportedCommandRepliesCommandNotSupported() {
        var handshake = SOCKS5ServerHandshake(configuration: .noAuthentication)
        _ = handshake.receive([5, 1, 0])
        #expect(handshake.receive([5, 2, 0, 1]) == [.fail(reply: [5, 7, 0, 1, 0, 0, 0, 0, 0, 0], reason: .unsupportedCommand(2))])
    }

    @Test func unsupportedAddressTypeRepliesAddressTypeNotSupported() {
        var handshake = SOCKS5ServerHandshake(configuration: .noAuthentication)
        _ = handshake.receive([5, 1, 0])
        #expect(handshake.receive([5, 1, 0, 7]) == [.fail(reply: [5, 8, 0, 1, 0, 0, 0, 0, 0, 0], reason: .unsupportedAddressType(7))])
    }

    @Test func badGreetingVersionFails() {
        var handshake = SOCKS5ServerHandshake(configuration: .noAuthentication)
        #expect(handshake.receive([4, 1, 0, 80]) == [.fail(reply: [5, 0xFF], reason: .unsupportedVersion(4))])
    }

    @Test func outOfOrderEventsFailWithoutTrapping() {
        var handshake = SOCKS5ServerHandshake(configuration: .noAuthentication)
        let actions = handshake.connectCompleted(.succeeded)
        guard case .fail(_, .unexpectedEvent) = actions.first else { Issue.record("\(actions)"); return }
    }
}
