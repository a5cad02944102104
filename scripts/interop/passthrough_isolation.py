#!/usr/bin/env python3
"""Session isolation under load for an NTLM/Negotiate origin, direct or through a relaying
proxy (ntlmproxy pass-through): many keep-alive client connections, each authenticated as
its own user with pyspnego, checking that every answer names the user of that connection.

    passthrough_isolation.py [options] http://127.0.0.1:PORT/

Options:
  --user 'DOMAIN\\name:password'  a user (repeatable, at least one; workers take them round
                                 robin, so give two or more to mix users)
  --protocol ntlm|negotiate      the scheme (raw NTLM, or SPNEGO wrapping NTLM); default ntlm
  --workers N                    concurrent client connections (threads), default 50
  --requests N                   requests in all (handshake legs not counted), default 10000
  --disconnect P                 after each request, close the connection with probability P
                                 and reconnect (and authenticate again), default 0.05
  --unauthenticated-every N      every N-th request of a worker, also open a fresh connection
                                 and send one request WITHOUT Authorization to a protected
                                 path: it must get 401, never 200; default 25
  --post P                       probability that a request is a small POST /echo (body of
                                 1..8 KiB, its sha256 checked) instead of GET /whoami; 0.1
  --path PATH                    the protected path answering JSON {"user": ...}, /whoami
  --cafile FILE                  the URL is https: verify against FILE
  --timeout S                    socket timeout, default 30
  --seed N                       random seed (default: random)

Prints one JSON object:
  requests                  answered requests (200 with a user checked, or anything else)
  authenticated_connections handshakes that ended in 200 (one per client connection)
  mismatches                answers naming another user than the connection's (or none);
                            mismatch_examples: the first 5
  unauthenticated_checks    requests without Authorization on fresh connections
  unauthenticated_200       of those, answered 200 (must be 0)
  unauthenticated_not_401   of those, answered neither 401 nor 200
  errors                    {"count", "first": first 5 messages} (connection errors,
                            unexpected statuses, failed handshakes)
  closed_by_server          connections the server ended: a response announcing
                            `Connection: close` (the next request goes on a new connection,
                            with a new logon; a 401 leg with it restarts the handshake), or a
                            request that found the kept-alive connection closed before any
                            answer (RemoteDisconnected, reset, broken pipe on a connection
                            that had already answered; the request is sent again): Apache's
                            event MPM retires child processes under load and closes their idle
                            keep-alive connections; a browser, like this script, reconnects
                            (authenticating again) and sends the request again
  per_user                  requests per user
  elapsed                   seconds
  latency_ms                p50/p90/p99/max of the answered requests (handshakes excluded)
Exit status 0 whatever happened (the caller judges); 2 only on a usage error.
Passwords are never printed.
"""

import argparse
import base64
import hashlib
import http.client
import json
import os
import random
import ssl
import sys
import threading
import time
from urllib.parse import urlsplit

import spnego


class Stats:
    def __init__(self, total):
        self.lock = threading.Lock()
        self.total = total
        self.issued = 0
        self.requests = 0
        self.authenticated_connections = 0
        self.mismatches = 0
        self.mismatch_examples = []
        self.unauthenticated_checks = 0
        self.unauthenticated_200 = 0
        self.unauthenticated_not_401 = 0
        self.error_count = 0
        self.closed_by_server = 0
        self.error_first = []
        self.per_user = {}
        # Seconds per answered request on an authenticated connection (handshakes excluded).
        self.latencies = []

    def take(self):
        """Reserves one request of the total; False when all are issued."""
        with self.lock:
            if self.issued >= self.total:
                return False
            self.issued += 1
            return True

    def give_back(self):
        with self.lock:
            self.issued -= 1

    def error(self, message):
        with self.lock:
            self.error_count += 1
            if len(self.error_first) < 5:
                self.error_first.append(message)

    def answered(self, user, echoed, what, seconds=None):
        with self.lock:
            self.requests += 1
            if seconds is not None:
                self.latencies.append(seconds)
            self.per_user[user] = self.per_user.get(user, 0) + 1
            if echoed != user:
                self.mismatches += 1
                if len(self.mismatch_examples) < 5:
                    self.mismatch_examples.append({"expected": user, "echoed": echoed, "request": what})


class Worker(threading.Thread):
    def __init__(self, index, args, stats, user, password, url):
        super().__init__(name="worker-%d" % index, daemon=True)
        self.index = index
        self.args = args
        self.stats = stats
        self.user = user
        self.password = password
        self.url = url
        self.random = random.Random((args.seed or 0) * 1000 + index if args.seed is not None else None)
        self.connection = None
        self.local_port = None
        self.exchanges = 0     # answers received on the current connection
        self.sent = 0

    # -- connections --------------------------------------------------------------------

    def connect(self):
        """A connected client connection that never reconnects by itself: http.client would
        silently open a new (unauthenticated) connection for a request after the server
        announced `Connection: close`; here that raises NotConnected instead."""
        host, port = self.url.hostname, self.url.port
        if self.url.scheme == "https":
            context = ssl.create_default_context(cafile=self.args.cafile)
            connection = http.client.HTTPSConnection(host, port, timeout=self.args.timeout, context=context)
        else:
            connection = http.client.HTTPConnection(host, port, timeout=self.args.timeout)
        connection.connect()
        connection.auto_open = 0
        self.local_port = connection.sock.getsockname()[1]
        return connection

    def server_closes(self, response):
        """After a response announcing `Connection: close` (or an HTTP/1.0 one without
        keep-alive): the connection is over; the next request needs a new one, and so a new
        logon. Counted with closed_by_server."""
        if response.will_close:
            with self.stats.lock:
                self.stats.closed_by_server += 1
            self.close()
            return True
        return False

    def close(self):
        if self.connection is not None:
            try:
                self.connection.close()
            except OSError:
                pass
        self.connection = None
        self.exchanges = 0

    def path(self, base):
        return self.args.base_path.rstrip("/") + base

    def authenticate(self):
        """A fresh connection, then the handshake on GET PATH; the final 200 counts as one of
        the requests (its echoed user is checked). Returns True when authenticated, False when
        it failed (an error), None when the server closed the connection mid-handshake."""
        scheme = "NTLM" if self.args.protocol == "ntlm" else "Negotiate"
        context = spnego.client(self.user, self.password, hostname=self.url.hostname, service="HTTP",
                                protocol=self.args.protocol)
        self.connection = self.connect()
        target = self.path(self.args.path) + "?w=%d&n=%d&leg=1" % (self.index, self.sent)
        token = context.step()
        legs = 0
        while True:
            legs += 1
            self.connection.request("GET", target, headers={"Authorization": "%s %s" % (scheme, base64.b64encode(token).decode())})
            response = self.connection.getresponse()
            body = response.read()
            self.exchanges += 1
            incoming = None
            for value in response.headers.get_all("WWW-Authenticate") or []:
                parts = value.split(" ", 1)
                if parts[0].lower() == scheme.lower() and len(parts) == 2 and parts[1].strip():
                    incoming = base64.b64decode(parts[1].strip())
            if response.status == 401 and response.will_close:
                # The server ends the connection mid-handshake: start over on a new one.
                self.server_closes(response)
                return None
            if response.status == 401 and incoming is not None and not context.complete and legs < 4:
                token = context.step(incoming)
                if token is None:
                    break
                continue
            if response.status != 401 and incoming is not None and not context.complete:
                context.step(incoming)   # Negotiate: the acceptor's last token (mechListMIC)
            break
        if response.status != 200 or not context.complete:
            self.stats.error("%s: handshake ended with %d after %d legs (complete=%s): %r"
                             % (self.name, response.status, legs, context.complete, body[:200]))
            self.close()
            return False
        with self.stats.lock:
            self.stats.authenticated_connections += 1
        self.stats.answered(self.user, echoed_user(body), "GET %s (handshake)" % target)
        self.server_closes(response)
        return True

    # -- requests -----------------------------------------------------------------------

    def one_request(self):
        self.sent += 1
        began = time.monotonic()
        if self.random.random() < self.args.post:
            data = os.urandom(self.random.randint(1024, 8192))
            target = self.path("/echo") + "?w=%d&n=%d" % (self.index, self.sent)
            self.connection.request("POST", target, body=data, headers={"Content-Type": "application/octet-stream"})
            response = self.connection.getresponse()
            body = response.read()
            self.exchanges += 1
            if response.status != 200:
                self.stats.error("%s: POST %s answered %d: %r" % (self.name, target, response.status, body[:200]))
                return False
            parsed = parse_json(body)
            if parsed is None or parsed.get("sha256") != hashlib.sha256(data).hexdigest():
                self.stats.error("%s: POST %s: body not echoed intact: %r" % (self.name, target, body[:200]))
            self.stats.answered(self.user, (parsed or {}).get("user"), "POST " + target, time.monotonic() - began)
            self.server_closes(response)
            return True
        target = self.path(self.args.path) + "?w=%d&n=%d" % (self.index, self.sent)
        self.connection.request("GET", target)
        response = self.connection.getresponse()
        body = response.read()
        self.exchanges += 1
        if response.status != 200:
            self.stats.error("%s: GET %s on an authenticated connection answered %d: %r" % (self.name, target, response.status, body[:200]))
            return False
        self.stats.answered(self.user, echoed_user(body), "GET " + target, time.monotonic() - began)
        self.server_closes(response)
        return True

    def unauthenticated_check(self):
        """A fresh connection, one request without Authorization: never 200."""
        target = self.path(self.args.path) + "?w=%d&unauthenticated=%d" % (self.index, self.sent)
        try:
            connection = self.connect()
            try:
                connection.request("GET", target)
                response = connection.getresponse()
                body = response.read()
                offered = response.headers.get_all("WWW-Authenticate") or []
            finally:
                connection.close()
        except (OSError, http.client.HTTPException) as error:
            self.stats.error("%s: unauthenticated GET %s: %s: %s" % (self.name, target, type(error).__name__, error))
            return
        with self.stats.lock:
            self.stats.unauthenticated_checks += 1
            if response.status == 200:
                self.stats.unauthenticated_200 += 1
                if len(self.stats.mismatch_examples) < 5:
                    self.stats.mismatch_examples.append({"expected": None, "echoed": echoed_user(body), "request": "GET %s (no Authorization)" % target})
            elif response.status != 401:
                self.stats.unauthenticated_not_401 += 1
        if response.status == 401 and not offered:
            self.stats.error("%s: 401 without WWW-Authenticate" % self.name)
        elif response.status not in (200, 401):
            self.stats.error("%s: unauthenticated GET %s answered %d" % (self.name, target, response.status))

    def run(self):
        while True:
            if not self.stats.take():
                break
            try:
                if self.connection is None:
                    authenticated = self.authenticate()
                    if authenticated is None:
                        self.stats.give_back()   # closed mid-handshake: try again
                        continue
                    if not authenticated:
                        continue      # the reserved request was the failed handshake's
                    # The handshake's final 200 was this reserved request.
                elif not self.one_request():
                    self.close()
                    continue
                if self.args.unauthenticated_every > 0 and self.sent % self.args.unauthenticated_every == 0:
                    self.unauthenticated_check()
                if self.connection is not None and self.random.random() < self.args.disconnect:
                    self.close()
            except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError) as error:
                if self.connection is not None and self.exchanges > 0:
                    # The server closed the kept-alive connection before answering: reconnect
                    # and send the request again (what browsers do).
                    with self.stats.lock:
                        self.stats.closed_by_server += 1
                    self.stats.give_back()
                else:
                    self.stats.error("%s: %s on a new connection (client port %s): %s"
                                     % (self.name, type(error).__name__, self.local_port, error))
                self.close()
            except (OSError, http.client.HTTPException, spnego.exceptions.SpnegoError, ValueError) as error:
                self.stats.error("%s: %s: %s" % (self.name, type(error).__name__, error))
                self.close()
        self.close()


def percentiles(samples):
    """p50/p90/p99/max in milliseconds (nearest rank), or {} without samples."""
    if not samples:
        return {}
    ordered = sorted(samples)
    def rank(p):
        return ordered[min(len(ordered) - 1, max(0, int(round(p / 100.0 * len(ordered))) - 1))]
    return {name: round(rank(p) * 1000, 2) for name, p in (("p50", 50), ("p90", 90), ("p99", 99), ("max", 100))}


def parse_json(body):
    try:
        value = json.loads(body)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


def echoed_user(body):
    parsed = parse_json(body)
    return None if parsed is None else parsed.get("user")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("url")
    parser.add_argument("--user", action="append", default=[])
    parser.add_argument("--protocol", choices=["ntlm", "negotiate"], default="ntlm")
    parser.add_argument("--workers", type=int, default=50)
    parser.add_argument("--requests", type=int, default=10000)
    parser.add_argument("--disconnect", type=float, default=0.05)
    parser.add_argument("--unauthenticated-every", type=int, default=25)
    parser.add_argument("--post", type=float, default=0.1)
    parser.add_argument("--path", default="/whoami")
    parser.add_argument("--cafile")
    parser.add_argument("--timeout", type=float, default=30.0)
    parser.add_argument("--seed", type=int)
    args = parser.parse_args()
    users = []
    for entry in args.user:
        name, sep, password = entry.partition(":")
        if not sep or not name or not password:
            parser.error("--user wants 'DOMAIN\\name:password'")
        users.append((name, password))
    if not users:
        parser.error("at least one --user")
    url = urlsplit(args.url)
    if url.scheme not in ("http", "https") or not url.hostname or not url.port:
        parser.error("URL must be http(s)://HOST:PORT/")
    args.base_path = url.path or "/"

    stats = Stats(args.requests)
    started = time.monotonic()
    workers = [Worker(i, args, stats, users[i % len(users)][0], users[i % len(users)][1], url) for i in range(args.workers)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    print(json.dumps({
        "requests": stats.requests,
        "authenticated_connections": stats.authenticated_connections,
        "mismatches": stats.mismatches,
        "mismatch_examples": stats.mismatch_examples,
        "unauthenticated_checks": stats.unauthenticated_checks,
        "unauthenticated_200": stats.unauthenticated_200,
        "unauthenticated_not_401": stats.unauthenticated_not_401,
        "errors": {"count": stats.error_count, "first": stats.error_first},
        "closed_by_server": stats.closed_by_server,
        "per_user": stats.per_user,
        "workers": args.workers,
        "users": len(users),
        "protocol": args.protocol,
        "elapsed": round(time.monotonic() - started, 3),
        "latency_ms": percentiles(stats.latencies),
    }, sort_keys=True))
    return 0


if __name__ == "__main__":
    sys.exit(main())
