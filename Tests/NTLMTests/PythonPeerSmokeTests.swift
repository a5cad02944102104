import Foundation
import NTLMTestSupport
import Testing

/// Proves the pyspnego peer and its Swift driver work, independently of the NTLM module:
/// pyspnego reproduces the MS-NLMP 4.2.4 (NTLMv2) vectors, and two pyspnego contexts
/// authenticate each other through the helper's stateful operations.
@Suite("PythonPeer smoke tests")
struct PythonPeerSmokeTests {
    // MS-NLMP 4.2.4: MsvAvNbDomainName "Domain", MsvAvNbComputerName "Server", MsvAvEOL.
    static let targetInfo = "02000c0044006f006d00610069006e0001000c0053006500720076006500720000000000"

    @Test("pyspnego reproduces the MS-NLMP 4.2.4 NTLMv2 vectors")
    func ntlmv2Vectors() async throws {
        guard let peer = try await PythonPeer.sharedOffPool() else { return }
        try await runBlocking { try self.ntlmv2VectorsOffPool(peer) }
    }

    private func ntlmv2VectorsOffPool(_ peer: PythonPeer) throws {
        let r = try peer.call([
            "op": "ntlmv2",
            "user": "User",
            "domain": "Domain",
            "password": "Password",
            "server_challenge": hexBytes("0123456789abcdef"),
            "client_challenge": hexBytes("aaaaaaaaaaaaaaaa"),
            "timestamp": 0,
            "target_info": hexBytes(Self.targetInfo),
        ])
        let proof = hexBytes("68cd0ab851e51c96aabc927bebef6a1c")  // 4.2.4.2.2
        #expect(try r.peerBytes("nt_proof_str") == proof)
        #expect(try r.peerBytes("session_base_key") == hexBytes("8de40ccadbc14a82f15cb0ad0de95ca3"))  // 4.2.4.1.4
        #expect(try r.peerBytes("key_exchange_key") == hexBytes("8de40ccadbc14a82f15cb0ad0de95ca3"))
        #expect(try r.peerBytes("ntowfv2") == hexBytes("0c868a403bfd7a93a3001ef22ef02e3f"))  // 4.2.4.1.1
        #expect(try r.peerBytes("lm_response") == hexBytes("86c35097ac9cec102554764a57cccc19 aaaaaaaaaaaaaaaa"))  // 4.2.4.2.1
        // NTChallengeResponse = NTProofStr + blob; the blob is 01 01 Z(6) Time ClientChallenge Z(4)
        // TargetInfo Z(4), with the target info carried byte for byte.
        let blob = hexBytes("0101 000000000000 0000000000000000 aaaaaaaaaaaaaaaa 00000000")
            + hexBytes(Self.targetInfo) + [0, 0, 0, 0]
        #expect(try r.peerBytes("nt_response") == proof + blob)
        #expect(try r.peerBytes("blob") == blob)
    }

    @Test("pyspnego's RC4K and MS-NLMP 3.4.4 sealing match MS-NLMP 4.2.4")
    func keyExchangeAndSealVectors() async throws {
        guard let peer = try await PythonPeer.sharedOffPool() else { return }
        try await runBlocking { try self.keyExchangeAndSealVectorsOffPool(peer) }
    }

    private func keyExchangeAndSealVectorsOffPool(_ peer: PythonPeer) throws {
        let exported = [UInt8](repeating: 0x55, count: 16)  // 4.2.1.3 RandomSessionKey
        let enc = try peer.call([
            "op": "encrypt_session_key",
            "key_exchange_key": hexBytes("8de40ccadbc14a82f15cb0ad0de95ca3"),
            "exported_session_key": exported,
        ])
        #expect(try enc.peerBytes("encrypted_session_key") == hexBytes("c5dad2544fc9799094ce1ce90bc9d03e"))  // 4.2.4.2.3

        let flags: UInt32 = 0xe28a_8233  // 4.2.4 NegotiateFlags
        let sealed = try peer.call([
            "op": "seal", "flags": flags, "seq_num": 0, "exported_session_key": exported, "direction": "client",
            "message": Array("Plaintext".utf16).flatMap { [UInt8($0 & 0xff), UInt8($0 >> 8)] },
        ])
        #expect(try sealed.peerBytes("sealed_message") == hexBytes("54e50165bf1936dc996020c1811b0f06fb5f"))  // 4.2.4.4
        #expect(try sealed.peerBytes("signature") == hexBytes("01000000 7fb38ec5c55d4976 00000000"))
    }

    @Test("a rejected request answers with an error and the peer keeps serving")
    func errorsDoNotKillThePeer() async throws {
        guard let peer = try await PythonPeer.sharedOffPool() else { return }
        try await runBlocking { try self.errorsDoNotKillThePeerOffPool(peer) }
    }

    private func errorsDoNotKillThePeerOffPool(_ peer: PythonPeer) throws {
        #expect(throws: PythonPeerError.self) {
            _ = try peer.call(["op": "ntlmv2", "user": "User", "server_challenge": "0123"])
        }
        let reply = try peer.callAllowingError(["op": "no-such-op"])
        #expect(reply["error"] is String)
        #expect(try peer.call(["op": "ping"])["pyspnego_version"] is String)
    }

    @Test("pyspnego client and server authenticate each other through the helper", arguments: ["ntlm", "negotiate"])
    func fullRoundTrip(protocolName: String) async throws {
        guard let peer = try await PythonPeer.sharedOffPool() else { return }
        try await runBlocking { try self.fullRoundTripOffPool(peer, protocolName: protocolName) }
    }

    private func fullRoundTripOffPool(_ peer: PythonPeer, protocolName: String) throws {
        let userFile = FileManager.default.temporaryDirectory
            .appendingPathComponent("ntlmproxy-users-\(UUID().uuidString).txt")
        try "Domain:User:Password\n".write(to: userFile, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(at: userFile) }

        // Right password: the server completes and names the client.
        let good = try handshake(peer, protocolName: protocolName, password: "Password", userFile: userFile.path)
        #expect(good.error == nil)
        #expect(good.principal == "Domain\\User")
        #expect(good.clientKey != nil && good.clientKey == good.serverKey)

        // Wrong password: the server rejects it with an error reply, and the peer lives on.
        let bad = try handshake(peer, protocolName: protocolName, password: "wrong", userFile: userFile.path)
        #expect(bad.error != nil)
        #expect(bad.principal == nil)
        #expect(try peer.call(["op": "ping"])["pyspnego_version"] is String)
    }

    @Test("parse decodes an NTLM Negotiate message")
    func parseNegotiate() async throws {
        guard let peer = try await PythonPeer.sharedOffPool() else { return }
        try await runBlocking { try self.parseNegotiateOffPool(peer) }
    }

    private func parseNegotiateOffPool(_ peer: PythonPeer) throws {
        let ctx = peer.contextName("parse")
        let first = try peer.call(["op": "client_new", "ctx": ctx, "user": "Domain\\User", "password": "Password", "protocol": "ntlm"])
        defer { _ = try? peer.call(["op": "ctx_close", "ctx": ctx]) }
        let parsed = try peer.call(["op": "parse", "token": try first.peerBytes("token")])
        #expect(try parsed.peerInt("message_type") == 1)
        #expect(try parsed.peerInt("flags") & 0x0000_0001 != 0)  // NEGOTIATE_UNICODE
    }

    private struct Outcome {
        var error: String?
        var principal: String?
        var clientKey: [UInt8]?
        var serverKey: [UInt8]?
    }

    private func handshake(_ peer: PythonPeer, protocolName: String, password: String, userFile: String) throws -> Outcome {
        let client = peer.contextName("client")
        let server = peer.contextName("server")
        defer {
            _ = try? peer.call(["op": "ctx_close", "ctx": client])
            _ = try? peer.call(["op": "ctx_close", "ctx": server])
        }
        var outcome = Outcome()
        var token = try peer.call([
            "op": "client_new", "ctx": client, "user": "Domain\\User", "password": password, "protocol": protocolName,
        ]).peerBytes("token")
        _ = try peer.call(["op": "server_new", "ctx": server, "protocol": protocolName, "user_file": userFile])

        for _ in 0..<4 {
            let s = try peer.callAllowingError(["op": "server_step", "ctx": server, "token": token])
            if let error = s["error"] as? String {
                outcome.error = error
                return outcome
            }
            if try s.peerBool("complete") {
                outcome.principal = try s.peerString("client_principal")
                outcome.serverKey = try s.peerBytes("session_key")
            }
            guard let reply = try s.peerOptionalBytes("token") else { break }
            let c = try peer.call(["op": "client_step", "ctx": client, "token": reply])
            if try c.peerBool("complete") { outcome.clientKey = try c.peerBytes("session_key") }
            guard let next = try c.peerOptionalBytes("token") else { break }
            token = next
        }
        return outcome
    }
}
