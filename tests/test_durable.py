"""How the state file keeps up under load, pinned without timing anything:

- a snapshot is taken while changes go on, yet it is exactly the state at its
  place in the journal (the snapshot plus the ops after it rebuild the live state);
- group commit: a change is answered only once its op is on disk (a held sync
  holds the reply, not the other callers), and concurrent changes come back after
  kill -9 as they were applied;
- kill -9 in the middle of writing a snapshot loses nothing acknowledged.
"""

from __future__ import annotations

import json
import random
import re
import signal
import sqlite3
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import grpc
import pytest
from helpers import strength
from test_crash import STUB, Acknowledged, start

from sdamanager_stub import snapshot, store
from sdamanager_stub.archive import Limits
from sdamanager_stub.errors import DomainError
from sdamanager_stub.manager import SDAManager, new_manager
from sdamanager_stub.server import create_server
from sdamanager_stub.store import Store
from smclient.api import sdamanager_pb2 as pb
from smclient.api import sdamanager_pb2_grpc as pb_grpc


def rebuild(rows: list[tuple[Any, ...]], base: dict[str, Any] | None) -> SDAManager:
    """A manager from a snapshot (None: a new one) and the journal's rows after it."""
    m = new_manager(backends=4, devices=8)
    if base is not None:
        snapshot.restore(m, base)
    for _seq, when, kind, action, args, made, token, result, peer in rows:
        if kind == "refused":
            m.restore_event(when, token, action.upper(), args, result, peer)
        else:
            m.replay(action, json.loads(args), at=when, made=made, peer=peer)
    return m


def busy(m: SDAManager, seed: int, stop: threading.Event) -> None:
    """One client's changes: tokens, SDAs, jobs started and finished, refusals."""
    rng = random.Random(seed)
    mine: list[str] = []
    while not stop.is_set():
        try:
            if not mine or rng.random() < 0.2:
                token = m.create_token(f"c{seed}", rng.randrange(-3, 4)).value
                m.create_sda(token, "", rng.choice([1, 2]))
                m.update_token_duplicable(token, 0)
                mine.append(token)
            elif rng.random() < 0.5:
                m.request_devices(rng.choice(mine), 1, "python x.py")
            elif rng.random() < 0.7:
                jobs = [j for j in m.list_jobs() if j.token in mine]
                if jobs:
                    job = rng.choice(jobs)
                    m.finish_job(job.feid, token=job.token)
            elif rng.random() < 0.5:
                m.update_token_priority(rng.choice(mine), rng.randrange(-5, 6))
            else:
                m.delete_sda(rng.choice(mine), 10**6)  # refused: a refusal in the journal
        except DomainError:
            pass


def test_a_snapshot_taken_during_changes_is_the_state_at_its_op(tmp_path, monkeypatch):
    """Every snapshot written while four clients change the state, plus the ops after its
    op, rebuilds the state the live manager ends with."""
    monkeypatch.setattr(store, "SNAPSHOT_EVERY", 40)
    monkeypatch.setattr(store, "PART_CHARS", 2000)  # big snapshots are written in parts
    m = new_manager(backends=4, devices=8)
    journal = Store(tmp_path / "state.db")
    journal.attach(m)
    rows: list[tuple[Any, ...]] = []  # every op, as appended
    snapshots: list[tuple[int, str]] = []  # (op, text) of every snapshot written
    real_record, real_write = journal.record, journal._write_snapshot

    def record(when: float, kind: str, action: str, args: str, made: str = "", token: str = "",
               result: str = "", peer: str = "") -> int:
        seq = real_record(when, kind, action, args, made=made, token=token, result=result, peer=peer)
        rows.append((seq, when, kind, action, args, made, token, result, peer))  # under the manager's lock
        return seq

    def write(frozen: dict[str, Any], at: int, when: float) -> None:
        snapshots.append((at, "".join(snapshot.serialise(frozen))))
        real_write(frozen, at, when)

    monkeypatch.setattr(journal, "record", record)
    monkeypatch.setattr(journal, "_write_snapshot", write)
    stop = threading.Event()
    threads = [threading.Thread(target=busy, args=(m, seed, stop)) for seed in range(4)]
    for t in threads:
        t.start()
    while len(snapshots) < 6:
        threading.Event().wait(0.01)
    stop.set()
    for t in threads:
        t.join()
    journal.settle()
    live = snapshot.capture(m)
    assert [r[0] for r in rows] == list(range(rows[0][0], rows[0][0] + len(rows)))  # numbered as applied
    assert len(snapshots) >= 6 and len(rows) > 6 * 40
    for at, text in snapshots:
        after = [r for r in rows if r[0] > at]
        assert snapshot.capture(rebuild(after, json.loads(text))) == live, f"the snapshot at op {at}"
    # and the file, read back as a restart does, is the same state
    journal.close()
    again = new_manager(backends=4, devices=8)
    Store(tmp_path / "state.db").attach(again)
    assert snapshot.capture(again) == live


def test_freeze_then_serialise_is_the_state_when_frozen(tmp_path):
    m = new_manager(backends=4, devices=8)
    token = m.create_token("t", 0).value
    m.create_sda(token, "", 1)
    m.update_token_duplicable(token, 0)
    m.add_token_env(token, "K", "V")
    jobs = [m.request_devices(token, 1, "p") for _ in range(40)]
    m.finish_job(jobs[0].feid)
    before = snapshot.capture(m)
    frozen = snapshot.freeze(m)
    # Changes after the freeze do not reach the frozen view.
    m.add_token_env(token, "K2", "V2")
    m.finish_job(jobs[1].feid)
    m.update_token_priority(token, 5)
    m.create_backendgroup("bg", [4])
    assert json.loads("".join(snapshot.serialise(frozen))) == before


class HeldSync:
    """Holds the first sync it sees until released: the op is appended, not yet on disk."""

    def __init__(self, journal: Store) -> None:
        self.journal = journal
        self.real = journal.sync
        self.entered = threading.Event()
        self.release = threading.Event()
        self.first = True
        self.lock = threading.Lock()

    def __call__(self, seq: int) -> None:
        with self.lock:
            hold, self.first = self.first, False
        if hold:
            self.entered.set()
            self.release.wait()
        self.real(seq)


class HeldWhenDurable(HeldSync):
    """`when_durable` (what the gRPC face waits on) holding the first answer until released."""

    def __init__(self, journal: Store) -> None:
        super().__init__(journal)
        self.real = journal.when_durable  # type: ignore[assignment]

    def __call__(self, seq: int, callback) -> None:  # type: ignore[override]
        with self.lock:
            hold, self.first = self.first, False
        if not hold:
            self.real(seq, callback)
            return
        self.entered.set()
        threading.Thread(target=lambda: (self.release.wait(), self.real(seq, callback)), daemon=True).start()


def test_no_reply_before_its_op_is_on_disk_and_other_callers_go_on(tmp_path, monkeypatch):
    m = new_manager(backends=4, devices=8)
    journal = Store(tmp_path / "state.db")
    journal.attach(m)
    other = m.create_token("other", 0).value
    held = HeldSync(journal)
    monkeypatch.setattr(journal, "sync", held)
    answer: list[str] = []
    # As the gRPC face runs it: the change and the conversion of its result, one read.
    caller = threading.Thread(target=lambda: answer.append(m.read(lambda: m.create_token("held", 0).value)))
    caller.start()
    assert held.entered.wait(30)
    # Its change is applied and its op appended, but the caller has no answer ...
    assert [t.description for t in m.tokens.values()] == ["other", "held"]
    assert answer == [] and caller.is_alive()
    # ... while the lock is free: another caller's change is applied and saved, its op and
    # the held one's committed together (group commit), and it is answered.
    m.update_token_priority(other, 3)
    assert journal._durable == journal._appended
    assert answer == [] and caller.is_alive()
    held.release.set()
    caller.join(30)
    assert len(answer) == 1 and answer[0] in m.tokens
    journal.close()


def test_a_grpc_reply_waits_for_its_sync(tmp_path, monkeypatch):
    m = new_manager(backends=4, devices=8)
    journal = Store(tmp_path / "state.db")
    journal.attach(m)
    held = HeldWhenDurable(journal)
    monkeypatch.setattr(journal, "when_durable", held)
    server, port = create_server("127.0.0.1:0", m)
    server.start()
    try:
        with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
            stub = pb_grpc.SDAManagerStub(channel)
            future = stub.CreateToken.future(pb.CreateTokenRequest(description="held"), timeout=60)
            assert held.entered.wait(30)
            listed = [t.description for page in stub.ListTokens(pb.ListTokensRequest(), timeout=30)
                      for t in page.tokens]
            assert listed == ["held"]  # applied, and the server answers others meanwhile
            assert not future.done()
            held.release.set()
            assert future.result(timeout=30).description == "held"
    finally:
        server.stop(0)
        journal.close()


def test_a_failed_group_commit_acknowledges_none_of_its_changes(tmp_path, monkeypatch):
    m = new_manager(backends=4, devices=8)
    journal = Store(tmp_path / "state.db")
    journal.attach(m)
    m.create_token("kept", 0)

    def failing(batch: list[Any]) -> None:
        raise sqlite3.OperationalError("disk I/O error")

    monkeypatch.setattr(journal, "_commit", failing)
    with pytest.raises(Exception, match="could not be saved"):
        m.create_token("lost", 0)
    with pytest.raises(Exception, match="restart the simulator"):
        m.create_token("after", 0)
    monkeypatch.undo()
    journal.close()
    again = new_manager(backends=4, devices=8)
    Store(tmp_path / "state.db").attach(again)
    assert [t.description for t in again.tokens.values()] == ["kept"]


# ---------------------------------------------------------------- kill -9 (processes)

VMS = 8


def _vm(stub: pb_grpc.SDAManagerStub, token: str, acked: dict[int, str], errors: list[str]) -> None:
    request = pb.RequestDevicesRequest(token=token, client_pid=1, process_name="p")
    while True:
        try:
            feid = stub.RequestDevices(request, timeout=10).feid
        except grpc.RpcError as err:
            if err.code() != grpc.StatusCode.UNAVAILABLE:
                errors.append(f"{err.code()} {err.details()}")
            return
        acked[feid] = token  # acknowledged: must come back with this token


@pytest.mark.slow
@pytest.mark.skipif(not STUB.exists(), reason="the console script is not installed")
def test_concurrent_changes_come_back_after_kill_9_as_they_were_applied(tmp_path):
    """Eight VMs submit at once (their ops committed in groups); after kill -9 every
    acknowledged job is back with the FeID it was answered: FeIDs are given in the order
    changes are applied, so a journal in another order would give them to other tokens."""
    state = tmp_path / "state.db"
    rng = random.Random(13)
    acked: dict[int, str] = {}
    tokens: list[str] = []
    for round_ in range(strength(2, 4)):
        proc, port = start(state)
        with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
            stub = pb_grpc.SDAManagerStub(channel)
            jobs = {j.feid: j.token for page in stub.ListJobs(pb.ListJobsRequest(), timeout=10) for j in page.jobs}
            for feid, token in acked.items():
                assert jobs.get(feid) == token, (round_, feid)
            if not tokens:
                for i in range(VMS):
                    token = stub.CreateToken(pb.CreateTokenRequest(description=f"vm{i}"), timeout=10).value
                    stub.CreateSda(pb.CreateSdaRequest(token=token, model_id=1, description="x"), timeout=10)
                    stub.UpdateTokenDuplicable(pb.UpdateTokenDuplicableRequest(token=token, duplicable=0),
                                               timeout=10)
                    tokens.append(token)
            errors: list[str] = []
            vms = [threading.Thread(target=_vm, args=(stub, t, acked, errors)) for t in tokens]
            killer = threading.Timer(rng.uniform(0.3, 0.8), lambda p=proc: p.send_signal(signal.SIGKILL))
            for t in vms:
                t.start()
            killer.start()
            for t in vms:
                t.join()
            killer.join()
        proc.wait(timeout=10)
        proc.stdout.close()
        proc.stderr.close()
        assert proc.returncode == -signal.SIGKILL
        assert not errors, errors[:3]
    proc, port = start(state)
    try:
        with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
            stub = pb_grpc.SDAManagerStub(channel)
            jobs = {j.feid: j.token for page in stub.ListJobs(pb.ListJobsRequest(), timeout=10) for j in page.jobs}
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        proc.stdout.close()
        proc.stderr.close()
    assert len(acked) > strength(25, 50)
    assert all(jobs.get(feid) == token for feid, token in acked.items())


# A simulator whose snapshot writer stops after its first part, says so and waits: the
# test kills it there.  Snapshots are due every 10 changes and written in parts of 200
# characters.  Only the writer thread stops (start-up writes its snapshot in the open).
STALLING_SERVER = """
import sys, threading, time
from sdamanager_stub import store, cli
store.SNAPSHOT_EVERY = 10
store.PART_CHARS = 200
real = store.Store._write_snapshot
class Noisy:
    def __init__(self, db):
        self.db = db
        self.parts = 0
    def __getattr__(self, name):
        return getattr(self.db, name)
    def execute(self, sql, *args):
        writer = threading.current_thread().name == "snapshot-writer"
        if writer and sql.startswith("INSERT OR REPLACE INTO snapshot_parts"):
            self.parts += 1
            if self.parts == 2:
                print("mid-snapshot", flush=True)
                time.sleep(60)
        return self.db.execute(sql, *args)
def write(self, *args):
    if threading.current_thread().name == "snapshot-writer" and not isinstance(self.db, Noisy):
        self.db = Noisy(self.db)
    real(self, *args)
store.Store._write_snapshot = write
sys.exit(cli.main(sys.argv[1:]))
"""


def start_stalling(state: Path) -> tuple[subprocess.Popen, int]:
    proc = subprocess.Popen([sys.executable, "-c", STALLING_SERVER, "serve", "--state", str(state), "--port", "0",
                             "--backends", "4", "--devices", "8", "--prepare-seconds", "0", "--clean-seconds", "0"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    line = proc.stdout.readline()
    found = re.fullmatch(r"SDAManager simulator listening on 127\.0\.0\.1:(\d+)\n", line)
    assert found, (line, proc.stderr.read() if proc.poll() is not None else "")
    return proc, int(found.group(1))


def stray_parts(state: Path) -> int:
    with sqlite3.connect(state) as db:
        return db.execute("SELECT COUNT(*) FROM snapshot_parts WHERE seq NOT IN (SELECT seq FROM snapshots)"
                          ).fetchone()[0]


@pytest.mark.slow
@pytest.mark.skipif(not STUB.exists(), reason="the console script is not installed")
def test_kill_9_in_the_middle_of_a_snapshot_loses_nothing_acknowledged(tmp_path):
    state = tmp_path / "state.db"
    rng = random.Random(2026)
    acked = Acknowledged()
    for _round in range(strength(2, 4)):
        proc, port = start_stalling(state)
        with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
            stub = pb_grpc.SDAManagerStub(channel)
            acked.settle(stub)
            acked.check(stub)
            failure: list[BaseException] = []

            def changes(stub: pb_grpc.SDAManagerStub = stub, failure: list[BaseException] = failure) -> None:
                try:
                    while True:
                        acked.step(stub, rng)
                except grpc.RpcError as err:
                    if err.code() != grpc.StatusCode.UNAVAILABLE:
                        failure.append(err)

            client = threading.Thread(target=changes)
            client.start()
            assert proc.stdout.readline() == "mid-snapshot\n"  # its writer is between two parts
            proc.send_signal(signal.SIGKILL)
            client.join(60)
            assert not client.is_alive() and not failure, failure
        proc.wait(timeout=10)
        proc.stdout.close()
        proc.stderr.close()
        assert stray_parts(state) >= 1  # the kill did land in the middle of a snapshot
    proc, port = start(state)
    try:
        with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
            acked.settle(pb_grpc.SDAManagerStub(channel))
            assert acked.check(pb_grpc.SDAManagerStub(channel)) > 0
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        proc.stdout.close()
        proc.stderr.close()
    assert stray_parts(state) == 0  # dropped at start-up


def test_the_history_and_the_log_keep_their_newest_at_their_caps_and_after_a_restart(tmp_path):
    """The history and the event log lose their oldest records at their caps, as they are
    written (with the ops that made them), and a restart lists the same."""
    limits = Limits(history=300, events=700)
    path = tmp_path / "state.db"
    m = new_manager(backends=4, devices=8)
    Store(path, limits).attach(m)
    token = m.create_token("t", 0).value
    m.create_sda(token, "", 1)
    m.update_token_duplicable(token, 0)
    feids = []
    for _ in range(8):
        for _ in range(150):
            feids.append(m.request_devices(token, 1, "p").feid)
            m.finish_job(feids[-1])
    history, events = m.history, m.events
    assert [j.feid for j in history] == feids[-300:]
    assert len(events) == 700 and [e.id for e in events] == sorted(e.id for e in events)
    assert events[-1].action == "FINISH_JOB" and events[-1].id == m.state.next["event"] - 1
    m.journal.close()
    again = new_manager(backends=4, devices=8)
    Store(path, limits).attach(again)
    assert again.history == history and again.events == events
    assert again.state.next["event"] == m.state.next["event"]


@pytest.mark.parametrize("seed", range(5))
def test_refused_attempts_leave_the_log_by_their_window_as_a_model_of_it_says(seed):
    """The log keeps its newest `events`; of them, refused attempts are trimmed back to
    the newest `refused` once there are more than twice that: checked against a model of
    the log (a list), event by event, whatever the mix."""
    from sdamanager_stub.archive import in_memory, is_refused

    limits = Limits(events=40, refused=6)
    rng = random.Random(seed)
    m = SDAManager(archive=in_memory(limits))
    token = m.create_token("t", 0).value
    model = list(m.events)
    for _ in range(300):
        if rng.random() < 0.7:
            with pytest.raises(DomainError):
                m.delete_backendgroup(0)
        else:
            m.update_token_description(token, str(rng.random()))
        model.append(m.events[-1])
        del model[:-limits.events]
        refused = [e for e in model if is_refused(e)]
        if len(refused) > 2 * limits.refused:
            gone = {e.id for e in refused[:-limits.refused]}
            model = [e for e in model if e.id not in gone]
        assert m.events == model


def test_the_snapshot_writer_lets_a_waiting_commit_go_first(tmp_path):
    """The writer takes the connection once per part; the lock is not fair, so without
    giving way a commit of changes waited behind a whole run of parts (390 ms at the caps)."""
    journal = Store(tmp_path / "state.db")
    journal.attach(new_manager(backends=2, devices=4))
    journal._committing = True  # a commit of changes wants the connection
    went = threading.Event()
    writer = threading.Thread(target=lambda: (journal._after_commits(), went.set()))
    writer.start()
    assert not went.wait(0.2)  # the writer waits for it
    with journal._changed:  # as the committer ends a commit
        journal._committing = False
        journal._commits += 1
        journal._changed.notify_all()
    assert went.wait(5)
    writer.join()
    journal.close()


def test_a_freeze_that_fails_is_logged_and_snapshots_go_on(tmp_path, monkeypatch, caplog):
    """A bug in the freeze of a snapshot that fell due is logged; the change that made it
    due is acknowledged, and the next snapshot is taken as usual."""
    monkeypatch.setattr(store, "SNAPSHOT_EVERY", 5)
    m = new_manager(backends=2, devices=4)
    journal = Store(tmp_path / "state.db")
    journal.attach(m)
    real_freeze = snapshot.freeze
    calls = {"freeze": 0}

    def freeze(manager: SDAManager) -> dict[str, Any]:
        calls["freeze"] += 1
        if calls["freeze"] == 2:
            raise RuntimeError("a bug")
        return real_freeze(manager)

    monkeypatch.setattr(snapshot, "freeze", freeze)
    token = m.create_token("gc", 0).value
    for i in range(5):
        m.update_token_priority(token, i % 9)  # the first snapshot
    journal.settle()
    for i in range(5):
        m.update_token_priority(token, (i + 1) % 9)  # due again: the freeze fails
    assert "could not freeze the state for a snapshot" in caplog.text
    assert m.token(token).priority == 5 and journal._writer is None
    for i in range(6):
        m.update_token_priority(token, i % 9)
    journal.settle()
    assert calls["freeze"] >= 3  # snapshots go on
    journal.close()
