import NTLM
import NIOCore
import NIOHTTP1
import NIOPosix

/// The intended use of ``NTLMHTTPClient`` in one function (the test suite runs it against an
/// in-process NTLM server).
public enum NTLMHTTPClientExample {
    /// Fetches `url` as `userName` (`DOMAIN\user` or `user@domain`) and returns the body as
    /// text, failing on a non-2xx status.
    ///
    /// ```swift
    /// let text = try await NTLMHTTPClientExample.fetch(
    ///     url: "https://intranet.corp.example/status", userName: #"CORP\alice"#, password: "secret")
    /// ```
    ///
    /// - Parameters:
    ///   - trustRootsPEM: a private CA for `https` (PEM), instead of the system roots.
    ///   - maximumBytes: the largest body accepted.
    public static func fetch(
        url: String, userName: String, password: String, trustRootsPEM: [UInt8]? = nil,
        maximumBytes: Int = 1 << 20, timeout: Duration = .seconds(30)
    ) async throws -> String {
        // 1. One client per application (it pools connections); configure it once.
        var configuration = NTLMHTTPClient.Configuration()
        if let trustRootsPEM { try configuration.useTrustRoots(pemBytes: trustRootsPEM) }
        let client = NTLMHTTPClient(configuration: configuration)

        // 2. The password becomes an NT hash here and is not kept.
        let credential = HTTPCredential(userName: userName, password: Password(password))

        do {
            // 3. Execute; the NTLM/Negotiate handshake happens as needed, on the connection.
            var request = NTLMHTTPRequest(url: url)
            request.headers.add(name: "Accept", value: "text/plain, */*")
            let response = try await client.execute(request, credential: credential, timeout: timeout)

            // 4. Read the body (it streams; `collect` bounds what is kept in memory).
            let body = try await response.body.collect(upTo: maximumBytes)
            guard (200..<300).contains(response.status.code) else {
                throw ExampleError.status(response.status.code)
            }
            try await client.shutdown()
            return String(buffer: body)
        } catch {
            // 5. Always shut the client down.
            try? await client.shutdown()
            throw error
        }
    }

    /// A non-2xx answer.
    public enum ExampleError: Error, Hashable, Sendable {
        case status(UInt)
    }
}
