"""The grpc.aio server side by side with the thread-per-call server it replaced and
with a floor, in the same run (issue 21).

- before: `sdamanager-stub serve` of the commit before the change
  ($BENCH_BASELINE, default aa01e0e), unpacked from git into a temporary
  directory and run from it with this environment's packages;
- now: `sdamanager-stub serve` of this tree;
- floor (throughput only): a minimal grpc.aio server answering GetToken with
  fixed bytes, nothing behind it.

Every server is a process of its own; the clients run in other processes.
Figures: GetToken calls/s from 16 clients and the server's CPU per call; GetToken
p50/p99/max while two clients stream 20,000 live jobs and 100,000 history
records (bench_stalls.py's state and listers); intake of 20,000 RequestDevices
from 10 VMs on a state file (bench_durable.py's clients); resident memory at the
caps (bench_memory.py's states and steps).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import bench_server
import grpc
from common import report, save_scene

from smclient.api import sdamanager_pb2 as pb
from smclient.api import sdamanager_pb2_grpc as pb_grpc

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
STUB = str(Path(sys.executable).with_name("sdamanager-stub"))


@contextlib.contextmanager
def baseline_tree() -> Iterator[Path | None]:
    """The baseline commit's tree in a temporary directory (None without git)."""
    ref = os.environ.get("BENCH_BASELINE", "aa01e0e")
    with tempfile.TemporaryDirectory(prefix="bench-baseline-") as where:
        archive = subprocess.run(["git", "-C", str(ROOT), "archive", ref], capture_output=True, check=False)
        if archive.returncode:
            print(f"  (no baseline: git archive {ref} failed)")
            yield None
            return
        subprocess.run(["tar", "-x", "-C", where], input=archive.stdout, check=True)
        yield Path(where)


def env_for(tree: Path | None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    if tree is not None:
        env["PYTHONPATH"] = str(tree)  # its packages first: the baseline's server
    return env


@contextlib.contextmanager
def server(tree: Path | None, *args: str) -> Iterator[tuple[int, int]]:
    """(pid, port) of `sdamanager-stub serve ARGS` from `tree` (None: this one)."""
    proc = subprocess.Popen([sys.executable, "-c", "import sys; from sdamanager_stub.cli import main; "
                             "sys.exit(main())", "serve", "--port", "0", *args],
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=env_for(tree))
    try:
        port = int(proc.stdout.readline().rsplit(":", 1)[1])  # type: ignore[union-attr]
        yield proc.pid, port
    finally:
        proc.terminate()
        proc.wait(timeout=60)


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


# ---------------------------------------------------------------- throughput and CPU per call

def floor() -> None:
    """Child: a grpc.aio server answering GetToken with fixed bytes; prints its port."""
    answer = pb.Token(value="YmVuY2gxMjM0NTY3ODkw", description="bench").SerializeToString()

    async def get_token(request: bytes, context: object) -> bytes:
        return answer

    async def run() -> None:
        server = grpc.aio.server()
        handler = grpc.method_handlers_generic_handler(
            "sdamanager.v1.SDAManager", {"GetToken": grpc.unary_unary_rpc_method_handler(get_token)})
        server.add_generic_rpc_handlers((handler,))
        port = server.add_insecure_port("127.0.0.1:0")
        await server.start()
        print(f"listening on 127.0.0.1:{port}", flush=True)
        await server.wait_for_termination()

    asyncio.run(run())


def load(port: int, token: str, seconds: float) -> None:
    """Child: bench_server's CLIENTS threads calling GetToken for `seconds`; prints the calls made."""
    def get_token(channel: grpc.Channel, i: int):  # type: ignore[no-untyped-def]
        stub = pb_grpc.SDAManagerStub(channel)
        stub.GetToken(pb.GetTokenRequest(token=token), timeout=10)  # connected before counting
        return lambda: stub.GetToken(pb.GetTokenRequest(token=token), timeout=10)

    print(round(bench_server.throughput(port, get_token, seconds) * seconds))


def throughput(pid: int, port: int, token: str, seconds: float) -> tuple[float, float]:
    """(calls/s, server CPU µs per call)."""
    before = cpu_seconds(pid)
    done = subprocess.run([sys.executable, __file__, "--load", str(port), token, str(seconds)],
                          capture_output=True, text=True, check=True)
    used = cpu_seconds(pid) - before
    calls = int(done.stdout)
    return calls / seconds, used / calls * 1e6


def token_on(port: int) -> str:
    with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
        return pb_grpc.SDAManagerStub(channel).CreateToken(pb.CreateTokenRequest(description="bench"),
                                                          timeout=10).value


def bench_throughput(before: Path | None, seconds: float) -> None:
    print(f"GetToken from {bench_server.CLIENTS} concurrent clients (another process), {seconds:g} s; "
          "the server's CPU per call")
    proc = subprocess.Popen([sys.executable, __file__, "--floor"], stdout=subprocess.PIPE, text=True)
    try:
        port = int(proc.stdout.readline().rsplit(":", 1)[1])  # type: ignore[union-attr]
        floor_rate, floor_cpu = throughput(proc.pid, port, "t", seconds)
    finally:
        proc.terminate()
        proc.wait()
    report("floor: grpc.aio answering fixed bytes", floor_rate, "/s")
    report("floor: CPU per call", floor_cpu, "us")
    for label, tree in (("before", before), ("now", None)):
        if label == "before" and tree is None:
            continue
        with server(tree, "--memory", "--backends", "60") as (pid, port):
            rate, cpu = throughput(pid, port, token_on(port), seconds)
        report(f"{label}: calls/s", rate, "/s", "floor", rate / floor_rate)
        report(f"{label}: CPU per call", cpu, "us", "floor", cpu / floor_cpu, goal="< 1.5x" if label == "now" else "")


# ---------------------------------------------------------------- a caller while listings stream

def bench_listings(before: Path | None, seconds: float) -> None:
    import bench_stalls

    print("GetToken while 2 clients stream ListJobs (20,000) and ListHistory (100,000) in a loop")
    for label, tree in (("before", before), ("now", None)):
        if label == "before" and tree is None:
            continue
        child = subprocess.Popen([sys.executable, str(HERE / "bench_stalls.py"), "--serve", "outside"],
                                 stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env_for(tree))
        port_text, token = child.stdout.readline().split()  # type: ignore[union-attr]
        port = int(port_text)
        with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
            stub = pb_grpc.SDAManagerStub(channel)
            quiet = bench_stalls.latencies(stub, token, seconds / 2)
            lister = subprocess.Popen([sys.executable, str(HERE / "bench_stalls.py"), "--list", str(port)],
                                      stdout=subprocess.PIPE, text=True)
            lister.stdout.readline()  # type: ignore[union-attr]
            time.sleep(1.0)
            busy = bench_stalls.latencies(stub, token, seconds)
            lister.kill()
            lister.wait()
        child.stdin.close()  # type: ignore[union-attr]
        child.wait()
        report(f"{label}: p99, no listings", bench_stalls.p99(quiet) * 1000, "ms")
        report(f"{label}: p50 while listings stream", sorted(busy)[len(busy) // 2] * 1000, "ms")
        report(f"{label}: p99 while listings stream", bench_stalls.p99(busy) * 1000, "ms")
        report(f"{label}: max while listings stream", max(busy) * 1000, "ms", goal="< 50 ms" if label == "now" else "")


# ---------------------------------------------------------------- intake on a state file

def bench_intake(before: Path | None, jobs: int) -> None:
    import bench_durable

    print(f"intake: {jobs:,} RequestDevices from {bench_durable.VMS} VM clients, a state file, 100 backends x 8")
    for label, tree in (("before", before), ("now", None)):
        if label == "before" and tree is None:
            continue
        with tempfile.TemporaryDirectory() as where, \
                server(tree, "--state", f"{where}/state.db", "--backends", "100", "--prepare-seconds", "0",
                       "--clean-seconds", "0") as (_, port):
            with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
                stub = pb_grpc.SDAManagerStub(channel)
                tokens = []
                for i in range(bench_durable.VMS):
                    token = stub.CreateToken(pb.CreateTokenRequest(description=f"vm{i}")).value
                    stub.CreateSda(pb.CreateSdaRequest(token=token, description="bench", model_id=1))
                    stub.UpdateTokenDuplicable(pb.UpdateTokenDuplicableRequest(token=token, duplicable=0))
                    tokens.append(token)
            seconds = bench_durable.intake(port, tokens, jobs)
        report(f"{label}: intake", jobs / seconds, "jobs/s")


# ---------------------------------------------------------------- memory at the caps

def bench_caps_memory(before: Path | None) -> None:
    import bench_memory
    from bench_durable import fill

    from sdamanager_stub.manager import new_manager

    print("resident memory at the caps (20,000 live jobs, 200,000 history, 100,000 events), bench_memory's steps")
    with tempfile.TemporaryDirectory() as where:
        manager = new_manager(backends=100, devices=8)
        fill(manager, 20_000, 200_000, 100_000)
        save_scene(manager, Path(where) / "caps.db").close()
        for label, tree in (("before", before), ("now", None)):
            if label == "before" and tree is None:
                continue
            state = Path(where) / f"{label}.db"
            state.write_bytes((Path(where) / "caps.db").read_bytes())
            saved = os.environ.pop("PYTHONPATH", None)
            if tree is not None:
                os.environ["PYTHONPATH"] = str(tree)  # bench_memory runs the console script: the baseline's server
            try:
                figures = bench_memory.measure(state)
            finally:
                os.environ.pop("PYTHONPATH", None)
                if saved is not None:
                    os.environ["PYTHONPATH"] = saved
            for stage, mib in figures.items():
                report(f"{label}: {stage}", mib, "MiB")


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--jobs", type=int, default=20_000)
    parser.add_argument("--floor", action="store_true")
    parser.add_argument("--load", nargs=3, metavar=("PORT", "TOKEN", "SECONDS"))
    parser.add_argument("--only", choices=("throughput", "listings", "intake", "memory"))
    args = parser.parse_args()
    if args.floor:
        floor()
        return 0
    if args.load:
        load(int(args.load[0]), args.load[1], float(args.load[2]))
        return 0
    with baseline_tree() as before:
        if args.only in (None, "throughput"):
            bench_throughput(before, args.seconds)
        if args.only in (None, "listings"):
            bench_listings(before, args.seconds)
        if args.only in (None, "intake"):
            bench_intake(before, args.jobs)
        if args.only in (None, "memory"):
            bench_caps_memory(before)
    return 0


if __name__ == "__main__":
    sys.exit(main())
