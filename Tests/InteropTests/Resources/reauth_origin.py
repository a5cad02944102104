#!/usr/bin/env python3
"""A connection-bound NTLM origin that, like IIS, accepts a new handshake on an already
authenticated connection (a new Type 1 starts over; the connection's user is what the
last completed Type 3 proved). pyspnego is the acceptor (users from NTLM_USER_FILE,
`DOMAIN:user:password` lines). Apache + mod_auth_gssapi cannot do this (a second Type 1
on an authenticated connection fails there), squid ignores it.

    NTLM_USER_FILE=FILE reauth_origin.py --port-file FILE [--port 0] [--idle-close SECONDS]

Listens on 127.0.0.1 only. Every path: without a connection logon and without
`Authorization: NTLM ...` -> 401 `WWW-Authenticate: NTLM`; a Type 1 -> 401 with the
challenge (the connection's previous logon is dropped); a Type 3 -> 200 or 401; with a
logon -> 200 JSON {"user": "DOMAIN\\\\user", "path", "authorization", "connection_requests"}.
With --idle-close, a connection idle that long is closed (without `Connection: close` on
the previous response: the way a backend drops a kept-alive connection). SIGTERM ends it.
"""

import argparse
import base64
import json
import os
import signal
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import spnego


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def setup(self):
        super().setup()
        self.context = None
        self.user = None
        self.served = 0

    def answer(self, status, body, headers=()):
        data = json.dumps(body).encode() if not isinstance(body, bytes) else body
        self.send_response(status)
        for name, value in headers:
            self.send_header(name, value)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def drain(self):
        length = int(self.headers.get("Content-Length") or 0)
        while length > 0:
            piece = self.rfile.read(min(length, 65536))
            if not piece:
                break
            length -= len(piece)

    def handle_any(self):
        self.drain()
        self.served += 1
        authorization = self.headers.get("Authorization")
        scheme = None
        if authorization:
            scheme, _, token = authorization.partition(" ")
            if scheme.lower() != "ntlm":
                self.answer(401, {"error": "NTLM only"}, [("WWW-Authenticate", "NTLM")])
                return
            try:
                message = base64.b64decode(token.strip())
            except ValueError:
                self.answer(400, {"error": "bad base64"})
                return
            if len(message) > 8 and message[8] == 1:
                # A new handshake: the previous logon of this connection is gone.
                self.user = None
                self.context = spnego.server(protocol="ntlm")
            if self.context is None:
                self.answer(401, {"error": "no handshake"}, [("WWW-Authenticate", "NTLM")])
                return
            try:
                out = self.context.step(message)
            except Exception as error:  # noqa: BLE001 - a rejected logon
                self.context = None
                self.answer(401, {"error": type(error).__name__}, [("WWW-Authenticate", "NTLM")])
                return
            if not self.context.complete:
                self.answer(401, {"leg": 1}, [("WWW-Authenticate", "NTLM " + base64.b64encode(out).decode())])
                return
            self.user = self.context.client_principal
            self.context = None
        if self.user is None:
            self.answer(401, {"error": "not authenticated"}, [("WWW-Authenticate", "NTLM")])
            return
        self.answer(200, {"user": self.user, "path": self.path, "authorization": scheme,
                          "connection_requests": self.served})

    do_GET = handle_any
    do_POST = handle_any


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--port-file", required=True)
    parser.add_argument("--idle-close", type=float)
    args = parser.parse_args()
    if args.idle_close:
        Handler.timeout = args.idle_close   # socket timeout: handle_one_request then closes
    if not os.environ.get("NTLM_USER_FILE"):
        parser.error("NTLM_USER_FILE must name the users file")
    server = ThreadingHTTPServer(("127.0.0.1", args.port), Handler)
    server.daemon_threads = True
    signal.signal(signal.SIGTERM, lambda *_: threading.Thread(target=server.shutdown).start())
    temporary = args.port_file + ".tmp"
    with open(temporary, "w") as handle:
        handle.write("%d\n" % server.server_address[1])
    os.replace(temporary, args.port_file)
    server.serve_forever()
    return 0


if __name__ == "__main__":
    sys.exit(main())
