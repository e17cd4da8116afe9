"""Tests for sdamanager_stub.manager: the SDAManager rules (README, "The simulator").

Domain layer only, no gRPC.  Every rule is tested on its accepted case and on
each refused case; a refusal must raise the right DomainError subclass with a
reason a person can act on, leave the state exactly as it was, and still be
written to the event log.
"""

from __future__ import annotations

import base64
import copy
import inspect
import json
import re
import threading
from typing import Any

import pytest
from helpers import FakeClock, MemoryJournal
from invariants import refused

from sdamanager_stub import validate
from sdamanager_stub.audit import CHANGES as REGISTRY
from sdamanager_stub.audit import DamagedArguments, request_peer
from sdamanager_stub.entities import (
    DEFAULT_BACKEND_GROUP_ID,
    DEFAULT_BACKEND_GROUP_NAME,
    DUPLICABLE_OFF,
    AccessLevel,
    BackendStatus,
    DeviceStatus,
    Job,
    JobStatus,
)
from sdamanager_stub.errors import (
    AlreadyExists,
    DomainError,
    FailedPrecondition,
    Internal,
    InvalidArgument,
    NotFound,
)
from sdamanager_stub.journal import JournalError, NotAChange
from sdamanager_stub.manager import SDAManager, new_manager

# ---------------------------------------------------------------- fixtures and helpers


def token(mgr: SDAManager, description: str = "team", priority: int = 0) -> str:
    return mgr.create_token(description, priority).value


def device(mgr: SDAManager, backend_id: int, index: int):
    return mgr.backends[backend_id].devices[index]


def held_by_sda(mgr: SDAManager, sda_id: int) -> list[tuple[int, int]]:
    return sorted((b.id, d.index) for b in mgr.backends.values() for d in b.devices if d.sda_id == sda_id)


def add_job(mgr: SDAManager, tok: str, sda_id: int, placement: list[tuple[int, int]] = (),
            status: JobStatus = JobStatus.RUNNING) -> Job:
    """A live job as the scheduler would leave it (the tests do not need the scheduler)."""
    sda = mgr.sdas[sda_id]
    job = Job(feid=mgr.state.new_id("job"), token=tok, sda_id=sda_id, model_id=sda.model_id,
              priority=mgr.tokens[tok].priority, device_count=len(placement),
              backend_group_id=mgr.state.backend_group_of(sda), status=status,
              placement=list(placement))
    for backend_id, index in placement:
        device(mgr, backend_id, index).job_id = job.feid
        device(mgr, backend_id, index).status = DeviceStatus.PROCESSING
    mgr.jobs[job.feid] = job
    return job


# ---------------------------------------------------------------- tokens: create


def test_create_token_shape_and_defaults(m: SDAManager, clock: FakeClock) -> None:
    tok = m.create_token("babu@gmail.com_moreh-test", 5)
    assert len(tok.value) == 24
    raw = base64.b64decode(tok.value, validate=True).decode()
    assert re.fullmatch(r"babu\d{13}", raw), raw
    assert base64.b64encode(raw.encode()).decode() == tok.value
    assert m.tokens[tok.value] is tok
    assert tok.description == "babu@gmail.com_moreh-test"
    assert tok.priority == 5
    assert tok.max_sda == 1
    assert tok.duplicable == DUPLICABLE_OFF == 1
    assert tok.access_level is AccessLevel.USER
    assert tok.current_sda == 0
    assert tok.env == {}
    assert tok.created == clock.now


def test_create_token_default_priority_is_zero(m: SDAManager) -> None:
    assert m.create_token("abcd").priority == 0


@pytest.mark.parametrize("description, prefix", [("ab", "ab"), ("abcd", "abcd"), ("한국어 팀", "한국어 ")])
def test_create_token_prefix_is_first_four_characters(m: SDAManager, description: str, prefix: str) -> None:
    raw = base64.b64decode(token(m, description)).decode()
    assert raw[: len(prefix)] == prefix
    assert re.fullmatch(r"\d{13}", raw[len(prefix):]), raw


def test_create_token_is_unique_and_not_the_clock(m: SDAManager, clock: FakeClock) -> None:
    # The clock does not move: a timestamp-only token would collide at once.
    values = [token(m, "same") for _ in range(2000)]
    assert len(set(values)) == 2000
    assert len(m.tokens) == 2000
    digits = {base64.b64decode(v).decode()[4:] for v in values}
    assert len(digits) == 2000
    assert str(int(clock.now * 1000)) not in digits


def test_create_token_digits_come_from_the_random_source(clock: FakeClock) -> None:
    draws = iter([0, 0, 0, 41])  # the second token collides twice, then draws anew
    mgr = new_manager(backends=1, devices=1, clock=clock, randbelow=lambda n: next(draws))
    first = mgr.create_token("babu").value
    assert first == base64.b64encode(b"babu1000000000000").decode() == "YmFidTEwMDAwMDAwMDAwMDA="
    second = mgr.create_token("babu").value
    assert second == base64.b64encode(b"babu1000000000041").decode()
    assert len(mgr.tokens) == 2


@pytest.mark.parametrize("priority", [-99, 0, 99])
def test_create_token_priority_in_range(m: SDAManager, priority: int) -> None:
    assert m.create_token("abcd", priority).priority == priority


@pytest.mark.parametrize("priority", [-100, 100, 500, -(10**12)])
def test_create_token_priority_out_of_range(m: SDAManager, priority: int) -> None:
    refused(m, InvalidArgument, m.create_token, "abcd", priority,
            reason=f"Priority must be between -99 and 99 (got {priority}).")
    assert m.tokens == {}


def test_create_token_empty_description_refused(m: SDAManager) -> None:
    refused(m, InvalidArgument, m.create_token, "", reason="Description must not be empty.")


@pytest.mark.parametrize("description", ["tab\there", "line\nbreak", "nul\x00", "x" * 257])
def test_create_token_bad_description_refused(m: SDAManager, description: str) -> None:
    refused(m, InvalidArgument, m.create_token, description)


# ---------------------------------------------------------------- tokens: delete


def test_delete_token(m: SDAManager) -> None:
    tok = token(m)
    other = token(m)
    m.delete_token(tok)
    assert list(m.tokens) == [other]


def test_delete_unknown_token(m: SDAManager) -> None:
    refused(m, NotFound, m.delete_token, "nope", reason="Token 'nope' does not exist.")


def test_delete_token_refused_with_sdas(m: SDAManager) -> None:
    tok = token(m)
    m.update_token_max_sda(tok, 2)
    m.create_sda(tok, "one", 1)
    refused(m, FailedPrecondition, m.delete_token, tok, reason="The token still has 1 SDA: delete it first.")
    m.create_sda(tok, "two", 1)
    refused(m, FailedPrecondition, m.delete_token, tok,
            reason="The token still has 2 SDAs: delete them first.")
    m.delete_sda(tok)
    m.delete_token(tok)
    assert tok not in m.tokens


def test_delete_token_removes_it_from_user_groups(m: SDAManager) -> None:
    tok, other = token(m), token(m)
    g1 = m.create_usergroup("g1", "", [tok, other])
    g2 = m.create_usergroup("g2", "", [tok])
    m.delete_token(tok)
    assert m.user_groups[g1.id].tokens == [other]
    assert m.user_groups[g2.id].tokens == []


def test_delete_token_refused_with_live_job(m: SDAManager) -> None:
    tok = token(m)
    sda = m.create_sda(tok, "", 1)
    job = add_job(m, tok, sda.id, [(1, 0)])
    # The SDA check comes first; take the SDA away under the job to reach the job check.
    del m.sdas[sda.id]
    refused(m, FailedPrecondition, m.delete_token, tok, contains=f"live jobs ({job.feid})")


# ---------------------------------------------------------------- tokens: updates


def test_update_token_priority(m: SDAManager) -> None:
    tok = token(m)
    assert m.update_token_priority(tok, -99).priority == -99
    assert m.tokens[tok].priority == -99
    refused(m, InvalidArgument, m.update_token_priority, tok, 100,
            reason="Priority must be between -99 and 99 (got 100).")
    refused(m, NotFound, m.update_token_priority, "nope", 1)


def test_update_token_description(m: SDAManager) -> None:
    tok = token(m, "old")
    m.update_token_description(tok, "new name")
    assert m.tokens[tok].description == "new name"
    assert m.tokens[tok].value == tok  # the token itself never changes
    refused(m, InvalidArgument, m.update_token_description, tok, "", reason="Description must not be empty.")
    refused(m, InvalidArgument, m.update_token_description, tok, "bad\x07")


def test_update_token_access_level(m: SDAManager) -> None:
    tok = token(m)
    for level in (AccessLevel.ADMIN, AccessLevel.DEVELOPER, AccessLevel.USER):
        m.update_token_access_level(tok, level)
        assert m.tokens[tok].access_level is level
    refused(m, InvalidArgument, m.update_token_access_level, tok, "ROOT",
            reason="Access level must be USER, ADMIN or DEVELOPER.")


@pytest.mark.parametrize("max_sda", [1, 2, 1024])
def test_update_token_max_sda_in_range(m: SDAManager, max_sda: int) -> None:
    tok = token(m)
    m.update_token_max_sda(tok, max_sda)
    assert m.tokens[tok].max_sda == max_sda


@pytest.mark.parametrize("max_sda", [0, -1, 1025])
def test_update_token_max_sda_out_of_range(m: SDAManager, max_sda: int) -> None:
    tok = token(m)
    refused(m, InvalidArgument, m.update_token_max_sda, tok, max_sda,
            reason=f"Max SDA must be between 1 and 1024 (got {max_sda}).")


def test_update_token_max_sda_not_below_sda_count(m: SDAManager) -> None:
    tok = token(m)
    m.update_token_max_sda(tok, 3)
    for i in range(3):
        m.create_sda(tok, f"s{i}", 1)
    refused(m, FailedPrecondition, m.update_token_max_sda, tok, 2,
            reason="The token has 3 SDAs: Max SDA cannot be less than that.")
    m.update_token_max_sda(tok, 3)  # equal to the count is fine
    assert m.tokens[tok].max_sda == 3


def test_update_token_max_sda_refused_while_duplicable(m: SDAManager) -> None:
    tok = token(m)
    m.update_token_duplicable(tok, 4)
    refused(m, FailedPrecondition, m.update_token_max_sda, tok, 2,
            reason="The token's SDA is duplicable: set duplicable to 1 (off) first.")
    m.update_token_max_sda(tok, 1)  # 1 stays allowed
    m.update_token_duplicable(tok, 1)
    m.update_token_max_sda(tok, 2)
    assert m.tokens[tok].max_sda == 2


def test_update_token_duplicable_requires_max_sda_1(m: SDAManager) -> None:
    tok = token(m)
    m.update_token_max_sda(tok, 4)
    refused(m, FailedPrecondition, m.update_token_duplicable, tok, 4,
            reason="Max SDA of the token is 4: set it to 1 first (update token sda max).")
    refused(m, FailedPrecondition, m.update_token_duplicable, tok, 0)
    m.update_token_duplicable(tok, 1)  # 1 is off: always allowed
    assert m.tokens[tok].duplicable == 1
    m.update_token_max_sda(tok, 1)
    m.update_token_duplicable(tok, 4)
    assert m.tokens[tok].duplicable == 4


def test_update_token_duplicable_zero_is_allowed(m: SDAManager) -> None:
    tok = token(m)
    m.update_token_duplicable(tok, 0)
    assert m.tokens[tok].duplicable == 0


@pytest.mark.parametrize("value", [-1, 1025])
def test_update_token_duplicable_out_of_range(m: SDAManager, value: int) -> None:
    tok = token(m)
    refused(m, InvalidArgument, m.update_token_duplicable, tok, value,
            reason=f"Duplicable must be between 0 and 1024 (got {value}).")


def test_token_env_add_overwrite_remove(m: SDAManager) -> None:
    tok = token(m)
    m.add_token_env(tok, "MOREH_WHOLE_SYSTEM_PROFILING_MODE", "1")
    m.add_token_env(tok, "MODNN_SEND_RECV_PIPE", "1")
    m.add_token_env(tok, "MODNN_SEND_RECV_PIPE", "0")  # overwrites
    assert m.tokens[tok].env == {"MOREH_WHOLE_SYSTEM_PROFILING_MODE": "1", "MODNN_SEND_RECV_PIPE": "0"}
    m.add_token_env(tok, "EMPTY", "")
    assert m.tokens[tok].env["EMPTY"] == ""
    m.remove_token_env(tok, "MOREH_WHOLE_SYSTEM_PROFILING_MODE")
    assert m.tokens[tok].env == {"MODNN_SEND_RECV_PIPE": "0", "EMPTY": ""}
    refused(m, NotFound, m.remove_token_env, tok, "MOREH_WHOLE_SYSTEM_PROFILING_MODE",
            reason="The token has no environment variable 'MOREH_WHOLE_SYSTEM_PROFILING_MODE'.")


@pytest.mark.parametrize("name", ["", "1ABC", "A-B", "A B", "A=B", "É", "A" * 129])
def test_token_env_bad_name_refused(m: SDAManager, name: str) -> None:
    tok = token(m)
    err = refused(m, InvalidArgument, m.add_token_env, tok, name, "1")
    assert str(err).startswith("Invalid environment variable name")
    with pytest.raises(DomainError):
        m.remove_token_env(tok, name)


def test_token_env_bad_value_refused(m: SDAManager) -> None:
    tok = token(m)
    refused(m, InvalidArgument, m.add_token_env, tok, "A", "two\nlines")
    refused(m, InvalidArgument, m.add_token_env, tok, "A", "x" * 4097)
    m.add_token_env(tok, "A", "x" * 4096)


def test_update_token_current_sda(m: SDAManager) -> None:
    tok, other = token(m), token(m)
    m.update_token_max_sda(tok, 2)
    first = m.create_sda(tok, "", 1)
    second = m.create_sda(tok, "", 2)
    foreign = m.create_sda(other, "", 1)
    assert m.tokens[tok].current_sda == first.id
    m.update_token_current_sda(tok, second.id)
    assert m.tokens[tok].current_sda == second.id
    refused(m, FailedPrecondition, m.update_token_current_sda, tok, foreign.id,
            reason=f"SDA {foreign.id} does not belong to the token.")
    refused(m, NotFound, m.update_token_current_sda, tok, 999, reason="SDA 999 does not exist.")


def test_list_tokens(m: SDAManager) -> None:
    a, b = token(m), token(m)
    assert [t.value for t in m.list_tokens()] == [a, b]
    sda = m.create_sda(b, "", 1)
    assert m.list_tokens(running_only=True) == []
    add_job(m, b, sda.id, [(1, 0)])
    assert [t.value for t in m.list_tokens(running_only=True)] == [b]


# ---------------------------------------------------------------- SDAs: create


def test_create_sda(m: SDAManager, clock: FakeClock) -> None:
    tok = token(m)
    sda = m.create_sda(tok, "my sda", 52)
    assert m.sdas[sda.id] is sda
    assert (sda.token, sda.model_id, sda.model_group_id, sda.reserved, sda.description) == (tok, 52, 0, False, "my sda")
    assert sda.held == []
    assert sda.created == clock.now
    assert m.tokens[tok].current_sda == sda.id


def test_create_sda_sets_current_only_on_first(m: SDAManager) -> None:
    tok = token(m)
    m.update_token_max_sda(tok, 3)
    first = m.create_sda(tok, "", 1)
    second = m.create_sda(tok, "", 2)
    assert second.id > first.id
    assert m.tokens[tok].current_sda == first.id


def test_create_sda_max_sda_enforced(m: SDAManager) -> None:
    tok = token(m)
    m.create_sda(tok, "", 1)
    refused(m, FailedPrecondition, m.create_sda, tok, "", 1,
            reason="The token already has 1 SDA (Max SDA 1): raise Max SDA or delete an SDA first.")
    m.update_token_max_sda(tok, 2)
    m.create_sda(tok, "", 1)
    refused(m, FailedPrecondition, m.create_sda, tok, "", 1,
            reason="The token already has 2 SDAs (Max SDA 2): raise Max SDA or delete an SDA first.")
    assert len(m.state.token_sdas(tok)) == 2


def test_create_sda_unknown_model(m: SDAManager) -> None:
    tok = token(m)
    refused(m, NotFound, m.create_sda, tok, "", 13, reason="SDAModel 13 does not exist.")
    refused(m, NotFound, m.create_sda, tok, "", 0)
    assert m.tokens[tok].current_sda == 0


def test_create_sda_unknown_token(m: SDAManager) -> None:
    refused(m, NotFound, m.create_sda, "nope", "", 1, reason="Token 'nope' does not exist.")


def test_create_sda_model_group_must_contain_model(m: SDAManager) -> None:
    tok = token(m)
    mg = m.create_sdamodelgroup("mg1", 0, [1, 2])
    refused(m, FailedPrecondition, m.create_sda, tok, "", 3, mg.id,
            reason=f"SDAModel 3 is not in SDAModel group {mg.id} (mg1).")
    refused(m, NotFound, m.create_sda, tok, "", 1, 99, reason="SDAModel group 99 does not exist.")
    sda = m.create_sda(tok, "", 2, mg.id)
    assert sda.model_group_id == mg.id


@pytest.mark.parametrize("description", ["bad\ndescription", "esc\x1b[31m", "x" * 257])
def test_create_sda_bad_description(m: SDAManager, description: str) -> None:
    tok = token(m)
    refused(m, InvalidArgument, m.create_sda, tok, description, 1)


def test_create_sda_empty_description_allowed(m: SDAManager) -> None:
    tok = token(m)
    assert m.create_sda(tok, "", 1).description == ""


# ---------------------------------------------------------------- SDAs: memberships


@pytest.fixture
def groups(m: SDAManager) -> dict[str, Any]:
    """ug_a (token a) -> mg_small {1, 2}; ug_b (token b) has no membership; c is in no group."""
    a, b, c = token(m, "aaaa"), token(m, "bbbb"), token(m, "cccc")
    for t in (a, b, c):
        m.update_token_max_sda(t, 10)
    mg_small = m.create_sdamodelgroup("small", 0, [1, 2])
    mg_large = m.create_sdamodelgroup("large", 0, [2, 3, 4])
    ug_a = m.create_usergroup("ug_a", "", [a])
    ug_b = m.create_usergroup("ug_b", "", [b])
    m.add_membership(ug_a.id, mg_small.id)
    return {"a": a, "b": b, "c": c, "small": mg_small.id, "large": mg_large.id,
            "ug_a": ug_a.id, "ug_b": ug_b.id}


def test_restricted_token_gets_first_allowed_group(m: SDAManager, groups: dict) -> None:
    a = groups["a"]
    assert m.allowed_model_groups(a) == [groups["small"]]
    sda = m.create_sda(a, "", 1)
    assert sda.model_group_id == groups["small"]


def test_restricted_token_refused_other_models(m: SDAManager, groups: dict) -> None:
    a = groups["a"]
    refused(m, FailedPrecondition, m.create_sda, a, "", 3,
            reason="The token may not use SDAModel 3: it is in none of the SDAModel groups "
                   f"of the token's memberships (see show sdamodel {a}).")
    # Naming a group that holds the model is not enough without a membership.
    refused(m, FailedPrecondition, m.create_sda, a, "", 3, groups["large"],
            reason=f"The token's user groups have no membership with SDAModel group {groups['large']} (large).")
    refused(m, FailedPrecondition, m.create_sda, a, "", 2, groups["large"])
    assert m.state.token_sdas(a) == []


def test_restricted_token_first_of_several_allowed_groups(m: SDAManager, groups: dict) -> None:
    a = groups["a"]
    m.add_membership(groups["ug_a"], groups["large"])
    assert m.allowed_model_groups(a) == [groups["small"], groups["large"]]
    assert m.create_sda(a, "", 2).model_group_id == groups["small"]  # in both: first one
    assert m.create_sda(a, "", 3).model_group_id == groups["large"]
    assert m.create_sda(a, "", 2, groups["large"]).model_group_id == groups["large"]
    assert [x.id for x in m.allowed_models(a)] == [1, 2, 3, 4]


def test_restriction_is_union_over_user_groups(m: SDAManager, groups: dict) -> None:
    a = groups["a"]
    ug = m.create_usergroup("second", "", [a])
    m.add_membership(ug.id, groups["large"])
    assert m.create_sda(a, "", 4).model_group_id == groups["large"]


def test_group_without_membership_is_unrestricted(m: SDAManager, groups: dict) -> None:
    for t in (groups["b"], groups["c"]):
        assert m.allowed_model_groups(t) is None
        assert m.create_sda(t, "", 3).model_group_id == 0
        assert m.create_sda(t, "", 3, groups["large"]).model_group_id == groups["large"]
        assert len(m.allowed_models(t)) == 13


def test_allowed_models_of_restricted_token(m: SDAManager, groups: dict) -> None:
    assert [x.id for x in m.allowed_models(groups["a"])] == [1, 2]
    with pytest.raises(NotFound):
        m.allowed_models("nope")


def test_removing_last_membership_lifts_restriction(m: SDAManager, groups: dict) -> None:
    m.remove_membership(groups["ug_a"], groups["small"])
    assert m.allowed_model_groups(groups["a"]) is None
    assert m.create_sda(groups["a"], "", 12).model_group_id == 0


# ---------------------------------------------------------------- SDAs: reserved


def test_reserved_sda_holds_a_whole_idle_node_first(m: SDAManager) -> None:
    tok = token(m)
    m.update_token_max_sda(tok, 5)
    device(m, 1, 0).job_id = 77  # back01 is no longer whole
    sda = m.create_sda(tok, "", 4, reserved=True)  # xLarge: 8 devices
    assert sda.reserved
    assert sorted(sda.held) == [(2, i) for i in range(8)]
    assert held_by_sda(m, sda.id) == sorted(sda.held)


def test_reserved_multi_node_takes_whole_nodes(m: SDAManager) -> None:
    tok = token(m)
    device(m, 1, 3).job_id = 77
    sda = m.create_sda(tok, "", 5, reserved=True)  # 2xLarge: 16 devices
    assert sorted(sda.held) == [(2, i) for i in range(8)] + [(3, i) for i in range(8)]


def test_reserved_model_52_takes_one_node_and_part_of_another(m: SDAManager) -> None:
    tok = token(m)
    sda = m.create_sda(tok, "", 52, reserved=True)  # 12 devices
    by_node: dict[int, int] = {}
    for b, _ in sda.held:
        by_node[b] = by_node.get(b, 0) + 1
    assert sorted(by_node.values()) == [4, 8]
    assert len(set(sda.held)) == 12


def test_reserved_skips_busy_shutdown_and_held_devices(m: SDAManager) -> None:
    tok = token(m)
    m.update_backend_status(1, BackendStatus.SHUTDOWN)
    m.update_device_status(2, 0, DeviceStatus.SHUTDOWN)
    device(m, 3, 0).job_id = 9
    # idle: back02 1..7, back03 1..7, back04 0..7; fullest first, then lowest id
    sda = m.create_sda(tok, "", 5, reserved=True)  # 16 devices
    assert sorted(sda.held) == [(2, i) for i in range(1, 8)] + [(3, 1)] + [(4, i) for i in range(8)]


def test_reserved_refused_when_not_enough_idle(m: SDAManager) -> None:
    tok = token(m)
    m.update_token_max_sda(tok, 5)
    m.update_backend_status(1, BackendStatus.SHUTDOWN)
    m.update_device_status(2, 0, DeviceStatus.SHUTDOWN)
    device(m, 3, 0).job_id = 9
    # idle: back02 7, back03 7, back04 8 = 22
    refused(m, FailedPrecondition, m.create_sda, tok, "", 6, reserved=True,
            reason="Not enough idle devices in backend group 0 for SDAModel 6 (24 needed, 22 idle).")
    assert m.state.token_sdas(tok) == []
    assert m.tokens[tok].current_sda == 0
    sda = m.create_sda(tok, "", 5, reserved=True)  # 16 fit
    assert sda.id == 1  # the refusal did not use up an SDA id
    assert len(sda.held) == 16
    refused(m, FailedPrecondition, m.create_sda, tok, "", 4, reserved=True,
            reason="Not enough idle devices in backend group 0 for SDAModel 4 (8 needed, 6 idle).")


def test_reserved_uses_backend_group_of_model_group(m: SDAManager) -> None:
    tok = token(m)
    m.update_token_max_sda(tok, 3)
    bg = m.create_backendgroup("bg1", [3, 4])
    mg = m.create_sdamodelgroup("mg", bg.id, [1, 4, 5, 6])
    sda = m.create_sda(tok, "", 5, mg.id, reserved=True)
    assert {b for b, _ in sda.held} == {3, 4}
    refused(m, FailedPrecondition, m.create_sda, tok, "", 1, mg.id, reserved=True,
            reason=f"Not enough idle devices in backend group {bg.id} for SDAModel 1 (1 needed, 0 idle).")
    # Without a model group the default group is used: back01 and back02 are free.
    other = m.create_sda(tok, "", 5, reserved=True)
    assert {b for b, _ in other.held} == {1, 2}


def test_deleting_reserved_sda_frees_devices(m: SDAManager) -> None:
    tok = token(m)
    sda = m.create_sda(tok, "", 52, reserved=True)
    m.delete_sda(tok, sda.id)
    assert all(d.sda_id == 0 for b in m.backends.values() for d in b.devices)
    assert m.tokens[tok].current_sda == 0


def test_unreserved_sda_holds_nothing(m: SDAManager) -> None:
    tok = token(m)
    m.create_sda(tok, "", 12)  # 384 devices: fine, it is not reserved
    assert all(d.sda_id == 0 for b in m.backends.values() for d in b.devices)


# ---------------------------------------------------------------- SDAs: update


def test_update_current_sda(m: SDAManager) -> None:
    tok = token(m)
    m.update_token_max_sda(tok, 2)
    first = m.create_sda(tok, "", 1)
    second = m.create_sda(tok, "", 1)
    m.update_sda(tok, 3)
    assert m.sdas[first.id].model_id == 3
    assert m.sdas[second.id].model_id == 1
    m.update_sda(tok, 4, sda_id=second.id)
    assert m.sdas[second.id].model_id == 4
    assert m.sdas[first.id].model_id == 3


def test_update_sda_refusals(m: SDAManager) -> None:
    tok, other = token(m), token(m)
    refused(m, FailedPrecondition, m.update_sda, tok, 1,
            reason="The token has no SDA: create one first (create sda).")
    sda = m.create_sda(tok, "", 1)
    foreign = m.create_sda(other, "", 1)
    refused(m, FailedPrecondition, m.update_sda, tok, 2, sda_id=foreign.id,
            reason=f"SDA {foreign.id} does not belong to the token.")
    refused(m, NotFound, m.update_sda, tok, 2, sda_id=999)
    refused(m, NotFound, m.update_sda, tok, 99, reason="SDAModel 99 does not exist.")
    mg = m.create_sdamodelgroup("mg", 0, [1])
    refused(m, FailedPrecondition, m.update_sda, tok, 2, mg.id)
    m.update_sda(tok, 1, mg.id)
    assert m.sdas[sda.id].model_group_id == mg.id


def test_update_sda_enforces_memberships(m: SDAManager, groups: dict) -> None:
    a = groups["a"]
    m.create_sda(a, "", 1)
    refused(m, FailedPrecondition, m.update_sda, a, 3)
    m.update_sda(a, 2)
    assert m.sdas[m.tokens[a].current_sda].model_id == 2


def test_update_reserved_sda_moves_reservation(m: SDAManager) -> None:
    tok = token(m)
    sda = m.create_sda(tok, "", 3, reserved=True)  # 4 devices
    m.update_sda(tok, 4)  # 8 devices
    assert len(m.sdas[sda.id].held) == 8
    assert held_by_sda(m, sda.id) == sorted(m.sdas[sda.id].held)
    assert sum(1 for b in m.backends.values() for d in b.devices if d.sda_id) == 8


def test_update_reserved_sda_can_reuse_its_own_devices(m: SDAManager) -> None:
    tok = token(m)
    sda = m.create_sda(tok, "", 4, reserved=True)  # 8 devices: a whole node
    node = sda.held[0][0]
    for b in m.backends.values():
        if b.id != node:
            for d in b.devices:
                d.job_id = 100
    m.update_sda(tok, 3)  # 4 devices: only its own node has any idle
    assert sorted(m.sdas[sda.id].held) == [(node, i) for i in range(4)]
    assert held_by_sda(m, sda.id) == [(node, i) for i in range(4)]


def test_update_reserved_sda_refused_keeps_reservation(m: SDAManager) -> None:
    tok = token(m)
    sda = m.create_sda(tok, "", 4, reserved=True)
    held = sorted(sda.held)
    refused(m, FailedPrecondition, m.update_sda, tok, 8,
            reason="Not enough idle devices in backend group 0 for SDAModel 8 (48 needed, 32 idle).")
    assert m.sdas[sda.id].model_id == 4
    assert sorted(m.sdas[sda.id].held) == held == held_by_sda(m, sda.id)


def test_update_reserved_sda_refused_while_in_use(m: SDAManager) -> None:
    tok = token(m)
    sda = m.create_sda(tok, "", 1, reserved=True)
    job = add_job(m, tok, sda.id)
    refused(m, FailedPrecondition, m.update_sda, tok, 2,
            reason=f"Reserved SDA {sda.id} is in use by job {job.feid}: release it first.")


# ---------------------------------------------------------------- SDAs: delete


def test_delete_all_sdas(m: SDAManager) -> None:
    tok, other = token(m), token(m)
    m.update_token_max_sda(tok, 3)
    ids = [m.create_sda(tok, "", 1).id for _ in range(3)]
    keep = m.create_sda(other, "", 1)
    assert sorted(m.delete_sda(tok)) == ids
    assert list(m.sdas) == [keep.id]
    assert m.tokens[tok].current_sda == 0
    assert m.tokens[other].current_sda == keep.id


def test_delete_sda_none_is_not_found(m: SDAManager) -> None:
    tok = token(m)
    refused(m, NotFound, m.delete_sda, tok, reason="The token has no SDA.")
    refused(m, NotFound, m.delete_sda, "nope")


def test_delete_one_sda_moves_current(m: SDAManager) -> None:
    tok = token(m)
    m.update_token_max_sda(tok, 3)
    m.update_token_max_sda(tok, 4)
    a, b, c, d = (m.create_sda(tok, "", 1) for _ in range(4))
    m.delete_sda(tok, b.id)
    assert m.tokens[tok].current_sda == a.id  # not the current one: unchanged
    m.delete_sda(tok, a.id)
    assert m.tokens[tok].current_sda in (c.id, d.id)
    m.delete_sda(tok, m.tokens[tok].current_sda)
    assert list(m.sdas) == [m.tokens[tok].current_sda]


def test_delete_sda_refusals(m: SDAManager) -> None:
    tok, other = token(m), token(m)
    m.update_token_max_sda(tok, 2)
    sda = m.create_sda(tok, "", 1)
    m.create_sda(tok, "", 1)
    foreign = m.create_sda(other, "", 1)
    refused(m, FailedPrecondition, m.delete_sda, tok, foreign.id,
            reason=f"SDA {foreign.id} does not belong to the token.")
    refused(m, NotFound, m.delete_sda, tok, 999)
    job = add_job(m, tok, sda.id, [(1, 0)])
    refused(m, FailedPrecondition, m.delete_sda, tok,
            reason=f"SDA {sda.id} has live jobs ({job.feid}): release them first.")
    refused(m, FailedPrecondition, m.delete_sda, tok, sda.id)


def test_list_sdas(m: SDAManager) -> None:
    a, b = token(m, "bbbb"), token(m, "aaaa")
    sb = m.create_sda(a, "", 1)
    sa = m.create_sda(b, "", 1, reserved=True)
    assert [s.id for s in m.list_sdas()] == [sb.id, sa.id]
    assert [s.id for s in m.list_sdas(token=a)] == [sb.id]
    # Running: a job of the SDA holds devices (a reservation alone is not running).
    assert m.list_sdas(running_only=True) == []
    m.request_devices(a)
    assert [s.id for s in m.list_sdas(running_only=True)] == [sb.id]
    with pytest.raises(NotFound):
        m.list_sdas(token="nope")


# ---------------------------------------------------------------- SDA models


GUIDE_MODELS = [
    (1, "Small.64GB", 1), (2, "Medium.128GB", 2), (3, "Large.256GB", 4), (4, "xLarge.512GB", 8),
    (52, "1.5xLarge.768GB", 12), (5, "2xLarge.1024GB", 16), (6, "3xLarge.1536GB", 24),
    (7, "4xLarge.2048GB", 32), (8, "6xLarge.3072GB", 48), (9, "8xLarge.4096GB", 64),
    (10, "12xLarge.6144GB", 96), (11, "24xLarge.12288GB", 192), (12, "48xLarge.24576GB", 384),
]


def test_default_catalogue_is_the_guides(m: SDAManager) -> None:
    got = sorted((x.id, x.name, x.devices) for x in m.list_models())
    assert got == sorted(GUIDE_MODELS)
    assert len(m.models) == 13
    assert all(m.models[i].id == i for i in m.models)


def test_create_sdamodel(m: SDAManager) -> None:
    model = m.create_sdamodel("Custom.1GB", 3, "test")
    assert (model.id, model.name, model.devices, model.description) == (53, "Custom.1GB", 3, "test")
    assert m.models[53] is model
    assert m.create_sdamodel("Other", 100_000).id == 54
    refused(m, AlreadyExists, m.create_sdamodel, "Small.64GB", 1,
            reason="An SDAModel named 'Small.64GB' already exists (id 1).")
    refused(m, AlreadyExists, m.create_sdamodel, "Custom.1GB", 9)


@pytest.mark.parametrize("devices", [0, -1, 100_001])
def test_create_sdamodel_devices_range(m: SDAManager, devices: int) -> None:
    refused(m, InvalidArgument, m.create_sdamodel, "X", devices,
            reason=f"Devices must be between 1 and 100000 (got {devices}).")


@pytest.mark.parametrize("name", ["", "two words", "a,b", "x" * 65, "tab\t"])
def test_create_sdamodel_bad_name(m: SDAManager, name: str) -> None:
    refused(m, InvalidArgument, m.create_sdamodel, name, 1)


def test_delete_sdamodel(m: SDAManager) -> None:
    mg = m.create_sdamodelgroup("mg", 0, [1, 2, 3])
    m.delete_sdamodel(2)
    assert 2 not in m.models
    assert m.model_groups[mg.id].model_ids == [1, 3]
    refused(m, NotFound, m.delete_sdamodel, 2, reason="SDAModel 2 does not exist.")


def test_delete_sdamodel_refused_while_used(m: SDAManager) -> None:
    tok = token(m)
    sda = m.create_sda(tok, "", 3)
    refused(m, FailedPrecondition, m.delete_sdamodel, 3,
            reason=f"1 SDA still uses SDAModel 3 (SDA ID {sda.id}): change or delete it first.")
    other = token(m)
    m.update_token_max_sda(other, 11)
    ids = [m.create_sda(other, "", 3).id for _ in range(11)]
    shown = ", ".join(map(str, sorted([sda.id] + ids)[:10]))
    refused(m, FailedPrecondition, m.delete_sdamodel, 3,
            reason=f"12 SDAs still use SDAModel 3 (SDA IDs {shown}, ...): change or delete them first.")
    m.delete_sda(other)
    m.delete_sda(tok)
    m.delete_sdamodel(3)
    assert 3 not in m.models


# ---------------------------------------------------------------- SDA model groups


def test_create_sdamodelgroup(m: SDAManager) -> None:
    bg = m.create_backendgroup("bg1")
    mg = m.create_sdamodelgroup("mg1", bg.id, [1, 52])
    assert (mg.id, mg.name, mg.backend_group_id, mg.model_ids) == (1, "mg1", bg.id, [1, 52])
    assert m.create_sdamodelgroup("mg2", 0).model_ids == []
    refused(m, NotFound, m.create_sdamodelgroup, "mg3", 99, [1], reason="Backend group 99 does not exist.")
    refused(m, NotFound, m.create_sdamodelgroup, "mg3", 0, [1, 13], reason="SDAModel 13 does not exist.")
    refused(m, AlreadyExists, m.create_sdamodelgroup, "mg1", 0, [1],
            reason="An SDAModel group named 'mg1' already exists (id 1).")
    refused(m, InvalidArgument, m.create_sdamodelgroup, "mg3", 0, [1, 1])
    refused(m, InvalidArgument, m.create_sdamodelgroup, "bad name", 0)


def test_delete_sdamodelgroup(m: SDAManager) -> None:
    mg = m.create_sdamodelgroup("mg", 0, [1])
    m.delete_sdamodelgroup(mg.id)
    assert m.model_groups == {}
    refused(m, NotFound, m.delete_sdamodelgroup, mg.id)


def test_delete_sdamodelgroup_refused_when_used_unless_force(m: SDAManager) -> None:
    tok = token(m)
    mg = m.create_sdamodelgroup("mg", 0, [1])
    keep = m.create_sdamodelgroup("keep", 0, [1])
    ug = m.create_usergroup("ug", "", [])
    ug2 = m.create_usergroup("ug2", "", [])
    m.add_membership(ug.id, mg.id)
    m.add_membership(ug2.id, mg.id)
    m.add_membership(ug2.id, keep.id)
    refused(m, FailedPrecondition, m.delete_sdamodelgroup, mg.id,
            reason=f"SDAModel group {mg.id} (mg) is still used by 2 memberships: use force true to delete it anyway.")
    sda = m.create_sda(tok, "", 1, mg.id)
    refused(m, FailedPrecondition, m.delete_sdamodelgroup, mg.id, False,
            reason=f"SDAModel group {mg.id} (mg) is still used by 2 memberships and 1 SDA: "
                   "use force true to delete it anyway.")
    m.delete_sdamodelgroup(mg.id, True)
    assert mg.id not in m.model_groups
    assert m.memberships == {ug2.id: [keep.id]}
    assert m.sdas[sda.id].model_group_id == 0


def test_rename_sdamodelgroup(m: SDAManager) -> None:
    a = m.create_sdamodelgroup("a", 0)
    m.create_sdamodelgroup("b", 0)
    m.rename_sdamodelgroup(a.id, "c")
    assert m.model_groups[a.id].name == "c"
    m.rename_sdamodelgroup(a.id, "c")  # its own name is fine
    refused(m, AlreadyExists, m.rename_sdamodelgroup, a.id, "b")
    refused(m, InvalidArgument, m.rename_sdamodelgroup, a.id, "")
    refused(m, NotFound, m.rename_sdamodelgroup, 99, "z")


def test_set_sdamodelgroup_backendgroup(m: SDAManager) -> None:
    mg = m.create_sdamodelgroup("mg", 0)
    bg = m.create_backendgroup("bg")
    m.set_sdamodelgroup_backendgroup(mg.id, bg.id)
    assert m.model_groups[mg.id].backend_group_id == bg.id
    m.set_sdamodelgroup_backendgroup(mg.id, 0)
    assert m.model_groups[mg.id].backend_group_id == 0
    refused(m, NotFound, m.set_sdamodelgroup_backendgroup, mg.id, 42)
    refused(m, NotFound, m.set_sdamodelgroup_backendgroup, 42, 0)


def test_sdamodelgroup_model_list(m: SDAManager) -> None:
    mg = m.create_sdamodelgroup("mg", 0, [1])
    m.set_sdamodelgroup_models(mg.id, [3, 2])
    assert m.model_groups[mg.id].model_ids == [2, 3]  # by size, not as listed (test_member_order.py)
    refused(m, NotFound, m.set_sdamodelgroup_models, mg.id, [1, 99])
    refused(m, InvalidArgument, m.set_sdamodelgroup_models, mg.id, [1, 1])
    m.add_sdamodelgroup_model(mg.id, 52)
    assert m.model_groups[mg.id].model_ids == [2, 3, 52]  # 52: 12 devices, after 3 (4 devices)
    refused(m, AlreadyExists, m.add_sdamodelgroup_model, mg.id, 52,
            reason=f"SDAModel 52 is already in SDAModel group {mg.id}.")
    refused(m, NotFound, m.add_sdamodelgroup_model, mg.id, 99)
    m.remove_sdamodelgroup_model(mg.id, 2)
    assert m.model_groups[mg.id].model_ids == [3, 52]
    refused(m, NotFound, m.remove_sdamodelgroup_model, mg.id, 2,
            reason=f"SDAModel 2 is not in SDAModel group {mg.id}.")
    m.set_sdamodelgroup_models(mg.id, [])  # null empties it
    assert m.model_groups[mg.id].model_ids == []


def test_list_model_groups(m: SDAManager) -> None:
    a = m.create_sdamodelgroup("a", 0)
    b = m.create_sdamodelgroup("b", 0)
    assert [g.id for g in m.list_model_groups()] == [a.id, b.id]
    assert m.list_model_groups(b.id) == [b]
    with pytest.raises(NotFound):
        m.list_model_groups(9)


# ---------------------------------------------------------------- backends


def test_default_cluster() -> None:
    mgr = new_manager()
    backends = mgr.list_backends()
    assert [b.name for b in backends] == [f"back{i:02d}" for i in range(1, 61)]
    assert [b.id for b in backends] == list(range(1, 61))
    assert [b.ip for b in backends] == [f"192.168.110.{i}" for i in range(60)]
    for b in backends:
        assert b.group_id == DEFAULT_BACKEND_GROUP_ID
        assert b.status is BackendStatus.ACTIVE
        assert [d.index for d in b.devices] == list(range(8))
        assert all(d.status is DeviceStatus.IDLE and not d.held for d in b.devices)
    assert mgr.list_backend_groups() == [mgr.backend_groups[0]]
    assert mgr.backend_groups[0].name == DEFAULT_BACKEND_GROUP_NAME == "default_backend_group"
    assert len(mgr.events) == 0  # the seed is not an operator's change


def test_create_backend(m: SDAManager) -> None:
    b = m.create_backend("rx6900-7", "10.0.0.7", 4)
    assert (b.id, b.name, b.ip, b.group_id, b.status) == (5, "rx6900-7", "10.0.0.7", 0, BackendStatus.ACTIVE)
    assert [d.index for d in b.devices] == [0, 1, 2, 3]
    assert m.backends[5] is b
    refused(m, AlreadyExists, m.create_backend, "back01", "10.0.0.8", 8,
            reason="A backend named 'back01' already exists (id 1).")
    refused(m, AlreadyExists, m.create_backend, "new", "192.168.110.0", 8,
            reason="Backend 1 (back01) already has ip 192.168.110.0.")
    assert m.create_backend("one", "10.0.0.9", 1).devices[0].index == 0
    assert len(m.create_backend("big", "10.0.0.10", 1024).devices) == 1024


@pytest.mark.parametrize("ip", ["", "10.0.0", "10.0.0.256", "10.0.0.1/24", "host", "10.0.0.01", " 10.0.0.1"])
def test_create_backend_bad_ip(m: SDAManager, ip: str) -> None:
    refused(m, InvalidArgument, m.create_backend, "new", ip, 8,
            reason=f"Invalid ip address {ip!r}: expected e.g. 192.168.110.1.")


@pytest.mark.parametrize("count", [0, -1, 1025])
def test_create_backend_device_count_range(m: SDAManager, count: int) -> None:
    refused(m, InvalidArgument, m.create_backend, "new", "10.0.0.1", count,
            reason=f"Device count must be between 1 and 1024 (got {count}).")


def test_create_backend_bad_name(m: SDAManager) -> None:
    refused(m, InvalidArgument, m.create_backend, "two words", "10.0.0.1", 8)
    refused(m, InvalidArgument, m.create_backend, "", "10.0.0.1", 8)


def test_delete_backend(m: SDAManager) -> None:
    m.delete_backend(4)
    assert sorted(m.backends) == [1, 2, 3]
    refused(m, NotFound, m.delete_backend, 4, reason="Backend 4 does not exist.")


def test_delete_backend_refused_while_held_by_job(m: SDAManager) -> None:
    device(m, 2, 5).job_id = 31
    refused(m, FailedPrecondition, m.delete_backend, 2,
            reason="Backend 2 (back02) has devices in use (device 5 by job 31): release them first.")
    device(m, 2, 5).job_id = 0
    m.delete_backend(2)
    assert 2 not in m.backends


def test_delete_backend_refused_while_reserved(m: SDAManager) -> None:
    tok = token(m)
    sda = m.create_sda(tok, "", 4, reserved=True)
    backend_id = sda.held[0][0]
    err = refused(m, FailedPrecondition, m.delete_backend, backend_id, contains=f"by reserved SDA {sda.id}")
    assert str(err).endswith("; ...): release them first.")  # 8 devices, the first 4 listed
    m.delete_sda(tok)
    m.delete_backend(backend_id)


def test_update_backend_host_and_ip(m: SDAManager) -> None:
    m.update_backend_host(1, "gpu-01")
    assert m.backends[1].name == "gpu-01"
    m.update_backend_host(1, "gpu-01")
    refused(m, AlreadyExists, m.update_backend_host, 1, "back02")
    refused(m, InvalidArgument, m.update_backend_host, 1, "a b")
    refused(m, NotFound, m.update_backend_host, 9, "x")
    m.update_backend_ip(1, "10.1.1.1")
    assert m.backends[1].ip == "10.1.1.1"
    m.update_backend_ip(1, "10.1.1.1")  # its own ip is fine
    m.update_backend_ip(1, "::1")
    assert m.backends[1].ip == "::1"
    refused(m, AlreadyExists, m.update_backend_ip, 1, "192.168.110.1",
            reason="Backend 2 (back02) already has ip 192.168.110.1.")
    refused(m, InvalidArgument, m.update_backend_ip, 1, "1.2.3")


def test_update_backend_status(m: SDAManager) -> None:
    m.update_backend_status(1, BackendStatus.SHUTDOWN)
    assert m.backends[1].status is BackendStatus.SHUTDOWN
    m.update_backend_status(1, BackendStatus.ACTIVE)
    assert m.backends[1].status is BackendStatus.ACTIVE
    refused(m, InvalidArgument, m.update_backend_status, 1, "DOWN",
            reason="Backend status must be SHUTDOWN or ACTIVE.")


def test_update_backend_group(m: SDAManager) -> None:
    bg = m.create_backendgroup("bg")
    m.update_backend_group(1, bg.id)
    assert m.backends[1].group_id == bg.id
    m.update_backend_group(1, 0)
    assert m.backends[1].group_id == 0
    refused(m, NotFound, m.update_backend_group, 1, 42, reason="Backend group 42 does not exist.")


def test_update_device_status(m: SDAManager) -> None:
    for status in DeviceStatus:
        m.update_device_status(1, 7, status)
        assert device(m, 1, 7).status is status
    refused(m, NotFound, m.update_device_status, 1, 8, DeviceStatus.IDLE,
            reason="Backend 1 has no device 8 (devices 0..7).")
    refused(m, NotFound, m.update_device_status, 1, -1, DeviceStatus.IDLE)
    refused(m, InvalidArgument, m.update_device_status, 1, 0, "BROKEN")


def test_update_device_status_held_by_job(m: SDAManager) -> None:
    tok = token(m)
    sda = m.create_sda(tok, "", 1)
    job = add_job(m, tok, sda.id, [(1, 2)])
    # A job's devices are PREPARING or PROCESSING: nothing else may be forced on them.
    for status in (DeviceStatus.IDLE, DeviceStatus.SHUTDOWN, DeviceStatus.CLEANING):
        refused(m, FailedPrecondition, m.update_device_status, 1, 2, status,
                reason=f"Device 2 of backend 1 is held by job {job.feid}: release the job first (release {job.feid}).")
    m.update_device_status(1, 2, DeviceStatus.PREPARING)
    assert device(m, 1, 2).status is DeviceStatus.PREPARING
    assert device(m, 1, 2).job_id == job.feid


def test_update_device_status_held_by_reservation_is_allowed(m: SDAManager) -> None:
    tok = token(m)
    sda = m.create_sda(tok, "", 1, reserved=True)
    (b, i), = sda.held
    m.update_device_status(b, i, DeviceStatus.SHUTDOWN)
    assert device(m, b, i).status is DeviceStatus.SHUTDOWN
    assert device(m, b, i).sda_id == sda.id


def test_update_all_device_status(m: SDAManager) -> None:
    m.update_all_device_status(2, DeviceStatus.SHUTDOWN)
    assert all(d.status is DeviceStatus.SHUTDOWN for d in m.backends[2].devices)
    assert all(d.status is DeviceStatus.IDLE for d in m.backends[1].devices)
    m.update_all_device_status(2, DeviceStatus.IDLE)
    assert all(d.status is DeviceStatus.IDLE for d in m.backends[2].devices)


def test_update_all_device_status_is_all_or_nothing(m: SDAManager) -> None:
    device(m, 3, 0).status = DeviceStatus.CLEANING
    device(m, 3, 6).job_id = 12
    device(m, 3, 6).status = DeviceStatus.PROCESSING
    for status in (DeviceStatus.IDLE, DeviceStatus.SHUTDOWN):
        refused(m, FailedPrecondition, m.update_all_device_status, 3, status,
                reason="Device 6 of backend 3 is held by job 12: release the job first (release 12).")
    assert [d.status for d in m.backends[3].devices] == (
        [DeviceStatus.CLEANING] + [DeviceStatus.IDLE] * 5 + [DeviceStatus.PROCESSING, DeviceStatus.IDLE])
    refused(m, InvalidArgument, m.update_all_device_status, 3, "NOPE")
    m.update_all_device_status(3, DeviceStatus.PREPARING)  # not a freeing status: fine
    assert all(d.status is DeviceStatus.PREPARING for d in m.backends[3].devices)
    refused(m, NotFound, m.update_all_device_status, 9, DeviceStatus.IDLE)


def test_list_backends_order_and_filters(m: SDAManager) -> None:
    m.update_backend_host(1, "zeta")
    m.update_backend_host(3, "alpha")
    bg = m.create_backendgroup("bg", [1, 2])
    assert [b.id for b in m.list_backends()] == [1, 2, 3, 4]
    assert [b.name for b in m.list_backends(order="name")] == ["alpha", "back02", "back04", "zeta"]
    # by group: default group (0) first, then by name within a group
    assert [(b.group_id, b.name) for b in m.list_backends(order="group")] == [
        (0, "alpha"), (0, "back04"), (bg.id, "back02"), (bg.id, "zeta")]
    assert [b.id for b in m.list_backends(group_id=bg.id)] == [1, 2]
    assert [b.id for b in m.list_backends(group_id=0)] == [3, 4]
    assert [b.id for b in m.list_backends(name="alpha")] == [3]
    assert [b.id for b in m.list_backends(backend_id=4)] == [4]
    with pytest.raises(NotFound):
        m.list_backends(name="nope")
    with pytest.raises(NotFound):
        m.list_backends(group_id=42)
    with pytest.raises(NotFound):
        m.list_backends(backend_id=42)


# ---------------------------------------------------------------- backend groups


def test_default_backend_group_is_fixed(m: SDAManager) -> None:
    msg = ("Backend group 0 (default_backend_group) holds every backend of no other group "
           "and cannot be changed.")
    refused(m, FailedPrecondition, m.rename_backendgroup, 0, "x", reason=msg)
    refused(m, FailedPrecondition, m.delete_backendgroup, 0, reason=msg)
    refused(m, FailedPrecondition, m.delete_backendgroup, 0, True, reason=msg)
    refused(m, FailedPrecondition, m.set_backendgroup_backends, 0, [1], reason=msg)
    refused(m, FailedPrecondition, m.add_backendgroup_backend, 0, 1, reason=msg)
    refused(m, FailedPrecondition, m.remove_backendgroup_backend, 0, 1, reason=msg)
    refused(m, AlreadyExists, m.create_backendgroup, "default_backend_group",
            reason="A backend group named 'default_backend_group' already exists (id 0).")
    assert m.backend_groups[0].name == "default_backend_group"


def test_create_backendgroup_with_backends(m: SDAManager) -> None:
    bg = m.create_backendgroup("bg1", [2, 3])
    assert (bg.id, bg.name) == (1, "bg1")
    assert m.backend_groups[1] is bg
    assert [b.group_id for b in m.list_backends()] == [0, 1, 1, 0]
    refused(m, FailedPrecondition, m.create_backendgroup, "bg2", [4, 3],
            reason="Backend 3 (back03) is in backend group 1 (bg1): "
                   "only backends of the default group or of this group can be listed.")
    refused(m, NotFound, m.create_backendgroup, "bg2", [4, 42], reason="Backend 42 does not exist.")
    refused(m, InvalidArgument, m.create_backendgroup, "bg2", [4, 4])
    refused(m, AlreadyExists, m.create_backendgroup, "bg1")
    refused(m, InvalidArgument, m.create_backendgroup, "bad name")
    assert m.backends[4].group_id == 0  # none of the refused lists moved it
    assert m.create_backendgroup("empty").id == 2


def test_set_backendgroup_backends(m: SDAManager) -> None:
    bg1 = m.create_backendgroup("bg1", [1, 2])
    bg2 = m.create_backendgroup("bg2", [3])
    m.set_backendgroup_backends(bg1.id, [2, 4])  # 2 stays, 4 joins from default, 1 goes back
    assert {b.id: b.group_id for b in m.backends.values()} == {1: 0, 2: bg1.id, 3: bg2.id, 4: bg1.id}
    refused(m, FailedPrecondition, m.set_backendgroup_backends, bg1.id, [1, 3],
            contains="Backend 3 (back03) is in backend group 2 (bg2)")
    refused(m, NotFound, m.set_backendgroup_backends, 42, [1])
    m.set_backendgroup_backends(bg1.id, [])  # null empties it
    assert {b.id: b.group_id for b in m.backends.values()} == {1: 0, 2: 0, 3: bg2.id, 4: 0}


def test_add_remove_backendgroup_backend(m: SDAManager) -> None:
    bg1 = m.create_backendgroup("bg1")
    bg2 = m.create_backendgroup("bg2", [2])
    m.add_backendgroup_backend(bg1.id, 1)
    assert m.backends[1].group_id == bg1.id
    refused(m, AlreadyExists, m.add_backendgroup_backend, bg1.id, 1,
            reason=f"Backend 1 is already in backend group {bg1.id}.")
    refused(m, FailedPrecondition, m.add_backendgroup_backend, bg1.id, 2)
    refused(m, NotFound, m.add_backendgroup_backend, bg1.id, 42)
    m.remove_backendgroup_backend(bg1.id, 1)
    assert m.backends[1].group_id == 0
    refused(m, NotFound, m.remove_backendgroup_backend, bg1.id, 1,
            reason=f"Backend 1 is not in backend group {bg1.id}.")
    refused(m, NotFound, m.remove_backendgroup_backend, bg1.id, 2)
    assert m.backends[2].group_id == bg2.id


def test_rename_backendgroup(m: SDAManager) -> None:
    a = m.create_backendgroup("a")
    m.create_backendgroup("b")
    m.rename_backendgroup(a.id, "c")
    assert m.backend_groups[a.id].name == "c"
    refused(m, AlreadyExists, m.rename_backendgroup, a.id, "b")
    refused(m, AlreadyExists, m.rename_backendgroup, a.id, "default_backend_group")
    refused(m, NotFound, m.rename_backendgroup, 42, "z")


def test_delete_backendgroup(m: SDAManager) -> None:
    bg = m.create_backendgroup("bg")
    m.delete_backendgroup(bg.id)
    assert list(m.backend_groups) == [0]
    refused(m, NotFound, m.delete_backendgroup, bg.id, reason=f"Backend group {bg.id} does not exist.")


def test_delete_backendgroup_refused_when_used_unless_force(m: SDAManager) -> None:
    bg = m.create_backendgroup("bg", [1, 2])
    refused(m, FailedPrecondition, m.delete_backendgroup, bg.id,
            reason=f"Backend group {bg.id} (bg) still has 2 backends: use force true to delete it anyway.")
    mg = m.create_sdamodelgroup("mg", bg.id, [1])
    refused(m, FailedPrecondition, m.delete_backendgroup, bg.id, False,
            reason=f"Backend group {bg.id} (bg) still has 2 backends and 1 SDAModel group: "
                   "use force true to delete it anyway.")
    m.delete_backendgroup(bg.id, True)
    assert bg.id not in m.backend_groups
    assert all(b.group_id == 0 for b in m.backends.values())
    assert m.model_groups[mg.id].backend_group_id == 0


def test_delete_backendgroup_used_only_by_model_group(m: SDAManager) -> None:
    bg = m.create_backendgroup("bg")
    m.create_sdamodelgroup("mg", bg.id)
    refused(m, FailedPrecondition, m.delete_backendgroup, bg.id,
            reason=f"Backend group {bg.id} (bg) still has 1 SDAModel group: use force true to delete it anyway.")


def test_list_backend_groups(m: SDAManager) -> None:
    b = m.create_backendgroup("b")
    a = m.create_backendgroup("a")
    assert [g.id for g in m.list_backend_groups()] == [0, b.id, a.id]
    assert m.list_backend_groups(a.id) == [a]
    with pytest.raises(NotFound):
        m.list_backend_groups(42)


# ---------------------------------------------------------------- user groups


def test_create_usergroup(m: SDAManager) -> None:
    a, b = token(m), token(m)
    ug = m.create_usergroup("group_C", "TEST", [a, b])
    assert (ug.id, ug.name, ug.description, ug.tokens) == (1, "group_C", "TEST", [a, b])
    assert m.user_groups[1] is ug
    assert m.create_usergroup("empty").tokens == []
    refused(m, NotFound, m.create_usergroup, "g", "", [a, "nope"], reason="Token 'nope' does not exist.")
    refused(m, AlreadyExists, m.create_usergroup, "group_C", "",
            reason="A user group named 'group_C' already exists (id 1).")
    refused(m, InvalidArgument, m.create_usergroup, "g", "", [a, a])
    refused(m, InvalidArgument, m.create_usergroup, "my team", "")
    refused(m, InvalidArgument, m.create_usergroup, "g", "bad\n")


def test_token_may_be_in_many_user_groups(m: SDAManager) -> None:
    a = token(m)
    g1 = m.create_usergroup("g1", "", [a])
    g2 = m.create_usergroup("g2", "", [a])
    assert m.state.token_user_groups(a) == [g1, g2]


def test_set_usergroup_tokens(m: SDAManager) -> None:
    a, b, c = token(m), token(m), token(m)
    ug = m.create_usergroup("g", "", [a])
    m.set_usergroup_tokens(ug.id, [c, b])
    assert m.user_groups[ug.id].tokens == [b, c]  # oldest token first, not as listed (test_member_order.py)
    refused(m, NotFound, m.set_usergroup_tokens, ug.id, [a, "nope"])
    refused(m, InvalidArgument, m.set_usergroup_tokens, ug.id, [a, a])
    refused(m, NotFound, m.set_usergroup_tokens, 42, [a], reason="User group 42 does not exist.")
    m.set_usergroup_tokens(ug.id, [])
    assert m.user_groups[ug.id].tokens == []


def test_add_remove_usergroup_token(m: SDAManager) -> None:
    a, b = token(m), token(m)
    ug = m.create_usergroup("group_C", "", [b])
    m.add_usergroup_token(ug.id, a)
    assert m.user_groups[ug.id].tokens == [a, b]  # oldest token first, not as they joined
    refused(m, AlreadyExists, m.add_usergroup_token, ug.id, a,
            reason=f"The token is already in user group {ug.id} (group_C).")
    refused(m, NotFound, m.add_usergroup_token, ug.id, "nope")
    m.remove_usergroup_token(ug.id, b)
    assert m.user_groups[ug.id].tokens == [a]
    refused(m, NotFound, m.remove_usergroup_token, ug.id, b,
            reason=f"The token is not in user group {ug.id} (group_C).")
    refused(m, NotFound, m.remove_usergroup_token, 42, a)


def test_rename_usergroup(m: SDAManager) -> None:
    a = m.create_usergroup("a")
    m.create_usergroup("b")
    m.rename_usergroup(a.id, "c")
    assert m.user_groups[a.id].name == "c"
    refused(m, AlreadyExists, m.rename_usergroup, a.id, "b")
    refused(m, NotFound, m.rename_usergroup, 42, "z")


def test_delete_usergroup(m: SDAManager) -> None:
    ug = m.create_usergroup("g")
    m.delete_usergroup(ug.id)
    assert m.user_groups == {}
    refused(m, NotFound, m.delete_usergroup, ug.id)


def test_delete_usergroup_refused_unless_force(m: SDAManager) -> None:
    a, b = token(m), token(m)
    mg = m.create_sdamodelgroup("mg", 0, [1])
    ug = m.create_usergroup("g", "", [a, b])
    refused(m, FailedPrecondition, m.delete_usergroup, ug.id,
            reason=f"User group {ug.id} (g) still has 2 tokens: use force true to delete it anyway.")
    m.add_membership(ug.id, mg.id)
    refused(m, FailedPrecondition, m.delete_usergroup, ug.id, False,
            reason=f"User group {ug.id} (g) still has 2 tokens and 1 membership: use force true to delete it anyway.")
    m.set_usergroup_tokens(ug.id, [])
    refused(m, FailedPrecondition, m.delete_usergroup, ug.id,
            reason=f"User group {ug.id} (g) still has 1 membership: use force true to delete it anyway.")
    m.set_usergroup_tokens(ug.id, [a])
    m.delete_usergroup(ug.id, True)
    assert m.user_groups == {}
    assert m.memberships == {}
    assert set(m.tokens) == {a, b}  # the tokens themselves stay
    assert m.allowed_model_groups(a) is None


# ---------------------------------------------------------------- memberships


def test_memberships(m: SDAManager) -> None:
    ug1 = m.create_usergroup("ug1")
    ug2 = m.create_usergroup("ug2")
    mg1 = m.create_sdamodelgroup("mg1", 0)
    mg2 = m.create_sdamodelgroup("mg2", 0)
    assert m.add_membership(ug1.id, mg2.id) == [mg2.id]
    assert m.add_membership(ug1.id, mg1.id) == [mg1.id, mg2.id]  # by id, not as they joined
    m.add_membership(ug2.id, mg1.id)
    assert m.memberships == {ug1.id: [mg1.id, mg2.id], ug2.id: [mg1.id]}
    refused(m, AlreadyExists, m.add_membership, ug1.id, mg1.id,
            reason=f"User group {ug1.id} already has a membership with SDAModel group {mg1.id}.")
    refused(m, NotFound, m.add_membership, 42, mg1.id, reason="User group 42 does not exist.")
    refused(m, NotFound, m.add_membership, ug1.id, 42, reason="SDAModel group 42 does not exist.")
    assert m.list_memberships() == [(ug1, [mg1, mg2]), (ug2, [mg1])]
    assert m.list_memberships(ug2.id) == [(ug2, [mg1])]
    assert m.remove_membership(ug1.id, mg2.id) == [mg1.id]
    refused(m, NotFound, m.remove_membership, ug1.id, mg2.id,
            reason=f"User group {ug1.id} has no membership with SDAModel group {mg2.id}.")
    m.remove_membership(ug2.id, mg1.id)
    assert m.memberships == {ug1.id: [mg1.id]}
    assert m.list_memberships() == [(ug1, [mg1]), (ug2, [])]
    with pytest.raises(NotFound):
        m.list_memberships(42)


# ---------------------------------------------------------------- jobs (administrative side)


def test_update_job_priority_only_for_waiting_jobs(m: SDAManager) -> None:
    tok = token(m)
    sda = m.create_sda(tok, "", 1)
    m.update_token_duplicable(tok, 0)
    for b in m.backends.values():  # every device busy: a new job has to wait
        for d in b.devices:
            d.status = DeviceStatus.SHUTDOWN
    waiting = m.request_devices(tok)
    assert waiting.status is JobStatus.QUEUED
    m.update_job_priority(waiting.feid, 7)
    assert m.jobs[waiting.feid].priority == 7
    refused(m, InvalidArgument, m.update_job_priority, waiting.feid, 100)
    running = add_job(m, tok, sda.id, [(1, 0)])
    refused(m, FailedPrecondition, m.update_job_priority, running.feid, 1,
            reason=f"Job {running.feid} is RUNNING: only waiting (QUEUED) jobs can change priority.")
    refused(m, NotFound, m.update_job_priority, 999, 1)


def test_release_frees_devices_and_moves_to_history(m: SDAManager, clock: FakeClock) -> None:
    tok = token(m)
    m.update_token_max_sda(tok, 2)
    sda = m.create_sda(tok, "", 2)
    other = m.create_sda(tok, "", 2)
    job = add_job(m, tok, sda.id, [(1, 0), (1, 1)])
    job2 = add_job(m, tok, other.id, [(2, 0), (2, 1)])
    clock.advance(5)
    assert m.release(feid=job.feid) == [job.feid]
    assert job.feid not in m.jobs
    assert m.history[-1].status is JobStatus.RELEASED and m.history[-1].end_time == clock.now
    assert device(m, 1, 0).status is DeviceStatus.IDLE and not device(m, 1, 0).held
    refused(m, NotFound, m.release, feid=job.feid)
    refused(m, NotFound, m.release, feid=job2.feid, sda_id=sda.id)
    refused(m, NotFound, m.release, token=tok, sda_id=sda.id)
    refused(m, InvalidArgument, m.release)
    assert m.release(token=tok) == [job2.feid]
    assert m.jobs == {}
    assert all(not d.held for b in m.backends.values() for d in b.devices)


# ---------------------------------------------------------------- versions


def test_versions(m: SDAManager) -> None:
    v = m.create_version("23.9.2", "/opt/moreh/23.9.2")
    assert (v.version, v.path, v.latest, v.supported, v.env) == ("23.9.2", "/opt/moreh/23.9.2", False, True, {})
    refused(m, AlreadyExists, m.create_version, "23.9.2", "/x", reason="Version 23.9.2 already exists.")
    refused(m, InvalidArgument, m.create_version, "bad version", "/x")
    refused(m, InvalidArgument, m.create_version, "", "/x")
    refused(m, InvalidArgument, m.create_version, "24.1.0", "")
    m.create_version("24.1.0", "/opt/moreh/24.1.0")
    assert [x.version for x in m.list_versions()] == ["23.9.2", "24.1.0"]
    assert m.list_versions("24.1.0") == [m.versions["24.1.0"]]
    with pytest.raises(NotFound):
        m.list_versions("1.0")


def test_version_updates(m: SDAManager) -> None:
    m.create_version("1.0", "/a")
    m.update_version_health_check("1.0", "nvidia-smi -L")
    m.update_version_path("1.0", "/b")
    m.update_version_query("1.0", "query --all")
    m.update_version_worker("1.0", "worker --port 1")
    m.update_version_support("1.0", False)
    v = m.versions["1.0"]
    assert (v.health_check, v.path, v.query, v.worker, v.supported) == (
        "nvidia-smi -L", "/b", "query --all", "worker --port 1", False)
    refused(m, InvalidArgument, m.update_version_path, "1.0", "", reason="Installed path must not be empty.")
    refused(m, InvalidArgument, m.update_version_worker, "1.0", "a\nb")
    refused(m, InvalidArgument, m.update_version_query, "1.0", "x" * 4097)
    m.update_version_query("1.0", "")  # other commands may be cleared
    assert m.versions["1.0"].query == ""
    for call in (m.update_version_health_check, m.update_version_path, m.update_version_query,
                 m.update_version_worker):
        refused(m, NotFound, call, "9.9", "x", reason="Version '9.9' does not exist.")
    refused(m, NotFound, m.update_version_support, "9.9", True)


def test_latest_version_is_unique(m: SDAManager) -> None:
    for v in ("1.0", "2.0", "3.0"):
        m.create_version(v, "/" + v)
    m.set_latest_version("2.0")
    m.set_latest_version("3.0")
    assert [v.version for v in m.versions.values() if v.latest] == ["3.0"]
    m.set_latest_version("1.0")
    assert [v.version for v in m.versions.values() if v.latest] == ["1.0"]
    refused(m, NotFound, m.set_latest_version, "4.0")
    assert [v.version for v in m.versions.values() if v.latest] == ["1.0"]


def test_latest_version_names_the_latest_or_nothing(m: SDAManager) -> None:
    assert m.latest_version() == ""
    m.create_version("1.0", "/a")
    m.create_version("2.0", "/b")
    assert m.latest_version() == ""
    m.set_latest_version("2.0")
    assert m.latest_version() == "2.0"
    m.delete_version("2.0")
    assert m.latest_version() == ""


def test_worker_env(m: SDAManager) -> None:
    m.create_version("1.0", "/a")
    m.add_worker_env("1.0", "A", "1")
    m.add_worker_env("1.0", "A", "2")
    m.add_worker_env("1.0", "B", "x")
    assert m.versions["1.0"].env == {"A": "2", "B": "x"}
    refused(m, InvalidArgument, m.add_worker_env, "1.0", "9A", "1")
    refused(m, NotFound, m.add_worker_env, "2.0", "A", "1")
    m.remove_worker_env("1.0", "A")
    assert m.versions["1.0"].env == {"B": "x"}
    refused(m, NotFound, m.remove_worker_env, "1.0", "A",
            reason="Version 1.0 has no worker environment variable 'A'.")


def test_delete_version(m: SDAManager) -> None:
    m.create_version("1.0", "/a")
    m.delete_version("1.0")
    assert m.versions == {}
    refused(m, NotFound, m.delete_version, "1.0")


# ---------------------------------------------------------------- event log


def test_event_log_records_success_and_failure(m: SDAManager, clock: FakeClock) -> None:
    tok = m.create_token("babu", 3).value
    ev = m.events[-1]
    assert (ev.action, ev.token, ev.result, ev.time) == ("CREATE_TOKEN", tok, "SUCCESS", clock.now)
    assert json.loads(ev.request) == {"description": "babu", "priority": 3}
    m.update_token_max_sda(tok, 2)
    m.create_sda(tok, "a", 1)
    m.create_sda(tok, "b", 1)
    clock.advance(10)
    with pytest.raises(FailedPrecondition):
        m.delete_token(tok)
    ev = m.events[-1]
    assert (ev.action, ev.token, ev.time) == ("DELETE_TOKEN", tok, clock.now)
    assert json.loads(ev.request) == {"token": tok}
    assert ev.result == "FAILED: The token still has 2 SDAs: delete them first."
    assert [e.action for e in m.events] == [
        "CREATE_TOKEN", "UPDATE_TOKEN_MAX_SDA", "CREATE_SDA", "CREATE_SDA", "DELETE_TOKEN"]
    ids = [e.id for e in m.events]
    assert ids == sorted(ids) and len(set(ids)) == len(ids)


def test_event_log_request_is_json_of_the_arguments(m: SDAManager) -> None:
    tok = token(m)
    m.update_token_access_level(tok, AccessLevel.ADMIN)
    assert json.loads(m.events[-1].request) == {"token": tok, "access_level": "ADMIN"}
    m.create_backendgroup("bg", [1, 2])
    ev = m.events[-1]
    assert (ev.action, ev.token) == ("CREATE_BACKENDGROUP", "")
    assert json.loads(ev.request) == {"name": "bg", "backend_ids": [1, 2]}
    with pytest.raises(InvalidArgument):
        m.create_token("", 1)
    ev = m.events[-1]
    assert (ev.action, ev.token, ev.result) == ("CREATE_TOKEN", "", "FAILED: Description must not be empty.")
    m.create_usergroup("한국팀", "여기 추가", [tok])
    assert json.loads(m.events[-1].request) == {"name": "한국팀", "description": "여기 추가", "tokens": [tok]}


def test_event_log_records_the_peer(m: SDAManager) -> None:
    reset = request_peer.set("ipv4:127.0.0.1:50312")
    try:
        token(m)
    finally:
        request_peer.reset(reset)
    assert m.events[-1].peer == "ipv4:127.0.0.1:50312"
    token(m)
    assert m.events[-1].peer == ""


def test_reads_are_not_recorded(m: SDAManager, groups: dict) -> None:
    m.create_version("1.0", "/a")
    n = len(m.events)
    m.list_tokens()
    m.list_tokens(running_only=True)
    m.list_sdas()
    m.list_models()
    m.allowed_models(groups["a"])
    m.list_model_groups()
    m.list_backends(order="group")
    m.list_backend_groups()
    m.list_user_groups()
    m.list_memberships()
    m.list_jobs()
    m.list_history()
    m.list_versions()
    m.list_events()
    with pytest.raises(NotFound):
        m.list_backends(name="nope")
    assert len(m.events) == n


CHANGES = {
    "create_token", "delete_token", "update_token_priority", "update_token_description",
    "update_token_access_level", "update_token_max_sda", "update_token_current_sda",
    "update_token_duplicable", "add_token_env", "remove_token_env", "create_sda", "update_sda",
    "delete_sda", "create_sdamodel", "delete_sdamodel", "create_sdamodelgroup", "delete_sdamodelgroup",
    "rename_sdamodelgroup", "set_sdamodelgroup_backendgroup", "set_sdamodelgroup_models",
    "add_sdamodelgroup_model", "remove_sdamodelgroup_model", "create_backend", "delete_backend",
    "update_backend_host", "update_backend_ip", "update_backend_status", "update_backend_group",
    "update_device_status", "update_all_device_status", "create_backendgroup", "delete_backendgroup",
    "rename_backendgroup", "set_backendgroup_backends", "add_backendgroup_backend",
    "remove_backendgroup_backend", "create_usergroup", "delete_usergroup", "rename_usergroup",
    "set_usergroup_tokens", "add_usergroup_token", "remove_usergroup_token", "add_membership",
    "remove_membership", "update_job_priority", "release", "release_all", "create_version",
    "delete_version", "update_version_health_check", "update_version_path", "update_version_query",
    "update_version_worker", "update_version_support", "set_latest_version", "add_worker_env",
    "remove_worker_env",
    # The customer's side (moreh-smi, moreh-switch-model): tested in test_customer_side.
    "switch_model", "add_device", "remove_device", "switch_device", "reset_device",
}


def test_every_change_is_a_recorded_operation() -> None:
    recorded = {kind.name for kind in REGISTRY}
    # The VM side's changes are tested in test_scheduler; no read is a change (the journal would replay it).
    assert recorded == CHANGES | {"request_devices", "report_running", "finish_job"}
    m = SDAManager()
    services = {type(service): service for service in m.rules}
    for kind in REGISTRY:  # each is its service's operation of that name, whose rule replay runs,
        operation = getattr(services[kind.owner], kind.name)
        assert operation.__wrapped__ is kind.rule
        assert getattr(m, kind.name) == operation  # and the manager's


def test_a_change_of_the_same_name_cannot_be_added_twice() -> None:
    with pytest.raises(ValueError, match="two changes are named 'create_token'"):
        REGISTRY.add(REGISTRY.find("create_token").rule, object())


@pytest.mark.parametrize(("action", "arguments", "reason"), [
    ("create_token", {"description": "x", "priority": "high"}, "its argument priority is 'high', not an integer"),
    ("create_token", {"priority": 1}, "its argument description is missing"),
    ("create_token", {"description": "x", "priority": 1, "color": 2}, "create_token takes no argument 'color'"),
    ("create_token", ["x", 1], "they are ['x', 1], not an object of named arguments"),
    ("update_token_access_level", {"token": "t", "access_level": "ROOT"},
     "its argument access_level is 'ROOT', not one of USER, ADMIN, DEVELOPER"),
    ("set_usergroup_tokens", {"group_id": 1, "tokens": ["a", 2]}, "its argument tokens is 2, not text"),
    ("create_usergroup", {"name": "g", "description": "", "tokens": "abc"}, "its argument tokens is 'abc', not a list"),
    ("release", {"feid": 2**64, "token": "", "sda_id": 0}, "its argument feid is 18446744073709551616, not an integer "
                                                           "of 64 bits"),
    ("update_token_duplicable", {"token": "t", "duplicable": True}, "its argument duplicable is True, not an integer"),
])
def test_a_replayed_change_whose_arguments_are_not_its_types_is_refused_naming_the_argument(
        m: SDAManager, action: str, arguments: object, reason: str) -> None:
    with pytest.raises(DamagedArguments) as refused:
        m.replay(action, arguments, at=1.0)
    assert str(refused.value) == reason
    assert len(m.events) == 0 and not m.tokens  # nothing ran


def test_optional_arguments_replay_as_none_or_their_type(m: SDAManager) -> None:
    assert REGISTRY.find("create_usergroup").decode({"name": "g", "description": "", "tokens": None}) == {
        "name": "g", "description": "", "tokens": None}
    m.replay("create_usergroup", {"name": "g", "description": "", "tokens": None}, at=1.0)
    assert [g.name for g in m.user_groups.values()] == ["g"]


@pytest.mark.parametrize("name", sorted(CHANGES))
def test_every_change_is_recorded_even_when_refused(m: SDAManager, name: str) -> None:
    """Call each change with ids that do not exist: it is refused and still logged under its name."""
    method = getattr(m, name)
    args = []
    for p in inspect.signature(method).parameters.values():
        if p.default is not inspect.Parameter.empty:
            continue
        ann = str(p.annotation)
        if "list[int]" in ann:
            args.append([424242])
        elif "list[str]" in ann:
            args.append(["nope"])
        elif "int" in ann:
            args.append(424242)
        elif "Status" in ann:
            args.append(DeviceStatus.IDLE if "Device" in ann else BackendStatus.ACTIVE)
        elif "AccessLevel" in ann:
            args.append(AccessLevel.ADMIN)
        else:
            args.append("nope")
    n = len(m.events)
    try:
        method(*args)
    except DomainError as err:
        assert m.events[-1].result == f"FAILED: {err}"
    else:
        assert m.events[-1].result == "SUCCESS"
    assert len(m.events) == n + 1
    assert m.events[-1].action == name.upper()


# ---------------------------------------------------------------- time, queries, the journal


class TickingClock:
    """A clock that moves at every look: what a real clock does between two reads."""

    def __init__(self) -> None:
        self.now = 1_700_000_000.0

    def __call__(self) -> float:
        self.now += 1
        return self.now


class BrokenJournal(MemoryJournal):
    def record_change(self, when: float, action: str, arguments: str, made: str, peer: str) -> None:
        raise JournalError("disk full")

    def record_refusal(self, when: float, action: str, arguments: str, token: str, result: str,
                       peer: str) -> None:
        raise JournalError("disk full")


def test_a_change_happens_at_one_instant_whatever_the_clock_does() -> None:
    mgr = new_manager(backends=1, devices=8, clock=TickingClock())
    mgr.journal = journal = MemoryJournal()
    tok = mgr.create_token("t")
    assert tok.created == mgr.events[-1].time == journal.changes[-1][0]
    sda = mgr.create_sda(tok.value, "", 1)
    assert sda.created == mgr.events[-1].time == journal.changes[-1][0] > tok.created
    job = mgr.request_devices(tok.value)
    assert job.status is JobStatus.RUNNING  # placed and started by the same change, at its instant
    assert job.request_time == job.start_time == mgr.events[-1].time == journal.changes[-1][0]


def test_queries_see_the_state_as_of_now(clock: FakeClock) -> None:
    mgr = new_manager(backends=1, devices=8, clock=clock, prepare_seconds=5, clean_seconds=3)
    tok = token(mgr)
    mgr.create_sda(tok, "", 1)
    job = mgr.request_devices(tok)
    assert job.status is JobStatus.SUMMITED
    clock.advance(5)
    assert mgr.job(job.feid).status is JobStatus.RUNNING
    assert [j.start_time for j in mgr.list_jobs()] == [clock.now]
    mgr.finish_job(job.feid)
    clock.advance(3)
    assert mgr.list_backends()[0].devices[0].status is DeviceStatus.IDLE


def test_the_journal_gets_every_change_and_refusal_with_what_it_made_up(m: SDAManager, clock: FakeClock) -> None:
    m.journal = journal = MemoryJournal()
    reset = request_peer.set("ipv4:10.0.0.1:4000")
    try:
        tok = token(m)
    finally:
        request_peer.reset(reset)
    clock.advance(2)
    with pytest.raises(NotFound):
        m.delete_sda(tok, 7)
    m.update_token_priority(tok, 4)
    assert journal.changes == [
        (clock.now - 2, "create_token", json.dumps({"description": "team", "priority": 0}), tok,
         "ipv4:10.0.0.1:4000"),
        (clock.now, "update_token_priority", json.dumps({"token": tok, "priority": 4}), "", ""),
    ]
    assert [(r[0], r[1], r[3], r[4]) for r in journal.refusals] == [
        (clock.now, "delete_sda", tok, "FAILED: SDA 7 does not exist.")]


def test_changes_inside_a_read_each_make_up_and_journal_their_own_token(m: SDAManager, clock: FakeClock) -> None:
    """The gRPC face runs a change and the conversion of its result as one read."""
    m.journal = journal = MemoryJournal()
    made = [m.read(lambda d=d: m.create_token(d).value) for d in ("first", "second one")]
    clock.advance(1)
    plain = m.create_token("third").value
    assert len({*made, plain}) == 3
    assert [t.description for t in m.list_tokens()] == ["first", "second one", "third"]
    assert [change[3] for change in journal.changes] == [*made, plain]
    m.read(lambda: m.update_token_priority(plain, 2))
    assert journal.changes[-1][3] == ""  # a change that makes nothing up journals nothing made


def test_replaying_the_journal_builds_the_same_state(m: SDAManager, clock: FakeClock) -> None:
    m.journal = journal = MemoryJournal()
    tok = token(m)
    m.update_token_access_level(tok, AccessLevel.ADMIN)  # an enum: back from JSON
    clock.advance(3)
    m.create_sda(tok, "s", 1)
    m.request_devices(tok)
    again = new_manager(backends=4, devices=8, clock=FakeClock(0))  # its own clock never counts
    for when, action, arguments, made, peer in journal.changes:
        again.replay(action, json.loads(arguments), at=when, made=made, peer=peer)
    assert again.tokens == m.tokens and again.sdas == m.sdas and again.jobs == m.jobs
    assert [(e.time, e.action, e.request) for e in again.events] == [(e.time, e.action, e.request) for e in m.events]


def test_only_a_change_can_be_replayed(m: SDAManager) -> None:
    for name in ("list_tokens", "token", "no_such_thing"):
        with pytest.raises(NotAChange):
            m.replay(name, {}, at=1.0)
    assert len(m.events) == 0


def test_a_change_the_journal_cannot_save_is_not_acknowledged_and_stops_changes(m: SDAManager) -> None:
    m.journal = BrokenJournal()
    with pytest.raises(Internal, match=r"could not be saved \(disk full\)"):
        token(m)
    assert m.ops.journal_broken == "disk full"
    with pytest.raises(Internal, match="restart the simulator"):
        token(m)


def test_a_refusal_the_journal_cannot_save_keeps_its_own_reason(m: SDAManager) -> None:
    m.journal = BrokenJournal()
    with pytest.raises(NotFound, match="Token 'nope' does not exist"):
        m.delete_token("nope")
    assert m.ops.journal_broken == ""


# ---------------------------------------------------------------- atomicity


def test_refused_operations_change_nothing(m: SDAManager) -> None:
    """A mixed scene, then a series of refusals: each leaves the whole state as it was."""
    a, b = token(m, "aaaa"), token(m, "bbbb")
    m.update_token_max_sda(a, 2)
    s1 = m.create_sda(a, "", 1, reserved=True)
    bg = m.create_backendgroup("bg", [3])
    mg = m.create_sdamodelgroup("mg", bg.id, [1, 2, 4])
    ug = m.create_usergroup("ug", "", [a])
    m.add_membership(ug.id, mg.id)
    m.create_sda(a, "", 1)
    m.update_device_status(3, 0, DeviceStatus.SHUTDOWN)  # bg: 7 idle devices
    device(m, 4, 1).job_id = 5
    refused(m, FailedPrecondition, m.create_backendgroup, "bg2", [1, 2, 3])
    refused(m, NotFound, m.create_backendgroup, "bg2", [1, 2, 99])
    refused(m, NotFound, m.set_backendgroup_backends, bg.id, [1, 2, 99])
    refused(m, NotFound, m.set_usergroup_tokens, ug.id, [b, "nope"])
    refused(m, NotFound, m.set_sdamodelgroup_models, mg.id, [3, 99])
    refused(m, FailedPrecondition, m.update_all_device_status, 4, DeviceStatus.SHUTDOWN)
    refused(m, FailedPrecondition, m.create_sda, a, "", 3)  # not in the token's model groups
    refused(m, FailedPrecondition, m.create_sda, b, "", 4, mg.id, reserved=True)  # 8 needed, 7 idle
    refused(m, FailedPrecondition, m.update_sda, a, 52, sda_id=s1.id)
    # access passes, the reservation cannot move: it must be put back as it was
    refused(m, FailedPrecondition, m.update_sda, a, 4, mg.id, s1.id)
    refused(m, FailedPrecondition, m.delete_usergroup, ug.id)
    refused(m, FailedPrecondition, m.delete_backendgroup, bg.id)
    refused(m, FailedPrecondition, m.delete_sdamodelgroup, mg.id)
    refused(m, FailedPrecondition, m.delete_token, a)
    refused(m, FailedPrecondition, m.update_token_max_sda, a, 1)
    refused(m, FailedPrecondition, m.delete_backend, s1.held[0][0])
    refused(m, InvalidArgument, m.add_token_env, a, "OK", "bad\n")


def test_create_backendgroup_with_one_bad_backend_moves_none(m: SDAManager) -> None:
    bg = m.create_backendgroup("bg", [4])
    before = [b.group_id for b in m.list_backends()]
    refused(m, FailedPrecondition, m.create_backendgroup, "bg2", [1, 2, 4])
    assert [b.group_id for b in m.list_backends()] == before == [0, 0, 0, bg.id]
    assert sorted(m.backend_groups) == [0, bg.id]


def test_update_all_device_status_refused_leaves_every_device(m: SDAManager) -> None:
    statuses = [DeviceStatus.IDLE, DeviceStatus.PREPARING, DeviceStatus.PROCESSING, DeviceStatus.CLEANING,
                DeviceStatus.SHUTDOWN, DeviceStatus.IDLE, DeviceStatus.IDLE, DeviceStatus.IDLE]
    for d, s in zip(m.backends[1].devices, statuses):
        d.status = s
    device(m, 1, 7).job_id = 3
    before = copy.deepcopy(m.backends[1].devices)
    with pytest.raises(FailedPrecondition):
        m.update_all_device_status(1, DeviceStatus.IDLE)
    assert m.backends[1].devices == before


# ---------------------------------------------------------------- concurrency


def test_concurrent_changes_leave_consistent_state() -> None:
    mgr = new_manager(backends=8, devices=8)
    threads = 8
    per_thread = 12
    barrier = threading.Barrier(threads)
    created: list[list[str]] = [[] for _ in range(threads)]
    deleted: list[list[str]] = [[] for _ in range(threads)]
    errors: list[BaseException] = []
    shared = mgr.create_usergroup("shared")

    def work(n: int) -> None:
        try:
            barrier.wait()
            group = mgr.create_usergroup(f"g{n}")
            for i in range(per_thread):
                tok = mgr.create_token(f"t{n}-{i}", n).value
                created[n].append(tok)
                mgr.update_token_max_sda(tok, 2)
                mgr.create_sda(tok, "", 1 + i % 3)
                try:  # 64 devices for 96 one-device reservations: some must be refused
                    mgr.create_sda(tok, "", 1, reserved=True)
                except FailedPrecondition:
                    pass
                mgr.add_usergroup_token(group.id, tok)
                mgr.add_usergroup_token(shared.id, tok)
                if i % 4 == 0:
                    mgr.delete_sda(tok)
                    mgr.delete_token(tok)
                    deleted[n].append(tok)
        except BaseException as err:  # pragma: no cover - reported below
            errors.append(err)

    pool = [threading.Thread(target=work, args=(n,)) for n in range(threads)]
    for t in pool:
        t.start()
    for t in pool:
        t.join(30)
    assert not errors, errors
    alive = {t for n in range(threads) for t in created[n]} - {t for n in range(threads) for t in deleted[n]}
    assert set(mgr.tokens) == alive
    assert len(mgr.tokens) == threads * per_thread - sum(len(d) for d in deleted)
    for sda in mgr.sdas.values():
        assert sda.token in mgr.tokens
    for tok in mgr.tokens.values():
        sdas = mgr.state.token_sdas(tok.value)
        assert 1 <= len(sdas) <= tok.max_sda
        assert tok.current_sda in {s.id for s in sdas}
    assert sorted(mgr.user_groups[shared.id].tokens) == sorted(alive)
    for g in mgr.user_groups.values():
        assert set(g.tokens) <= alive
    # no device held twice, and the devices agree with the reservations
    held = [p for s in mgr.sdas.values() for p in s.held]
    assert len(held) == len(set(held)) == 64
    assert sorted(held) == sorted((b.id, d.index) for b in mgr.backends.values() for d in b.devices if d.sda_id)
    ids = [e.id for e in mgr.events]
    assert len(ids) == len(set(ids))


# ---------------------------------------------------------------- validate


def test_validate_limits_match_spec() -> None:
    assert (validate.PRIORITY_MIN, validate.PRIORITY_MAX) == (-99, 99)
    assert validate.MAX_SDA_LIMIT == 1024
    assert validate.ip("192.168.110.1") == "192.168.110.1"
    assert validate.ip("::FFFF:1.2.3.4") == "::ffff:102:304"


def test_update_sda_without_a_group_keeps_its_group_when_it_holds_the_new_model(m: SDAManager) -> None:
    tok = token(m)
    bg = m.create_backendgroup("bg1", [4])
    mg = m.create_sdamodelgroup("mg1", bg.id, [1, 2])
    sda = m.create_sda(tok, "", 1, mg.id)
    m.update_sda(tok, 2)  # model 2 is in mg1 too: the SDA keeps running on bg1's nodes
    assert m.sdas[sda.id].model_group_id == mg.id
    m.update_sda(tok, 3)  # model 3 is not: the SDA leaves the group
    assert m.sdas[sda.id].model_group_id == 0
