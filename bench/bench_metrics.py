"""What the metrics cost (issue 26, `serve --metrics-port`).

- per call: GetToken's latency and the server's CPU time, one client calling in turn, against
  `sdamanager-stub serve --memory` without metrics (the baseline) and with
  `--metrics-port 0`, both processes of their own, measured in alternating rounds
  in the same run; and the observer's own work per call (started + ended), timed
  in this process without gRPC around it;
- per scrape: the whole scrape (the text Prometheus reads), and the part that
  holds the rules' lock (during which the server's loop waits), on the demo
  cluster (60 x 8) and with 20,000 live jobs and the history at its cap (200,000).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

import grpc
from common import add_jobs, report

from sdamanager_stub.manager import new_manager
from sdamanager_stub.metrics import Metrics, StateCollector
from sdamanager_stub.observe import CallInfo
from smclient.api import sdamanager_pb2 as pb
from smclient.api import sdamanager_pb2_grpc as pb_grpc

STUB = str(Path(sys.executable).with_name("sdamanager-stub"))


def start(metrics: bool) -> tuple[subprocess.Popen[str], str]:
    argv = [STUB, "serve", "--memory", "--port", "0", *(["--metrics-port", "0"] if metrics else [])]
    server = subprocess.Popen(argv, stdout=subprocess.PIPE, text=True, env={**os.environ, "GRPC_VERBOSITY": "NONE"})
    line = server.stdout.readline()  # type: ignore[union-attr]
    if not line.startswith("SDAManager simulator listening on "):
        raise RuntimeError(f"{argv}: {line!r}")
    if metrics:
        assert server.stdout.readline().startswith("metrics on ")  # type: ignore[union-attr]
    return server, line.split()[-1]


def cpu_seconds(pid: int) -> float:
    """The process's CPU time so far (user + system), from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def latency(servers: dict[str, tuple[str, int]], rounds: int,
            calls: int) -> tuple[dict[str, list[float]], dict[str, float]]:
    """(seconds per GetToken, the server's CPU seconds per GetToken), per server, `calls` at a
    time in alternating rounds (which server goes first alternates too)."""
    samples: dict[str, list[float]] = {label: [] for label in servers}
    cpu = dict.fromkeys(servers, 0.0)
    channels = {label: grpc.insecure_channel(address) for label, (address, _) in servers.items()}
    try:
        stubs = {label: pb_grpc.SDAManagerStub(channel) for label, channel in channels.items()}
        requests = {label: pb.GetTokenRequest(token=stub.CreateToken(pb.CreateTokenRequest(description="b")).value)
                    for label, stub in stubs.items()}
        for label, stub in stubs.items():  # warm up
            for _ in range(200):
                stub.GetToken(requests[label], timeout=10)
        for number in range(rounds):
            order = list(stubs.items())
            for label, stub in order[::-1] if number % 2 else order:
                call, request, pid = stub.GetToken, requests[label], servers[label][1]
                used = cpu_seconds(pid)
                for _ in range(calls):
                    began = time.perf_counter()
                    call(request, timeout=10)
                    samples[label].append(time.perf_counter() - began)
                cpu[label] += cpu_seconds(pid) - used
    finally:
        for channel in channels.values():
            channel.close()
    return samples, {label: seconds / (rounds * calls) for label, seconds in cpu.items()}


def observer_cost(calls: int) -> float:
    """Seconds of the observer's own work per call (started + ended), no gRPC around it."""
    metrics = Metrics()
    infos = [CallInfo("/sdamanager.v1.SDAManager/GetToken", None, None) for _ in range(calls)]  # type: ignore[arg-type]
    loop = asyncio.new_event_loop()
    code = grpc.StatusCode.OK

    async def run() -> float:
        began = time.perf_counter()
        for info in infos:
            await metrics.started(info)
            metrics.ended(info, code, 0.0003)
        return time.perf_counter() - began

    try:
        return loop.run_until_complete(run()) / calls
    finally:
        loop.close()


def scrape_cost(big: bool, repeat: int) -> tuple[float, float]:
    """(seconds per whole scrape, seconds the rules' lock is held per scrape), medians."""
    from prometheus_client import generate_latest

    manager = new_manager(60, 8)
    if big:
        token = manager.create_token("bench").value
        manager.create_sda(token, "one device", 1)
        add_jobs(manager, 20_000, token)
        add_jobs(manager, 200_000, token, history=True)
    metrics = Metrics(manager)
    collector = StateCollector(manager)
    whole, locked = [], []
    for _ in range(repeat):
        began = time.perf_counter()
        generate_latest(metrics.registry)
        whole.append(time.perf_counter() - began)
        began = time.perf_counter()
        manager.read(collector._count)
        locked.append(time.perf_counter() - began)
    return statistics.median(whole), statistics.median(locked)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--calls", type=int, default=250, help="GetToken calls per server per round")
    args = parser.parse_args()

    print(f"GetToken latency and the server's CPU, one client, {args.rounds} alternating rounds of {args.calls} "
          "calls per server")
    started = {label: start(metrics) for label, metrics in (("without metrics", False), ("with metrics", True))}
    try:
        samples, cpu = latency({label: (address, server.pid) for label, (server, address) in started.items()},
                               args.rounds, args.calls)
    finally:
        for server, _ in started.values():
            server.terminate()
            server.wait(30)
    base = statistics.median(samples["without metrics"])
    with_metrics = statistics.median(samples["with metrics"])
    report("median, serve --memory (baseline)", base * 1e6, "us")
    report("median, serve --memory --metrics-port 0", with_metrics * 1e6, "us", "baseline", with_metrics / base)
    report("difference per call", (with_metrics - base) * 1e6, "us")
    for label in samples:
        p99 = statistics.quantiles(samples[label], n=100)[98]
        report(f"p99, {label}", p99 * 1e6, "us")
    base_cpu, metrics_cpu = cpu["without metrics"], cpu["with metrics"]
    report("server CPU per call, without metrics (baseline)", base_cpu * 1e6, "us")
    report("server CPU per call, with metrics", metrics_cpu * 1e6, "us", "baseline", metrics_cpu / base_cpu)
    report("the observer's own work per call (in process)", observer_cost(100_000) * 1e6, "us")

    print("a scrape of /metrics (generate_latest), and the part holding the rules' lock, medians")
    for big, label in ((False, "60 x 8, empty"), (True, "20,000 live jobs, 200,000 ended")):
        whole, locked = scrape_cost(big, 21 if big else 101)
        report(f"[{label}] whole scrape", whole * 1e3, "ms")
        report(f"[{label}] under the lock", locked * 1e3, "ms")


if __name__ == "__main__":
    main()
