#!/usr/bin/env python3
"""An HTTP NTLM/Negotiate client built on pyspnego (nobody on the team wrote it), over one
http.client keep-alive connection.

    pyspnego_http_client.py --protocol ntlm|negotiate --user 'NTLMTEST\\alice' --password P \
        [--header 'K: V'] [--again] http://127.0.0.1:PORT/path

Runs the handshake with spnego.client(..., protocol=...) under the scheme NTLM (raw NTLM) or
Negotiate (SPNEGO), feeds a final `WWW-Authenticate: Negotiate <token>` of the 200 back into
the context (mechListMIC), and with --again sends one more request on the same connection
without Authorization (a connection-bound logon must still hold).

Prints one JSON object: {"status", "legs", "complete", "final_token", "json", "again_status",
"again_json", "negotiated_protocol"}. Exit 0 whatever the HTTP status; 2 on an error.
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
    args = parser.parse_args()

    url = urlsplit(args.url)
    path = url.path or "/"
    if url.query:
        path += "?" + url.query
    extra = {}
    for header in args.header:
        name, _, value = header.partition(":")
        extra[name.strip()] = value.strip()

    scheme = "NTLM" if args.protocol == "ntlm" else "Negotiate"
    context = spnego.client(args.user, args.password, hostname=url.hostname, service="HTTP",
                            protocol=args.protocol)
    connection = http.client.HTTPConnection(url.hostname, url.port, timeout=args.timeout)
    result = {"legs": 0, "final_token": False}
    try:
        token = context.step()
        while True:
            headers = dict(extra)
            headers["Authorization"] = "%s %s" % (scheme, base64.b64encode(token).decode())
            connection.request("GET", path, headers=headers)
            response = connection.getresponse()
            body = response.read()
            result["legs"] += 1
            offered = [v for v in response.headers.get_all("WWW-Authenticate") or []
                       if v.split(" ", 1)[0].lower() == scheme.lower()]
            incoming = None
            for value in offered:
                parts = value.split(" ", 1)
                if len(parts) == 2 and parts[1].strip():
                    incoming = base64.b64decode(parts[1].strip())
            if response.status == 401 and incoming is not None and not context.complete and result["legs"] < 5:
                token = context.step(incoming)
                if token is None:
                    break
                continue
            if response.status != 401 and incoming is not None and not context.complete:
                # Negotiate: the server's last NegTokenResp (accept-completed + mechListMIC).
                context.step(incoming)
                result["final_token"] = True
            break
        result["status"] = response.status
        result["json"] = parse_json(body)
        result["complete"] = bool(context.complete)
        try:
            result["negotiated_protocol"] = context.negotiated_protocol
        except Exception:  # noqa: BLE001 - only informational
            result["negotiated_protocol"] = None
        if args.again:
            connection.request("GET", path, headers=extra)
            again = connection.getresponse()
            result["again_status"] = again.status
            result["again_json"] = parse_json(again.read())
    except Exception as error:  # noqa: BLE001 - reported as JSON
        print(json.dumps({"error": "%s: %s" % (type(error).__name__, error)}))
        return 2
    finally:
        connection.close()
    print(json.dumps(result, sort_keys=True))
    return 0


if __name__ == "__main__":
    sys.exit(main())
