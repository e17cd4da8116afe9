"""What the rules need of durable storage: a journal of their changes.

The rules keep the state in memory; a journal keeps what rebuilds it.  The
domain owns this protocol and the store implements it (store.py imports the
rules, never the other way), so no storage library reaches the rules: a
journal that cannot save says so with JournalError.  Rebuilding goes the
other way round, through `SDAManager.replay`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any, NamedTuple, Protocol

from .entities import Event, Job, JobStatus


class JournalError(Exception):
    """The journal could not save an entry; ``str(err)`` says why."""


class NotAChange(LookupError):
    """A journal names an operation that is not a change of these rules."""


class Journal(Protocol):
    """Entries are recorded under the manager's lock, in the order the changes were applied,
    and must be saved in that order.  `record_*` returns a handle for the entry, or None
    when it saved the entry before returning.  A journal may instead only queue it: the
    rules then call `sync(handle)` once the operation has let go of the lock and before
    its caller hears of it (so the disk work of concurrent callers can be shared: group
    commit), or `when_durable(handle, callback)` for callers that must not block (the
    event loop)."""

    def record_change(self, when: float, action: str, arguments: str, made: str, peer: str) -> Any:
        """Record a change (its caller is told it succeeded only once it is durable): the rule
        method's name, its arguments as JSON, its instant, what it made up (a new token's
        value, so replay makes the same) and who asked.  Returns what `sync` takes, if any."""

    def record_refusal(self, when: float, action: str, arguments: str, token: str, result: str,
                       peer: str) -> Any:
        """Record a refused attempt, for the event log only (replay does not run it)."""

    def sync(self, entry: Any) -> None:
        """Return once `entry` (a handle `record_*` returned) and every entry before it are
        durable; JournalError if they cannot be."""

    def when_durable(self, entry: Any, callback: Callable[[JournalError | None], None]) -> None:
        """`sync` without the wait: call `callback(None)` once `entry` is durable, or
        `callback(JournalError)` if it cannot be (from any thread, perhaps at once)."""


class Listed(NamedTuple):
    """An ended job as a listing sends it: its message as the archive keeps it (opaque to
    the rules: made by the archive's encoder, without what may change), and what the
    listing adds to it: the token and backend group whose names it shows, and its
    placement (JSON pairs of backend id and device index), which shows its backends' names."""

    message: bytes
    token: str
    backend_group_id: int
    placement: str


class Records(Protocol):
    """Where the rules keep what never changes once made, and read it back when asked:
    the ended jobs (the history, oldest first) and the event log.  Each keeps the newest
    of its records only (archive.Limits); archive.py implements it in SQLite."""

    def add_job(self, job: Job) -> None:
        """A job that has ended (it never changes again)."""

    def add_event(self, event: Event) -> None:
        """An event of the log."""

    def history(self, count: int = 0, token: str = "") -> list[Job]:
        """The ended jobs, oldest first: the newest `count` (0: all), of `token` if given."""

    def history_entries(self, count: int = 0, token: str = "") -> Iterator[Listed]:
        """`history(count, token)` as it is now, as a listing sends it, read as it is iterated."""

    def history_job(self, feid: int) -> Job | None:
        """The ended job `feid`, if the history has it."""

    def history_during(self, begin: float, end: float) -> list[Job]:
        """The ended jobs that held devices some time in [begin, end)."""

    def ended_by_status(self) -> dict[JobStatus, int]:
        """How many ended jobs of each status the history holds."""

    def events(self, token: str = "", action: str = "", count: int = 0) -> list[Event]:
        """The log, oldest first: the newest `count` (0: all), of `token` and `action` if given."""

    def event_messages(self, token: str = "", action: str = "", count: int = 0) -> Iterator[bytes]:
        """`events(token, action, count)` as it is now, each as its message, read as iterated."""
