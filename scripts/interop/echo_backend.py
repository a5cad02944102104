#!/usr/bin/env python3
"""A plain HTTP/1.1 backend for the interop fixtures and the HTTP-layer tests (stdlib only).

    echo_backend.py [--host 127.0.0.1] [--port 0] [--port-file FILE] [--pid-file FILE] [--verbose]
                    [--tls-cert CERT.pem --tls-key KEY.pem]

Listens on 127.0.0.1 (never anything else unless --host says so), keeps connections alive,
answers:

  GET  /                  small text/plain page
  GET  /health            "ok\\n" (text/plain)
  GET  /whoami            JSON {"user", "x_remote_user", "remote_user", "x_forwarded_user",
                          "authorization", "method", "path", "peer", "connection_requests"}
                          -- "user" is X-Remote-User, else Remote-User, else X-Forwarded-User,
                          else null; "authorization" is the scheme of an Authorization header
                          that reached the backend (null when none did); "connection_requests"
                          counts the requests served on this TCP connection (1 = fresh one)
  GET  /headers           JSON object of all request headers (name -> value, or list of values)
  POST|PUT /echo          reads the body (Content-Length or chunked) without buffering it,
                          answers JSON {"length", "sha256", "user", "method", "chunked"}
  GET  /download?bytes=N  N deterministic bytes with Content-Length (add &chunked=1 for a
                          chunked response): byte k is (k % 65536) % 251, i.e. the 64 KiB
                          block bytes(i % 251 for i in range(65536)) repeated and truncated;
                          streamed, never built in memory
  anything else           404 JSON

With --tls-cert/--tls-key it speaks HTTPS instead (the TLS handshake runs on the
connection's own thread, so a slow client does not hold up the others).

With --port 0 the kernel picks a free port; --port-file then receives it (written atomically,
after the socket listens). SIGTERM/SIGINT shut it down cleanly (exit 0).
"""

import argparse
import hashlib
import json
import os
import signal
import socket
import ssl
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

BLOCK = bytes(i % 251 for i in range(65536))
MAX_DOWNLOAD = 1 << 40


def download_bytes(n):
    """The exact bytes /download?bytes=n sends (for tests that want to compare)."""
    full, rest = divmod(n, len(BLOCK))
    return BLOCK * full + BLOCK[:rest]


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "ntlmproxy-echo-backend/1"
    disable_nagle_algorithm = True

    def setup(self):
        super().setup()
        self.connection_requests = 0

    # ---- helpers -------------------------------------------------------------------------
    def log_message(self, fmt, *args):
        if self.server.verbose:
            sys.stderr.write("%s - %s\n" % (self.address_string(), fmt % args))

    def user(self):
        for name in ("X-Remote-User", "Remote-User", "X-Forwarded-User"):
            value = self.headers.get(name)
            if value:
                return value
        return None

    def send_body(self, status, body, content_type):
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def send_json(self, status, obj):
        body = (json.dumps(obj, sort_keys=True) + "\n").encode()
        self.send_body(status, body, "application/json")

    def read_body(self, sink):
        """Feeds the request body to sink(bytes) in pieces; returns (length, chunked)."""
        te = self.headers.get("Transfer-Encoding", "")
        if "chunked" in te.lower():
            total = 0
            while True:
                line = self.rfile.readline(65537)
                if not line:
                    raise ConnectionError("eof in chunk size")
                size = int(line.split(b";", 1)[0].strip() or b"0", 16)
                if size == 0:
                    while True:  # trailers until the empty line
                        trailer = self.rfile.readline(65537)
                        if trailer in (b"\r\n", b"\n", b""):
                            break
                    return total, True
                left = size
                while left:
                    piece = self.rfile.read(min(left, 1 << 16))
                    if not piece:
                        raise ConnectionError("eof in chunk")
                    sink(piece)
                    left -= len(piece)
                total += size
                self.rfile.readline(3)  # CRLF after the chunk
        length = int(self.headers.get("Content-Length") or 0)
        left = length
        while left:
            piece = self.rfile.read(min(left, 1 << 16))
            if not piece:
                raise ConnectionError("eof in body")
            sink(piece)
            left -= len(piece)
        return length, False

    def discard_body(self):
        if self.headers.get("Content-Length") or self.headers.get("Transfer-Encoding"):
            self.read_body(lambda _piece: None)

    # ---- dispatch ------------------------------------------------------------------------
    def handle_one_request(self):
        # Count requests per TCP connection (the parent parses the request line first).
        self.connection_requests += 1
        super().handle_one_request()

    def route(self):
        url = urlsplit(self.path)
        path = url.path
        query = parse_qs(url.query)
        method = self.command

        if path in ("/echo", "/echo/") and method in ("POST", "PUT"):
            digest = hashlib.sha256()
            length, chunked = self.read_body(digest.update)
            return self.send_json(200, {
                "length": length, "sha256": digest.hexdigest(), "user": self.user(),
                "method": method, "chunked": chunked,
            })

        self.discard_body()
        if method not in ("GET", "HEAD"):
            return self.send_json(405, {"error": "method not allowed", "path": path})

        if path == "/":
            return self.send_body(200, b"ntlmproxy echo backend\n", "text/plain; charset=utf-8")
        if path == "/health":
            return self.send_body(200, b"ok\n", "text/plain; charset=utf-8")
        if path == "/whoami":
            auth = self.headers.get("Authorization")
            return self.send_json(200, {
                "user": self.user(),
                "x_remote_user": self.headers.get("X-Remote-User"),
                "remote_user": self.headers.get("Remote-User"),
                "x_forwarded_user": self.headers.get("X-Forwarded-User"),
                "authorization": auth.split(" ", 1)[0] if auth else None,
                "method": method,
                "path": self.path,
                "peer": "%s:%d" % self.client_address[:2],
                "connection_requests": self.connection_requests,
            })
        if path == "/headers":
            headers = {}
            for name, value in self.headers.items():
                if name in headers:
                    prev = headers[name]
                    headers[name] = (prev if isinstance(prev, list) else [prev]) + [value]
                else:
                    headers[name] = value
            return self.send_json(200, headers)
        if path == "/download":
            try:
                n = int(query.get("bytes", ["0"])[0])
                if n < 0 or n > MAX_DOWNLOAD:
                    raise ValueError
            except ValueError:
                return self.send_json(400, {"error": "bytes must be an integer 0..2^40"})
            chunked = query.get("chunked", ["0"])[0] not in ("0", "", "false")
            return self.send_download(n, chunked)
        return self.send_json(404, {"error": "not found", "path": path})

    def send_download(self, n, chunked):
        self.send_response(200)
        self.send_header("Content-Type", "application/octet-stream")
        if chunked:
            self.send_header("Transfer-Encoding", "chunked")
        else:
            self.send_header("Content-Length", str(n))
        self.end_headers()
        if self.command == "HEAD":
            return
        left = n
        view = memoryview(BLOCK)
        while left:
            piece = view[:min(left, len(BLOCK))]
            if chunked:
                self.wfile.write(b"%x\r\n" % len(piece) + piece.tobytes() + b"\r\n")
            else:
                self.wfile.write(piece)
            left -= len(piece)
        if chunked:
            self.wfile.write(b"0\r\n\r\n")

    def do_GET(self):
        self.safe_route()

    do_HEAD = do_POST = do_PUT = do_DELETE = do_OPTIONS = do_PATCH = do_GET

    def safe_route(self):
        try:
            self.route()
        except (ConnectionError, BrokenPipeError, socket.timeout):
            self.close_connection = True
        except ValueError as error:  # bad chunk size / Content-Length
            self.close_connection = True
            try:
                self.send_json(400, {"error": "bad request: %s" % error})
            except OSError:
                pass


class Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 256
    verbose = False
    tls_context = None

    def finish_request(self, request, client_address):
        # Runs on the connection's thread (ThreadingMixIn): do the TLS handshake here.
        if self.tls_context is None:
            return super().finish_request(request, client_address)
        try:
            tls = self.tls_context.wrap_socket(request, server_side=True)
        except (ssl.SSLError, OSError) as error:
            if self.verbose:
                sys.stderr.write("%s - TLS handshake failed: %s\n" % (client_address[0], error))
            return
        try:
            super().finish_request(tls, client_address)
        finally:
            self.shutdown_request(tls)

    def shutdown_request(self, request):
        # With TLS the plain socket was detached by wrap_socket: closing it again is a no-op.
        try:
            super().shutdown_request(request)
        except OSError:
            pass


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--port-file")
    parser.add_argument("--pid-file")
    parser.add_argument("--verbose", action="store_true")
    parser.add_argument("--tls-cert", help="serve HTTPS with this certificate (PEM, chain allowed)")
    parser.add_argument("--tls-key", help="the private key of --tls-cert (PEM)")
    args = parser.parse_args()
    if bool(args.tls_cert) != bool(args.tls_key):
        parser.error("--tls-cert and --tls-key go together")

    server = Server((args.host, args.port), Handler)
    server.verbose = args.verbose
    if args.tls_cert:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        context.load_cert_chain(args.tls_cert, args.tls_key)
        server.tls_context = context
    port = server.server_address[1]

    def write_atomically(path, text):
        tmp = "%s.tmp.%d" % (path, os.getpid())
        with open(tmp, "w") as f:
            f.write(text)
        os.replace(tmp, path)

    if args.pid_file:
        write_atomically(args.pid_file, "%d\n" % os.getpid())
    if args.port_file:
        write_atomically(args.port_file, "%d\n" % port)
    if args.verbose:
        sys.stderr.write("echo backend listening on %s://%s:%d\n" % ("https" if args.tls_cert else "http", args.host, port))

    def stop(_signum, _frame):
        threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    try:
        server.serve_forever(poll_interval=0.2)
    finally:
        server.server_close()
        if args.pid_file:
            try:
                os.unlink(args.pid_file)
            except OSError:
                pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
