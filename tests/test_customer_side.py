"""The customer's side of SDAManager (the RPCs behind moreh-smi and moreh-switch-model).

Rules first (the manager), then the gRPC face: the calls need no admin secret
and a token reaches only its own SDAs and jobs.  The tools themselves are
tested in test_moreh_smi / test_switch_model.
"""

from __future__ import annotations

import grpc
import pytest
from test_store import open_manager, state

from sdamanager_stub import telemetry
from sdamanager_stub.entities import JobStatus
from sdamanager_stub.errors import DomainError, FailedPrecondition, NotFound, PermissionDenied
from sdamanager_stub.manager import SDAManager
from sdamanager_stub.testing import running_simulator
from smclient.api import ADMIN_SECRET_METADATA
from smclient.api import sdamanager_pb2 as pb
from smclient.api import sdamanager_pb2_grpc as pb_grpc

# Moreh's menu (moreh-toolkit.md): every model, smallest first.
DOC_MENU = ["Small.64GB", "Medium.128GB", "Large.256GB", "xLarge.512GB", "1.5xLarge.768GB", "2xLarge.1024GB",
            "3xLarge.1536GB", "4xLarge.2048GB", "6xLarge.3072GB", "8xLarge.4096GB", "12xLarge.6144GB",
            "24xLarge.12288GB", "48xLarge.24576GB"]


def seed_groups(m: SDAManager, token: str) -> tuple[int, int]:
    """The seed guide's setup: models small and large in SDA model group mg1, the token's
    user group linked to it.  Returns (small's id, large's id)."""
    small = m.create_sdamodel("small", 1).id
    large = m.create_sdamodel("large", 2).id
    mg1 = m.create_sdamodelgroup("mg1", 0, [small, large])
    m.create_sdamodelgroup("mg2", 0, [1])  # not linked: its model is not offered
    ug = m.create_usergroup("group_A", "", [token])
    m.add_membership(ug.id, mg1.id)
    return small, large


# ---------------------------------------------------------------- the model menu


def test_an_unrestricted_token_is_offered_every_model_smallest_first(m):
    t = m.create_token("babu", 0).value
    menu = m.model_menu(t)
    assert [c.model.name for c in menu.choices] == DOC_MENU
    assert menu.current is None and not any(c.current for c in menu.choices)
    m.create_sda(t, "", 2)
    menu = m.model_menu(t)
    assert [c.model.name for c in menu.choices if c.current] == ["Medium.128GB"]
    assert menu.current.model.name == "Medium.128GB" and menu.current.group is None


def test_a_restricted_token_is_offered_its_groups_models_with_the_group(m):
    t = m.create_token("babu", 0).value
    small, large = seed_groups(m, t)
    m.create_sda(t, "", small)  # placed in mg1, the one group that allows it
    menu = m.model_menu(t)
    assert [(c.model.name, c.group.name, c.current) for c in menu.choices] == [
        ("small", "mg1", True), ("large", "mg1", False)]
    assert (menu.current.model.name, menu.current.group.name) == ("small", "mg1")


# ---------------------------------------------------------------- switching a model


def test_switch_model_changes_the_current_sda_and_is_refused_while_a_job_is_live(m):
    t = m.create_token("babu", 0).value
    sda = m.create_sda(t, "", 1)
    m.switch_model(t, 3)
    assert m.sda(sda.id).model_id == 3
    job = m.request_devices(t, 42, "python train.py")
    with pytest.raises(FailedPrecondition, match=rf"SDA {sda.id} is in use by job {job.feid} \(RUNNING\)"):
        m.switch_model(t, 1)
    assert m.sda(sda.id).model_id == 3
    m.finish_job(job.feid, token=t)
    m.switch_model(t, 1)
    assert m.sda(sda.id).model_id == 1


def test_switch_model_keeps_to_the_tokens_groups(m):
    t = m.create_token("babu", 0).value
    small, large = seed_groups(m, t)
    m.create_sda(t, "", small)
    m.switch_model(t, large)
    assert [c.model.name for c in m.model_menu(t).choices if c.current] == ["large"]
    with pytest.raises(FailedPrecondition, match="may not use SDAModel 1"):
        m.switch_model(t, 1)


def test_switch_model_without_an_sda_says_how_to_get_one(m):
    t = m.create_token("babu", 0).value
    with pytest.raises(FailedPrecondition, match=r"no SDA: add one first \(moreh-smi device --add\)"):
        m.switch_model(t, 1)


# ---------------------------------------------------------------- devices


def test_add_device_is_bounded_by_max_sda_and_becomes_current(m):
    t = m.create_token("babu", 0).value
    first = m.add_device(t, 4)
    assert m.token(t).current_sda == first.id
    with pytest.raises(FailedPrecondition, match=r"already has 1 SDA \(Max SDA 1\)"):
        m.add_device(t, 9)
    m.update_token_max_sda(t, 2)  # the operator's `update token sda max`
    second = m.add_device(t, 9)
    assert m.token(t).current_sda == second.id
    view = m.device_view(t)
    assert [(d.sda.id, d.model.name, d.current) for d in view.devices] == [
        (first.id, "xLarge.512GB", False), (second.id, "8xLarge.4096GB", True)]


def test_a_token_reaches_only_its_own_sdas(m):
    t = m.create_token("babu", 0).value
    other = m.create_token("other", 0).value
    theirs = m.create_sda(other, "", 1)
    m.update_token_max_sda(t, 2)
    m.add_device(t, 1)
    for attempt in (lambda: m.remove_device(t, theirs.id), lambda: m.switch_device(t, theirs.id),
                    lambda: m.reset_device(t, theirs.id), lambda: m.switch_model(t, 2, sda_id=theirs.id)):
        with pytest.raises(PermissionDenied, match=f"SDA {theirs.id} is not one of the token's SDAs"):
            attempt()
    assert [d.sda.id for d in m.device_view(t).devices] != [theirs.id]
    assert all(d.sda.token == t for d in m.device_view(t).devices)
    with pytest.raises(NotFound, match="does not exist"):
        m.device_view("nope")


def test_another_tokens_sda_and_no_sda_at_all_are_refused_alike(m):
    """SDA ids are sequential: a customer probing ids learns nothing of other customers'
    SDAs (as ReportRunning/FinishJob refuse a foreign and an unknown FeID alike)."""
    t = m.create_token("babu", 0).value
    other = m.create_token("other", 0).value
    theirs = m.create_sda(other, "", 1).id
    m.add_device(t, 1)
    unknown = 424242
    calls = {"remove": lambda i: m.remove_device(t, i), "switch": lambda i: m.switch_device(t, i),
             "reset": lambda i: m.reset_device(t, i), "model": lambda i: m.switch_model(t, 2, sda_id=i)}
    for name, call in calls.items():
        refusals = []
        for sda_id in (theirs, unknown):
            with pytest.raises(DomainError) as err:
                call(sda_id)
            refusals.append((type(err.value), str(err.value).replace(str(sda_id), "N")))
        assert refusals[0] == refusals[1] == (PermissionDenied, "SDA N is not one of the token's SDAs."), name


def test_remove_and_switch_device(m):
    t = m.create_token("babu", 0).value
    m.update_token_max_sda(t, 3)
    a, b, c = (m.add_device(t, i) for i in (1, 2, 3))
    m.switch_device(t, a.id)
    assert m.token(t).current_sda == a.id
    job = m.request_devices(t, 1, "python x.py", sda_id=b.id)
    with pytest.raises(FailedPrecondition, match=rf"SDA {b.id} is in use by job {job.feid} \(RUNNING\): "
                       "remove it when it ends, or stop it with moreh-smi --reset"):
        m.remove_device(t, b.id)
    m.remove_device(t, a.id)  # the current one: the first left becomes current
    assert [d.sda.id for d in m.device_view(t).devices] == [b.id, c.id]
    assert m.token(t).current_sda == b.id
    assert m.job(job.feid).status is JobStatus.RUNNING


def test_reset_ends_the_current_sdas_jobs_or_says_there_is_none(m):
    t = m.create_token("babu", 0).value
    m.add_device(t, 1)
    with pytest.raises(FailedPrecondition, match=r"^Not running job\.$"):
        m.reset_device(t)
    job = m.request_devices(t, 7, "python train.py")
    assert m.reset_device(t) == [job.feid]
    ended = m.history_job(job.feid)
    assert ended.status is JobStatus.RELEASED and "moreh-smi --reset" in ended.end_reason
    assert not m.list_jobs()


def test_the_view_names_the_versions_and_the_live_jobs(m):
    t = m.create_token("babu", 0).value
    m.add_device(t, 4)
    assert (m.device_view(t).current_version, m.device_view(t).latest_version) == ("", "")
    m.create_version("24.5.0", "/opt/moreh")
    m.set_latest_version("24.5.0")
    job = m.request_devices(t, 1548305, "python tutorial/train_gpt.py", "", "24.5.0")
    view = m.device_view(t)
    assert (view.current_version, view.latest_version) == ("24.5.0", "24.5.0")
    assert [j.feid for j in view.devices[0].jobs] == [job.feid]


def test_each_change_is_one_event_and_replays_from_the_journal(tmp_path, clock):
    path = tmp_path / "state.db"
    m = open_manager(path, clock)
    t = m.create_token("babu", 0).value
    m.update_token_max_sda(t, 3)
    m.add_device(t, 1)
    m.add_device(t, 2)
    m.switch_model(t, 3)
    m.switch_device(t, 1)
    m.remove_device(t, 2)
    job = m.request_devices(t, 5, "python x.py")
    m.reset_device(t)
    events = list(m.events)[-7:]
    assert [e.action for e in events] == ["ADD_DEVICE", "ADD_DEVICE", "SWITCH_MODEL", "SWITCH_DEVICE", "REMOVE_DEVICE",
                       "REQUEST_DEVICES", "RESET_DEVICE"]
    assert all(e.token == t for e in events)
    before = state(m)
    m.journal.close()
    again = open_manager(path, clock)
    assert state(again) == before
    assert again.history_job(job.feid).status is JobStatus.RELEASED


# ---------------------------------------------------------------- telemetry


def test_telemetry_starts_as_in_moreh_sample_and_is_deterministic():
    start = telemetry.job_figures(976356, 8, 0.0)
    assert (start.memory_used_mib, start.memory_total_mib, start.utilization_percent) == (397, 524160, 0)
    assert sum(d.memory_used_mib for d in start.devices) == 397
    later = telemetry.job_figures(976356, 8, 35.0)
    assert later == telemetry.job_figures(976356, 8, 39.9)  # one step: the same figures
    assert later != telemetry.job_figures(976356, 8, 40.0)
    assert later.memory_used_mib == 397 + 524160 * 30 // 100
    assert sum(d.memory_used_mib for d in later.devices) == later.memory_used_mib
    assert all(60 <= d.utilization_percent <= 98 for d in later.devices)
    assert later.utilization_percent == sum(d.utilization_percent for d in later.devices) // 8
    full = telemetry.job_figures(1, 1, 10_000.0)
    assert full.memory_used_mib == 397 + 65520 * 85 // 100 <= full.memory_total_mib


# ---------------------------------------------------------------- the gRPC face


@pytest.fixture
def guarded():
    """A server whose admin calls need a secret: the customer's calls must not (so they
    go on a channel of their own, without the secret the admin client attaches)."""
    with running_simulator(admin_secret="s3cret") as sim, grpc.insecure_channel(sim.address) as channel:
        yield sim.manager, pb_grpc.SDAManagerStub(channel)


def test_the_customers_calls_need_the_token_not_the_admin_secret(guarded):
    manager, stub = guarded
    t = manager.create_token("babu", 0).value
    with pytest.raises(grpc.RpcError) as err:
        stub.GetToken(pb.GetTokenRequest(token=t))
    assert err.value.code() is grpc.StatusCode.UNAUTHENTICATED
    report = stub.AddDevice(pb.AddDeviceRequest(token=t, model_id=4))
    assert [(d.model_name, d.current, d.device_count) for d in report.devices] == [("xLarge.512GB", True, 8)]
    menu = stub.SwitchModel(pb.SwitchModelRequest(token=t, model_id=2))
    assert [c.model.name for c in menu.choices if c.current] == ["Medium.128GB"]
    assert menu.current_model_name == "Medium.128GB"
    with pytest.raises(grpc.RpcError) as err:
        stub.GetDevices(pb.GetDevicesRequest(token="nope"))
    assert err.value.code() is grpc.StatusCode.NOT_FOUND
    with pytest.raises(grpc.RpcError) as err:
        stub.ResetDevice(pb.ResetDeviceRequest(token=t))
    assert (err.value.code(), err.value.details()) == (grpc.StatusCode.FAILED_PRECONDITION, "Not running job.")


def test_a_running_job_reads_its_telemetry(guarded):
    manager, stub = guarded
    t = manager.create_token("babu", 0).value
    manager.add_device(t, 4)
    job = stub.RequestDevices(pb.RequestDevicesRequest(token=t, client_pid=1548305,
                                                       process_name="python tutorial/train_gpt.py", version="24.5.0"))
    (device,) = stub.GetDevices(pb.GetDevicesRequest(token=t)).devices
    (seen,) = device.jobs
    assert (seen.feid, seen.client_pid, seen.process_name) == (job.feid, 1548305, "python tutorial/train_gpt.py")
    assert seen.measured and (seen.memory_used_mib, seen.memory_total_mib, seen.utilization_percent) == (
        397, 524160, 0)
    placed = {(p.backend_name, i) for p in job.placement for i in p.device_indexes}
    assert {(d.backend_name, d.index) for d in seen.devices} == placed
    assert stub.GetDevices(pb.GetDevicesRequest(token=t)).current_version == "24.5.0"
    released = stub.ResetDevice(pb.ResetDeviceRequest(token=t))
    assert list(released.released_feids) == [job.feid]


def test_the_customers_calls_send_no_secret_even_when_given_one(guarded):
    """A VM tool that sent the admin secret would leak it to every customer's VM: the server
    does not need it, and the call metadata the tests send is exactly the token's request."""
    manager, stub = guarded
    t = manager.create_token("babu", 0).value
    ok = stub.GetDevices(pb.GetDevicesRequest(token=t), metadata=((ADMIN_SECRET_METADATA, "wrong"),))
    assert ok.token == t  # a wrong secret on a VM call changes nothing: the token is what counts
