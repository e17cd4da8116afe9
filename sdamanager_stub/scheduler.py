"""The pieces of the scheduler that need no state of their own: the queue
order and device placement.  The manager owns the state and calls these.

Queue order (SPEC section 6): higher priority first, then earlier request,
then lower FeID.  Each backend group (pool) has its own queue; the head of a
pool's queue is served first and, if it does not fit, the jobs behind it in
that pool wait: this is why the guide tells operators to lower a big
customer's token priority.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable, Iterator
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


def choose_devices(backends: Iterable[Backend], need: int) -> list[tuple[int, int]] | None:
    """Devices for a job needing `need` of them, or None if they do not fit.

    Whole free nodes first (a multi-node model gets whole nodes); what is left
    over goes to the node whose idle devices fit it most tightly, so whole
    nodes stay whole for the next big job.  Only IDLE devices of ACTIVE
    backends are used.
    """
    if need <= 0:
        return []
    candidates: list[tuple[Backend, list[int]]] = []
    total = 0
    active, idle_status = BackendStatus.ACTIVE, DeviceStatus.IDLE
    for backend in backends:  # the hot loop of every decision: kept flat, no calls per device
        if backend.status is not active:
            continue
        idle = [d.index for d in backend.devices if d.status is idle_status and not d.job_id and not d.sda_id]
        if idle:
            candidates.append((backend, idle))
            total += len(idle)
    if total < need:
        return None
    chosen: list[tuple[int, int]] = []
    remaining = need
    # Whole nodes (all devices idle), biggest first, while the job still needs at least a whole node.
    whole = sorted((c for c in candidates if len(c[1]) == len(c[0].devices)), key=lambda c: (-len(c[1]), c[0].id))
    used: set[int] = set()
    for backend, idle in whole:
        if remaining >= len(idle):
            chosen.extend((backend.id, i) for i in idle)
            used.add(backend.id)
            remaining -= len(idle)
    while remaining:
        rest = [c for c in candidates if c[0].id not in used]
        fitting = [c for c in rest if len(c[1]) >= remaining]
        if fitting:  # tightest fit
            backend, idle = min(fitting, key=lambda c: (len(c[1]), c[0].id))
        else:  # none fits alone: take the fullest and go on
            backend, idle = max(rest, key=lambda c: (len(c[1]), -c[0].id))
        take = idle[:remaining]
        chosen.extend((backend.id, i) for i in take)
        used.add(backend.id)
        remaining -= len(take)
    return chosen
