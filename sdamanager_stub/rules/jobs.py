"""Jobs: the VM side, the queue as the admin sees and changes it, releases, history.

A VM holding a token asks for devices for one process on one of the token's
SDAs (rules/sdas.py: memberships decide again, and the SDA's model group
names the backend group the job runs on).  The queues, the timeline and the
life cycle of a job's devices are the scheduler's (rules/scheduling.py);
these rules hand it new jobs and the jobs they end, at the operation's
instant.
"""

from __future__ import annotations

import hmac
from collections.abc import Iterator
from sys import intern
from typing import Any

from .. import validate
from ..audit import change, query
from ..entities import DUPLICABLE_OFF, Job, JobStatus, Sda, Token
from ..errors import FailedPrecondition, InvalidArgument, NotFound, PermissionDenied
from ..journal import Listed
from ..state import State
from ..usage import UsageReport, compute_usage
from .base import Operations, Service
from .scheduling import Scheduler
from .sdas import SdaRules


class JobRules(Service):
    """Jobs, their queues and their devices' life cycle."""

    def __init__(self, ops: Operations, state: State, scheduler: Scheduler, sdas: SdaRules) -> None:
        super().__init__(ops, state)
        self.scheduler = scheduler
        self.sdas = sdas

    # ------------------------------------------------------------------ the VM side

    def customer_sda(self, tok: Token, sda_id: int) -> Sda:
        """The token's SDA `sda_id`, as the VM side asks for it.  SDA ids are sequential:
        another token's SDA and no SDA at all are one refusal, so a customer probing ids
        learns nothing of the others'."""
        sda = self.state.sdas.get(sda_id)
        if sda is None or sda.token != tok.value:
            raise PermissionDenied(f"SDA {sda_id} is not one of the token's SDAs.")
        return sda

    @change
    def request_devices(self, token: str, client_pid: int = 0, process_name: str = "", client: str = "",
                        version: str = "", sda_id: int = 0) -> Job:
        """A VM holding `token` asks for devices for one process: a new job in the queue."""
        tok = self.state.token(token)
        validate.int_range("Client PID", client_pid, 0, 2**62)
        validate.text("Process name", process_name, limit=validate.COMMAND_MAX)
        validate.text("Client", client)
        validate.text("Version", version, limit=validate.NAME_MAX)
        if sda_id:
            sda = self.customer_sda(tok, sda_id)
        elif tok.current_sda:
            sda = self.state.sda(tok.current_sda)
        else:
            raise FailedPrecondition("The token has no SDA: create one first (create sda).")
        # The token's memberships may have changed since the SDA was made.
        self.sdas.check_model_access(token, sda.model_id, sda.model_group_id)
        live = self.state.job_index.count_of_sda(sda.id)
        limit = tok.duplicable
        if limit and live >= limit:
            allowed = "once at a time (duplicable off)" if limit == DUPLICABLE_OFF else f"{limit} times at once"
            raise FailedPrecondition(f"SDA {sda.id} is already in use and may be used {allowed}.")
        model = self.state.models[sda.model_id]
        group_id = self.state.backend_group_of(sda)
        capacity = self.scheduler.capacity(group_id)
        if not sda.reserved and model.devices > capacity:
            raise FailedPrecondition(
                f"SDAModel {model.id} ({model.name}) needs {model.devices} devices; backend group "
                f"{group_id} has {capacity} in all, so the job could never run."
            )
        # The token's own string, and one string per client build and version: each request
        # brings its own copy, which 200,000 jobs in the history would each keep.
        job = Job(feid=self.state.new_id("job"), token=tok.value, sda_id=sda.id, model_id=model.id,
                  priority=tok.priority, device_count=model.devices, backend_group_id=group_id,
                  client_pid=client_pid, process_name=process_name, client=intern(client),
                  version=intern(version), request_time=self.ops.now)
        if version:
            tok.version = version
        record = self.state.versions.get(version)
        if record is not None:
            # What the token's worker runs: the version it asked with and that version's worker command.
            tok.worker_execute_info = f"{version}: {record.worker}" if record.worker else version
        self.scheduler.enqueue(job, sda)
        return job

    def _vm_job(self, feid: int, token: str | None) -> Job:
        """The live job `feid`, if `token` is its own.  FeIDs are sequential, so one refusal
        for "no such job" and "not your job": a wrong token learns nothing about the FeID.
        `token` None: a change journalled before the VM side carried tokens, accepted then."""
        if token is None:
            return self.job(feid)
        job = self.state.jobs.get(feid)
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
            self.scheduler.start(job, self.ops.now)
        return job

    @change
    def finish_job(self, feid: int, failed: bool = False, reason: str = "", token: str | None = None) -> Job:
        """The VM's process ended (or gave up waiting): the job goes to the history."""
        job = self._vm_job(feid, token)
        validate.text("Reason", reason)
        if job.status is JobStatus.QUEUED:
            self.scheduler.end_job(job, JobStatus.CANCELED, reason or "cancelled by the VM before it ran", self.ops.now)
        elif failed:
            self.scheduler.end_job(job, JobStatus.FAILED, reason or "the process failed", self.ops.now)
        else:
            self.scheduler.end_job(job, JobStatus.COMPLETED, reason or "the process ended", self.ops.now)
        return job

    # ------------------------------------------------------------------ the admin side

    @query
    def job(self, feid: int) -> Job:
        return self.state.job(feid)

    @query
    def list_jobs(self, status: JobStatus | None = None, token: str = "") -> list[Job]:
        if token:
            self.state.token(token)
        return [j for j in self.state.jobs.values()
                if (status is None or j.status is status) and (not token or j.token == token)]

    @query
    def job_listing(self, status: JobStatus | None = None, token: str = "") -> list[tuple[Any, ...]]:
        """`list_jobs` as of now, as a listing sends it: each job's `state()` (kept by the job
        index as it changes), which also names its message (servicer.Wire)."""
        return self.state.job_index.states_of(self.list_jobs(status, token))

    @query
    def queue_order(self, key: int = 0) -> list[int]:
        """FeIDs of one pool's queue in the order they will be served (default group by default)."""
        return self.scheduler.queue_order(key)

    @change
    def update_job_priority(self, feid: int, priority: int) -> Job:
        job = self.job(feid)
        validate.priority(priority)
        if job.status is not JobStatus.QUEUED:
            raise FailedPrecondition(
                f"Job {feid} is {job.status.value}: only waiting (QUEUED) jobs can change priority."
            )
        job.priority = priority
        self.scheduler.rekey(job)
        return job

    @change
    def release(self, feid: int = 0, token: str = "", sda_id: int = 0) -> list[int]:
        """`release {feid|token} [SDA ID]`: end the matching live jobs now."""
        if feid:
            targets = [self.job(feid)]
            if sda_id and targets[0].sda_id != sda_id:
                raise NotFound(f"Job {feid} does not use SDA {sda_id}.")
        elif token:
            self.state.token(token)
            if sda_id:
                self.state.sda(sda_id)
            targets = [j for j in self.state.token_jobs(token) if not sda_id or j.sda_id == sda_id]
            if not targets:
                raise NotFound("The token has no job in the job queue" + (f" on SDA {sda_id}." if sda_id else "."))
        else:
            raise InvalidArgument("Release needs a frontend id or a token.")
        for job in targets:
            self.scheduler.end_job(job, JobStatus.RELEASED, "released by an administrator", self.ops.now)
        return [j.feid for j in targets]

    @change
    def release_all(self) -> list[int]:
        targets = list(self.state.jobs.values())
        for job in targets:
            self.scheduler.end_job(job, JobStatus.RELEASED, "released by an administrator (release all)", self.ops.now)
        return [j.feid for j in targets]

    @query
    def history_job(self, feid: int) -> Job:
        job = self.state.archive.history_job(feid)
        if job is None:
            raise NotFound(f"Job {feid} is not in the job history.")
        return job

    @query
    def list_history(self, count: int = 0, token: str = "") -> list[Job]:
        self.state.known_or_departed(token)
        return self.state.archive.history(count, token)

    @query
    def history_listing(self, count: int = 0, token: str = "") -> Iterator[Listed]:
        """`list_history` as of now, as a listing sends it (messages read as they are iterated)."""
        self.state.known_or_departed(token)
        return self.state.archive.history_entries(count, token)

    @query
    def usage(self, begin: float, end: float, token: str = "") -> UsageReport:
        """`show usage`: device usage per token over [begin, end), from the jobs that ran."""
        if end <= begin:
            raise InvalidArgument("The end of the interval must be after its begin.")
        self.state.known_or_departed(token)
        total = sum(len(b.devices) for b in self.state.backends.values())
        descriptions = {**self.state.departed, **{t.value: t.description for t in self.state.tokens.values()}}
        jobs = [*self.state.archive.history_during(begin, end), *self.state.jobs.values()]
        return compute_usage(jobs, begin, end, self.ops.now, total, descriptions, token)
