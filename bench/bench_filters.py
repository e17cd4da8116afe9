"""A listing's filter on a big log (issue 22): `show eventlog where action=CREATE_TOKEN
limit 5` against 100,000 events, where SDAManager filters and counts, beside the
same filter that SDAManager cannot answer (every event streamed, filtered by the
shell) and the whole log printed; and `show job where ...` on 10,000 jobs beside
`show job`.  Each is the console script, output to /dev/null, median of the runs
interleaved; baseline `--command 'show sdamodel'` (start-up and one small call).
"""

from __future__ import annotations

import argparse
import json
import time

from common import SMCLIENT, add_jobs, median, report, run_measured, serve

from sdamanager_stub.entities import Event
from sdamanager_stub.manager import new_manager


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=5)
    runs = parser.parse_args().runs
    print(f"filters on big listings, median of {runs} runs (wall; the client's own peak RSS)")
    manager = new_manager(backends=1000, devices=8)
    token = manager.create_token("bench-filters", 0).value
    manager.create_sda(token, "bench", 1)
    now = time.time()
    manager.archive.extend((), [Event(manager.state.new_id("event"), now, token, "RELEASE" if n % 2 else "CREATE_TOKEN",
                                      json.dumps({"token": token}), "SUCCESS") for n in range(100_000)])
    add_jobs(manager, 10_000, token)
    server, port = serve(manager)
    cases = [
        ("baseline: show sdamodel", "show sdamodel", ""),
        ("show eventlog where action=CREATE_TOKEN limit 5", "show eventlog where action=CREATE_TOKEN limit 5",
         "< 0.5 s"),
        ("  ... where SDAManager cannot filter (id>0 too)", "show eventlog where action=CREATE_TOKEN and id>0 limit 5",
         ""),
        ("  ... the whole log (100,000 events)", "show eventlog", ""),
        ("show job where pid<1010 (10,000 jobs)", "show job where pid<1010", ""),
        ("  ... show job (10,000 jobs)", "show job", ""),
    ]
    samples: list[list[tuple[float, float, float]]] = [[] for _ in cases]
    for _ in range(runs):
        for k, (_, command, _) in enumerate(cases):
            samples[k].append(run_measured([SMCLIENT, "--port", str(port), "--timeout", "60", "--command", command]))
    base = median([s for s, _, _ in samples[0]])
    for (name, _, goal), runs_ in zip(cases, samples):
        seconds = median([s for s, _, _ in runs_])
        report(name, seconds * 1000, "ms", "baseline", seconds / base, goal)
        print(f"  {'':<52} peak RSS {max(r for _, r, _ in runs_):.0f} MiB")
    server.stop(0)


if __name__ == "__main__":
    main()
