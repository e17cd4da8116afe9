"""Tests for the job scheduler of the simulator (README, "The simulator", Scheduling).

Domain layer only, no gRPC.  Jobs are made with the real operations
(create_token, create_sda, request_devices, finish_job, release, ...); only
backend and device states are set up through their own operations
(update_backend_status, update_device_status).  Time is a fake clock and moves
only through ``advance()`` (every change calls it first and serves the queues
after it).

Rules under test: one queue per pool (backend group, or a reserved SDA),
ordered by priority (higher first), then request time, then FeID; the head is
served first and jobs behind a head that does not fit wait; devices only from
ACTIVE backends of the pool, IDLE devices only, whole nodes first; device
states IDLE -> PREPARING -> PROCESSING -> CLEANING -> IDLE and job states
QUEUED -> SUMMITED -> RUNNING with the prepare and clean delays; ended jobs
go to the history with their end time and final status.
"""

from __future__ import annotations

import math
import random
from collections import Counter
from typing import Any

import pytest
from helpers import T0, FakeClock, strength
from helpers import seeded_manager as make
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from invariants import refused, snapshot

from sdamanager_stub.entities import BackendStatus, DeviceStatus, Job, JobStatus
from sdamanager_stub.errors import DomainError, FailedPrecondition, InvalidArgument, NotFound, PermissionDenied
from sdamanager_stub.manager import SDAManager
from sdamanager_stub.scheduler import PoolQueue, choose_devices, queue_key

QUEUED, SUMMITED, RUNNING = JobStatus.QUEUED, JobStatus.SUMMITED, JobStatus.RUNNING
IDLE, PREPARING, PROCESSING, CLEANING, SHUTDOWN = (
    DeviceStatus.IDLE, DeviceStatus.PREPARING, DeviceStatus.PROCESSING, DeviceStatus.CLEANING,
    DeviceStatus.SHUTDOWN,
)

# ---------------------------------------------------------------- fixtures and helpers


@pytest.fixture
def m(clock: FakeClock) -> SDAManager:
    """4 backends x 8 devices, no delays."""
    return make(clock)


def user(m: SDAManager, model: int, priority: int = 0, group: int = 0, duplicable: int | None = None,
         reserved: bool = False) -> tuple[str, int]:
    """A new token with one SDA of `model`: (token, SDA id)."""
    tok = m.create_token("team", priority).value
    if duplicable is not None:
        m.update_token_duplicable(tok, duplicable)
    sda = m.create_sda(tok, "", model, group, reserved)
    return tok, sda.id


def run(m: SDAManager, model: int, **kwargs: Any) -> Job:
    """A new user of `model` asks for devices once."""
    tok, _ = user(m, model, **kwargs)
    return m.request_devices(tok)


def on(job: Job) -> list[tuple[int, int]]:
    return sorted(job.placement)


def per_backend(job: Job) -> dict[int, int]:
    return dict(Counter(b for b, _ in job.placement))


def node(backend_id: int, indexes: range | list[int] = range(8)) -> list[tuple[int, int]]:
    return [(backend_id, i) for i in indexes]


def statuses(m: SDAManager, placement: list[tuple[int, int]]) -> set[DeviceStatus]:
    return {m.backends[b].devices[i].status for b, i in placement}


def idle(m: SDAManager, backend_id: int) -> list[int]:
    return [d.index for d in m.backends[backend_id].devices if d.status is IDLE and not d.held]


# ---------------------------------------------------------------- 1. queue order


def test_queue_orders_by_priority_then_request_time(clock: FakeClock) -> None:
    m = make(clock, backends=1)
    blocker = run(m, 4)
    assert blocker.status is RUNNING
    jobs = {}
    for name, priority in (("low", 0), ("neg", -2), ("high", 5), ("low2", 0), ("mid", 3)):
        clock.advance(1)
        jobs[name] = run(m, 4, priority=priority)
        assert jobs[name].status is QUEUED
        assert jobs[name].priority == priority
        assert jobs[name].request_time == clock.now
    expected = [jobs[n].feid for n in ("high", "mid", "low", "low2", "neg")]
    assert m.queue_order() == expected
    assert m.queue_order(0) == expected
    # Served in exactly that order, one 8-device job at a time.
    served = []
    current = blocker
    for _ in expected:
        clock.advance(1)
        m.finish_job(current.feid)
        (current,) = m.list_jobs(RUNNING)
        served.append(current.feid)
        assert current.start_time == clock.now
        assert m.queue_order() == expected[len(served):]
    assert served == expected


def test_equal_priority_and_request_time_break_ties_by_feid(clock: FakeClock) -> None:
    m = make(clock, backends=1)
    run(m, 4)
    a = run(m, 4, priority=1)
    b = run(m, 4, priority=1)
    c = run(m, 4, priority=1)
    assert a.request_time == b.request_time == c.request_time
    assert a.feid < b.feid < c.feid
    assert m.queue_order() == [a.feid, b.feid, c.feid]
    # Bring c to the same key again after a detour: FeID still decides.
    m.update_job_priority(c.feid, 9)
    assert m.queue_order() == [c.feid, a.feid, b.feid]
    m.update_job_priority(c.feid, 1)
    assert m.queue_order() == [a.feid, b.feid, c.feid]


def _job(feid: int, priority: int, request_time: float) -> Job:
    return Job(feid=feid, token="t", sda_id=1, model_id=1, priority=priority, device_count=1,
               backend_group_id=0, request_time=request_time)


def test_pool_queue_order_keys() -> None:
    jobs = [_job(12, 0, 5.0), _job(9, 0, 5.0), _job(3, 0, 6.0), _job(20, 0, 4.0), _job(7, 2, 9.0),
            _job(8, -1, 0.0)]
    q = PoolQueue()
    for j in jobs:
        q.push(j)
    assert list(q.ordered()) == [7, 20, 9, 12, 3, 8]
    assert q.head() == 7
    assert len(q) == 6
    assert [queue_key(j) for j in jobs] == [_order(j) for j in jobs]
    q.remove(7)
    assert q.head() == 20
    jobs[5].priority = 3  # feid 8
    q.rekey(jobs[5])
    assert q.head() == 8
    assert list(q.ordered()) == [8, 20, 9, 12, 3]
    q.rekey(_job(99, 50, 0.0))  # not queued: ignored
    assert len(q) == 5 and q.head() == 8


def test_pool_queue_stays_consistent_under_many_rekeys() -> None:
    rng = random.Random(5)
    jobs = {f: _job(f, rng.randrange(-3, 4), float(rng.randrange(10))) for f in range(1, 200)}
    q = PoolQueue()
    for j in jobs.values():
        q.push(j)
    for _ in range(2000):
        f = rng.choice(sorted(jobs))
        if rng.random() < 0.2:
            q.remove(f)
            del jobs[f]
            if not jobs:
                break
        else:
            jobs[f].priority = rng.randrange(-3, 4)
            q.rekey(jobs[f])
        assert q.head() == min(jobs.values(), key=_order).feid
    assert list(q.ordered()) == [j.feid for j in sorted(jobs.values(), key=_order)]
    assert len(q._heap) <= max(64, 4 * len(jobs)) + 1


def test_job_priority_is_the_token_priority_at_request_time(clock: FakeClock) -> None:
    m = make(clock, backends=1)
    run(m, 4)
    tok_a, _ = user(m, 4, priority=0, duplicable=0)
    a = m.request_devices(tok_a)
    clock.advance(1)
    b = run(m, 4, priority=1)
    assert m.queue_order() == [b.feid, a.feid]
    m.update_token_priority(tok_a, 9)
    assert a.priority == 0, "a queued job keeps the priority it was requested with"
    assert m.queue_order() == [b.feid, a.feid]
    clock.advance(1)
    a2 = m.request_devices(tok_a)  # a new request takes the token's new priority
    assert a2.priority == 9
    assert m.queue_order() == [a2.feid, b.feid, a.feid]
    m.update_token_priority(b.token, -5)
    assert b.priority == 1
    assert m.queue_order() == [a2.feid, b.feid, a.feid]


def test_update_job_priority_reorders_only_queued_jobs(clock: FakeClock) -> None:
    m = make(clock, backends=1, prepare=5)
    started = run(m, 3)
    assert started.status is SUMMITED
    clock.advance(5)
    preparing = run(m, 3)
    assert started.status is RUNNING and preparing.status is SUMMITED
    clock.advance(1)
    a = run(m, 4)
    clock.advance(1)
    b = run(m, 4)
    clock.advance(1)
    c = run(m, 4)
    assert m.queue_order() == [a.feid, b.feid, c.feid]
    assert m.update_job_priority(c.feid, 2) is c
    assert c.priority == 2
    assert m.queue_order() == [c.feid, a.feid, b.feid]
    m.update_job_priority(a.feid, -1)
    assert m.queue_order() == [c.feid, b.feid, a.feid]
    m.update_job_priority(c.feid, 0)  # back among equals: request time decides again
    assert m.queue_order() == [b.feid, c.feid, a.feid]
    # Only QUEUED jobs: a RUNNING and a SUMMITED job are refused.
    refused(m, FailedPrecondition, m.update_job_priority, started.feid, 3,
            contains="only waiting (QUEUED) jobs")
    refused(m, FailedPrecondition, m.update_job_priority, preparing.feid, 3, contains="SUMMITED")
    refused(m, NotFound, m.update_job_priority, 12345, 3)
    assert started.priority == 0 and preparing.priority == 0
    # An ended job is no longer in the queue.
    m.finish_job(b.feid)
    refused(m, NotFound, m.update_job_priority, b.feid, 3)
    assert m.queue_order() == [c.feid, a.feid]


# ---------------------------------------------------------------- 2. head-of-line


def test_head_of_line_blocks_smaller_jobs_behind_it(clock: FakeClock) -> None:
    m = make(clock, backends=2)
    big1 = run(m, 4)
    four = run(m, 3)
    assert on(big1) == node(1)
    assert per_backend(four) == {2: 4}
    clock.advance(1)
    head = run(m, 4)  # 8 devices: only 4 idle
    clock.advance(1)
    small = run(m, 1)
    clock.advance(1)
    two = run(m, 2)
    assert head.status is QUEUED
    assert small.status is QUEUED, "a job behind a head that does not fit waits, even if it would fit"
    assert two.status is QUEUED
    assert len(idle(m, 2)) == 4
    assert m.queue_order() == [head.feid, small.feid, two.feid]
    # Raising the small job above the head lets it run at once.
    clock.advance(1)
    m.update_job_priority(small.feid, 1)
    assert small.status is RUNNING
    assert small.start_time == clock.now
    assert per_backend(small) == {2: 1}
    assert m.queue_order() == [head.feid, two.feid]
    assert two.status is QUEUED  # still behind the head
    # The head runs as soon as a whole node is free, and the job behind it follows in the same step.
    m.release(big1.feid)
    assert head.status is RUNNING and on(head) == node(1)
    assert two.status is RUNNING and per_backend(two) == {2: 2}
    assert m.queue_order() == []


def test_two_whole_node_jobs_run_a_third_waits_and_blocks_the_pool(clock: FakeClock) -> None:
    m = make(clock, backends=2)
    a = run(m, 4)
    b = run(m, 4)
    assert (a.status, b.status) == (RUNNING, RUNNING)
    assert sorted(on(a) + on(b)) == node(1) + node(2)
    clock.advance(1)
    c = run(m, 4)
    clock.advance(1)
    d = run(m, 1)
    assert (c.status, d.status) == (QUEUED, QUEUED)
    assert m.queue_order() == [c.feid, d.feid]
    # a ends: the head c takes its node; nothing is left for d.
    m.finish_job(a.feid)
    assert c.status is RUNNING and on(c) == node(1)
    assert d.status is QUEUED
    clock.advance(1)
    e = run(m, 4)
    assert m.queue_order() == [d.feid, e.feid]
    # b ends: d is the head now and runs; e behind it no longer fits (7 idle) and waits.
    m.finish_job(b.feid)
    assert d.status is RUNNING and per_backend(d) == {2: 1}
    assert e.status is QUEUED
    clock.advance(1)
    f = run(m, 1)
    assert f.status is QUEUED, "behind the 8-device head e, although 7 devices are idle"
    assert len(idle(m, 2)) == 7
    m.finish_job(d.feid)
    assert e.status is RUNNING and on(e) == node(2)
    assert f.status is QUEUED
    m.finish_job(c.feid)
    assert f.status is RUNNING and per_backend(f) == {1: 1}


def test_lowering_the_head_lets_the_jobs_behind_it_run(clock: FakeClock) -> None:
    m = make(clock, backends=2)
    run(m, 4)
    run(m, 3)
    head = run(m, 4)
    small = run(m, 1)
    assert (head.status, small.status) == (QUEUED, QUEUED)
    m.update_job_priority(head.feid, -1)
    assert small.status is RUNNING
    assert head.status is QUEUED
    assert m.queue_order() == [head.feid]


# ---------------------------------------------------------------- 3. pools


@pytest.fixture
def pools(m: SDAManager) -> dict[str, int]:
    """Backends 3 and 4 in backend group bg1, tied to SDA model group mg1."""
    bg = m.create_backendgroup("bg1", [3, 4])
    mg = m.create_sdamodelgroup("mg1", bg.id, [1, 2, 3, 4, 5, 52])
    return {"bg": bg.id, "mg": mg.id}


def test_group_sda_gets_devices_only_from_its_backend_group(m: SDAManager, pools: dict) -> None:
    jobs = [run(m, model, group=pools["mg"]) for model in (4, 3, 2, 1)]
    for job in jobs:
        assert job.status is RUNNING
        assert job.backend_group_id == pools["bg"]
        assert {b for b, _ in job.placement} <= {3, 4}
    assert on(jobs[0]) == node(3)
    assert idle(m, 1) == list(range(8)) and idle(m, 2) == list(range(8))
    # bg1 has 1 device left: the next group job waits although the default group is all idle.
    waiting = run(m, 2, group=pools["mg"])
    assert waiting.status is QUEUED
    assert m.queue_order(pools["bg"]) == [waiting.feid]
    assert m.queue_order(0) == []


def test_default_sda_never_gets_group_devices(m: SDAManager, pools: dict) -> None:
    big = run(m, 5)  # 16 devices: the whole default group
    assert big.status is RUNNING and on(big) == node(1) + node(2)
    small = run(m, 1)
    assert small.status is QUEUED, "bg1's 16 idle devices are not the default group's"
    assert m.queue_order(0) == [small.feid]
    assert len(idle(m, 3)) == 8 and len(idle(m, 4)) == 8
    refused(m, FailedPrecondition, m.request_devices, user(m, 6)[0], contains="could never run")
    m.finish_job(big.feid)
    assert small.status is RUNNING and {b for b, _ in small.placement} <= {1, 2}


def test_head_of_line_in_one_pool_does_not_block_another(m: SDAManager, pools: dict) -> None:
    run(m, 4)
    run(m, 3)  # default group: 4 idle devices
    head = run(m, 5)  # 16 devices: waits in the default pool
    assert head.status is QUEUED
    behind = run(m, 1)
    assert behind.status is QUEUED
    other = run(m, 4, group=pools["mg"])
    assert other.status is RUNNING and on(other) == node(3)
    # And the other way: a waiting head in bg1 does not stop the default pool.
    bg_head = run(m, 5, group=pools["mg"])
    bg_behind = run(m, 1, group=pools["mg"])
    assert (bg_head.status, bg_behind.status) == (QUEUED, QUEUED)
    m.update_job_priority(head.feid, -1)
    assert behind.status is RUNNING
    assert m.queue_order(0) == [head.feid]
    assert m.queue_order(pools["bg"]) == [bg_head.feid, bg_behind.feid]
    m.release(other.feid)
    assert bg_head.status is RUNNING and on(bg_head) == node(3) + node(4)
    assert bg_behind.status is QUEUED


# ---------------------------------------------------------------- 4. placement


def _partial_nodes(m: SDAManager) -> None:
    """Backend 1: devices 0-3 idle; backend 2: 6 idle; backends 3 and 4 whole."""
    j1 = run(m, 3)
    j2 = run(m, 3)
    j3 = run(m, 2)
    assert on(j1) == node(1, range(4)) and on(j2) == node(1, range(4, 8))
    assert on(j3) == node(2, range(2))
    m.release(j1.feid)
    assert [len(idle(m, b)) for b in (1, 2, 3, 4)] == [4, 6, 8, 8]


def test_sixteen_device_job_takes_two_whole_nodes(m: SDAManager) -> None:
    _partial_nodes(m)
    job = run(m, 5)
    assert job.status is RUNNING
    assert on(job) == node(3) + node(4)
    assert [len(idle(m, b)) for b in (1, 2, 3, 4)] == [4, 6, 0, 0]


def test_small_job_goes_to_the_tightest_partial_node(m: SDAManager) -> None:
    _partial_nodes(m)
    four = run(m, 3)
    assert on(four) == node(1, range(4)), "the node whose idle devices fit most tightly"
    two = run(m, 2)
    assert per_backend(two) == {2: 2}
    one = run(m, 1)
    assert per_backend(one) == {2: 1}
    assert [len(idle(m, b)) for b in (3, 4)] == [8, 8], "whole nodes stay whole"


def test_twelve_device_job_takes_a_whole_node_plus_four(m: SDAManager) -> None:
    _partial_nodes(m)
    run(m, 3)  # backend 1 full; backend 2 has 6 idle
    job = run(m, 52)
    assert job.status is RUNNING and len(job.placement) == 12
    assert per_backend(job) == {3: 8, 2: 4}
    assert len(idle(m, 4)) == 8, "the other whole node stays whole"


def test_multi_node_job_spreads_fullest_first_when_no_node_is_whole(clock: FakeClock) -> None:
    m = make(clock, backends=3)
    for b in (1, 2, 3):
        m.update_device_status(b, 0, SHUTDOWN)
    assert run(m, 1).placement == [(1, 1)]  # 7 idle everywhere: the first of the tightest
    big = run(m, 5)
    assert big.status is RUNNING
    assert per_backend(big) == {2: 7, 3: 7, 1: 2}


def test_whole_nodes_first_even_when_a_bigger_partial_node_has_more_idle(clock: FakeClock) -> None:
    m = make(clock, backends=1)
    m.create_backend("big01", "10.0.0.1", 16)  # backend 2: 16 devices
    eight = run(m, 4)
    assert on(eight) == node(1), "a whole node that fits exactly"
    four = run(m, 3)
    assert per_backend(four) == {2: 4}
    m.finish_job(eight.feid)  # backend 1 whole again; backend 2 has 12 idle
    job = run(m, 5)
    assert per_backend(job) == {1: 8, 2: 8}, "the whole node first, the rest from the partial one"


def test_choose_devices_directly() -> None:
    clock = FakeClock()
    m = make(clock, backends=3)
    backends = list(m.backends.values())
    assert choose_devices(backends, 0) == []
    assert choose_devices(backends, 25) is None
    assert sorted(choose_devices(backends, 16)) == node(1) + node(2)
    m.update_device_status(1, 0, SHUTDOWN)
    assert sorted(choose_devices(backends, 16)) == node(2) + node(3)
    assert sorted(choose_devices(backends, 7)) == node(1, range(1, 8))
    m.update_backend_status(2, BackendStatus.SHUTDOWN)
    assert choose_devices(backends, 16) is None
    assert sorted(choose_devices(backends, 15)) == node(1, range(1, 8)) + node(3)


# ---------------------------------------------------------------- 5. SHUTDOWN


def test_shutdown_backends_and_devices_are_never_allocated(clock: FakeClock) -> None:
    m = make(clock, backends=2)
    m.update_backend_status(1, BackendStatus.SHUTDOWN)
    m.update_device_status(2, 3, SHUTDOWN)
    tok, _ = user(m, 1, duplicable=0)
    jobs = [m.request_devices(tok) for _ in range(8)]
    assert [j.status for j in jobs] == [RUNNING] * 7 + [QUEUED]
    used = sorted(p for j in jobs[:7] for p in j.placement)
    assert used == node(2, [0, 1, 2, 4, 5, 6, 7])
    big = run(m, 4)
    assert big.status is QUEUED
    # Bringing the device back serves the queue at once.
    clock.advance(1)
    m.update_device_status(2, 3, IDLE)
    assert jobs[7].status is RUNNING and on(jobs[7]) == [(2, 3)]
    assert jobs[7].start_time == clock.now
    assert big.status is QUEUED
    # Bringing the backend back lets the waiting 8-device job run.
    m.update_backend_status(1, BackendStatus.ACTIVE)
    assert big.status is RUNNING and on(big) == node(1)


def test_shutdown_backend_keeps_its_jobs_but_gets_no_new_ones(clock: FakeClock) -> None:
    m = make(clock, backends=2)
    a = run(m, 4)
    assert on(a) == node(1)
    m.update_backend_status(1, BackendStatus.SHUTDOWN)
    assert a.status is RUNNING and statuses(m, a.placement) == {PROCESSING}
    refused(m, FailedPrecondition, m.update_device_status, 1, 0, SHUTDOWN, contains="held by job")
    refused(m, FailedPrecondition, m.update_device_status, 1, 0, IDLE, contains="held by job")
    b = run(m, 4)
    c = run(m, 4)
    assert on(b) == node(2) and c.status is QUEUED
    m.finish_job(a.feid)
    assert statuses(m, node(1)) == {IDLE}
    assert c.status is QUEUED, "backend 1 is SHUTDOWN: its idle devices are not given out"
    m.finish_job(b.feid)
    assert c.status is RUNNING and on(c) == node(2)


def test_shutdown_devices_break_a_whole_node(m: SDAManager) -> None:
    m.update_device_status(1, 5, SHUTDOWN)
    job = run(m, 4)
    assert on(job) == node(2)
    other = run(m, 3)
    assert per_backend(other) == {1: 4}  # 7 idle on backend 1: tighter than the whole nodes
    assert (1, 5) not in other.placement


# ---------------------------------------------------------------- 6. life cycle


def test_life_cycle_with_prepare_and_clean_delays(clock: FakeClock) -> None:
    m = make(clock, backends=1, prepare=3, clean=2)
    a = run(m, 4)
    assert a.status is SUMMITED
    assert statuses(m, node(1)) == {PREPARING}
    assert {m.backends[1].devices[i].job_id for i in range(8)} == {a.feid}
    clock.set(T0 + 2.5)
    m.advance()
    assert a.status is SUMMITED
    clock.set(T0 + 3)
    m.advance()
    assert a.status is RUNNING
    assert a.start_time == T0 + 3
    assert statuses(m, node(1)) == {PROCESSING}
    b = run(m, 4)  # at T0 + 3: waits
    assert b.status is QUEUED
    refused(m, FailedPrecondition, m.report_running, b.feid, contains="QUEUED")
    clock.set(T0 + 4)
    m.finish_job(a.feid)
    assert a.status is JobStatus.COMPLETED and a.end_time == T0 + 4
    assert statuses(m, node(1)) == {CLEANING}
    assert {d.job_id for d in m.backends[1].devices} == {0}
    assert b.status is QUEUED
    clock.set(T0 + 5.9)
    m.advance()
    assert statuses(m, node(1)) == {CLEANING} and b.status is QUEUED
    clock.set(T0 + 6)
    m.advance()
    assert b.status is SUMMITED, "the waiting job gets the devices the moment they are clean"
    assert statuses(m, node(1)) == {PREPARING}
    clock.set(T0 + 8.9)
    m.advance()
    assert b.status is SUMMITED
    clock.set(T0 + 9)
    m.advance()
    assert b.status is RUNNING and b.start_time == T0 + 9
    assert statuses(m, node(1)) == {PROCESSING}


def test_late_advance_uses_the_event_times(clock: FakeClock) -> None:
    m = make(clock, backends=1, prepare=3, clean=2)
    a = run(m, 4)
    b = run(m, 4)
    c = run(m, 4)
    clock.set(T0 + 1)
    m.report_running(a.feid)
    assert a.start_time == T0 + 1
    clock.set(T0 + 4)
    m.finish_job(a.feid)  # clean until T0 + 6; b prepared at T0 + 9
    clock.set(T0 + 100)  # nobody looked for a long time
    m.advance()
    assert b.status is RUNNING and b.start_time == T0 + 9
    assert c.status is QUEUED
    m.finish_job(b.feid)
    assert b.end_time == T0 + 100
    clock.set(T0 + 200)
    d = run(m, 1)  # any change brings time up to date first
    assert c.status is RUNNING and c.start_time == T0 + 102 + 3
    assert d.status is QUEUED


def test_report_running_starts_a_summited_job_at_once(clock: FakeClock) -> None:
    m = make(clock, backends=1, prepare=3, clean=2)
    a = run(m, 3)
    clock.advance(1)
    assert m.report_running(a.feid) is a
    assert a.status is RUNNING and a.start_time == T0 + 1
    assert statuses(m, a.placement) == {PROCESSING}
    clock.advance(5)
    m.advance()
    assert a.start_time == T0 + 1, "the prepare timer no longer applies"
    m.report_running(a.feid)  # already RUNNING: nothing changes
    assert a.status is RUNNING and a.start_time == T0 + 1
    refused(m, NotFound, m.report_running, 999)


def test_finishing_a_summited_job_cleans_its_devices(clock: FakeClock) -> None:
    m = make(clock, backends=1, prepare=3, clean=2)
    a = run(m, 4)
    clock.advance(1)
    m.finish_job(a.feid)
    assert a.status is JobStatus.COMPLETED and a.start_time == 0
    assert statuses(m, node(1)) == {CLEANING}
    clock.advance(2)
    m.advance()  # T0 + 3: the old prepare timer must not touch anything
    assert statuses(m, node(1)) == {IDLE}
    assert a.status is JobStatus.COMPLETED and a.start_time == 0


def test_cleaning_ends_exactly_after_the_clean_delay(clock: FakeClock) -> None:
    m = make(clock, backends=1, clean=2)
    a = run(m, 3)
    assert a.status is RUNNING and a.start_time == T0
    clock.set(T0 + 10)
    m.release(a.feid)
    assert statuses(m, a.placement) == {CLEANING}
    clock.set(T0 + 11.999)
    m.advance()
    assert statuses(m, a.placement) == {CLEANING}
    assert len(idle(m, 1)) == 4
    clock.set(T0 + 12)
    m.advance()
    assert statuses(m, a.placement) == {IDLE}
    assert len(idle(m, 1)) == 8


def test_without_delays_jobs_start_and_devices_free_at_once(m: SDAManager, clock: FakeClock) -> None:
    a = run(m, 5)
    assert a.status is RUNNING and a.start_time == T0
    assert statuses(m, a.placement) == {PROCESSING}
    b = run(m, 5)
    c = run(m, 5)
    assert b.status is RUNNING and c.status is QUEUED
    clock.advance(7)
    m.finish_job(a.feid)
    assert statuses(m, node(1) + node(2)) == {PROCESSING}  # handed straight to c
    assert c.status is RUNNING and c.start_time == T0 + 7 and on(c) == on(a)
    m.finish_job(c.feid)
    assert statuses(m, node(1) + node(2)) == {IDLE}
    assert m.scheduler._timeline == []


def test_a_change_after_the_clean_delay_sees_the_devices_idle(clock: FakeClock) -> None:
    m = make(clock, backends=1, clean=2)
    a = run(m, 4)
    m.finish_job(a.feid)
    clock.advance(2)
    b = run(m, 4)  # no explicit advance(): the change does it first
    assert b.status is RUNNING and b.start_time == T0 + 2


def test_negative_delays_refused(clock: FakeClock) -> None:
    with pytest.raises(ValueError):
        SDAManager(clock=clock, prepare_seconds=-1)
    with pytest.raises(ValueError):
        SDAManager(clock=clock, clean_seconds=-0.5)


# ---------------------------------------------------------------- 7. history


def test_history_final_statuses_and_end_times(m: SDAManager, clock: FakeClock) -> None:
    completed = run(m, 1)
    clock.advance(1)
    assert m.finish_job(completed.feid) is completed
    failed = run(m, 1)
    clock.advance(1)
    m.finish_job(failed.feid, failed=True, reason="out of memory")
    hog = run(m, 7)  # all 32 devices
    canceled = run(m, 1)
    assert canceled.status is QUEUED
    clock.advance(1)
    m.finish_job(canceled.feid, failed=True)
    assert m.queue_order() == []
    clock.advance(1)
    assert m.release(hog.feid) == [hog.feid]
    assert completed.status is JobStatus.COMPLETED and completed.end_time == T0 + 1
    assert failed.status is JobStatus.FAILED and failed.end_time == T0 + 2
    assert failed.end_reason == "out of memory"
    assert canceled.status is JobStatus.CANCELED and canceled.end_time == T0 + 3
    assert canceled.start_time == 0 and canceled.placement == []
    assert hog.status is JobStatus.RELEASED and hog.end_time == T0 + 4
    assert m.list_history() == [completed, failed, canceled, hog]
    assert m.list_history(2) == [canceled, hog]
    assert m.list_history(1, hog.token) == [hog]
    assert m.list_history(0, failed.token) == [failed]
    assert m.history_job(failed.feid) == failed
    for job in (completed, failed, canceled, hog):
        with pytest.raises(NotFound):
            m.job(job.feid)
        refused(m, NotFound, m.finish_job, job.feid)
        refused(m, NotFound, m.release, job.feid)
    assert m.jobs == {}
    assert all(d.status is IDLE and not d.job_id for b in m.backends.values() for d in b.devices)
    with pytest.raises(NotFound):
        m.history_job(999)
    with pytest.raises(NotFound):
        m.list_history(0, "no-such-token")


def test_release_by_token_and_release_all(m: SDAManager, clock: FakeClock) -> None:
    tok, _ = user(m, 4, duplicable=0)
    mine = [m.request_devices(tok) for _ in range(5)]  # 4 run, 1 waits
    assert [j.status for j in mine] == [RUNNING] * 4 + [QUEUED]
    other = run(m, 1)
    assert other.status is QUEUED
    clock.advance(3)
    released = m.release(token=tok)
    assert sorted(released) == sorted(j.feid for j in mine)
    assert all(j.status is JobStatus.RELEASED and j.end_time == T0 + 3 for j in mine)
    assert other.status is RUNNING
    more = [run(m, 5), run(m, 5), run(m, 1)]
    assert [j.status for j in more] == [RUNNING, QUEUED, QUEUED]
    clock.advance(1)
    assert sorted(m.release_all()) == sorted([other.feid] + [j.feid for j in more])
    assert m.jobs == {} and m.queue_order() == []
    assert all(j.status is JobStatus.RELEASED and j.end_time == T0 + 4 for j in more + [other])
    assert m.list_history()[-4:] == [other] + more
    assert all(d.status is IDLE and not d.job_id for b in m.backends.values() for d in b.devices)
    assert m.release_all() == []


def test_release_with_clean_delay_frees_devices_for_the_next_job_after_cleaning(clock: FakeClock) -> None:
    m = make(clock, backends=1, clean=2)
    a = run(m, 4)
    b = run(m, 4)
    m.release(a.feid)
    assert a.status is JobStatus.RELEASED
    assert {d.job_id for d in m.backends[1].devices} == {0}
    assert b.status is QUEUED
    clock.advance(2)
    m.advance()
    assert b.status is RUNNING and b.start_time == T0 + 2


# ---------------------------------------------------------------- 8. refusals


def test_request_refused_without_an_sda(m: SDAManager) -> None:
    tok = m.create_token("none", 0).value
    refused(m, FailedPrecondition, m.request_devices, tok, contains="no SDA")
    refused(m, NotFound, m.request_devices, "no-such-token")


def test_request_refused_alike_for_another_tokens_sda_and_a_missing_one(m: SDAManager) -> None:
    """SDA ids are sequential: the VM side answers another customer's SDA as it answers
    one that does not exist, so probing ids reveals nothing."""
    tok, _ = user(m, 1)
    _, other_sda = user(m, 1)
    refused(m, PermissionDenied, m.request_devices, tok, sda_id=other_sda,
            reason=f"SDA {other_sda} is not one of the token's SDAs.")
    refused(m, PermissionDenied, m.request_devices, tok, sda_id=999, reason="SDA 999 is not one of the token's SDAs.")


@pytest.mark.parametrize("first_runs", [True, False])
def test_request_refused_while_the_sda_is_in_use_and_duplicable_off(m: SDAManager, first_runs: bool) -> None:
    if not first_runs:
        run(m, 7)  # every device busy: the first job waits
    tok, sda = user(m, 1)
    first = m.request_devices(tok)
    assert first.status is (RUNNING if first_runs else QUEUED)
    refused(m, FailedPrecondition, m.request_devices, tok, contains="duplicable off")
    m.finish_job(first.feid)
    assert m.request_devices(tok).sda_id == sda


def test_duplicable_n_allows_n_jobs_at_once(m: SDAManager) -> None:
    tok, _ = user(m, 1, duplicable=2)
    m.request_devices(tok)
    m.request_devices(tok)
    refused(m, FailedPrecondition, m.request_devices, tok, contains="2 times at once")
    tok0, _ = user(m, 1, duplicable=0)
    assert len([m.request_devices(tok0) for _ in range(40)]) == 40  # unlimited (30 run, 10 wait)
    assert len(m.list_jobs(QUEUED)) == 10


def test_request_refused_when_the_pool_could_never_hold_the_model(m: SDAManager) -> None:
    tok, _ = user(m, 7)  # 32 devices: exactly the cluster
    assert m.request_devices(tok).status is RUNNING
    tok, _ = user(m, 8)  # 48 devices
    refused(m, FailedPrecondition, m.request_devices, tok, contains="could never run")
    bg = m.create_backendgroup("bg1", [4])
    mg = m.create_sdamodelgroup("mg1", bg.id, [3, 4, 52])
    tok, _ = user(m, 52, group=mg.id)
    refused(m, FailedPrecondition, m.request_devices, tok, contains="could never run")
    # SHUTDOWN devices still count towards what the pool has in all: the job just waits.
    m.update_backend_status(4, BackendStatus.SHUTDOWN)
    tok, _ = user(m, 4, group=mg.id)
    assert m.request_devices(tok).status is QUEUED


def test_request_refused_once_memberships_no_longer_allow_the_model(m: SDAManager) -> None:
    tok, sda = user(m, 1)
    job = m.request_devices(tok)
    m.finish_job(job.feid)
    mg = m.create_sdamodelgroup("only-medium", 0, [2])
    ug = m.create_usergroup("customers", "", [tok])
    m.add_membership(ug.id, mg.id)
    refused(m, FailedPrecondition, m.request_devices, tok, contains="may not use SDAModel 1")
    m.remove_membership(ug.id, mg.id)
    assert m.request_devices(tok).status is RUNNING


def test_request_refused_once_the_sda_model_group_is_no_longer_allowed(m: SDAManager) -> None:
    bg = m.create_backendgroup("bg1", [4])
    mg1 = m.create_sdamodelgroup("mg1", bg.id, [1])
    mg2 = m.create_sdamodelgroup("mg2", 0, [1])
    tok, sda = user(m, 1, group=mg1.id)
    ug = m.create_usergroup("customers", "", [tok])
    m.add_membership(ug.id, mg2.id)
    refused(m, FailedPrecondition, m.request_devices, tok, contains="no membership")


def test_report_running_refused_for_queued_job(m: SDAManager) -> None:
    run(m, 7)
    job = run(m, 1)
    refused(m, FailedPrecondition, m.report_running, job.feid, contains="QUEUED")
    assert job.status is QUEUED


@pytest.mark.parametrize("priority", [100, -100, 10**9])
def test_update_job_priority_out_of_range_refused(m: SDAManager, priority: int) -> None:
    run(m, 7)
    job = run(m, 1)
    refused(m, InvalidArgument, m.update_job_priority, job.feid, priority, contains="between -99 and 99")
    assert job.priority == 0
    m.update_job_priority(job.feid, 99)
    m.update_job_priority(job.feid, -99)
    assert job.priority == -99


def test_release_refusals(m: SDAManager) -> None:
    tok, sda = user(m, 1)
    job = m.request_devices(tok)
    refused(m, InvalidArgument, m.release)
    refused(m, NotFound, m.release, 999)
    refused(m, NotFound, m.release, job.feid, sda_id=sda + 1)
    other, _ = user(m, 1)
    refused(m, NotFound, m.release, token=other, contains="no job")
    refused(m, NotFound, m.release, token="no-such-token")
    assert job.status is RUNNING


# ---------------------------------------------------------------- 9. reserved SDAs


def test_reserved_sda_runs_on_its_own_devices(clock: FakeClock) -> None:
    m = make(clock, backends=2, clean=1)
    tok, sda_id = user(m, 3, reserved=True, duplicable=0)
    held = sorted(m.sdas[sda_id].held)
    assert held == node(1, range(4))
    pool_big = run(m, 5)  # 16 devices: 4 are reserved, so it waits at the head of the pool
    assert pool_big.status is QUEUED
    pool_small = run(m, 1)
    assert pool_small.status is QUEUED  # behind the pool's head
    r1 = m.request_devices(tok)
    assert r1.status is RUNNING, "the pool's blocked head does not block a reserved SDA"
    assert on(r1) == held
    assert all(m.backends[b].devices[i].sda_id == sda_id for b, i in held)
    assert len(idle(m, 1)) == 4 and len(idle(m, 2)) == 8, "no pool device was used"
    r2 = m.request_devices(tok)
    assert r2.status is QUEUED
    assert m.queue_order(-sda_id) == [r2.feid]
    assert m.queue_order(0) == [pool_big.feid, pool_small.feid]
    # The reserved queue's waiting job does not block the pool.
    m.update_job_priority(pool_big.feid, -1)
    assert pool_small.status is RUNNING
    assert on(pool_small) == [(1, 4)]  # the tightest node: backend 1's 4 unreserved devices
    assert r2.status is QUEUED
    clock.advance(1)
    m.finish_job(r1.feid)
    assert statuses(m, held) == {CLEANING}
    assert r2.status is QUEUED
    clock.advance(1)
    m.advance()
    assert r2.status is RUNNING and on(r2) == held and r2.start_time == clock.now
    m.release(r2.feid)
    clock.advance(1)
    m.advance()
    # Reserved devices stay reserved: idle, but never given to the pool.
    assert statuses(m, held) == {IDLE}
    assert all(m.backends[b].devices[i].sda_id == sda_id for b, i in held)
    assert pool_big.status is QUEUED
    pool8 = run(m, 4, priority=1)  # ahead of the 16-device head
    assert pool8.status is RUNNING and on(pool8) == node(2)
    assert not set(pool8.placement) & set(held)


def test_reserved_sda_job_waits_for_a_shutdown_backend(m: SDAManager) -> None:
    tok, sda_id = user(m, 3, reserved=True)
    held = m.sdas[sda_id].held
    m.update_backend_status(held[0][0], BackendStatus.SHUTDOWN)
    job = m.request_devices(tok)
    assert job.status is QUEUED and m.queue_order(-sda_id) == [job.feid]
    m.update_backend_status(held[0][0], BackendStatus.ACTIVE)
    assert job.status is RUNNING and on(job) == sorted(held)


def test_deleting_a_reserved_sda_returns_its_devices_to_the_pool(m: SDAManager) -> None:
    tok, sda_id = user(m, 7)  # 32 devices
    rtok, rsda = user(m, 4, reserved=True)
    job = m.request_devices(tok)
    assert job.status is QUEUED
    refused(m, FailedPrecondition, m.delete_sda, tok, sda_id, contains="live jobs")
    m.delete_sda(rtok, rsda)
    assert job.status is RUNNING and len(job.placement) == 32


# ---------------------------------------------------------------- devices freed at one instant


@pytest.mark.parametrize("clean", [0, 2])
@pytest.mark.parametrize("case", ["8 devices", "16 devices"])
def test_devices_freed_at_one_instant_are_all_free_before_the_queue_is_served(
        clock: FakeClock, case: str, clean: int) -> None:
    """Whether the devices come back at once (no clean delay) or after cleaning, all of
    one instant's devices are back before the waiting job is placed: it gets whole nodes.

    Regression: advance() used to serve the queues after each single device's cleaning
    event, so the job was split over a half-cleaned cluster."""
    if case == "8 devices":
        m = make(clock, backends=2, clean=clean)
        first = run(m, 4)
        run(m, 1)
        run(m, 1)  # backend 2: 6 idle
        head = run(m, 4)
        expected = node(1)
    else:
        m = make(clock, backends=3, clean=clean)
        first = run(m, 4)
        run(m, 3)  # backend 2: 4 idle, backend 3 whole
        head = run(m, 5)
        expected = node(1) + node(3)
    assert on(first) == node(1) and head.status is QUEUED
    m.finish_job(first.feid)
    clock.advance(2)
    m.advance()
    assert head.status is RUNNING
    assert head.start_time == T0 + clean
    assert on(head) == expected


# ---------------------------------------------------------------- 10. invariants under random operations

MODELS = (1, 2, 3, 4, 5, 52)


def _order(job: Job) -> tuple[int, float, int]:
    """The queue order the README gives, written out here (not scheduler.queue_key)."""
    return (-job.priority, job.request_time, job.feid)


def _pool_key(m: SDAManager, job: Job) -> int:
    sda = m.sdas[job.sda_id]
    return -sda.id if sda.reserved else job.backend_group_id


def _fits(m: SDAManager, job: Job, key: int) -> bool:
    if key < 0:
        sda = m.sdas[-key]
        return all(m.backends[b].status is BackendStatus.ACTIVE and m.backends[b].devices[i].status is IDLE
                   and not m.backends[b].devices[i].job_id for b, i in sda.held)
    return choose_devices(m.state.backends_in_group(key), job.device_count) is not None


class Invariants:
    """What must hold after every step; remembers the previous step to judge new allocations."""

    def __init__(self, m: SDAManager, prepare: float, clean: float) -> None:
        self.m, self.prepare, self.clean = m, prepare, clean
        self.placed: set[int] = set()
        self.device_before = self._devices()
        self.history_len = 0
        self.allocated_at: dict[int, float] = {}  # feid -> when it got its devices
        self.reported: set[int] = set()  # jobs started by report_running

    def _devices(self) -> dict[tuple[int, int], tuple[DeviceStatus, int, float]]:
        """Each device's status, job and end of cleaning, to judge the next step's allocations."""
        until = self.m.scheduler.clean_until
        return {(b.id, d.index): (d.status, d.job_id, until.get((b.id, d.index), math.inf))
                for b in self.m.backends.values() for d in b.devices}

    def check(self, set_idle: frozenset = frozenset(), tick: bool = False) -> None:
        """`set_idle`: a device the step's operation set IDLE; `tick`: the step moved the clock."""
        m, now = self.m, self.m.clock()
        jobs = m.jobs
        held_count = 0
        for b in m.backends.values():
            for d in b.devices:
                key = (b.id, d.index)
                if d.job_id:
                    held_count += 1
                    assert d.job_id in jobs, f"device {key} points to job {d.job_id}, which is not live"
                    job = jobs[d.job_id]
                    assert key in job.placement, f"device {key} points to job {job.feid} not holding it"
                    want = PREPARING if job.status is SUMMITED else PROCESSING
                    assert d.status is want, f"device {key} of a {job.status.value} job is {d.status.value}"
                    if d.sda_id:
                        assert job.sda_id == d.sda_id, f"reserved device {key} used by another SDA's job"
                else:
                    assert d.status in (IDLE, CLEANING, SHUTDOWN), f"free device {key} is {d.status.value}"
                    if d.status is CLEANING:
                        assert self.clean > 0
                        until = m.scheduler.clean_until.get(key, -math.inf)
                        assert until > now, f"device {key} cleaning past its time"
                        status, _, until_before = self.device_before[key]
                        if (status, until_before) != (CLEANING, until):  # its job ended in this step
                            assert until == now + self.clean, f"device {key} cleans until {until}, not now + clean"
                if d.sda_id:
                    sda = m.sdas.get(d.sda_id)
                    assert sda is not None and sda.reserved and key in sda.held
        for sda in m.sdas.values():
            assert sda.reserved or not sda.held
            for b, i in sda.held:
                assert m.backends[b].devices[i].sda_id == sda.id
        placements = 0
        for job in jobs.values():
            assert job.status in (QUEUED, SUMMITED, RUNNING)
            sda = m.sdas[job.sda_id]
            if not sda.reserved:
                pool = sum(len(b.devices) for b in m.state.backends_in_group(job.backend_group_id))
                assert job.device_count <= pool, f"job {job.feid} could never run and was not refused"
            if job.status is QUEUED:
                assert job.placement == [], f"queued job {job.feid} holds devices"
                continue
            placements += len(job.placement)
            assert len(job.placement) == len(set(job.placement)) == job.device_count
            for b, i in job.placement:
                assert m.backends[b].devices[i].job_id == job.feid
            if sda.reserved:
                assert sorted(job.placement) == sorted(sda.held)
            else:
                assert {m.backends[b].group_id for b, _ in job.placement} == {job.backend_group_id}
            if job.status is SUMMITED:
                assert self.prepare > 0, "with no prepare delay a job goes straight to RUNNING"
                assert m.scheduler.ready_at[job.feid] > now, f"job {job.feid} still SUMMITED past its ready time"
        assert placements == held_count, "a device is in two placements, or a placement lost its device"
        assert set(m.scheduler.ready_at) == {f for f, j in jobs.items() if j.status is SUMMITED}, "stale prepare timers"
        # Queues: every QUEUED job in exactly one queue, the right one, in key order; no fitting head.
        seen: dict[int, int] = {}
        for key in list(m.scheduler.queues):
            order = m.queue_order(key)
            for feid in order:
                assert feid not in seen, f"job {feid} is in two queues"
                seen[feid] = key
            keys = [_order(jobs[f]) for f in order]
            assert keys == sorted(keys), f"pool {key} is not in priority / request time / FeID order"
            if order:
                assert not _fits(m, jobs[order[0]], key), f"pool {key}: the head {order[0]} fits but waits"
        queued = {f for f, j in jobs.items() if j.status is QUEUED}
        assert set(seen) == queued
        for feid in queued:
            assert seen[feid] == _pool_key(m, jobs[feid])
        # Jobs placed in this step: on ACTIVE backends, on devices that were free, none jumped its queue.
        placed_now = {f for f, j in jobs.items() if j.placement}
        for feid in placed_now - self.placed:
            job = jobs[feid]
            for key in job.placement:
                assert m.backends[key[0]].status is BackendStatus.ACTIVE, f"job {feid} placed on a SHUTDOWN backend"
                status, holder, clean_until = self.device_before[key]
                assert (status is IDLE or key in set_idle or (holder and holder not in jobs)
                        or (status is CLEANING and clean_until <= now)), \
                    f"job {feid} got device {key} that was {status.value}"
            # When it got them: now, or (when the clock moved) the moment devices came back from cleaning.
            if tick:
                moments = {u for st, _, u in self.device_before.values() if st is CLEANING and u <= now}
            else:
                moments = {now}
            if job.status is SUMMITED:
                at = [t for t in moments if t + self.prepare == m.scheduler.ready_at[feid]]
            else:
                at = [t for t in moments if t + self.prepare == job.start_time]
            assert at, f"job {feid} placed at a time that is not an event time (moments {sorted(moments)})"
            self.allocated_at[feid] = at[0]
            mine = _order(job)
            for other in queued:
                if seen[other] == _pool_key(m, job):
                    assert _order(jobs[other]) > mine, f"job {feid} ran before job {other}, ahead of it"
        for job in jobs.values():
            if job.status is RUNNING:
                at = self.allocated_at[job.feid]
                if job.feid in self.reported:
                    assert at <= job.start_time <= at + self.prepare
                else:
                    assert job.start_time == at + self.prepare, f"job {job.feid} started at the wrong time"
        for job in m.history[self.history_len:]:
            assert job.status in (JobStatus.COMPLETED, JobStatus.FAILED, JobStatus.CANCELED, JobStatus.RELEASED)
            assert job.end_time == now and job.feid not in jobs
        # Duplicable off: one live job per SDA.
        per_sda = Counter(j.sda_id for j in jobs.values())
        for sda_id, n in per_sda.items():
            limit = m.tokens[m.sdas[sda_id].token].duplicable
            assert not limit or n <= limit
        self.placed = placed_now
        self.device_before = self._devices()
        self.history_len = len(m.history)


OPS = ("user", "user", "sda", "request", "request", "request", "request", "request", "request", "finish", "finish",
       "report", "release", "release_token", "release_all", "priority", "priority", "token_priority", "backend",
       "device", "delete_sda", "tick", "tick", "tick")


@pytest.mark.slow
@settings(max_examples=strength(50, 150), deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(data=st.data())
def test_scheduler_invariants_hold_under_random_operations(data: st.DataObject) -> None:
    clock = FakeClock()
    prepare = data.draw(st.sampled_from([0, 1, 2]), label="prepare")
    clean = data.draw(st.sampled_from([0, 1, 2]), label="clean")
    backends = data.draw(st.integers(3, 5), label="backends")
    devices = data.draw(st.sampled_from([4, 8]), label="devices per backend")
    grouped = data.draw(st.integers(1, 2), label="backends in bg1")
    m = make(clock, backends=backends, devices=devices, prepare=prepare, clean=clean)
    bg = m.create_backendgroup("bg1", list(range(backends - grouped + 1, backends + 1)))
    mg = m.create_sdamodelgroup("mg1", bg.id, list(MODELS))
    tokens: list[str] = []
    inv = Invariants(m, prepare, clean)
    inv.check()

    def new_sda(tok: str) -> None:
        m.create_sda(tok, "", data.draw(st.sampled_from(MODELS), label="model"),
                     data.draw(st.sampled_from([0, 0, mg.id]), label="model group"),
                     data.draw(st.sampled_from([False] * 5 + [True]), label="reserved"))

    steps = data.draw(st.integers(5, 50), label="steps")
    for _ in range(steps):
        op = data.draw(st.sampled_from(OPS), label="op")
        m.advance()
        inv.check()
        if op == "user" or not tokens:  # a new token, then an SDA for it (which may be refused)
            tok = m.create_token("team", data.draw(st.integers(-3, 3), label="priority")).value
            tokens.append(tok)
            dup = data.draw(st.sampled_from([1, 0, 0, 2]), label="duplicable")
            if dup != 1:
                m.update_token_duplicable(tok, dup)
            op = "user"
        before = snapshot(m)
        set_idle: frozenset = frozenset()
        live = sorted(m.jobs)
        try:
            if op == "user":
                new_sda(tokens[-1])
            elif op == "sda":
                new_sda(data.draw(st.sampled_from(tokens), label="token"))
            elif op == "request":
                tok = m.tokens[data.draw(st.sampled_from(tokens), label="token")]
                job = m.request_devices(tok.value)
                assert job.priority == tok.priority and job.request_time == clock.now
                assert job.device_count == m.models[m.sdas[tok.current_sda].model_id].devices
            elif op == "tick":
                clock.advance(data.draw(st.sampled_from([0.5, 1, 1, 2, 3, 7]), label="seconds"))
                m.advance()
            elif op == "backend":
                m.update_backend_status(data.draw(st.integers(1, backends), label="backend"),
                                        data.draw(st.sampled_from(list(BackendStatus)), label="status"))
            elif op == "device":
                b = data.draw(st.integers(1, backends), label="backend")
                i = data.draw(st.integers(0, devices - 1), label="device")
                status = data.draw(st.sampled_from([IDLE, SHUTDOWN]), label="status")
                if status is IDLE:
                    set_idle = frozenset({(b, i)})
                m.update_device_status(b, i, status)
            elif op == "token_priority":
                m.update_token_priority(data.draw(st.sampled_from(tokens), label="token"),
                                        data.draw(st.integers(-3, 3), label="priority"))
            elif op == "delete_sda":
                m.delete_sda(data.draw(st.sampled_from(tokens), label="token"))
            elif op == "release_all":
                m.release_all()
            elif op == "release_token":
                m.release(token=data.draw(st.sampled_from(tokens), label="token"))
            elif live:
                feid = data.draw(st.sampled_from(live), label="job")
                job, was = m.jobs[feid], m.jobs[feid].status
                if op == "finish":
                    failed = data.draw(st.booleans(), label="failed")
                    m.finish_job(feid, failed=failed)
                    assert job.status is (JobStatus.CANCELED if was is QUEUED else
                                          JobStatus.FAILED if failed else JobStatus.COMPLETED)
                elif op == "report":
                    m.report_running(feid)
                    assert was is not QUEUED, "report_running on a QUEUED job must be refused"
                    assert job.status is RUNNING
                    if was is SUMMITED:
                        inv.reported.add(feid)
                elif op == "release":
                    assert m.release(feid) == [feid]
                    assert job.status is JobStatus.RELEASED
                elif op == "priority":
                    priority = data.draw(st.integers(-3, 3), label="priority")
                    m.update_job_priority(feid, priority)
                    assert was is QUEUED, "only QUEUED jobs may change priority"
                    assert job.priority == priority
        except DomainError:
            assert snapshot(m) == before, f"refused {op} changed the state"
        inv.check(set_idle, tick=op == "tick")


def test_a_queued_job_its_group_can_no_longer_hold_is_cancelled_and_unblocks_the_pool(clock: FakeClock) -> None:
    m = make(clock, backends=4)
    first = run(m, 4)  # 8 devices
    head = run(m, 7)  # 32 devices: waits for all four nodes
    small = run(m, 1)  # waits behind it
    assert (first.status, head.status, small.status) == (RUNNING, QUEUED, QUEUED)
    m.create_backendgroup("bg1", [4])  # the default group keeps 24 devices: the head could never run
    assert head.feid not in m.jobs
    ended = m.history_job(head.feid)
    assert ended.status is JobStatus.CANCELED
    assert ended.end_reason == "backend group 0 no longer has 32 devices"
    assert small.status is RUNNING
