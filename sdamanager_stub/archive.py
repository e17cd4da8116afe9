"""What never changes once made: the ended jobs (the history) and the event log, as
SQLite tables, read when listed and never held whole in memory.

The rules hand each ended job and each event to an `Archive` (journal.Records,
the protocol they own) as it is made.  Kept in a state file, the archive only
stages them: the store takes what an operation staged along with the op that
made it, and its committer writes both in the same transaction (so a crash
keeps both or neither, and a listing shows what is on disk).  Kept in memory
(`in_memory()`: `serve --memory`, tests, the embedded demo), it writes each at
once into an in-memory database with the same tables.

Each row also keeps its record's message as the API sends it, made once as it
is written (`Encoder`; convert.MESSAGES), so a listing reads bytes and converts
nothing: an ended job's, but for what may change (the names it shows, its
placement's backend names), which the listing adds (convert.Converter.ended_job).

Neither ever grows without bound (`Limits`): the history keeps the newest
200,000 jobs; the log keeps the newest 100,000 events and, of those, at most
10,000 to 20,000 refused attempts and 8 to 16 MiB of their text (trimmed back
to the lower figure when the higher is passed), so a flood of refused calls
costs a bounded amount of disk.  `Writer` applies them as it writes.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable, Iterable, Iterator, Sequence
from operator import itemgetter
from typing import Any, NamedTuple, Protocol, TypeVar

from . import checks
from .convert import MESSAGES
from .entities import Event, Job, JobStatus
from .journal import Listed

_STATUSES = ", ".join(f"'{status.value}'" for status in JobStatus)
_TIME = f"BETWEEN {checks.TIMES[0]} AND {checks.TIMES[1] - 1}"  # (years 1 to 9999: what the API carries)

# STRICT tables (SQLite 3.37): a value of another type is refused as it is written, and the
# CHECKs hold the rest, so a row can only be as the writer made it (a file edited by hand
# cannot hold a damaged one; nothing needs checking at start).
SCHEMA = f"""
CREATE TABLE IF NOT EXISTS history (
    ord INTEGER PRIMARY KEY,          -- the order the jobs ended in
    feid INTEGER NOT NULL UNIQUE,
    token TEXT NOT NULL,
    sda_id INTEGER NOT NULL,
    model_id INTEGER NOT NULL,
    priority INTEGER NOT NULL,
    device_count INTEGER NOT NULL,
    backend_group_id INTEGER NOT NULL,
    client_pid INTEGER NOT NULL,
    process_name TEXT NOT NULL,
    client TEXT NOT NULL,
    version TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ({_STATUSES})),
    request_time REAL NOT NULL CHECK (request_time {_TIME}),
    start_time REAL NOT NULL CHECK (start_time {_TIME}),
    end_time REAL NOT NULL CHECK (end_time {_TIME}),
    end_reason TEXT NOT NULL,
    -- JSON: [[backend id, device index], ...]
    placement TEXT NOT NULL CHECK (json_valid(placement) AND json_type(placement) = 'array'),
    message BLOB NOT NULL             -- the job's message but for its names and placement (Encoder)
) STRICT;
CREATE INDEX IF NOT EXISTS history_by_token ON history (token, ord);
CREATE INDEX IF NOT EXISTS history_by_end ON history (end_time);
CREATE INDEX IF NOT EXISTS history_by_status ON history (status);
CREATE TABLE IF NOT EXISTS events (
    id INTEGER PRIMARY KEY,
    time REAL NOT NULL CHECK (time {_TIME}),
    token TEXT NOT NULL,
    action TEXT NOT NULL,
    request TEXT NOT NULL,
    result TEXT NOT NULL,
    peer TEXT NOT NULL,
    refused INTEGER NOT NULL CHECK (refused IN (0, 1)),  -- 1: a refused attempt (a window, see Limits)
    message BLOB NOT NULL             -- the event's message (Encoder)
) STRICT;
CREATE INDEX IF NOT EXISTS events_by_token ON events (token, id);
CREATE INDEX IF NOT EXISTS events_by_action ON events (action, id);
CREATE INDEX IF NOT EXISTS events_refused ON events (refused, id);
"""

_JOB_COLUMNS = ("feid, token, sda_id, model_id, priority, device_count, backend_group_id, client_pid, "
                "process_name, client, version, status, request_time, start_time, end_time, end_reason, placement")
_EVENT_COLUMNS = "id, time, token, action, request, result, peer"


class Limits(NamedTuple):
    """How much the archive keeps (see the module's docstring)."""

    history: int = 200_000
    events: int = 100_000
    refused: int = 10_000
    refused_text: int = 8 * 1024 * 1024


DEFAULT_LIMITS = Limits()
PAGE_ROWS = 1000  # rows a listing reads at a time
R = TypeVar("R")


def is_refused(event: Event) -> bool:
    return event.result.startswith("FAILED")


class Encoder(Protocol):
    """Makes what the archive keeps of each record for its listings: their messages, once,
    as they are written (convert.MESSAGES: the API's), so a listing sends bytes."""

    def job(self, job: Job) -> bytes:
        """An ended job's message, but for what may change: the names it shows and its placement."""

    def event(self, event: Event) -> bytes:
        """An event's message."""


def _job_row(job: Job, encoder: Encoder) -> tuple[Any, ...]:
    return (job.feid, job.token, job.sda_id, job.model_id, job.priority, job.device_count, job.backend_group_id,
            job.client_pid, job.process_name, job.client, job.version, job.status.value, job.request_time,
            job.start_time, job.end_time, job.end_reason, json.dumps(job.placement, separators=(",", ":")),
            encoder.job(job))


_STATUS = {status.value: status for status in JobStatus}
_PLACEMENTS: dict[str, tuple[tuple[int, int], ...]] = {}  # a placement's text -> its pairs (they repeat)


def _placement(text: str) -> list[tuple[int, int]]:
    pairs = _PLACEMENTS.get(text)
    if pairs is None:
        if len(_PLACEMENTS) >= 65_536:
            _PLACEMENTS.clear()
        pairs = _PLACEMENTS[text] = tuple((b, i) for b, i in json.loads(text))
    return list(pairs)


def _job(row: Sequence[Any]) -> Job:
    """A job from its row (a listing makes 100,000 of these: a dict lookup, not an enum's call)."""
    (feid, token, sda_id, model_id, priority, device_count, backend_group_id, client_pid, process_name, client,
     version, status, request_time, start_time, end_time, end_reason, placement) = row
    return Job.record(feid, token, sda_id, model_id, priority, device_count, backend_group_id, client_pid,
                      process_name, client, version, _STATUS[status], request_time, start_time, end_time,
                      end_reason, _placement(placement))


def _listed(row: Sequence[Any]) -> Listed:
    return Listed(*row)


def _event_row(event: Event, encoder: Encoder) -> tuple[Any, ...]:
    return (event.id, event.time, event.token, event.action, event.request, event.result, event.peer,
            int(is_refused(event)), encoder.event(event))


class Writer:
    """Writes ended jobs and events into the tables of one connection and keeps `Limits`;
    the caller holds the transaction (the store's committer: the one its ops are in)."""

    def __init__(self, db: sqlite3.Connection, limits: Limits = DEFAULT_LIMITS, encoder: Encoder = MESSAGES) -> None:
        if sqlite3.sqlite_version_info < (3, 37):
            raise RuntimeError(f"the simulator needs SQLite 3.37 or newer (STRICT tables); this Python has "
                               f"{sqlite3.sqlite_version}")
        self.db = db
        self.limits = limits
        self.encoder = encoder
        db.executescript(SCHEMA)
        self.recount()

    def recount(self) -> None:
        """Count the events and the refused attempts the tables hold (the limits are kept
        by counting as they are written: after a rollback, or rows written twice)."""
        self._events = self.db.execute("SELECT COUNT(*) FROM events").fetchone()[0]
        self._refused, self._refused_text = self.db.execute(
            "SELECT COUNT(*), COALESCE(SUM(LENGTH(request) + LENGTH(result)), 0) FROM events WHERE refused = 1"
        ).fetchone()

    def write(self, jobs: Iterable[Job], events: Iterable[Event], again: bool = False) -> None:
        """Add `jobs` to the history and `events` to the log, then keep the limits; `again`:
        some may be there already (the same records), and are kept once."""
        db, limits = self.db, self.limits
        jobs, events = list(jobs), list(events)
        insert = "INSERT OR IGNORE" if again else "INSERT"
        if jobs:
            db.executemany(f"{insert} INTO history ({_JOB_COLUMNS}, message) VALUES ({','.join('?' * 18)})",
                           [_job_row(job, self.encoder) for job in jobs])
            db.execute("DELETE FROM history WHERE ord <= (SELECT MAX(ord) FROM history) - ?", (limits.history,))
        if not events:
            return
        db.executemany(f"{insert} INTO events ({_EVENT_COLUMNS}, refused, message) VALUES (?,?,?,?,?,?,?,?,?)",
                       [_event_row(event, self.encoder) for event in events])
        if again:
            self.recount()
        else:
            self._events += len(events)
            for event in events:
                if is_refused(event):
                    self._refused += 1
                    self._refused_text += len(event.request) + len(event.result)
        if self._events > limits.events:  # the oldest leave
            gone = db.execute("DELETE FROM events WHERE id IN (SELECT id FROM events ORDER BY id LIMIT ?) "
                              "RETURNING refused, LENGTH(request) + LENGTH(result)",
                              (self._events - limits.events,)).fetchall()
            self._forget(gone)
        if self._refused > 2 * limits.refused or self._refused_text > 2 * limits.refused_text:
            self._trim_refused()

    def _forget(self, gone: list[tuple[int, int]]) -> None:
        self._events -= len(gone)
        for refused, size in gone:
            if refused:
                self._refused -= 1
                self._refused_text -= size

    def _trim_refused(self) -> None:
        """Drop the oldest refused attempts until `limits.refused` and `limits.refused_text` hold."""
        count, size, limits = self._refused, self._refused_text, self.limits
        dropped = []
        for event_id, text in self.db.execute(
                "SELECT id, LENGTH(request) + LENGTH(result) FROM events WHERE refused = 1 ORDER BY id"):
            if count <= limits.refused and size <= limits.refused_text:
                break
            dropped.append((event_id,))
            count -= 1
            size -= text
        self.db.executemany("DELETE FROM events WHERE id = ?", dropped)
        self._events -= len(dropped)
        self._refused, self._refused_text = count, size


class Archive:
    """The history and the event log as the rules use them (journal.Records): written
    by `writer` at once (in memory), or, without one, staged for the store to take with
    the op that added them; read from `db`."""

    def __init__(self, db: sqlite3.Connection, writer: Writer | None = None) -> None:
        self.db = db
        self.writer = writer  # None: staged, for the store to take with its op
        self._jobs: list[Job] = []
        self._events: list[Event] = []

    # ---- written

    def add_job(self, job: Job) -> None:
        self.extend((job,), ())

    def add_event(self, event: Event) -> None:
        self.extend((), (event,))

    def extend(self, jobs: Iterable[Job], events: Iterable[Event]) -> None:
        """Add several at once (a scene a test or a benchmark sets)."""
        if self.writer is not None:
            self.writer.write(jobs, events)
        else:
            self._jobs.extend(jobs)
            self._events.extend(events)

    def take_staged(self) -> tuple[list[Job], list[Event]]:
        """What was added since the last take (the store's, with the op that added it)."""
        staged = self._jobs, self._events
        self._jobs, self._events = [], []
        return staged

    # ---- read

    def history(self, count: int = 0, token: str = "") -> list[Job]:
        """The ended jobs, oldest first: the newest `count` (0: all), of `token` if given."""
        return list(self.history_pages(count, token))

    def history_pages(self, count: int = 0, token: str = "") -> Iterator[Job]:
        """`history(count, token)` as it is now, read a page at a time as it is iterated."""
        return self._pages("history", "ord", _JOB_COLUMNS, {"token": token}, count, _job)

    def history_entries(self, count: int = 0, token: str = "") -> Iterator[Listed]:
        """`history_pages` as a listing sends them (later: page by page, other calls served
        in between): what was kept of each message when it was written, and its names."""
        return self._pages("history", "ord", "message, token, backend_group_id, placement", {"token": token},
                           count, _listed)

    def history_job(self, feid: int) -> Job | None:
        row = self.db.execute(f"SELECT {_JOB_COLUMNS} FROM history WHERE feid = ?", (feid,)).fetchone()
        return None if row is None else _job(row)

    def history_during(self, begin: float, end: float) -> list[Job]:
        """The ended jobs that held devices some time in [begin, end)."""
        rows = self.db.execute(f"SELECT {_JOB_COLUMNS} FROM history WHERE end_time > ? AND start_time > 0 "
                               "AND start_time < ? ORDER BY ord", (begin, end))
        return [_job(row) for row in rows]

    def history_count(self) -> int:
        return int(self.db.execute("SELECT COUNT(*) FROM history").fetchone()[0])

    def ended_by_status(self) -> dict[JobStatus, int]:
        return {JobStatus(status): n for status, n in
                self.db.execute("SELECT status, COUNT(*) FROM history GROUP BY status")}

    def events(self, token: str = "", action: str = "", count: int = 0) -> list[Event]:
        """The log, oldest first: the newest `count` (0: all), of `token` and `action` if given."""
        return list(self.event_pages(token, action, count))

    def event_pages(self, token: str = "", action: str = "", count: int = 0) -> Iterator[Event]:
        """`events(token, action, count)` as it is now, read a page at a time as it is iterated."""
        return self._pages("events", "id", _EVENT_COLUMNS, {"token": token, "action": action}, count,
                           lambda row: Event(*row))

    def event_messages(self, token: str = "", action: str = "", count: int = 0) -> Iterator[bytes]:
        """`event_pages` as a listing sends them: each event's message, as it was written."""
        return self._pages("events", "id", "message", {"token": token, "action": action}, count,
                           itemgetter(0))

    def _pages(self, table: str, order: str, columns: str, equal: dict[str, str], count: int,
               make: Callable[[Sequence[Any]], R]) -> Iterator[R]:
        """The newest `count` rows (0: all) of `table` whose columns are `equal` (an empty
        value: any), oldest first, by `order`: the bounds are read now, the rows as the
        result is iterated, PAGE_ROWS at a time.  A row added later is not in it; one
        dropped meanwhile (its table's oldest, beyond its limit) is left out."""
        names = [name for name, value in equal.items() if value]
        where = "".join(f" AND {name} = ?" for name in names)
        args = [equal[name] for name in names]
        (top,) = self.db.execute(f"SELECT MAX({order}) FROM {table} WHERE 1{where}", args).fetchone()
        if top is None:
            return iter(())
        low = -1
        if count > 0:
            row = self.db.execute(f"SELECT {order} FROM {table} WHERE 1{where} ORDER BY {order} DESC "
                                  "LIMIT 1 OFFSET ?", [*args, count - 1]).fetchone()
            low = -1 if row is None else row[0] - 1
        query = (f"SELECT {order}, {columns} FROM {table} WHERE {order} > ? AND {order} <= ?{where} "
                 f"ORDER BY {order} LIMIT {PAGE_ROWS}")

        def rows(after: int) -> Iterator[R]:
            while True:
                page = self.db.execute(query, [after, top, *args]).fetchall()
                for row in page:
                    yield make(row[1:])
                if len(page) < PAGE_ROWS:
                    return
                after = page[-1][0]

        return rows(low)

    def event_count(self) -> int:
        return int(self.db.execute("SELECT COUNT(*) FROM events").fetchone()[0])

    def last_event_id(self) -> int:
        return int(self.db.execute("SELECT COALESCE(MAX(id), 0) FROM events").fetchone()[0])


def in_memory(limits: Limits = DEFAULT_LIMITS, encoder: Encoder = MESSAGES) -> Archive:
    """An archive in an in-memory database of its own, each record written as it is added."""
    db = sqlite3.connect(":memory:", check_same_thread=False, isolation_level=None)
    return Archive(db, Writer(db, limits, encoder))
