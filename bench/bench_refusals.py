"""A flood of refused calls against the state file (issue 23's probe: 1.9 MB/s of file,
for ever): the file's size (with its write-ahead log) and its op rows as refused
calls of over 1 KB of text each come in, every 50,000, in-process (the rules and
the store, no gRPC: the file's growth is the figure, not the rate).  A refused call
adds its event to the event log's table and no op; the log keeps a window of refused
attempts, so the size levels off.  Before, every refused call stayed in the file
as an op row: it grew by the same amount every 50,000, without end (the same loop on the code
before: 127 MB after 150,000).
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

from common import report

from sdamanager_stub.errors import DomainError
from sdamanager_stub.manager import new_manager
from sdamanager_stub.store import Store

STEP = 50_000


def size_mb(path: Path) -> float:
    return sum(os.path.getsize(f"{path}{suffix}") for suffix in ("", "-wal") if os.path.exists(f"{path}{suffix}")) / 1e6


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--refusals", type=int, default=200_000)
    total = parser.parse_args().refusals
    print(f"a flood of {total:,} refused calls (an unknown token of 200 characters, a description of 900) "
          f"against the state file; its size every {STEP:,}")
    with tempfile.TemporaryDirectory(prefix="bench-refusals-") as directory:
        path = Path(directory) / "state.db"
        manager = new_manager(backends=60, devices=8)
        store = Store(path)
        store.attach(manager)
        started = time.perf_counter()
        for done in range(1, total + 1):
            try:
                manager.update_token_description("no-such-token-" + "x" * 186, "y" * 900)
            except DomainError:
                pass
            if done % STEP == 0:
                store.settle()
                rows = store.db.execute("SELECT COUNT(*) FROM ops").fetchone()[0]
                refused = store.db.execute("SELECT COUNT(*) FROM events WHERE refused = 1").fetchone()[0]
                report(f"after {done:,} refused calls", size_mb(path), "MB", "", None)
                print(f"  {'':<52} {rows:,} op rows in the file, {refused:,} refused attempts in the event log; "
                      f"{done / (time.perf_counter() - started):,.0f} calls/s so far")
        store.close()


if __name__ == "__main__":
    main()
