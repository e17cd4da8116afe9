"""The pieces of the scheduler: the queue order, device placement, and the
index of idle devices per pool that placement reads.  The manager owns the
state and calls these.

Queue order (README, "The simulator", Scheduling): higher priority first, then earlier request,
then lower FeID.  Each backend group (pool) has its own queue; the head of a
pool's queue is served first and, if it does not fit, the jobs behind it in
that pool wait: this is why the guide tells operators to lower a big
customer's token priority.
"""

from __future__ import annotations

import bisect
import functools
import heapq
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field

from .entities import Backend, BackendStatus, DeviceStatus, Job


def queue_key(job: Job) -> tuple[int, float, int]:
    return (-job.priority, job.request_time, job.feid)


@dataclass
class PoolQueue:
    """The waiting jobs of one backend group, in queue order.

    A heap with lazy deletion: removing or re-keying a job costs O(log n),
    looking at the head amortised O(log n), whatever the queue's length.
    """

    _heap: list[tuple[tuple[int, float, int], int]] = field(default_factory=list)
    _keys: dict[int, tuple[int, float, int]] = field(default_factory=dict)  # live feid -> its current key

    def __len__(self) -> int:
        return len(self._keys)

    def push(self, job: Job) -> None:
        key = queue_key(job)
        self._keys[job.feid] = key
        heapq.heappush(self._heap, (key, job.feid))

    def remove(self, feid: int) -> None:
        self._keys.pop(feid, None)
        self._trim()

    def rekey(self, job: Job) -> None:
        if job.feid in self._keys:
            self.push(job)  # the old entry no longer matches _keys and is skipped

    def head(self) -> int | None:
        self._trim()
        return self._heap[0][1] if self._heap else None

    def _trim(self) -> None:
        heap, keys = self._heap, self._keys
        while heap and keys.get(heap[0][1]) != heap[0][0]:
            heapq.heappop(heap)
        # Compact when stale entries dominate, so memory stays O(live jobs).
        if len(heap) > 64 and len(heap) > 4 * len(keys):
            self._heap = [(k, f) for f, k in keys.items()]
            heapq.heapify(self._heap)

    def ordered(self) -> Iterator[int]:
        """FeIDs in queue order (for listings; O(n log n))."""
        return (feid for key, feid in sorted((k, f) for f, k in self._keys.items()))


def idle_devices(backend: Backend) -> list[int]:
    """The indexes of a backend's devices a job may take: IDLE and held by nothing, in device order."""
    idle = DeviceStatus.IDLE
    return [d.index for d in backend.devices if d.status is idle and not d.job_id and not d.sda_id]


class _Pool:
    """The ACTIVE backends of one pool that have idle devices, by how many they have.

    Backend ids are kept sorted in each bucket, so the placement below reads
    the lowest id of a bucket at once; a bucket holds at most the pool's
    backends, so keeping it sorted (bisect) costs a short memmove.
    """

    __slots__ = ("total", "by_count", "whole")

    def __init__(self) -> None:
        self.total = 0  # idle devices in the pool
        self.by_count: dict[int, list[int]] = {}  # idle devices -> backend ids (sorted)
        self.whole: dict[int, list[int]] = {}  # devices -> ids of backends with every device idle (sorted)

    def add(self, backend_id: int, idle: int, size: int) -> None:
        self.total += idle
        bisect.insort(self.by_count.setdefault(idle, []), backend_id)
        if idle == size:
            bisect.insort(self.whole.setdefault(size, []), backend_id)

    def discard(self, backend_id: int, idle: int, size: int) -> None:
        self.total -= idle
        _remove(self.by_count, idle, backend_id)
        if idle == size:
            _remove(self.whole, size, backend_id)

    def choose(self, need: int, backends: Mapping[int, Backend]) -> list[tuple[int, int]] | None:
        """Devices for a job needing `need` of them, or None if they do not fit (see `choose_devices`).

        Costs what the job takes (the nodes it gets, the few distinct idle
        counts), not what the pool holds.
        """
        if need <= 0:
            return []
        if self.total < need:
            return None
        chosen: list[tuple[int, int]] = []
        remaining = need
        used: set[int] = set()
        # Whole nodes, biggest first then lowest id, while the job still needs at least a whole node.
        for size in sorted(self.whole, reverse=True):
            if remaining < size:
                continue
            ids = self.whole[size]
            take = min(remaining // size, len(ids))
            for backend_id in ids[:take]:
                chosen.extend((backend_id, d.index) for d in backends[backend_id].devices)
                used.add(backend_id)
            remaining -= take * size
        while remaining:
            counts = sorted(self.by_count)
            # Tightest fit: the fewest idle devices that still hold the rest, lowest id first ...
            found = _first_unused(self.by_count, (c for c in counts if c >= remaining), used)
            if found is None:  # ... else none fits alone: the fullest, lowest id first, and go on
                found = _first_unused(self.by_count, reversed(counts), used)
            assert found is not None  # total >= need: something is left
            taken = idle_devices(backends[found])[:remaining]
            chosen.extend((found, i) for i in taken)
            used.add(found)
            remaining -= len(taken)
        return chosen


def _remove(buckets: dict[int, list[int]], key: int, backend_id: int) -> None:
    ids = buckets[key]
    del ids[bisect.bisect_left(ids, backend_id)]
    if not ids:
        del buckets[key]


def _first_unused(buckets: dict[int, list[int]], counts: Iterable[int], used: set[int]) -> int | None:
    for count in counts:
        for backend_id in buckets[count]:
            if backend_id not in used:
                return backend_id
    return None


def choose_devices(backends: Iterable[Backend], need: int) -> list[tuple[int, int]] | None:
    """Devices for a job needing `need` of them, or None if they do not fit.

    Whole free nodes first (a multi-node model gets whole nodes); what is left
    over goes to the node whose idle devices fit it most tightly, so whole
    nodes stay whole for the next big job.  Only IDLE devices of ACTIVE
    backends are used.  (This looks at every backend given; the manager keeps
    an `IdleIndex` instead and places with the same rules.)
    """
    if need <= 0:
        return []
    pool = _Pool()
    by_id: dict[int, Backend] = {}
    for backend in backends:
        if backend.status is not BackendStatus.ACTIVE:
            continue
        idle = len(idle_devices(backend))
        if idle:
            pool.add(backend.id, idle, len(backend.devices))
            by_id[backend.id] = backend
    return pool.choose(need, by_id)


class IdleIndex:
    """The idle devices of every pool (backend group), kept as devices, backends and groups change.

    Every device and backend indexed carries a `_touch` that marks its backend
    stale (entities.Watched: a device's status or holder, a backend's status or
    group); the state's table of backends marks one stale as it is added or
    removed.  Before any answer, the stale backends (a handful: the ones the
    last changes touched) are counted again, so a decision costs what changed
    and what the job takes, never a pass over the pool.
    """

    def __init__(self) -> None:
        self._backends: Mapping[int, Backend] = {}
        self._stale: set[int] = set()
        self._touches: dict[int, Callable[[], None]] = {}
        self._indexed: dict[int, tuple[int, int, int]] = {}  # backend id -> (group, idle devices, devices)
        self._pools: dict[int, _Pool] = {}
        self._capacity: dict[int, int] = {}  # group -> devices of its backends, whatever their state

    def rebuild(self, backends: Mapping[int, Backend]) -> None:
        """Index `backends` (the state's table of them, which tells `added` and `removed`) from scratch."""
        self._backends = backends
        self._stale.clear()
        self._touches.clear()
        self._indexed.clear()
        self._pools.clear()
        self._capacity.clear()
        self._stale.update(backends)

    def added(self, backend_id: int, backend: Backend) -> None:
        """Backend `backend_id` was added or replaced (the table tells)."""
        self._stale.add(backend_id)

    def removed(self, backend_id: int, backend: Backend) -> None:
        """Backend `backend_id` was removed (the table tells)."""
        self._stale.add(backend_id)

    def choose(self, group_id: int, need: int) -> list[tuple[int, int]] | None:
        """Devices of backend group `group_id` for a job needing `need` (see `choose_devices`)."""
        if need <= 0:
            return []
        self._refresh()
        pool = self._pools.get(group_id)
        return None if pool is None else pool.choose(need, self._backends)

    def idle_count(self, group_id: int) -> int:
        """Idle devices of ACTIVE backends in the group."""
        self._refresh()
        pool = self._pools.get(group_id)
        return pool.total if pool is not None else 0

    def capacity(self, group_id: int) -> int:
        """Every device of the group's backends, whatever its state: what a job could ever get there."""
        self._refresh()
        return self._capacity.get(group_id, 0)

    def view(self) -> dict[str, object]:
        """Everything the index holds, as plain data (tests compare it with an index built afresh)."""
        self._refresh()
        pools = {g: (p.total, {c: list(ids) for c, ids in sorted(p.by_count.items())},
                     {s: list(ids) for s, ids in sorted(p.whole.items())})
                 for g, p in sorted(self._pools.items()) if p.total}
        return {"pools": pools, "capacity": {g: c for g, c in sorted(self._capacity.items()) if c}}

    def _refresh(self) -> None:
        stale = self._stale
        if stale:
            backend_ids = list(stale)
            stale.clear()  # the same set: the touches add to it
            for backend_id in backend_ids:
                self._reindex(backend_id)

    def _reindex(self, backend_id: int) -> None:
        old = self._indexed.pop(backend_id, None)
        if old is not None:
            group_id, idle, size = old
            self._capacity[group_id] -= size
            if idle:
                self._pools[group_id].discard(backend_id, idle, size)
        backend = self._backends.get(backend_id)
        if backend is None:
            self._touches.pop(backend_id, None)
            return
        touch = self._touches.get(backend_id)
        if touch is None:
            touch = self._touches[backend_id] = functools.partial(self._stale.add, backend_id)
        # Set straight into __dict__: setting the watcher must not itself count as a change.
        backend.__dict__["_touch"] = touch
        for device in backend.devices:
            device.__dict__["_touch"] = touch
        size = len(backend.devices)
        idle = len(idle_devices(backend)) if backend.status is BackendStatus.ACTIVE else 0
        group_id = backend.group_id
        self._indexed[backend_id] = (group_id, idle, size)
        self._capacity[group_id] = self._capacity.get(group_id, 0) + size
        if idle:
            pool = self._pools.get(group_id)
            if pool is None:
                pool = self._pools[group_id] = _Pool()
            pool.add(backend_id, idle, size)
