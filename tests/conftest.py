"""Shared fixtures.  The simulator is the project's own ``sdamanager`` fixture
(sdamanager_stub/pytest_plugin.py, what other projects get): a real SDAManager on
127.0.0.1 and a free port, fresh for each test, sized by its marker::

    @pytest.mark.sdamanager(backends=60, devices=8)   # the standalone simulator's cluster
    def test_something(sdamanager, stub): ...

``stub`` and ``channel`` are the generated stub and a channel on that simulator;
``utc`` runs a test with the local time zone set to UTC; ``clock`` is a fake
clock and ``m`` the rules alone on it.  Classes and functions that many modules
share (the fake clock, a journal in memory, waiting for a condition with a
deadline) are in helpers.py.
"""

from __future__ import annotations

import os

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

import time  # noqa: E402
from collections.abc import Iterator  # noqa: E402
from typing import TYPE_CHECKING, Any  # noqa: E402

import helpers  # noqa: E402
import pytest  # noqa: E402
from helpers import FakeClock  # noqa: E402

if TYPE_CHECKING:
    import grpc

    from sdamanager_stub.manager import SDAManager
    from sdamanager_stub.testing import RunningSimulator
    from smclient.api import sdamanager_pb2_grpc as pb_grpc


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--update-golden", action="store_true", default=False,
                     help="rewrite tests/golden/*.txt from what the shell prints now")
    parser.addoption("--slow", action="store_true", default=False,
                     help="run the tests marked slow at full strength (make test-all; make test runs them lighter)")


# A pytest-xdist worker (make test) starts with LINES=24 and COLUMNS=80 in its environment
# where the run that started it had neither; every program the tests start on a terminal
# of another size would believe them (the shell's pager and watch did: 2 tests failed).
# The workers take these two from the controller's environment as it is.
TERMINAL_SIZE_ENV = ("LINES", "COLUMNS")


@pytest.hookimpl(optionalhook=True)
def pytest_configure_node(node: Any) -> None:  # pytest-xdist's hook, in the controller
    node.workerinput["terminal_size_env"] = {name: os.environ.get(name) for name in TERMINAL_SIZE_ENV}


def pytest_configure(config: pytest.Config) -> None:
    for name, value in getattr(config, "workerinput", {}).get("terminal_size_env", {}).items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value
    config.addinivalue_line(
        "markers", "slow: a heavy test (kill -9 loops, long random sequences): fewer rounds by default, all of "
        "them with --slow (make test-all, which CI runs); helpers.strength(light, full) says how many")
    helpers.FULL_STRENGTH = bool(config.getoption("--slow"))
    config.addinivalue_line(
        "markers", "cluster(backends=4, devices=8): the older name of the `sdamanager` marker "
        "(tests/test_render_fast.py still uses it); the `simulator` fixture is the older name of `sdamanager`")


@pytest.fixture
def sdamanager_options(request: pytest.FixtureRequest) -> dict[str, Any]:
    """The `cluster` marker's keywords, for the `sdamanager` fixture (its own marker wins)."""
    marker = request.node.get_closest_marker("cluster")
    return dict(marker.kwargs) if marker is not None else {}


@pytest.fixture
def simulator(sdamanager: RunningSimulator) -> RunningSimulator:
    """The older name of the ``sdamanager`` fixture, kept for tests/test_render_fast.py."""
    return sdamanager


@pytest.fixture
def channel(sdamanager: RunningSimulator) -> grpc.Channel:
    """A channel to the test's simulator (closed when it stops)."""
    return sdamanager.admin.channel


@pytest.fixture
def stub(sdamanager: RunningSimulator) -> pb_grpc.SDAManagerStub:
    """``sdamanager.v1.SDAManager``'s stub on the test's simulator."""
    return sdamanager.admin.stub


@pytest.fixture
def utc(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The local time zone is UTC for the test (times print as the golden transcripts have them)."""
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


@pytest.fixture
def clock() -> FakeClock:
    """A clock that moves only when the test moves it (helpers.FakeClock)."""
    return FakeClock()


@pytest.fixture
def m(clock: FakeClock) -> SDAManager:
    """The rules alone (no server, no file): 4 backends x 8 devices, the guide's 13 models, on `clock`."""
    from sdamanager_stub.manager import new_manager

    return new_manager(backends=4, devices=8, clock=clock)
