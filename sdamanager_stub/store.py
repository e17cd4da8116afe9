"""Durable state: an SQLite file (WAL journal, synchronous commits).

The rules stay in memory; the file holds what is needed to rebuild them:

- `ops`: every acknowledged change, in the order it was applied: the
  operation's name, its arguments, the instant it happened and what it made
  up (a new token's value).  An op is numbered and queued by the operation
  that made it (so in applied order) and committed by the committer's
  thread, which never touches the rules: a caller hears of a change only once
  `sync` (or `when_durable`, for the event loop) says its row is committed,
  so a crash (even kill -9) never loses a change a caller was told succeeded.
  Concurrent callers share commits (group commit): each commit takes every op
  queued so far.
- `history` and `events` (archive.py): the ended jobs and the event log.  What
  an operation added to them is queued with its op (a refused attempt: its
  event alone) and committed in the same transaction, so the tables always go
  with the ops; they are read when listed, never held in memory, and never
  replayed.
- `snapshots` (and `snapshot_parts`, of files before schema 3): the live state
  as JSON at some op, so start-up replays only the ops after the newest
  snapshot.  A snapshot is taken at start-up and every SNAPSHOT_EVERY changes:
  frozen by the rules' owner at the op that made it due (snapshot.freeze,
  cheap), then converted and written by a background thread after the ops it
  covers are on disk; it counts once its `snapshots` row is committed, and
  then the ops and snapshots it covers are dropped.  Changes go on meanwhile.
- `meta`: `schema_version`; files of an older version are migrated in
  order by MIGRATIONS, files of a newer version are refused.

The store is the rules' journal (journal.Journal, the protocol the domain
owns): it saves what they record and turns SQLite's errors into
JournalError.  Replaying hands each saved change back to the rules
(`SDAManager.replay`: the same change with the same arguments at the same
instant), and the rules are deterministic given those (the scheduler's
transitions included), so the state comes back exactly.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import math
import os
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple, Protocol, TypeVar

from . import checks, snapshot
from .archive import DEFAULT_LIMITS, Archive, Limits, Writer
from .archive import SCHEMA as ARCHIVE_SCHEMA
from .audit import plural
from .entities import Event, Job
from .errors import DomainError
from .journal import JournalError, NotAChange

if TYPE_CHECKING:
    from .manager import SDAManager

log = logging.getLogger(__name__)

SCHEMA_VERSION = 3
SNAPSHOT_EVERY = 5000  # changes (a refused attempt is no op: it adds an event only)
BATCH_ROWS = 500  # ops per INSERT of a group commit (SQLite allows 32,766 values in one)
PART_CHARS = 1 << 20  # a snapshot's text is written in parts of this size, a transaction each
WAL_LIMIT = 4 * 1024 * 1024

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS snapshots (seq INTEGER PRIMARY KEY, time REAL NOT NULL, state TEXT NOT NULL);
-- the rest of a big snapshot's text: `state` is its first part, these the others in order
CREATE TABLE IF NOT EXISTS snapshot_parts (seq INTEGER NOT NULL, part INTEGER NOT NULL, data TEXT NOT NULL,
                                           PRIMARY KEY (seq, part));
CREATE TABLE IF NOT EXISTS ops (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    time REAL NOT NULL,
    kind TEXT NOT NULL,          -- 'change' (replayed) or 'refused' (event log only)
    action TEXT NOT NULL,        -- the rule method, e.g. create_token
    args TEXT NOT NULL,          -- JSON of its arguments
    made TEXT NOT NULL DEFAULT '',  -- what the change made up (a new token)
    token TEXT NOT NULL DEFAULT '',
    result TEXT NOT NULL DEFAULT '',
    peer TEXT NOT NULL DEFAULT ''
);
"""


def _archive_from_replay(db: sqlite3.Connection) -> None:
    """2 -> 3: the history and the event log move from the snapshot (and the refused ops)
    to tables of their own.  The ops of the file have no rows there yet: start-up
    archives what their replay adds (`archived_after`), and what the snapshot holds."""
    (last,) = db.execute("SELECT COALESCE(MAX(seq), 0) FROM ops").fetchone()
    db.execute("INSERT OR REPLACE INTO meta VALUES ('archived_after', ?)", (str(last),))


# version -> function upgrading a connection from that version to the next.
# 1 -> 2: snapshots may continue in snapshot_parts (SCHEMA makes the table; version 1
# files have none, so read the same); a simulator of version 1 refuses the new files
# rather than read a snapshot's first part as the whole.
MIGRATIONS: dict[int, Callable[[sqlite3.Connection], None]] = {1: lambda db: None, 2: _archive_from_replay}


class _Entry(NamedTuple):
    """What an operation queued for the next commit: its number, its op row (None for a
    refused attempt), and what it added to the history and the event log."""

    seq: int
    op: tuple[Any, ...] | None
    jobs: list[Job]
    events: list[Event]


class StoreObserver(Protocol):
    """Told of each group commit and each snapshot written (metrics.py's StoreMetrics)."""

    def committed(self, seconds: float, ops: int) -> None:
        """A group commit of `ops` ops ended after `seconds` (from the committer's thread)."""

    def snapshotted(self, seconds: float) -> None:
        """A snapshot was written in `seconds` (from the thread that wrote it)."""


class StateError(Exception):
    """The state file cannot be used (newer schema, corrupt, or does not replay)."""


def claim(path: Path) -> int:
    """Make `path` this process's state file, private: the open descriptor holding it.

    The directory is created 0700 (an existing one keeps its mode) and the
    file and SQLite's -wal and -shm beside it are 0600 whatever the umask
    (SQLite gives the ones it creates the file's mode): they hold every
    customer's token.  An exclusive lock, held while the descriptor is open,
    refuses a second simulator, which would split the file's history; the
    kernel drops it with the process, kill -9 included.
    """
    try:
        path.parent.mkdir(mode=0o700, parents=True)
        path.parent.chmod(0o700)  # mkdir's mode is masked by the umask
    except FileExistsError:
        pass
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        raise StateError("it is in use by another simulator") from None
    os.fchmod(fd, 0o600)
    for leftover in (f"{path}-wal", f"{path}-shm"):
        with contextlib.suppress(FileNotFoundError):
            os.chmod(leftover, 0o600)
    return fd


class Store:
    """The journal of one manager, in one SQLite file (a journal.Journal)."""

    def __init__(self, path: str | Path, limits: Limits = DEFAULT_LIMITS) -> None:
        self.path = Path(path)
        self.db = sqlite3.connect(str(self.path), check_same_thread=False, isolation_level=None)
        opened = os.stat(self.path)  # the file as opened (see _check_file)
        self._identity = (opened.st_dev, opened.st_ino)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=FULL")  # a commit is on disk when it returns
        # SQLite keeps a WAL file at the largest size it ever reached; cut it back after
        # each checkpoint, so one burst of writes does not hold the disk for good.
        self.db.execute(f"PRAGMA journal_size_limit={WAL_LIMIT}")
        self._since_snapshot = 0
        self._manager: SDAManager | None = None
        self._migrate()
        self._archiver = Writer(self.db, limits)  # the committer's, in its transactions
        # The rules' archive reads its own connection: what is committed, at any time.
        self._reader = sqlite3.connect(str(self.path), check_same_thread=False, isolation_level=None)
        self._reader.execute("PRAGMA query_only = 1")
        self.archive = Archive(self._reader)  # staged: `record` takes what each operation added
        # Ops appended and not yet committed (the committer's: see `_commit_forever`), and
        # the numbers of the last op appended and the last on disk.  `_changed` guards these
        # only, never held across a write; `_db_lock` is the connection's, one user at a time.
        self._changed = threading.Condition(threading.Lock())
        self._callbacks: list[tuple[int, Callable[[JournalError | None], None]]] = []  # `when_durable`'s
        self._committer: threading.Thread | None = None
        self._commits = 0  # commits ended, ever
        self._db_lock = threading.Lock()
        self._pending: list[_Entry] = []
        last_seq: int = self.db.execute(
            "SELECT MAX(COALESCE((SELECT MAX(seq) FROM ops), 0), COALESCE((SELECT MAX(seq) FROM snapshots), 0))"
        ).fetchone()[0]
        self._appended = self._durable = last_seq
        self._committing = False
        self._failed = ""
        self._writer: threading.Thread | None = None  # the snapshot being written, if any
        self._closing = False
        self.observer: StoreObserver | None = None  # the metrics, when served

    # ------------------------------------------------------------------ schema

    @contextlib.contextmanager
    def _transaction(self) -> Iterator[None]:
        """All or nothing (the connection is in autocommit mode, so `with db:` would not be)."""
        self.db.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            if self.db.in_transaction:  # (SQLite has rolled back itself on some errors: a full disk)
                self.db.execute("ROLLBACK")
            raise
        self.db.execute("COMMIT")

    def _migrate(self) -> None:
        self.db.executescript(SCHEMA + ARCHIVE_SCHEMA)
        with self._transaction():
            row = self.db.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
            version = _number(int, row[0], "schema_version") if row else SCHEMA_VERSION
            if version < 1:
                raise StateError(f"{self.path} has schema version {version}, which no simulator writes")
            if version > SCHEMA_VERSION:
                raise StateError(f"{self.path} has schema version {version}; this simulator reads up to "
                                 f"{SCHEMA_VERSION}. Use a newer simulator or another --state file.")
            while version < SCHEMA_VERSION:
                MIGRATIONS[version](self.db)
                version += 1
            self.db.execute("INSERT OR REPLACE INTO meta VALUES ('schema_version', ?)", (str(version),))

    # ------------------------------------------------------------------ loading

    def is_new(self) -> bool:
        """True while the file holds no state yet."""
        return self.db.execute("SELECT 1 FROM snapshots UNION ALL SELECT 1 FROM ops LIMIT 1").fetchone() is None

    def delays(self) -> tuple[float, float] | None:
        """The devices' (prepare, clean) seconds the file's jobs ran with, if it has any."""
        rows = dict(self.db.execute("SELECT key, value FROM meta WHERE key IN ('prepare_seconds', 'clean_seconds')"))
        if len(rows) < 2:
            return None
        return _delay(rows["prepare_seconds"], "prepare_seconds"), _delay(rows["clean_seconds"], "clean_seconds")

    def latest_instant(self) -> float:
        """The latest instant the file holds, a change's or a snapshot's (0.0 when none: a
        new file; a time that is not a number is left for `attach` to refuse)."""
        times = [when for (when,) in self.db.execute("SELECT MAX(time) FROM snapshots UNION ALL "
                                                      "SELECT MAX(time) FROM ops WHERE typeof(time) = 'real'")
                 if checks.is_time(when)]
        return max(times, default=0.0)

    def attach(self, manager: SDAManager) -> None:
        """Rebuild `manager` (fresh, with its defaults) from the file, then journal its changes.

        The delays are part of the state (replay must time transitions as they
        were): a file keeps the ones it was made with, and they win over the manager's.
        The manager's ended jobs and events go to the file's tables from now on.

        Replaying an op adds again what it added to the history and the event log;
        that is on disk already (committed with the op) and is dropped, except for the
        ops of a file of schema 2 (`archived_after`), whose history and events were
        in the snapshot and the replay: they are archived now, once.
        """
        manager.state.archive = self.archive
        saved = self.delays()
        if saved is None:
            with self._transaction():
                self.db.executemany("INSERT OR REPLACE INTO meta VALUES (?, ?)",
                                    [("prepare_seconds", repr(manager.prepare_seconds)),
                                     ("clean_seconds", repr(manager.clean_seconds))])
        else:
            manager.scheduler.prepare_seconds, manager.scheduler.clean_seconds = saved
        row = self.db.execute("SELECT seq, state FROM snapshots ORDER BY seq DESC LIMIT 1").fetchone()
        after = 0
        if row is not None:
            after = row[0]
            text = "".join([row[1], *(part for (part,) in self.db.execute(
                "SELECT data FROM snapshot_parts WHERE seq = ? ORDER BY part", (after,)))])
            try:
                legacy_jobs, legacy_events = snapshot.restore(manager, _json(text, snapshot.parse))
            except (ValueError, TypeError, KeyError, AttributeError) as err:
                raise StateError(f"the snapshot at op {after} is damaged ({_what(err)})") from None
            self.archive_records(legacy_jobs, legacy_events)
        archived = self.db.execute("SELECT value FROM meta WHERE key = 'archived_after'").fetchone()
        archived_after = _number(int, archived[0], "archived_after") if archived else 0
        ops = self.db.execute(
            "SELECT seq, time, kind, action, args, made, token, result, peer FROM ops WHERE seq > ? ORDER BY seq",
            (after,),
        ).fetchall()
        for row in ops:
            _check_op(row)
            seq, when, kind, action, args, made, token, result, peer = row
            if kind == "refused":  # (schema 2: now an event only)
                manager.restore_event(when, token, action.upper(), args, result, peer)
                self.archive_records(*self.archive.take_staged())
                continue
            try:
                manager.replay(action, _json(args), at=when, made=made, peer=peer)
                added = self.archive.take_staged()
                if seq <= archived_after:
                    self.archive_records(*added)
            except NotAChange:
                raise StateError(f"op {seq}: unknown change {action!r}") from None
            except DomainError as err:
                raise StateError(f"op {seq} ({action}) no longer replays: {err}") from err
            except (ValueError, TypeError, KeyError, AttributeError, IndexError) as err:
                # the rules trust their journal: arguments that are not the change's fail anywhere inside it
                raise StateError(f"op {seq} ({action}) has damaged arguments ({_what(err)})") from None
        # Refused attempts took event numbers and are not replayed: the next is past them all.
        manager.state.next["event"] = max(manager.state.next["event"], self.archive.last_event_id() + 1)
        self._manager = manager
        manager.journal = self
        self._drop_stray_parts()  # of a snapshot a crash interrupted
        # The start-up snapshot takes a number of its own, never one whose snapshot it would
        # overwrite in place (a crash half-way would leave neither; one of another length
        # would join the old one's parts).  Nothing is pending: it is durable at once.
        with self._changed:
            self._appended += 1
            self._durable = self._appended
        # Nobody is waiting yet: this one is written before start-up goes on.
        self._write_snapshot(snapshot.freeze(manager), self._appended, manager.clock())
        self._since_snapshot = 0

    def archive_records(self, jobs: list[Job], events: list[Event]) -> None:
        """Write ended jobs and events straight into the tables: what a file of schema 2
        held or replays (start-up; one that crashed after it, before its snapshot, writes
        the same again: kept once), or a scene a test or a benchmark set by hand."""
        if jobs or events:
            with self._db_lock, self._transaction():
                self._archiver.write(jobs, events, again=True)

    # ------------------------------------------------------------------ writing

    def record_change(self, when: float, action: str, arguments: str, made: str, peer: str) -> int:
        with _as_journal_error():
            return self.record(when, "change", action, arguments, made=made, peer=peer)

    def record_refusal(self, when: float, action: str, arguments: str, token: str, result: str,
                       peer: str) -> int:
        with _as_journal_error():
            return self.record(when, "refused", action, arguments, token=token, result=result, peer=peer)

    def record(self, when: float, kind: str, action: str, args: str, made: str = "",
               token: str = "", result: str = "", peer: str = "") -> int:
        """Append one op (its number: its place in the journal) to what the next commit saves.

        Called under the manager's lock, so ops are numbered in the order they
        were applied; `sync(number)` returns once it is on disk.  A snapshot
        due now is taken here, at this op: the state then is exactly the ops up to it.
        """
        jobs, events = self.archive.take_staged()
        with self._changed:
            self._appended += 1
            seq = self._appended
            op = (seq, when, kind, action, args, made, token, result, peer) if kind == "change" else None
            self._pending.append(_Entry(seq, op, jobs, events))
        if kind != "change":  # only its event: nothing to replay, nothing for a snapshot
            return seq
        self._since_snapshot += 1
        # (A change made of others journals once, when the outermost one is done: the state
        # is whole here.)
        if self._since_snapshot >= SNAPSHOT_EVERY and self._writer is None and self._manager is not None:
            try:
                self.snapshot()
            except Exception:  # only shortens replay: the op is saved, so go on
                log.exception("could not freeze the state for a snapshot (will retry)")
        return seq

    def sync(self, seq: int) -> None:
        """Return once op `seq` and every op before it are on disk (JournalError if they cannot be)."""
        with self._changed:
            self._wake_committer()
            while self._durable < seq and not self._failed:
                self._changed.wait()
            if self._durable < seq:
                raise JournalError(self._failed)

    def when_durable(self, seq: int, callback: Callable[[JournalError | None], None]) -> None:
        """Call `callback(None)` once op `seq` is on disk, or `callback(JournalError)` if it
        cannot be; from the committer's thread, or at once from this one if already decided.
        For callers that must not block (the event loop): `sync` without the wait."""
        with self._changed:
            if self._durable < seq and not self._failed:
                self._callbacks.append((seq, callback))
                self._wake_committer()
                return
            error = None if self._durable >= seq else JournalError(self._failed)
        callback(error)

    def _wake_committer(self) -> None:
        """(Under `_changed`.) Start the committer once; it commits whatever is pending."""
        if self._committer is None:
            self._committer = threading.Thread(target=self._commit_forever, name="state-committer", daemon=True)
            self._committer.start()
        self._changed.notify_all()

    def _commit_forever(self) -> None:
        """The committer: every op appended so far in one transaction and one fsync, for all
        the callers waiting (group commit), again and again; it never holds the rules' lock,
        so changes go on being applied while the disk works."""
        while True:
            with self._changed:
                while not self._pending and not self._closing:
                    self._changed.wait()
                if not self._pending:
                    return
                batch, self._pending = self._pending, []
                self._committing = True
            error = ""
            began = time.perf_counter()
            try:
                with self._db_lock:
                    self._check_file()
                    self._commit(batch)
            except (sqlite3.Error, JournalError) as err:
                error = str(err)
            except Exception as err:  # a bug: nothing after this can be acknowledged either
                log.exception("could not commit the state's ops")
                error = f"{type(err).__name__}: {err}"
            if error and all(entry.op is None for entry in batch):
                # Refused attempts only: their events are lost (nothing in memory holds them
                # or depends on them), and changes go on.
                log.error("could not save %s to the state file: %s", plural(len(batch), "refused attempt"), error)
                error = ""
            with self._changed:
                self._committing = False
                self._commits += 1
                if error:
                    self._failed = error  # memory holds ops the file lacks: none is acknowledged
                else:
                    self._durable = batch[-1].seq
                done = [(seq, cb) for seq, cb in self._callbacks if seq <= self._durable or self._failed]
                if done:
                    self._callbacks = [(seq, cb) for seq, cb in self._callbacks
                                       if seq > self._durable and not self._failed]
                self._changed.notify_all()
            for _, callback in done:
                callback(JournalError(self._failed) if self._failed else None)
            if self._failed:
                return
            observer = self.observer
            if observer is not None:
                observer.committed(time.perf_counter() - began, len(batch))

    def _check_file(self) -> None:
        """JournalError unless the path still names the file this store opened: one removed
        or replaced under a running server would take the changes acknowledged after it
        nowhere (and a second server could start on the path)."""
        try:
            now = os.stat(self.path)
            same = (now.st_dev, now.st_ino) == self._identity
        except OSError:
            same = False
        if not same:
            raise JournalError(f"the state file {self.path} was removed or replaced while the simulator ran")

    def _commit(self, batch: list[_Entry]) -> None:
        """The batch's ops and what they archived, in one transaction: all or none, one fsync.
        Ops go in statements of BATCH_ROWS rows (each call into SQLite gives up the
        interpreter and waits to get it back, which under load costs more than the write)."""
        ops = [entry.op for entry in batch if entry.op is not None]
        try:
            with self._transaction():
                for start in range(0, len(ops), BATCH_ROWS):
                    rows = ops[start:start + BATCH_ROWS]
                    values = ",".join(["(?,?,?,?,?,?,?,?,?)"] * len(rows))
                    self.db.execute("INSERT INTO ops (seq, time, kind, action, args, made, token, result, peer) "
                                    f"VALUES {values}", [field for row in rows for field in row])
                self._archiver.write([job for entry in batch for job in entry.jobs],
                                     [event for entry in batch for event in entry.events])
        except BaseException:
            self._archiver.recount()  # its counts went with the rows rolled back
            raise

    def snapshot(self) -> None:
        """Take a snapshot at the op appended last, and write it in the background.

        Called by the rules' owner from inside the operation that made it due
        (`record`): the frozen view is exactly the ops up to that one, whatever
        changes come after.  Converting and writing it, the long part, happen on
        the writer's thread, which never touches the rules' state.
        """
        frozen, at, when = self._freeze()
        self._writer = threading.Thread(target=self._write_in_background, args=(frozen, at, when),
                                        name="snapshot-writer", daemon=True)
        self._writer.start()

    def _freeze(self) -> tuple[dict[str, Any], int, float]:
        """(the state, the op it is at, the time) now; by the rules' owner, between operations."""
        assert self._manager is not None
        self._since_snapshot = 0
        return snapshot.freeze(self._manager), self._appended, self._manager.clock()

    def _write_in_background(self, frozen: dict[str, Any], at: int, when: float) -> None:
        """Write one snapshot; the next one falls due in `record` (on the owner's thread) if
        enough changes came meanwhile."""
        try:
            self._write_snapshot(frozen, at, when)
        except (sqlite3.Error, JournalError) as err:  # only shortens replay: the ops are saved
            log.warning("could not write a snapshot of the state (will retry): %s", err)
        except Exception:  # a bug: the ops are saved, the server goes on
            log.exception("could not write a snapshot of the state")
        finally:
            self._writer = None

    def _write_snapshot(self, frozen: dict[str, Any], at: int, when: float) -> None:
        """Write a frozen view as the snapshot at op `at`, then drop the ops and snapshots it covers.

        A big one goes in parts, each in a short transaction of its own, so the
        commits of changes slip in between; the snapshot counts only once its
        row is committed (after its ops and its parts), so a crash part-way
        leaves the previous snapshot and the ops after it, and start-up drops
        the stray parts.
        """
        began = time.perf_counter()
        parts = self._parts(snapshot.serialise(frozen))
        first = next(parts)
        for number, part in enumerate(parts, start=1):
            self._after_commits()
            with self._db_lock, self._unsynced(), self._transaction():
                self.db.execute("INSERT OR REPLACE INTO snapshot_parts VALUES (?, ?, ?)", (at, number, part))
        del frozen
        self.sync(at)  # the ops it covers first: ops are never dropped before they are saved
        with self._db_lock, self._transaction():
            self.db.execute("INSERT OR REPLACE INTO snapshots VALUES (?, ?, ?)", (at, when, first))
            self.db.execute("DELETE FROM snapshots WHERE seq < ?", (at,))
            self.db.execute("DELETE FROM ops WHERE seq <= ?", (at,))
        self._drop_stray_parts()
        observer = self.observer
        if observer is not None:
            observer.snapshotted(time.perf_counter() - began)

    def _after_commits(self) -> None:
        """Let a commit of changes under way have the connection first: the snapshot's writer
        takes it again and again, a transaction per part, and the lock is not fair (a commit
        waited behind a whole run of parts: 390 ms at the caps).  Only the commit under way:
        under steady changes the committer is never idle, and waiting for that would stop
        the snapshot."""
        with self._changed:
            commits = self._commits
            while self._committing and self._commits == commits and not self._failed:
                self._changed.wait()

    @contextlib.contextmanager
    def _unsynced(self) -> Iterator[None]:
        """A transaction whose commit need not wait for the disk (a snapshot's part, a stray
        part dropped): nothing counts on it until a later commit, whose fsync of the
        write-ahead log takes everything written before it along."""
        self.db.execute("PRAGMA synchronous=NORMAL")
        try:
            yield
        finally:
            self.db.execute("PRAGMA synchronous=FULL")

    @staticmethod
    def _parts(pieces: Iterator[str]) -> Iterator[str]:
        """Pieces of text gathered into parts of about PART_CHARS (at least one part).

        After each piece the writer lets the interpreter go (`time.sleep(0)` releases
        it): a change on the owner's thread then waits for one piece at most, not for
        the interpreter's switch interval (5 ms) at each of the hand-overs a change
        makes (the longest wait of a change through a snapshot at the caps: 42 ms
        without, 19 ms with)."""
        part: list[str] = []
        size = 0
        for piece in pieces:
            time.sleep(0)
            part.append(piece)
            size += len(piece)
            if size >= PART_CHARS:
                yield "".join(part)
                part, size = [], 0
        yield "".join(part)

    def _drop_stray_parts(self) -> None:
        """Drop the parts of snapshots that are gone (or never finished), a part per transaction."""
        while True:
            self._after_commits()
            with self._db_lock:
                row = self.db.execute("SELECT seq, part FROM snapshot_parts WHERE seq NOT IN "
                                      "(SELECT seq FROM snapshots) LIMIT 1").fetchone()
                if row is None:
                    return
                with self._unsynced(), self._transaction():
                    self.db.execute("DELETE FROM snapshot_parts WHERE seq = ? AND part = ?", row)

    def settle(self) -> None:
        """Wait until every op appended is on disk and no snapshot is being written."""
        writer = self._writer
        if writer is not None:
            writer.join()
        self.sync(self._appended)

    def close(self) -> None:
        try:
            self.settle()
        except (JournalError, sqlite3.Error):
            pass  # already said to the callers of the ops it could not save
        with self._changed:
            self._closing = True
            self._changed.notify_all()
        if self._committer is not None:
            self._committer.join()
        # The archive's reader stays open (the manager may still list what the file holds),
        # so closing this connection is not the last close that would fold the write-ahead
        # log into the file: folded here (a copy of the file alone then holds everything).
        with contextlib.suppress(sqlite3.Error):
            self.db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        self.db.close()


Number = TypeVar("Number", int, float)


def _number(kind: type[Number], text: str, key: str) -> Number:
    try:
        return kind(text)
    except ValueError:
        raise StateError(f"its {key} is {text!r}, not a number") from None


def _delay(text: str, key: str) -> float:
    """A device delay kept in the file: a finite number of seconds, 0 or more (NaN
    would never come due, and jobs would wait for ever)."""
    seconds = _number(float, text, key)
    if not 0 <= seconds < math.inf:
        raise StateError(f"its {key} is {text!r}, not a number of seconds (0 or more)")
    return seconds


def _json(text: str, load: Callable[[str], Any] = json.loads) -> Any:
    """JSON from the file (read by `load`); nesting deeper than Python's parser goes is
    damage, not a crash."""
    try:
        return load(text)
    except RecursionError:
        raise ValueError("nested too deeply") from None


_OP_TEXTS = ("action", "args", "made", "token", "result", "peer")


def _check_op(row: tuple[Any, ...]) -> None:
    """An op row as the store wrote it: a time within years 1 to 9999, a known kind, text
    elsewhere (SQLite keeps whatever type a value came in with)."""
    seq, when, kind = row[:3]
    if not checks.is_time(when):
        raise StateError(f"op {seq}: its time is {checks.short(when)}, not a time from year 1 to 9999")
    if kind not in ("change", "refused"):
        raise StateError(f"op {seq}: its kind is {checks.short(kind)}, not change or refused")
    for name, value in zip(_OP_TEXTS, row[3:]):
        if type(value) is not str:
            raise StateError(f"op {seq}: its {name} is {checks.short(value)}, not text")


def _what(err: Exception) -> str:
    """A damaged record's problem in words (a KeyError's own text is just the key)."""
    if isinstance(err, KeyError):
        return f"{err.args[0]!r} is missing"
    if isinstance(err, json.JSONDecodeError):
        return f"not JSON: {err}"
    return f"{type(err).__name__}: {err}" if isinstance(err, (TypeError, AttributeError)) else str(err)


@contextlib.contextmanager
def _as_journal_error() -> Iterator[None]:
    """SQLite's errors as the rules' JournalError, with SQLite's reason."""
    try:
        yield
    except sqlite3.Error as err:
        raise JournalError(str(err)) from err
