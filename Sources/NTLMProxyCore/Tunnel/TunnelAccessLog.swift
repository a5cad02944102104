import Foundation
import Logging
import NIOCore

/// The one info line per tunnel (HTTP CONNECT, SOCKS5, static): client, target, bytes each
/// way, duration, outcome.
enum TunnelAccessLog {
    static func record(_ logger: Logger, kind: String, client: SocketAddress?, target: String, statistics: TunnelStatistics?, started: ContinuousClock.Instant, outcome: String, user: String? = nil) {
        let elapsed = ContinuousClock.now - started
        let milliseconds = Double(elapsed.components.seconds) * 1000 + Double(elapsed.components.attoseconds) / 1e15
        let up = statistics?.bytesClientToUpstream ?? 0
        let down = statistics?.bytesUpstreamToClient ?? 0
        let who = user.map { " user=\($0)" } ?? ""
        logger.info("\(kind) \(describe(client)) -> \(target)\(who) up=\(up) down=\(down) \(String(format: "%.1f", milliseconds))ms \(outcome)")
    }

    /// The outcome word of a finished splice.
    static func outcome(_ statistics: TunnelStatistics) -> String {
        statistics.failure.map { "ended: \($0)" } ?? "closed"
    }

    static func describe(_ address: SocketAddress?) -> String {
        guard let address else { return "unknown" }
        if let ip = address.ipAddress, let port = address.port {
            return ip.contains(":") ? "[\(ip)]:\(port)" : "\(ip):\(port)"
        }
        return "\(address)"
    }
}
