"""The VM side authenticates with the customer's token (README, "The customer's side"): a VM may
report or finish only a job of the token it holds, and no reply to a VM call
shows another customer's token."""

from __future__ import annotations

import json
import sqlite3

import grpc
import pytest

from sdamanager_stub.cli import main as stub_main
from sdamanager_stub.manager import new_manager
from sdamanager_stub.store import Store
from smclient.api import sdamanager_pb2 as pb


def _customers(m, *names: str) -> list[str]:
    tokens = []
    for name in names:
        token = m.create_token(name, 0).value
        m.create_sda(token, "", 1)
        tokens.append(token)
    return tokens


def _refused(method, request) -> grpc.RpcError:
    with pytest.raises(grpc.RpcError) as info:
        method(request, timeout=5)
    assert info.value.code() == grpc.StatusCode.PERMISSION_DENIED
    return info.value


def test_another_customers_job_cannot_be_reported_or_finished(sdamanager, stub):
    victim, attacker = _customers(sdamanager.manager, "victim", "attacker")
    feid = stub.RequestDevices(pb.RequestDevicesRequest(token=victim, process_name="p"), timeout=5).feid
    calls = {
        "no token": (pb.ReportRunningRequest(feid=feid), pb.FinishJobRequest(feid=feid)),
        "another customer's": (pb.ReportRunningRequest(feid=feid, token=attacker),
                               pb.FinishJobRequest(feid=feid, token=attacker)),
        "made up": (pb.ReportRunningRequest(feid=feid, token="x" * 24), pb.FinishJobRequest(feid=feid, token="x" * 24)),
    }
    for report, finish in calls.values():
        for err in (_refused(stub.ReportRunning, report), _refused(stub.FinishJob, finish)):
            assert victim not in (err.details() or "")
    assert feid in sdamanager.manager.jobs  # still the victim's, still live
    finished = stub.FinishJob(pb.FinishJobRequest(feid=feid, token=victim), timeout=5)
    assert (finished.feid, finished.token, finished.status) == (feid, victim, pb.JOB_STATUS_COMPLETED)


def test_a_wrong_token_does_not_tell_which_feids_exist(sdamanager, stub):
    victim, attacker = _customers(sdamanager.manager, "victim", "attacker")
    feid = stub.RequestDevices(pb.RequestDevicesRequest(token=victim, process_name="p"), timeout=5).feid
    live = _refused(stub.FinishJob, pb.FinishJobRequest(feid=feid, token=attacker))
    absent = _refused(stub.FinishJob, pb.FinishJobRequest(feid=feid + 1, token=attacker))
    assert live.details().replace(str(feid), "N") == absent.details().replace(str(feid + 1), "N")
    for feid_ in (feid, feid + 1):
        err = _refused(stub.ReportRunning, pb.ReportRunningRequest(feid=feid_, token=attacker))
        assert err.details().replace(str(feid_), "N") == live.details().replace(str(feid), "N")


def test_the_owner_reports_running_and_sees_only_its_own_token(sdamanager, stub):
    (owner,) = _customers(sdamanager.manager, "owner")
    job = stub.RequestDevices(pb.RequestDevicesRequest(token=owner, process_name="p"), timeout=5)
    running = stub.ReportRunning(pb.ReportRunningRequest(feid=job.feid, token=owner), timeout=5)
    assert (job.token, running.token, running.status) == (owner, owner, pb.JOB_STATUS_RUNNING)


def test_job_finish_from_the_command_line_needs_the_token(sdamanager, capsys):
    owner, other = _customers(sdamanager.manager, "owner", "other")
    feid = sdamanager.manager.request_devices(owner).feid
    port = str(sdamanager.port)
    with pytest.raises(SystemExit) as info:
        stub_main(["job", "finish", "--port", port, str(feid)])
    assert info.value.code == 2 and "--token" in capsys.readouterr().err
    assert stub_main(["job", "finish", "--port", port, "--token", other, str(feid)]) == 1
    assert capsys.readouterr().err == f"sdamanager-stub: Job {feid} is not a live job of this token.\n"
    assert stub_main(["job", "finish", "--port", port, "--token", owner, str(feid)]) == 0
    assert sdamanager.manager.history_job(feid).status.value == "COMPLETED"


def test_a_state_file_from_before_vm_tokens_still_replays(tmp_path):
    path = tmp_path / "s.db"
    m = new_manager(backends=1, devices=4)
    Store(path).attach(m)
    (token,) = _customers(m, "old")
    m.update_token_duplicable(token, 0)
    first, second = m.request_devices(token).feid, m.request_devices(token).feid
    # What an older simulator journalled for ReportRunning and FinishJob: no token argument.
    m.journal.record_change(m.clock(), "report_running", json.dumps({"feid": first}), "", "")
    m.journal.record_change(m.clock(), "finish_job", json.dumps({"feid": second, "failed": True, "reason": "old"}),
                            "", "")
    m.journal.close()
    with sqlite3.connect(path) as db:  # an older simulator's file: its ended jobs and events are replayed
        db.execute("UPDATE meta SET value = '2' WHERE key = 'schema_version'")
    again = new_manager(backends=1, devices=4)
    Store(path).attach(again)
    assert again.jobs[first].status.value == "RUNNING"
    assert (again.history_job(second).status.value, again.history_job(second).end_reason) == ("FAILED", "old")
