"""The base every rule module builds on: the state, and how an operation runs.

State: every live record by id, the id counters, the scheduler's queues and
timeline (the jobs' rules keep them); what never changes once made (ended jobs,
events) goes to `archive` (journal.Records), which keeps and reads it back;
lookups that find a record or say it does not exist, and the relations more
than one entity needs.
The relations a single-entity call asks for (a token's jobs and SDAs, what
holds devices, each pool's idle devices) come from indexes kept as the
records change (rules/index.py, scheduler.IdleIndex), never from a pass over
every record: `jobs`, `sdas` and `backends` are tables that keep them.

Operations (audit.py has the decorators): one re-entrant lock serialises
them.  The server runs them all on one thread (owner.py), so it never waits
on the lock; the lock is there for code in the same process that calls the
rules from other threads (tests, embedding programs).  Each fixes its instant
once, in `self.now`, and every rule reads that, never the clock, so replaying
the journal at the instants it recorded does exactly what was done.  Only the
outermost operation fixes the instant; one called from inside another keeps
it.  Time moves through `advance()`, which applies the transitions the jobs'
timeline holds (rules/jobs.py).
"""

from __future__ import annotations

import contextlib
import contextvars
import json
import logging
import secrets
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator
from sys import intern
from typing import Any, NamedTuple, TypeVar

from ..audit import CHANGES, bounded, json_default, query, request_peer
from ..entities import (
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
from ..errors import DomainError, Internal, NotFound
from ..journal import Journal, JournalError, Records
from ..scheduler import IdleIndex, PoolQueue
from .groups import BackendGroups, ModelGroups, UserGroups
from .index import JobIndex, SdaIndex, Table

log = logging.getLogger(__name__)

R = TypeVar("R")

# Set by `Rules.deferred_saving()`: operations leave the wait for the journal to their caller.
_deferring: contextvars.ContextVar[bool] = contextvars.ContextVar("deferring", default=False)


class Unsaved(NamedTuple):
    """What an operation journalled (the journal's handle for it), and whether it was a change."""

    entry: Any
    changed: bool


class _Journalled(threading.local):
    """Per thread: what its last operation journalled (the journal's handle), not yet taken."""

    entry: Any = None
    change = False


class Rules(ABC):
    """The whole state of one SDAManager and how its operations run."""

    def __init__(self, archive: Records, clock: Callable[[], float] = time.time,
                 randbelow: Callable[[int], int] = secrets.randbelow,
                 prepare_seconds: float = 0.0, clean_seconds: float = 0.0) -> None:
        if prepare_seconds < 0 or clean_seconds < 0:
            raise ValueError("prepare and clean delays must be 0 or more")
        self.clock = clock
        # Tests pass a seeded generator so their transcripts show fixed tokens.
        self._randbelow = randbelow
        self.lock = threading.RLock()
        self.now = self.started = clock()  # the instant of the operation under way (the last one's after)
        self.busy = 0  # operations under way in this thread (they hold the lock)
        self.changing = 0  # of which changes
        self._made = ""  # what the change under way made up (a new token's value), for the journal
        # The tokens whose jobs the change under way ended (a release by FeID names none):
        # the event log names them.
        self._touched: list[str] = []
        self.journal: Journal | None = None  # None keeps the state in memory only
        self.journal_broken = ""  # why the journal failed; changes and queries are refused from then on
        self._journal_listeners: list[Callable[[str], None]] = []  # told once when it fails
        # Per thread: what its operation journalled and the journal has yet to make
        # durable (see `_await_saved`).
        self._unsaved = _Journalled()

        # The indexes single-entity calls read instead of passing over every record
        # (rules/index.py, scheduler.py); `jobs`, `sdas` and `backends` keep them.
        self.job_index = JobIndex()
        self.sda_index = SdaIndex()
        self.idle = IdleIndex()

        self.tokens: dict[str, Token] = {}
        self.sdas = {}
        self.models: dict[int, SdaModel] = {}
        self.model_groups: dict[int, SdaModelGroup] = {}
        self.backends = {}
        self.backend_groups: dict[int, BackendGroup] = {
            DEFAULT_BACKEND_GROUP_ID: BackendGroup(DEFAULT_BACKEND_GROUP_ID, DEFAULT_BACKEND_GROUP_NAME)
        }
        self.user_groups: dict[int, UserGroup] = {}
        # user group id -> SDA model group ids, by id (not in the order they were added)
        self.memberships: dict[int, list[int]] = {}
        self.jobs = {}  # live jobs by FeID
        self.archive = archive  # ended jobs and events
        self.versions: dict[str, Version] = {}
        # Deleted tokens -> their last description: their usage and history stay reportable.
        self.departed: dict[str, str] = {}
        self._next = {"sda": 1, "model": 1, "model_group": 1, "backend": 1, "backend_group": 1,
                      "user_group": 1, "job": 1, "event": 1}

        # The scheduler's state (rules/jobs.py): the queues and the timeline of transitions.
        self.prepare_seconds = prepare_seconds
        self.clean_seconds = clean_seconds
        self.queues: dict[int, PoolQueue] = {}
        self._pool: dict[int, int] = {}  # queued feid -> its queue key
        self._timeline: list[tuple[float, int, int, Any]] = []
        self._seq = 0
        # When each device's cleaning ends / each job's preparation ends.
        self._clean_until: dict[tuple[int, int], float] = {}
        self._ready_at: dict[int, float] = {}

        self.model_group_rules = ModelGroups(self)
        self.backend_group_rules = BackendGroups(self)
        self.user_group_rules = UserGroups(self)

    # ------------------------------------------------------------------ the indexed tables

    # Whatever replaces one of these (a restored snapshot) gets a table that keeps
    # its index, and the index is rebuilt from it.
    @property
    def jobs(self) -> dict[int, Job]:
        return self._jobs

    @jobs.setter
    def jobs(self, jobs: dict[int, Job]) -> None:
        index = self.job_index
        self._jobs = Table(jobs, on_set=index.added, on_del=index.removed)
        index.rebuild(self._jobs.values())

    @property
    def sdas(self) -> dict[int, Sda]:
        return self._sdas

    @sdas.setter
    def sdas(self, sdas: dict[int, Sda]) -> None:
        index = self.sda_index
        self._sdas = Table(sdas, on_set=index.added, on_del=index.removed)
        index.rebuild(self._sdas.values())

    @property
    def history(self) -> list[Job]:
        """The ended jobs, oldest first (read from the archive: a copy)."""
        return self.archive.history()

    @property
    def events(self) -> list[Event]:
        """The event log, oldest first (read from the archive: a copy)."""
        return self.archive.events()

    @property
    def backends(self) -> dict[int, Backend]:
        return self._backends

    @backends.setter
    def backends(self, backends: dict[int, Backend]) -> None:
        idle = self.idle
        self._backends: Table[int, Backend] = Table(backends, on_set=idle.changed, on_del=idle.changed)
        idle.watch(self._backends)

    # ------------------------------------------------------------------ time and the jobs' timeline

    @abstractmethod
    def _catch_up(self) -> None:
        """Apply every transition due by `self.now`, in time order (rules/jobs.py)."""

    @abstractmethod
    def _schedule(self, at: float) -> None:
        """Give the waiting jobs the devices that fit them, at `at` (rules/jobs.py)."""

    def advance(self) -> None:
        """Bring the state up to now: devices done preparing or cleaning move on.

        Inside an operation, now is the operation's instant; outside, the clock's.
        Time only moves when the manager is asked something, so a fake clock in
        tests needs no sleeping and no thread.
        """
        with self.lock:
            if not self.busy:
                self.now = self.clock()
            self._catch_up()

    # ------------------------------------------------------------------ operations

    def read(self, fn: Callable[[], R], *, shown: bool = False) -> R:
        """`fn()` under the lock, with time brought up to date first: one consistent view of now.

        Inside an operation the time is already up to date (and a change's own
        transitions must not run half-way through it), so nested reads only read.
        A read whose answer is `shown` to a caller (a query) is refused once the
        journal failed: memory may hold a change the file lacks, which no one
        was told of and no one may see.
        """
        if shown:
            self._refuse_when_broken()
        outermost = False
        try:
            with self.lock:
                outermost = not self.busy
                if outermost:
                    self.advance()
                self.busy += 1
                try:
                    return fn()
                finally:
                    self.busy -= 1
        finally:
            if outermost:
                self._await_saved()

    def perform(self, change: Callable[..., R], arguments: dict[str, Any], *,
                at: float | None = None, made: str = "") -> R:
        """Run `change(self, **arguments)` as one change: at instant `at` (default: the clock's
        now), making up `made` again if given (replay), logged and journalled."""
        outermost = False
        try:
            with self.lock:
                outermost = not self.busy
                return self._perform(change, arguments, at, made)
        finally:
            if outermost:
                self._await_saved()

    def _perform(self, change: Callable[..., R], arguments: dict[str, Any], at: float | None, made: str) -> R:
        """`perform` under the lock; the journal has the entry when this returns, durable or not yet."""
        if self.changing:
            # A change made of others (the customer's `add_device` is a `create_sda`):
            # the outer one is logged and journalled, and replaying it does the inner ones.
            return change(self, **arguments)
        action = change.__name__.upper()
        token = arguments.get("token", "")
        token = token if isinstance(token, str) else ""
        # Memory may hold a change the file lacks: accept nothing more until a
        # restart rebuilds the state from what was saved.
        self._refuse_when_broken()
        # As JSON once, for both the event log and the journal.
        request = json.dumps(arguments, default=json_default, ensure_ascii=False)
        if not self.busy:
            # One instant per change, fixed before anything looks at the time, so
            # replaying the journal at that instant does exactly the same.  Inside
            # a read (the gRPC face converting the result) that read's instant.
            self.now = self.clock() if at is None else at
        self._made = made
        self._touched = []
        self.busy += 1
        self.changing += 1
        try:
            self.advance()
            try:
                result = change(self, **arguments)
            except DomainError as err:
                # Unvalidated, so kept only as a bounded excerpt: a flood of refused
                # megabytes must not grow the log, the journal or memory.
                request, token, outcome = bounded(request), bounded(token), bounded(f"FAILED: {err}")
                self._log(token, action, request, outcome)
                self._save_refusal(change.__name__, request, token, outcome)
                raise
            if isinstance(result, Token):
                token = result.value
            elif not token and isinstance(result, (Job, Sda)):  # the token it belongs to
                token = result.token
            elif not token and self._touched:
                token = ",".join(dict.fromkeys(self._touched))
            self._log(token, action, request, "SUCCESS")
            # Any change may let a waiting job run: freed devices, a new
            # priority, a backend back to ACTIVE, a new job.
            self._schedule(self.now)
            self._save_change(change.__name__, request)
            return result
        finally:
            self.changing -= 1
            self.busy -= 1

    def _refuse_when_broken(self) -> None:
        if self.journal_broken:
            raise Internal(f"The state file failed earlier ({self.journal_broken}): restart the simulator.")

    def replay(self, action: str, arguments: object, *, at: float, made: str = "", peer: str = "") -> None:
        """Run the change kept as `action` again as it first ran: with `arguments` (as the
        journal keeps them, in JSON), at instant `at`, for `peer`, making up `made` again.
        The rules are deterministic given these, so the state comes back exactly.
        NotAChange if no change is kept so (audit.CHANGES); DamagedArguments (a ValueError)
        names an argument that is not of the change's type."""
        kind = CHANGES.find(action)
        decoded = kind.decode(arguments)
        reset = request_peer.set(peer)
        try:
            self.perform(kind.rule, decoded, at=at, made=made)
        finally:
            request_peer.reset(reset)

    def _save_change(self, action: str, request: str) -> None:
        if self.journal is None:
            return
        try:
            entry = self.journal.record_change(self.now, action, request, self._made, request_peer.get())
        except JournalError as err:
            self._journal_failed(str(err))
            raise Internal(f"The state could not be saved ({err}): the change is not acknowledged.") from None
        self._unsaved.entry = entry
        self._unsaved.change = True

    def _save_refusal(self, action: str, request: str, token: str, result: str) -> None:
        if self.journal is None:
            return
        try:
            entry = self.journal.record_refusal(self.now, action, request, token, result, request_peer.get())
        except JournalError as err:  # nothing changed: the refusal's own reason stands
            log.error("could not save a refused attempt to the state file: %s", err)
            return
        self._unsaved.entry = entry

    def _await_saved(self) -> None:
        """Wait until what this thread's operation journalled is durable: once the operation
        has let go of the lock (others change the state meanwhile), before its caller hears.

        The store saves in groups (store.py: one commit for the ops of every caller
        waiting); a journal that saved each entry as it was recorded gave no handle.
        Entries are saved in the order they were recorded, so the last one is enough.
        Inside `deferred_saving()` (the gRPC face on the event loop, which must not block)
        the entry is left for the caller to take with `take_unsaved` and wait for itself.
        """
        if _deferring.get():
            return
        unsaved = self.take_unsaved()
        if unsaved is None or self.journal is None:
            return
        try:
            self.journal.sync(unsaved.entry)
        except JournalError as err:
            self.saved(unsaved, err)

    @staticmethod
    @contextlib.contextmanager
    def deferred_saving() -> Iterator[None]:
        """Operations inside return without waiting for the journal: the caller takes what
        they journalled with `take_unsaved()` and reports the outcome to `saved()`."""
        reset = _deferring.set(True)
        try:
            yield
        finally:
            _deferring.reset(reset)

    def take_unsaved(self) -> Unsaved | None:
        """What this thread's last operation journalled and the journal may not have saved yet."""
        entry, changed = self._unsaved.entry, self._unsaved.change
        self._unsaved.entry, self._unsaved.change = None, False
        return None if entry is None else Unsaved(entry, changed)

    def saved(self, unsaved: Unsaved, error: JournalError | None) -> None:
        """The journal's answer for `unsaved`: a change that could not be saved is not
        acknowledged (Internal) and no change is accepted from then on; a refused
        attempt that could not be saved is only logged (its own reason stands)."""
        if error is None:
            return
        if not unsaved.changed:
            log.error("could not save a refused attempt to the state file: %s", error)
            return
        self._journal_failed(str(error))
        raise Internal(f"The state could not be saved ({error}): the change is not acknowledged.") from None

    def when_journal_fails(self, listener: Callable[[str], None]) -> None:
        """Call `listener(reason)` once, when the journal fails (from the thread that finds
        it out): the server's health turns NOT_SERVING, so a probe restarts it."""
        self._journal_listeners.append(listener)

    def _journal_failed(self, reason: str) -> None:
        if self.journal_broken:
            return
        self.journal_broken = reason
        log.error("the state file failed (%s): no change is accepted and no state shown until a restart", reason)
        for listener in self._journal_listeners:
            listener(reason)

    # ------------------------------------------------------------------ the event log

    def _log(self, token: str, action: str, request: str, result: str) -> None:
        """One event of the log, now; `request` is the change's arguments as JSON."""
        self.restore_event(self.now, token, action, request, result, request_peer.get())

    def restore_event(self, when: float, token: str, action: str, request: str, result: str, peer: str) -> None:
        """Put an event into the log as it happened (a refused attempt read back from a
        journal of schema 2, which kept them as ops)."""
        known = self.tokens.get(token)
        # One string per token and per action (not one per event).
        self.archive.add_event(Event(self._new_id("event"), when, known.value if known is not None else token,
                                     intern(action), request, result, peer))

    @query
    def list_events(self, token: str = "", action: str = "", count: int = 0) -> list[Event]:
        return self.archive.events(token, action.upper(), count)

    @query
    def event_listing(self, token: str = "", action: str = "", count: int = 0) -> Iterator[bytes]:
        """`list_events` as of now, as a listing sends it (messages read as they are iterated)."""
        return self.archive.event_messages(token, action.upper(), count)

    # ------------------------------------------------------------------ ids and lookups

    def _new_id(self, kind: str) -> int:
        value = self._next[kind]
        self._next[kind] = value + 1
        return value

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

    def model_group(self, group_id: int) -> SdaModelGroup:
        return self.model_group_rules.find(group_id)

    def backend(self, backend_id: int) -> Backend:
        try:
            return self.backends[backend_id]
        except KeyError:
            raise NotFound(f"Backend {backend_id} does not exist.") from None

    def backend_group(self, group_id: int) -> BackendGroup:
        return self.backend_group_rules.find(group_id)

    def user_group(self, group_id: int) -> UserGroup:
        return self.user_group_rules.find(group_id)

    def version(self, version: str) -> Version:
        try:
            return self.versions[version]
        except KeyError:
            raise NotFound(f"Version {version!r} does not exist.") from None

    # ------------------------------------------------------------------ relations several entities need

    def backends_in_group(self, group_id: int) -> list[Backend]:
        return [b for b in self.backends.values() if b.group_id == group_id]

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
