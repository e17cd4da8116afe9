"""Kill -9 the simulator at random moments while changes stream in; after each
restart every acknowledged change is there and the state's invariants hold."""

from __future__ import annotations

import os
import random
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import grpc
import pytest
from helpers import strength

from smclient.api import sdamanager_pb2 as pb
from smclient.api import sdamanager_pb2_grpc as pb_grpc

STUB = Path(sys.executable).with_name("sdamanager-stub")
# kill -9s in a run: 50 at full strength (make test-all), 10 in make test; CRASH_KILLS=N for another count.
KILLS = int(os.environ.get("CRASH_KILLS", strength(10, 50)))


def start(state: Path) -> tuple[subprocess.Popen, int]:
    proc = subprocess.Popen([str(STUB), "serve", "--state", str(state), "--port", "0", "--backends", "4",
                             "--devices", "8", "--prepare-seconds", "0", "--clean-seconds", "0"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    line = proc.stdout.readline()
    found = re.fullmatch(r"SDAManager simulator listening on 127\.0\.0\.1:(\d+)\n", line)
    assert found, (line, proc.stderr.read() if proc.poll() is not None else "")
    return proc, int(found.group(1))


class Acknowledged:
    """What the server said yes to, and so must still hold after any crash."""

    def __init__(self) -> None:
        self.tokens: set[str] = set()
        self.sda_of: dict[str, int] = {}  # token -> its SDA
        self.live: dict[int, str] = {}  # FeID -> token, requested and not finished
        self.finished: dict[int, int] = {}  # FeID -> the final status the server answered
        self.groups: dict[str, set[str]] = {}  # user group name -> tokens added
        self.pending: tuple[str, object] | None = None  # the change sent and not yet answered

    def step(self, stub: pb_grpc.SDAManagerStub, rng: random.Random) -> None:
        choice = rng.random()
        if choice < 0.25 or not self.tokens:
            self.pending = ("token", None)
            token = stub.CreateToken(pb.CreateTokenRequest(description=f"crash{rng.randrange(10**6)}"),
                                     timeout=5).value
            self.tokens.add(token)
        elif choice < 0.45 and (free := sorted(self.tokens - set(self.sda_of))):
            token = rng.choice(free)
            self.pending = ("sda", token)
            self.sda_of[token] = stub.CreateSda(pb.CreateSdaRequest(token=token, model_id=rng.choice([1, 2, 3]),
                                                                    description="x"), timeout=5).id
        elif choice < 0.7 and (idle := sorted(set(self.sda_of) - set(self.live.values()))):
            token = rng.choice(idle)
            self.pending = ("request", token)
            self.live[stub.RequestDevices(pb.RequestDevicesRequest(token=token, client_pid=1, process_name="p"),
                                          timeout=5).feid] = token
        elif choice < 0.85 and self.live:
            feid = rng.choice(sorted(self.live))
            self.pending = ("finish", feid)
            ended = stub.FinishJob(pb.FinishJobRequest(feid=feid, token=self.live[feid]), timeout=5)
            del self.live[feid]
            self.finished[feid] = ended.status
        else:
            name = f"ug{len(self.groups)}"
            members = set(rng.sample(sorted(self.tokens), min(2, len(self.tokens))))
            self.pending = ("group", (name, members))
            stub.CreateUserGroup(pb.CreateUserGroupRequest(name=name, tokens=sorted(members)), timeout=5)
            self.groups[name] = members
        self.pending = None

    def settle(self, stub: pb_grpc.SDAManagerStub) -> None:
        """The change in flight when the server died may or may not have been saved: look."""
        if self.pending is None:
            return
        kind, arg = self.pending
        self.pending = None
        if kind == "sda":
            mine = [s.id for page in stub.ListSdas(pb.ListSdasRequest(token=arg), timeout=5) for s in page.sdas]
            if mine:
                self.sda_of[arg] = mine[0]
        elif kind == "request":
            for page in stub.ListJobs(pb.ListJobsRequest(token=arg), timeout=5):
                for job in page.jobs:
                    self.live[job.feid] = arg
        elif kind == "finish":
            try:
                ended = stub.GetHistory(pb.GetHistoryRequest(feid=arg), timeout=5)
            except grpc.RpcError:
                return  # not saved: still live
            del self.live[arg]
            self.finished[arg] = ended.status
        elif kind == "group":
            name, members = arg
            names = {g.name for g in stub.ListUserGroups(pb.ListUserGroupsRequest(), timeout=5).groups}
            if name in names:
                self.groups[name] = members
        # a token made in flight is unknown to us, and harmless

    def check(self, stub: pb_grpc.SDAManagerStub) -> int:
        """Every acknowledged change is there; the invariants hold.  Returns the checks made."""
        checks = 0
        tokens = {t.value for page in stub.ListTokens(pb.ListTokensRequest(), timeout=10) for t in page.tokens}
        assert self.tokens <= tokens
        sdas = {s.id: s for page in stub.ListSdas(pb.ListSdasRequest(), timeout=10) for s in page.sdas}
        for token, sda_id in self.sda_of.items():
            assert sdas[sda_id].token == token
        assert all(s.token in tokens for s in sdas.values())  # no SDA without its token
        jobs = {j.feid: j for page in stub.ListJobs(pb.ListJobsRequest(), timeout=10) for j in page.jobs}
        for feid, token in self.live.items():
            assert jobs[feid].token == token
        for feid, status in self.finished.items():
            assert feid not in jobs
            assert stub.GetHistory(pb.GetHistoryRequest(feid=feid), timeout=5).status == status
        groups = {g.name: set(g.tokens) for g in stub.ListUserGroups(pb.ListUserGroupsRequest(), timeout=5).groups}
        for name, members in self.groups.items():
            assert groups[name] == members
        # No device held by two jobs; every placement points back at its device.
        holders: dict[tuple[int, int], int] = {}
        for page in stub.ListBackends(pb.ListBackendsRequest(), timeout=10):
            for b in page.backends:
                for d in b.devices:
                    if d.job_id:
                        holders[(b.id, d.index)] = d.job_id
        placed = {}
        for job in jobs.values():
            for p in job.placement:
                for index in p.device_indexes:
                    assert (p.backend_id, index) not in placed
                    placed[(p.backend_id, index)] = job.feid
            held = sum(len(p.device_indexes) for p in job.placement)
            assert held in (0, job.device_count)
        assert placed == holders
        checks += len(self.tokens) + len(self.sda_of) + len(self.live) + len(self.finished) + len(self.groups)
        return checks + len(holders)


@pytest.mark.slow
@pytest.mark.skipif(not STUB.exists(), reason="the console script is not installed")
def test_kill_9_never_loses_an_acknowledged_change(tmp_path):
    rng = random.Random(20261128)
    state = tmp_path / "state.db"
    acked = Acknowledged()
    kills = checks = changes = 0
    started = time.monotonic()
    while kills < KILLS:
        proc, port = start(state)
        with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
            stub = pb_grpc.SDAManagerStub(channel)
            acked.settle(stub)
            checks += acked.check(stub)
            killer = threading.Timer(rng.uniform(0.05, 0.4), lambda p=proc: p.send_signal(signal.SIGKILL))
            killer.start()
            try:
                while True:
                    acked.step(stub, rng)  # recorded only once the server said yes
                    changes += 1
            except grpc.RpcError as err:
                # The server died mid-call: that change was not acknowledged.  Any other
                # answer would be a refusal the model did not expect: a bug.
                assert err.code() == grpc.StatusCode.UNAVAILABLE, (err.code(), err.details())
            killer.join()
        proc.wait(timeout=10)
        proc.stdout.close()
        proc.stderr.close()
        assert proc.returncode == -signal.SIGKILL
        kills += 1
    proc, port = start(state)
    try:
        with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
            acked.settle(pb_grpc.SDAManagerStub(channel))
            checks += acked.check(pb_grpc.SDAManagerStub(channel))
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        proc.stdout.close()
        proc.stderr.close()
    print(f"\ncrash test: {kills} kills survived, {changes} acknowledged changes, {checks} checks, "
          f"{time.monotonic() - started:.1f} s")
    assert acked.tokens and acked.finished and acked.groups  # the stream did exercise every kind
