import NIOCore
import NIOHTTP1
import NTLM
import Testing
@testable import NTLMHTTP

extension ClientTests {
    @Suite("timeouts, cancellation, shutdown, example")
    struct Lifecycle {
        @Test func requestDeadlineTimesOut() async throws {
            try await ClientFixtures.withServer { server, client in
                let started = ContinuousClock.now
                await #expect(throws: NTLMHTTPClientError.timeout) {
                    _ = try await client.execute(NTLMHTTPRequest(url: server.baseURL + "/hang"), credential: ClientFixtures.alice, timeout: .milliseconds(400))
                }
                #expect(ContinuousClock.now - started < .seconds(10))
                #expect(await ClientFixtures.eventually { server.snapshot.closedConnections == server.snapshot.connections })
                // The client still works.
                let response = try await client.execute(NTLMHTTPRequest(url: server.baseURL + "/whoami"), credential: ClientFixtures.alice)
                #expect(try await ClientFixtures.text(response) == "CORP\\alice\n")
            }
        }

        @Test func silentServerHitsTheReadIdleTimeout() async throws {
            try await ClientFixtures.withServer(configure: { $0.readIdleTimeout = .milliseconds(300) }) { server, client in
                await #expect(throws: NTLMHTTPClientError.idleTimeout) {
                    _ = try await client.execute(NTLMHTTPRequest(url: server.baseURL + "/hang"), credential: ClientFixtures.alice)
                }
            }
        }

        @Test func cancellingTheTaskClosesTheConnection() async throws {
            try await ClientFixtures.withServer { server, client in
                let task = Task {
                    try await client.execute(NTLMHTTPRequest(url: server.baseURL + "/hang"), credential: ClientFixtures.alice)
                }
                // Wait until the request is on the wire (handshake done, /hang reached).
                #expect(await ClientFixtures.eventually { server.snapshot.successfulLogons == 1 })
                task.cancel()
                let result = await task.result
                #expect(throws: NTLMHTTPClientError.cancelled) { try result.get() }
                #expect(await ClientFixtures.eventually { server.snapshot.closedConnections == 1 })
            }
        }

        @Test func cancellingTheBodyReaderClosesTheConnection() async throws {
            try await ClientFixtures.withServer { server, client in
                let response = try await client.execute(NTLMHTTPRequest(url: server.baseURL + "/download?bytes=50000000"), credential: ClientFixtures.alice)
                let reader = Task {
                    var count = 0
                    for try await chunk in response.body {
                        count += chunk.readableBytes
                        try? await Task.sleep(for: .milliseconds(5))
                    }
                    return count
                }
                try await Task.sleep(for: .milliseconds(100))
                reader.cancel()
                let result = await reader.result
                #expect(throws: NTLMHTTPClientError.cancelled) { try result.get() }
                #expect(await ClientFixtures.eventually { server.snapshot.closedConnections == 1 })
            }
        }

        @Test func connectionRefusedIsReported() async throws {
            let server = try await ClientTestServer.start()
            let url = server.baseURL + "/whoami"
            await server.shutdown()
            let client = NTLMHTTPClient()
            let error = await #expect(throws: NTLMHTTPClientError.self) {
                _ = try await client.execute(NTLMHTTPRequest(url: url), credential: ClientFixtures.alice)
            }
            if case .connectFailed(let host, _, _) = error {
                #expect(host == "127.0.0.1")
            } else {
                Issue.record("expected connectFailed, got \(String(describing: error))")
            }
            try await client.shutdown()
        }

        @Test func shutdownClosesPooledConnectionsAndRefusesNewRequests() async throws {
            let server = try await ClientTestServer.start()
            let client = NTLMHTTPClient()
            let response = try await client.execute(NTLMHTTPRequest(url: server.baseURL + "/whoami"), credential: ClientFixtures.alice)
            try await response.body.drain()
            #expect(await ClientFixtures.eventually { (try? client.idleConnectionCount(url: server.baseURL, credential: ClientFixtures.alice)) == 1 })
            try await client.shutdown()
            #expect(await ClientFixtures.eventually { server.snapshot.closedConnections == 1 })
            await #expect(throws: NTLMHTTPClientError.shutDown) {
                _ = try await client.execute(NTLMHTTPRequest(url: server.baseURL + "/whoami"), credential: ClientFixtures.alice)
            }
            await server.shutdown()
        }

        @Test func idlePooledConnectionsExpire() async throws {
            try await ClientFixtures.withServer(configure: { $0.idleTimeout = .milliseconds(200) }) { server, client in
                let response = try await client.execute(NTLMHTTPRequest(url: server.baseURL + "/whoami"), credential: ClientFixtures.alice)
                try await response.body.drain()
                #expect(await ClientFixtures.eventually { server.snapshot.closedConnections == 1 })
                #expect(try client.idleConnectionCount(url: server.baseURL, credential: ClientFixtures.alice) == 0)
            }
        }

        @Test func theDocumentedExampleRuns() async throws {
            var options = ClientTestServer.Options()
            options.tls = true
            let server = try await ClientTestServer.start(options)
            let text = try await NTLMHTTPClientExample.fetch(
                url: server.baseURL + "/whoami", userName: #"CORP\alice"#, password: "secret",
                trustRootsPEM: Array(ClientTestCertificates.caPEM.utf8))
            #expect(text == "CORP\\alice\n")
            await #expect(throws: NTLMHTTPClientExample.ExampleError.status(401)) {
                _ = try await NTLMHTTPClientExample.fetch(
                    url: server.baseURL + "/whoami", userName: #"CORP\alice"#, password: "wrong",
                    trustRootsPEM: Array(ClientTestCertificates.caPEM.utf8))
            }
            await server.shutdown()
        }
    }

    @Suite("request targets")
    struct Targets {
        @Test(arguments: [
            ("http://example.com", "http", "example.com", 80, "/", "example.com"),
            ("HTTPS://Example.COM:8443/a/b?c=d#frag", "https", "example.com", 8443, "/a/b?c=d", "example.com:8443"),
            ("http://127.0.0.1:8080?x=1", "http", "127.0.0.1", 8080, "/?x=1", "127.0.0.1:8080"),
            ("https://[::1]/", "https", "::1", 443, "/", "[::1]"),
            ("https://host:443/p", "https", "host", 443, "/p", "host"),
        ])
        func parses(url: String, scheme: String, host: String, port: Int, path: String, hostHeader: String) throws {
            let target = try RequestTarget(parsing: url)
            #expect(target.endpoint.scheme.rawValue == scheme)
            #expect(target.endpoint.host == host)
            #expect(target.endpoint.port == port)
            #expect(target.path == path)
            #expect(target.endpoint.hostHeader == hostHeader)
        }

        @Test(arguments: ["ftp://host/", "host/path", "http://", "http://user:pw@host/", "http://host:0/", "http://host:99999/", "http://ho st/", "http://host/a b", "http://[::1/"])
        func rejects(url: String) {
            #expect(throws: NTLMHTTPClientError.self) { try RequestTarget(parsing: url) }
        }

        @Test func invalidURLErrorsCarryNoUserInformation() {
            let error = #expect(throws: NTLMHTTPClientError.self) { try RequestTarget(parsing: "http://alice:s3cr3t@host/") }
            #expect(!String(describing: error).contains("s3cr3t"))
        }
    }
}
