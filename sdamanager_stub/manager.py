"""SDAManager: the rules of one SDAManager, composed over one state.

Nothing here knows about gRPC or storage.  The parts, each given what it
builds on:

    State       the records, their id counters and indexes, the archive (state.py)
    Scheduler   the queues, the timeline, a job's devices (rules/scheduling.py)
    Operations  how an operation runs: lock, instant, event log, journal (rules/base.py)
    services    one per entity (rules/*.py), each built on the operations, the
                state and the services whose rules it uses

`SDAManager` builds them and is the facade the servicer, the store and the
tests use: every operation of the API, by the service that makes it, and the
state's records to read.  Every operation validates its arguments, checks the
rules against the current state, changes the state or raises a DomainError
with the reason, and records the attempt in the event log.
"""

from __future__ import annotations

import secrets
import threading
import time
from collections.abc import Callable
from typing import NamedTuple

from .archive import in_memory
from .clock import SteadyClock
from .entities import Backend, BackendGroup, Event, Job, Sda, SdaModel, SdaModelGroup, Token, UserGroup, Version
from .journal import Journal, Records
from .rules.backends import BackendRules
from .rules.base import EventRules, Operations
from .rules.customer import CustomerRules
from .rules.jobs import JobRules
from .rules.models import ModelRules
from .rules.scheduling import Scheduler
from .rules.sdas import SdaRules
from .rules.tokens import TokenRules
from .rules.users import UserRules
from .rules.versions import VersionRules
from .state import State


class Services(NamedTuple):
    """The rules, one service per entity."""

    backends: BackendRules
    models: ModelRules
    users: UserRules
    versions: VersionRules
    sdas: SdaRules
    tokens: TokenRules
    jobs: JobRules
    customer: CustomerRules
    events: EventRules


class SDAManager:
    """One SDAManager: its state, its scheduler, how its operations run, and its rules.

    Its ended jobs and events go to `archive`: by default an in-memory one of their own
    (a state file's store gives the manager its own when it attaches: store.py).  `clock`
    tells the time, `randbelow` makes new tokens' digits, and devices take
    `prepare_seconds` to prepare and `clean_seconds` to clean."""

    def __init__(self, clock: Callable[[], float] = time.time, randbelow: Callable[[int], int] = secrets.randbelow,
                 prepare_seconds: float = 0.0, clean_seconds: float = 0.0, *,
                 archive: Records | None = None) -> None:
        self.state = state = State(archive if archive is not None else in_memory())
        self.scheduler = scheduler = Scheduler(state, prepare_seconds, clean_seconds)
        self.ops = ops = Operations(state, scheduler, clock)
        backends = BackendRules(ops, state)
        models = ModelRules(ops, state, backends)
        users = UserRules(ops, state, models)
        versions = VersionRules(ops, state)
        sdas = SdaRules(ops, state, models, users)
        tokens = TokenRules(ops, state, sdas, randbelow)
        jobs = JobRules(ops, state, scheduler, sdas)
        customer = CustomerRules(ops, state, scheduler, tokens, sdas, jobs, users, versions)
        events = EventRules(ops, state)
        self.rules = Services(backends, models, users, versions, sdas, tokens, jobs, customer, events)

        # How operations run (rules/base.py; the server's owner takes `ops` itself: owner.py).
        self.read = ops.read
        self.advance = ops.advance
        self.replay = ops.replay
        self.when_journal_fails = ops.when_journal_fails
        self.restore_event = ops.restore_event

        # Lookups: the record, or NotFound saying which does not exist.
        self.token = state.token
        self.sda = state.sda
        self.backend = state.backend

        # The operations of the API, by the service that makes each.
        # backends
        self.add_default_cluster = backends.add_default_cluster
        self.create_backend = backends.create_backend
        self.delete_backend = backends.delete_backend
        self.update_backend_host = backends.update_backend_host
        self.update_backend_ip = backends.update_backend_ip
        self.update_backend_status = backends.update_backend_status
        self.update_backend_group = backends.update_backend_group
        self.update_device_status = backends.update_device_status
        self.update_all_device_status = backends.update_all_device_status
        self.list_backends = backends.list_backends
        self.create_backendgroup = backends.create_backendgroup
        self.delete_backendgroup = backends.delete_backendgroup
        self.rename_backendgroup = backends.rename_backendgroup
        self.set_backendgroup_backends = backends.set_backendgroup_backends
        self.add_backendgroup_backend = backends.add_backendgroup_backend
        self.remove_backendgroup_backend = backends.remove_backendgroup_backend
        self.list_backend_groups = backends.list_backend_groups
        self.backend_group = backends.backend_group
        # models
        self.add_default_models = models.add_default_models
        self.list_models = models.list_models
        self.create_sdamodel = models.create_sdamodel
        self.delete_sdamodel = models.delete_sdamodel
        self.create_sdamodelgroup = models.create_sdamodelgroup
        self.delete_sdamodelgroup = models.delete_sdamodelgroup
        self.rename_sdamodelgroup = models.rename_sdamodelgroup
        self.set_sdamodelgroup_backendgroup = models.set_sdamodelgroup_backendgroup
        self.set_sdamodelgroup_models = models.set_sdamodelgroup_models
        self.add_sdamodelgroup_model = models.add_sdamodelgroup_model
        self.remove_sdamodelgroup_model = models.remove_sdamodelgroup_model
        self.list_model_groups = models.list_model_groups
        self.model_group = models.model_group
        # users
        self.create_usergroup = users.create_usergroup
        self.delete_usergroup = users.delete_usergroup
        self.rename_usergroup = users.rename_usergroup
        self.set_usergroup_tokens = users.set_usergroup_tokens
        self.add_usergroup_token = users.add_usergroup_token
        self.remove_usergroup_token = users.remove_usergroup_token
        self.list_user_groups = users.list_user_groups
        self.add_membership = users.add_membership
        self.remove_membership = users.remove_membership
        self.list_memberships = users.list_memberships
        self.allowed_models = users.allowed_models
        self.allowed_model_groups = users.allowed_model_groups
        self.user_group = users.user_group
        # versions
        self.create_version = versions.create_version
        self.delete_version = versions.delete_version
        self.update_version_health_check = versions.update_version_health_check
        self.update_version_path = versions.update_version_path
        self.update_version_query = versions.update_version_query
        self.update_version_worker = versions.update_version_worker
        self.update_version_support = versions.update_version_support
        self.set_latest_version = versions.set_latest_version
        self.add_worker_env = versions.add_worker_env
        self.remove_worker_env = versions.remove_worker_env
        self.list_versions = versions.list_versions
        self.latest_version = versions.latest_version
        # sdas
        self.create_sda = sdas.create_sda
        self.update_sda = sdas.update_sda
        self.delete_sda = sdas.delete_sda
        self.list_sdas = sdas.list_sdas
        # tokens
        self.create_token = tokens.create_token
        self.delete_token = tokens.delete_token
        self.update_token_priority = tokens.update_token_priority
        self.update_token_description = tokens.update_token_description
        self.update_token_access_level = tokens.update_token_access_level
        self.update_token_max_sda = tokens.update_token_max_sda
        self.update_token_current_sda = tokens.update_token_current_sda
        self.update_token_duplicable = tokens.update_token_duplicable
        self.add_token_env = tokens.add_token_env
        self.remove_token_env = tokens.remove_token_env
        self.list_tokens = tokens.list_tokens
        # jobs
        self.request_devices = jobs.request_devices
        self.report_running = jobs.report_running
        self.finish_job = jobs.finish_job
        self.job = jobs.job
        self.list_jobs = jobs.list_jobs
        self.job_listing = jobs.job_listing
        self.queue_order = jobs.queue_order
        self.update_job_priority = jobs.update_job_priority
        self.release = jobs.release
        self.release_all = jobs.release_all
        self.history_job = jobs.history_job
        self.list_history = jobs.list_history
        self.history_listing = jobs.history_listing
        self.usage = jobs.usage
        # customer
        self.device_view = customer.device_view
        self.model_menu = customer.model_menu
        self.switch_model = customer.switch_model
        self.add_device = customer.add_device
        self.remove_device = customer.remove_device
        self.switch_device = customer.switch_device
        self.reset_device = customer.reset_device
        # events
        self.list_events = events.list_events
        self.event_listing = events.event_listing

    # ------------------------------------------------------------------ how it runs, to read

    @property
    def clock(self) -> Callable[[], float]:
        return self.ops.clock

    @property
    def lock(self) -> threading.RLock:
        return self.ops.lock

    @property
    def now(self) -> float:
        """The instant of the operation under way (the last one's after)."""
        return self.ops.now

    @property
    def started(self) -> float:
        return self.ops.started

    @property
    def journal(self) -> Journal | None:
        return self.ops.journal

    @journal.setter
    def journal(self, journal: Journal | None) -> None:
        self.ops.journal = journal

    @property
    def prepare_seconds(self) -> float:
        return self.scheduler.prepare_seconds

    @property
    def clean_seconds(self) -> float:
        return self.scheduler.clean_seconds

    # ------------------------------------------------------------------ the state's records, to read

    @property
    def tokens(self) -> dict[str, Token]:
        return self.state.tokens

    @property
    def sdas(self) -> dict[int, Sda]:
        return self.state.sdas

    @property
    def models(self) -> dict[int, SdaModel]:
        return self.state.models

    @property
    def model_groups(self) -> dict[int, SdaModelGroup]:
        return self.state.model_groups

    @property
    def backends(self) -> dict[int, Backend]:
        return self.state.backends

    @property
    def backend_groups(self) -> dict[int, BackendGroup]:
        return self.state.backend_groups

    @property
    def user_groups(self) -> dict[int, UserGroup]:
        return self.state.user_groups

    @property
    def memberships(self) -> dict[int, list[int]]:
        return self.state.memberships

    @property
    def jobs(self) -> dict[int, Job]:
        """The live jobs by FeID."""
        return self.state.jobs

    @property
    def versions(self) -> dict[str, Version]:
        return self.state.versions

    @property
    def departed(self) -> dict[str, str]:
        return self.state.departed

    @property
    def archive(self) -> Records:
        return self.state.archive

    @property
    def history(self) -> list[Job]:
        """The ended jobs, oldest first (a copy)."""
        return self.state.history

    @property
    def events(self) -> list[Event]:
        """The event log, oldest first (a copy)."""
        return self.state.events


def new_manager(backends: int = 60, devices: int = 8, clock: Callable[[], float] | None = None,
                randbelow: Callable[[int], int] = secrets.randbelow,
                prepare_seconds: float = 0.0, clean_seconds: float = 0.0) -> SDAManager:
    """A manager with the guide's model catalogue and a cluster of `backends` x `devices`;
    its clock by default a SteadyClock (wall time that never runs backwards)."""
    manager = SDAManager(clock=clock if clock is not None else SteadyClock(), randbelow=randbelow,
                         prepare_seconds=prepare_seconds,
                         clean_seconds=clean_seconds)
    manager.add_default_models()
    manager.add_default_cluster(backends, devices)
    return manager
