"""moreh-smi beyond the golden transcripts: the installed console script (a pipe that
closes, an SDAManager that is not there), the admin secret never sent, and what the
customer does seen by the operator, checked field by field.  Subprocess runs are
few: the transcripts run the tools in process."""

from __future__ import annotations

import socket
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import grpc
import pytest

from sdamanager_stub.testing import running_simulator
from smclient.api import ADMIN_SECRET_METADATA
from smclient.api import sdamanager_pb2 as pb
from smclient.cli import main as shell_main
from smclient.vm import smi

BIN = Path(sys.executable).parent
SECRET = "customer-tests-secret"


def free_port() -> int:
    with socket.socket() as sock:  # a port nothing listens on
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def vm_env(port: int, token: str | None = None) -> dict[str, str]:
    import os

    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("SDAMANAGER_", "MOREH_SDA_"))}
    env["MOREH_SDA_MANAGER_ADDRESS"] = f"127.0.0.1:{port}"
    if token is not None:
        env["MOREH_SDA_TOKEN"] = token
    return env


@pytest.fixture
def customer(sdamanager, monkeypatch):
    """A token with one SDA of xLarge.512GB; the tools' environment points at it."""
    m = sdamanager.manager
    token = m.create_token("customer", 0).value
    m.create_sda(token, "vm", 4)
    for name in ("SDAMANAGER_IP", "SDAMANAGER_PORT", "SDAMANAGER_ADMIN_SECRET", "SDAMANAGER_ADMIN_SECRET_FILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("MOREH_SDA_MANAGER_ADDRESS", sdamanager.address)
    monkeypatch.setenv("MOREH_SDA_TOKEN", token)
    return token


def shell(sdamanager, capsys, command: str) -> str:
    assert shell_main(["--ip", "127.0.0.1", "--port", str(sdamanager.port), "--command", command]) == 0
    return capsys.readouterr().out


def rows(text: str) -> list[list[str]]:
    """The data rows of a framed table, as stripped cells."""
    lines = text.splitlines()
    body = lines[lines.index(next(line for line in lines if line.startswith("+="))) + 1:]
    return [[cell.strip() for cell in line.strip("|").split("|")] for line in body if line.startswith("|")]


def test_unreachable_is_one_line_and_exit_3():
    port = free_port()
    for tool in ("moreh-smi", "moreh-switch-model"):
        proc = subprocess.run([str(BIN / tool), "--timeout", "2"], env=vm_env(port, "T"), capture_output=True,
                              text=True, timeout=30)
        assert (proc.returncode, proc.stdout) == (3, ""), (tool, proc)
        assert proc.stderr == f"Cannot connect to SDAManager at 127.0.0.1:{port}.\n", tool


def test_a_reader_that_goes_away_is_no_traceback(sdamanager, customer):
    proc = subprocess.Popen([str(BIN / "moreh-smi"), "device", "--list"], env=vm_env(sdamanager.port, customer),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    proc.stdout.close()  # before the tool has written anything: its first write fails
    _, err = proc.communicate(timeout=30)
    assert (proc.returncode, err) == (0, b"")


def test_the_job_the_customer_sees_is_the_one_the_operator_sees(sdamanager, customer, capsys):
    m = sdamanager.manager
    m.create_version("24.5.0", "/opt/moreh")
    m.set_latest_version("24.5.0")
    job = m.request_devices(customer, 31337, "python tutorial/train_gpt.py", "", "24.5.0")
    assert smi.main([]) == 0
    out = capsys.readouterr().out
    assert "|                                                    Current Version: 24.5.0  Latest Version: 24.5.0  |" \
        in out
    assert "|  * 0     |      Moreh SDA      |  xLarge.512GB    |    397 MiB     |  524160 MiB    |      0 %      |" \
        in out
    processes = rows(out[out.index("Processes:"):])
    feids = [int(row[0]) for row in rows(shell(sdamanager, capsys, "show job"))]
    assert processes == [["0", str(job.feid), "31337", "python tutorial/train_gpt.py", "397 MiB"]]
    assert feids == [job.feid]

    assert smi.main(["-r"]) == 0
    assert capsys.readouterr() == ("Device release success.\n", "")
    assert rows(shell(sdamanager, capsys, "show job")) == []
    history = rows(shell(sdamanager, capsys, "show history"))
    assert [(int(row[0]), row[3]) for row in history] == [(job.feid, "RELEASED")]


def test_added_and_switched_devices_are_the_operators_sdas_and_cur_sda(sdamanager, customer, capsys):
    m = sdamanager.manager
    assert smi.main(["device", "--add", "1"]) == 1
    assert capsys.readouterr().err == \
        "Create device failed. (The token already has 1 SDA (Max SDA 1): raise Max SDA or delete an SDA first.)\n"
    shell(sdamanager, capsys, f"update token sda max {customer} 2")
    assert smi.main(["device", "--add", "1"]) == 0
    assert capsys.readouterr().out.endswith("Create device success.\n")
    sdas = rows(shell(sdamanager, capsys, f"get sda {customer}"))
    assert [(row[0], row[2]) for row in sdas] == [("1", "4"), ("2", "1")]
    token_row = rows(shell(sdamanager, capsys, f"get token {customer}"))[0]
    assert token_row[2:4] == ["2", "2"]  # Cur SDA: the new one; Max SDA 2
    assert smi.main(["device", "--switch", "0"]) == 0
    capsys.readouterr()
    assert m.token(customer).current_sda == 1
    assert rows(shell(sdamanager, capsys, f"get token {customer}"))[0][2] == "1"


def test_a_secret_in_the_environment_is_never_sent(monkeypatch, capsys):
    """SDAManager with an admin secret serves the VM's calls without it; and the
    calls carry no admin secret, even with SDAMANAGER_ADMIN_SECRET set."""
    with running_simulator(backends=1, admin_secret=SECRET) as sim:
        token = sim.manager.create_token("vm", 0).value
        sim.manager.create_sda(token, "", 1)
        monkeypatch.setenv("SDAMANAGER_ADMIN_SECRET", SECRET)
        monkeypatch.setenv("MOREH_SDA_MANAGER_ADDRESS", sim.address)
        monkeypatch.setenv("MOREH_SDA_TOKEN", token)
        assert smi.main(["device", "--list"]) == 0
        assert smi.main([]) == 0
    seen: list[tuple] = []

    def get_devices(request, context):
        seen.append((request.token, tuple(context.invocation_metadata())))
        return pb.DeviceReport(token=request.token)

    fake = grpc.server(ThreadPoolExecutor(2))
    fake.add_generic_rpc_handlers([grpc.method_handlers_generic_handler("sdamanager.v1.SDAManager", {
        "GetDevices": grpc.unary_unary_rpc_method_handler(
            get_devices, request_deserializer=pb.GetDevicesRequest.FromString,
            response_serializer=pb.DeviceReport.SerializeToString)})])
    fake_port = fake.add_insecure_port("127.0.0.1:0")
    fake.start()
    try:
        monkeypatch.setenv("MOREH_SDA_MANAGER_ADDRESS", f"127.0.0.1:{fake_port}")
        assert smi.main(["-t"]) == 0
    finally:
        fake.stop(0)
    capsys.readouterr()
    assert len(seen) == 1 and seen[0][0] == token
    assert ADMIN_SECRET_METADATA not in {key for key, _ in seen[0][1]}
    assert SECRET not in {value for _, value in seen[0][1]}


def test_idx_picks_one_device_and_p_reads_its_job(sdamanager, customer, capsys):
    m = sdamanager.manager
    m.update_token_max_sda(customer, 2)
    m.create_sda(customer, "", 2)  # device 1: Medium.128GB, not the current one
    job = m.request_devices(customer, 5, "python b.py", "", "", sda_id=2)
    assert smi.main(["-i", "1"]) == 0
    out = capsys.readouterr().out
    assert "|    1     |      Moreh SDA      |  Medium.128GB    |    397 MiB     |  131040 MiB    |      0 %      |" \
        in out
    assert "xLarge" not in out
    assert smi.main(["-p"]) == 0
    assert capsys.readouterr().out == "No running job on device 0.\n"
    assert smi.main(["-p", "-i", "1"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0] == f"Device 1 (Medium.128GB), Job ID {job.feid}:"
    assert [row[1] for row in rows("\n".join(out[1:]))] == ["back01:0", "back01:1"]
    assert smi.main(["-r", "-i", "1"]) == 0
    assert capsys.readouterr().out == "Device release success.\n"
    assert m.list_jobs() == []


def test_a_duplicable_device_running_two_jobs_adds_up_their_figures(sdamanager, customer, capsys):
    m = sdamanager.manager
    m.update_token_duplicable(customer, 2)
    first = m.request_devices(customer, 1, "python a.py", "", "")
    second = m.request_devices(customer, 2, "python b.py", "", "")
    assert smi.main([]) == 0
    out = capsys.readouterr().out
    assert "|  * 0     |      Moreh SDA      |  xLarge.512GB    |    794 MiB     |  1048320 MiB   |      0 %      |" \
        in out
    assert [row[:3] for row in rows(out[out.index("Processes:"):])] == \
        [["0", str(first.feid), "1"], ["0", str(second.feid), "2"]]
    assert smi.main(["-p"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert [line for line in out if line.startswith("Device ")] == \
        [f"Device 0 (xLarge.512GB), Job ID {first.feid}:", f"Device 0 (xLarge.512GB), Job ID {second.feid}:"]
    assert smi.main(["-r"]) == 0
    assert capsys.readouterr().out == "Device release success.\n"
    assert m.list_jobs() == []
