"""The scheduler: the queues of waiting jobs, the timeline of transitions, and the
life cycle of a job's devices.

    job:     QUEUED --(devices found)--> SUMMITED --(prepared)--> RUNNING --> history
    devices: IDLE --> PREPARING --> PROCESSING --(job ends)--> CLEANING --> IDLE

Queue: per backend group (pool), higher priority first, then earlier request;
the head of a pool is served first and jobs behind a head that does not fit
wait.  A reserved SDA's jobs run on the SDA's own devices, in a queue of their
own.  The queue order and the placement are scheduler.py's; the devices it
places on come from the state's index of idle devices (state.py).  Time only
moves when the manager is asked something: `catch_up(now)` applies every
transition that is due (devices done preparing or cleaning), in time order,
serving the queues after each instant's.  Every method takes its instant from
its caller (the operation's: rules/base.py), never from a clock.
"""

from __future__ import annotations

import heapq
from typing import Any

from ..entities import BackendStatus, DeviceStatus, Job, JobStatus, Sda
from ..scheduler import PoolQueue
from ..state import State

# Timeline event kinds.
READY_EVENT = 0  # a job's devices are prepared: SUMMITED -> RUNNING
CLEAN_EVENT = 1  # a device is clean: CLEANING -> IDLE


def pool_of(job: Job, sda: Sda | None) -> int:
    """Queue key: the job's backend group, or (negative) its reserved SDA."""
    if sda is not None and sda.reserved:
        return -sda.id
    return job.backend_group_id


class Scheduler:
    """The queues and the timeline over `state`'s jobs and devices; devices take
    `prepare_seconds` to prepare and `clean_seconds` to clean."""

    def __init__(self, state: State, prepare_seconds: float = 0.0, clean_seconds: float = 0.0) -> None:
        if prepare_seconds < 0 or clean_seconds < 0:
            raise ValueError("prepare and clean delays must be 0 or more")
        self.state = state
        self.prepare_seconds = prepare_seconds
        self.clean_seconds = clean_seconds
        self.queues: dict[int, PoolQueue] = {}
        self.pool: dict[int, int] = {}  # queued feid -> its queue key
        self._timeline: list[tuple[float, int, int, Any]] = []
        self._seq = 0
        # When each device's cleaning ends / each job's preparation ends.
        self.clean_until: dict[tuple[int, int], float] = {}
        self.ready_at: dict[int, float] = {}
        # The tokens whose jobs ended since the operation under way began (its event names them).
        self.touched: list[str] = []

    # ------------------------------------------------------------------ its own state, as plain data

    def export(self) -> dict[str, list[list[Any]]]:
        """What a snapshot keeps of it: the queue each waiting job is in, when each device's
        cleaning and each job's preparation ends.  The order within a queue and the timeline
        follow from these and the jobs."""
        return {
            "queued_in": [[feid, key] for feid, key in self.pool.items()],
            "clean_until": [[b, i, t] for (b, i), t in self.clean_until.items()],
            "ready_at": [[feid, t] for feid, t in self.ready_at.items()],
        }

    def restore(self, queued_in: list[tuple[int, int]], clean_until: list[tuple[int, int, float]],
                ready_at: list[tuple[int, float]]) -> None:
        """Take `export()`'s data back (its jobs and devices are the state's already)."""
        jobs = self.state.jobs
        self.queues = {}
        self.pool = {}
        for feid, key in queued_in:
            self.pool[feid] = key
            self.queues.setdefault(key, PoolQueue()).push(jobs[feid])
        self.clean_until = {(b, i): t for b, i, t in clean_until}
        self.ready_at = dict(ready_at)
        self._timeline = []
        self._seq = 0
        for (b, i), t in self.clean_until.items():
            self._at(t, CLEAN_EVENT, (b, i))
        for feid, t in self.ready_at.items():
            self._at(t, READY_EVENT, feid)

    # ------------------------------------------------------------------ time

    def _at(self, when: float, kind: int, key: Any) -> None:
        self._seq += 1
        heapq.heappush(self._timeline, (when, self._seq, kind, key))

    def catch_up(self, now: float) -> None:
        """Apply every transition due by `now` in time order; after each instant's
        transitions, serve the queues (so the order among one instant's
        transitions never matters)."""
        timeline = self._timeline
        jobs, backends = self.state.jobs, self.state.backends
        while timeline and timeline[0][0] <= now:
            when = timeline[0][0]
            freed = False
            while timeline and timeline[0][0] == when:
                _, _, kind, key = heapq.heappop(timeline)
                if kind == READY_EVENT:
                    job = jobs.get(key)
                    if job is not None and job.status is JobStatus.SUMMITED and self.ready_at.get(key) == when:
                        self.start(job, when)
                elif self.clean_until.get(key) == when:
                    del self.clean_until[key]
                    backend = backends.get(key[0])
                    if backend is not None and key[1] < len(backend.devices):
                        device = backend.devices[key[1]]
                        if device.status is DeviceStatus.CLEANING:
                            device.status = DeviceStatus.IDLE
                            freed = True
            if freed:
                self.serve(when)

    # ------------------------------------------------------------------ the queues

    def enqueue(self, job: Job, sda: Sda) -> None:
        """A new live job waits in its pool's queue."""
        self.state.jobs[job.feid] = job
        key = pool_of(job, sda)
        self.pool[job.feid] = key
        self.queues.setdefault(key, PoolQueue()).push(job)

    def rekey(self, job: Job) -> None:
        """A waiting job's priority changed: its place in its queue follows."""
        self.queues[self.pool[job.feid]].rekey(job)

    def queue_order(self, key: int) -> list[int]:
        """FeIDs of one pool's queue in the order they will be served."""
        queue = self.queues.get(key)
        return list(queue.ordered()) if queue else []

    def capacity(self, group_id: int) -> int:
        """Every device of a backend group, whatever its state: what a job could ever get there."""
        return self.state.idle.capacity(group_id)

    def serve(self, at: float) -> None:
        """Serve every pool's queue from its head while the head fits."""
        jobs = self.state.jobs
        for key, queue in list(self.queues.items()):
            while (feid := queue.head()) is not None:
                job = jobs[feid]
                placement = self._place(job, key)
                if placement is None:
                    if key >= 0 and job.device_count > self.capacity(job.backend_group_id):
                        # Its group lost backends since it was queued: it could never run,
                        # and at the head it would hold up every job behind it for ever.
                        self.end_job(job, JobStatus.CANCELED,
                                     f"backend group {job.backend_group_id} no longer has "
                                     f"{job.device_count} devices", at)
                        continue
                    break  # head-of-line: the jobs behind it wait
                queue.remove(feid)
                del self.pool[feid]
                self._allocate(job, placement, at)
            if not queue:
                del self.queues[key]

    def _place(self, job: Job, key: int) -> list[tuple[int, int]] | None:
        backends = self.state.backends
        if key < 0:  # a reserved SDA: its own devices, all of them
            sda = self.state.sdas.get(-key)
            if sda is None:
                return None
            for backend_id, index in sda.held:
                backend = backends.get(backend_id)
                if backend is None or backend.status is not BackendStatus.ACTIVE:
                    return None
                device = backend.devices[index]
                if device.job_id or device.status is not DeviceStatus.IDLE:
                    return None
            return list(sda.held)
        return self.state.idle.choose(job.backend_group_id, job.device_count)

    # ------------------------------------------------------------------ a job's devices

    def _allocate(self, job: Job, placement: list[tuple[int, int]], at: float) -> None:
        backends = self.state.backends
        for backend_id, index in placement:
            device = backends[backend_id].devices[index]
            device.job_id = job.feid
            device.status = DeviceStatus.PREPARING
        job.placement = placement
        job.status = JobStatus.SUMMITED
        if self.prepare_seconds:
            ready = at + self.prepare_seconds
            self.ready_at[job.feid] = ready
            self._at(ready, READY_EVENT, job.feid)
        else:
            self.start(job, at)

    def start(self, job: Job, at: float) -> None:
        """The job's devices are prepared (or its process reported it ran): RUNNING from `at`."""
        self.ready_at.pop(job.feid, None)
        backends = self.state.backends
        for backend_id, index in job.placement:
            backends[backend_id].devices[index].status = DeviceStatus.PROCESSING
        job.status = JobStatus.RUNNING
        job.start_time = at

    def end_job(self, job: Job, status: JobStatus, reason: str, at: float) -> None:
        """Take a live job off its devices (they go to CLEANING) and into the history, at `at`."""
        self.touched.append(job.token)
        key = self.pool.pop(job.feid, None)
        if key is not None:
            self.queues[key].remove(job.feid)
        self.ready_at.pop(job.feid, None)
        backends = self.state.backends
        for backend_id, index in job.placement:
            backend = backends.get(backend_id)
            if backend is None or index >= len(backend.devices) or backend.devices[index].job_id != job.feid:
                continue
            device = backend.devices[index]
            device.job_id = 0
            if device.status is DeviceStatus.SHUTDOWN:
                continue
            if self.clean_seconds:
                device.status = DeviceStatus.CLEANING
                until = at + self.clean_seconds
                self.clean_until[(backend_id, index)] = until
                self._at(until, CLEAN_EVENT, (backend_id, index))
            else:
                device.status = DeviceStatus.IDLE
        job.status = status
        job.end_time = at
        job.end_reason = reason
        del self.state.jobs[job.feid]  # the jobs' table takes it out of the job index
        self.state.archive.add_job(job)
