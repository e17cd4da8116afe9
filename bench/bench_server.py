"""Server throughput: admin calls per second from 16 concurrent clients (baseline:
the health check, the same gRPC path with no rules behind it).  The scheduler's
cost per decision is bench_scale.py's."""

from __future__ import annotations

import argparse
import tempfile
import threading
import time
from pathlib import Path

import grpc
from common import report
from grpc_health.v1 import health_pb2, health_pb2_grpc

from sdamanager_stub.manager import new_manager
from sdamanager_stub.server import create_server
from sdamanager_stub.store import Store
from smclient.api import sdamanager_pb2 as pb
from smclient.api import sdamanager_pb2_grpc as pb_grpc

CLIENTS = 16


def throughput(port: int, make_call, seconds: float) -> float:  # type: ignore[no-untyped-def]
    stop = threading.Event()
    counts = [0] * CLIENTS

    def client(i: int) -> None:
        with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
            call = make_call(channel, i)
            while not stop.is_set():
                call()
                counts[i] += 1

    threads = [threading.Thread(target=client, args=(i,)) for i in range(CLIENTS)]
    for t in threads:
        t.start()
    time.sleep(seconds)
    stop.set()
    for t in threads:
        t.join()
    return sum(counts) / seconds


def admin_throughput(seconds: float) -> None:
    print(f"admin calls per second, {CLIENTS} concurrent clients, {seconds:g} s each")
    with tempfile.TemporaryDirectory() as where:
        for label, durable in (("in memory", False), ("state file (fsync per change)", True)):
            manager = new_manager(backends=60, devices=8)
            if durable:
                Store(Path(where) / "state.db").attach(manager)
            tokens = [manager.create_token(f"t{i}", 0).value for i in range(CLIENTS)]
            server, port = create_server("127.0.0.1:0", manager)
            server.start()

            def health_call(channel, i):  # type: ignore[no-untyped-def]
                stub = health_pb2_grpc.HealthStub(channel)
                return lambda: stub.Check(health_pb2.HealthCheckRequest(), timeout=10)

            def read_call(channel, i, tokens=tokens):  # type: ignore[no-untyped-def]
                stub = pb_grpc.SDAManagerStub(channel)
                return lambda: stub.GetToken(pb.GetTokenRequest(token=tokens[i]), timeout=10)

            def change_call(channel, i, tokens=tokens):  # type: ignore[no-untyped-def]
                stub = pb_grpc.SDAManagerStub(channel)
                request = pb.UpdateTokenPriorityRequest(token=tokens[i], priority=i % 9)
                return lambda: stub.UpdateTokenPriority(request, timeout=10)

            base = throughput(port, health_call, seconds)
            report(f"[{label}] baseline: health check", base, "/s")
            value = throughput(port, read_call, seconds)
            report(f"[{label}] get token (a read)", value, "/s", "baseline", value / base)
            value = throughput(port, change_call, seconds)
            report(f"[{label}] update token priority (a change)", value, "/s", "baseline", value / base)
            server.stop(0)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=3.0)
    args = parser.parse_args()
    admin_throughput(args.seconds)


if __name__ == "__main__":
    main()
