"""The state file at the caps, before and after the history and the event log moved
to tables of their own (issue 23): the server of the code before ($BENCH_BEFORE,
default c07eae3, unpacked from git into a temporary directory) and this one, on the
same state (20,000 live jobs, 200,000 history jobs, 100,000 events; 100 backends x
8 devices), made by the code before (schema 2; this server migrates it once, and
that first start is reported apart).  Interleaved, median of --runs:

- restart: from `serve` to its port line (the state loaded, replayed, snapshotted);
- resident memory once started, after every big listing was asked for, and the peak
  through 5,010 changes, one of which makes a snapshot due;
- the longest and the 99th-percentile wait of those changes (one caller, one after
  the other): the snapshot's stall on a caller;
- `show history 100000` through the shell, end to end.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import grpc
from bench_memory import memory
from common import SMCLIENT, report

from smclient.api import sdamanager_pb2 as pb
from smclient.api import sdamanager_pb2_grpc as pb_grpc

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
CHANGES = 5010  # SNAPSHOT_EVERY (5,000) and a few: one snapshot falls due within them

MAKE_STATE = """
import sys
sys.path.insert(0, "bench")
from bench_durable import fill
from sdamanager_stub.manager import new_manager
from sdamanager_stub.store import Store
m = new_manager(backends=100, devices=8)
fill(m, 20_000, 200_000, 100_000)
Store(sys.argv[1]).attach(m)
m.journal.close()
"""


@contextlib.contextmanager
def tree_of(ref: str) -> Iterator[Path]:
    with tempfile.TemporaryDirectory(prefix="bench-before-") as where:
        archive = subprocess.run(["git", "-C", str(ROOT), "archive", ref], capture_output=True, check=True)
        subprocess.run(["tar", "-x", "-C", where], input=archive.stdout, check=True)
        yield Path(where)


def env_for(tree: Path | None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    if tree is not None:
        env["PYTHONPATH"] = str(tree)  # its packages first: the server of the code before
    return env


def start(tree: Path | None, state: Path) -> tuple[subprocess.Popen[str], int, float]:
    began = time.perf_counter()
    errors = state.with_suffix(".err")
    with errors.open("w") as err:
        proc = subprocess.Popen([sys.executable, "-c", "import sys; from sdamanager_stub.cli import main; "
                                 "sys.exit(main())", "serve", "--port", "0", "--state", str(state)],
                                stdout=subprocess.PIPE, stderr=err, text=True, env=env_for(tree))
    assert proc.stdout is not None
    line = proc.stdout.readline()
    seconds = time.perf_counter() - began
    if ":" not in line:
        raise SystemExit(f"the server did not start: {errors.read_text()[-2000:]}")
    return proc, int(line.rsplit(":", 1)[1]), seconds


def stop(proc: subprocess.Popen[str]) -> None:
    proc.terminate()
    proc.wait(timeout=60)
    if proc.stdout is not None:
        proc.stdout.close()


def one_run(tree: Path | None, state: Path) -> dict[str, float]:
    proc, port, seconds = start(tree, state)
    try:
        figures = {"restart (s)": seconds, "memory once started (MiB)": memory(proc.pid)[0]}
        began = time.perf_counter()
        subprocess.run([SMCLIENT, "--port", str(port), "--timeout", "120", "--command", "show history 100000"],
                       stdout=subprocess.DEVNULL, check=True)
        figures["show history 100000 (s)"] = time.perf_counter() - began
        began = time.perf_counter()
        subprocess.run([SMCLIENT, "--port", str(port), "--timeout", "120", "--command", "show history 100000"],
                       stdout=subprocess.DEVNULL, check=True)
        figures["show history 100000 again (s)"] = time.perf_counter() - began
        for command in ("show job", "show eventlog", "show token", "show backend"):
            subprocess.run([SMCLIENT, "--port", str(port), "--timeout", "120", "--command", command],
                           stdout=subprocess.DEVNULL, check=True)
        figures["memory after every listing (MiB)"] = memory(proc.pid)[0]
        waits = []
        with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
            stub = pb_grpc.SDAManagerStub(channel)
            token = stub.CreateToken(pb.CreateTokenRequest(description="bench-archive")).value
            for i in range(CHANGES):
                began = time.perf_counter()
                stub.UpdateTokenPriority(pb.UpdateTokenPriorityRequest(token=token, priority=i % 9))
                waits.append(time.perf_counter() - began)
        time.sleep(3)  # the snapshot is written in the background
        figures["peak memory: listings, a snapshot (MiB)"] = memory(proc.pid)[1]
        waits.sort()
        figures["longest wait of a change (ms)"] = waits[-1] * 1000
        figures["p99 wait of a change (ms)"] = waits[int(len(waits) * 0.99)] * 1000
        return figures
    finally:
        stop(proc)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=3)
    runs = parser.parse_args().runs
    ref = os.environ.get("BENCH_BEFORE", "c07eae3")
    with tree_of(ref) as before, tempfile.TemporaryDirectory() as where:
        made = Path(where) / "caps-schema-2.db"
        subprocess.run([sys.executable, "-c", MAKE_STATE, str(made)], cwd=before, env=env_for(before), check=True)
        print(f"the state at the caps, made by {ref} ({made.stat().st_size / 1e6:.0f} MB); median of {runs} runs, "
              "interleaved")
        now_state = Path(where) / "now.db"
        shutil.copyfile(made, now_state)
        proc, _, migrated = start(None, now_state)
        stop(proc)
        report("now: first start (migrates schema 2 to 3)", migrated, "s")
        samples: dict[str, dict[str, list[float]]] = {"before": {}, "now": {}}
        for _ in range(runs):
            for label, tree, source in (("before", before, made), ("now", None, now_state)):
                state = Path(where) / f"{label}-run.db"
                shutil.copyfile(source, state)
                for name, value in one_run(tree, state).items():
                    samples[label].setdefault(name, []).append(value)
                state.unlink()
        print(f"  (file sizes: before {made.stat().st_size / 1e6:.0f} MB, now {now_state.stat().st_size / 1e6:.0f} MB)")
        for name in samples["now"]:
            before_value = statistics.median(samples["before"][name])
            now_value = statistics.median(samples["now"][name])
            unit = name.rsplit("(", 1)[1].rstrip(")")
            report(f"before: {name.rsplit(' (', 1)[0]}", before_value, unit)
            report(f"now:    {name.rsplit(' (', 1)[0]}", now_value, unit, "before", now_value / before_value)
    return 0


if __name__ == "__main__":
    sys.exit(main())
