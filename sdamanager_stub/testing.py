"""The simulator for other projects' tests and tools: a real SDAManager on a free port.

With pytest, use the ``sdamanager`` fixture (``sdamanager_stub.pytest_plugin``,
loaded automatically once this package is installed).  Anywhere else::

    from sdamanager_stub.testing import running_simulator

    with running_simulator(backends=4, devices=8, admin_secret="s3cret") as sim:
        status, out, err = sim.admin.run("create token alice 10")   # as moreh_smclient --command
        models = sim.admin.stub.ListSdaModels(pb.ListSdaModelsRequest())  # gRPC, the secret attached
        subprocess.run(["my-tool"], env=sim.environ())                # finds it like the shell does
        subprocess.run(["moreh-smi"], env=sim.vm_environ(token))      # a customer's VM holding `token`

``running_simulator`` starts the simulator's gRPC server in this process on
``127.0.0.1`` and a free port (never a fixed one), with a fresh in-memory
state: the guide's 13 SDA models and ``backends`` x ``devices`` IDLE devices.
``sim.manager`` reaches the state directly, for setting up thousands of
records without thousands of calls.  It stops on leaving the ``with`` block,
or at ``sim.stop()``.

The delays default to 0 here (the standalone server's default is 2 s each):
a job's devices go through PREPARING and CLEANING at once unless a test asks
for time to pass.
"""

from __future__ import annotations

import datetime
import os
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, NamedTuple

from .clock import ManualClock
from .observe import CallLog, Faults

if TYPE_CHECKING:  # pragma: no cover
    import grpc

    from smclient.api.sdamanager_pb2_grpc import SDAManagerStub

    from .manager import SDAManager
    from .server import Simulator

__all__ = ["OPTIONS", "AdminClient", "CommandResult", "RunningSimulator", "running_simulator"]

# The options running_simulator takes, with their defaults (the pytest marker takes the same).
OPTIONS: Mapping[str, Any] = {
    "backends": 4,
    "devices": 8,
    "prepare_seconds": 0.0,
    "clean_seconds": 0.0,
    "admin_secret": None,
    "clock": "wall",
}

# The environment variables that tell moreh_smclient where SDAManager is and
# what secret to send; environ() sets the first two and the secret, and drops
# the rest so nothing inherited points elsewhere.
_ADDRESS_AND_SECRET_ENV = ("SDAMANAGER_IP", "SDAMANAGER_PORT", "MOREH_SDA_MANAGER_ADDRESS",
                           "SDAMANAGER_ADMIN_SECRET", "SDAMANAGER_ADMIN_SECRET_FILE", "SDAMANAGER_TLS_CA")


class CommandResult(NamedTuple):
    """What one shell command did: its exit status (as ``moreh_smclient --command``
    would exit: 0, 1 refused, 2 usage, 3 unreachable) and what it would print
    on stdout and stderr, byte for byte."""

    status: int
    stdout: str
    stderr: str


class AdminClient:
    """An administrator's view of one simulator: gRPC calls and shell commands,
    both carrying the admin secret when the simulator has one."""

    def __init__(self, host: str, port: int, admin_secret: str | None, timeout: float = 5.0) -> None:
        self.host, self.port, self.admin_secret, self.timeout = host, port, admin_secret, timeout
        self._channel: grpc.Channel | None = None
        self._stub: SDAManagerStub | None = None
        self._executor: Any = None

    @property
    def metadata(self) -> tuple[tuple[str, str], ...]:
        """The metadata an admin call carries (empty without a secret)."""
        from smclient.api import ADMIN_SECRET_METADATA

        return ((ADMIN_SECRET_METADATA, self.admin_secret),) if self.admin_secret else ()

    @property
    def channel(self) -> grpc.Channel:
        """A channel to the simulator on which every call carries the admin secret."""
        if self._channel is None:
            import grpc

            from smclient.api.address import Address

            channel = grpc.insecure_channel(str(Address(self.host, self.port)))
            if self.admin_secret:
                channel = grpc.intercept_channel(channel, _with_metadata(self.metadata))
            self._channel = channel
        return self._channel

    @property
    def stub(self) -> SDAManagerStub:
        """``sdamanager.v1.SDAManager``'s generated stub on ``channel``."""
        if self._stub is None:
            from smclient.api.sdamanager_pb2_grpc import SDAManagerStub

            self._stub = SDAManagerStub(self.channel)  # type: ignore[no-untyped-call]  # generated code, unannotated
        return self._stub

    def run(self, line: str) -> CommandResult:
        """One shell command (``show token``, ``create token alice 10``, ``set output json``),
        run through the shell's own execution path and rendered as it prints it.

        One command per call (no ``;`` chains); ``set output`` lasts for the
        calls after it, as in the interactive shell.
        """
        # The shell is imported here, not at the top: the simulator's own modules
        # import nothing of it but smclient.api, and a test that only makes gRPC
        # calls does not load it.
        from smclient.render import render_outcome

        if self._executor is None:
            from smclient.api.address import Address
            from smclient.executor import Executor
            from smclient.transport import Connection

            connection = Connection(Address(self.host, self.port), timeout=self.timeout,
                                    admin_secret=self.admin_secret)
            self._executor = Executor(connection)
        outcome = self._executor.execute_line(line)
        stdout, stderr = render_outcome(outcome.result, self._executor.output)
        # Each ends in a newline when not empty, as the shell prints them.
        return CommandResult(outcome.status, stdout and stdout + "\n", stderr and stderr + "\n")

    def close(self) -> None:
        if self._executor is not None:
            self._executor.connection.close()
            self._executor = None
        if self._channel is not None:
            self._channel.close()
            self._channel, self._stub = None, None


class RunningSimulator:
    """A started simulator; a context manager that stops it (``stop()`` does too)."""

    def __init__(self, simulator: Simulator, admin_secret: str | None, clock: ManualClock | None = None,
                 faults: Faults | None = None, calls: CallLog | None = None) -> None:
        self._simulator = simulator
        self._clock = clock
        # Faults on demand: sim.faults.add("GetToken", "UNAVAILABLE", times=2), delay=, after=, token=;
        # sim.faults.clear().  Each injected fault is logged as injected.
        self.faults = faults if faults is not None else Faults()
        # The calls answered, in order: sim.calls (method, request, code, time, seconds, peer), .of("GetToken"),
        # .clear().
        self.calls = calls if calls is not None else CallLog()
        self.admin_secret = admin_secret
        self.admin = AdminClient(simulator.host, simulator.port, admin_secret)
        self._stopped = False

    @property
    def host(self) -> str:
        return self._simulator.host

    @property
    def port(self) -> int:
        return self._simulator.port

    @property
    def address(self) -> str:
        """``127.0.0.1:PORT``: what ``moreh_smclient --ip``/``--port`` or a gRPC channel needs."""
        return self._simulator.address

    @property
    def manager(self) -> SDAManager:
        """The simulator's state and rules, for fast setup (``sim.manager.create_token(...)``)."""
        return self._simulator.manager

    def environ(self, base: Mapping[str, str] | None = None) -> dict[str, str]:
        """``base`` (default ``os.environ``) pointed at this simulator, for a subprocess:
        ``moreh_smclient`` (or a tool built on the same variables) started with it
        reaches this simulator with its admin secret, whatever ``base`` held."""
        env = {k: v for k, v in (os.environ if base is None else base).items() if k not in _ADDRESS_AND_SECRET_ENV}
        env.update(SDAMANAGER_IP=self.host, SDAMANAGER_PORT=str(self.port))
        if self.admin_secret:
            env["SDAMANAGER_ADMIN_SECRET"] = self.admin_secret
        return env

    def vm_environ(self, token: str, base: Mapping[str, str] | None = None) -> dict[str, str]:
        """``base`` (default ``os.environ``) as a customer's VM holding ``token`` has it, for
        a subprocess: ``moreh-smi`` and ``moreh-switch-model`` (or a tool built on the same
        variables) reach this simulator as that VM, and no admin secret is in reach."""
        env = {k: v for k, v in (os.environ if base is None else base).items()
               if k not in _ADDRESS_AND_SECRET_ENV and k != "MOREH_SDA_TOKEN"}
        env.update(MOREH_SDA_MANAGER_ADDRESS=self.address, MOREH_SDA_TOKEN=token)
        return env

    # ------------------------------------------------------------ time (clock="manual")

    def advance(self, seconds: float) -> None:
        """Move the simulator's time `seconds` on, and run every transition that falls due
        in that time, in order and each at its own instant: devices prepared, jobs
        started, devices cleaned; usage, history times and the customer's telemetry
        follow.  Only with ``clock="manual"``."""
        self._manual().advance(seconds)
        self._catch_up()

    def advance_to(self, moment: datetime.datetime | float) -> None:
        """`advance` up to `moment` (an aware datetime, or seconds since the epoch)."""
        self._manual().advance_to(moment)
        self._catch_up()

    @property
    def now(self) -> float:
        """The simulator's time, seconds since the epoch."""
        return self._clock() if self._clock is not None else self.manager.clock()

    def _manual(self) -> ManualClock:
        if self._clock is None:
            raise RuntimeError('advance needs a simulator started with clock="manual"')
        return self._clock

    def _catch_up(self) -> None:
        async def catch_up() -> None:  # on the server's own loop, between the calls it answers
            self.manager.advance()

        self._simulator.owner.call(catch_up(), timeout=60)

    @property
    def running(self) -> bool:
        return not self._stopped

    def stop(self) -> None:
        """Stop serving (idempotent); calls in flight are cancelled."""
        if self._stopped:
            return
        self._stopped = True
        self.admin.close()
        self._simulator.stop(0)

    def __enter__(self) -> RunningSimulator:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def __repr__(self) -> str:
        state = "running" if self.running else "stopped"
        return f"<RunningSimulator {self.address} {state}, {len(self.manager.backends)} backends>"


def check_options(options: Mapping[str, Any]) -> dict[str, Any]:
    """``OPTIONS`` updated with ``options``, each checked; ValueError names a bad one."""
    unknown = sorted(set(options) - set(OPTIONS))
    if unknown:
        raise ValueError(f"unknown simulator option(s) {', '.join(unknown)}; "
                         f"the options are {', '.join(OPTIONS)}")
    chosen = {**OPTIONS, **options}
    for name, most in (("backends", 100_000), ("devices", 1024)):  # sdamanager-stub serve's bounds
        value = chosen[name]
        if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= most:
            raise ValueError(f"{name} must be a whole number 0-{most}, not {value!r}")
    for name in ("prepare_seconds", "clean_seconds"):
        value = chosen[name]
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= 86_400:
            raise ValueError(f"{name} must be a number of seconds 0-86400, not {value!r}")
    if chosen["clock"] not in ("wall", "manual"):
        raise ValueError(f"clock must be 'wall' or 'manual', not {chosen['clock']!r}")
    secret = chosen["admin_secret"]
    if secret is not None:
        if not isinstance(secret, str) or not secret or not all(" " <= c <= "~" for c in secret):
            raise ValueError("admin_secret must be None or a non-empty line of printable ASCII "
                             "(what gRPC metadata can carry)")
    return chosen


def running_simulator(**options: Any) -> RunningSimulator:
    """Start a simulator on 127.0.0.1 and a free port; use it as ``with running_simulator() as sim:``.

    Options (all keywords; ``OPTIONS`` holds the defaults): ``backends`` (4) and
    ``devices`` (8) size the cluster; ``prepare_seconds`` and ``clean_seconds``
    (0) are how long devices take to prepare for and clean after a job;
    ``admin_secret`` (None): admin calls must carry it, as with
    ``sdamanager-stub serve --admin-secret-file``.  A bad option raises
    ValueError naming it.
    """
    chosen = check_options(options)
    # Tests often fork (pexpect, a subprocess) while the simulator serves here;
    # gRPC's fork handlers then run in the child and can break it before it
    # execs.  Only when nobody chose otherwise, and only before gRPC loads.
    os.environ.setdefault("GRPC_ENABLE_FORK_SUPPORT", "false")
    from .manager import new_manager
    from .server import build_simulator

    clock = ManualClock() if chosen["clock"] == "manual" else None
    manager = new_manager(chosen["backends"], chosen["devices"], clock=clock,  # None: the default clock
                          prepare_seconds=float(chosen["prepare_seconds"]),
                          clean_seconds=float(chosen["clean_seconds"]))
    faults, calls = Faults(), CallLog()
    simulator = build_simulator("127.0.0.1:0", manager, admin_secret=chosen["admin_secret"], observers=(faults, calls))
    simulator.start()
    return RunningSimulator(simulator, chosen["admin_secret"], clock, faults, calls)


def _with_metadata(metadata: tuple[tuple[str, str], ...]) -> Any:
    """A client interceptor that adds `metadata` (the admin secret) to every call."""
    import grpc

    class Details(grpc.ClientCallDetails):
        def __init__(self, details: Any) -> None:
            self.method, self.timeout, self.credentials = details.method, details.timeout, details.credentials
            self.wait_for_ready, self.compression = details.wait_for_ready, details.compression
            self.metadata = (*(details.metadata or ()), *metadata)

    if TYPE_CHECKING:  # generic in grpc-stubs (request, response: here any method's messages), not at run time
        UnaryUnary = grpc.UnaryUnaryClientInterceptor[Any, Any]
        UnaryStream = grpc.UnaryStreamClientInterceptor[Any, Any]
        StreamUnary = grpc.StreamUnaryClientInterceptor[Any, Any]
        StreamStream = grpc.StreamStreamClientInterceptor[Any, Any]
    else:
        UnaryUnary, UnaryStream = grpc.UnaryUnaryClientInterceptor, grpc.UnaryStreamClientInterceptor
        StreamUnary, StreamStream = grpc.StreamUnaryClientInterceptor, grpc.StreamStreamClientInterceptor

    class WithMetadata(UnaryUnary, UnaryStream, StreamUnary, StreamStream):
        def intercept_unary_unary(self, continuation: Any, details: Any, request: Any) -> Any:
            return continuation(Details(details), request)

        def intercept_unary_stream(self, continuation: Any, details: Any, request: Any) -> Any:
            return continuation(Details(details), request)

        def intercept_stream_unary(self, continuation: Any, details: Any, requests: Any) -> Any:
            return continuation(Details(details), requests)

        def intercept_stream_stream(self, continuation: Any, details: Any, requests: Any) -> Any:
            return continuation(Details(details), requests)

    return WithMetadata()
