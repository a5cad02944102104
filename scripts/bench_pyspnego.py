#!/usr/bin/env python3
"""Times pyspnego's NTLM on the operations that Benchmarks/ measures for our Swift module.

Single thread, timeit-style: each operation is run `--number` times per repeat, `--repeat`
repeats, and the median and best repeat are reported as µs/op and ops/s. Operations that
need a fresh context per call (Type 3 creation and verification) get their contexts
prepared before each repeat, outside the timed loop, exactly like the Swift benchmarks.

  NTOWFv1              spnego._ntlm_raw.crypto.ntowfv1(password)
  NTOWFv2              spnego._ntlm_raw.crypto.ntowfv2(user, nt_hash, domain)
  Type 2 creation      server.step(type1) on a fresh pyspnego NTLM acceptor
  Type 3 creation      client.step(type2) on a fresh pyspnego NTLM client already primed with
                       step() for its Type 1; the Type 2 is made once by a pyspnego acceptor
                       (NTLMv2, MIC, key exchange: pyspnego's defaults)
  Type 3 verification  server.step(type3) on a pyspnego acceptor that sent the matching
                       Type 2; it reads NTLM_USER_FILE (DOMAIN:user:password) on every call,
                       which is how pyspnego's acceptor works
  Full handshake       fresh client + server, Type 1 + Type 2 + Type 3 + verification

Needs pyspnego (the test venv has it: scripts/requirements-test.txt):
  .venv/bin/python scripts/bench_pyspnego.py [--quick] [--json FILE]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import tempfile
import time
import timeit
import typing

USER = "alice"
DOMAIN = "CORP"
WORKSTATION = "WS-0042"
PASSWORD = "Summer2024!Passw0rd"
HOSTNAME = "proxy01.corp.example.com"


def _setup_environment(tmpdir: str) -> str:
    user_file = os.path.join(tmpdir, "ntlm_users")
    with open(user_file, "w", encoding="utf-8") as f:
        f.write(f"{DOMAIN}:{USER}:{PASSWORD}\n")
    # pyspnego's acceptor reads the file when created and again for every Type 3.
    os.environ["NTLM_USER_FILE"] = user_file
    # The workstation the client puts into its Type 3 (otherwise gethostname() per call).
    os.environ["NETBIOS_COMPUTER_NAME"] = WORKSTATION
    return user_file


def _client() -> typing.Any:
    import spnego

    return spnego.client(f"{DOMAIN}\\{USER}", PASSWORD, hostname=HOSTNAME, service="HTTP", protocol="ntlm")


def _server() -> typing.Any:
    import spnego

    return spnego.server(hostname=HOSTNAME, service="HTTP", protocol="ntlm")


def _measure(name: str, prepare: typing.Callable[[int], typing.Any], run: typing.Callable[[typing.Any], None],
             number: int, repeat: int) -> typing.Dict[str, typing.Any]:
    """Runs `run(state)` where `state = prepare(number)` for each repeat; only `run` is timed."""
    timer = timeit.default_timer
    per_op = []
    for _ in range(repeat):
        state = prepare(number)
        start = timer()
        run(state)
        per_op.append((timer() - start) / number)
    median = statistics.median(per_op)
    best = min(per_op)
    return {
        "name": name,
        "number": number,
        "repeat": repeat,
        "us_per_op_median": median * 1e6,
        "us_per_op_best": best * 1e6,
        "ops_per_s_median": 1.0 / median,
        "ops_per_s_best": 1.0 / best,
    }


def run(quick: bool) -> typing.List[typing.Dict[str, typing.Any]]:
    from spnego._ntlm_raw.crypto import ntowfv1, ntowfv2

    repeat = 5 if quick else 7
    scale = 0.2 if quick else 1.0

    def n(count: int) -> int:
        return max(50, int(count * scale))

    # A Type 2 made once by pyspnego's own acceptor, and the Type 1 it answers.
    first_client = _client()
    type1 = first_client.step()
    first_server = _server()
    type2 = first_server.step(type1)
    nt_hash = ntowfv1(PASSWORD)

    # Sanity check before timing: a full handshake verifies, with MIC and key exchange.
    client = _client()
    server = _server()
    t3 = client.step(server.step(client.step()))
    server.step(t3)
    if not (client.complete and server.complete):
        raise SystemExit("pyspnego handshake did not complete")
    if server.client_principal.upper() != f"{DOMAIN}\\{USER}".upper():
        raise SystemExit(f"unexpected principal {server.client_principal!r}")

    results = []

    # NTOWFv1: stateless, plain timeit.
    def bench_plain(name: str, stmt: typing.Callable[[], typing.Any], number: int) -> None:
        times = timeit.Timer(stmt).repeat(repeat=repeat, number=number)
        per_op = [t / number for t in times]
        median = statistics.median(per_op)
        best = min(per_op)
        results.append({
            "name": name, "number": number, "repeat": repeat,
            "us_per_op_median": median * 1e6, "us_per_op_best": best * 1e6,
            "ops_per_s_median": 1.0 / median, "ops_per_s_best": 1.0 / best,
        })

    bench_plain("NTOWFv1", lambda: ntowfv1(PASSWORD), n(20_000))
    bench_plain("NTOWFv2", lambda: ntowfv2(USER, nt_hash, DOMAIN), n(20_000))

    def prepare_servers(count: int) -> typing.List[typing.Any]:
        return [_server() for _ in range(count)]

    def run_type2(servers: typing.List[typing.Any]) -> None:
        for s in servers:
            s.step(type1)

    results.append(_measure("Type 2 creation", prepare_servers, run_type2, n(5_000), repeat))

    def prepare_clients(count: int) -> typing.List[typing.Any]:
        clients = []
        for _ in range(count):
            c = _client()
            c.step()
            clients.append(c)
        return clients

    def run_type3(clients: typing.List[typing.Any]) -> None:
        for c in clients:
            c.step(type2)

    results.append(_measure("Type 3 creation", prepare_clients, run_type3, n(3_000), repeat))

    def prepare_pending(count: int) -> typing.List[typing.Tuple[typing.Any, bytes]]:
        pending = []
        for _ in range(count):
            c = _client()
            s = _server()
            t3 = c.step(s.step(c.step()))
            pending.append((s, t3))
        return pending

    def run_verify(pending: typing.List[typing.Tuple[typing.Any, bytes]]) -> None:
        for s, t3 in pending:
            s.step(t3)
            if not s.complete:
                raise SystemExit("verification did not complete")

    results.append(_measure("Type 3 verification", prepare_pending, run_verify, n(2_000), repeat))

    def prepare_nothing(count: int) -> int:
        return count

    def run_handshake(count: int) -> None:
        for _ in range(count):
            c = _client()
            s = _server()
            s.step(c.step(s.step(c.step())))

    results.append(_measure("Full handshake", prepare_nothing, run_handshake, n(1_000), repeat))
    return results


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="fewer iterations (a smoke run)")
    parser.add_argument("--json", metavar="FILE", help="also write the results as JSON to FILE")
    args = parser.parse_args()

    try:
        import spnego
        from spnego._version import __version__ as spnego_version
    except ImportError:
        print("pyspnego is not installed: pip install -r scripts/requirements-test.txt", file=sys.stderr)
        return 2

    with tempfile.TemporaryDirectory(prefix="bench-pyspnego-") as tmpdir:
        _setup_environment(tmpdir)
        results = run(args.quick)

    header = f"pyspnego {spnego_version}, Python {platform.python_version()} ({platform.python_implementation()}), single thread"
    print(header)
    print(f"{'operation':<22} {'ops/s (median)':>15} {'µs/op (median)':>15} {'µs/op (best)':>13}  runs")
    for r in results:
        print(f"{r['name']:<22} {r['ops_per_s_median']:>15,.0f} {r['us_per_op_median']:>15.2f} {r['us_per_op_best']:>13.2f}  {r['repeat']}x{r['number']}")
    if args.json:
        with open(args.json, "w", encoding="utf-8") as f:
            json.dump({"implementation": header, "results": results}, f, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
