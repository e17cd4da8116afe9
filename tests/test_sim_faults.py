"""Faults on demand and the calls kept for assertions (issue 26), as another
project's tests would use them: `sim.faults.add(...)`, `sim.calls`, and
`sdamanager-stub serve --faults FILE` for tools in other languages."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import grpc
import pytest

from sdamanager_stub.observe import load_faults
from sdamanager_stub.testing import running_simulator
from smclient.api import sdamanager_pb2 as pb

BIN = Path(sys.executable).parent


@pytest.fixture
def sim():
    with running_simulator(backends=2, devices=8) as running:
        yield running


def get_token_with_retries(stub, token: str, attempts: int = 3) -> str:
    """A client's retry logic, the thing such a test is for."""
    for attempt in range(attempts):
        try:
            return stub.GetToken(pb.GetTokenRequest(token=token), timeout=5).value
        except grpc.RpcError as err:
            if err.code() is not grpc.StatusCode.UNAVAILABLE or attempt == attempts - 1:
                raise
    raise AssertionError("unreachable")


def test_a_retry_passes_after_two_injected_unavailable(sim):
    token = sim.manager.create_token("retried", 0).value
    sim.faults.add("GetToken", "UNAVAILABLE", times=2)
    assert get_token_with_retries(sim.admin.stub, token) == token
    assert [c.code for c in sim.calls.of("GetToken")] == ["UNAVAILABLE", "UNAVAILABLE", "OK"]
    assert all(c.request.token == token for c in sim.calls.of("GetToken"))
    with pytest.raises(grpc.RpcError) as again:  # two were all it had
        sim.faults.add("GetToken", "UNAVAILABLE", times=3)
        get_token_with_retries(sim.admin.stub, token)
    assert again.value.code() is grpc.StatusCode.UNAVAILABLE
    assert again.value.details() == "Injected fault: UNAVAILABLE."


def test_a_delay_trips_the_clients_deadline(sim):
    sim.faults.add("ListSdaModels", delay=2.0, times=1)
    with pytest.raises(grpc.RpcError) as slow:
        sim.admin.stub.ListSdaModels(pb.ListSdaModelsRequest(), timeout=0.3)
    assert slow.value.code() is grpc.StatusCode.DEADLINE_EXCEEDED
    assert len(sim.admin.stub.ListSdaModels(pb.ListSdaModelsRequest(), timeout=5).models) == 13  # once only


def test_after_and_the_callers_token_choose_which_calls(sim):
    m = sim.manager
    tokens = []
    for name in ("a", "b"):
        token = m.create_token(name, 0).value
        m.create_sda(token, "s", 1)
        m.update_token_duplicable(token, 0)
        tokens.append(token)
    sim.faults.add("RequestDevices", "FAILED_PRECONDITION", token=tokens[0], after=1, message="no quota")
    stub = sim.admin.stub

    def request(token: str) -> str:
        try:
            stub.RequestDevices(pb.RequestDevicesRequest(token=token, process_name="p"), timeout=5)
            return "OK"
        except grpc.RpcError as err:
            return f"{err.code().name}: {err.details()}"

    assert [request(tokens[0]), request(tokens[1]), request(tokens[0]), request(tokens[0])] == \
        ["OK", "OK", "FAILED_PRECONDITION: no quota", "FAILED_PRECONDITION: no quota"]
    sim.faults.clear()
    assert request(tokens[0]) == "OK"


def test_the_calls_a_shell_subprocess_made(sim):
    sim.manager.create_token("listed", 0)
    sim.calls.clear()
    done = subprocess.run([str(BIN / "moreh_smclient"), "--command", "show token; get token nope"],
                          env=sim.environ(), capture_output=True, text=True, timeout=60)
    assert done.returncode == 1
    made = [(c.method, c.code) for c in sim.calls if c.method in ("ListTokens", "GetToken")]
    assert made == [("ListTokens", "OK"), ("GetToken", "NOT_FOUND")]
    call = sim.calls.of("GetToken")[0]
    assert call.request == pb.GetTokenRequest(token="nope") and call.peer.startswith("ipv4:127.0.0.1:")
    assert call.time <= time.time() and call.seconds >= 0


def test_bad_rules_are_refused_with_what_is_wrong(sim, tmp_path):
    with pytest.raises(ValueError, match="unknown status code 'NOPE'"):
        sim.faults.add("GetToken", "NOPE")
    with pytest.raises(ValueError, match="needs a code to fail with, a delay, or both"):
        sim.faults.add("GetToken")
    bad = tmp_path / "faults.json"
    bad.write_text(json.dumps([{"method": "GetToken", "code": "UNAVAILABLE", "tims": 2}]))
    with pytest.raises(ValueError, match=r"faults.json: fault 1: unknown key\(s\) tims"):
        load_faults(bad)


def test_serve_with_a_faults_file_reloaded_on_sighup(tmp_path):
    faults = tmp_path / "faults.toml"
    faults.write_text('[[faults]]\nmethod = "ListSdaModels"\ncode = "PERMISSION_DENIED"\n'
                      'message = "models are off today"\n')
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SDAMANAGER_", "MOREH_SDA"))}
    server = subprocess.Popen([str(BIN / "sdamanager-stub"), "serve", "--memory", "--port", "0", "--backends", "1",
                               "--faults", str(faults)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                              env=env)
    try:
        port = server.stdout.readline().rsplit(":", 1)[1].strip()
        shell = [str(BIN / "moreh_smclient"), "--port", port, "--command", "show sdamodel"]
        refused = subprocess.run(shell, capture_output=True, text=True, timeout=60, env=env)
        assert (refused.returncode, refused.stderr) == (1, "Print list of SDAModels failed. (models are off today)\n")
        faults.write_text("faults = []\n")
        server.send_signal(signal.SIGHUP)
        assert server.stderr.readline().startswith("sdamanager-stub: injected fault into ListSdaModels")
        assert server.stderr.readline() == f"sdamanager-stub: 0 fault(s) loaded from {faults}\n"
        assert subprocess.run(shell, capture_output=True, text=True, timeout=60, env=env).returncode == 0
    finally:
        server.terminate()
        server.wait(30)
    bad = tmp_path / "bad.json"
    bad.write_text("[{")
    done = subprocess.run([str(BIN / "sdamanager-stub"), "serve", "--memory", "--port", "0", "--faults", str(bad)],
                          capture_output=True, text=True, timeout=60, env=env)
    assert done.returncode == 2 and len(done.stderr.splitlines()) == 1 and str(bad) in done.stderr
