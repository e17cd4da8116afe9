"""The server's memory at the caps, against the container's limit in
deploy/kubernetes/deployment.yaml: `sdamanager-stub serve --state` on a file
holding 20,000 live jobs, 200,000 history jobs and 100,000 events (the history
and event-log caps), its resident set once started, after every big listing was
asked for (servicer.Wire keeps their messages serialized), and its peak through
5,000 changes that write a snapshot.  Baseline: the same server on a state file
with the same cluster and nothing else; and one with the 20,000 live jobs and
nothing else, for the memory a live job costs."""

from __future__ import annotations

import re
import subprocess
import tempfile
import time
from pathlib import Path

import grpc
import yaml
from bench_durable import STUB, fill
from common import SMCLIENT, report, save_scene

from sdamanager_stub.manager import new_manager
from sdamanager_stub.store import SNAPSHOT_EVERY
from smclient.api import sdamanager_pb2 as pb
from smclient.api import sdamanager_pb2_grpc as pb_grpc

ROOT = Path(__file__).resolve().parent.parent
UNITS = {"Ki": 1 / 1024, "Mi": 1, "Gi": 1024}


def limit_mib() -> float:
    """The Deployment's memory limit, in MiB."""
    deployment = yaml.safe_load((ROOT / "deploy" / "kubernetes" / "deployment.yaml").read_text())
    text = deployment["spec"]["template"]["spec"]["containers"][0]["resources"]["limits"]["memory"]
    number, unit = re.fullmatch(r"(\d+)(Ki|Mi|Gi)", text).groups()
    return int(number) * UNITS[unit]


def memory(pid: int) -> tuple[float, float]:
    """(resident now, peak resident) of a process, in MiB."""
    fields = dict(line.split(":", 1) for line in Path(f"/proc/{pid}/status").read_text().splitlines())
    return int(fields["VmRSS"].split()[0]) / 1024, int(fields["VmHWM"].split()[0]) / 1024


def measure(state: Path) -> dict[str, float]:
    proc = subprocess.Popen([STUB, "serve", "--state", str(state), "--port", "0"], stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL, text=True)
    try:
        line = proc.stdout.readline()
        port = int(line.rsplit(":", 1)[1])
        figures = {"started": memory(proc.pid)[0]}
        for command in ("show job", "show history", "show eventlog", "show token", "show backend"):
            subprocess.run([SMCLIENT, "--port", str(port), "--timeout", "60", "--command", command],
                           stdout=subprocess.DEVNULL, check=True)
        figures["after every listing"] = memory(proc.pid)[0]
        with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
            stub = pb_grpc.SDAManagerStub(channel)
            token = stub.CreateToken(pb.CreateTokenRequest(description="bench-memory")).value
            for i in range(SNAPSHOT_EVERY + 10):  # one snapshot is due within these
                stub.UpdateTokenPriority(pb.UpdateTokenPriorityRequest(token=token, priority=i % 9))
        time.sleep(3)  # the snapshot is written in the background
        figures["peak (with a snapshot)"] = memory(proc.pid)[1]
        return figures
    finally:
        proc.terminate()
        proc.wait(timeout=60)


def main() -> None:
    with tempfile.TemporaryDirectory() as where:
        states = {}
        for name, (jobs, history, events) in {"empty": (0, 0, 0), "live": (20_000, 0, 0),
                                              "caps": (20_000, 200_000, 100_000)}.items():
            manager = new_manager(backends=100, devices=8)
            if jobs:
                fill(manager, jobs, history, events)
            states[name] = Path(where) / f"{name}.db"
            save_scene(manager, states[name]).close()
        base = measure(states["empty"])
        live = measure(states["live"])
        caps = measure(states["caps"])
    limit = limit_mib()
    print(f"sdamanager-stub serve's resident memory, 100 backends x 8 devices; at the caps: 20,000 live jobs, "
          f"200,000 history jobs, 100,000 events; the Deployment's limit {limit:g} MiB")
    for stage, mib in base.items():
        report(f"nothing but the cluster: {stage}", mib, "MiB")
    for stage, mib in caps.items():
        report(f"at the caps: {stage}", mib, "MiB", "the limit", mib / limit)
    per_job = (live["started"] - base["started"]) * 1024 / 20_000
    report("per live job, once started (20,000 live jobs only)", per_job, "KiB", goal="< 3 KiB")


if __name__ == "__main__":
    main()
