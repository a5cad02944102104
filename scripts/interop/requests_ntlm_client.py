#!/usr/bin/env python3
"""Drive requests-ntlm (an NTLM client nobody on the team wrote) from the command line.

    requests_ntlm_client.py --user 'NTLMTEST\\alice' --password Alice-Pass1 [options] URL
    requests_ntlm_client.py --proxy http://127.0.0.1:3128 [options] URL    (no NTLM of its own)

Options:
  --method M          GET (default), POST, PUT
  --data-size N       send N random bytes as the body (the JSON output then has
                      "sent_sha256" to compare with what /echo saw)
  --count N           send the request N times on one session (one kept-alive connection;
                      the handshake happens once, later requests ride the authenticated
                      connection)
  --cafile FILE       verify HTTPS against FILE (the fixture's self-signed certificate)
  --insecure          do not verify HTTPS
  --header 'K: V'     extra request header (repeatable)
  --timeout SECONDS   connect/read timeout per request (default 60)
  --proxy URL         use URL as the HTTP proxy for http:// and https:// URLs (requests'
                      `proxies=`; https goes through CONNECT)
  --chunked           send the --data-size body chunked (a generator: no Content-Length)
Without --user/--password no authentication is attempted (a client of a forward proxy that
authenticates for it).

Prints one JSON object: {"statuses": [...], "status": last status, "length": body bytes,
"sha256": body hash, "json": body parsed as JSON or null, "www_authenticate": [...]}.
The response body is streamed and hashed, never held whole (fine for /download of 100 MiB).
Exit status 0 whatever the HTTP status; 2 on a usage or connection error.

The environment is ignored (session.trust_env = False): http_proxy/REQUESTS_CA_BUNDLE
would otherwise silently change where the request goes and which CA file is used.
"""

import argparse
import hashlib
import json
import os
import sys

import requests
import requests_ntlm


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("url")
    parser.add_argument("--user")
    parser.add_argument("--password")
    parser.add_argument("--method", default="GET")
    parser.add_argument("--data-size", type=int)
    parser.add_argument("--count", type=int, default=1)
    parser.add_argument("--cafile")
    parser.add_argument("--insecure", action="store_true")
    parser.add_argument("--header", action="append", default=[])
    parser.add_argument("--timeout", type=float, default=60.0)
    parser.add_argument("--proxy")
    parser.add_argument("--chunked", action="store_true")
    args = parser.parse_args()
    if (args.user is None) != (args.password is None):
        parser.error("--user and --password go together")

    session = requests.Session()
    session.trust_env = False
    if args.user is not None:
        session.auth = requests_ntlm.HttpNtlmAuth(args.user, args.password)
    if args.proxy:
        session.proxies = {"http": args.proxy, "https": args.proxy}
    verify = False if args.insecure else (args.cafile or True)
    headers = {}
    for header in args.header:
        name, _, value = header.partition(":")
        headers[name.strip()] = value.strip()

    data = None
    result = {}
    if args.data_size is not None:
        data = os.urandom(args.data_size)
        result["sent_sha256"] = hashlib.sha256(data).hexdigest()
        result["sent_length"] = len(data)

    def body():
        if data is None or not args.chunked:
            return data
        # A generator: requests sends it with Transfer-Encoding: chunked.
        return (data[i:i + 65536] for i in range(0, len(data), 65536))

    statuses = []
    try:
        for _ in range(args.count):
            response = session.request(args.method, args.url, data=body(), headers=headers,
                                        verify=verify, stream=True, timeout=args.timeout)
            digest = hashlib.sha256()
            length = 0
            head = b""
            for piece in response.iter_content(1 << 16):
                digest.update(piece)
                length += len(piece)
                if len(head) < 65536:
                    head += piece[:65536 - len(head)]
            statuses.append(response.status_code)
            response.close()
    except requests.RequestException as error:
        print(json.dumps({"error": str(error)}))
        return 2

    try:
        body_json = json.loads(head) if length == len(head) else None
    except ValueError:
        body_json = None
    result.update({
        "statuses": statuses,
        "status": statuses[-1],
        "length": length,
        "sha256": digest.hexdigest(),
        "json": body_json,
        "www_authenticate": response.raw.headers.getlist("WWW-Authenticate")
        if hasattr(response.raw.headers, "getlist") else response.headers.get("WWW-Authenticate"),
    })
    print(json.dumps(result, sort_keys=True))
    return 0


if __name__ == "__main__":
    sys.exit(main())
