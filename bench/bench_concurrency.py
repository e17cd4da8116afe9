"""The mixed load of tests/test_concurrency.py (16 clients, admin commands and VMs
mixed) for a fixed time: calls answered a second with a state file (every change
on disk before it is answered), against the same mix on a state in memory
measured in the same run.  The test checks what the load leaves behind; this is
how fast it goes, which depends on the machine and so is printed, not asserted."""

from __future__ import annotations

import argparse
import sys
import tempfile
import threading
import time
from pathlib import Path

from common import report

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
from test_concurrency import CLIENTS, cluster, run_clients  # noqa: E402

from sdamanager_stub.server import create_server  # noqa: E402


def calls_per_second(path: Path | None, seconds: float) -> tuple[float, float]:
    """(calls answered OK a second, calls refused by the rules a second) for `seconds`."""
    server, port = create_server("127.0.0.1:0", cluster(path))
    server.start()
    stop = threading.Event()
    timer = threading.Timer(seconds, stop.set)
    try:
        started = time.monotonic()
        timer.start()
        counts, errors = run_clients(port, None, stop)
        took = time.monotonic() - started
    finally:
        timer.cancel()
        server.stop(0)
    if errors:
        raise RuntimeError(f"the mix failed: {errors[:3]}")
    return counts["ok"] / took, counts["refused"] / took


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=4.0, help="how long each load runs (default 4)")
    args = parser.parse_args()
    print(f"mixed load, {CLIENTS} clients, {args.seconds:g} s each")
    memory_ok, memory_refused = calls_per_second(None, args.seconds)
    with tempfile.TemporaryDirectory() as tmp:
        disk_ok, disk_refused = calls_per_second(Path(tmp) / "state.db", args.seconds)
    report("calls answered OK a second, state in memory", memory_ok, "/s")
    report("calls refused by the rules a second, state in memory", memory_refused, "/s")
    report("calls answered OK a second, state file", disk_ok, "/s", "in memory", disk_ok / memory_ok)
    report("calls refused by the rules a second, state file", disk_refused, "/s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
