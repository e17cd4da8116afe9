"""Building and running the simulator's gRPC server."""

from __future__ import annotations

from collections.abc import Sequence
from concurrent import futures
from dataclasses import dataclass
from typing import Any

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection

from smclient.api import sdamanager_pb2 as pb
from smclient.api.address import Address

from .deadlines import REPLY_DEADLINE, REQUEST_DEADLINE, Deadlines
from .manager import SDAManager, new_manager
from .security import VM_METHODS, AdminSecret
from .servicer import Servicer, add_to_server

SERVICE_NAME = pb.DESCRIPTOR.services_by_name["SDAManager"].full_name  # "sdamanager.v1.SDAManager"
# Requests are small; a bigger one is refused before it costs memory.
MAX_MESSAGE_BYTES = 4 * 1024 * 1024


@dataclass
class Simulator:
    """A simulator's server with what surrounds it; `start()` it, `stop()` it."""

    server: grpc.Server
    port: int
    manager: SDAManager
    health: health.HealthServicer
    host: str = "127.0.0.1"
    pools: tuple[futures.ThreadPoolExecutor, ...] = ()
    deadlines: Deadlines | None = None

    @property
    def address(self) -> str:
        return str(Address(self.host, self.port))

    def start(self) -> None:
        self.server.start()

    def stop(self, grace: float | None = None) -> None:
        # Health checks see NOT_SERVING first, so probes stop sending work.
        self.health.enter_graceful_shutdown()
        self.server.stop(grace).wait()
        for pool in self.pools:
            pool.shutdown(wait=False)
        if self.deadlines is not None:
            self.deadlines.stop()


def build_simulator(address: str = "127.0.0.1:0", manager: SDAManager | None = None, *,
                    max_workers: int = 16, admin_secret: str | None = None,
                    credentials: grpc.ServerCredentials | None = None,
                    interceptors: Sequence[grpc.ServerInterceptor] = (),
                    request_deadline: float = REQUEST_DEADLINE,
                    reply_deadline: float = REPLY_DEADLINE) -> Simulator:
    """A simulator bound to `address` (port 0: a free port), not yet started.

    `admin_secret`: admin calls must carry it (UNAUTHENTICATED otherwise);
    `credentials`: serve TLS; `interceptors`: extra ones (tests inject faults so);
    `request_deadline`/`reply_deadline`: seconds a call's request may take to
    arrive, and a client to take each message of a streamed reply, before the
    call is cancelled (deadlines.py).
    """
    manager = manager if manager is not None else new_manager()
    deadlines = Deadlines(request_deadline, reply_deadline)
    chain = [deadlines] + ([AdminSecret(admin_secret)] if admin_secret else []) + list(interceptors)
    # Each kind of call has workers of its own: a call holds its worker from the
    # moment it arrives until its request has (and, for a listing, until the
    # client has taken the reply), bounded by the deadlines; so calls stalled on
    # the open methods (health, reflection, the VM side, refusals of calls
    # without the secret) cannot take the admin shell's workers.
    admin, vm, other = (futures.ThreadPoolExecutor(max_workers=max_workers, thread_name_prefix=f"sdamanager-{kind}")
                        for kind in ("admin", "vm", "open"))
    server = grpc.server(
        other,
        interceptors=chain,
        options=[("grpc.max_receive_message_length", MAX_MESSAGE_BYTES), ("grpc.so_reuseport", 0)],
    )
    add_to_server(Servicer(manager), server, lambda method: vm if method in VM_METHODS else admin)

    health_servicer = health.HealthServicer()
    health_servicer.set("", health_pb2.HealthCheckResponse.SERVING)
    health_servicer.set(SERVICE_NAME, health_pb2.HealthCheckResponse.SERVING)
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)

    reflection.enable_server_reflection((SERVICE_NAME, health.SERVICE_NAME, reflection.SERVICE_NAME), server)
    port = server.add_secure_port(address, credentials) if credentials else server.add_insecure_port(address)
    if port == 0:
        raise OSError(f"cannot listen on {address}")
    host = address.rsplit(":", 1)[0].strip("[]")
    return Simulator(server, port, manager, health_servicer, host, (admin, vm, other), deadlines)


def create_server(address: str = "127.0.0.1:0", manager: SDAManager | None = None,
                  **options: Any) -> tuple[grpc.Server, int]:
    """(server, bound port) for `address`; tests bind port 0 and use the port returned.

    Pass a manager to reach the simulator's state directly; `options` as build_simulator's.
    """
    simulator = build_simulator(address, manager, **options)
    return simulator.server, simulator.port
