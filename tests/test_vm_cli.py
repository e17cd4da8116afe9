"""`sdamanager-stub job ...` (a VM from the command line) and `serve --demo`."""

from __future__ import annotations

import re
import signal
import subprocess
import sys
from pathlib import Path

from sdamanager_stub.cli import main as stub_main
from smclient.cli import main

STUB = Path(sys.executable).with_name("sdamanager-stub")


def test_submit_prints_each_feid_and_finish_ends_the_job(sdamanager, capsys):
    m = sdamanager.manager
    token = m.create_token("vm-user", 0).value
    m.create_sda(token, "", 1)
    m.update_token_duplicable(token, 0)
    status = stub_main(["job", "submit", "--port", str(sdamanager.port), "--token", token,
                        "--process", "python train.py --epochs 3", "--pid", "77", "--count", "3"])
    out, err = capsys.readouterr()
    assert (status, out, err) == (0, "1\n2\n3\n", "")
    assert [(j.feid, j.client_pid, j.process_name) for j in m.list_jobs()] == \
        [(f, 77, "python train.py --epochs 3") for f in (1, 2, 3)]
    assert stub_main(["job", "finish", "--port", str(sdamanager.port), "--token", token, "2"]) == 0
    assert [j.feid for j in m.list_jobs()] == [1, 3]
    assert m.history_job(2).status.value == "COMPLETED"


def test_submit_refused_is_one_line_with_the_reason(sdamanager, capsys):
    status = stub_main(["job", "submit", "--port", str(sdamanager.port), "--token", "nope", "--process", "x"])
    out, err = capsys.readouterr()
    assert (status, out) == (1, "")
    assert err == "sdamanager-stub: Token 'nope' does not exist.\n"


def test_serve_demo_runs_a_workload_the_shell_can_see(capsys):
    proc = subprocess.Popen([str(STUB), "serve", "--memory", "--port", "0", "--demo", "--prepare-seconds", "0"],
                            stdout=subprocess.PIPE, text=True)
    try:
        line = proc.stdout.readline()
        port = int(re.fullmatch(r"SDAManager simulator listening on 127\.0\.0\.1:(\d+)\n", line).group(1))
        assert main(["--port", str(port), "--command", "show job RUNNING"]) == 0
        out = capsys.readouterr().out.splitlines()
        running = [row for row in out if row.startswith("|") and "RUNNING" in row]
        assert len(running) >= 5
        assert main(["--port", str(port), "--command", "show relationship"]) == 0
        relationships = capsys.readouterr().out
        assert "|  ug2(2)          |  mg1(1)              |  default_backend_group(0)  |" in relationships
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=10) == 0


def test_submit_to_no_server_is_one_line_and_exit_3(capsys):
    import socket

    with socket.socket() as sock:  # a port nothing listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    status = stub_main(["job", "submit", "--port", str(port), "--token", "T", "--process", "x", "--timeout", "1"])
    out, err = capsys.readouterr()
    assert (status, out) == (3, "")
    assert err.startswith(f"sdamanager-stub: SDAManager at 127.0.0.1:{port} did not answer (")
    assert err.count("\n") == 1


def test_the_demo_workload_stops_quietly_once_the_state_file_failed(tmp_path, caplog):
    """The journal failed (a full disk, the file removed): no change is accepted until a
    restart, so the demo's VMs stop, with no traceback (was: the task ended with an
    unhandled Internal, logged by asyncio)."""
    import asyncio

    from sdamanager_stub.demo import Workload, seed_demo
    from sdamanager_stub.manager import new_manager
    from sdamanager_stub.store import Store

    m = new_manager(backends=4, devices=8)
    tokens = seed_demo(m, customers=4)
    store = Store(tmp_path / "state.db")
    store.attach(m)
    workload = Workload(m, tokens, busy=1.0, mean_seconds=0.001)

    async def run() -> None:
        await workload.run(interval=0.01)

    async def scenario() -> None:
        task = asyncio.ensure_future(run())
        await asyncio.sleep(0.2)  # the VMs submit and finish jobs
        (tmp_path / "state.db").unlink()
        await asyncio.wait_for(task, 10)  # it ends by itself

    asyncio.run(scenario())
    assert "the state file failed" in caplog.text and "Traceback" not in caplog.text
    store.close()
