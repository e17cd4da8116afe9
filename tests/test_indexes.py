"""The indexes that keep single-entity calls and scheduling decisions flat (issue 13).

Not timed: these pin the mechanisms.  After random sequences of changes
(jobs submitted, started, finished, released, cancelled; priorities; backend
and device states; backends moving between groups; reserved SDAs; time
passing), the per-token and per-SDA counts equal a recount from scratch, the
index of idle devices equals one recounted from scratch, and every placement
the scheduler makes equals the one the old scanning placement (a copy kept
here, `reference_choose`) makes on the same state.  The same holds for a
manager rebuilt by replaying the journal, and for one restored from a snapshot.
"""

from __future__ import annotations

import copy
import json
import pickle
from typing import Any

import pytest
from helpers import FakeClock, MemoryJournal, strength
from helpers import seeded_manager as make
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from invariants import snapshot

from sdamanager_stub import snapshot as snapshots
from sdamanager_stub.convert import Converter
from sdamanager_stub.entities import Backend, BackendStatus, Device, DeviceStatus, Job, JobStatus
from sdamanager_stub.errors import DomainError
from sdamanager_stub.manager import SDAManager
from sdamanager_stub.rules.index import Table
from sdamanager_stub.scheduler import choose_devices
from sdamanager_stub.store import Store

IDLE, SHUTDOWN = DeviceStatus.IDLE, DeviceStatus.SHUTDOWN
MODELS = [1, 2, 3, 4, 5, 52]  # 1, 2, 4, 8, 16 and 12 devices


# ---------------------------------------------------------------- the old placement, for reference


def reference_choose(backends: list[Backend], need: int) -> list[tuple[int, int]] | None:
    """The placement as it was before the index: a pass over every backend of the pool."""
    if need <= 0:
        return []
    candidates: list[tuple[Backend, list[int]]] = []
    total = 0
    for backend in backends:
        if backend.status is not BackendStatus.ACTIVE:
            continue
        idle = [d.index for d in backend.devices if d.status is IDLE and not d.job_id and not d.sda_id]
        if idle:
            candidates.append((backend, idle))
            total += len(idle)
    if total < need:
        return None
    chosen: list[tuple[int, int]] = []
    remaining = need
    whole = sorted((c for c in candidates if len(c[1]) == len(c[0].devices)), key=lambda c: (-len(c[1]), c[0].id))
    used: set[int] = set()
    for backend, idle in whole:
        if remaining >= len(idle):
            chosen.extend((backend.id, i) for i in idle)
            used.add(backend.id)
            remaining -= len(idle)
    while remaining:
        rest = [c for c in candidates if c[0].id not in used]
        fitting = [c for c in rest if len(c[1]) >= remaining]
        if fitting:
            backend, idle = min(fitting, key=lambda c: (len(c[1]), c[0].id))
        else:
            backend, idle = max(rest, key=lambda c: (len(c[1]), -c[0].id))
        take = idle[:remaining]
        chosen.extend((backend.id, i) for i in take)
        used.add(backend.id)
        remaining -= len(take)
    return chosen


# ---------------------------------------------------------------- recounts from scratch


def recount_jobs(m: SDAManager) -> dict[str, object]:
    jobs = sorted(m.jobs.values(), key=lambda j: j.feid)
    holding = [j for j in jobs if j.placement]
    by_token: dict[str, list[int]] = {}
    by_sda: dict[int, list[int]] = {}
    holding_by_token: dict[str, int] = {}
    holding_by_sda: dict[int, list[int]] = {}
    for j in jobs:
        by_token.setdefault(j.token, []).append(j.feid)
        by_sda.setdefault(j.sda_id, []).append(j.feid)
    for j in holding:
        holding_by_token[j.token] = holding_by_token.get(j.token, 0) + 1
        holding_by_sda.setdefault(j.sda_id, []).append(j.feid)
    return {
        "counted": {j.feid: (j.token, j.sda_id, bool(j.placement)) for j in jobs},
        "by_token": dict(sorted(by_token.items())),
        "by_sda": dict(sorted(by_sda.items())),
        "holding": [j.feid for j in holding],
        "holding_by_token": dict(sorted(holding_by_token.items())),
        "holding_by_sda": dict(sorted(holding_by_sda.items())),
    }


def recount_sdas(m: SDAManager) -> dict[str, list[int]]:
    out: dict[str, list[int]] = {}
    for sda in sorted(m.sdas.values(), key=lambda s: s.id):
        out.setdefault(sda.token, []).append(sda.id)
    return dict(sorted(out.items()))


def recount_idle(m: SDAManager) -> dict[str, object]:
    pools: dict[int, tuple[int, dict[int, list[int]], dict[int, list[int]]]] = {}
    capacity: dict[int, int] = {}
    for b in sorted(m.backends.values(), key=lambda b: b.id):
        capacity[b.group_id] = capacity.get(b.group_id, 0) + len(b.devices)
        if b.status is not BackendStatus.ACTIVE:
            continue
        idle = sum(1 for d in b.devices if d.status is IDLE and not d.job_id and not d.sda_id)
        if not idle:
            continue
        total, by_count, whole = pools.setdefault(b.group_id, (0, {}, {}))
        by_count.setdefault(idle, []).append(b.id)
        if idle == len(b.devices):
            whole.setdefault(idle, []).append(b.id)
        pools[b.group_id] = (total + idle, by_count, whole)
    pools = {g: (t, dict(sorted(c.items())), dict(sorted(w.items()))) for g, (t, c, w) in sorted(pools.items())}
    return {"pools": pools, "capacity": {g: c for g, c in sorted(capacity.items()) if c}}


def check_indexes(m: SDAManager) -> None:
    assert m.state.job_index.view() == recount_jobs(m)
    # Each live job's state as the index keeps it for a snapshot, against the job as it is.
    assert sorted(m.state.job_index.states()) == sorted(j.state() for j in m.jobs.values())
    assert m.state.sda_index.view() == recount_sdas(m)
    assert m.state.idle.view() == recount_idle(m)
    # What the rules and the gRPC face read, against the records themselves.
    for tok in m.tokens:
        assert m.state.token_holding_count(tok) == sum(1 for j in m.jobs.values() if j.token == tok and j.placement)
        assert [s.id for s in m.state.token_sdas(tok)] == [s.id for s in m.sdas.values() if s.token == tok]
        assert [j.feid for j in m.state.token_jobs(tok)] == [j.feid for j in m.jobs.values() if j.token == tok]
    for sda_id in m.sdas:
        assert m.rules.sdas._live_jobs_of_sda(sda_id) == [j.feid for j in m.jobs.values() if j.sda_id == sda_id]
        assert m.state.sda_holding_jobs(sda_id) == [j for j in m.jobs.values() if j.sda_id == sda_id and j.placement]
    assert m.state.holding_jobs() == [j for j in m.jobs.values() if j.placement]
    for job in m.history:
        assert m.history_job(job.feid) == job
    for group_id in {b.group_id for b in m.backends.values()} | set(m.backend_groups):
        members = m.state.backends_in_group(group_id)
        assert m.scheduler.capacity(group_id) == sum(len(b.devices) for b in members)
        for need in range(0, m.scheduler.capacity(group_id) + 2):
            assert m.state.idle.choose(group_id, need) == reference_choose(members, need), (group_id, need)


def check_every_decision(m: SDAManager) -> list[int]:
    """Make the manager's index check each placement it gives against the reference; returns a
    list that counts the decisions checked."""
    real = m.state.idle.choose
    checked: list[int] = []

    def choose(group_id: int, need: int) -> list[tuple[int, int]] | None:
        got = real(group_id, need)
        want = reference_choose([b for b in m.backends.values() if b.group_id == group_id], need)
        assert got == want, f"group {group_id}, {need} devices: index gave {got}, scanning gives {want}"
        checked.append(need)
        return got

    m.state.idle.choose = choose  # type: ignore[method-assign]
    return checked


# ---------------------------------------------------------------- random sequences

OPS = ("request", "request", "request", "request", "finish", "finish", "report", "release", "release_token",
       "release_all", "job_priority", "token_priority", "sda", "delete_sda", "backend_status", "device_status",
       "all_devices", "group_set", "group_add", "group_remove", "backend_group", "group_create", "group_delete",
       "backend_create", "backend_delete", "tick", "tick")


@pytest.mark.slow
@settings(max_examples=strength(40, 120), deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(data=st.data())
def test_indexes_equal_a_recount_after_random_changes_and_after_replay(data: st.DataObject) -> None:
    clock = FakeClock()
    prepare = data.draw(st.sampled_from([0, 0, 1]), label="prepare")
    clean = data.draw(st.sampled_from([0, 1, 2]), label="clean")
    backends = data.draw(st.integers(2, 5), label="backends")
    devices = data.draw(st.sampled_from([4, 8]), label="devices per backend")
    m = make(clock, backends, devices, prepare, clean)
    journal = MemoryJournal()
    m.journal = journal  # type: ignore[assignment]
    check_every_decision(m)
    groups = [m.create_backendgroup("bg1", [backends]).id]
    model_groups = [m.create_sdamodelgroup("mg1", groups[0], MODELS).id]
    tokens: list[str] = []
    for i in range(data.draw(st.integers(1, 3), label="tokens")):
        tok = m.create_token(f"team{i}", data.draw(st.integers(-2, 2), label="priority")).value
        m.update_token_duplicable(tok, data.draw(st.sampled_from([0, 1, 2]), label="duplicable"))
        tokens.append(tok)
    check_indexes(m)

    def pick(values: list[Any], label: str) -> Any:
        return data.draw(st.sampled_from(values), label=label)

    for _ in range(data.draw(st.integers(5, 40), label="steps")):
        op = pick(list(OPS), "op")
        live = sorted(m.jobs)
        backend_ids = sorted(m.backends)
        try:
            if op == "request":
                m.request_devices(pick(tokens, "token"))
            elif op == "tick":
                clock.now += pick([0.5, 1, 2, 3], "seconds")
                m.advance()
            elif op in ("finish", "report", "release", "job_priority") and live:
                feid = pick(live, "job")
                if op == "finish":
                    m.finish_job(feid, failed=data.draw(st.booleans(), label="failed"))
                elif op == "report":
                    m.report_running(feid)
                elif op == "release":
                    m.release(feid)
                else:
                    m.update_job_priority(feid, data.draw(st.integers(-3, 3), label="priority"))
            elif op == "release_token":
                m.release(token=pick(tokens, "token"))
            elif op == "release_all":
                m.release_all()
            elif op == "token_priority":
                m.update_token_priority(pick(tokens, "token"), data.draw(st.integers(-3, 3), label="priority"))
            elif op == "sda":
                tok = pick(tokens, "token")
                if m.state.token_sdas(tok):
                    m.delete_sda(tok)
                m.create_sda(tok, "", pick(MODELS, "model"), pick([0, 0, *model_groups], "model group"),
                             data.draw(st.sampled_from([False, False, True]), label="reserved"))
            elif op == "delete_sda":
                m.delete_sda(pick(tokens, "token"))
            elif op == "backend_status" and backend_ids:
                m.update_backend_status(pick(backend_ids, "backend"), pick(list(BackendStatus), "status"))
            elif op == "device_status" and backend_ids:
                b = pick(backend_ids, "backend")
                m.update_device_status(b, pick(list(range(len(m.backends[b].devices))), "device"),
                                       pick([IDLE, IDLE, SHUTDOWN, DeviceStatus.CLEANING], "status"))
            elif op == "all_devices" and backend_ids:
                m.update_all_device_status(pick(backend_ids, "backend"), pick([IDLE, SHUTDOWN], "status"))
            elif op == "group_set" and backend_ids:
                m.set_backendgroup_backends(pick(groups, "group"), data.draw(
                    st.lists(st.sampled_from(backend_ids), max_size=3, unique=True), label="backends"))
            elif op == "group_add" and backend_ids:
                m.add_backendgroup_backend(pick(groups, "group"), pick(backend_ids, "backend"))
            elif op == "group_remove" and backend_ids:
                m.remove_backendgroup_backend(pick(groups, "group"), pick(backend_ids, "backend"))
            elif op == "backend_group" and backend_ids:
                m.update_backend_group(pick(backend_ids, "backend"), pick([0, *groups], "group"))
            elif op == "group_create":
                groups.append(m.create_backendgroup(f"bg{len(groups) + 1}", []).id)
                model_groups.append(m.create_sdamodelgroup(f"mg{len(model_groups) + 1}", groups[-1], MODELS).id)
            elif op == "group_delete" and len(groups) > 1:
                group_id = pick(groups, "group")
                m.delete_backendgroup(group_id, force=True)
                groups.remove(group_id)
            elif op == "backend_create":
                m.create_backend(f"new{len(m.backends) + 10}", f"10.0.0.{len(m.backends) + 10}",
                                 pick([4, 8], "devices"))
            elif op == "backend_delete" and backend_ids:
                m.delete_backend(pick(backend_ids, "backend"))
        except DomainError:
            pass
        check_indexes(m)

    # The journal replayed on a fresh manager, and a snapshot restored on another: same indexes.
    m.advance()
    replayed = make(clock, backends, devices, prepare, clean)
    for when, action, request, made, peer in journal.changes:
        replayed.replay(action, json.loads(request), at=when, made=made, peer=peer)
    replayed.advance()
    assert snapshot(replayed) == snapshot(m)
    check_indexes(replayed)
    assert replayed.state.job_index.view() == m.state.job_index.view()
    assert replayed.state.idle.view() == m.state.idle.view()

    restored = make(FakeClock(clock.now), 1, 1, prepare, clean)
    snapshots.restore(restored, json.loads(json.dumps(snapshots.capture(m))))
    restored.advance()
    check_indexes(restored)
    assert restored.state.job_index.view() == m.state.job_index.view()
    assert restored.state.sda_index.view() == m.state.sda_index.view()
    assert restored.state.idle.view() == m.state.idle.view()
    # Both go on indexing what happens next.
    for other in (replayed, restored):
        for tok in tokens:
            try:
                other.request_devices(tok)
            except DomainError:
                pass
        other.release_all()
        check_indexes(other)


# ---------------------------------------------------------------- placement alone

device_states = st.sampled_from([IDLE, IDLE, IDLE, SHUTDOWN, DeviceStatus.PROCESSING, DeviceStatus.CLEANING])


@st.composite
def clusters(draw: st.DrawFn) -> list[Backend]:
    backends = []
    for backend_id in draw(st.lists(st.integers(1, 40), min_size=0, max_size=12, unique=True)):
        size = draw(st.sampled_from([1, 2, 4, 8, 8, 8, 16]))
        devices = [Device(i, draw(device_states), job_id=draw(st.sampled_from([0, 0, 0, 5])),
                          sda_id=draw(st.sampled_from([0, 0, 0, 0, 3]))) for i in range(size)]
        status = draw(st.sampled_from([BackendStatus.ACTIVE] * 4 + [BackendStatus.SHUTDOWN]))
        backends.append(Backend(backend_id, f"b{backend_id}", f"10.0.0.{backend_id}", status, 0, devices))
    return backends


@pytest.mark.slow
@settings(max_examples=strength(100, 300), deadline=None)
@given(backends=clusters(), need=st.integers(0, 80))
def test_choose_devices_places_as_the_scanning_placement_did(backends: list[Backend], need: int) -> None:
    assert choose_devices(backends, need) == reference_choose(backends, need)


# ---------------------------------------------------------------- the watching itself


def test_direct_changes_of_devices_and_backends_reach_the_index() -> None:
    m = make(FakeClock(), backends=3, devices=4)
    check_indexes(m)
    m.backends[1].devices[0].status = SHUTDOWN
    m.backends[2].devices[3].job_id = 99
    m.backends[3].status = BackendStatus.SHUTDOWN
    check_indexes(m)
    assert m.state.idle.idle_count(0) == 3 + 3
    m.backends[3].group_id = 7
    m.backends[3].status = BackendStatus.ACTIVE
    check_indexes(m)
    assert m.state.idle.capacity(7) == 4 and m.state.idle.idle_count(7) == 4
    del m.backends[2]
    m.backends[9] = Backend(9, "nine", "10.0.0.9", devices=[Device(0), Device(1)])
    m.backends[9].devices[1].sda_id = 4
    check_indexes(m)
    assert m.state.idle.idle_count(0) == 3 + 1


def test_jobs_added_or_removed_by_hand_are_counted() -> None:
    m = make(FakeClock(), backends=2, devices=8)
    tok = m.create_token("team", 0).value
    sda = m.create_sda(tok, "", 1)
    job = Job(feid=m.state.new_id("job"), token=tok, sda_id=sda.id, model_id=1, priority=0, device_count=1,
              backend_group_id=0, status=JobStatus.RUNNING, placement=[(1, 0)])
    m.jobs[job.feid] = job
    assert m.state.token_holding_count(tok) == 1 and m.state.sda_holding_jobs(sda.id) == [job]
    check_indexes(m)
    m.jobs.pop(job.feid)
    assert m.state.token_holding_count(tok) == 0 and m.state.job_index.of_token(tok) == []
    m.jobs.setdefault(job.feid, job)
    m.jobs.update({job.feid: job})
    check_indexes(m)
    m.jobs.clear()
    check_indexes(m)
    assert m.state.job_index.view() == recount_jobs(m)


def test_the_states_a_snapshot_takes_follow_every_change_of_a_live_job() -> None:
    """The job index keeps each live job's state for snapshots; a change it missed would be
    lost by a restart from the next snapshot."""
    clock = FakeClock()
    m = make(clock, backends=1, devices=1, prepare=1, clean=1)
    tok = m.create_token("team", 0).value
    m.update_token_duplicable(tok, 0)
    m.create_sda(tok, "", 1)

    def taken() -> dict[int, tuple[Any, ...]]:
        return {state[0]: state for state in m.state.job_index.states()}

    first, second = m.request_devices(tok), m.request_devices(tok)  # SUMMITED (preparing), QUEUED
    assert taken() == {j.feid: j.state() for j in m.jobs.values()}
    m.update_job_priority(second.feid, 5)  # a queued job's priority, nothing else
    assert taken()[second.feid] == second.state() and second.priority == 5
    clock.advance(1)
    m.advance()  # prepared: RUNNING from now
    assert taken()[first.feid] == first.state() and first.status is JobStatus.RUNNING
    m.finish_job(first.feid, token=tok)  # gone; the second waits for the device to be clean
    clock.advance(1)
    m.advance()
    assert taken() == {second.feid: second.state()} and second.placement


def test_a_copy_of_a_table_is_a_plain_dict() -> None:
    m = make(FakeClock(), backends=2, devices=2)
    shallow = copy.copy(m.backends)
    assert type(shallow) is dict and shallow == m.backends
    del shallow[2]  # not the state's table: the index still has backend 2
    assert m.state.idle.idle_count(0) == 4
    check_indexes(m)


@pytest.mark.parametrize("duplicate", [copy.deepcopy, lambda t: pickle.loads(pickle.dumps(t))])
def test_a_deep_copy_of_the_state_leaves_the_index_alone(duplicate: Any) -> None:
    m = make(FakeClock(), backends=2, devices=2)
    backends = duplicate(m.backends)
    assert type(backends) is dict and backends == m.backends
    backends[1].devices[0].status = SHUTDOWN  # a copy's device: the live index must not move
    backends[2].status = BackendStatus.SHUTDOWN
    assert m.state.idle.idle_count(0) == 4
    check_indexes(m)
    device = duplicate(m.backends[1].devices[0])
    assert "_touch" not in vars(device) and device == m.backends[1].devices[0]


# ---------------------------------------------------------------- single-entity calls pass over nothing


class NoScan(Table):  # type: ignore[type-arg]
    """A table that refuses to be walked once `armed`: any pass over every record fails the test."""

    armed = False

    def _check(self) -> None:
        if self.armed:
            raise AssertionError("a single-entity operation walked every record")

    def __iter__(self) -> Any:
        self._check()
        return dict.__iter__(self)

    def keys(self) -> Any:
        self._check()
        return dict.keys(self)

    def values(self) -> Any:
        self._check()
        return dict.values(self)

    def items(self) -> Any:
        self._check()
        return dict.items(self)


def swap_tables(m: SDAManager, kind: type[Table]) -> None:  # type: ignore[type-arg]
    """Put the state's jobs and SDAs in tables of `kind`, indexed as they were."""
    for name, index in (("jobs", m.state.job_index), ("sdas", m.state.sda_index)):
        records = dict(dict.items(getattr(m.state, name)))
        table = kind(index)  # (empty: the index is emptied)
        dict.update(table, records)
        index.rebuild(records)  # the same records indexed again, without walking the table
        if isinstance(table, NoScan):
            table.armed = True
        setattr(m.state, name, table)


def test_single_entity_operations_never_walk_the_jobs_or_the_sdas() -> None:
    m = make(FakeClock(), backends=2, devices=8)
    bulk = m.create_token("bulk", 0).value
    m.update_token_duplicable(bulk, 0)
    m.create_sda(bulk, "", 1)
    for _ in range(40):  # 16 run, 24 wait
        m.request_devices(bulk)
    tok = m.create_token("team", 0).value
    m.update_token_duplicable(tok, 0)
    sda = m.create_sda(tok, "", 1)
    swap_tables(m, NoScan)
    # What GetToken, UpdateTokenPriority and RequestDevices do, conversion included.
    Converter(m).token(m.token(tok))
    Converter(m).token(m.update_token_priority(tok, 3))
    job = m.request_devices(tok)
    Converter(m).job(job)
    Converter(m).sda(sda)
    m.update_job_priority(job.feid, 1)
    m.finish_job(job.feid, token=tok)
    second = m.request_devices(tok)
    with pytest.raises(DomainError):
        m.delete_sda(tok)  # it has a live job
    with pytest.raises(DomainError):
        m.delete_token(tok)
    assert m.release(token=tok) == [second.feid]
    m.delete_sda(tok)
    m.delete_token(tok)
    swap_tables(m, Table)
    check_indexes(m)


def test_a_restart_from_the_state_file_indexes_what_it_restores_and_replays(tmp_path: Any) -> None:
    clock = FakeClock()
    path = tmp_path / "state.db"

    def open_manager() -> tuple[SDAManager, Store]:
        m = make(clock, backends=3, devices=4, prepare=1, clean=2)
        store = Store(path)
        store.attach(m)
        return m, store

    m, store = open_manager()
    a = m.create_token("alpha", 1).value
    b = m.create_token("beta", 0).value
    m.update_token_duplicable(a, 0)
    m.create_sda(a, "", 1)
    m.create_sda(b, "", 2, reserved=True)
    bg = m.create_backendgroup("bg1", [3])
    m.update_device_status(1, 0, SHUTDOWN)
    jobs = [m.request_devices(a) for _ in range(12)]
    m.request_devices(b)
    clock.now += 1.5
    m.finish_job(jobs[0].feid, token=a)
    m.update_job_priority(jobs[-1].feid, 2)
    store.snapshot()  # what follows is replayed on top of this snapshot
    m.release(jobs[1].feid)
    m.add_backendgroup_backend(bg.id, 2)
    m.update_backend_status(2, BackendStatus.SHUTDOWN)
    clock.now += 0.5
    m.request_devices(a)
    check_indexes(m)
    views = (m.state.job_index.view(), m.state.sda_index.view(), m.state.idle.view())
    store.close()

    again, store = open_manager()
    again.advance()
    check_indexes(again)
    assert (again.state.job_index.view(), again.state.sda_index.view(), again.state.idle.view()) == views
    again.release_all()
    check_indexes(again)
    store.close()


def test_the_history_finds_a_job_by_feid_by_an_index_and_loses_its_oldest_at_its_cap() -> None:
    from sdamanager_stub.archive import Limits, in_memory

    m = SDAManager(clock=FakeClock(), archive=in_memory(Limits(history=4)))
    m.add_default_models()
    m.add_default_cluster(1, 8)
    tok = m.create_token("team", 0).value
    m.update_token_duplicable(tok, 0)
    m.create_sda(tok, "", 1)
    ended = [m.finish_job(m.request_devices(tok).feid, token=tok).feid for _ in range(7)]
    assert [j.feid for j in m.history] == ended[-4:]
    with pytest.raises(DomainError):
        m.history_job(ended[0])  # cut off with the oldest
    assert m.history_job(ended[-1]).feid == ended[-1]
    # No walk over up to 200,000 of them: SQLite finds it by the FeID's index.
    plan = str(m.archive.db.execute("EXPLAIN QUERY PLAN SELECT * FROM history WHERE feid = ?", (1,)).fetchall())
    assert "USING INDEX" in plan and "SCAN" not in plan, plan
