"""The shell under faults injected into a real simulator: a slow server, a
listing cut off mid-way, a deadline, an internal error, a reply that is not
what the API says, and values no shell has seen.  Each is one clear line and
the right exit status, never a traceback or a hang."""

from __future__ import annotations

import asyncio
import threading
import time
from dataclasses import dataclass

import grpc
import grpc.aio
import pytest

from sdamanager_stub.manager import new_manager
from sdamanager_stub.server import create_server
from smclient.api import sdamanager_pb2 as pb
from smclient.cli import main


@dataclass
class Fault:
    method: str  # e.g. "ListTokens"
    kind: str  # "abort", "sleep", "cut" (a stream dies after its first page), "garbage", "reply"
    code: grpc.StatusCode = grpc.StatusCode.UNAVAILABLE
    seconds: float = 0.0
    reply: object = None
    detail: str = "injected failure"


class FaultInjector(grpc.aio.ServerInterceptor):
    """A test fixture, not a production flag: makes the next calls of one method misbehave."""

    def __init__(self) -> None:
        self.fault: Fault | None = None

    async def intercept_service(self, continuation, details):  # type: ignore[no-untyped-def]
        handler = await continuation(details)
        fault = self.fault
        if handler is None or fault is None or not details.method.endswith("/" + fault.method):
            return handler
        if handler.unary_stream is not None:
            inner = handler.unary_stream

            async def streaming(request, context):  # type: ignore[no-untyped-def]
                if fault.kind == "sleep":
                    await asyncio.sleep(fault.seconds)
                if fault.kind == "abort":
                    await context.abort(fault.code, "injected")
                i = 0
                async for page in inner(request, context):
                    if fault.kind == "cut" and i == 1:
                        await context.abort(grpc.StatusCode.UNAVAILABLE, "connection reset (injected)")
                    yield fault.reply if fault.kind == "reply" else page
                    i += 1

            return grpc.unary_stream_rpc_method_handler(streaming, handler.request_deserializer,
                                                        handler.response_serializer)
        inner = handler.unary_unary

        async def unary(request, context):  # type: ignore[no-untyped-def]
            if fault.kind == "sleep":
                await asyncio.sleep(fault.seconds)
            if fault.kind == "abort":
                await context.abort(fault.code, fault.detail)
            return fault.reply if fault.kind == "reply" else await inner(request, context)

        serializer = (lambda _: b"\xff\xff\xff") if fault.kind == "garbage" else handler.response_serializer
        return grpc.unary_unary_rpc_method_handler(unary, handler.request_deserializer, serializer)


@pytest.fixture
def faulty():
    injector = FaultInjector()
    manager = new_manager(backends=4, devices=8)
    for i in range(30):
        manager.create_token(f"customer{i:02d}", 0)
    server, port = create_server("127.0.0.1:0", manager, interceptors=[injector])
    server.start()
    yield injector, port, manager
    server.stop(0)


def run(port: int, command: str, capsys, timeout: float = 2.0) -> tuple[int, str, str, float]:
    started = time.monotonic()
    status = main(["--port", str(port), "--timeout", str(timeout), "--command", command])
    out, err = capsys.readouterr()
    return status, out, err, time.monotonic() - started


@pytest.mark.parametrize(("method", "command"), [("GetToken", "get token abc"), ("ListTokens", "show token")],
                         ids=["a call", "a listing"])
def test_a_slow_server_times_out_with_exit_3(faulty, capsys, method, command):
    injector, port, _ = faulty
    injector.fault = Fault(method, "sleep", seconds=5)
    status, out, err, took = run(port, command, capsys, timeout=1)
    assert (status, out) == (3, "")
    assert err == f"SDAManager at 127.0.0.1:{port} did not answer within 1 s.\n"
    assert took < 4


def test_a_listing_cut_off_mid_way_prints_no_partial_table(faulty, capsys):
    injector, port, manager = faulty
    for i in range(3000):  # more than one page
        manager.create_token(f"many{i}", 0)
    injector.fault = Fault("ListTokens", "cut")
    status, out, err, _ = run(port, "show token", capsys)
    assert (status, out) == (3, "")
    assert err == f"Cannot connect to SDAManager at 127.0.0.1:{port}.\n"


@pytest.mark.parametrize(("code", "status", "message"), [
    (grpc.StatusCode.UNAVAILABLE, 3, "Cannot connect to SDAManager at 127.0.0.1:{port}."),
    (grpc.StatusCode.DEADLINE_EXCEEDED, 3, "SDAManager at 127.0.0.1:{port} did not answer within 2 s."),
    (grpc.StatusCode.CANCELLED, 3, "SDAManager at 127.0.0.1:{port} stopped before answering: "
                                   "the command may or may not have been applied."),
    (grpc.StatusCode.INTERNAL, 1, "Update Token Priority failed. (injected failure)"),
    (grpc.StatusCode.UNKNOWN, 1, "Update Token Priority failed. (injected failure)"),
    (grpc.StatusCode.UNIMPLEMENTED, 1, "Update Token Priority failed. (This SDAManager does not support the request.)"),
    (grpc.StatusCode.PERMISSION_DENIED, 1, "Update Token Priority failed. (injected failure)"),
])
def test_each_status_is_one_line_and_the_right_exit(faulty, capsys, code, status, message):
    injector, port, manager = faulty
    token = next(iter(manager.tokens))
    injector.fault = Fault("UpdateTokenPriority", "abort", code=code)
    got, out, err, _ = run(port, f"update token priority {token} 3", capsys)
    assert (got, out, err) == (status, "", message.format(port=port) + "\n")


def test_a_reply_that_is_not_the_api_is_one_line(faulty, capsys):
    injector, port, _ = faulty
    injector.fault = Fault("ListSdaModels", "garbage")
    status, out, err, _ = run(port, "show sdamodel", capsys)
    assert (status, out) == (1, "")
    assert err.startswith("Print list of SDAModels failed. (") and err.count("\n") == 1


def test_values_no_shell_has_seen_keep_the_frame(faulty, capsys):
    injector, port, _ = faulty
    job = pb.Job(feid=7, token="tok\x1b[31mRED\ntwo", priority=2**31 - 1, status=77, client_pid=-5,
                 process_name="python\ttrain.py\r\n--evil \u202e txet", device_count=3)
    injector.fault = Fault("ListJobs", "reply", reply=pb.JobPage(jobs=[job]))
    status, out, err, _ = run(port, "show job", capsys)
    assert (status, err) == (0, "")
    lines = out.splitlines()
    assert len(lines) == 5 and len({len(line) for line in lines}) == 1  # one row, a straight frame
    assert "\x1b" not in out and "\u202e" not in out
    cells = [c.strip() for c in lines[3].split("|")[1:-1]]
    assert cells[0] == "7" and cells[3] == "77"  # the unknown status shows as its number


@pytest.mark.parametrize("mark", ["\u200e", "\u200f", "\u061c"], ids=["LRM", "RLM", "ALM"])
def test_weak_bidi_marks_from_the_server_are_not_printed(faulty, capsys, mark):
    """LRM, RLM and ALM reorder neighbouring text in a bidi terminal, like the overrides."""
    injector, port, _ = faulty
    injector.fault = Fault("ListJobs", "reply", reply=pb.JobPage(jobs=[
        pb.Job(feid=7, token=f"tok{mark}en", status=pb.JOB_STATUS_RUNNING, process_name=f"python {mark}a.py")]))
    status, out, err, _ = run(port, "show job", capsys)
    lines = out.splitlines()
    assert (status, err, len(lines)) == (0, "", 5) and len({len(line) for line in lines}) == 1
    assert mark not in out and "python  a.py" in out
    injector.fault = Fault("CreateToken", "reply", reply=pb.Token(value=f"new{mark}token"))
    assert run(port, "create token x 0", capsys)[:3] == (0, "Create SDA Success (Token : new token)\n", "")
    injector.fault = Fault("DeleteToken", "abort", code=grpc.StatusCode.NOT_FOUND,
                           detail=f"Token 'ab{mark}cd' is gone.")
    assert run(port, "delete token abcd", capsys)[:3] == (1, "", "Delete Token failed. (Token 'ab cd' is gone.)\n")


def test_a_server_stopping_mid_call_is_an_unknown_outcome(capsys):
    """gRPC ends the calls of a server that stops as UNAVAILABLE "Cancelling all calls":
    the call had arrived and its change may have been applied, so it is not
    "Cannot connect"."""
    injector = FaultInjector()
    injector.fault = Fault("CreateToken", "sleep", seconds=3)
    server, port = create_server("127.0.0.1:0", new_manager(1, 8), interceptors=[injector])
    server.start()
    stopper = threading.Timer(0.5, lambda: server.stop(0))
    stopper.start()
    try:
        status, out, err, _ = run(port, "create token someone 0", capsys, timeout=10)
    finally:
        stopper.join()
    assert (status, out) == (3, "")
    assert err == (f"SDAManager at 127.0.0.1:{port} stopped before answering: "
                   "the command may or may not have been applied.\n")


def test_the_vm_command_line_says_no_answer_when_the_call_is_cancelled(faulty, capsys):
    from sdamanager_stub.cli import main as stub_main

    injector, port, _ = faulty
    injector.fault = Fault("RequestDevices", "abort", code=grpc.StatusCode.CANCELLED, detail="stopping")
    status = stub_main(["job", "submit", "--port", str(port), "--token", "T", "--process", "x"])
    out, err = capsys.readouterr()
    assert (status, out) == (3, "")  # the job may or may not exist: not a refusal (exit 1)
    assert err == f"sdamanager-stub: SDAManager at 127.0.0.1:{port} did not answer (CANCELLED).\n"
