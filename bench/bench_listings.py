"""Big listings end to end (the console script, output to /dev/null): wall time and the
client's own peak memory; `show backend` on 1,000 backends, `show job` with 10,000 and
100,000 jobs, `show history 100000`.

Baselines measured in the same run:
- `--command 'show sdamodel'`: start-up and one small call, what every listing pays
  before its rows;
- the same listing through the client as it was before the listing fast path
  (BASELINE_COMMIT) and before the listings were kept by column (BEFORE_COMMIT), each
  taken from git into a temporary directory, runs interleaved with the current
  client's so that noise hits all alike;
- the server's floor: the same stream read by a client that only counts the jobs
  (no table, no text), which no change to the client can go below; the listing's wall
  time, peak RSS and CPU are given as ratios to the floor's, measured in the same run
  (issue 22's goal for `show history 100000`: within 2x the floor's wall time, within
  1.5x its peak RSS).

Peak memory is the client's own (bench/common.run_measured), not the benchmark's.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tarfile
import tempfile
from io import BytesIO
from pathlib import Path

from common import SMCLIENT, add_jobs, median, report, run_measured, serve

from sdamanager_stub.manager import new_manager

ROOT = Path(__file__).resolve().parent.parent
# The client before the listing fast path (issue 13, client side).
BASELINE_COMMIT = "987ddaf"
# The client before its big listings were kept by column (issue 22, item 6).
BEFORE_COMMIT = "033e544"

_OLD_CLIENT = "import sys; sys.path.insert(0, {path!r}); from smclient.cli import main; sys.exit(main())"
_STREAM_ONLY = """
import sys
from smclient.api import sdamanager_pb2 as pb
from smclient.api.address import resolve_address
from smclient.transport import Connection
method, port = sys.argv[1], sys.argv[2]
request = pb.ListHistoryRequest(count=100000) if method == "ListHistory" else pb.ListJobsRequest()
connection = Connection(resolve_address("127.0.0.1", port), timeout=60)
print(sum(len(page.jobs) for page in connection.stream(method, request)))
"""


def old_client(directory: str, commit: str) -> list[str] | None:
    """argv prefix of the client at `commit`, or None when git cannot give it."""
    try:
        archive = subprocess.run(["git", "-C", str(ROOT), "archive", commit, "smclient"],
                                 capture_output=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError):
        return None
    with tarfile.open(fileobj=BytesIO(archive)) as tar:
        tar.extractall(directory)
    return [sys.executable, "-c", _OLD_CLIENT.format(path=directory)]


def client_args(port: int, command: str) -> list[str]:
    return ["--port", str(port), "--timeout", "60", "--command", command]


def measure(argvs: list[list[str]], runs: int) -> list[tuple[float, float, float]]:
    """(median seconds, max peak RSS MiB, median CPU seconds) of each argv, their runs interleaved."""
    samples: list[list[tuple[float, float, float]]] = [[] for _ in argvs]
    for _ in range(runs):
        for k, argv in enumerate(argvs):
            samples[k].append(run_measured(argv))
    return [(median([s for s, _, _ in runs_]), max(r for _, r, _ in runs_), median([c for _, _, c in runs_]))
            for runs_ in samples]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=5)
    runs = parser.parse_args().runs
    print(f"big listings, median of {runs} runs; the client's own peak RSS (its max over the runs)")
    manager = new_manager(backends=1000, devices=8)
    token = manager.create_token("bench-listings", 0).value
    manager.create_sda(token, "bench", 1)
    server, port = serve(manager)
    with tempfile.TemporaryDirectory(prefix="bench-old-client-") as directory:
        olds = [(commit, what, client) for commit, what in
                [(BASELINE_COMMIT, "before the fast path"), (BEFORE_COMMIT, "before the listings by column")]
                if (client := old_client(f"{directory}/{commit}", commit)) is not None]
        (base, base_rss, base_cpu), = measure([[SMCLIENT, *client_args(port, "show sdamodel")]], runs)
        report("baseline: --command 'show sdamodel' (13 rows)", base * 1000, "ms", "", None)
        print(f"  {'':<52} peak RSS {base_rss:.0f} MiB; client CPU {base_cpu * 1000:.0f} ms")
        if len(olds) < 2:
            print(f"  (no git checkout with {BASELINE_COMMIT} and {BEFORE_COMMIT}: "
                  "no comparison with the client as it was)")
        cases = [("show backend (1,000 backends x 8 devices)", "show backend", 0, False, "", ""),
                 ("show job (10,000 jobs)", "show job", 10_000, False, "", ""),
                 ("show job (100,000 jobs)", "show job", 90_000, False, "< 1 s", "ListJobs"),
                 ("show history 100000 (100,000 jobs)", "show history 100000", 100_000, True,
                  "< 1.5 s, < 150 MiB", "ListHistory")]
        per_row = {}
        for name, command, more, history, goal, method in cases:
            if more:
                add_jobs(manager, more, token, history=history)
            # The baseline runs again with each case, interleaved: on a busy machine a
            # baseline taken minutes earlier says little.
            argvs = [[SMCLIENT, *client_args(port, command)], [SMCLIENT, *client_args(port, "show sdamodel")]]
            if method:
                argvs.append([sys.executable, "-c", _STREAM_ONLY, method, str(port)])
                argvs += [[*client, *client_args(port, command)] for _, _, client in olds]
            results = measure(argvs, runs)
            seconds, rss, cpu = results[0]
            base = results[1][0]
            rows = manager.archive.history_count() if history else (len(manager.jobs) if "job" in command else 1000)
            per_row[name] = (seconds - base) / rows * 1e6
            report(name, seconds * 1000, "ms", "baseline", seconds / base, goal)
            print(f"  {'':<52} {per_row[name]:.1f} us/row beyond start-up (baseline {base * 1000:.0f} ms); "
                  f"peak RSS {rss:.0f} MiB ({rss / base_rss:.2f}x baseline); client CPU {cpu * 1000:.0f} ms")
            if not method:
                continue
            floor, floor_rss, floor_cpu = results[2]
            report("  server's floor: the stream read, no table", floor * 1000, "ms", "this listing",
                   floor / seconds)
            print(f"  {'':<52} peak RSS {floor_rss:.0f} MiB; client CPU {floor_cpu * 1000:.0f} ms")
            print(f"  {'this listing / the floor':<52} wall {seconds / floor:.2f}x, peak RSS {rss / floor_rss:.2f}x, "
                  f"CPU {cpu / floor_cpu:.2f}x" + ("  goal: wall < 2x, peak RSS < 1.5x" if history else ""))
            for (commit, what, _), (old_seconds, old_rss, old_cpu) in zip(olds, results[3:]):
                report(f"  the client at {commit} ({what})", old_seconds * 1000, "ms", "this listing",
                       old_seconds / seconds)
                print(f"  {'':<52} peak RSS {old_rss:.0f} MiB ({old_rss / rss:.2f}x this listing's); "
                      f"client CPU {old_cpu * 1000:.0f} ms ({old_cpu / cpu:.2f}x)")
                print(f"  {'':<52} / the floor: wall {old_seconds / floor:.2f}x, peak RSS {old_rss / floor_rss:.2f}x")
    ratio = per_row["show job (100,000 jobs)"] / per_row["show job (10,000 jobs)"]
    print(f"  linearity: cost per row at 100,000 jobs / at 10,000 jobs = {ratio:.2f} (1.00 is linear)")
    server.stop(0)


if __name__ == "__main__":
    main()
