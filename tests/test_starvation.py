"""Callers that stall cannot starve the others.

On grpc.aio a stalled call is a coroutine waiting, so no kind of call can take
another's workers: calls whose request never arrives are cancelled at the
request deadline counted from their arrival; clients that do not read a
listing lose it at the reply deadline, while slow but steady readers never
do; streams that last (health Watch, reflection) never hold up a health
check; beyond each kind's bound a call is refused at once, and the memory a
flood or a crowd of stalled calls takes comes back.
"""

from __future__ import annotations

import asyncio
import gc
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import grpc
import grpc.aio
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc
from helpers import wait_for
from test_server import LISTENING, STUB_SCRIPT, first_line

from sdamanager_stub.manager import SDAManager, new_manager
from sdamanager_stub.server import Simulator, build_simulator
from smclient.api import sdamanager_pb2 as pb
from smclient.api import sdamanager_pb2_grpc as pb_grpc
from smclient.cli import main

STALLED = 24
CHECK = "/grpc.health.v1.Health/Check"
REQUEST_DEVICES = "/sdamanager.v1.SDAManager/RequestDevices"
GET_TOKEN = "/sdamanager.v1.SDAManager/GetToken"


def half_open(channel: grpc.Channel, method: str, release: threading.Event) -> grpc.Future:
    """A call to a unary `method` whose request never comes: headers sent, no message, no deadline."""

    def requests():  # type: ignore[no-untyped-def]
        release.wait()  # sends nothing until the test ends
        yield from ()

    call = channel.stream_unary(method, request_serializer=lambda m: m, response_deserializer=lambda b: b)
    return call.future(requests())


def arrived(simulator: Simulator, calls: int) -> None:
    """Wait until `calls` calls have reached the server since it started (its guard counts
    them: those in flight and those ended), so that what follows runs while they hold
    whatever they hold.  (Ended too: under load the first of a crowd may reach their
    request deadline before the last arrive.)"""
    guard = simulator.guard
    wait_for(lambda: sum(guard.in_flight.values()) + guard.finished >= calls, timeout=20,
             what=lambda: f"{calls} calls to reach the server (in flight {guard.in_flight}, ended {guard.finished})")


def outcome(call: grpc.Future, timeout: float = 10) -> grpc.StatusCode:
    try:
        call.result(timeout=timeout)
    except grpc.RpcError as err:
        return err.code()
    return grpc.StatusCode.OK


def vm_request(channel: grpc.Channel, token: str, timeout: float) -> pb.Job:
    stub = pb_grpc.SDAManagerStub(channel)
    return stub.RequestDevices(pb.RequestDevicesRequest(token=token, client_pid=1, process_name="python train.py",
                                                        client="pytorch", version="23.9.2"), timeout=timeout)


def health_check(channel: grpc.Channel, timeout: float = 1.0) -> int:
    return health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(), timeout=timeout).status


def with_a_vm() -> tuple[SDAManager, str]:
    """A small cluster and a customer's token with an SDA (a VM that can ask for devices)."""
    manager = new_manager(2, 8)
    token = manager.create_token("vm", 0).value
    manager.create_sda(token, "vm", 1)
    return manager, token


def each_answered_within_a_second(port: int, token: str, capsys: pytest.CaptureFixture[str]) -> None:
    """A health check, a VM's request for devices (its job then ended) and the shell's
    `show sdamodel`, each answered within a second (the calls' own deadlines)."""
    with grpc.insecure_channel(f"127.0.0.1:{port}") as probe:
        assert health_check(probe, timeout=1) == health_pb2.HealthCheckResponse.SERVING
        job = vm_request(probe, token, timeout=1)
        pb_grpc.SDAManagerStub(probe).FinishJob(pb.FinishJobRequest(feid=job.feid, token=token), timeout=5)
    started = time.monotonic()
    assert main(["--port", str(port), "--timeout", "1", "--command", "show sdamodel"]) == 0
    assert time.monotonic() - started < 1
    assert "48xLarge.24576GB" in capsys.readouterr().out


@pytest.fixture
def served() -> Iterator:
    started = []

    def serve(*args, **kwargs):  # type: ignore[no-untyped-def]
        simulator = build_simulator("127.0.0.1:0", *args, **kwargs)
        simulator.start()
        started.append(simulator)
        return simulator

    yield serve
    for simulator in started:
        simulator.stop(0)


# ---------------------------------------------------------------- stalls of one kind stop no other kind

@pytest.mark.parametrize("method", [CHECK, REQUEST_DEVICES])
def test_stalled_open_calls_do_not_stop_the_admin_shell(served, method, capsys):
    simulator = served()
    release = threading.Event()
    channels = [grpc.insecure_channel(simulator.address) for _ in range(4)]
    try:
        stalled = [half_open(channels[i % 4], method, release) for i in range(STALLED)]
        arrived(simulator, STALLED)
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


def test_calls_stalled_within_a_kind_are_cancelled_at_the_request_deadline(served):
    """24 VMs that never send their request: the server cancels them once the
    request deadline passes, and a real VM's call meanwhile is answered at once."""
    manager, token = with_a_vm()
    simulator = served(manager, request_deadline=1.0)
    release = threading.Event()
    channels = [grpc.insecure_channel(simulator.address) for _ in range(4)]
    try:
        stalled = [half_open(channels[i % 4], REQUEST_DEVICES, release) for i in range(STALLED)]
        arrived(simulator, STALLED)
        job = vm_request(channels[0], token, timeout=1)
        assert job.token == token and job.feid > 0
        assert {outcome(call) for call in stalled} == {grpc.StatusCode.CANCELLED}
    finally:
        release.set()
        for channel in channels:
            channel.close()


def test_health_probes_answer_while_probes_stall(served):
    simulator = served(request_deadline=1.0)
    release = threading.Event()
    try:
        with grpc.insecure_channel(simulator.address) as stalling, grpc.insecure_channel(simulator.address) as probe:
            stalled = [half_open(stalling, CHECK, release) for _ in range(STALLED)]
            arrived(simulator, STALLED)
            assert health_check(probe) == health_pb2.HealthCheckResponse.SERVING
            assert {outcome(call) for call in stalled} == {grpc.StatusCode.CANCELLED}
    finally:
        release.set()


def test_two_hundred_half_open_calls_of_each_kind_end_at_the_deadline_from_their_arrival(served, capsys):
    """600 stalled calls at once: each is cancelled at the request deadline counted from
    its arrival (not from when a worker was free: N/16 x 10 s before), and meanwhile
    the shell, a health check and a VM are each answered within a second."""
    manager, token = with_a_vm()
    simulator = served(manager, request_deadline=2.0)
    release = threading.Event()
    channels = [grpc.insecure_channel(simulator.address) for _ in range(6)]
    try:
        began = time.monotonic()
        stalled = [half_open(channels[i % 6], method, release)
                   for method in (CHECK, REQUEST_DEVICES, GET_TOKEN) for i in range(200)]
        arrived(simulator, len(stalled))
        each_answered_within_a_second(simulator.port, token, capsys)
        assert {outcome(call) for call in stalled} == {grpc.StatusCode.CANCELLED}
        assert time.monotonic() - began < 2.0 + 3  # all at about the deadline, none queued behind others
    finally:
        release.set()
        for channel in channels:
            channel.close()


# ---------------------------------------------------------------- streams that last

def test_watch_streams_and_slow_reflection_streams_never_hold_up_a_health_check(served):
    """16 health Watch streams and 16 reflection streams sending a request every 0.5 s
    (on the sync server they took every open worker for good): a health check is
    answered within 1 s throughout."""
    simulator = served()
    stop = threading.Event()
    channel = grpc.insecure_channel(simulator.address)
    # Deadlines only so that a server that cannot serve them fails the test rather than hangs it.
    watches = [health_pb2_grpc.HealthStub(channel).Watch(health_pb2.HealthCheckRequest(), timeout=30)
               for _ in range(16)]

    def slowly() -> Iterator[reflection_pb2.ServerReflectionRequest]:
        while not stop.wait(0.5):
            yield reflection_pb2.ServerReflectionRequest(list_services="")

    reflecting = [reflection_pb2_grpc.ServerReflectionStub(channel).ServerReflectionInfo(slowly(), timeout=30)
                  for _ in range(16)]
    def drain(call: grpc.Future) -> None:
        try:
            for _ in call:
                pass
        except grpc.RpcError:  # cancelled at the end of the test
            pass

    answered = [threading.Thread(target=drain, args=(call,), daemon=True) for call in reflecting]
    for thread in answered:
        thread.start()
    try:
        for watch in watches:  # each stream is open: the first status has come
            assert next(watch).status == health_pb2.HealthCheckResponse.SERVING
        worst = 0.0
        with grpc.insecure_channel(simulator.address) as probe:
            until = time.monotonic() + 3
            while time.monotonic() < until:
                started = time.monotonic()
                assert health_check(probe) == health_pb2.HealthCheckResponse.SERVING
                worst = max(worst, time.monotonic() - started)
                time.sleep(0.05)
        assert worst < 1, worst
    finally:
        stop.set()
        for call in [*watches, *reflecting]:
            call.cancel()
        channel.close()


# ---------------------------------------------------------------- replies

def cancelled_listings(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [m for m in caplog.messages if m.endswith("it did not take its reply within 1 s")]


def test_clients_that_do_not_read_a_listing_lose_it_at_the_reply_deadline(served, capsys, caplog):
    """Two clients that start a 40 MB listing and never read it: HTTP/2 flow control
    stops the server's writes; at the reply deadline their calls are cancelled (each
    with a line in the log) and the shell is answered meanwhile."""
    manager = new_manager(1, 8)
    for i in range(20_000):
        manager.add_token_env(manager.create_token("t", i % 9).value, "BLOB", "x" * 2000)
    simulator = served(manager, reply_deadline=1.0)
    with grpc.insecure_channel(simulator.address) as idle:
        # Held till the end: a call dropped would be cancelled by its client.
        _unread = [pb_grpc.SDAManagerStub(idle).ListTokens(pb.ListTokensRequest()) for _ in range(2)]
        arrived(simulator, 2)
        status = main(["--port", str(simulator.port), "--timeout", "8", "--command", "show sdamodel"])
        out, err = capsys.readouterr()
        assert (status, err) == (0, ""), err
        assert "48xLarge.24576GB" in out
        wait_for(lambda: len(cancelled_listings(caplog)) >= 2, timeout=15, what=lambda: f"two cancelled listings "
                 f"in the log: {caplog.messages}")
        assert len(cancelled_listings(caplog)) == 2, caplog.messages


def test_a_slow_but_steady_reader_is_never_cancelled(served, caplog):
    """The reply deadline is time without progress by the client, not the time a page
    waits in buffers: a client that takes 5 MB a second reads a 20 MB listing for
    about 4 s under a 2 s deadline, to the end.  (What counts as progress is gRPC's
    flow control: a write completes once the client's window has room, and clients
    open their window in steps of a few MB; a reader slower than that per deadline
    is cancelled.)"""
    manager = new_manager(1, 8)
    for _ in range(10_000):
        manager.add_token_env(manager.create_token("t", 0).value, "BLOB", "x" * 2000)
    simulator = served(manager, reply_deadline=2.0)
    with grpc.insecure_channel(simulator.address) as channel:
        tokens = 0
        started = time.monotonic()
        for page in pb_grpc.SDAManagerStub(channel).ListTokens(pb.ListTokensRequest(), timeout=60):
            tokens += len(page.tokens)
            time.sleep(page.ByteSize() / 5e6)
        assert tokens == 10_000
        assert time.monotonic() - started > 3  # it did outlast the deadline
    assert not [m for m in caplog.messages if "did not take its reply" in m]


# ---------------------------------------------------------------- requests

def test_calls_refused_for_the_secret_wait_for_no_request(served):
    simulator = served(admin_secret="s3cret-s3cret-s3cret")
    release = threading.Event()
    try:
        with grpc.insecure_channel(simulator.address) as channel:
            call = half_open(channel, GET_TOKEN, release)
            assert outcome(call) == grpc.StatusCode.UNAUTHENTICATED  # its request was never sent
    finally:
        release.set()


def test_a_call_that_ends_without_its_request_is_refused(served):
    simulator = served()
    with grpc.insecure_channel(simulator.address) as channel:
        call = channel.stream_unary(GET_TOKEN, request_serializer=lambda m: m, response_deserializer=lambda b: b)
        with pytest.raises(grpc.RpcError) as refused:
            call(iter(()), timeout=5)
        assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert refused.value.details() == "The call ended without a request."


@pytest.mark.parametrize("count", [2, 100_000])
def test_more_than_one_request_message_on_a_unary_method_is_refused(served, count):
    """The sync server applied the first and dropped the rest, answering OK."""
    simulator = served()
    with grpc.insecure_channel(simulator.address) as channel:
        call = channel.stream_unary("/sdamanager.v1.SDAManager/CreateToken",
                                    request_serializer=pb.CreateTokenRequest.SerializeToString,
                                    response_deserializer=pb.Token.FromString)
        requests = (pb.CreateTokenRequest(description=f"t{i}") for i in range(count))
        with pytest.raises(grpc.RpcError) as refused:
            call(requests, timeout=30)
        assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert refused.value.details() == "This method takes one request message; the call sent more."
    assert simulator.manager.tokens == {}  # nothing applied


def test_beyond_its_bound_a_call_is_refused_at_once_and_other_kinds_go_on(served):
    simulator = served(max_calls=8, request_deadline=5.0)
    release = threading.Event()
    try:
        with grpc.insecure_channel(simulator.address) as channel:
            stalled = [half_open(channel, CHECK, release) for _ in range(8)]
            arrived(simulator, 8)
            with pytest.raises(grpc.RpcError) as refused:
                health_check(channel)
            assert refused.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
            assert refused.value.details() == "This SDAManager is answering 8 open calls already; try again shortly."
            models = pb_grpc.SDAManagerStub(channel).ListSdaModels(pb.ListSdaModelsRequest(), timeout=1)
            assert len(models.models) == 13  # the admin kind has its own room
            release.set()
            assert {outcome(call) for call in stalled} == {grpc.StatusCode.INVALID_ARGUMENT}  # ended, no request
            assert health_check(channel) == health_pb2.HealthCheckResponse.SERVING  # the room is back
    finally:
        release.set()


def test_streams_have_a_bound_of_their_own_and_never_take_a_unary_calls_place(served):
    simulator = served(max_streams=2)
    with grpc.insecure_channel(simulator.address) as channel:
        health = health_pb2_grpc.HealthStub(channel)
        watches = [health.Watch(health_pb2.HealthCheckRequest(), timeout=30) for _ in range(2)]
        try:
            for watch in watches:
                assert next(watch).status == health_pb2.HealthCheckResponse.SERVING
            with pytest.raises(grpc.RpcError) as refused:
                next(health.Watch(health_pb2.HealthCheckRequest(), timeout=5))
            assert refused.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
            assert refused.value.details() == ("This SDAManager is answering 2 open stream calls already; "
                                               "try again shortly.")
            assert health_check(channel) == health_pb2.HealthCheckResponse.SERVING  # unary: room of its own
            pages = list(pb_grpc.SDAManagerStub(channel).ListBackends(pb.ListBackendsRequest(), timeout=5))
            assert pages  # the admin listings' bound is another
        finally:
            for watch in watches:
                watch.cancel()


# ---------------------------------------------------------------- what calls leave behind

def rpc_states() -> int:
    gc.collect()
    return sum(type(o).__name__ == "RPCState" for o in gc.get_objects())


def test_five_thousand_calls_retain_no_calls_state(served):
    """The sync server's watchdog kept every call's context until its deadline (13.2 MB
    after 5,000 calls); here a finished call leaves nothing."""
    simulator = served()
    with grpc.insecure_channel(simulator.address) as channel:
        stub = pb_grpc.SDAManagerStub(channel)
        stub.ListSdaModels(pb.ListSdaModelsRequest(), timeout=5)
        before = rpc_states()
        for _ in range(50):  # in waves of 100 at once: what is measured is what calls leave, not a burst
            calls = [stub.ListSdaModels.future(pb.ListSdaModelsRequest(), timeout=30) for _ in range(100)]
            assert all(call.result().models for call in calls)
        del calls
        # The server's calls awaiting new requests, not one per call (the last ones' state
        # goes as the server's loop finishes them).
        wait_for(lambda: rpc_states() <= before + 16, timeout=5,
                 what=lambda: f"at most {before + 16} RPCState objects (there are {rpc_states()})")


def server_figures(pid: int) -> tuple[float, int]:
    """(resident MB, threads) of a process."""
    status = dict(line.split(":", 1) for line in Path(f"/proc/{pid}/status").read_text().splitlines())
    return int(status["VmRSS"].split()[0]) / 1024, int(status["Threads"])


@pytest.fixture
def server_process(tmp_path: Path) -> Iterator[tuple[int, int]]:
    """`sdamanager-stub serve` in a process of its own; its log (a line per cancelled call)
    goes to a file: a pipe nobody reads would fill and stop the server."""
    with (tmp_path / "server.log").open("w") as log, \
            subprocess.Popen([str(STUB_SCRIPT), "serve", "--memory", "--port", "0", "--backends", "2",
                              "--devices", "8", "--request-deadline", "3"],
                             stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=log, text=True) as proc:
        try:
            match = LISTENING.match(first_line(proc))
            assert match
            yield proc.pid, int(match.group(1))
        finally:
            proc.kill()


def test_a_flood_of_calls_leaves_the_server_small(server_process):
    """16,000 health checks carrying 7 KB of metadata, 64 at a time, as fast as one
    client sends them (the sync server went from 44 MB to 1.03 GB after 35,000 such
    calls in 12 s): the server stays under 150 MB.  A count, not a time: how many
    calls a second this machine makes is not the point."""
    pid, port = server_process
    padding = (("x-padding", "p" * 7000),)
    clients, each = 64, 250
    sent = 0

    async def flood() -> None:
        nonlocal sent
        async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
            check = channel.unary_unary(CHECK, request_serializer=health_pb2.HealthCheckRequest.SerializeToString,
                                        response_deserializer=health_pb2.HealthCheckResponse.FromString)

            async def one_client() -> None:
                nonlocal sent
                for _ in range(each):
                    await check(health_pb2.HealthCheckRequest(), metadata=padding, timeout=10)
                    sent += 1  # one event loop: no other thread adds to it

            await asyncio.gather(*(one_client() for _ in range(clients)))

    most = 0.0
    done = threading.Event()

    def sample() -> None:
        nonlocal most
        while not done.wait(0.2):
            most = max(most, server_figures(pid)[0])

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    asyncio.run(flood())
    done.set()
    sampler.join()
    assert sent == clients * each
    assert most < 150, f"{most:.0f} MB after {sent} calls"


def test_a_thousand_half_open_calls_of_each_kind_cost_no_threads_and_their_memory_comes_back(server_process,
                                                                                            capsys):
    """3,000 stalled calls at once, twice: the shell, a health check and a VM are each
    answered within 1 s meanwhile, the server never runs 16 threads, and what the
    calls took comes back once they are gone.  (Not all of it: the first crowd leaves
    the process about 45 MB above where it started, in the allocator and gRPC's core,
    Python's objects all freed; a second crowd returns to that level, so crowds do not
    add up.)"""
    pid, port = server_process
    address = f"127.0.0.1:{port}"
    with grpc.insecure_channel(address) as admin:
        token = pb_grpc.SDAManagerStub(admin).CreateToken(pb.CreateTokenRequest(description="vm"), timeout=5).value
        pb_grpc.SDAManagerStub(admin).CreateSda(pb.CreateSdaRequest(token=token, description="vm", model_id=1),
                                                timeout=5)
    start_memory, most_threads = server_figures(pid)
    settled = []
    for _ in range(2):
        release = threading.Event()
        channels = [grpc.insecure_channel(address) for _ in range(12)]
        try:
            stalled = [half_open(channels[i % 12], method, release)
                       for method in (CHECK, REQUEST_DEVICES, GET_TOKEN) for i in range(1000)]
            # The server is another process, whose calls this test cannot count as they come
            # (an in-process server's are, see arrived()): a second for 3,000 calls to arrive.
            time.sleep(1.0)
            most_threads = max(most_threads, server_figures(pid)[1])
            each_answered_within_a_second(port, token, capsys)
            most_threads = max(most_threads, server_figures(pid)[1])
            assert {outcome(call, timeout=20) for call in stalled} == {grpc.StatusCode.CANCELLED}
        finally:
            release.set()
            for channel in channels:
                channel.close()
        # The memory is given back every 5 s in which 1,000 calls ended (calls.give_back_memory):
        # within 15 s, to 60 MB above the start after the first crowd, and the second adds < 20 MB.
        bound = start_memory + 60 if not settled else settled[0] + 20
        wait_for(lambda bound=bound: server_figures(pid)[0] < bound, timeout=15,
                 what=lambda bound=bound: f"the server under {bound:.0f} MB (started at {start_memory:.0f} "
                                          f"MB, then {settled}, now {server_figures(pid)[0]:.0f} MB)")
        settled.append(server_figures(pid)[0])
    assert most_threads < 16, most_threads
