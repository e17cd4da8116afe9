"""Jobs: the VM side, the queue, the scheduler's life cycle, releases, history.

A VM holding a token asks for devices for one process on one of the token's
SDAs (rules/sdas.py, which these rules build on: memberships decide again,
and the SDA's model group names the backend group the job runs on).  Time
only moves when the manager is asked something: `advance()` (rules/base.py)
applies every transition that is due (devices done preparing or cleaning),
in time order, serving the queue after each.

Life cycle (README, "The simulator"; tests/test_scheduler.py):

    job:     QUEUED --(devices found)--> SUMMITED --(prepared)--> RUNNING --> history
    devices: IDLE --> PREPARING --> PROCESSING --(job ends)--> CLEANING --> IDLE

Queue: per backend group (pool), higher priority first, then earlier request;
the head of a pool is served first and jobs behind a head that does not fit
wait.  A reserved SDA's jobs run on the SDA's own devices, in a queue of their own.
The queue order and the placement are scheduler.py's; the state they work on
(queues, timeline, the index of idle devices) is the base's.  Every transition
of a live job that changes what it holds tells the job index (rules/index.py):
its arrival and its end through the jobs' table, its devices here.
"""

from __future__ import annotations

import heapq
import hmac
from collections.abc import Iterator
from sys import intern
from typing import Any

from .. import validate
from ..audit import change, query
from ..entities import DUPLICABLE_OFF, BackendStatus, DeviceStatus, Job, JobStatus, Sda, Token
from ..errors import FailedPrecondition, InvalidArgument, NotFound, PermissionDenied
from ..journal import Listed
from ..scheduler import PoolQueue
from ..usage import UsageReport, compute_usage
from .sdas import SdaRules

# Timeline event kinds.
READY_EVENT = 0  # a job's devices are prepared: SUMMITED -> RUNNING
CLEAN_EVENT = 1  # a device is clean: CLEANING -> IDLE


def _pool_of(job: Job, sda: Sda | None) -> int:
    """Queue key: the job's backend group, or (negative) its reserved SDA."""
    if sda is not None and sda.reserved:
        return -sda.id
    return job.backend_group_id


class JobRules(SdaRules):
    """Jobs, their queues and their devices' life cycle."""

    # ------------------------------------------------------------------ time

    def _at(self, when: float, kind: int, key: Any) -> None:
        self._seq += 1
        heapq.heappush(self._timeline, (when, self._seq, kind, key))

    def _catch_up(self) -> None:
        """Apply every transition due by now in time order; after each instant's
        transitions, serve the queues (so the order among one instant's
        transitions never matters)."""
        now = self.now
        timeline = self._timeline
        while timeline and timeline[0][0] <= now:
            when = timeline[0][0]
            freed = False
            while timeline and timeline[0][0] == when:
                _, _, kind, key = heapq.heappop(timeline)
                if kind == READY_EVENT:
                    job = self.jobs.get(key)
                    if job is not None and job.status is JobStatus.SUMMITED and self._ready_at.get(key) == when:
                        self._start(job, when)
                elif self._clean_until.get(key) == when:
                    del self._clean_until[key]
                    backend = self.backends.get(key[0])
                    if backend is not None and key[1] < len(backend.devices):
                        device = backend.devices[key[1]]
                        if device.status is DeviceStatus.CLEANING:
                            device.status = DeviceStatus.IDLE
                            freed = True
            if freed:
                self._schedule(when)

    # ------------------------------------------------------------------ the scheduler

    def _schedule(self, at: float) -> None:
        """Serve every pool's queue from its head while the head fits."""
        for key, queue in list(self.queues.items()):
            while (feid := queue.head()) is not None:
                job = self.jobs[feid]
                placement = self._place(job, key)
                if placement is None:
                    if key >= 0 and job.device_count > self._capacity(job.backend_group_id):
                        # Its group lost backends since it was queued: it could never run,
                        # and at the head it would hold up every job behind it for ever.
                        self._end_job(job, JobStatus.CANCELED,
                                      f"backend group {job.backend_group_id} no longer has "
                                      f"{job.device_count} devices", at=at)
                        continue
                    break  # head-of-line: the jobs behind it wait
                queue.remove(feid)
                del self._pool[feid]
                self._allocate(job, placement, at)
            if not queue:
                del self.queues[key]

    def _capacity(self, group_id: int) -> int:
        """Every device of a backend group, whatever its state: what a job could ever get there."""
        return self.idle.capacity(group_id)

    def _place(self, job: Job, key: int) -> list[tuple[int, int]] | None:
        if key < 0:  # a reserved SDA: its own devices, all of them
            sda = self.sdas.get(-key)
            if sda is None:
                return None
            for backend_id, index in sda.held:
                backend = self.backends.get(backend_id)
                if backend is None or backend.status is not BackendStatus.ACTIVE:
                    return None
                device = backend.devices[index]
                if device.job_id or device.status is not DeviceStatus.IDLE:
                    return None
            return list(sda.held)
        return self.idle.choose(job.backend_group_id, job.device_count)

    def _allocate(self, job: Job, placement: list[tuple[int, int]], at: float) -> None:
        for backend_id, index in placement:
            device = self.backends[backend_id].devices[index]
            device.job_id = job.feid
            device.status = DeviceStatus.PREPARING
        job.placement = placement
        job.status = JobStatus.SUMMITED
        self.job_index.update(job)
        if self.prepare_seconds:
            ready = at + self.prepare_seconds
            self._ready_at[job.feid] = ready
            self._at(ready, READY_EVENT, job.feid)
        else:
            self._start(job, at)

    def _start(self, job: Job, at: float) -> None:
        self._ready_at.pop(job.feid, None)
        for backend_id, index in job.placement:
            self.backends[backend_id].devices[index].status = DeviceStatus.PROCESSING
        job.status = JobStatus.RUNNING
        job.start_time = at
        self.job_index.update(job)

    def _end_job(self, job: Job, status: JobStatus, reason: str, at: float | None = None) -> None:
        """Take a live job off its devices (they go to CLEANING) and into the history, at `at`
        (default: the operation's instant)."""
        now = self.now if at is None else at
        self._touched.append(job.token)
        key = self._pool.pop(job.feid, None)
        if key is not None:
            self.queues[key].remove(job.feid)
        self._ready_at.pop(job.feid, None)
        for backend_id, index in job.placement:
            backend = self.backends.get(backend_id)
            if backend is None or index >= len(backend.devices) or backend.devices[index].job_id != job.feid:
                continue
            device = backend.devices[index]
            device.job_id = 0
            if device.status is DeviceStatus.SHUTDOWN:
                continue
            if self.clean_seconds:
                device.status = DeviceStatus.CLEANING
                until = now + self.clean_seconds
                self._clean_until[(backend_id, index)] = until
                self._at(until, CLEAN_EVENT, (backend_id, index))
            else:
                device.status = DeviceStatus.IDLE
        job.status = status
        job.end_time = now
        job.end_reason = reason
        del self.jobs[job.feid]  # the jobs' table takes it out of the job index
        self.archive.add_job(job)

    # ------------------------------------------------------------------ the VM side

    def _customer_sda(self, tok: Token, sda_id: int) -> Sda:
        """The token's SDA `sda_id`, as the VM side asks for it.  SDA ids are sequential:
        another token's SDA and no SDA at all are one refusal, so a customer probing ids
        learns nothing of the others'."""
        sda = self.sdas.get(sda_id)
        if sda is None or sda.token != tok.value:
            raise PermissionDenied(f"SDA {sda_id} is not one of the token's SDAs.")
        return sda

    @change
    def request_devices(self, token: str, client_pid: int = 0, process_name: str = "", client: str = "",
                        version: str = "", sda_id: int = 0) -> Job:
        """A VM holding `token` asks for devices for one process: a new job in the queue."""
        tok = self.token(token)
        validate.int_range("Client PID", client_pid, 0, 2**62)
        validate.text("Process name", process_name, limit=validate.COMMAND_MAX)
        validate.text("Client", client)
        validate.text("Version", version, limit=validate.NAME_MAX)
        if sda_id:
            sda = self._customer_sda(tok, sda_id)
        elif tok.current_sda:
            sda = self.sda(tok.current_sda)
        else:
            raise FailedPrecondition("The token has no SDA: create one first (create sda).")
        # The token's memberships may have changed since the SDA was made.
        self._check_model_access(token, sda.model_id, sda.model_group_id)
        live = self.job_index.count_of_sda(sda.id)
        limit = tok.duplicable
        if limit and live >= limit:
            allowed = "once at a time (duplicable off)" if limit == DUPLICABLE_OFF else f"{limit} times at once"
            raise FailedPrecondition(f"SDA {sda.id} is already in use and may be used {allowed}.")
        model = self.models[sda.model_id]
        group_id = self.backend_group_of(sda)
        capacity = self._capacity(group_id)
        if not sda.reserved and model.devices > capacity:
            raise FailedPrecondition(
                f"SDAModel {model.id} ({model.name}) needs {model.devices} devices; backend group "
                f"{group_id} has {capacity} in all, so the job could never run."
            )
        # The token's own string, and one string per client build and version: each request
        # brings its own copy, which 200,000 jobs in the history would each keep.
        job = Job(feid=self._new_id("job"), token=tok.value, sda_id=sda.id, model_id=model.id,
                  priority=tok.priority, device_count=model.devices, backend_group_id=group_id,
                  client_pid=client_pid, process_name=process_name, client=intern(client),
                  version=intern(version), request_time=self.now)
        if version:
            tok.version = version
        record = self.versions.get(version)
        if record is not None:
            # What the token's worker runs: the version it asked with and that version's worker command.
            tok.worker_execute_info = f"{version}: {record.worker}" if record.worker else version
        self.jobs[job.feid] = job
        key = _pool_of(job, sda)
        self._pool[job.feid] = key
        self.queues.setdefault(key, PoolQueue()).push(job)
        return job

    def _vm_job(self, feid: int, token: str | None) -> Job:
        """The live job `feid`, if `token` is its own.  FeIDs are sequential, so one refusal
        for "no such job" and "not your job": a wrong token learns nothing about the FeID.
        `token` None: a change journalled before the VM side carried tokens, accepted then."""
        if token is None:
            return self.job(feid)
        job = self.jobs.get(feid)
        if job is None or not hmac.compare_digest(job.token.encode(), token.encode()):
            raise PermissionDenied(f"Job {feid} is not a live job of this token.")
        return job

    @change
    def report_running(self, feid: int, token: str | None = None) -> Job:
        """The VM's process started computing: a SUMMITED job is RUNNING now."""
        job = self._vm_job(feid, token)
        if job.status is JobStatus.QUEUED:
            raise FailedPrecondition(f"Job {feid} is still QUEUED: it has no devices yet.")
        if job.status is JobStatus.SUMMITED:
            self._start(job, self.now)
        return job

    @change
    def finish_job(self, feid: int, failed: bool = False, reason: str = "", token: str | None = None) -> Job:
        """The VM's process ended (or gave up waiting): the job goes to the history."""
        job = self._vm_job(feid, token)
        validate.text("Reason", reason)
        if job.status is JobStatus.QUEUED:
            self._end_job(job, JobStatus.CANCELED, reason or "cancelled by the VM before it ran")
        elif failed:
            self._end_job(job, JobStatus.FAILED, reason or "the process failed")
        else:
            self._end_job(job, JobStatus.COMPLETED, reason or "the process ended")
        return job

    # ------------------------------------------------------------------ the admin side

    @query
    def job(self, feid: int) -> Job:
        try:
            return self.jobs[feid]
        except KeyError:
            raise NotFound(f"Job {feid} is not in the job queue.") from None

    @query
    def list_jobs(self, status: JobStatus | None = None, token: str = "") -> list[Job]:
        if token:
            self.token(token)
        return [j for j in self.jobs.values()
                if (status is None or j.status is status) and (not token or j.token == token)]

    @query
    def queue_order(self, key: int = 0) -> list[int]:
        """FeIDs of one pool's queue in the order they will be served (default group by default)."""
        queue = self.queues.get(key)
        return list(queue.ordered()) if queue else []

    @change
    def update_job_priority(self, feid: int, priority: int) -> Job:
        job = self.job(feid)
        validate.priority(priority)
        if job.status is not JobStatus.QUEUED:
            raise FailedPrecondition(
                f"Job {feid} is {job.status.value}: only waiting (QUEUED) jobs can change priority."
            )
        job.priority = priority
        self.queues[self._pool[feid]].rekey(job)
        return job

    @change
    def release(self, feid: int = 0, token: str = "", sda_id: int = 0) -> list[int]:
        """`release {feid|token} [SDA ID]`: end the matching live jobs now."""
        if feid:
            targets = [self.job(feid)]
            if sda_id and targets[0].sda_id != sda_id:
                raise NotFound(f"Job {feid} does not use SDA {sda_id}.")
        elif token:
            self.token(token)
            if sda_id:
                self.sda(sda_id)
            targets = [j for j in self.token_jobs(token) if not sda_id or j.sda_id == sda_id]
            if not targets:
                raise NotFound("The token has no job in the job queue" + (f" on SDA {sda_id}." if sda_id else "."))
        else:
            raise InvalidArgument("Release needs a frontend id or a token.")
        for job in targets:
            self._end_job(job, JobStatus.RELEASED, "released by an administrator")
        return [j.feid for j in targets]

    @change
    def release_all(self) -> list[int]:
        targets = list(self.jobs.values())
        for job in targets:
            self._end_job(job, JobStatus.RELEASED, "released by an administrator (release all)")
        return [j.feid for j in targets]

    @query
    def history_job(self, feid: int) -> Job:
        job = self.archive.history_job(feid)
        if job is None:
            raise NotFound(f"Job {feid} is not in the job history.")
        return job

    @query
    def list_history(self, count: int = 0, token: str = "") -> list[Job]:
        self._known_or_departed(token)
        return self.archive.history(count, token)

    @query
    def history_listing(self, count: int = 0, token: str = "") -> Iterator[Listed]:
        """`list_history` as of now, as a listing sends it (messages read as they are iterated)."""
        self._known_or_departed(token)
        return self.archive.history_entries(count, token)

    def _known_or_departed(self, token: str) -> None:
        """NotFound unless `token` (if given) is a token or was one (its history stays)."""
        if token and token not in self.departed:
            self.token(token)

    @query
    def usage(self, begin: float, end: float, token: str = "") -> UsageReport:
        """`show usage`: device usage per token over [begin, end), from the jobs that ran."""
        if end <= begin:
            raise InvalidArgument("The end of the interval must be after its begin.")
        self._known_or_departed(token)
        total = sum(len(b.devices) for b in self.backends.values())
        descriptions = {**self.departed, **{t.value: t.description for t in self.tokens.values()}}
        jobs = [*self.archive.history_during(begin, end), *self.jobs.values()]
        return compute_usage(jobs, begin, end, self.now, total, descriptions, token)
