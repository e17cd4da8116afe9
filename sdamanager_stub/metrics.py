"""Metrics for Prometheus (`serve --metrics-port P`): what the server answers, what
its state holds, what its disk costs.

- **The calls**, as gRPC servers conventionally export them (go-grpc-prometheus,
  py-grpc-prometheus): `grpc_server_started_total`, `grpc_server_handled_total`
  (with `grpc_code`) and the histogram `grpc_server_handling_seconds`, each by
  `grpc_type` (unary, server_stream, client_stream, bidi_stream: as the proto
  declares the method, though the Guard serves every method as a stream),
  `grpc_service` (`sdamanager.v1.SDAManager`) and `grpc_method` (`GetToken`).
  `Metrics` is an observer of the calls (observe.py): it counts a call as
  started once its request is read, or at its end if it never got that far (a
  call refused RESOURCE_EXHAUSTED, or whose request never came), so started is
  never less than handled.  Calls refused for the admin secret never reach the
  observers (security.py answers them first) and are not counted.
- **The state**, read when Prometheus scrapes (a collector: nothing is updated as
  the state changes): jobs by status (the live ones, and the ended ones the
  history keeps), the queue of each backend group, devices by state, backends
  by status, tokens and SDAs.  The rules run on the server's loop (owner.py),
  and a scrape comes on the HTTP server's thread, so the collector reads
  through `manager.read`, under the rules' lock (the loop's next operation
  waits), for as long as it takes to count the live records (the devices and
  the live jobs) and to count the ended ones by status in the archive's table
  (an index on status: the jobs are not read).  bench/bench_metrics.py measures it.
- **The disk** (with a state file): each group commit's duration and size, and
  each snapshot's duration, as histograms the store's committer and snapshot
  writer feed (store.py's `observer`).

Every `Metrics` has a registry of its own, not prometheus_client's global one,
so a process may run several simulators.  `MetricsServer` serves it over HTTP
(prometheus_client's own server, on a thread).
"""

from __future__ import annotations

import collections
import threading
from collections.abc import Iterable, Iterator
from itertools import chain
from operator import attrgetter
from typing import TYPE_CHECKING, Any

import grpc
from prometheus_client import CollectorRegistry, Counter, Histogram, start_http_server
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from .entities import BackendStatus, DeviceStatus, JobStatus

if TYPE_CHECKING:
    from .manager import SDAManager
    from .observe import CallInfo
    from .store import Store

CALL_LABELS = ("grpc_type", "grpc_service", "grpc_method")
# Finer than go-grpc-prometheus' default buckets (5 ms to 10 s): most of the simulator's calls
# take well under a millisecond.
CALL_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
COMMIT_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)
BATCH_BUCKETS = (1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000)
SNAPSHOT_BUCKETS = (0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)


def _types() -> dict[str, str]:
    """/service/Method -> its grpc_type, for every service the server answers."""
    from grpc_health.v1 import health_pb2
    from grpc_reflection.v1alpha import reflection_pb2

    from smclient.api import sdamanager_pb2 as pb

    types = {}
    for service in (pb.DESCRIPTOR.services_by_name["SDAManager"], health_pb2.DESCRIPTOR.services_by_name["Health"],
                    reflection_pb2.DESCRIPTOR.services_by_name["ServerReflection"]):
        for method in service.methods:
            types[f"/{service.full_name}/{method.name}"] = _type(method)
    return types


def _type(method: Any) -> str:
    if method.client_streaming:
        return "bidi_stream" if method.server_streaming else "client_stream"
    return "server_stream" if method.server_streaming else "unary"


def _labels_of(path: str, types: dict[str, str]) -> tuple[str, str, str]:
    """(grpc_type, grpc_service, grpc_method) of /service/Method."""
    service, _, name = path.lstrip("/").rpartition("/")
    kind = types.get(path)
    if kind is None:  # a service added by the embedding program: its descriptor, if registered
        from google.protobuf import descriptor_pool

        try:
            found = descriptor_pool.Default().FindServiceByName(service).FindMethodByName(name)
            kind = _type(found) if found is not None else "unary"
        except KeyError:
            kind = "unary"
    return kind, service, name


class Metrics:
    """A registry of the server's metrics, and the observer of its calls that feeds it.

    `manager` adds the state's gauges (read at each scrape); `watch_store(store)`
    the journal's and the snapshots' histograms.  Pass it among the server's
    observers (`build_simulator(..., observers=(metrics, ...))`), first, so that a
    call an injected fault delays is counted as started before it waits.
    """

    def __init__(self, manager: SDAManager | None = None, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry if registry is not None else CollectorRegistry()
        self.started_total = Counter("grpc_server_started_total", "RPCs started on the server.",
                                     CALL_LABELS, registry=self.registry)
        self.handled_total = Counter("grpc_server_handled_total",
                                     "RPCs completed on the server, whatever their status code.",
                                     (*CALL_LABELS, "grpc_code"), registry=self.registry)
        self.handling_seconds = Histogram("grpc_server_handling_seconds",
                                          "Seconds from an RPC's arrival to its end on the server.",
                                          CALL_LABELS, buckets=CALL_BUCKETS, registry=self.registry)
        self._types = _types()
        # Per method (and code): its labelled children, so a call costs no label lookups.
        self._started: dict[str, Any] = {}
        self._handled: dict[tuple[str, grpc.StatusCode], Any] = {}
        self._seconds: dict[str, Any] = {}
        self._counted: set[int] = set()  # the calls counted as started and not yet ended (by id)
        if manager is not None:
            self.registry.register(StateCollector(manager))

    # ------------------------------------------------------------------ the calls (observe.CallObserver)

    def _labels(self, method: str) -> tuple[str, str, str]:
        return _labels_of(method, self._types)

    def _start(self, method: str) -> None:
        child = self._started.get(method)
        if child is None:
            child = self._started[method] = self.started_total.labels(*self._labels(method))
        child.inc()

    async def started(self, call: CallInfo) -> None:
        self._start(call.method)
        self._counted.add(id(call))

    def ended(self, call: CallInfo, code: grpc.StatusCode, seconds: float) -> None:
        method = call.method
        try:
            self._counted.remove(id(call))
        except KeyError:  # refused before its request was read: it started and ended now
            self._start(method)
        handled = self._handled.get((method, code))
        if handled is None:
            handled = self._handled[method, code] = self.handled_total.labels(*self._labels(method), code.name)
        handled.inc()
        timer = self._seconds.get(method)
        if timer is None:
            timer = self._seconds[method] = self.handling_seconds.labels(*self._labels(method))
        timer.observe(seconds)

    # ------------------------------------------------------------------ the disk

    def watch_store(self, store: Store) -> None:
        """Histograms of the store's group commits and snapshots (it tells `StoreMetrics`)."""
        store.observer = StoreMetrics(self.registry)


class StoreMetrics:
    """What the store tells of its commits and snapshots (store.py's `observer`), as
    histograms; called from the committer's and the snapshot writer's threads."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.commit_seconds = Histogram(
            "sdamanager_journal_commit_seconds",
            "Seconds one group commit of the journal took (waiting for the file, the insert, the fsync).",
            buckets=COMMIT_BUCKETS, registry=registry)
        self.commit_ops = Histogram("sdamanager_journal_commit_ops",
                                    "Changes (and refused attempts) saved by one group commit.",
                                    buckets=BATCH_BUCKETS, registry=registry)
        self.snapshot_seconds = Histogram(
            "sdamanager_snapshot_seconds",
            "Seconds writing one snapshot of the state took (converting and writing it, in the background).",
            buckets=SNAPSHOT_BUCKETS, registry=registry)

    def committed(self, seconds: float, ops: int) -> None:
        self.commit_seconds.observe(seconds)
        self.commit_ops.observe(ops)

    def snapshotted(self, seconds: float) -> None:
        self.snapshot_seconds.observe(seconds)


# ---------------------------------------------------------------- the state, at scrape time


_status = attrgetter("status")


def _by_id(values: Iterable[Any]) -> collections.Counter[int]:
    """How many of each value, by its id: an enum member's own hash is a Python function,
    an id's is not (counting 200,000 ended jobs: 10 times faster)."""
    return collections.Counter(map(id, values))


class StateCollector(Collector):
    """Gauges of the manager's state, counted when scraped (see the module)."""

    def __init__(self, manager: SDAManager) -> None:
        self.manager = manager

    def describe(self) -> list[Metric]:
        return []  # collected only when scraped, never at registration

    def _count(self) -> dict[str, Any]:
        """What the gauges show, under the rules' lock (manager.read: with time brought up to
        date, so transitions due by now show)."""
        m = self.manager
        # (counted by the archive's table, with its index on status: not the jobs read)
        ended = collections.Counter({id(status): n for status, n in m.archive.ended_by_status().items()})
        backends = list(m.backends.values())
        devices = _by_id(map(_status, chain.from_iterable(map(attrgetter("devices"), backends))))
        queues = {key: len(queue) for key, queue in m.scheduler.queues.items()}
        return {
            "live": _by_id(map(_status, m.jobs.values())),
            "ended": ended,
            "queues": queues,
            "groups": {group.id: group.name for group in m.backend_groups.values()},
            "devices": devices,
            "backends": _by_id(map(_status, backends)),
            "tokens": len(m.tokens),
            "sdas": len(m.sdas),
        }

    def collect(self) -> Iterator[Metric]:
        seen = self.manager.read(self._count)
        jobs = seen["live"] + seen["ended"]
        family = GaugeMetricFamily("sdamanager_jobs", "Jobs by status: the live ones, and the ended ones the "
                                   "history keeps (its oldest are dropped beyond its cap).", labels=["status"])
        for status in JobStatus:
            family.add_metric([status.value], jobs[id(status)])
        yield family
        family = GaugeMetricFamily("sdamanager_queue_length", "Jobs waiting in each backend group's queue.",
                                   labels=["backend_group_id", "backend_group"])
        for group_id, name in sorted(seen["groups"].items()):
            family.add_metric([str(group_id), name], seen["queues"].get(group_id, 0))
        yield family
        yield GaugeMetricFamily("sdamanager_reserved_queue_length",
                                "Jobs waiting for the devices of their reserved SDA.",
                                value=sum(n for key, n in seen["queues"].items() if key < 0))
        family = GaugeMetricFamily("sdamanager_devices", "Devices by state.", labels=["state"])
        for state in DeviceStatus:
            family.add_metric([state.value], seen["devices"][id(state)])
        yield family
        family = GaugeMetricFamily("sdamanager_backends", "Backends by status.", labels=["status"])
        for backend_status in BackendStatus:
            family.add_metric([backend_status.value], seen["backends"][id(backend_status)])
        yield family
        yield GaugeMetricFamily("sdamanager_tokens", "Tokens.", value=seen["tokens"])
        yield GaugeMetricFamily("sdamanager_sdas", "SDAs (reserved or not).", value=seen["sdas"])


# ---------------------------------------------------------------- over HTTP


class MetricsServer:
    """Prometheus' text format over HTTP on `host:port` (port 0: a free one), on a thread
    of its own (prometheus_client's server), until `close()`."""

    def __init__(self, registry: CollectorRegistry, host: str, port: int) -> None:
        self._httpd, self._thread = start_http_server(port, host, registry=registry)
        self.host, self.port = host, self._httpd.server_port
        self._closed = threading.Lock()

    @property
    def url(self) -> str:
        from smclient.api.address import Address

        return f"http://{Address(self.host, self.port)}/metrics"

    def close(self) -> None:
        if not self._closed.acquire(blocking=False):
            return
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join()
