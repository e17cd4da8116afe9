"""The server at scale (issue 13): the cost of one single-entity call as the state
grows, and the scheduler's cost per decision as the queue grows.

Per call: `GetToken`, `UpdateTokenPriority` and `RequestDevices` over gRPC
(an in-process server, an in-memory manager of 100 backends x 8), median
per-call time on an empty server (the baseline) and with 20,000 and 100,000
live jobs of another token (800 running, the rest queued).  The three servers
run side by side and are measured in interleaved rounds, so a load that comes
and goes on the machine falls on all three alike.

Scheduler: the cost of one decision (a job ends, the queue's head is placed on
its device) on 1,000 backends x 8 devices, with 1k/10k/100k jobs queued.
"""

from __future__ import annotations

import argparse
import time

import grpc
from common import add_jobs, median, report, serve

from sdamanager_stub.entities import DeviceStatus, JobStatus
from sdamanager_stub.manager import SDAManager, new_manager
from smclient.api import sdamanager_pb2 as pb
from smclient.api import sdamanager_pb2_grpc as pb_grpc

SIZES = (0, 20_000, 100_000)


def scaled_manager(jobs: int) -> tuple[SDAManager, str]:
    """A manager with `jobs` live jobs of a bulk token, and the token the calls use."""
    m = new_manager(backends=100, devices=8)
    bulk = m.create_token("bulk", 0).value
    m.create_sda(bulk, "bulk", 1)
    if jobs:
        add_jobs(m, jobs, bulk)
    token = m.create_token("calls", 0).value
    m.create_sda(token, "calls", 1)
    m.update_token_duplicable(token, 0)  # any number of jobs at once
    return m, token


def per_call(rounds: int, batch: int) -> None:
    print(f"per-call cost over gRPC, median of {rounds * batch} calls each "
          f"(100 backends x 8, in memory; {rounds} interleaved rounds)")
    servers = []
    for size in SIZES:
        started = time.perf_counter()
        m, token = scaled_manager(size)
        server, port = serve(m)
        channel = grpc.insecure_channel(f"127.0.0.1:{port}")
        stub = pb_grpc.SDAManagerStub(channel)
        servers.append((size, m, token, server, channel, stub))
        print(f"  (state with {size:,} jobs built in {time.perf_counter() - started:.1f} s)", flush=True)

    calls = {
        "GetToken": lambda stub, token, i: stub.GetToken(pb.GetTokenRequest(token=token), timeout=30),
        "UpdateTokenPriority": lambda stub, token, i: stub.UpdateTokenPriority(
            pb.UpdateTokenPriorityRequest(token=token, priority=i % 5), timeout=30),
        "RequestDevices": lambda stub, token, i: stub.RequestDevices(
            pb.RequestDevicesRequest(token=token, client_pid=i, process_name="bench"), timeout=30),
    }
    for name, call in calls.items():
        samples: dict[int, list[float]] = {size: [] for size in SIZES}
        for _, _, token, _, _, stub in servers:  # warm each channel and path
            for i in range(5):
                call(stub, token, i)
        for r in range(rounds):
            for size, _, token, _, _, stub in servers:
                for i in range(batch):
                    started = time.perf_counter()
                    call(stub, token, r * batch + i)
                    samples[size].append(time.perf_counter() - started)
        base = median(samples[0]) * 1e3
        report(f"{name}: empty server (baseline)", base, "ms")
        for size in SIZES[1:]:
            value = median(samples[size]) * 1e3
            report(f"{name}: {size:,} jobs", value, "ms", "baseline", value / base, "<= 1.5x")
    for _, _, _, server, channel, _ in servers:
        channel.close()
        server.stop(0)


def scheduler_cost(rounds: int = 10, batch: int = 100) -> None:
    print("scheduler: cost per decision (a job ends, the queue's head is placed on its device), "
          f"1,000 backends x 8; median of {rounds * batch} decisions in {rounds} interleaved rounds "
          "(mean in brackets)")
    sizes = (1_000, 10_000, 100_000)
    states = {}
    for queued in sizes:
        m = new_manager(backends=1000, devices=8)
        token = m.create_token("sched", 0).value
        m.create_sda(token, "", 1)
        add_jobs(m, 8000 + queued, token)  # every device busy, `queued` jobs waiting
        states[queued] = (m, [j for j in m.jobs.values() if j.placement])
    samples: dict[int, list[float]] = {queued: [] for queued in sizes}
    for r in range(rounds):
        for queued in sizes:
            m, running = states[queued]
            # Free devices one job at a time and let the scheduler place the queue's head on each.
            with m.lock:
                for job in running[r * batch:(r + 1) * batch]:
                    started = time.perf_counter()
                    m.scheduler.end_job(job, JobStatus.COMPLETED, "bench", m.clock())
                    m.scheduler.serve(m.clock())
                    samples[queued].append(time.perf_counter() - started)
    decisions = rounds * batch
    for queued in sizes:
        m, _ = states[queued]
        placed = sum(1 for j in m.jobs.values() if j.placement) - (8000 - decisions)
        assert placed == decisions, placed
        assert all(d.status is not DeviceStatus.CLEANING for b in m.backends.values() for d in b.devices)
        value = median(samples[queued]) * 1e6
        base = median(samples[sizes[0]]) * 1e6
        report(f"queue of {queued:,} jobs", value, "us", "1,000-job queue", value / base,
               "well under 100 us" if queued == sizes[0] else "flat")
        mean = sum(samples[queued]) / len(samples[queued]) * 1e6
        print(f"  {'':<52} ({mean:.1f} us mean; {1e6 / mean:,.0f} decisions/s)")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--batch", type=int, default=30)
    args = parser.parse_args()
    started = time.perf_counter()
    per_call(args.rounds, args.batch)
    scheduler_cost()
    print(f"  (bench_scale: {time.perf_counter() - started:.0f} s)")


if __name__ == "__main__":
    main()
