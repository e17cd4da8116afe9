"""One-shot start-up: `moreh_smclient --command ...` and the customer's tools against a
running simulator, against the floor `python -c "import grpc"`, runs interleaved so noise
hits all alike."""

from __future__ import annotations

import argparse
import compileall
import sys
from pathlib import Path

from common import SMCLIENT, median, report, run_child, serve

from sdamanager_stub.manager import new_manager

ROOT = Path(__file__).resolve().parent.parent


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=15)
    runs = parser.parse_args().runs
    # As an installed package would be: byte-compiled (pip compiles at install time;
    # this machine sets PYTHONDONTWRITEBYTECODE, so nothing would be cached otherwise).
    for package in ("smclient", "sdamanager_stub"):
        compileall.compile_dir(str(ROOT / package), quiet=1)
    manager = new_manager()
    token = manager.create_token("bench-startup", 0).value
    manager.create_sda(token, "vm", 4)
    tools = Path(SMCLIENT).parent
    server, port = serve(manager)
    cases = {
        "floor: python -c 'import grpc'": [sys.executable, "-c", "import grpc"],
        "python -c pass": [sys.executable, "-c", "pass"],
        "--command 'show sdamodel' (a table)": [SMCLIENT, "--port", str(port), "--command", "show sdamodel"],
        "--command 'update token priority T 1' (a message)":
            [SMCLIENT, "--port", str(port), "--command", f"update token priority {token} 1"],
        "--command 'help' (no server call)": [SMCLIENT, "--port", str(port), "--command", "help"],
        "-o json --command 'show sdamodel'":
            [SMCLIENT, "--port", str(port), "-o", "json", "--command", "show sdamodel"],
        "-o github --command 'show sdamodel' (tabulate)":
            [SMCLIENT, "--port", str(port), "-o", "github", "--command", "show sdamodel"],
        # The customer's tools (smclient/vm), as a VM runs them.
        "moreh-smi (the device table)": [str(tools / "moreh-smi"), "--port", str(port), f"--token={token}"],
        "moreh-switch-model -M 4 (one switch)":
            [str(tools / "moreh-switch-model"), "--port", str(port), "--token", token, "-M", "4"],
    }
    samples: dict[str, list[float]] = {name: [] for name in cases}
    for _ in range(runs):
        for name, argv in cases.items():
            samples[name].append(run_child(argv)[0])
    server.stop(0)
    floor = median(samples["floor: python -c 'import grpc'"])
    print(f"one-shot start-up, median of {runs} runs each (interleaved)")
    goals = {"--command 'show sdamodel' (a table)": "<= 1.5x floor",
             "--command 'update token priority T 1' (a message)": "<= 1.3x floor"}
    for name, values in samples.items():
        ms = median(values) * 1000
        report(name, ms, "ms", "the floor", median(values) / floor, goals.get(name, ""))


if __name__ == "__main__":
    main()
