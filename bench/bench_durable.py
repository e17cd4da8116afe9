"""Durable state under load: intake of 20,000 jobs from 10 concurrent VMs over gRPC with
the state file (baseline: the same in memory), a restart with that state (baseline: a
start on a new file), and the longest wait of any call while snapshots are written
under steady writes (baseline: the same writes with no snapshot), at a moderate state
and at the caps (200,000 history jobs, 100,000 events)."""

from __future__ import annotations

import argparse
import gc
import re
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import grpc
from common import BIN, add_jobs, report, save_scene

from sdamanager_stub import store as store_module
from sdamanager_stub.entities import Event
from sdamanager_stub.manager import SDAManager, new_manager
from sdamanager_stub.server import create_server
from sdamanager_stub.store import Store
from smclient.api import sdamanager_pb2 as pb
from smclient.api import sdamanager_pb2_grpc as pb_grpc

VMS = 10
STUB = str(BIN / "sdamanager-stub")


# ---------------------------------------------------------------- intake


def vm_tokens(m: SDAManager) -> list[str]:
    tokens = []
    for i in range(VMS):
        token = m.create_token(f"vm{i}", 0).value
        m.create_sda(token, "bench", 1)
        m.update_token_duplicable(token, 0)  # many jobs at once on one SDA
        tokens.append(token)
    return tokens


def intake(port: int, tokens: list[str], jobs: int) -> float:
    """Seconds for `jobs` RequestDevices spread over one client per token, all at once.

    The VMs run in a process of their own (as they do on other machines), so they do
    not take the server's interpreter lock."""
    done = subprocess.run([sys.executable, __file__, "--vms", str(port), str(jobs // len(tokens)), *tokens],
                          capture_output=True, text=True, check=False)
    if done.returncode:
        raise RuntimeError(f"the VM clients failed: {done.stderr.strip()[-2000:]}")
    return float(done.stdout)


def vms(port: int, each: int, tokens: list[str]) -> None:
    """The VM clients' side: print the seconds from the first request to the last reply."""
    errors: list[str] = []
    go = threading.Barrier(len(tokens) + 1)

    def vm(token: str) -> None:
        with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
            stub = pb_grpc.SDAManagerStub(channel)
            request = pb.RequestDevicesRequest(token=token, client_pid=4242, process_name="python train.py",
                                               client="pytorch", version="23.9.2")
            stub.GetToken(pb.GetTokenRequest(token=token), timeout=30)  # connected before the clock starts
            go.wait()
            for _ in range(each):
                try:
                    stub.RequestDevices(request, timeout=60)
                except grpc.RpcError as err:
                    errors.append(f"{err.code()} {err.details()}")
                    return

    threads = [threading.Thread(target=vm, args=(t,)) for t in tokens]
    for t in threads:
        t.start()
    go.wait()
    started = time.perf_counter()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - started
    if errors:
        sys.exit(f"{len(errors)} requests failed, first: {errors[0]}")
    print(elapsed)


def start_seconds(state: Path) -> float:
    """From exec to the first answered call of a simulator on `state`."""
    started = time.perf_counter()
    proc = subprocess.Popen([STUB, "serve", "--state", str(state), "--port", "0", "--backends", "100",
                             "--devices", "8"], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        line = proc.stdout.readline()
        found = re.fullmatch(r"SDAManager simulator listening on 127\.0\.0\.1:(\d+)\n", line)
        if not found:
            raise RuntimeError(f"the simulator did not start: {line!r}")
        with grpc.insecure_channel(f"127.0.0.1:{found.group(1)}") as channel:
            pb_grpc.SDAManagerStub(channel).ListSdaModels(pb.ListSdaModelsRequest(), timeout=60)
        return time.perf_counter() - started
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        proc.stdout.close()


def intake_and_restart(jobs: int) -> None:
    print(f"intake: {jobs:,} RequestDevices from {VMS} concurrent VM clients, 100 backends x 8")
    with tempfile.TemporaryDirectory() as where:
        results = {}
        path = Path(where) / "state.db"
        for label, durable in (("in memory", False), ("state file", True)):
            manager = new_manager(backends=100, devices=8)
            if durable:
                Store(path).attach(manager)
            tokens = vm_tokens(manager)
            server, port = create_server("127.0.0.1:0", manager)
            server.start()
            results[label] = intake(port, tokens, jobs)
            assert len(manager.jobs) == jobs, len(manager.jobs)
            server.stop(0)
            if durable:
                manager.journal.close()
        base = results["in memory"]
        report("baseline: in memory", base, "s")
        report("state file (every change on disk before its reply)", results["state file"], "s",
               "in memory", results["state file"] / base, "< 40 s")
        fresh = start_seconds(Path(where) / "fresh.db")
        report("baseline: start on a new state file", fresh, "s")
        again = start_seconds(path)
        report(f"restart with that state ({jobs:,} jobs)", again, "s", "new file", again / fresh, "< 5 s")


# ---------------------------------------------------------------- stalls during snapshots


def fill(m: SDAManager, jobs: int, history: int, events: int) -> str:
    token = m.create_token("bench-state", 0).value
    m.create_sda(token, "bench", 1)
    add_jobs(m, jobs, token)
    add_jobs(m, history, token, history=True)
    now = time.time()
    m.archive.extend((), [Event(m.state.new_id("event"), now, token, "UPDATE_TOKEN_PRIORITY",
                                f'{{"token": "{token}", "priority": {i % 9}}}', "SUCCESS", "ipv4:127.0.0.1:5000")
                          for i in range(events - m.archive.event_count())])
    return token


def waits(port: int, tokens: list[str], seconds: float) -> list[float]:
    """Every call's wait (s), from 4 writers (UpdateTokenPriority) and 2 readers (GetToken)."""
    stop = threading.Event()
    samples: list[float] = []

    def client(i: int, write: bool) -> None:
        with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
            stub = pb_grpc.SDAManagerStub(channel)
            token = tokens[i]
            mine = []
            n = 0
            while not stop.is_set():
                n += 1
                started = time.perf_counter()
                if write:
                    stub.UpdateTokenPriority(pb.UpdateTokenPriorityRequest(token=token, priority=n % 9), timeout=60)
                else:
                    stub.GetToken(pb.GetTokenRequest(token=token), timeout=60)
                mine.append(time.perf_counter() - started)
            samples.extend(mine)

    threads = [threading.Thread(target=client, args=(i, i < 4)) for i in range(6)]
    for t in threads:
        t.start()
    time.sleep(seconds)
    stop.set()
    for t in threads:
        t.join()
    return samples


def p99(samples: list[float]) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]


def stalls(label: str, jobs: int, history: int, events: int, every: int, seconds: float, rounds: int = 3) -> None:
    """Windows with and without snapshots alternate on one server and one state, so the
    machine's noise falls on both alike; the figures pool each kind's windows."""
    print(f"longest wait of a call under steady writes (4 writers, 2 readers; {rounds} x {seconds:g} s windows "
          f"with and without snapshots, alternating), {label}: {jobs:,} jobs, {history:,} history jobs, "
          f"{events:,} events")
    samples: dict[str, list[float]] = {"no snapshots": [], "snapshots": []}
    with tempfile.TemporaryDirectory() as where:
        manager = new_manager(backends=100, devices=8)
        fill(manager, jobs, history, events)
        store_module.SNAPSHOT_EVERY = 10**9
        store = save_scene(manager, Path(where) / "state.db")  # the start-up snapshot is not measured
        tokens = [manager.create_token(f"w{i}", 0).value for i in range(6)]
        gc.freeze()  # as `sdamanager-stub serve` does once its state is loaded
        written = [0]
        name = "_write_snapshot" if hasattr(store, "_write_snapshot") else "snapshot"  # before: "snapshot"
        write = getattr(store, name)

        def counted(*args: object) -> None:
            written[0] += 1
            write(*args)

        setattr(store, name, counted)
        server, port = create_server("127.0.0.1:0", manager)
        server.start()
        for _ in range(rounds):
            for case in samples:
                store_module.SNAPSHOT_EVERY = every if case == "snapshots" else 10**9
                samples[case] += waits(port, tokens, seconds)
                if case == "snapshots":
                    store_module.SNAPSHOT_EVERY = 10**9
                    writer = getattr(store, "_writer", None)  # the one under way ends before the next window
                    if writer is not None:
                        writer.join()
        server.stop(0)
        store.close()
    base_max, base_p99 = max(samples["no snapshots"]), p99(samples["no snapshots"])
    top, tail = max(samples["snapshots"]), p99(samples["snapshots"])
    report("baseline (no snapshots): max", base_max * 1000, "ms")
    report("baseline (no snapshots): p99", base_p99 * 1000, "ms")
    report(f"snapshots every {every:,} changes: max", top * 1000, "ms", "baseline", top / base_max, "< 250 ms")
    report(f"snapshots every {every:,} changes: p99", tail * 1000, "ms", "baseline", tail / base_p99)
    print(f"  {'':<52} {len(samples['no snapshots']):,} calls without snapshots, "
          f"{len(samples['snapshots']):,} with; {written[0]} snapshots written")


def main() -> None:
    if sys.argv[1:2] == ["--vms"]:  # the VM clients of `intake`, in their own process
        vms(int(sys.argv[2]), int(sys.argv[3]), sys.argv[4:])
        return
    parser = argparse.ArgumentParser()
    parser.add_argument("--jobs", type=int, default=20_000)
    parser.add_argument("--seconds", type=float, default=4.0)
    parser.add_argument("--no-caps", action="store_true", help="skip the state at the caps")
    parser.add_argument("--no-intake", action="store_true", help="only the waits during snapshots")
    args = parser.parse_args()
    if not args.no_intake:
        intake_and_restart(args.jobs)
    stalls("moderate state", 20_000, 20_000, 20_000, 500, args.seconds)
    if not args.no_caps:
        stalls("at the caps", 20_000, 200_000, 100_000, 500, args.seconds)


if __name__ == "__main__":
    main()
