import Foundation
import NIOHTTP1

/// Header handling for a proxy hop (RFC 9110 §7.6.1): connection-specific fields are
/// removed before a message is forwarded, including every field named in `Connection`.
public enum HopByHopHeaders {
    /// Fields that never cross a hop. `Proxy-Connection` is not standard but clients send it;
    /// it is dropped and never used to decide persistence (design invariant 3).
    public static let standard: Set<String> = [
        "connection", "keep-alive", "proxy-connection", "te", "trailer", "transfer-encoding",
        "upgrade", "proxy-authenticate", "proxy-authorization",
    ]

    /// Removes hop-by-hop fields, and those listed in `Connection`, in place.
    public static func strip(_ headers: inout HTTPHeaders) {
        var named: Set<String> = []
        for value in headers["connection"] {
            for token in value.split(separator: ",") {
                let name = token.trimmingCharacters(in: .whitespaces).lowercased()
                if !name.isEmpty { named.insert(name) }
            }
        }
        let doomed = standard.union(named)
        let present = Set(headers.map { $0.name.lowercased() })
        for name in present where doomed.contains(name) {
            headers.remove(name: name)
        }
    }

    /// Whether the message leaves the connection open afterwards under HTTP/1.1 rules:
    /// `Connection: close` ends it; HTTP/1.0 needs `Connection: keep-alive`.
    public static func keepAlive(version: HTTPVersion, headers: HTTPHeaders) -> Bool {
        let tokens = headers["connection"].flatMap { $0.split(separator: ",") }.map { $0.trimmingCharacters(in: .whitespaces).lowercased() }
        if tokens.contains("close") { return false }
        if version.major == 1 && version.minor == 0 { return tokens.contains("keep-alive") }
        return true
    }
}
