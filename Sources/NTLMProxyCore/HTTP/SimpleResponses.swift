import NIOCore
import NIOHTTP1

/// Small responses the proxy writes itself: challenges, errors, the who-am-I page.
enum SimpleResponses {
    /// A 401 with the given challenges. `padTo` pads the body past a minimum size: IE6 SP1
    /// needed more than 1460 bytes to keep the connection of an NTLM handshake.
    static func unauthorized(version: HTTPVersion, challenges: [String], keepAlive: Bool, padTo minimumBytes: Int, extraHeaders: [(String, String)] = []) -> (HTTPResponseHead, ByteBuffer) {
        var text = "<!DOCTYPE html>\n<html><head><title>401 Unauthorized</title></head><body><h1>401 Unauthorized</h1><p>This server needs Windows-integrated authentication (Negotiate or NTLM).</p></body></html>\n"
        text += padding(from: text.utf8.count, to: minimumBytes, html: true)
        var headers = HTTPHeaders()
        for challenge in challenges { headers.add(name: "WWW-Authenticate", value: challenge) }
        headers.add(name: "Content-Type", value: "text/html; charset=utf-8")
        headers.add(name: "Content-Length", value: String(text.utf8.count))
        for (name, value) in extraHeaders { headers.add(name: name, value: value) }
        connectionHeader(&headers, version: version, keepAlive: keepAlive)
        return (HTTPResponseHead(version: version, status: .unauthorized, headers: headers), ByteBuffer(string: text))
    }

    /// What to append to a body of `count` bytes so it has at least `minimumBytes`: an HTML
    /// comment of spaces for HTML, spaces and a newline otherwise; empty if it is long enough.
    static func padding(from count: Int, to minimumBytes: Int, html: Bool) -> String {
        guard count < minimumBytes else { return "" }
        let missing = minimumBytes - count
        guard html, missing >= 8 else { return String(repeating: " ", count: max(0, missing - 1)) + "\n" }
        return "<!--" + String(repeating: " ", count: missing - 8) + "-->\n"
    }

    /// A plain-text response (errors, the who-am-I page).
    static func text(_ status: HTTPResponseStatus, _ body: String, version: HTTPVersion, keepAlive: Bool, contentType: String = "text/plain; charset=utf-8", extraHeaders: [(String, String)] = []) -> (HTTPResponseHead, ByteBuffer) {
        var headers = HTTPHeaders()
        headers.add(name: "Content-Type", value: contentType)
        headers.add(name: "Content-Length", value: String(body.utf8.count))
        for (name, value) in extraHeaders { headers.add(name: name, value: value) }
        connectionHeader(&headers, version: version, keepAlive: keepAlive)
        return (HTTPResponseHead(version: version, status: status, headers: headers), ByteBuffer(string: body))
    }

    static func connectionHeader(_ headers: inout HTTPHeaders, version: HTTPVersion, keepAlive: Bool) {
        if !keepAlive {
            headers.replaceOrAdd(name: "Connection", value: "close")
        } else if version == .http1_0 {
            headers.replaceOrAdd(name: "Connection", value: "keep-alive")
        }
    }
}
