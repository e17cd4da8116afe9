"""Callers that stall cannot starve the others (SPEC section 8): calls whose
request never arrives, on the open methods (health, the VM side), hold only
the workers of their own kind; the admin shell keeps answering."""

from __future__ import annotations

import threading
import time

import grpc
import pytest

from sdamanager_stub.server import build_simulator
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
