/// A relayed response that could not be finished: its status was decided (and its head
/// perhaps sent), then the client went away or the upstream's body broke off.
///
/// It carries what the access log needs, so a request that ends this way still gets its one
/// line; the connection it was on cannot go on (the client has a partial response at most).
struct ResponseInterrupted: Error, CustomStringConvertible {
    /// The status the response carried (or was about to carry).
    var status: Int
    /// The body bytes handed to the client connection before it broke off.
    var bytesWritten: Int
    /// What broke it off.
    var cause: any Error

    var description: String { "response interrupted after \(bytesWritten) body bytes: \(cause)" }
}
