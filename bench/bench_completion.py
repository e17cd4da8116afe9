"""Per-keystroke completion time with 10,000 tokens on the server.

Starts an in-process SDAManager simulator holding TOKENS tokens (and SDAs,
user groups, jobs), lets the shell's completion cache fetch them the way the
REPL's background thread does, then types command lines one character at a
time.  For each keystroke it times what the shell does on the keystroke: the
completer (`ShellCompleter.get_completions`, consumed as prompt_toolkit does)
and the toolbar's usage hint.  Prints the median, p95 and worst time per
keystroke; exits 1 if p95 is over the budget.

    .venv/bin/python bench/bench_completion.py [--tokens 10000] [--rounds 5]

Not a timed test: run it by hand or with `make bench`.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time

from prompt_toolkit.completion import CompleteEvent
from prompt_toolkit.document import Document

from sdamanager_stub.manager import new_manager
from sdamanager_stub.server import create_server
from smclient.completion import ShellCompleter, usage_hint
from smclient.live_names import FEEDS, LiveNames
from smclient.transport import Address, Connection

BUDGET_MS = 50.0


def build_cluster(tokens: int):  # type: ignore[no-untyped-def]
    manager = new_manager(backends=60, devices=8)
    values = []
    for i in range(tokens):
        values.append(manager.create_token(f"customer{i:05d}@example.com_vm-{i % 97}", i % 7).value)
    for value in values[:2000]:
        manager.create_sda(value, "bench", 1 + (len(value) % 12))
    group = manager.create_usergroup("bench_group", "for the benchmark", values[:500])
    return manager, values, group


def lines_to_type(values: list[str]) -> list[str]:
    token, other = values[1234], values[4321]
    return [
        "show sdamodel",
        f"get token {token}",
        f"update token priority {other} 5",
        "update token priority customer0424",  # found by description
        f"delete sda {values[17]} ",
        "release ",
        f"update usergroup list 1 {token},{other},",
        "update backend status 12 ACTIVE",
        "create sdamodelgroup big 0 1,2,52",
        "help create sda",
    ]


def percentile(samples: list[float], fraction: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(round(fraction * (len(ordered) - 1))))]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tokens", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=5, help="times each line is typed")
    options = parser.parse_args()

    started = time.perf_counter()
    manager, values, _ = build_cluster(options.tokens)
    server, port = create_server("127.0.0.1:0", manager)
    server.start()
    print(f"simulator: {options.tokens} tokens, {len(manager.sdas)} SDAs, 60 backends "
          f"(set up in {time.perf_counter() - started:.1f} s)")
    live = LiveNames(Connection(Address("127.0.0.1", port), timeout=30), start=False)
    try:
        for feed in FEEDS:  # what the background thread does; never on a keystroke
            t0 = time.perf_counter()
            assert live.fetch_now(feed), feed
            if feed in ("tokens", "sdas"):
                print(f"background fetch of {feed}: {(time.perf_counter() - t0) * 1000:.0f} ms")
        completer = ShellCompleter(live)
        event = CompleteEvent(text_inserted=True)
        samples: list[float] = []
        worst = (0.0, "")
        shown = 0
        for _ in range(options.rounds):
            for line in lines_to_type(values):
                for end in range(len(line) + 1):
                    text = line[:end]
                    t0 = time.perf_counter()
                    completions = list(completer.get_completions(Document(text), event))
                    usage_hint(text, live)
                    elapsed = (time.perf_counter() - t0) * 1000
                    samples.append(elapsed)
                    shown = max(shown, len(completions))
                    if elapsed > worst[0]:
                        worst = (elapsed, text)
    finally:
        live.close()
        server.stop(0)

    median, p95 = statistics.median(samples), percentile(samples, 0.95)
    print(f"keystrokes: {len(samples)} ({options.rounds} rounds of {len(lines_to_type(values))} lines); "
          f"largest menu: {shown} candidates")
    print(f"per-keystroke completion time: median {median:.2f} ms, p95 {p95:.2f} ms, "
          f"max {worst[0]:.2f} ms (at {worst[1]!r}); budget {BUDGET_MS:g} ms")
    return 0 if p95 < BUDGET_MS else 1


if __name__ == "__main__":
    sys.exit(main())
