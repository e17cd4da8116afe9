"""Issue 12, findings 3, 5, 6 and 7: one server per state file, private state,
deliberate exposure, and one clear line for damaged input.  Each runs the
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
SHELL = Path(sys.executable).with_name("moreh_smclient")
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
# finding 6: exposure is deliberate
# --------------------------------------------------------------------------

@pytest.fixture(scope="module")
def certificate(tmp_path_factory):
    if shutil.which("openssl") is None:
        pytest.skip("openssl is not installed")
    where = tmp_path_factory.mktemp("tls")
    for name in ("", "other_"):
        subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
                        "-keyout", str(where / f"{name}key.pem"), "-out", str(where / f"{name}cert.pem"),
                        "-subj", "/CN=localhost", "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1"],
                       check=True, capture_output=True)
    return where / "cert.pem", where / "key.pem"


@pytest.fixture
def secret_file(tmp_path):
    path = tmp_path / "secret"
    path.write_text("s3cr3t\n")
    return path


def test_listening_beyond_loopback_warns_of_what_is_missing(certificate, secret_file):
    cert, key = certificate
    tls = ["--tls-cert", str(cert), "--tls-key", str(key)]
    secret = ["--admin-secret-file", str(secret_file)]
    for extra, missing in (([], "without TLS and without an admin secret"),
                           (tls, "without an admin secret"),
                           (secret, "without TLS")):
        err = stop(start("--memory", "--host", "0.0.0.0", *extra))
        assert one_line(err).startswith("warning: listening on 0.0.0.0:"), err
        assert missing in err, err
    assert stop(start("--memory", "--host", "0.0.0.0", *tls, *secret)) == ""
    assert stop(start("--memory", "--host", "127.0.0.1")) == ""


def shell(*args: str, stdin: str = "", env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([str(SHELL), *args], input=stdin, capture_output=True, text=True, timeout=30,
                          env=env or CLEAN_ENV)


def test_the_shell_warns_once_before_sending_the_secret_in_clear_beyond_loopback(secret_file):
    with_secret = {**CLEAN_ENV, "SDAMANAGER_ADMIN_SECRET_FILE": str(secret_file)}
    # 192.0.2.1 (TEST-NET-1) is never reachable: the shell's statuses stay as they were.
    done = shell("--ip", "192.0.2.1", "--timeout", "0.5", stdin="show token\nshow token\n", env=with_secret)
    assert done.returncode == 3 and done.stdout == ""
    warnings = [line for line in done.stderr.splitlines() if line.startswith("warning:")]
    assert warnings == ["warning: sending the admin secret without TLS to 192.0.2.1:30105"], done.stderr
    assert "Traceback" not in done.stderr
    for host in ("127.0.0.1", "localhost", "::1"):
        done = shell("--ip", host, "--port", "1", "--timeout", "0.5", "--command", "show token", env=with_secret)
        assert "warning" not in done.stderr, (host, done.stderr)
    done = shell("--ip", "192.0.2.1", "--timeout", "0.5", "--command", "show token")  # no secret to send
    assert "warning" not in done.stderr, done.stderr


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
    db.execute("INSERT INTO ops (seq, time, kind, action, args) VALUES ((SELECT MAX(seq) FROM snapshots) + 1, "
               "1.0, 'change', 'create_token', ?)", (json.dumps({"description": "kept", "priority": 0}),))
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
    (ARGS, ("[1, 2]",), "(create_token) has damaged arguments (they are [1, 2], not an object of named arguments)"),
    (ARGS, (json.dumps({"description": 5, "priority": "high"}),),
     "(create_token) has damaged arguments (its argument description is 5, not text)"),
    (ARGS, (json.dumps({"nonsense": 1}),), "(create_token) has damaged arguments (create_token takes no argument "
                                           "'nonsense')"),
    (META, ("abc", "prepare_seconds"), "prepare_seconds"),
    (META, ("nan", "prepare_seconds"), "prepare_seconds"),
    (META, ("-1.0", "clean_seconds"), "clean_seconds"),
    (META, ("inf", "clean_seconds"), "clean_seconds"),
    (META, ("one", "schema_version"), "schema_version"),
], ids=["snapshot-not-json", "snapshot-not-an-object", "snapshot-missing-keys", "args-not-json",
        "args-not-an-object", "args-wrong-types", "args-unknown", "meta-delay", "meta-delay-nan",
        "meta-delay-negative", "meta-delay-infinite", "meta-schema"])
def test_a_damaged_record_is_one_line(used_state, tmp_path, statement, params, reason):
    state = damage(used_state, tmp_path, (statement, params))
    status, err = refused("--state", str(state))
    line = one_line(err)
    assert status == 1, err
    assert line.startswith(f"sdamanager-stub: cannot use the state file {state}: "), line
    assert reason in line, line


@pytest.fixture(scope="module")
def busy_state(tmp_path_factory):
    """A state file whose snapshot holds a record of each kind that the damaged cases
    below touch: a token, an SDA, a running job, a preparing one (its `ready_at`),
    devices cleaning (`clean_until`), an ended job, events; no op after it."""
    from sdamanager_stub.manager import new_manager
    from sdamanager_stub.store import Store

    state = tmp_path_factory.mktemp("busy") / "state.db"
    for _ in range(2):  # the second start writes everything into its start-up snapshot
        manager = new_manager(backends=2, devices=2, prepare_seconds=600, clean_seconds=600)
        store = Store(state)
        store.attach(manager)
        if not manager.tokens:
            token = manager.create_token("busy", 0).value
            manager.update_token_duplicable(token, 0)
            manager.create_sda(token, "", 1)
            done = manager.request_devices(token, 1, "python done.py")
            manager.finish_job(done.feid)  # its device cleans for 600 s
            manager.request_devices(token, 2, "python prepared.py")  # prepares for 600 s
        store.close()
    return state


def edit_snapshot(state: Path, edit) -> None:
    """Apply `edit` to the snapshot's JSON (a dict, changed in place, or the new text)."""
    db = sqlite3.connect(state)
    (text,) = db.execute("SELECT state FROM snapshots").fetchone()
    data = json.loads(text)
    changed = edit(data)
    db.execute(SNAPSHOT, (changed if isinstance(changed, str) else json.dumps(data),))
    db.commit()
    db.close()


def _set(path: str, value):
    """An edit setting the snapshot's field at `path` (`tokens.0.priority`) to `value`."""

    def edit(data: dict) -> None:
        *parents, last = [int(key) if key.isdigit() else key for key in path.split(".")]
        for key in parents:
            data = data[key]
        data[last] = value

    return edit


def _legacy(key: str, field: str | None, value):
    """An edit giving the snapshot a history or an event log, as one of schema 2 held
    them: one record (a copy of a live job, or an event), its `field` set to `value`
    (no field: the record is `value`)."""

    def edit(data: dict) -> None:
        record = (dict(data["jobs"][0]) if key == "history" else
                  {"id": 1, "time": 1.0, "token": "t", "action": "A", "request": "{}", "result": "SUCCESS", "peer": ""})
        if field is None:
            record = value
        else:
            record[field] = value
        data[key] = [record]

    return edit


@pytest.mark.parametrize(("edit", "reason"), [
    (_set("tokens.0.priority", "high"), "tokens[0] priority is 'high', not an integer"),
    (_set("tokens.0.max_sda", "3"), "tokens[0] max_sda is '3', not an integer"),
    (_legacy("events", "time", "noon"), "events[0] time is 'noon', not a number"),
    (_set("jobs.0.request_time", "x"), "jobs[0] request_time is 'x', not a number"),
    (_legacy("history", "priority", None), "history[0] priority is None, not an integer"),
    (_legacy("history", "priority", 2**70), "history[0] priority is 1180591620717411303424, not an integer of 64 bits"),
    (_set("jobs.0.request_time", 10**400), "jobs[0] request_time is 1000000000"),
    (_set("ready_at.0.1", "soon"), "ready_at[0] is [2, 'soon']"),
    (_set("jobs.0.placement", [[1, 99]]), "jobs[0] placement names device 99 of backend 1, which has 2"),
    (_set("clean_until.0.1", 99), "clean_until[0] names device 99 of backend"),
    (_set("tokens.0.access_level", "ROOT"), "tokens[0] access_level is 'ROOT', not one of USER, ADMIN, DEVELOPER"),
    (_set("sdas.0.token", "nobody"), "sdas[0] token names token 'nobody', which is no token"),
    (_set("sdas.0.model_id", 99), "sdas[0] model_id names SDA model 99, which is no SDA model"),
    (_set("memberships", [[1, [99]]]), "memberships names user group 1, which is no user group"),
    (lambda data: data["next"].pop("job"), "next has no job counter"),
    (lambda data: '{"next": ' + "[" * 100_000 + "]" * 100_000 + "}", "nested too deeply"),
    (lambda data: "[" * 100_000 + "]" * 100_000, "not JSON: Expecting '{'"),
    (lambda data: json.dumps(data) + " {}", "not JSON: Extra data"),
    (_legacy("history", None, 7), "history[0] is 7, not a record"),
], ids=["priority-text", "max-sda-text", "event-time-text", "request-time-text", "history-null",
        "priority-beyond-int64", "time-beyond-year-9999",
        "ready-at-text", "placement-no-device", "clean-until-no-device", "enum-unknown", "sda-of-no-token",
        "nested-json", "not-an-object", "extra-data", "history-not-a-record", "sda-of-no-model",
        "membership-of-no-group", "no-job-counter"])
def test_a_wrong_typed_record_is_one_line_naming_it_and_its_field(busy_state, tmp_path, edit, reason):
    state = tmp_path / "state.db"
    shutil.copy(busy_state, state)
    edit_snapshot(state, edit)
    status, err = refused("--state", str(state))
    line = one_line(err)
    assert status == 1, err
    assert line.startswith(f"sdamanager-stub: cannot use the state file {state}: the snapshot at op "), line
    assert reason in line, line


# (numbered as the store numbers ops: after everything the file holds)
OP = ("INSERT INTO ops (seq, time, kind, action, args, token, result) "
      "VALUES ((SELECT MAX(seq) FROM snapshots) + 1, ?, ?, ?, ?, '', '')")


@pytest.mark.parametrize(("statement", "params", "reason"), [
    (META, ("0", "schema_version"), "schema version 0"),
    (OP, ("yesterday", "change", "create_token", '{"description": "x", "priority": 0}'), "'yesterday', not a time"),
    (OP, (1e999, "change", "create_token", '{"description": "x", "priority": 0}'), "inf, not a time"),
    (OP, (1e300, "change", "create_token", '{"description": "x", "priority": 0}'), "not a time from year 1 to 9999"),
    (OP, (1.0, "refused", "delete_token", b"\x00\xff"), "args is b'\\x00\\xff', not text"),
    (OP, (1.0, "other", "create_token", "{}"), "kind is 'other', not change or refused"),
], ids=["schema-0", "op-time-text", "op-time-infinite", "op-time-beyond-year-9999", "refused-args-blob", "op-kind"])
def test_a_damaged_row_is_one_line_naming_it(busy_state, tmp_path, statement, params, reason):
    state = damage(busy_state, tmp_path, (statement, params))
    status, err = refused("--state", str(state))
    line = one_line(err)
    assert status == 1, err
    assert line.startswith(f"sdamanager-stub: cannot use the state file {state}: "), line
    assert reason in line, line


ARCHIVE_DAMAGE = [
    ("UPDATE history SET status = 'BOGUS'", "CHECK constraint failed: status IN"),
    ("UPDATE history SET request_time = 'noon'", "cannot store TEXT value in REAL column history.request_time"),
    ("UPDATE history SET end_time = 1e300", "CHECK constraint failed: end_time BETWEEN"),
    ("UPDATE history SET priority = 1.5", "cannot store REAL value in INTEGER column history.priority"),
    ("UPDATE history SET token = x'00ff'", "cannot store BLOB value in TEXT column history.token"),
    ("UPDATE history SET placement = 'not json'", "CHECK constraint failed: json_valid(placement)"),
    ("UPDATE history SET placement = '{}'", "CHECK constraint failed: json_valid(placement)"),
    ("UPDATE events SET time = 'x'", "cannot store TEXT value in REAL column events.time"),
    ("UPDATE events SET request = x'0001'", "cannot store BLOB value in TEXT column events.request"),
    ("UPDATE events SET refused = 7", "CHECK constraint failed: refused IN (0, 1)"),
]


def test_the_history_and_the_log_cannot_hold_a_damaged_row(busy_state, tmp_path):
    """They are read when listed, not at start: their tables are STRICT and CHECKed, so a
    row of the wrong type or range cannot be written (here by hand, with sqlite3), and
    the file, untouched by each attempt, starts."""
    state = tmp_path / "state.db"
    shutil.copy(busy_state, state)
    db = sqlite3.connect(state)
    for statement, reason in ARCHIVE_DAMAGE:
        with pytest.raises(sqlite3.IntegrityError, match=re.escape(reason)):
            db.execute(statement)
    db.close()
    stop(start("--state", str(state)))


def test_an_empty_state_file_is_refused_unless_init_says_to_start_one(tmp_path):
    state = tmp_path / "state.db"
    state.write_bytes(b"")
    status, err = refused("--state", str(state))
    assert status == 1
    assert one_line(err) == (f"sdamanager-stub: cannot use the state file {state}: it is empty (0 bytes), "
                             "not a state file; give --init to start a new cluster in it")
    stop(start("--state", str(state), "--init"))
    stop(start("--state", str(state)))  # a state file now
    missing = tmp_path / "new" / "state.db"
    stop(start("--state", str(missing)))  # a path with no file yet is a new cluster, as before


@pytest.mark.parametrize(("content", "problem"), [
    (b"one\ntwo\n", "several lines"),
    ("s\u00e9cret\n".encode(), "gRPC metadata"),
    (b"se\x01cret\n", "gRPC metadata"),
    (b"\xff\xfe\n", "gRPC metadata"),
])
def test_an_unusable_secret_is_refused_at_start_by_both_programs(tmp_path, content, problem):
    path = tmp_path / "secret"
    path.write_bytes(content)
    status, err = refused("--memory", "--admin-secret-file", str(path))
    assert status == 1 and str(path) in one_line(err) and problem in err, err
    done = shell("--admin-secret-file", str(path), "--command", "show token")
    assert done.returncode == 2 and str(path) in one_line(done.stderr) and problem in done.stderr, done.stderr
    if b"\n" not in content.rstrip(b"\n") and b"\xff" not in content:
        env = {**CLEAN_ENV, "SDAMANAGER_ADMIN_SECRET": content.decode().rstrip("\n")}
        status, err = refused("--memory", env=env)
        assert status == 1 and "SDAMANAGER_ADMIN_SECRET" in one_line(err) and problem in err, err
        done = shell("--command", "show token", env=env)
        assert done.returncode == 2 and "SDAMANAGER_ADMIN_SECRET" in one_line(done.stderr), done.stderr


def test_a_secret_file_that_cannot_be_read_is_named_with_the_reason(tmp_path):
    """A mounted Secret that is missing (a pod started before its Secret existed) or unreadable."""
    missing = tmp_path / "admin-secret"
    env = {**CLEAN_ENV, "SDAMANAGER_ADMIN_SECRET_FILE": str(missing)}
    expected = f"the admin secret file {missing} cannot be read (No such file or directory)"
    status, err = refused("--memory", env=env)
    assert status == 1 and one_line(err) == f"sdamanager-stub: {expected}", err
    done = shell("--command", "show token", env=env)
    assert done.returncode == 2 and one_line(done.stderr) == f"moreh_smclient: {expected}", done.stderr


def test_a_certificate_that_does_not_match_its_key_is_said_so(certificate):
    cert, _ = certificate
    other_key = cert.with_name("other_key.pem")
    status, err = refused("--memory", "--tls-cert", str(cert), "--tls-key", str(other_key))
    line = one_line(err)
    assert status == 1 and str(cert) in line and str(other_key) in line and "does not match" in line, line


def test_a_certificate_or_key_that_is_not_pem_is_said_so(certificate, tmp_path):
    cert, key = certificate
    junk = tmp_path / "junk.pem"
    junk.write_text("not a certificate\n")
    for args, named in (([junk, key], junk), ([cert, junk], junk)):
        status, err = refused("--memory", "--tls-cert", str(args[0]), "--tls-key", str(args[1]))
        line = one_line(err)
        assert status == 1 and str(named) in line and "PEM" in line, line


def test_the_shell_says_a_ca_file_is_not_pem_and_prints_no_grpc_log(certificate, tmp_path):
    junk = tmp_path / "junk.pem"
    junk.write_text("not a certificate\n")
    done = shell("--tls-ca", str(junk), "--port", "1", "--timeout", "1", "--command", "show token")
    assert done.returncode == 2 and str(junk) in one_line(done.stderr) and "PEM" in done.stderr, done.stderr
    # a TLS handshake that fails (the server's certificate is not the one trusted): the shell's line only
    cert, key = certificate
    proc = start("--memory", "--tls-cert", str(cert), "--tls-key", str(key))
    try:
        done = shell("--tls-ca", str(cert.with_name("other_cert.pem")), "--port", str(proc.port),
                     "--timeout", "2", "--command", "show token")
    finally:
        stop(proc)
    assert done.returncode == 3, done.stderr
    assert one_line(done.stderr) == f"Cannot connect to SDAManager at 127.0.0.1:{proc.port}.", done.stderr


# --------------------------------------------------------------------------
# issue 21: files the programs read are small regular files; a secret fits in metadata
# --------------------------------------------------------------------------

@pytest.fixture(params=["/dev/zero", "fifo", "big"])
def not_a_small_file(request, tmp_path) -> tuple[Path, str]:
    """(a path, what is wrong with it): read without bound, a hang, 65 KB."""
    if request.param == "/dev/zero":
        return Path("/dev/zero"), "is not a regular file"
    if request.param == "fifo":
        path = tmp_path / "fifo"
        os.mkfifo(path)
        return path, "is not a regular file"
    path = tmp_path / "big.pem"
    path.write_bytes(b"a" * 65 * 1024)
    return path, "is bigger than 64 KB"


def test_files_the_server_reads_are_small_regular_files(not_a_small_file, certificate):
    """The sync server read /dev/zero without bound (4.5-9 GB in 12 s) and hung on a FIFO."""
    path, problem = not_a_small_file
    cert, key = certificate
    for args in (["--admin-secret-file", str(path)], ["--tls-cert", str(path), "--tls-key", str(key)],
                 ["--tls-cert", str(cert), "--tls-key", str(path)]):
        status, err = refused("--memory", *args)
        line = one_line(err)
        assert status == 1 and str(path) in line and problem in line, line


def test_the_shell_reads_only_small_regular_files_too(not_a_small_file):
    path, problem = not_a_small_file
    for args in (["--admin-secret-file", str(path)], ["--tls-ca", str(path)]):
        done = shell(*args, "--port", "1", "--timeout", "1", "--command", "show token")
        assert done.returncode == 2 and str(path) in one_line(done.stderr) and problem in done.stderr, done.stderr


def test_a_secret_longer_than_metadata_carries_is_refused_at_start(tmp_path):
    """A 20,000-character secret was accepted, then every admin call failed ('metadata size
    exceeds hard limit')."""
    path = tmp_path / "secret"
    path.write_text("s" * 20_000 + "\n")
    status, err = refused("--memory", "--admin-secret-file", str(path))
    assert status == 1 and one_line(err) == (f"sdamanager-stub: the admin secret file {path} is 20,000 characters; "
                                             "gRPC metadata carries a secret of at most 4,096"), err
    done = shell("--admin-secret-file", str(path), "--command", "show token")
    assert done.returncode == 2 and "at most 4,096" in one_line(done.stderr), done.stderr


def test_a_server_whose_state_file_is_removed_refuses_changes_and_says_not_serving(tmp_path):
    """The state file removed under a running server: the next change is not acknowledged
    (exit 4, one line), listings are refused rather than show it, the health service says
    NOT_SERVING (the image's HEALTHCHECK and the pod's probes restart the server), and
    the server logs why, once."""
    state = tmp_path / "state.db"
    proc = start("--state", str(state))
    port = str(proc.port)
    try:
        assert shell("--port", port, "--command", "create token before 0").returncode == 0
        health = [str(STUB), "health", "--port", port]
        assert subprocess.run(health, capture_output=True, timeout=30).returncode == 0
        state.unlink()
        done = shell("--port", port, "--command", "create token after 0")
        assert done.returncode != 0 and f"the state file {state} was removed or replaced" in one_line(done.stderr)
        done = shell("--port", port, "--command", "show token")
        assert done.returncode != 0 and "restart the simulator" in one_line(done.stderr), done.stderr
        checked = subprocess.run(health, capture_output=True, text=True, timeout=30)
        assert checked.returncode == 1 and "NOT_SERVING" in checked.stderr, checked.stderr
    finally:
        err = stop(proc)
    assert err.count("the state file failed") == 1, err
