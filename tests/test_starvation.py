"""Callers that stall cannot starve the others (SPEC section 8): calls whose
request never arrives, on the open methods (health, the VM side), hold only
the workers of their own kind, and only until the request deadline; clients
that do not read a listing hold a worker only until the reply deadline; the
admin shell keeps answering."""

from __future__ import annotations

import threading
import time

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from sdamanager_stub.deadlines import Watchdog
from sdamanager_stub.manager import new_manager
from sdamanager_stub.server import build_simulator
from smclient.api import sdamanager_pb2 as pb
from smclient.api import sdamanager_pb2_grpc as pb_grpc
from smclient.cli import main

STALLED = 24


def half_open(channel: grpc.Channel, method: str, release: threading.Event) -> grpc.Future:
    """A call to a unary `method` whose request never comes: headers sent, no message, no deadline."""

    def requests():  # type: ignore[no-untyped-def]
        release.wait()  # sends nothing until the test ends
        yield from ()

    call = channel.stream_unary(method, request_serializer=lambda m: m, response_deserializer=lambda b: b)
    return call.future(requests())


@pytest.mark.parametrize("method", ["/grpc.health.v1.Health/Check", "/sdamanager.v1.SDAManager/RequestDevices"])
def test_stalled_open_calls_do_not_stop_the_admin_shell(method, capsys):
    simulator = build_simulator("127.0.0.1:0", max_workers=16)
    simulator.start()
    release = threading.Event()
    channels = [grpc.insecure_channel(simulator.address) for _ in range(4)]
    try:
        stalled = [half_open(channels[i % 4], method, release) for i in range(STALLED)]
        time.sleep(0.5)  # every stalled call has reached the server and holds what it holds
        started = time.monotonic()
        status = main(["--port", str(simulator.port), "--timeout", "3", "--command", "show sdamodel"])
        took = time.monotonic() - started
        out, err = capsys.readouterr()
        assert (status, err) == (0, ""), err
        assert "48xLarge.24576GB" in out
        assert took < 3
        assert not any(call.done() for call in stalled)  # they were still stalled all along
    finally:
        release.set()
        for channel in channels:
            channel.close()
        simulator.stop(0)


# ---------------------------------------------------------------- deadlines within a kind

def vm_request(channel: grpc.Channel, token: str, timeout: float) -> pb.Job:
    stub = pb_grpc.SDAManagerStub(channel)
    return stub.RequestDevices(pb.RequestDevicesRequest(token=token, client_pid=1, process_name="python train.py",
                                                        client="pytorch", version="23.9.2"), timeout=timeout)


def outcome(call: grpc.Future) -> grpc.StatusCode:
    try:
        call.result(timeout=10)
    except grpc.RpcError as err:
        return err.code()
    return grpc.StatusCode.OK


def test_calls_stalled_within_a_kind_are_cancelled_at_the_request_deadline():
    """16 workers for the VM side, 24 VMs that never send their request: the
    server cancels them once the request deadline passes, and a real VM's call,
    queued behind them, is answered."""
    manager = new_manager(2, 8)
    token = manager.create_token("vm", 0).value
    manager.create_sda(token, "vm", 1)
    simulator = build_simulator("127.0.0.1:0", manager, max_workers=16, request_deadline=1.0)
    simulator.start()
    release = threading.Event()
    channels = [grpc.insecure_channel(simulator.address) for _ in range(4)]
    try:
        stalled = [half_open(channels[i % 4], "/sdamanager.v1.SDAManager/RequestDevices", release)
                   for i in range(STALLED)]
        time.sleep(0.3)
        job = vm_request(channels[0], token, timeout=8)  # would wait for ever behind 16 stalled calls
        assert job.token == token and job.feid > 0
        assert {outcome(call) for call in stalled} == {grpc.StatusCode.CANCELLED}
    finally:
        release.set()
        for channel in channels:
            channel.close()
        simulator.stop(0)


def test_health_probes_answer_while_probes_stall():
    simulator = build_simulator("127.0.0.1:0", max_workers=16, request_deadline=1.0)
    simulator.start()
    release = threading.Event()
    try:
        with grpc.insecure_channel(simulator.address) as stalling, grpc.insecure_channel(simulator.address) as probe:
            stalled = [half_open(stalling, "/grpc.health.v1.Health/Check", release) for _ in range(STALLED)]
            time.sleep(0.3)
            answer = health_pb2_grpc.HealthStub(probe).Check(health_pb2.HealthCheckRequest(), timeout=8)
            assert answer.status == health_pb2.HealthCheckResponse.SERVING
            assert {outcome(call) for call in stalled} == {grpc.StatusCode.CANCELLED}
    finally:
        release.set()
        simulator.stop(0)


def cancelled_listings(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [m for m in caplog.messages if m.endswith("it did not take its reply within 1 s")]


def test_clients_that_do_not_read_a_listing_lose_it_at_the_reply_deadline(capsys, caplog):
    """Two admin workers, two clients that start a 40 MB listing and never read it:
    HTTP/2 flow control stops the server's writes and would pin both workers; at
    the reply deadline their calls are cancelled and the shell is answered.
    (Clients that read take listings far bigger than a page under the default
    deadline in every other test of listings.)"""
    manager = new_manager(1, 8)
    for i in range(20_000):
        manager.add_token_env(manager.create_token("t", i % 9).value, "BLOB", "x" * 2000)
    simulator = build_simulator("127.0.0.1:0", manager, max_workers=2, reply_deadline=1.0)
    simulator.start()
    try:
        with grpc.insecure_channel(simulator.address) as idle:
            # Held till the end: a call dropped would be cancelled by its client.
            _unread = [pb_grpc.SDAManagerStub(idle).ListTokens(pb.ListTokensRequest()) for _ in range(2)]
            time.sleep(0.5)  # both listings hold an admin worker, blocked on flow control
            status = main(["--port", str(simulator.port), "--timeout", "8", "--command", "show sdamodel"])
            out, err = capsys.readouterr()
            assert (status, err) == (0, ""), err
            assert "48xLarge.24576GB" in out
            # The server's side of it: both listings cancelled, each with a line in its log.
            deadline = time.monotonic() + 15
            while time.monotonic() < deadline and len(cancelled_listings(caplog)) < 2:
                time.sleep(0.1)
            assert len(cancelled_listings(caplog)) == 2, caplog.messages
    finally:
        simulator.stop(0)


def test_calls_refused_for_the_secret_wait_for_no_request():
    simulator = build_simulator("127.0.0.1:0", admin_secret="s3cret-s3cret-s3cret")
    simulator.start()
    release = threading.Event()
    try:
        with grpc.insecure_channel(simulator.address) as channel:
            call = half_open(channel, "/sdamanager.v1.SDAManager/GetToken", release)
            assert outcome(call) == grpc.StatusCode.UNAUTHENTICATED  # its request was never sent
    finally:
        release.set()
        simulator.stop(0)


def test_a_call_that_ends_without_its_request_is_refused():
    simulator = build_simulator("127.0.0.1:0")
    simulator.start()
    try:
        with grpc.insecure_channel(simulator.address) as channel:
            call = channel.stream_unary("/sdamanager.v1.SDAManager/GetToken",
                                        request_serializer=lambda m: m, response_deserializer=lambda b: b)
            with pytest.raises(grpc.RpcError) as refused:
                call(iter(()), timeout=5)
            assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT
            assert refused.value.details() == "The call ended without a request."
    finally:
        simulator.stop(0)


class FakeContext:
    def __init__(self) -> None:
        self.cancelled = threading.Event()

    def cancel(self) -> None:
        self.cancelled.set()

    def peer(self) -> str:
        return "ipv4:127.0.0.1:1"


def test_the_watchdog_cancels_only_what_is_overdue():
    watchdog = Watchdog(0.05)
    late, on_time = FakeContext(), FakeContext()
    Watchdog.disarm(watchdog.arm(on_time, "done in time"))
    watchdog.arm(late, "never done")
    try:
        assert late.cancelled.wait(5)
        time.sleep(0.1)
        assert not on_time.cancelled.is_set()
    finally:
        watchdog.stop()
