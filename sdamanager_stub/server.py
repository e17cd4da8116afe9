"""Building and running the simulator's gRPC server (grpc.aio, on the state's owner)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Any, Protocol

import grpc
import grpc.aio
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection

from smclient.api import sdamanager_pb2 as pb
from smclient.api.address import Address

from .calls import MAX_CALLS, MAX_STREAMS, REPLY_DEADLINE, REQUEST_DEADLINE, Guard, give_back_memory
from .manager import SDAManager, new_manager
from .observe import CallObserver
from .owner import Owner
from .security import AdminSecret
from .servicer import Servicer, add_to_server

SERVICE_NAME = pb.DESCRIPTOR.services_by_name["SDAManager"].full_name  # "sdamanager.v1.SDAManager"
# Requests are small; a bigger one is refused before it costs memory.
MAX_MESSAGE_BYTES = 4 * 1024 * 1024


class HealthStatuses(Protocol):
    """What the simulator uses of grpc_health's asyncio servicer, health.aio.HealthServicer
    (the grpc_health stubs have no `aio`)."""

    async def set(self, service: str, status: int) -> None:
        """`status`: a HealthCheckResponse.ServingStatus (an int)."""

    async def enter_graceful_shutdown(self) -> None: ...


class Simulator:
    """A simulator's server, bound and not yet started: `start()` it, `stop()` it.

    Its event loop runs on a thread of its own (owner.py), whatever thread
    builds, starts and stops it, so the same object serves `sdamanager-stub
    serve`, the shell's `--simulator` and other programs' tests.
    """

    def __init__(self, owner: Owner, server: grpc.aio.Server, port: int, manager: SDAManager,
                 health_servicer: HealthStatuses, host: str, guard: Guard) -> None:
        self.owner, self.server, self.port, self.manager = owner, server, port, manager
        self.health, self.host, self.guard = health_servicer, host, guard
        self._stopped = False

    @property
    def address(self) -> str:
        return str(Address(self.host, self.port))

    def start(self) -> None:
        self.owner.call(self.server.start())
        self.owner.spawn(lambda: give_back_memory(self.guard))

    def spawn(self, make: Callable[[], Awaitable[Any]]) -> None:
        """Run `make()` on the server's loop (the state's owner) until the server stops."""
        self.owner.spawn(make)

    def stop(self, grace: float | None = None) -> None:
        """Stop accepting calls, let those in flight finish within `grace` seconds (None:
        as long as they take; 0: cancel them now), and stop the loop (idempotent)."""
        if self._stopped:
            return
        self._stopped = True

        async def stop() -> None:
            # Health checks see NOT_SERVING first, so probes stop sending work.
            await self.health.enter_graceful_shutdown()
            await self.server.stop(grace)

        try:
            self.owner.call(stop())
        finally:
            self.owner.close()


def build_simulator(address: str = "127.0.0.1:0", manager: SDAManager | None = None, *,
                    admin_secret: str | None = None,
                    credentials: grpc.ServerCredentials | None = None,
                    interceptors: Sequence[grpc.aio.ServerInterceptor[Any, Any]] = (),
                    request_deadline: float = REQUEST_DEADLINE,
                    reply_deadline: float = REPLY_DEADLINE,
                    max_calls: int = MAX_CALLS, max_streams: int = MAX_STREAMS,
                    observers: Sequence[CallObserver] = ()) -> Simulator:
    """A simulator bound to `address` (port 0: a free port), not yet started.

    `admin_secret`: admin calls must carry it (UNAUTHENTICATED otherwise);
    `credentials`: serve TLS; `interceptors`: extra ones, grpc.aio's (tests
    inject faults so); `request_deadline`/`reply_deadline`: seconds a call's
    request may take to arrive, and a client to take each message of a
    streamed reply, before the call is cancelled; `max_calls`/`max_streams`:
    calls of one kind at once before RESOURCE_EXHAUSTED (calls.py); `observers`: told of
    every call as it starts and ends (observe.py: faults, the call log, metrics).
    """
    manager = manager if manager is not None else new_manager()
    owner = Owner()
    guard = Guard(request_deadline, reply_deadline, max_calls, max_streams, observers)
    # The secret first: a call refused for it is answered at once, its request unread.
    chain = ([AdminSecret(admin_secret)] if admin_secret else []) + [guard, *interceptors]

    async def build() -> tuple[grpc.aio.Server, int, HealthStatuses]:
        server = grpc.aio.server(
            interceptors=chain,
            options=[("grpc.max_receive_message_length", MAX_MESSAGE_BYTES), ("grpc.so_reuseport", 0)],
        )
        add_to_server(Servicer(manager), server)
        health_servicer: HealthStatuses = health.aio.HealthServicer()  # type: ignore[attr-defined]  # not in its stubs
        await health_servicer.set("", health_pb2.HealthCheckResponse.SERVING)
        await health_servicer.set(SERVICE_NAME, health_pb2.HealthCheckResponse.SERVING)
        health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
        reflection.enable_server_reflection((SERVICE_NAME, health.SERVICE_NAME, reflection.SERVICE_NAME), server)
        try:
            port = server.add_secure_port(address, credentials) if credentials else server.add_insecure_port(address)
        except RuntimeError:
            port = 0
        if port == 0:
            raise OSError(f"cannot listen on {address}")
        return server, port, health_servicer

    try:
        server, port, health_servicer = owner.call(build())
    except BaseException:
        owner.close()
        raise

    def not_serving(_reason: str) -> None:
        # A server whose state file failed answers nothing more (rules/base.py): it says so
        # to its probes, which restart it from what the file holds.
        async def set_all() -> None:
            for service in ("", SERVICE_NAME):
                await health_servicer.set(service, health_pb2.HealthCheckResponse.NOT_SERVING)

        owner.post(set_all)

    manager.when_journal_fails(not_serving)
    host = address.rsplit(":", 1)[0].strip("[]")
    return Simulator(owner, server, port, manager, health_servicer, host, guard)


def create_server(address: str = "127.0.0.1:0", manager: SDAManager | None = None,
                  **options: Any) -> tuple[Simulator, int]:
    """(the simulator, bound port) for `address`; tests bind port 0 and use the port returned.
    `start()` and `stop(grace)` it as a server.

    Pass a manager to reach the simulator's state directly; `options` as build_simulator's.
    """
    simulator = build_simulator(address, manager, **options)
    return simulator, simulator.port
