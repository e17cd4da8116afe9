"""Shared pieces of the benchmarks: timing, a simulator in this process, big states."""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from sdamanager_stub.entities import Job, JobStatus
from sdamanager_stub.manager import SDAManager
from sdamanager_stub.server import create_server
from sdamanager_stub.store import Store

BIN = Path(sys.executable).parent
SMCLIENT = str(BIN / "moreh_smclient")


def median(samples: list[float]) -> float:
    return statistics.median(samples)


def timed(run: Callable[[], object]) -> float:
    started = time.perf_counter()
    run()
    return time.perf_counter() - started


def run_child(argv: list[str]) -> tuple[float, int, int]:
    """(seconds, peak RSS in MiB, exit status) of one child process, output discarded."""
    started = time.perf_counter()
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    elapsed = time.perf_counter() - started
    proc.returncode = os.waitstatus_to_exitcode(status)
    err = proc.stderr.read().decode(errors="replace") if proc.stderr else ""
    if proc.stderr:
        proc.stderr.close()
    if proc.returncode:
        raise RuntimeError(f"{argv} exited {proc.returncode}: {err.strip()}")
    return elapsed, usage.ru_maxrss // 1024, proc.returncode


def serve(manager: SDAManager):  # type: ignore[no-untyped-def]
    server, port = create_server("127.0.0.1:0", manager)
    server.start()
    return server, port


def add_jobs(m: SDAManager, count: int, token: str, history: bool = False) -> None:
    """`count` jobs straight into the state (a benchmark's setup, not what it measures):
    running ones on idle devices while there are any, the rest waiting in the queue."""
    idle = [(b.id, d.index) for b in m.backends.values() for d in b.devices if not d.held]
    sda_id = next(s.id for s in m.sdas.values() if s.token == token)
    now = time.time()
    ended: list[Job] = []
    for _ in range(count):
        feid = m.state.new_id("job")
        job = Job(feid=feid, token=token, sda_id=sda_id, model_id=1, priority=feid % 7 - 3, device_count=1,
                  backend_group_id=0, client_pid=1000 + feid % 30000,
                  process_name=f"python train.py --epochs {feid % 90} --save-model model{feid}.pt",
                  client="pytorch-1.13.1+cu116.moreh23.9.2", version="23.9.2", request_time=now - 3600 + feid)
        if history:
            job.status, job.start_time, job.end_time = JobStatus.COMPLETED, job.request_time + 2, now
            job.placement = [(1 + feid % len(m.backends), feid % 8)]
            ended.append(job)
            continue
        if idle:
            pair = idle.pop()
            device = m.backends[pair[0]].devices[pair[1]]
            device.job_id = feid
            job.placement, job.status, job.start_time = [pair], JobStatus.RUNNING, job.request_time + 2
        else:
            m.scheduler.enqueue(job, m.sdas[sda_id])
            continue
        m.jobs[feid] = job
    m.archive.extend(ended, ())  # (written at once, or staged for a store's next commit)


def report(name: str, value: float, unit: str, baseline: str = "", ratio: float | None = None,
           goal: str = "") -> None:
    extra = f"  ({ratio:.2f}x {baseline})" if ratio is not None else ""
    tail = f"  goal: {goal}" if goal else ""
    print(f"  {name:<52} {value:>10.3f} {unit:<6}{extra}{tail}", flush=True)


# A child's ru_maxrss counts the memory of the process it was forked from: at exec,
# Linux keeps the old address space's high-water mark (and a benchmark that holds a
# big simulator is big).  So a small launcher forks the measured command: its peak
# is then the command's own.  Time is taken in the launcher, around fork and wait.
_LAUNCHER = r"""
import os, sys, time
argv = sys.argv[1:]
started = time.perf_counter()
pid = os.fork()
if pid == 0:
    null = os.open(os.devnull, os.O_WRONLY)
    os.dup2(null, 1)
    try:
        os.execv(argv[0], argv)
    finally:
        os._exit(127)
_, status, usage = os.wait4(pid, 0)
elapsed = time.perf_counter() - started
print(elapsed, usage.ru_maxrss, os.waitstatus_to_exitcode(status), usage.ru_utime + usage.ru_stime)
"""


def run_measured(argv: list[str]) -> tuple[float, float, float]:
    """(seconds, the command's own peak RSS in MiB, its CPU seconds) of one run, output
    discarded.  CPU time is the figure that a busy machine moves least."""
    proc = subprocess.run([sys.executable, "-S", "-c", _LAUNCHER, *argv], capture_output=True, text=True,
                          check=False)
    try:
        elapsed, maxrss_kib, status, cpu = proc.stdout.split()
    except ValueError:
        raise RuntimeError(f"{argv}: launcher failed: {proc.stderr.strip()}") from None
    if int(status):
        raise RuntimeError(f"{argv} exited {status}: {proc.stderr.strip()}")
    return float(elapsed), int(maxrss_kib) / 1024, float(cpu)


def save_scene(m: SDAManager, path: Path) -> Store:
    """Attach `m`, a scene set by hand (records put in place, not made by changes), to a new
    state file at `path`: its live state goes into the start-up snapshot, and its history
    and event log (the manager's own archive, which the file's replaces) into the tables."""
    history, events = m.archive.history(), m.archive.events()
    store = Store(path)
    store.attach(m)
    store.archive_records(history, events)
    return store
