"""Shared fixtures: a fresh SDAManager simulator per test, and a client stub on it.

``simulator`` starts the real gRPC server (``sdamanager_stub.server.create_server``)
in-process on a free port (``127.0.0.1:0``) with a small cluster, and stops it
after the test.  ``stub`` is an ``SDAManagerStub`` on a channel to it.

The cluster is 4 backends x 8 devices unless the test asks for another size::

    @pytest.mark.cluster(backends=60, devices=8)   # the simulator's default cluster
    def test_something(stub): ...

Either keyword may be left out (it keeps the small default).  The manager is
reachable as ``simulator.manager`` for setting up large states quickly without
thousands of RPCs.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass

# Tests fork (pexpect, subprocess) while a simulator serves in this process.  With
# gRPC's fork support on, the forked child runs gRPC's fork handlers before it
# execs; under load that child's poller fails ("epoll_wait error: Bad file
# descriptor") and the shell under test never starts (repl_smoke failed 3-5 runs
# in 10 with the CPU loaded, 0 in 10 with it off).  Must be set before gRPC loads.
os.environ.setdefault("GRPC_ENABLE_FORK_SUPPORT", "false")

import signal  # noqa: E402

# A run started in the background by a non-interactive shell (`make test &`, a CI
# runner) inherits SIGINT ignored, and so does every program the tests start: exec
# keeps an ignored signal.  The shell under test would then never see the Ctrl-C
# its tests type (both Ctrl-C tests of test_repl_smoke failed so); a handler here
# is reset to the default in those programs.
if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
    signal.signal(signal.SIGINT, signal.default_int_handler)

import grpc  # noqa: E402
import pytest

from sdamanager_stub.manager import SDAManager, new_manager
from sdamanager_stub.server import create_server
from smclient.api import sdamanager_pb2_grpc as pb_grpc

DEFAULT_BACKENDS = 4
DEFAULT_DEVICES = 8


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--update-golden", action="store_true", default=False,
                     help="rewrite tests/golden/*.txt from what the shell prints now")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        f"cluster(backends={DEFAULT_BACKENDS}, devices={DEFAULT_DEVICES}): size of the cluster "
        "the `simulator` fixture starts with (e.g. backends=60, devices=8 for the simulator's default)",
    )


@dataclass
class Simulator:
    """A running in-process simulator."""

    server: grpc.Server
    port: int
    manager: SDAManager

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"


@pytest.fixture
def simulator(request: pytest.FixtureRequest) -> Iterator[Simulator]:
    marker = request.node.get_closest_marker("cluster")
    size = dict(backends=DEFAULT_BACKENDS, devices=DEFAULT_DEVICES)
    if marker is not None:
        if marker.args:
            raise pytest.UsageError("use keywords: @pytest.mark.cluster(backends=N, devices=M)")
        unknown = set(marker.kwargs) - set(size)
        if unknown:
            raise pytest.UsageError(f"unknown cluster option(s): {', '.join(sorted(unknown))}")
        size.update(marker.kwargs)
    manager = new_manager(backends=size["backends"], devices=size["devices"])
    server, port = create_server("127.0.0.1:0", manager)
    server.start()
    try:
        yield Simulator(server, port, manager)
    finally:
        server.stop(0)


@pytest.fixture
def channel(simulator: Simulator) -> Iterator[grpc.Channel]:
    with grpc.insecure_channel(simulator.address) as chan:
        yield chan


@pytest.fixture
def stub(channel: grpc.Channel) -> pb_grpc.SDAManagerStub:
    return pb_grpc.SDAManagerStub(channel)
