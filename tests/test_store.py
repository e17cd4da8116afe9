"""The state file: everything acknowledged comes back, exactly; schema versions."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys

import pytest
from helpers import FakeClock, strength

from sdamanager_stub import snapshot, store
from sdamanager_stub.archive import DEFAULT_LIMITS, Limits
from sdamanager_stub.entities import AccessLevel, BackendStatus, DeviceStatus
from sdamanager_stub.errors import FailedPrecondition, Internal, NotFound
from sdamanager_stub.manager import SDAManager, new_manager
from sdamanager_stub.store import StateError, Store


def fresh(clock: FakeClock) -> SDAManager:
    return new_manager(backends=3, devices=4, clock=clock, prepare_seconds=2, clean_seconds=3)


def open_manager(path, clock: FakeClock, limits: Limits = DEFAULT_LIMITS) -> SDAManager:
    m = fresh(clock)
    Store(path, limits).attach(m)
    return m


def busy_day(m: SDAManager, clock: FakeClock) -> None:
    """A bit of every kind of change, refusals included, with time passing."""
    a = m.create_token("alpha customer", 3).value
    b = m.create_token("beta", -2).value
    m.update_token_access_level(a, AccessLevel.ADMIN)
    m.add_token_env(a, "MOREH_X", "1")
    m.update_token_max_sda(a, 2)
    m.create_sda(a, "first", 1)
    m.create_sda(a, "reserved", 2, reserved=True)
    m.create_sda(b, "b", 3)
    with pytest.raises(FailedPrecondition):
        m.delete_token(a)
    bg = m.create_backendgroup("bg1", [3])
    mg = m.create_sdamodelgroup("mg1", bg.id, [1, 3])
    ug = m.create_usergroup("ug1", "desc", [b])
    m.add_membership(ug.id, mg.id)
    m.create_version("23.9.2", "/opt/moreh")
    m.update_version_worker("23.9.2", "python worker.py")
    clock.now += 5
    j1 = m.request_devices(a, 11, "python a.py", "client", "23.9.2", sda_id=1)
    clock.now += 1
    m.request_devices(b, 12, "python b.py")
    m.update_token_duplicable(b, 0)
    clock.now += 1
    j3 = m.request_devices(a, 13, "python a2.py", sda_id=2)  # on the reserved SDA's devices
    m.update_backend_status(2, BackendStatus.SHUTDOWN)
    m.update_device_status(1, 3, DeviceStatus.SHUTDOWN)
    clock.now += 2.5
    m.finish_job(j1.feid)
    clock.now += 1
    m.release(feid=j3.feid)
    clock.now += 0.5
    # Leave something of each kind in flight: devices cleaning, a job preparing, a job waiting.
    clock.now += 2.5
    c = m.create_token("gamma", 0).value
    m.create_sda(c, "", 1)
    m.request_devices(c, 14, "python c.py")  # SUMMITED: its devices are preparing
    d = m.create_token("delta", 0).value
    m.create_sda(d, "", 4)
    m.request_devices(d, 15, "python d.py")  # 8 devices: QUEUED
    m.finish_job(2)  # beta's job: its devices are cleaning
    clock.now += 0.5


def state(m: SDAManager) -> dict:
    """The live state (what a snapshot holds), the history and the event log."""
    m.advance()
    return {**snapshot.capture(m), "history": m.history, "events": m.events}


def test_every_acknowledged_change_comes_back_exactly(tmp_path):
    clock = FakeClock()
    path = tmp_path / "state.db"
    m = open_manager(path, clock)
    busy_day(m, clock)
    before = state(m)
    assert before["clean_until"] and before["ready_at"] and before["queued_in"]  # all in flight
    m.journal.close()

    again = open_manager(path, clock)
    assert state(again) == before
    # and time goes on the same way in both
    clock.now += 10
    m2 = open_manager(path, clock)
    assert state(m2) == state(again)


def test_refused_attempts_stay_in_the_event_log(tmp_path):
    clock = FakeClock()
    m = open_manager(tmp_path / "s.db", clock)
    with pytest.raises(FailedPrecondition):
        m.delete_backendgroup(0)
    assert m.events[-1].result.startswith("FAILED:")
    m.journal.close()
    again = open_manager(tmp_path / "s.db", clock)
    assert [(e.action, e.result) for e in again.events] == [(e.action, e.result) for e in m.events]


def test_snapshots_bound_the_replay(tmp_path, monkeypatch):
    monkeypatch.setattr(store, "SNAPSHOT_EVERY", 7)
    clock = FakeClock()
    path = tmp_path / "s.db"
    m = open_manager(path, clock)
    busy_day(m, clock)
    m.journal.settle()  # snapshots are written in the background
    # One more change: a snapshot that fell due while one was being written is taken at
    # the next change (on a busy machine the last ones of the day may all have come then).
    m.create_token("the next day", 0)
    before = state(m)
    m.journal.settle()
    rows = sqlite3.connect(path).execute("SELECT COUNT(*) FROM ops").fetchone()[0]
    assert rows <= 7  # older ops were folded into a snapshot
    m.journal.close()
    assert state(open_manager(path, clock)) == before


def test_a_new_file_is_new_and_a_used_one_is_not(tmp_path):
    path = tmp_path / "s.db"
    s = Store(path)
    assert s.is_new()
    m = fresh(FakeClock())
    s.attach(m)
    m.create_token("x", 0)
    s.close()
    assert not Store(path).is_new()


def test_a_newer_schema_is_refused(tmp_path):
    path = tmp_path / "s.db"
    Store(path).close()
    with sqlite3.connect(path) as db:
        db.execute("UPDATE meta SET value = '99' WHERE key = 'schema_version'")
    with pytest.raises(StateError, match="schema version 99"):
        Store(path)


def test_older_schemas_are_migrated_in_order(tmp_path, monkeypatch):
    path = tmp_path / "s.db"
    Store(path).close()
    with sqlite3.connect(path) as db:
        db.execute("UPDATE meta SET value = '1' WHERE key = 'schema_version'")
    ran = []
    monkeypatch.setattr(store, "SCHEMA_VERSION", 3)
    monkeypatch.setattr(store, "MIGRATIONS", {1: lambda db: ran.append(1), 2: lambda db: ran.append(2)})
    Store(path).close()
    assert ran == [1, 2]
    assert sqlite3.connect(path).execute("SELECT value FROM meta").fetchone()[0] == "3"


def test_a_journal_that_no_longer_replays_is_refused_with_the_op(tmp_path):
    clock = FakeClock()
    path = tmp_path / "s.db"
    m = open_manager(path, clock)
    token = m.create_token("x", 0).value
    m.create_sda(token, "", 1)
    m.journal.close()
    with sqlite3.connect(path) as db:
        db.execute("UPDATE ops SET args = replace(args, '\"model_id\": 1', '\"model_id\": 999')")
    with pytest.raises(StateError, match=r"op \d+ \(create_sda\) no longer replays: SDAModel 999 does not exist"):
        open_manager(path, clock)


def test_a_journal_that_names_no_change_is_refused(tmp_path):
    clock = FakeClock()
    path = tmp_path / "s.db"
    m = open_manager(path, clock)
    m.create_token("x", 0)
    m.journal.close()
    with sqlite3.connect(path) as db:
        db.execute("UPDATE ops SET action = 'list_tokens'")  # a read: replaying it would change nothing
    with pytest.raises(StateError, match=r"op \d+: unknown change 'list_tokens'"):
        open_manager(path, clock)


def test_the_rules_know_nothing_of_the_store():
    # (The manager, which composes them, gives them an archive: archive.py, in SQLite.)
    code = ("import sys, pkgutil, importlib, sdamanager_stub.rules as r; "
            "[importlib.import_module(f'sdamanager_stub.rules.{m.name}') for m in pkgutil.iter_modules(r.__path__)]; "
            "print(sorted(m for m in sys.modules if m == 'sqlite3' or "
            "m.endswith(('.store', '.snapshot', '.archive'))))")
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout == "[]\n"


def test_a_change_that_cannot_be_saved_is_not_acknowledged(tmp_path):
    clock = FakeClock()
    m = open_manager(tmp_path / "s.db", clock)
    m.journal.db.close()
    with pytest.raises(Internal, match="could not be saved"):
        m.create_token("lost", 0)


def test_after_a_failed_write_no_change_is_accepted_until_a_restart(tmp_path, monkeypatch):
    clock = FakeClock()
    path = tmp_path / "s.db"
    m = open_manager(path, clock)
    kept = m.create_token("kept", 0).value
    real_record = m.journal.record

    def failing(*args, **kwargs):
        raise sqlite3.OperationalError("disk I/O error")

    monkeypatch.setattr(m.journal, "record", failing)
    with pytest.raises(Internal, match="could not be saved"):
        m.create_token("lost", 0)
    monkeypatch.setattr(m.journal, "record", real_record)  # the disk is back, but memory holds 'lost'
    with pytest.raises(Internal, match="restart the simulator"):
        m.create_sda(kept, "", 1)
    m.journal.close()
    again = open_manager(path, clock)  # loads: nothing unsaved was built upon
    assert [t.description for t in again.tokens.values()] == ["kept"]


def test_a_failed_snapshot_does_not_unacknowledge_a_saved_change(tmp_path, monkeypatch):
    monkeypatch.setattr(store, "SNAPSHOT_EVERY", 1)
    clock = FakeClock()
    path = tmp_path / "s.db"
    m = open_manager(path, clock)

    def failing():
        raise sqlite3.OperationalError("database or disk is full")

    monkeypatch.setattr(m.journal, "snapshot", failing)
    m.create_token("saved", 0)  # acknowledged: its op is committed even if the snapshot is not
    m.create_token("saved too", 0)
    m.journal.close()
    assert sorted(t.description for t in open_manager(path, clock).tokens.values()) == ["saved", "saved too"]


def test_a_change_made_of_others_is_snapshotted_whole(tmp_path, monkeypatch):
    """The customer's add_device is a create_sda and more, journalled once: a snapshot due
    at its op holds all of it, and the file gives the same state back."""
    monkeypatch.setattr(store, "SNAPSHOT_EVERY", 1)
    clock = FakeClock()
    path = tmp_path / "s.db"
    m = open_manager(path, clock)
    token = m.create_token("vm", 0).value
    m.update_token_max_sda(token, 2)
    m.add_device(token, 1)
    m.add_device(token, 2)  # the current SDA moves to it: the outer change's own part
    m.journal.close()
    again = open_manager(path, clock)
    assert snapshot.capture(again) == snapshot.capture(m)
    assert again.tokens[token].current_sda == 2


def test_the_file_keeps_the_delays_its_jobs_ran_with(tmp_path):
    clock = FakeClock()
    path = tmp_path / "s.db"
    m = new_manager(backends=1, devices=4, clock=clock, prepare_seconds=1, clean_seconds=5)
    Store(path).attach(m)
    token = m.create_token("t", 0).value
    m.create_sda(token, "", 1)
    m.update_token_duplicable(token, 0)
    job = m.request_devices(token)
    clock.now += 2
    m.finish_job(job.feid)
    clock.now += 1
    waiting = m.request_devices(token)  # devices still cleaning for 4 s: placed at once elsewhere
    before = state(m)
    m.journal.close()
    other = new_manager(backends=1, devices=4, clock=clock, prepare_seconds=0, clean_seconds=0)
    Store(path).attach(other)
    assert (other.prepare_seconds, other.clean_seconds) == (1, 5)
    assert state(other) == before and other.jobs[waiting.feid].status == m.jobs[waiting.feid].status


# ---------------------------------------------------------------- what a probe of the storage found

def refuse(m: SDAManager, times: int) -> None:
    for _ in range(times):
        with pytest.raises(FailedPrecondition):
            m.delete_backendgroup(0)  # the default group is never deleted


def test_a_flood_of_refused_attempts_adds_events_only(tmp_path, monkeypatch):
    """A refused attempt is no op: it adds its event to the log (a window of them, next
    test) and nothing to replay (was: an op each, for ever, 1.9 MB/s under a flood; then
    a tenth of a change each toward a snapshot, which rewrote the whole log)."""
    clock = FakeClock()
    path = tmp_path / "s.db"
    m = open_manager(path, clock)
    refuse(m, 2000)
    m.journal.settle()
    db = sqlite3.connect(path)
    assert db.execute("SELECT COUNT(*) FROM ops").fetchone()[0] == 0
    assert db.execute("SELECT COUNT(*) FROM events WHERE refused = 1").fetchone()[0] == 2000
    events = [(e.id, e.action, e.result) for e in m.events]
    m.journal.close()
    assert [(e.id, e.action, e.result) for e in open_manager(path, clock).events] == events


def test_refused_attempts_that_cannot_be_saved_never_fail_a_later_change(tmp_path, caplog):
    """A full disk refuses the refused attempts' rows; once space is free again, changes
    are saved (was: every later change failed INTERNAL until a restart)."""
    clock = FakeClock()
    path = tmp_path / "s.db"
    m = open_manager(path, clock)
    kept = m.create_token("kept", 0).value
    journal = m.journal
    with journal._db_lock:  # the disk is full: SQLite may not grow the file by a page
        pages = journal.db.execute("PRAGMA page_count").fetchone()[0]
        journal.db.execute(f"PRAGMA max_page_count = {pages}")
    refuse(m, 300)
    assert "could not save" in caplog.text and "database or disk is full" in caplog.text
    with journal._db_lock:  # space is freed
        journal.db.execute("PRAGMA max_page_count = 1073741823")
    m.create_sda(kept, "after the disk was full", 1)
    m.journal.close()
    again = open_manager(path, clock)
    assert [s.description for s in again.sdas.values()] == ["after the disk was full"]


@pytest.mark.parametrize("how", ["removed", "replaced"])
def test_a_state_file_removed_or_replaced_under_the_server_takes_no_more_changes(tmp_path, how):
    """Changes acknowledged after the file is gone would be lost at the next start (was:
    20 of 20 acknowledged, and a second server could start on the same path)."""
    clock = FakeClock()
    path = tmp_path / "s.db"
    m = open_manager(path, clock)
    m.create_token("before", 0)
    if how == "removed":
        path.unlink()
    else:
        other = tmp_path / "other.db"
        sqlite3.connect(other).close()
        other.replace(path)
    for description in ("after", "again"):
        with pytest.raises(Internal, match=f"the state file {path} was removed or replaced"):
            m.create_token(description, 0)
    # What failed to save is never shown: the listings say why instead.
    with pytest.raises(Internal, match="restart the simulator"):
        m.list_tokens()
    m.journal.close()


def test_the_latest_instant_a_file_holds_is_where_the_servers_clock_goes_on(tmp_path):
    """serve moves its steady clock to it before replaying (a wall clock set back between
    two runs: the times run on from there)."""
    clock = FakeClock()
    path = tmp_path / "s.db"
    assert Store(path).latest_instant() == 0.0  # a new file
    m = open_manager(path, clock)
    clock.advance(500)
    m.create_token("later", 0)
    m.journal.close()
    assert Store(path).latest_instant() == clock.now


def test_the_event_log_keeps_a_window_of_the_newest_refused_attempts(tmp_path, monkeypatch):
    """Refused attempts beyond a window (in number, and in text) leave the log oldest
    first, whatever else it holds; the same ones after a restart (was: every refused
    attempt kept, up to the log's 100,000 events, each of them in every snapshot)."""
    limits = Limits(refused=50, refused_text=40_000)
    clock = FakeClock()
    path = tmp_path / "s.db"
    m = open_manager(path, clock, limits)
    m.create_token("first", 0)
    refuse(m, 300)
    refused = [e for e in m.events if e.result.startswith("FAILED")]
    assert 50 <= len(refused) <= 100 and refused[-1].id == m.events[-1].id  # the newest are kept
    assert [e.action for e in m.events if not e.result.startswith("FAILED")] == ["CREATE_TOKEN"]
    for _ in range(40):  # big refused requests: the text's window
        with pytest.raises(NotFound):
            m.create_sda("no such token " + "x" * 5000, "", 1)
    refused = [e for e in m.events if e.result.startswith("FAILED")]
    assert 20_000 <= sum(len(e.request) + len(e.result) for e in refused) <= 80_000
    events = [(e.id, e.action, e.request, e.result) for e in m.events]
    m.journal.close()
    assert [(e.id, e.action, e.request, e.result) for e in open_manager(path, clock, limits).events] == events


def test_a_snapshot_read_a_chunk_of_records_at_a_time_is_the_state(monkeypatch):
    """snapshot.parse makes the big lists' records as it reads them (a restart's parsed
    JSON never exists whole): the state is what json.loads would give, whatever the
    text's spacing, and a chunk boundary anywhere."""
    clock = FakeClock()
    m = fresh(clock)
    busy_day(m, clock)
    expected = snapshot.capture(m)
    assert len(expected["jobs"]) >= 2
    for chunk in (1, 2, 7, 4096):
        monkeypatch.setattr(snapshot, "_PARSE_CHUNK", chunk)
        for text in ("".join(snapshot.serialise(snapshot.freeze(m))), json.dumps(expected, indent=2),
                     json.dumps(expected, separators=(" ,", " : ")) + "\n"):
            again = fresh(clock)
            snapshot.restore(again, snapshot.parse(text))
            assert snapshot.capture(again) == expected
    with pytest.raises(ValueError, match="Extra data"):
        snapshot.parse("{} []")
    with pytest.raises(ValueError, match="Expecting"):
        snapshot.parse('{"history": [1,]}')


@pytest.mark.slow
def test_a_mutated_snapshot_is_refused_in_one_line_or_serves_without_a_bug(tmp_path):
    """Fuzz: a snapshot with a value replaced (by one of another type or range), a field or
    a row removed, or one added, is either refused at start (StateError: one line) or
    loads a state that every kind of call then uses with the rules' own refusals only."""
    import random
    import shutil

    clock = FakeClock()
    base = tmp_path / "base.db"
    m = open_manager(base, clock)
    busy_day(m, clock)
    m.journal.close()
    open_manager(base, clock).journal.close()  # everything in the start-up snapshot
    (text,) = sqlite3.connect(base).execute("SELECT state FROM snapshots").fetchone()
    values = [None, True, 0, -1, 2**70, 10**400, 1.5, 1e300, "", "x", [], {}, [1, 2], {"a": 1}, "USER", 1e308]

    def places(value, path=()):
        yield path
        items = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else ()
        for key, inner in items:
            yield from places(inner, (*path, key))

    rng = random.Random(1)
    for n in range(strength(250, 1000)):
        data = json.loads(text)
        for _ in range(rng.randrange(1, 3)):
            *parents, last = rng.choice([p for p in places(data) if p])
            holder = data
            for key in parents:
                holder = holder[key]
            roll = rng.random()
            if roll < 0.6:
                holder[last] = rng.choice(values)
            elif roll < 0.8:
                del holder[last]
            elif isinstance(holder, dict):
                holder["extra"] = 1
            else:
                holder.append(rng.choice(values))
        path = tmp_path / f"mutated{n}.db"
        shutil.copy(base, path)
        db = sqlite3.connect(path)
        db.execute("UPDATE snapshots SET state = ?", (json.dumps(data),))
        db.commit()
        db.close()
        try:
            loaded = open_manager(path, clock)
        except StateError:
            continue
        try:
            use_every_way(loaded)
        finally:
            loaded.journal.close()


def use_every_way(m: SDAManager) -> None:
    """Every record as the API shows it, listings, requests, releases, usage, a snapshot and
    deletes: only the rules' refusals."""
    from sdamanager_stub.convert import Converter
    from sdamanager_stub.errors import DomainError

    convert = Converter(m)
    for t in m.tokens.values():
        convert.token(t)
    for x in m.sdas.values():
        convert.sda(x)
    for b in m.backends.values():
        convert.backend(b)
    for g in m.model_groups.values():
        convert.model_group(g)
    for j in [*m.jobs.values(), *m.history]:
        convert.job(j)
    for e in m.events:
        convert.event(e)
    for v in m.versions.values():
        convert.version(v)
    for call in (m.list_jobs, m.list_tokens, m.list_history, m.list_events,
                 lambda: [m.request_devices(t, 5, "p") for t in list(m.tokens)],
                 lambda: [m.release(feid=f) for f in list(m.jobs)],
                 lambda: m.usage(0, 2e9), lambda: snapshot.capture(m),
                 lambda: [m.delete_token(t) for t in list(m.tokens)]):
        try:
            call()
        except DomainError:
            pass
