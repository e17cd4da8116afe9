"""Durable state: an SQLite file (WAL journal, synchronous commits).

The rules stay in memory; the file holds what is needed to rebuild them:

- `ops`: every acknowledged change, in the order it was applied: the
  operation's name, its arguments, the instant it happened and what it made
  up (a new token's value).  Refused attempts are kept too, for the event log
  only.  An op is numbered and queued under the manager's lock (so in applied
  order), and committed by `sync`, which the rules call once the operation has
  let go of the lock and before its caller hears: a change is acknowledged
  only after its row is committed, so a crash (even kill -9) never loses a
  change a caller was told succeeded.  Concurrent callers share commits (group
  commit): whoever finds no commit under way commits every op queued so far.
- `snapshots` (and `snapshot_parts`): the whole state as JSON at some op, so
  start-up replays only the ops after the newest snapshot.  A snapshot is
  taken at start-up and every SNAPSHOT_EVERY changes: frozen under the lock
  at the op that made it due (snapshot.freeze, cheap), then converted and
  written by a background thread in parts, after the ops it covers are on
  disk; it counts once its `snapshots` row is committed, and then the ops
  and snapshots it covers are dropped.  Changes go on meanwhile.
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
import gc
import json
import logging
import math
import os
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from . import snapshot
from .errors import DomainError
from .journal import JournalError, NotAChange

if TYPE_CHECKING:
    from .manager import SDAManager

log = logging.getLogger(__name__)

SCHEMA_VERSION = 2
SNAPSHOT_EVERY = 5000
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

# version -> function upgrading a connection from that version to the next.
# 1 -> 2: snapshots may continue in snapshot_parts (SCHEMA makes the table; version 1
# files have none, so read the same); a simulator of version 1 refuses the new files
# rather than read a snapshot's first part as the whole.
MIGRATIONS: dict[int, Callable[[sqlite3.Connection], None]] = {1: lambda db: None}


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

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.db = sqlite3.connect(str(self.path), check_same_thread=False, isolation_level=None)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=FULL")  # a commit is on disk when it returns
        # SQLite keeps a WAL file at the largest size it ever reached; cut it back after
        # each checkpoint, so one burst of writes does not hold the disk for good.
        self.db.execute(f"PRAGMA journal_size_limit={WAL_LIMIT}")
        self._since_snapshot = 0
        self._manager: SDAManager | None = None
        self._migrate()
        # Ops appended and not yet committed (group commit: see `sync`), and the numbers
        # of the last op appended and the last on disk.  The lock guards these only,
        # never held across a write; `_db_lock` is the connection's, one user at a time.
        self._pending_lock = threading.Lock()
        self._waiters: list[tuple[int, threading.Lock]] = []  # (op, its bell) of callers waiting
        self._db_lock = threading.Lock()
        self._pending: list[tuple[Any, ...]] = []
        self._appended = self._durable = self.db.execute(
            "SELECT MAX(COALESCE((SELECT MAX(seq) FROM ops), 0), COALESCE((SELECT MAX(seq) FROM snapshots), 0))"
        ).fetchone()[0]
        self._committing = False
        self._failed = ""
        self._writer: threading.Thread | None = None  # the snapshot being written, if any
        self._collector_was_on = True  # the garbage collector's state before the writer paused it
        self._texts = snapshot.TextCache()  # settled records' text, from one snapshot to the next
        self._closing = False

    # ------------------------------------------------------------------ schema

    @contextlib.contextmanager
    def _transaction(self) -> Iterator[None]:
        """All or nothing (the connection is in autocommit mode, so `with db:` would not be)."""
        self.db.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            self.db.execute("ROLLBACK")
            raise
        self.db.execute("COMMIT")

    def _migrate(self) -> None:
        self.db.executescript(SCHEMA)
        with self._transaction():
            row = self.db.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
            version = _number(int, row[0], "schema_version") if row else SCHEMA_VERSION
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

    def attach(self, manager: SDAManager) -> None:
        """Rebuild `manager` (fresh, with its defaults) from the file, then journal its changes.

        The delays are part of the state (replay must time transitions as they
        were): a file keeps the ones it was made with, and they win over the manager's.
        """
        saved = self.delays()
        if saved is None:
            with self._transaction():
                self.db.executemany("INSERT OR REPLACE INTO meta VALUES (?, ?)",
                                    [("prepare_seconds", repr(manager.prepare_seconds)),
                                     ("clean_seconds", repr(manager.clean_seconds))])
        else:
            manager.prepare_seconds, manager.clean_seconds = saved
        row = self.db.execute("SELECT seq, state FROM snapshots ORDER BY seq DESC LIMIT 1").fetchone()
        after = 0
        if row is not None:
            after = row[0]
            parts = [row[1], *(part for (part,) in self.db.execute(
                "SELECT data FROM snapshot_parts WHERE seq = ? ORDER BY part", (after,)))]
            try:
                snapshot.restore(manager, json.loads("".join(parts)))
            except (ValueError, TypeError, KeyError, AttributeError) as err:
                raise StateError(f"the snapshot at op {after} is damaged ({_what(err)})") from None
        ops = self.db.execute(
            "SELECT seq, time, kind, action, args, made, token, result, peer FROM ops WHERE seq > ? ORDER BY seq",
            (after,),
        ).fetchall()
        for seq, when, kind, action, args, made, token, result, peer in ops:
            if kind == "refused":
                manager.restore_event(when, token, action.upper(), args, result, peer)
                continue
            try:
                manager.replay(action, json.loads(args), at=when, made=made, peer=peer)
            except NotAChange:
                raise StateError(f"op {seq}: unknown change {action!r}") from None
            except DomainError as err:
                raise StateError(f"op {seq} ({action}) no longer replays: {err}") from err
            except (ValueError, TypeError, KeyError, AttributeError) as err:
                # the rules trust their journal: arguments that are not the change's fail anywhere inside it
                raise StateError(f"op {seq} ({action}) has damaged arguments ({_what(err)})") from None
        self._manager = manager
        manager.journal = self
        self._drop_stray_parts()  # of a snapshot a crash interrupted
        # Nobody is waiting yet: this one is written before start-up goes on.
        self._write_snapshot(snapshot.freeze(manager), self._appended, manager.clock())
        self._since_snapshot = 0

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
        with self._pending_lock:
            self._appended += 1
            seq = self._appended
            self._pending.append((seq, when, kind, action, args, made, token, result, peer))
        if kind == "change":
            self._since_snapshot += 1
            # Not half-way through a change made of others (their ops come first).
            if (self._since_snapshot >= SNAPSHOT_EVERY and self._writer is None
                    and self._manager is not None and self._manager.changing <= 1):
                try:
                    self.snapshot()
                except sqlite3.Error as err:  # only shortens replay: the op is saved, so go on
                    log.warning("could not write a snapshot of the state (will retry): %s", err)
        return seq

    def sync(self, seq: int) -> None:
        """Return once op `seq` and every op before it are on disk (JournalError if they cannot be).

        Group commit: whoever finds no commit under way commits every op appended
        so far, in one transaction and one fsync, for all the callers waiting;
        the others wait for it.  Callers do this after letting go of the manager's
        lock, so changes go on being applied while the disk works.
        """
        with self._pending_lock:
            while True:
                if self._durable >= seq:
                    return
                if self._failed:
                    raise JournalError(self._failed)
                if not self._committing:
                    break
                self._wait_for_commit(seq)
            batch, self._pending = self._pending, []
            self._committing = True
        try:
            with self._db_lock:
                for start in range(0, len(batch), BATCH_ROWS):
                    self._insert_ops(batch[start:start + BATCH_ROWS])
        except sqlite3.Error as err:
            with self._pending_lock:
                self._failed = str(err)  # memory holds ops the file lacks: none is acknowledged
                self._committed()
            raise JournalError(str(err)) from err
        except BaseException:
            with self._pending_lock:
                self._pending[:0] = batch  # not written: the next leader's
                self._committed()
            raise
        with self._pending_lock:
            if batch:
                self._durable = batch[-1][0]
            self._committed()

    def _wait_for_commit(self, seq: int) -> None:
        """Sleep (the pending lock let go meanwhile) until a commit wakes this caller: its op is
        on disk, or the file failed, or it is to lead the next commit."""
        bell = threading.Lock()
        bell.acquire()
        self._waiters.append((seq, bell))
        self._pending_lock.release()
        try:
            bell.acquire()
        finally:
            self._pending_lock.acquire()

    def _committed(self) -> None:
        """A commit ended (under the pending lock): wake exactly the callers it concerns, those
        now on disk (all, if the file failed), and one of the others to lead the next commit.
        Waking every caller at each commit would cost each its turn at the interpreter lock,
        taken from the caller applying changes under the manager's lock."""
        self._committing = False
        waiting, self._waiters = self._waiters, []
        for seq, bell in waiting:
            if seq <= self._durable or self._failed:
                bell.release()
            else:
                self._waiters.append((seq, bell))
        if self._waiters:
            self._waiters.pop(0)[1].release()

    def _insert_ops(self, rows: list[tuple[Any, ...]]) -> None:
        """One statement, so its own transaction (autocommit): all the rows or none, one fsync,
        and one call into SQLite (each call gives up the interpreter and waits to get it back,
        which under load costs more than the write)."""
        values = ",".join(["(?,?,?,?,?,?,?,?,?)"] * len(rows))
        self.db.execute(f"INSERT INTO ops (seq, time, kind, action, args, made, token, result, peer) VALUES {values}",
                        [field for row in rows for field in row])

    def snapshot(self) -> None:
        """Take a snapshot at the op appended last, and write it in the background.

        The state is frozen under the manager's lock (the caller holds it): the
        view is exactly the ops up to that one, whatever changes come after.
        Converting and writing it, the long part, hold no lock callers wait on.
        """
        assert self._manager is not None
        with self._manager.lock:
            # The freeze makes tens of thousands of containers, which would set off a
            # full collection of the garbage collector inside it (the lock held 140 ms
            # instead of 40 at the caps); and while the frozen view lives, a full
            # collection walks all of it, every thread stopped.  So the collector waits
            # for the writer to let go of the view (`_write_in_background` restarts it).
            self._collector_was_on = gc.isenabled()
            gc.disable()
            view = self._freeze()
            self._writer = threading.Thread(target=self._write_in_background, args=view,
                                            name="snapshot-writer", daemon=True)
        self._writer.start()

    def _freeze(self) -> tuple[dict[str, Any], int, float]:
        """(the state, the op it is at, the time) now; under the manager's lock, between operations."""
        assert self._manager is not None
        self._since_snapshot = 0
        return snapshot.freeze(self._manager), self._appended, self._manager.clock()

    def _write_in_background(self, frozen: dict[str, Any], at: int, when: float) -> None:
        """Write snapshots until none is due (one fell due while this one was being written)."""
        assert self._manager is not None
        while True:
            try:
                self._write_snapshot(frozen, at, when)
            except (sqlite3.Error, JournalError) as err:  # only shortens replay: the ops are saved
                log.warning("could not write a snapshot of the state (will retry): %s", err)
            except Exception:  # a bug: the ops are saved, the server goes on
                log.exception("could not write a snapshot of the state")
            del frozen
            # Another one may be due (steady writes at a big state): the collector stays
            # paused until the writer stops.  That costs no memory: serving makes no
            # cyclic garbage (test_serving_makes_no_cyclic_garbage), and everything else
            # is freed by reference counting as it goes.
            with self._manager.lock:  # no operation is under way: the state is whole
                if self._since_snapshot >= SNAPSHOT_EVERY and not self._failed and not self._closing:
                    try:
                        frozen, at, when = self._freeze()
                        continue
                    except Exception:  # a bug: the ops are saved, the server goes on
                        log.exception("could not freeze the state for a snapshot")
                # Done (or given up): the next snapshot may start, the collector as it was.
                self._writer = None
                if self._collector_was_on:
                    gc.enable()
                return

    def _write_snapshot(self, frozen: dict[str, Any], at: int, when: float) -> None:
        """Write a frozen view as the snapshot at op `at`, then drop the ops and snapshots it covers.

        A big one goes in parts, each in a short transaction of its own, so the
        commits of changes slip in between; the snapshot counts only once its
        row is committed (after its ops and its parts), so a crash part-way
        leaves the previous snapshot and the ops after it, and start-up drops
        the stray parts.
        """
        parts = self._parts(snapshot.serialise(frozen, self._texts))
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

    def _after_commits(self) -> None:
        """Let a commit of changes that wants the connection have it first: the snapshot's
        writer takes it again and again, a transaction per part, and the lock is not fair
        (a commit waited behind a whole run of parts dropped: 390 ms at the caps)."""
        while self._committing and not self._failed:
            time.sleep(0.001)

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
        """Pieces of text gathered into parts of about PART_CHARS (at least one part)."""
        part: list[str] = []
        size = 0
        for piece in pieces:
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
        self._closing = True
        try:
            self.settle()
        except (JournalError, sqlite3.Error):
            pass  # already said to the callers of the ops it could not save
        self.db.close()


def _number(kind: type[int] | type[float], text: str, key: str) -> float:
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
