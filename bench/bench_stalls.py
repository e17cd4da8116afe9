"""No stalls behind listings (issue 13): another client's `GetToken` latency while
two clients stream the big listings over and over.

A server process holds 20,000 live jobs and 100,000 ended ones (100 backends x 8).
A lister process streams `ListJobs` (all 20,000) and `ListHistory` (100,000) in
two threads, in a loop; this process times `GetToken` calls meanwhile, and
without the listers (the baseline).  Two servers are measured side by side:
listings converted as their pages go out, their messages kept serialized (now),
and the same server with every listing converted in its read, each time (as
before issue 13: the rows' `detach` and `key` removed).  bench_aio.py compares
the server of before the grpc.aio change.
Separate processes, so the figures are the server's, not the GIL of a client.
"""

from __future__ import annotations

import argparse
import gc
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

import grpc
from common import add_jobs, report

from smclient.api import sdamanager_pb2 as pb
from smclient.api import sdamanager_pb2_grpc as pb_grpc

LIVE, HISTORY = 20_000, 100_000


def serve(under_lock: bool) -> None:
    """Child: build the state, serve, print the port and the token, wait for stdin to close."""
    from sdamanager_stub import servicer
    from sdamanager_stub.manager import new_manager
    from sdamanager_stub.server import create_server

    if under_lock:  # the server as it was: every listing converted under the lock
        for name, row in servicer.RPCS.items():
            if isinstance(row, servicer.Listing):
                item = servicer.Converter.job if row.item is servicer.Converter.job_state else row.item
                servicer.RPCS[name] = row._replace(detach=None, key=None, item=item)
    m = new_manager(backends=100, devices=8)
    bulk = m.create_token("bulk", 0).value
    m.create_sda(bulk, "bulk", 1)
    add_jobs(m, HISTORY, bulk, history=True)
    add_jobs(m, LIVE, bulk)
    token = m.create_token("calls", 0).value
    gc.freeze()  # as `sdamanager-stub serve` does once its state is loaded
    server, port = create_server("127.0.0.1:0", m)
    server.start()
    print(port, token, flush=True)
    sys.stdin.read()
    server.stop(0)


def list_forever(port: int) -> None:
    """Child: two clients streaming the listings in a loop until killed."""
    def loop(call) -> None:  # type: ignore[no-untyped-def]
        with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
            stub = pb_grpc.SDAManagerStub(channel)
            while True:
                for _ in call(stub):
                    pass

    threads = [threading.Thread(target=loop, args=(lambda s: s.ListJobs(pb.ListJobsRequest(), timeout=120),)),
               threading.Thread(target=loop, args=(lambda s: s.ListHistory(pb.ListHistoryRequest(count=HISTORY),
                                                                          timeout=120),))]
    for t in threads:
        t.start()
    print("listing", flush=True)
    for t in threads:
        t.join()


def latencies(stub, token: str, seconds: float) -> list[float]:  # type: ignore[no-untyped-def]
    out = []
    until = time.monotonic() + seconds
    while time.monotonic() < until:
        started = time.perf_counter()
        stub.GetToken(pb.GetTokenRequest(token=token), timeout=30)
        out.append(time.perf_counter() - started)
        time.sleep(0.005)  # a caller, not a flood
    return out


def p99(samples: list[float]) -> float:
    return statistics.quantiles(samples, n=100)[98] if len(samples) >= 2 else samples[0]


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=8.0)
    parser.add_argument("--serve", choices=("outside", "under"))
    parser.add_argument("--list", type=int, metavar="PORT")
    args = parser.parse_args()
    if args.serve:
        serve(args.serve == "under")
        return 0
    if args.list:
        list_forever(args.list)
        return 0
    here = str(Path(__file__))
    print(f"GetToken while 2 clients stream ListJobs ({LIVE:,} jobs) and ListHistory ({HISTORY:,}) in a loop;"
          f" {args.seconds:g} s each")
    for label, mode in (("converted in the read (before issue 13)", "under"), ("converted as pages go out", "outside")):
        server = subprocess.Popen([sys.executable, here, "--serve", mode], stdin=subprocess.PIPE,
                                  stdout=subprocess.PIPE, text=True)
        port_text, token = server.stdout.readline().split()  # type: ignore[union-attr]
        port = int(port_text)
        with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
            stub = pb_grpc.SDAManagerStub(channel)
            quiet = latencies(stub, token, args.seconds / 2)
            lister = subprocess.Popen([sys.executable, here, "--list", str(port)], stdout=subprocess.PIPE, text=True)
            lister.stdout.readline()  # type: ignore[union-attr]
            time.sleep(1.0)  # both listings under way
            busy = latencies(stub, token, args.seconds)
            lister.kill()
            lister.wait()
        server.stdin.close()  # type: ignore[union-attr]
        server.wait()
        print(f"[{label}]")
        report("GetToken p99, no listings (baseline)", p99(quiet) * 1000, "ms")
        report("GetToken p50 while listings stream", statistics.median(busy) * 1000, "ms")
        report("GetToken p99 while listings stream", p99(busy) * 1000, "ms", "baseline", p99(busy) / p99(quiet),
               goal="< 100 ms")
        report("GetToken max while listings stream", max(busy) * 1000, "ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
