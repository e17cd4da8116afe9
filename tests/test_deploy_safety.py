"""Issue 12, findings 3, 5 and 7: one server per state file, private state,
and one clear line for a damaged state file.  Each runs the
programs as a user would: as processes."""

from __future__ import annotations

import json
import os
import re
import shutil
import sqlite3
import stat
import subprocess
import sys
from pathlib import Path

import pytest

STUB = Path(sys.executable).with_name("sdamanager-stub")
LISTENING = re.compile(r"SDAManager simulator listening on \S+:(\d+)\n")
CLEAN_ENV = {k: v for k, v in os.environ.items() if not k.startswith(("SDAMANAGER_", "MOREH_", "GRPC_"))}


def start(*args: str, umask: int | None = None, env: dict[str, str] | None = None) -> subprocess.Popen:
    """`sdamanager-stub serve ARGS`, once it listens (or has exited)."""
    proc = subprocess.Popen([str(STUB), "serve", "--port", "0", "--backends", "1", "--devices", "2", *args],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env or CLEAN_ENV,
                            umask=-1 if umask is None else umask)
    line = proc.stdout.readline()
    found = LISTENING.fullmatch(line)
    assert found, (line, proc.communicate(timeout=10))
    proc.port = int(found.group(1))  # type: ignore[attr-defined]
    return proc


def stop(proc: subprocess.Popen) -> str:
    proc.terminate()
    _, err = proc.communicate(timeout=10)
    assert proc.returncode == 0, err
    return err


def refused(*args: str, env: dict[str, str] | None = None, timeout: float = 10) -> tuple[int, str]:
    """Run `sdamanager-stub serve ARGS`, which must exit at start: its status and its stderr."""
    try:
        done = subprocess.run([str(STUB), "serve", "--port", "0", *args], capture_output=True, text=True,
                              env=env or CLEAN_ENV, timeout=timeout)
    except subprocess.TimeoutExpired:
        pytest.fail(f"sdamanager-stub serve {' '.join(args)} started instead of refusing")
    assert done.stdout == ""
    return done.returncode, done.stderr


def one_line(err: str) -> str:
    assert "Traceback" not in err, err
    assert err.count("\n") == 1 and err.endswith("\n"), err
    return err.rstrip("\n")


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


# --------------------------------------------------------------------------
# finding 3: one state file, one server
# --------------------------------------------------------------------------

def test_a_second_server_on_a_state_file_in_use_is_refused(tmp_path):
    state = tmp_path / "state.db"
    first = start("--state", str(state))
    try:
        status, err = refused("--state", str(state))
        assert status == 1
        assert one_line(err) == f"sdamanager-stub: cannot use the state file {state}: it is in use by another simulator"
    finally:
        stop(first)
    stop(start("--state", str(state)))  # free again once the first one stopped


# --------------------------------------------------------------------------
# finding 5: private state
# --------------------------------------------------------------------------

@pytest.mark.parametrize("umask", [0o022, 0o000])
def test_the_state_is_private_whatever_the_umask(tmp_path, umask):
    state = tmp_path / "new" / "state.db"
    proc = start("--state", str(state), umask=umask)
    try:
        assert mode(state.parent) == 0o700
        for name in ("state.db", "state.db-wal", "state.db-shm"):
            assert mode(state.parent / name) == 0o600, name
    finally:
        stop(proc)


def test_an_existing_directory_keeps_its_mode_and_old_files_become_private(tmp_path):
    where = tmp_path / "shared"
    where.mkdir()
    where.chmod(0o755)
    state = where / "state.db"
    stop(start("--state", str(state), umask=0o022))
    for name in ("state.db", "state.db-wal", "state.db-shm"):  # as an older simulator left them
        if (where / name).exists():
            (where / name).chmod(0o644)
    proc = start("--state", str(state), umask=0o022)
    try:
        assert mode(where) == 0o755
        for name in ("state.db", "state.db-wal", "state.db-shm"):
            assert mode(where / name) == 0o600, name
    finally:
        stop(proc)


# --------------------------------------------------------------------------
# finding 7: damaged input gives one line
# --------------------------------------------------------------------------

@pytest.fixture(scope="module")
def used_state(tmp_path_factory):
    """A state file with a snapshot and an op after it (a token made after the start-up snapshot)."""
    state = tmp_path_factory.mktemp("used") / "state.db"
    proc = start("--state", str(state))
    stop(proc)
    db = sqlite3.connect(state)
    db.execute("INSERT INTO ops (time, kind, action, args) VALUES (1.0, 'change', 'create_token', ?)",
               (json.dumps({"description": "kept", "priority": 0}),))
    db.commit()
    db.close()
    return state


def damage(used_state: Path, tmp_path: Path, *statements: tuple[str, tuple]) -> Path:
    state = tmp_path / "state.db"
    shutil.copy(used_state, state)
    db = sqlite3.connect(state)
    for sql, params in statements:
        db.execute(sql, params)
    db.commit()
    db.close()
    return state


SNAPSHOT = "UPDATE snapshots SET state = ?"
ARGS = "UPDATE ops SET args = ?"
META = "UPDATE meta SET value = ? WHERE key = ?"


@pytest.mark.parametrize(("statement", "params", "reason"), [
    (SNAPSHOT, ("{not json",), "the snapshot"),
    (SNAPSHOT, ("[]",), "the snapshot"),
    (SNAPSHOT, (json.dumps({"next": {}}),), "the snapshot"),
    (ARGS, ("{not json",), "create_token"),
    (ARGS, ("[1, 2]",), "create_token"),
    (ARGS, (json.dumps({"description": 5, "priority": "high"}),), "create_token"),
    (ARGS, (json.dumps({"nonsense": 1}),), "create_token"),
    (META, ("abc", "prepare_seconds"), "prepare_seconds"),
    (META, ("one", "schema_version"), "schema_version"),
], ids=["snapshot-not-json", "snapshot-not-an-object", "snapshot-missing-keys", "args-not-json",
        "args-not-an-object", "args-wrong-types", "args-unknown", "meta-delay", "meta-schema"])
def test_a_damaged_record_is_one_line(used_state, tmp_path, statement, params, reason):
    state = damage(used_state, tmp_path, (statement, params))
    status, err = refused("--state", str(state))
    line = one_line(err)
    assert status == 1, err
    assert line.startswith(f"sdamanager-stub: cannot use the state file {state}: "), line
    assert reason in line, line
