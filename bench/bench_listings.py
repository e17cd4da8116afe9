"""Big listings end to end (the console script, output to /dev/null): time and the
client's peak memory; `show backend` on 1,000 backends, `show job` with 10,000 and
100,000 jobs, `show history 100000`.  Baseline: `--command 'show sdamodel'` (start-up and
one small call: what every listing pays before its rows)."""

from __future__ import annotations

import argparse

from common import SMCLIENT, add_jobs, median, report, run_child, serve

from sdamanager_stub.manager import new_manager


def measure(port: int, command: str, runs: int) -> tuple[float, int]:
    results = [run_child([SMCLIENT, "--port", str(port), "--timeout", "60", "--command", command])
               for _ in range(runs)]
    return median([r[0] for r in results]), max(r[1] for r in results)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=5)
    runs = parser.parse_args().runs
    print(f"big listings, median of {runs} runs; peak RSS of the client")
    manager = new_manager(backends=1000, devices=8)
    token = manager.create_token("bench-listings", 0).value
    manager.create_sda(token, "bench", 1)
    server, port = serve(manager)
    base, base_rss = measure(port, "show sdamodel", runs)
    report("baseline: --command 'show sdamodel' (13 rows)", base * 1000, "ms", "", None)
    print(f"  {'':<52} peak RSS {base_rss} MiB")
    cases = [("show backend (1,000 backends x 8 devices)", "show backend", 0, False),
             ("show job (10,000 jobs)", "show job", 10_000, False),
             ("show job (100,000 jobs)", "show job", 90_000, False),
             ("show history 100000 (100,000 jobs)", "show history 100000", 100_000, True)]
    per_row = {}
    for name, command, more, history in cases:
        if more:
            add_jobs(manager, more, token, history=history)
        seconds, rss = measure(port, command, runs)
        rows = len(manager.history) if history else (len(manager.jobs) if "job" in command else 1000)
        per_row[name] = (seconds - base) / rows * 1e6
        goal = "< 1 s" if "10,000 jobs" in name else ""
        report(name, seconds * 1000, "ms", "baseline", seconds / base, goal)
        print(f"  {'':<52} {per_row[name]:.1f} us/row beyond start-up; peak RSS {rss} MiB")
    ratio = per_row["show job (100,000 jobs)"] / per_row["show job (10,000 jobs)"]
    print(f"  linearity: cost per row at 100,000 jobs / at 10,000 jobs = {ratio:.2f} (1.00 is linear)")
    server.stop(0)


if __name__ == "__main__":
    main()
