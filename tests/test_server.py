"""The simulator's gRPC server, end to end over a real channel.

Covers what the server adds on top of the rules: standard health checking and
reflection, the mapping of domain errors to status codes, paged streaming of
large listings, the event log as seen through the API, the `sdamanager-stub`
command line, and that the committed generated code matches the .proto.
"""

from __future__ import annotations

import base64
import os
import queue
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import grpc
import pytest
from google.protobuf import descriptor_pb2
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc

from smclient.api import sdamanager_pb2 as pb
from smclient.api import sdamanager_pb2_grpc as pb_grpc

ROOT = Path(__file__).resolve().parents[1]
STUB_SCRIPT = Path(sys.executable).with_name("sdamanager-stub")
SERVICE = "sdamanager.v1.SDAManager"
T = 10  # seconds: deadline of every call, so a broken server fails a test instead of hanging it

# `show sdamodel` in the operator's guide (reference/smclient-guide.ko.md), by id.
GUIDE_MODELS = [
    (1, "Small.64GB", 1),
    (2, "Medium.128GB", 2),
    (3, "Large.256GB", 4),
    (4, "xLarge.512GB", 8),
    (5, "2xLarge.1024GB", 16),
    (6, "3xLarge.1536GB", 24),
    (7, "4xLarge.2048GB", 32),
    (8, "6xLarge.3072GB", 48),
    (9, "8xLarge.4096GB", 64),
    (10, "12xLarge.6144GB", 96),
    (11, "24xLarge.12288GB", 192),
    (12, "48xLarge.24576GB", 384),
    (52, "1.5xLarge.768GB", 12),
]

FOUR_MB = 4 * 1024 * 1024


def rpc_error(call, request) -> grpc.RpcError:
    """The error a call fails with (pytest.fail if it succeeds)."""
    with pytest.raises(grpc.RpcError) as info:
        result = call(request, timeout=T)
        if hasattr(result, "__next__"):  # server streaming: errors come while reading
            list(result)
    return info.value


def new_token(stub, description: str = "team-a", priority: int = 0) -> str:
    return stub.CreateToken(pb.CreateTokenRequest(description=description, priority=priority), timeout=T).value


# --------------------------------------------------------------------------
# health checking and reflection
# --------------------------------------------------------------------------

@pytest.mark.parametrize("service", ["", SERVICE])
def test_health_check_serving(channel, service):
    health = health_pb2_grpc.HealthStub(channel)
    reply = health.Check(health_pb2.HealthCheckRequest(service=service), timeout=T)
    assert reply.status == health_pb2.HealthCheckResponse.SERVING


def test_health_check_unknown_service_is_not_found(channel):
    health = health_pb2_grpc.HealthStub(channel)
    err = rpc_error(health.Check, health_pb2.HealthCheckRequest(service="no.such.Service"))
    assert err.code() is grpc.StatusCode.NOT_FOUND


def _reflect(channel, *requests: reflection_pb2.ServerReflectionRequest) -> list:
    reflection = reflection_pb2_grpc.ServerReflectionStub(channel)
    return list(reflection.ServerReflectionInfo(iter(requests), timeout=T))


def test_reflection_lists_services(channel):
    (reply,) = _reflect(channel, reflection_pb2.ServerReflectionRequest(list_services=""))
    names = {s.name for s in reply.list_services_response.service}
    assert {SERVICE, "grpc.health.v1.Health", "grpc.reflection.v1alpha.ServerReflection"} <= names


def test_reflection_describes_every_method(channel):
    (reply,) = _reflect(channel, reflection_pb2.ServerReflectionRequest(file_containing_symbol=SERVICE))
    assert reply.WhichOneof("message_response") == "file_descriptor_response", reply
    files = []
    for raw in reply.file_descriptor_response.file_descriptor_proto:
        fd = descriptor_pb2.FileDescriptorProto()
        fd.ParseFromString(raw)
        files.append(fd)
    services = [s for fd in files if fd.package == "sdamanager.v1" for s in fd.service if s.name == "SDAManager"]
    assert len(services) == 1, [fd.name for fd in files]
    reflected = {m.name: m for m in services[0].method}

    expected = pb.DESCRIPTOR.services_by_name["SDAManager"]
    assert set(reflected) == {m.name for m in expected.methods}
    assert len(reflected) > 70  # the whole API (78 RPCs when written), not a stub of it
    # Streaming shape too: what grpcurl would call as a stream must be one.
    streaming = {m.name for m in reflected.values() if m.server_streaming}
    assert streaming == {"ListTokens", "ListSdas", "ListBackends", "ListJobs", "ListHistory", "ListEvents"}


# --------------------------------------------------------------------------
# domain errors become status codes, with the rule's reason as detail
# --------------------------------------------------------------------------

def test_not_found_unknown_token(stub):
    unknown = base64.b64encode(b"nope1234567890123").decode()
    err = rpc_error(stub.GetToken, pb.GetTokenRequest(token=unknown))
    assert err.code() is grpc.StatusCode.NOT_FOUND
    assert unknown in err.details()


def test_already_exists_user_group_name(stub):
    stub.CreateUserGroup(pb.CreateUserGroupRequest(name="research", description="first"), timeout=T)
    err = rpc_error(stub.CreateUserGroup, pb.CreateUserGroupRequest(name="research", description="second"))
    assert err.code() is grpc.StatusCode.ALREADY_EXISTS
    assert "research" in err.details()
    groups = stub.ListUserGroups(pb.ListUserGroupsRequest(), timeout=T).groups
    assert [(g.name, g.description) for g in groups] == [("research", "first")]


def test_failed_precondition_delete_token_with_sda(stub):
    token = new_token(stub)
    stub.CreateSda(pb.CreateSdaRequest(token=token, description="d", model_id=1), timeout=T)
    err = rpc_error(stub.DeleteToken, pb.DeleteTokenRequest(token=token))
    assert err.code() is grpc.StatusCode.FAILED_PRECONDITION
    assert err.details() == "The token still has 1 SDA: delete it first."
    # Refused means unchanged.
    assert stub.GetToken(pb.GetTokenRequest(token=token), timeout=T).sda_count == 1


@pytest.mark.parametrize(
    ("method", "make_request", "needle"),
    [
        ("CreateToken", lambda tok: pb.CreateTokenRequest(description="big", priority=500), "Priority"),
        ("UpdateTokenAccessLevel",
         lambda tok: pb.UpdateTokenAccessLevelRequest(token=tok, access_level=pb.ACCESS_LEVEL_UNSPECIFIED),
         "Access level"),
        ("CreateBackend", lambda tok: pb.CreateBackendRequest(name="back99", ip="999.1.1.1", device_count=8),
         "999.1.1.1"),
    ],
    ids=["priority-500", "access-level-unspecified", "bad-ip"],
)
def test_invalid_argument(stub, method, make_request, needle):
    token = new_token(stub)
    err = rpc_error(getattr(stub, method), make_request(token))
    assert err.code() is grpc.StatusCode.INVALID_ARGUMENT
    assert needle in err.details()


def test_invalid_priority_creates_nothing(stub):
    rpc_error(stub.CreateToken, pb.CreateTokenRequest(description="big", priority=500))
    pages = list(stub.ListTokens(pb.ListTokensRequest(), timeout=T))
    assert [len(p.tokens) for p in pages] == [0]


@pytest.mark.parametrize(
    ("method", "request_"),
    [
        ("UpdateJobPriority", pb.UpdateJobPriorityRequest(feid=424242, priority=5)),
        ("Release", pb.ReleaseRequest(feid=424242)),
        ("GetJob", pb.GetJobRequest(feid=424242)),
    ],
)
def test_unknown_feid_is_not_found(stub, method, request_):
    err = rpc_error(getattr(stub, method), request_)
    assert err.code() is grpc.StatusCode.NOT_FOUND
    assert "424242" in err.details()


# --------------------------------------------------------------------------
# success paths
# --------------------------------------------------------------------------

def test_create_token(stub):
    token = stub.CreateToken(pb.CreateTokenRequest(description="babu-team", priority=-5), timeout=T)
    assert len(token.value) == 24
    decoded = base64.b64decode(token.value, validate=True).decode()
    assert re.fullmatch(r"babu\d{13}", decoded), decoded
    assert (token.description, token.priority, token.max_sda, token.sda_count) == ("babu-team", -5, 1, 0)
    again = stub.GetToken(pb.GetTokenRequest(token=token.value), timeout=T)
    assert again == token


def test_tokens_are_unique(stub):
    tokens = {new_token(stub, "same") for _ in range(20)}
    assert len(tokens) == 20


def test_create_sda(stub):
    token = new_token(stub)
    sda = stub.CreateSda(pb.CreateSdaRequest(token=token, description="my sda", model_id=52), timeout=T)
    assert sda.id > 0
    assert (sda.token, sda.model_id, sda.model_name, sda.device_count) == (token, 52, "1.5xLarge.768GB", 12)
    assert not sda.reserved
    assert stub.GetToken(pb.GetTokenRequest(token=token), timeout=T).current_sda == sda.id


def test_list_sda_models_is_the_guide_catalogue(stub):
    models = stub.ListSdaModels(pb.ListSdaModelsRequest(), timeout=T).models
    assert [(m.id, m.name, m.devices) for m in models] == GUIDE_MODELS


# --------------------------------------------------------------------------
# streamed listings
# --------------------------------------------------------------------------

@pytest.mark.sdamanager(backends=20, devices=8)
def test_list_backends_in_pages(stub):
    pages = list(stub.ListBackends(pb.ListBackendsRequest(page_size=7), timeout=T))
    assert [len(p.backends) for p in pages] == [7, 7, 6]
    backends = [b for p in pages for b in p.backends]
    assert [b.id for b in backends] == list(range(1, 21))
    assert [b.name for b in backends] == [f"back{i:02d}" for i in range(1, 21)]
    assert all(len(b.devices) == 8 for b in backends)


def test_empty_listing_is_one_empty_page(stub):
    pages = list(stub.ListJobs(pb.ListJobsRequest(), timeout=T))
    assert len(pages) == 1
    assert list(pages[0].jobs) == []


def test_listing_larger_than_4mb_streams_with_default_limits(sdamanager, stub):
    # 256 Korean characters (the longest description allowed) are 768 bytes of
    # UTF-8, so a few thousand tokens make listings of several megabytes.
    # Made through the manager: thousands of RPCs would only slow the test.
    count = 6000
    description = ("설명" * 128)[:256]
    for _ in range(count):
        sdamanager.manager.create_token(description, 0)

    for call, request, field in [
        (stub.ListTokens, pb.ListTokensRequest(), "tokens"),
        (stub.ListEvents, pb.ListEventsRequest(action="CREATE_TOKEN"), "events"),
    ]:
        pages = list(call(request, timeout=T))
        total = sum(p.ByteSize() for p in pages)
        assert total > FOUR_MB, (field, total)
        assert max(p.ByteSize() for p in pages) < FOUR_MB
        assert sum(len(getattr(p, field)) for p in pages) == count


def test_pages_stay_under_4mb_with_large_items(sdamanager, stub):
    token = sdamanager.manager.create_token("big-env", 0)
    for i in range(1100):
        sdamanager.manager.add_token_env(token.value, f"VAR_{i}", "v" * 4096)
        sdamanager.manager.remove_token_env(token.value, f"VAR_{i}")
    pages = list(stub.ListEvents(pb.ListEventsRequest(action="ADD_TOKEN_ENV"), timeout=T))
    assert sum(len(p.events) for p in pages) == 1100


# --------------------------------------------------------------------------
# the event log, through the API
# --------------------------------------------------------------------------

def test_refused_change_is_in_the_event_log(stub):
    token = new_token(stub)
    stub.CreateSda(pb.CreateSdaRequest(token=token, description="d", model_id=1), timeout=T)
    rpc_error(stub.DeleteToken, pb.DeleteTokenRequest(token=token))

    pages = list(stub.ListEvents(pb.ListEventsRequest(action="DELETE_TOKEN"), timeout=T))
    events = [e for p in pages for e in p.events]
    assert len(events) == 1
    (event,) = events
    assert event.action == "DELETE_TOKEN"
    assert event.token == token
    assert event.result.startswith("FAILED:")
    assert "delete it first" in event.result
    assert event.peer  # e.g. "ipv4:127.0.0.1:51234"
    assert event.time.seconds > 0


# --------------------------------------------------------------------------
# the command line: `sdamanager-stub serve`
# --------------------------------------------------------------------------

LISTENING = re.compile(r"^SDAManager simulator listening on 127\.0\.0\.1:(\d+)$")


@contextmanager
def stub_process(*args: str) -> Iterator[subprocess.Popen]:
    """`sdamanager-stub ARGS` with pipes; killed at the end if it is still running."""
    proc = subprocess.Popen([str(STUB_SCRIPT), *args], stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, cwd=ROOT,
                            env={**os.environ, "PYTHONFAULTHANDLER": "1"})
    try:
        yield proc
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.communicate(timeout=10)


def first_line(proc: subprocess.Popen, timeout: float = 10) -> str:
    lines: queue.Queue[str] = queue.Queue()
    threading.Thread(target=lambda: lines.put(proc.stdout.readline()), daemon=True).start()
    try:
        return lines.get(timeout=timeout).rstrip("\n")
    except queue.Empty:
        pytest.fail(f"sdamanager-stub printed no line within {timeout} s")


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_cli_serves_and_stops_on_signal(sig):
    assert STUB_SCRIPT.exists(), f"{STUB_SCRIPT} is missing: install the package (make test)"
    with stub_process("serve", "--memory", "--port", "0", "--backends", "3", "--devices", "2") as proc:
        line = first_line(proc)
        match = LISTENING.match(line)
        assert match, line
        port = int(match.group(1))
        assert port > 0

        with grpc.insecure_channel(f"127.0.0.1:{port}") as chan:
            pages = list(pb_grpc.SDAManagerStub(chan).ListBackends(pb.ListBackendsRequest(), timeout=T))
        backends = [b for p in pages for b in p.backends]
        assert [b.name for b in backends] == ["back01", "back02", "back03"]
        assert [b.ip for b in backends] == ["192.168.110.0", "192.168.110.1", "192.168.110.2"]
        assert all(len(b.devices) == 2 for b in backends)

        proc.send_signal(sig)
        try:
            rc = proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.send_signal(signal.SIGABRT)  # its threads' stacks (PYTHONFAULTHANDLER) say where it hangs
            _, err = proc.communicate(timeout=10)
            pytest.fail(f"sdamanager-stub did not exit within 5 s of {sig.name}:\n{err[-6000:]}")
        assert rc == 0
        _, err = proc.communicate(timeout=5)
        assert "Traceback" not in err


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["serve", "--backends", "-1"], "--backends"),
        (["serve", "--devices", "-3"], "--devices"),
        (["serve", "--port", "-1"], "--port"),
    ],
    ids=["backends-negative", "devices-negative", "port-negative"],
)
def test_cli_refuses_bad_arguments(args, needle):
    with stub_process(*args) as proc:
        try:
            out, err = proc.communicate(timeout=5)
        except subprocess.TimeoutExpired:
            pytest.fail(f"sdamanager-stub {' '.join(args)} kept running instead of refusing")
    assert proc.returncode != 0, out
    assert "Traceback" not in err, err
    assert out == ""
    # argparse shows its usage block, then exactly one error line naming the argument.
    errors = [line for line in err.splitlines() if "error" in line]
    assert len(errors) == 1, err
    assert needle in errors[0], err


def test_cli_refuses_port_out_of_range(capsys):
    # Parsed in-process: run as a process, the bug would bind a fixed port (4464).
    from sdamanager_stub.cli import build_parser

    with pytest.raises(SystemExit) as exit_info:
        build_parser().parse_args(["serve", "--port", "70000"])
    assert exit_info.value.code == 2
    assert "--port" in capsys.readouterr().err


# --------------------------------------------------------------------------
# the committed generated code is current
# --------------------------------------------------------------------------

GENERATED = ("sdamanager_pb2.py", "sdamanager_pb2_grpc.py", "sdamanager_pb2.pyi")


def test_generated_code_is_current(tmp_path, monkeypatch):
    grpc_tools = pytest.importorskip("grpc_tools")
    from grpc_tools import protoc

    makefile = (ROOT / "Makefile").read_text()
    recipe = makefile.split("\nproto:", 1)[1].split("\n\n", 1)[0]
    mapping = re.search(r"-I(\S+=\S+)", recipe)
    assert mapping, "the Makefile's proto target has no -IVIRTUAL=DIR include mapping"
    proto = re.search(r"(\S+\.proto)\s*$", recipe)
    assert proto, "the Makefile's proto target names no .proto file"
    well_known = os.path.join(os.path.dirname(grpc_tools.__file__), "_proto")

    monkeypatch.chdir(ROOT)  # the Makefile's paths are relative to the repository
    rc = protoc.main([
        "grpc_tools.protoc",
        f"-I{mapping.group(1)}",
        f"-I{well_known}",
        f"--python_out={tmp_path}",
        f"--pyi_out={tmp_path}",
        f"--grpc_python_out={tmp_path}",
        proto.group(1),
    ])
    assert rc == 0, "protoc failed on the .proto"

    virtual_dir = mapping.group(1).split("=", 1)[0]
    fresh_dir, committed_dir = tmp_path / virtual_dir, ROOT / virtual_dir
    assert sorted(p.name for p in fresh_dir.iterdir()) == sorted(GENERATED)
    stale = [name for name in GENERATED
             if (fresh_dir / name).read_bytes() != (committed_dir / name).read_bytes()]
    assert not stale, (
        f"{', '.join(f'{virtual_dir}/{n}' for n in stale)} do not match {proto.group(1)}: run `make proto` "
        "and commit the result"
    )



def test_sigterm_stops_gracefully_within_the_grace_and_keeps_what_was_acknowledged(tmp_path):
    """No new calls, calls in flight get `--grace` seconds (a call whose request never comes
    is then cancelled), every acknowledged change is on disk, exit 0."""
    state = str(tmp_path / "state.db")
    with stub_process("serve", "--state", state, "--port", "0", "--backends", "1", "--devices", "2",
                      "--grace", "1") as proc:
        port = int(LISTENING.match(first_line(proc)).group(1))
        with grpc.insecure_channel(f"127.0.0.1:{port}") as chan:
            token = pb_grpc.SDAManagerStub(chan).CreateToken(pb.CreateTokenRequest(description="kept"),
                                                             timeout=T).value
            release = threading.Event()

            def never() -> Iterator[bytes]:
                release.wait()
                yield from ()

            stalled = chan.stream_unary("/sdamanager.v1.SDAManager/GetToken", request_serializer=lambda m: m,
                                        response_deserializer=lambda b: b).future(never())
            time.sleep(0.3)
            started = time.monotonic()
            proc.send_signal(signal.SIGTERM)
            rc = proc.wait(timeout=10)
            took = time.monotonic() - started
            release.set()
            assert stalled.exception(timeout=5) is not None  # ended by the server, not answered
        assert rc == 0 and 0.9 < took < 4, (rc, took)
    with stub_process("serve", "--state", state, "--port", "0") as again:
        port = int(LISTENING.match(first_line(again)).group(1))
        with grpc.insecure_channel(f"127.0.0.1:{port}") as chan:
            got = pb_grpc.SDAManagerStub(chan).GetToken(pb.GetTokenRequest(token=token), timeout=T)
        assert got.description == "kept"
        again.send_signal(signal.SIGTERM)
        assert again.wait(timeout=10) == 0


def test_on_an_existing_state_file_serve_names_only_the_shaping_options_given(tmp_path):
    """An existing file keeps its cluster and delays: serve says which options it set aside,
    and says nothing of options nobody gave."""
    state = str(tmp_path / "state.db")

    def start_note(*args: str) -> str:
        with stub_process("serve", "--state", state, "--port", "0", *args) as proc:
            assert LISTENING.match(first_line(proc))
            proc.send_signal(signal.SIGTERM)
            _, err = proc.communicate(timeout=10)
        return err

    assert start_note("--backends", "2") == ""  # a new file: shaped, nothing to say
    assert start_note() == (f"sdamanager-stub: state from {state} (2 backends, 0 tokens, devices prepare 2 s "
                            "and clean 2 s)\n")
    assert start_note("--devices", "4", "--clean-seconds", "1").endswith(
        "and clean 2 s); --devices, --clean-seconds shape new state files only\n")
