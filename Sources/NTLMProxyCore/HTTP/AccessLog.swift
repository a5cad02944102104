import Foundation
import Logging
import NIOHTTP1

/// The one info line per request every mode writes: method, path, status, user, duration.
/// The query string is left out: tokens and keys travel there more often than one would like.
enum AccessLog {
    /// Records one request; `interrupted` says that its response broke off (the status is the
    /// one the client saw begin, if any).
    static func record(_ logger: Logger, _ head: HTTPRequestHead, status: Int, user: String? = nil, started: ContinuousClock.Instant,
                       interrupted: ResponseInterrupted? = nil) {
        let elapsed = ContinuousClock.now - started
        let milliseconds = Double(elapsed.components.seconds) * 1000 + Double(elapsed.components.attoseconds) / 1e15
        let path = head.uri.split(separator: "?", maxSplits: 1, omittingEmptySubsequences: false).first.map(String.init) ?? head.uri
        let who = user.map { " user=\($0)" } ?? ""
        let ending = interrupted.map { " (\($0))" } ?? ""
        logger.info("\(head.method) \(path) \(status)\(who) \(String(format: "%.1f", milliseconds))ms\(ending)")
    }
}
