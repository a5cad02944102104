#!/usr/bin/env python3
"""An HTTP NTLM/Negotiate client built on pyspnego (nobody on the team wrote it), over one
http.client keep-alive connection.

    pyspnego_http_client.py --protocol ntlm|negotiate --user 'NTLMTEST\\alice' --password P \
        [--header 'K: V'] [--again] [--second-user U --second-password P] http://127.0.0.1:PORT/path

Runs the handshake with spnego.client(..., protocol=...) under the scheme NTLM (raw NTLM) or
Negotiate (SPNEGO), feeds a final `WWW-Authenticate: Negotiate <token>` of the 200 back into
the context (mechListMIC), and with --again sends one more request on the same connection
without Authorization (a connection-bound logon must still hold).

With --second-user/--second-password, then runs a second handshake as that user on the same
connection (a new Type 1 on an authenticated connection) followed by one request without
Authorization; its results go to "second" (same keys, again_* always present).

Prints one JSON object: {"status", "legs", "complete", "final_token", "json", "again_status",
"again_json", "negotiated_protocol", "second"}. Exit 0 whatever the HTTP status; 2 on an error.
"""

import argparse
import base64
import http.client
import json
import sys
from urllib.parse import urlsplit

import spnego


def parse_json(body):
    try:
        return json.loads(body)
    except ValueError:
        return None


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("url")
    parser.add_argument("--protocol", choices=["ntlm", "negotiate"], required=True)
    parser.add_argument("--user", required=True)
    parser.add_argument("--password", required=True)
    parser.add_argument("--header", action="append", default=[])
    parser.add_argument("--again", action="store_true")
    parser.add_argument("--timeout", type=float, default=30.0)
    parser.add_argument("--second-user")
    parser.add_argument("--second-password")
    args = parser.parse_args()
    if (args.second_user is None) != (args.second_password is None):
        parser.error("--second-user and --second-password go together")

    url = urlsplit(args.url)
    path = url.path or "/"
    if url.query:
        path += "?" + url.query
    extra = {}
    for header in args.header:
        name, _, value = header.partition(":")
        extra[name.strip()] = value.strip()

    scheme = "NTLM" if args.protocol == "ntlm" else "Negotiate"
    connection = http.client.HTTPConnection(url.hostname, url.port, timeout=args.timeout)

    def handshake(user, password, into):
        """One NTLM/Negotiate handshake on `connection` as `user`; fills `into`."""
        context = spnego.client(user, password, hostname=url.hostname, service="HTTP",
                                protocol=args.protocol)
        into["legs"] = 0
        into["final_token"] = False
        token = context.step()
        while True:
            headers = dict(extra)
            headers["Authorization"] = "%s %s" % (scheme, base64.b64encode(token).decode())
            connection.request("GET", path, headers=headers)
            response = connection.getresponse()
            body = response.read()
            into["legs"] += 1
            offered = [v for v in response.headers.get_all("WWW-Authenticate") or []
                       if v.split(" ", 1)[0].lower() == scheme.lower()]
            incoming = None
            for value in offered:
                parts = value.split(" ", 1)
                if len(parts) == 2 and parts[1].strip():
                    incoming = base64.b64decode(parts[1].strip())
            if response.status == 401 and incoming is not None and not context.complete and into["legs"] < 5:
                token = context.step(incoming)
                if token is None:
                    break
                continue
            if response.status != 401 and incoming is not None and not context.complete:
                # Negotiate: the server's last NegTokenResp (accept-completed + mechListMIC).
                context.step(incoming)
                into["final_token"] = True
            break
        into["status"] = response.status
        into["json"] = parse_json(body)
        into["complete"] = bool(context.complete)
        try:
            into["negotiated_protocol"] = context.negotiated_protocol
        except Exception:  # noqa: BLE001 - only informational
            into["negotiated_protocol"] = None

    def again(into):
        connection.request("GET", path, headers=extra)
        response = connection.getresponse()
        into["again_status"] = response.status
        into["again_json"] = parse_json(response.read())

    result = {}
    try:
        handshake(args.user, args.password, result)
        if args.again:
            again(result)
        if args.second_user is not None:
            # A new handshake as another user on the same, already authenticated connection.
            second = {}
            handshake(args.second_user, args.second_password, second)
            again(second)
            result["second"] = second
    except Exception as error:  # noqa: BLE001 - reported as JSON
        print(json.dumps({"error": "%s: %s" % (type(error).__name__, error)}))
        return 2
    finally:
        connection.close()
    print(json.dumps(result, sort_keys=True))
    return 0


if __name__ == "__main__":
    sys.exit(main())
