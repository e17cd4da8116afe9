"""Shared checks of the simulator's state: its invariants, a snapshot to compare
before and after, and how a refused operation must look."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import pytest

from sdamanager_stub.entities import DeviceStatus, JobStatus
from sdamanager_stub.errors import DomainError
from sdamanager_stub.manager import SDAManager

STATE_FIELDS = ("tokens", "sdas", "models", "model_groups", "backends", "backend_groups",
                "user_groups", "memberships", "jobs", "history", "versions")


def snapshot(mgr: SDAManager) -> dict[str, Any]:
    """Every record, the id counters and the scheduler's own state (queues, timeline).

    The event log is left out: a refusal is recorded there on purpose.
    """
    state: dict[str, Any] = {name: getattr(mgr, name) for name in STATE_FIELDS}
    state["next ids"] = {kind: value for kind, value in mgr.state.next.items() if kind != "event"}
    state["queues"] = {key: list(q.ordered()) for key, q in mgr.scheduler.queues.items()}
    state["scheduler"] = mgr.scheduler.export()  # the queue of each job, when devices are done
    state["timeline"] = sorted(mgr.scheduler._timeline)
    return copy.deepcopy(state)


def refused(mgr: SDAManager, exc: type[DomainError], call: Callable[..., Any], *args: Any,
            reason: str | None = None, contains: str | None = None, **kwargs: Any) -> DomainError:
    """Run a call that must be refused; check class, reason, unchanged state and the log."""
    mgr.advance()  # whatever is due happens first, so the refusal itself must change nothing
    before = snapshot(mgr)
    events = len(mgr.events)
    with pytest.raises(DomainError) as info:
        call(*args, **kwargs)
    err = info.value
    assert type(err) is exc, f"{type(err).__name__}: {err}"
    if reason is not None:
        assert str(err) == reason
    if contains is not None:
        assert contains in str(err), str(err)
    assert str(err), "a refusal must say why"
    assert snapshot(mgr) == before, "a refused operation changed the state"
    assert len(mgr.events) == events + 1
    assert mgr.events[-1].result == f"FAILED: {err}"
    assert mgr.events[-1].action == call.__name__.upper()
    return err


def assert_consistent(m: SDAManager) -> None:
    """No device held by two jobs; every SDA has its token; groups and memberships point at
    what exists; every waiting job is in exactly one queue; live and history jobs add up."""
    with m.lock:
        m.advance()
        placed: dict[tuple[int, int], int] = {}
        for job in m.jobs.values():
            if job.status is JobStatus.QUEUED:
                assert not job.placement, job
                key = m.scheduler.pool.get(job.feid)
                assert key is not None and job.feid in m.scheduler.queues[key]._keys
            else:
                assert job.status in (JobStatus.SUMMITED, JobStatus.RUNNING), job
                assert len(job.placement) == job.device_count, job
            for pair in job.placement:
                assert pair not in placed, f"device {pair} held by jobs {placed[pair]} and {job.feid}"
                placed[pair] = job.feid
        for backend in m.backends.values():
            for device in backend.devices:
                pair = (backend.id, device.index)
                assert device.job_id == placed.get(pair, 0), (pair, device)
                if device.job_id:
                    assert device.status in (DeviceStatus.PREPARING, DeviceStatus.PROCESSING), (pair, device)
        assert set(m.scheduler.pool) == {j.feid for j in m.jobs.values() if j.status is JobStatus.QUEUED}
        for sda in m.sdas.values():
            assert sda.token in m.tokens, sda
            assert sda.model_id in m.models, sda
            assert not sda.model_group_id or sda.model_group_id in m.model_groups, sda
            for backend_id, index in sda.held:
                assert m.backends[backend_id].devices[index].sda_id == sda.id
        for token in m.tokens.values():
            assert not token.current_sda or m.sdas[token.current_sda].token == token.value
            assert sum(1 for s in m.sdas.values() if s.token == token.value) <= token.max_sda
        for group in m.user_groups.values():
            assert all(t in m.tokens for t in group.tokens), group
            assert len(set(group.tokens)) == len(group.tokens), group
        for user_group, model_groups in m.memberships.items():
            assert user_group in m.user_groups and model_groups
            assert all(g in m.model_groups for g in model_groups)
        for group in m.model_groups.values():
            assert group.backend_group_id in m.backend_groups and all(i in m.models for i in group.model_ids)
        for backend in m.backends.values():
            assert backend.group_id in m.backend_groups, backend
        assert not set(m.jobs) & {j.feid for j in m.history}
        assert len(m.jobs) + len({j.feid for j in m.history}) <= m.state.next["job"] - 1
