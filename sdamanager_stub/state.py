"""The records of one SDAManager, plain and typed, and the indexes kept over them.

Nothing here is a rule: the services in rules/ read and change these records
(rules/base.py says how an operation runs).  What never changes once made
(ended jobs, events) goes to `archive` (journal.Records), which keeps and
reads it back.

The relations a single-entity call asks for (a token's jobs and SDAs, what
holds devices, each pool's idle devices) come from indexes, never from a pass
over every record, and every index is kept current one way: `jobs`, `sdas`
and `backends` are tables (rules/index.py's `Table`) that tell their index of
each record added or removed, and the index watches the fields it indexes on
the records it holds (entities.Watched: a job's placement and the other
fields a rule changes on a live job, a device's status or holder, a backend's
status or group).  No rule tells an index anything.
"""

from __future__ import annotations

from .entities import (
    DEFAULT_BACKEND_GROUP_ID,
    DEFAULT_BACKEND_GROUP_NAME,
    Backend,
    BackendGroup,
    Event,
    Job,
    Sda,
    SdaModel,
    SdaModelGroup,
    Token,
    UserGroup,
    Version,
)
from .errors import NotFound
from .journal import Records
from .rules.index import JobIndex, SdaIndex, Table
from .scheduler import IdleIndex

# What the state numbers: each kind's next id.
ID_KINDS = ("sda", "model", "model_group", "backend", "backend_group", "user_group", "job", "event")


class State:
    """Every live record by id, the id counters, the indexes over them, and the archive."""

    def __init__(self, archive: Records) -> None:
        self.job_index = JobIndex()
        self.sda_index = SdaIndex()
        self.idle = IdleIndex()
        self.tokens: dict[str, Token] = {}
        self.models: dict[int, SdaModel] = {}
        self.model_groups: dict[int, SdaModelGroup] = {}
        self.backend_groups: dict[int, BackendGroup] = {
            DEFAULT_BACKEND_GROUP_ID: BackendGroup(DEFAULT_BACKEND_GROUP_ID, DEFAULT_BACKEND_GROUP_NAME)
        }
        self.user_groups: dict[int, UserGroup] = {}
        # user group id -> SDA model group ids, by id (not in the order they were added)
        self.memberships: dict[int, list[int]] = {}
        self.versions: dict[str, Version] = {}
        # Deleted tokens -> their last description: their usage and history stay reportable.
        self.departed: dict[str, str] = {}
        self.next: dict[str, int] = dict.fromkeys(ID_KINDS, 1)
        self.archive = archive  # ended jobs and events
        self.jobs: Table[int, Job] = Table(self.job_index)  # live jobs by FeID
        self.sdas: Table[int, Sda] = Table(self.sda_index)
        self.backends: Table[int, Backend] = Table(self.idle)

    def load(self, *, next_ids: dict[str, int], tokens: dict[str, Token], sdas: dict[int, Sda],
             models: dict[int, SdaModel], model_groups: dict[int, SdaModelGroup], backends: dict[int, Backend],
             backend_groups: dict[int, BackendGroup], user_groups: dict[int, UserGroup],
             memberships: dict[int, list[int]], jobs: dict[int, Job], versions: dict[str, Version],
             departed: dict[str, str]) -> None:
        """Replace every live record (a snapshot read back); the indexes are built again."""
        self.next = next_ids
        self.tokens, self.models, self.model_groups = tokens, models, model_groups
        self.backend_groups, self.user_groups, self.memberships = backend_groups, user_groups, memberships
        self.versions, self.departed = versions, departed
        self.jobs.replace(jobs)
        self.sdas.replace(sdas)
        self.backends.replace(backends)

    def new_id(self, kind: str) -> int:
        value = self.next[kind]
        self.next[kind] = value + 1
        return value

    # ------------------------------------------------------------------ lookups

    def token(self, value: str) -> Token:
        try:
            return self.tokens[value]
        except KeyError:
            raise NotFound(f"Token {value!r} does not exist.") from None

    def sda(self, sda_id: int) -> Sda:
        try:
            return self.sdas[sda_id]
        except KeyError:
            raise NotFound(f"SDA {sda_id} does not exist.") from None

    def model(self, model_id: int) -> SdaModel:
        try:
            return self.models[model_id]
        except KeyError:
            raise NotFound(f"SDAModel {model_id} does not exist.") from None

    def backend(self, backend_id: int) -> Backend:
        try:
            return self.backends[backend_id]
        except KeyError:
            raise NotFound(f"Backend {backend_id} does not exist.") from None

    def version(self, version: str) -> Version:
        try:
            return self.versions[version]
        except KeyError:
            raise NotFound(f"Version {version!r} does not exist.") from None

    def job(self, feid: int) -> Job:
        try:
            return self.jobs[feid]
        except KeyError:
            raise NotFound(f"Job {feid} is not in the job queue.") from None

    def known_or_departed(self, token: str) -> None:
        """NotFound unless `token` (if given) is a token or was one (its history stays)."""
        if token and token not in self.departed:
            self.token(token)

    # ------------------------------------------------------------------ relations several entities need

    def backends_in_group(self, group_id: int) -> list[Backend]:
        return [b for b in self.backends.values() if b.group_id == group_id]

    def backend_group_of(self, sda: Sda) -> int:
        """The backend group an SDA's jobs run on: its model group's, else the default one."""
        group = self.model_groups.get(sda.model_group_id) if sda.model_group_id else None
        return group.backend_group_id if group is not None else DEFAULT_BACKEND_GROUP_ID

    def token_sdas(self, token: str) -> list[Sda]:
        sdas = self.sdas
        return [sdas[i] for i in self.sda_index.of_token(token)]

    def token_user_groups(self, token: str) -> list[UserGroup]:
        return [g for g in self.user_groups.values() if token in g.tokens]

    def holding_jobs(self) -> list[Job]:
        """The live jobs that hold devices now (SUMMITED or RUNNING): what "running" means
        for `show token running`, `show sda running` and the listings' counts.  FeID order."""
        jobs = self.jobs
        return [jobs[feid] for feid in self.job_index.holding()]

    def token_holding_count(self, token: str) -> int:
        """How many of the token's live jobs hold devices (a token's "running jobs")."""
        return self.job_index.holding_count_of_token(token)

    def sda_holding_jobs(self, sda_id: int) -> list[Job]:
        """The SDA's live jobs that hold devices, in FeID order."""
        jobs = self.jobs
        return [jobs[feid] for feid in self.job_index.holding_of_sda(sda_id)]

    def sda_jobs(self, sda_id: int) -> list[Job]:
        """The SDA's live jobs, in FeID order."""
        jobs = self.jobs
        return [jobs[feid] for feid in self.job_index.of_sda(sda_id)]

    def token_jobs(self, token: str) -> list[Job]:
        """The token's live jobs, in FeID order."""
        jobs = self.jobs
        return [jobs[feid] for feid in self.job_index.of_token(token)]

    # ------------------------------------------------------------------ what the archive keeps

    @property
    def history(self) -> list[Job]:
        """The ended jobs, oldest first (read from the archive: a copy)."""
        return self.archive.history()

    @property
    def events(self) -> list[Event]:
        """The event log, oldest first (read from the archive: a copy)."""
        return self.archive.events()
