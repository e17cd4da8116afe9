"""Refused requests cost a bounded amount: a flood of big refused requests
(no credentials needed: a bad token on the VM side) must not grow the state
file or the server's memory with what it refused (README, "The simulator")."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import grpc

from smclient.api import sdamanager_pb2 as pb
from smclient.api import sdamanager_pb2_grpc as pb_grpc

STUB = Path(sys.executable).with_name("sdamanager-stub")
MB = 1024 * 1024


def rss_bytes(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmRSS")


def state_bytes(state: Path) -> int:
    return sum(p.stat().st_size for p in state.parent.glob(state.name + "*"))


def test_the_state_file_cuts_its_wal_back(tmp_path):
    from sdamanager_stub.store import WAL_LIMIT, Store

    store = Store(tmp_path / "state.db")
    try:
        assert store.db.execute("PRAGMA journal_size_limit").fetchone()[0] == WAL_LIMIT
    finally:
        store.close()


def test_a_hundred_refused_one_megabyte_requests_leave_state_and_memory_bounded(tmp_path):
    state = tmp_path / "state.db"
    proc = subprocess.Popen([str(STUB), "serve", "--state", str(state), "--port", "0", "--backends", "1",
                             "--devices", "2"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        line = proc.stdout.readline()
        port = int(re.fullmatch(r"SDAManager simulator listening on 127\.0\.0\.1:(\d+)\n", line).group(1))
        before = state_bytes(state)
        big = "x" * MB
        with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
            stub = pb_grpc.SDAManagerStub(channel)
            for i in range(100):
                try:
                    stub.RequestDevices(pb.RequestDevicesRequest(token=f"stolen-{i}", process_name=big), timeout=10)
                except grpc.RpcError as err:
                    assert err.code() is grpc.StatusCode.NOT_FOUND
                else:
                    raise AssertionError("a request with a made-up token was accepted")
            try:  # a reason that quotes what was sent (the token) is bounded too
                stub.GetToken(pb.GetTokenRequest(token=big), timeout=10)
            except grpc.RpcError as err:
                assert err.code() is grpc.StatusCode.NOT_FOUND
                assert len(err.details()) < 2048 and err.details().endswith("bytes)")
            else:
                raise AssertionError("a made-up token was found")
            # The refusals are in the event log, each with its size and a bounded excerpt.
            events = [e for page in stub.ListEvents(pb.ListEventsRequest(action="REQUEST_DEVICES"), timeout=10)
                      for e in page.events]
            rss = rss_bytes(proc.pid)
        grown = state_bytes(state) - before
        assert len(events) == 100
        assert all(len(e.request) < 2048 and e.request.endswith("bytes)") for e in events), events[0].request[:300]
        assert grown < 5 * MB, f"the state grew {grown / MB:.1f} MB"
        assert rss < 100 * MB, f"the server holds {rss / MB:.0f} MB"
    finally:
        proc.terminate()
        proc.wait(timeout=10)
