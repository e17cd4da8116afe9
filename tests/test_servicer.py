"""The gRPC face: the servicer's table driven through a real aio server on loopback.

Each method is called by its full name on a plain channel (request in, response
or status out), on the same `Servicer` the simulator registers, with the real
interceptors in front; the rules behind it are a real manager.  (grpc_testing
drives only synchronous servicers; the shell's side keeps it, in
test_transport_doubles.py.)
"""

from __future__ import annotations

import logging
from typing import Any

import grpc
import pytest

from sdamanager_stub.manager import SDAManager, new_manager
from sdamanager_stub.server import build_simulator
from sdamanager_stub.servicer import RPCS, SERVICE
from smclient.api import sdamanager_pb2 as pb


class Face:
    """A simulator on loopback in front of a fresh manager; a context manager that stops it."""

    def __init__(self, manager: SDAManager | None = None) -> None:
        self.manager = manager if manager is not None else new_manager(backends=2, devices=8)
        self.simulator = build_simulator("127.0.0.1:0", self.manager)
        self.simulator.start()
        self.channel = grpc.insecure_channel(self.simulator.address)

    def __enter__(self) -> Face:
        return self

    def __exit__(self, *exc: object) -> None:
        self.channel.close()
        self.simulator.stop(0)

    def _callable(self, method: str, streaming: bool) -> Any:
        descriptor = SERVICE.methods_by_name[method]
        make = self.channel.unary_stream if streaming else self.channel.unary_unary
        return make(f"/{SERVICE.full_name}/{method}", request_serializer=lambda m: m.SerializeToString(),
                    response_deserializer=getattr(pb, descriptor.output_type.name).FromString)

    def unary(self, method: str, request: Any) -> tuple[Any, grpc.StatusCode, str]:
        try:
            return self._callable(method, False)(request, timeout=10), grpc.StatusCode.OK, ""
        except grpc.RpcError as err:
            return None, err.code(), err.details()

    def listing(self, method: str, request: Any) -> tuple[list[Any], grpc.StatusCode, str]:
        pages: list[Any] = []
        try:
            pages.extend(self._callable(method, True)(request, timeout=10))
        except grpc.RpcError as err:
            return pages, err.code(), err.details()
        return pages, grpc.StatusCode.OK, ""

    def ok(self, method: str, request: Any) -> Any:
        response, code, details = self.unary(method, request)
        assert code is grpc.StatusCode.OK, f"{method}: {code} {details}"
        return response


@pytest.fixture
def face() -> Any:
    with Face() as face:
        yield face


def _logged(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    """What the servicer logged."""
    return [r for r in caplog.records if r.name == "sdamanager_stub.servicer"]


def _request_type(method: str) -> Any:
    return getattr(pb, SERVICE.methods_by_name[method].input_type.name)


def test_the_table_has_one_row_per_method_of_the_service():
    # (That each row calls a rule that exists, with as many arguments as it takes, is
    # mypy's to check: the rows are typed calls, `make lint`.)
    assert set(RPCS) == {m.name for m in SERVICE.methods}
    streaming = {m.name for m in SERVICE.methods if m.server_streaming}
    assert {name for name, row in RPCS.items() if hasattr(row, "page")} == streaming


def test_a_change_and_a_read_go_through_the_rules(face):
    token = face.ok("CreateToken", pb.CreateTokenRequest(description="team-a", priority=7))
    assert (token.description, token.priority) == ("team-a", 7)
    assert face.manager.token(token.value).priority == 7
    got = face.ok("GetToken", pb.GetTokenRequest(token=token.value))
    assert got == token
    assert [e.action for e in face.manager.list_events()] == ["CREATE_TOKEN"]


@pytest.mark.parametrize("method, request_, code, details", [
    ("GetToken", pb.GetTokenRequest(token="nope"), grpc.StatusCode.NOT_FOUND, "Token 'nope' does not exist."),
    ("CreateSdaModel", pb.CreateSdaModelRequest(name="Small.64GB", devices=1), grpc.StatusCode.ALREADY_EXISTS,
     None),
    ("CreateToken", pb.CreateTokenRequest(description="x", priority=500), grpc.StatusCode.INVALID_ARGUMENT, None),
    ("ListHistory", pb.ListHistoryRequest(count=-1), grpc.StatusCode.INVALID_ARGUMENT,
     "Count of history must be 0 or more (got -1)."),
    ("ListEvents", pb.ListEventsRequest(count=-2), grpc.StatusCode.INVALID_ARGUMENT,
     "Count must be 0 or more (got -2)."),
    ("Release", pb.ReleaseRequest(), grpc.StatusCode.INVALID_ARGUMENT, "Release needs a frontend id or a token."),
    ("GetUsage", pb.GetUsageRequest(), grpc.StatusCode.INVALID_ARGUMENT, "Usage needs a begin and an end time."),
    ("DeleteSda", pb.DeleteSdaRequest(token="T", sda_id=0), grpc.StatusCode.INVALID_ARGUMENT,
     "SDA ID must be a positive id (got 0)."),
    ("UpdateTokenAccessLevel", pb.UpdateTokenAccessLevelRequest(token="T", access_level=0),
     grpc.StatusCode.INVALID_ARGUMENT, "Access level must be one of USER|ADMIN|DEVELOPER."),
])
def test_refusals_are_the_rules_status_and_reason(face, method, request_, code, details):
    if hasattr(RPCS[method], "page"):
        _, got_code, got_details = face.listing(method, request_)
    else:
        _, got_code, got_details = face.unary(method, request_)
    assert got_code is code
    if details is not None:
        assert got_details == details


def test_a_listing_comes_in_pages_of_the_asked_size(face):
    made = [face.ok("CreateToken", pb.CreateTokenRequest(description=f"t{i}")).value for i in range(5)]
    pages, code, _ = face.listing("ListTokens", pb.ListTokensRequest(page_size=2))
    assert code is grpc.StatusCode.OK
    assert [len(p.tokens) for p in pages] == [2, 2, 1]
    assert sorted(t.value for p in pages for t in p.tokens) == sorted(made)
    empty, code, _ = face.listing("ListJobs", pb.ListJobsRequest())
    assert (code, [len(p.jobs) for p in empty]) == (grpc.StatusCode.OK, [0])  # one empty page


def test_membership_changes_answer_with_the_user_groups_memberships(face):
    ug = face.ok("CreateUserGroup", pb.CreateUserGroupRequest(name="ug"))
    mg = face.ok("CreateSdaModelGroup", pb.CreateSdaModelGroupRequest(name="mg", model_ids=[1]))
    added = face.ok("AddMembership", pb.MembershipRequest(user_group_id=ug.id, model_group_id=mg.id))
    assert (added.user_group.name, [g.name for g in added.model_groups]) == ("ug", ["mg"])
    removed = face.ok("RemoveMembership", pb.MembershipRequest(user_group_id=ug.id, model_group_id=mg.id))
    assert list(removed.model_groups) == []


def test_server_version_names_the_latest_version(face):
    assert face.ok("GetServerVersion", pb.GetServerVersionRequest()).latest_client_version == ""
    face.ok("CreateVersion", pb.CreateVersionRequest(version="23.9.2", path="/opt/moreh"))
    face.ok("SetLatestVersion", pb.SetLatestVersionRequest(version="23.9.2"))
    version = face.ok("GetServerVersion", pb.GetServerVersionRequest())
    assert (version.api_version, version.latest_client_version) == ("sdamanager.v1", "23.9.2")


@pytest.mark.parametrize("method", sorted(RPCS))
def test_an_empty_request_to_any_method_is_answered_or_refused_never_a_bug(method, caplog):
    """The default message of every request type: a response or a domain refusal, never INTERNAL."""
    with Face() as face, caplog.at_level(logging.ERROR, logger="sdamanager_stub.servicer"):
        if hasattr(RPCS[method], "page"):
            _, code, details = face.listing(method, _request_type(method)())
        else:
            _, code, details = face.unary(method, _request_type(method)())
    assert code not in (grpc.StatusCode.INTERNAL, grpc.StatusCode.UNKNOWN), f"{method}: {code} {details}"
    assert not _logged(caplog)


@pytest.mark.parametrize("method, rule, request_", [
    ("GetToken", "token", pb.GetTokenRequest(token="T")),
    ("ListTokens", "list_tokens", pb.ListTokensRequest()),
])
def test_a_bug_is_internal_and_logged_not_blamed_on_the_caller(monkeypatch, caplog, method, rule, request_):
    """A programming error (here: a rule raising TypeError) is INTERNAL with a plain detail; the
    traceback goes to the log, not to the caller."""
    def broken(*args: Any, **kwargs: Any) -> Any:
        raise TypeError("unsupported operand type(s)")

    with Face() as face, caplog.at_level(logging.ERROR, logger="sdamanager_stub.servicer"):
        monkeypatch.setattr(face.manager, rule, broken)
        if hasattr(RPCS[method], "page"):
            _, code, details = face.listing(method, request_)
        else:
            _, code, details = face.unary(method, request_)
    assert code is grpc.StatusCode.INTERNAL
    assert details == f"Internal error in {method}: see the simulator's log."
    assert "unsupported operand" not in details
    (entry,) = _logged(caplog)
    assert entry.getMessage() == f"internal error in {method}"
    assert entry.exc_info is not None and entry.exc_info[0] is TypeError
