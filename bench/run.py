"""`make bench`: every benchmark, one after the other.  Figures, not pass/fail:
medians and ratios against a baseline measured in the same run."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).parent
BENCHES = ["bench_startup.py", "bench_listings.py", "bench_server.py", "bench_aio.py", "bench_scale.py",
           "bench_stalls.py", "bench_completion.py", "bench_durable.py", "bench_memory.py", "bench_filters.py",
           "bench_concurrency.py", "bench_metrics.py", "bench_refusals.py", "bench_archive.py"]


def main() -> int:
    started = time.monotonic()
    failed = 0
    for name in BENCHES:
        print(f"\n== {name}", flush=True)
        failed |= subprocess.call([sys.executable, str(HERE / name)], cwd=HERE) != 0
    print(f"\nall benchmarks: {time.monotonic() - started:.0f} s")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
