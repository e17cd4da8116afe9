"""How an operation runs, and what every service of the rules is built on.

`Operations` runs them (audit.py has the decorators): one re-entrant lock
serialises them.  The server runs them all on one thread (owner.py), so it
never waits on the lock; the lock is there for code in the same process that
calls the rules from other threads (tests, embedding programs).  Each fixes
its instant once, in `ops.now`, and every rule reads that, never the clock, so
replaying the journal at the instants it recorded does exactly what was done.
Only the outermost operation fixes the instant; one called from inside
another keeps it.  Time moves through `advance()`, which applies the
transitions the scheduler's timeline holds (rules/scheduling.py), and the
scheduler serves its queues after every change.  Each change is written to
the event log and the journal; replay finds the service that makes a kind of
change by the kind's class (audit.CHANGES), never by a name.

A `Service` is one entity's rules (rules/tokens.py, sdas.py, ...): built on
the operations, the state (state.py) and, by reference, the services whose
rules it uses, every one of them given to its constructor.
"""

from __future__ import annotations

import contextlib
import contextvars
import json
import logging
import threading
import time
from collections.abc import Callable, Iterator
from sys import intern
from typing import Any, NamedTuple, TypeVar

from ..audit import CHANGES, ChangeKind, bounded, json_default, query, request_peer
from ..entities import Event, Job, Sda, Token
from ..errors import DomainError, Internal
from ..journal import Journal, JournalError
from ..state import State
from .scheduling import Scheduler

log = logging.getLogger(__name__)

R = TypeVar("R")

# Set by `Operations.deferred_saving()`: operations leave the wait for the journal to their caller.
_deferring: contextvars.ContextVar[bool] = contextvars.ContextVar("deferring", default=False)


class Unsaved(NamedTuple):
    """What an operation journalled (the journal's handle for it), and whether it was a change."""

    entry: Any
    changed: bool


class _Journalled(threading.local):
    """Per thread: what its last operation journalled (the journal's handle), not yet taken."""

    entry: Any = None
    change = False


class Operations:
    """How the operations on `state` run: the lock, the instant, the journal, the event log.
    `clock` tells the time; `scheduler` applies the transitions that are due and serves
    its queues after every change."""

    def __init__(self, state: State, scheduler: Scheduler, clock: Callable[[], float] = time.time) -> None:
        self.state = state
        self.scheduler = scheduler
        self.clock = clock
        self.lock = threading.RLock()
        self.now = self.started = clock()  # the instant of the operation under way (the last one's after)
        self.busy = 0  # operations under way in this thread (they hold the lock)
        self.changing = 0  # of which changes
        self.made = ""  # what the change under way made up (a new token's value), for the journal
        self.journal: Journal | None = None  # None keeps the state in memory only
        self.journal_broken = ""  # why the journal failed; changes and queries are refused from then on
        self._journal_listeners: list[Callable[[str], None]] = []  # told once when it fails
        # Per thread: what its operation journalled and the journal has yet to make
        # durable (see `_await_saved`).
        self._unsaved = _Journalled()
        # The service that makes each kind of change, by its class (replay's dispatch).
        self._services: dict[type[Service], Service] = {}

    def register(self, service: Service) -> None:
        """`service` makes the changes its class defines (a service does this as it is built)."""
        self._services[type(service)] = service

    def advance(self) -> None:
        """Bring the state up to now: devices done preparing or cleaning move on.

        Inside an operation, now is the operation's instant; outside, the clock's.
        Time only moves when the manager is asked something, so a fake clock in
        tests needs no sleeping and no thread.
        """
        with self.lock:
            if not self.busy:
                self.now = self.clock()
            self.scheduler.catch_up(self.now)

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

    def perform(self, kind: ChangeKind, service: Service, arguments: dict[str, Any], *,
                at: float | None = None, made: str = "") -> Any:
        """Make the change `kind` with `service` and `arguments`, as one change: at instant `at`
        (default: the clock's now), making up `made` again if given (replay), logged and
        journalled.  Returns what the rule returns."""
        outermost = False
        try:
            with self.lock:
                outermost = not self.busy
                return self._perform(kind, service, arguments, at, made)
        finally:
            if outermost:
                self._await_saved()

    def _perform(self, kind: ChangeKind, service: Service, arguments: dict[str, Any], at: float | None,
                 made: str) -> Any:
        """`perform` under the lock; the journal has the entry when this returns, durable or not yet."""
        if self.changing:
            # A change made of others (the customer's `add_device` is a `create_sda`):
            # the outer one is logged and journalled, and replaying it does the inner ones.
            return kind.rule(service, **arguments)
        action = kind.name.upper()
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
        self.made = made
        touched = self.scheduler.touched
        touched.clear()
        self.busy += 1
        self.changing += 1
        try:
            self.advance()
            try:
                result = kind.rule(service, **arguments)
            except DomainError as err:
                # Unvalidated, so kept only as a bounded excerpt: a flood of refused
                # megabytes must not grow the log, the journal or memory.
                request, token, outcome = bounded(request), bounded(token), bounded(f"FAILED: {err}")
                self._log(token, action, request, outcome)
                self._save_refusal(kind.name, request, token, outcome)
                raise
            if isinstance(result, Token):
                token = result.value
            elif not token and isinstance(result, (Job, Sda)):  # the token it belongs to
                token = result.token
            elif not token and touched:  # the tokens whose jobs it ended (a release by FeID names none)
                token = ",".join(dict.fromkeys(touched))
            self._log(token, action, request, "SUCCESS")
            # Any change may let a waiting job run: freed devices, a new
            # priority, a backend back to ACTIVE, a new job.
            self.scheduler.serve(self.now)
            self._save_change(kind.name, request)
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
            self.perform(kind, self._services[kind.owner], decoded, at=at, made=made)
        finally:
            request_peer.reset(reset)

    def _save_change(self, action: str, request: str) -> None:
        if self.journal is None:
            return
        try:
            entry = self.journal.record_change(self.now, action, request, self.made, request_peer.get())
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
        state = self.state
        known = state.tokens.get(token)
        # One string per token and per action (not one per event).
        state.archive.add_event(Event(state.new_id("event"), when, known.value if known is not None else token,
                                      intern(action), request, result, peer))


class Service:
    """One entity's rules, run by `ops` over `state` (each subclass's constructor takes the
    services it builds on).  The changes a subclass defines are made by its instance on
    replay: `ops` knows it by its class."""

    def __init__(self, ops: Operations, state: State) -> None:
        self.ops = ops
        self.state = state
        ops.register(self)

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        for value in vars(cls).values():
            kind = CHANGES.made_by(value)
            if kind is not None:
                kind.owner = cls


class EventRules(Service):
    """The event log, as the API lists it."""

    @query
    def list_events(self, token: str = "", action: str = "", count: int = 0) -> list[Event]:
        return self.state.archive.events(token, action.upper(), count)

    @query
    def event_listing(self, token: str = "", action: str = "", count: int = 0) -> Iterator[bytes]:
        """`list_events` as of now, as a listing sends it (messages read as they are iterated)."""
        return self.state.archive.event_messages(token, action.upper(), count)
