"""Scripts never parse prose (issue 24): what a change made or ended is data in
`-o json`; csv and tabulate's formats have one column per header, numbers to the
right, and no Total row."""

from __future__ import annotations

import csv
import dataclasses
import io
import json

import pytest

from sdamanager_stub.testing import running_simulator


@pytest.fixture
def sim():
    with running_simulator(backends=2, devices=8) as running:
        yield running


def as_json(sim, line: str):
    if sim.admin.run("set output json").status:
        raise AssertionError("set output json failed")
    status, out, err = sim.admin.run(line)
    assert status == 0, err
    return json.loads(out)


def test_every_create_carries_what_it_made(sim):
    made = as_json(sim, "create token alice 5")
    token = made["token"]
    assert made["message"] == f"Create SDA Success (Token : {token})" and token in sim.manager.tokens
    assert as_json(sim, f"create sda {token} 1 first") == {"message": "Create SDA success.", "id": 1}
    assert as_json(sim, "create sdamodel Tiny.1GB 1")["id"] == max(sim.manager.models)
    assert as_json(sim, "create backend rx-9 10.0.0.9 8") == {"message": "Create Backend success.", "id": 3}
    assert as_json(sim, "create backendgroup bg 1") == {"message": "Create Group Success (id : 1)", "id": 1}
    assert as_json(sim, "create sdamodelgroup mg 1 1")["id"] == 1
    assert as_json(sim, f"create usergroup ug {token}")["id"] == 1
    assert as_json(sim, "create version 24.1 /opt/24.1") == {"message": "Create Version success.", "version": "24.1"}


def test_deletes_and_releases_list_what_they_ended(sim):
    token = sim.manager.create_token("t", 0).value
    sim.manager.update_token_max_sda(token, 2)
    sim.manager.create_sda(token, "a", 1)
    sim.manager.create_sda(token, "b", 1)
    sim.manager.request_devices(token, 5, "python a.py")
    assert as_json(sim, f"release {token}")["released"] == [1]
    assert as_json(sim, f"delete sda {token}") == {"message": "Delete SDA success.", "deleted": [1, 2]}


def test_a_group_whose_word_was_taken_as_its_description_says_so_at_the_prompt_only(sim):
    from smclient.api.address import Address
    from smclient.executor import Executor
    from smclient.render import render_outcome
    from smclient.transport import Connection

    shell = Executor(Connection(Address(sim.host, sim.port)), interactive=True, ask=lambda q: True)
    out, _ = render_outcome(shell.execute_line("create usergroup ug-three nosuchtoken").result)
    assert out == ("Create Group Success (id : 1)\n"
                   "Note: 'nosuchtoken' is the group's description (no token is so named); the group has no "
                   "members yet (add usergroup ID TOKEN).")
    assert sim.admin.run("create usergroup ug-four nosuchtoken").stdout == "Create Group Success (id : 2)\n"


def test_csv_has_one_device_column_in_index_order(sim):
    sim.admin.run("set output csv")
    rows = list(csv.reader(io.StringIO(sim.admin.run("get backend beid 1").stdout)))
    assert rows[0] == ["ID", "Name", "Ip", "Group", "Status", "Device"]
    assert rows[1][5] == ";".join(f"{i} IDLE" for i in range(8))


def test_usage_in_json_and_csv_lists_tokens_not_the_total(sim):
    token = sim.manager.create_token("billing", 0).value
    line = f"show usage 2020-01-01 00:00:00 2030-01-01 00:00:00 {token}"
    assert [entry["token"] for entry in as_json(sim, line)] == [token]
    sim.admin.run("set output csv")
    assert [row[0] for row in csv.reader(io.StringIO(sim.admin.run(line).stdout))] == ["Token", token]
    sim.admin.run("set output table")
    assert "|  Total " in sim.admin.run(line).stdout  # the original's frame keeps it


def test_tabulate_formats_put_numbers_to_the_right(sim):
    sim.admin.run("set output psql")
    lines = sim.admin.run("show sdamodel").stdout.splitlines()
    assert [cell.strip() for cell in lines[1].split("|")[1:-1]] == ["ID", "Name", "Devices"]
    cells = [line.split("|")[1:-1] for line in lines[3:-1]]
    ids, names = [row[0][1:-1] for row in cells], [row[1][1:-1] for row in cells]  # psql's margins off
    assert all(cell == cell.strip().rjust(len(cell)) for cell in ids)
    assert any(cell.startswith(" ") for cell in ids)  # " 1" under "52": padded on the left
    assert all(cell == cell.strip().ljust(len(cell)) for cell in names)  # text stays to the left


# ---------------------------------------------------------------- usage outlives tokens; the audit

def departed_customer(sim) -> str:
    m = sim.manager
    token = m.create_token("last month's customer", 0).value
    m.create_sda(token, "s", 1)
    feid = m.request_devices(token, 5, "python train.py").feid
    m.finish_job(feid)
    m.delete_sda(token)
    m.delete_token(token)
    return token


def test_a_deleted_tokens_usage_and_history_stay_reportable(sim):
    token = departed_customer(sim)
    status, out, err = sim.admin.run(f"show usage 2020-01-01 00:00:00 2030-01-01 00:00:00 {token}")
    assert status == 0, err
    row = next(line for line in out.splitlines() if token in line)
    assert "last month's customer" in row
    status, out, err = sim.admin.run(f"get history token {token}")
    assert status == 0 and "python train.py" in out, err
    assert sim.admin.run(f"get token {token}").status == 1  # the token itself is gone
    actions = [e.action for e in sim.manager.events if e.token == token]
    assert actions[-1] == "DELETE_TOKEN"


def test_departed_tokens_survive_a_snapshot_and_old_files_rebuild_them(sim):
    from sdamanager_stub import snapshot
    from sdamanager_stub.manager import new_manager

    token = departed_customer(sim)
    saved = snapshot.capture(sim.manager)
    restored = new_manager(backends=0, devices=0)
    snapshot.restore(restored, saved)
    assert restored.departed == {token: "last month's customer"}
    # A file from before: no departed tokens, and (schema 2) the history and the log in the snapshot.
    def plain(record: object) -> object:  # as JSON holds it (enums by value)
        return json.loads(json.dumps(dataclasses.asdict(record), default=lambda value: value.value))

    older = {**{key: value for key, value in saved.items() if key != "departed"},
             "history": [plain(j) for j in sim.manager.history],
             "events": [plain(e) for e in sim.manager.events]}
    rebuilt = new_manager(backends=0, devices=0)
    snapshot.restore(rebuilt, older)
    assert rebuilt.departed == {token: "last month's customer"}


def test_a_release_names_the_tokens_it_ended_in_the_event_log(sim):
    m = sim.manager
    tokens = []
    for name in ("a", "b"):
        token = m.create_token(name, 0).value
        m.create_sda(token, "s", 1)
        m.request_devices(token, 1, "p")
        tokens.append(token)
    assert sim.admin.run("release 1").status == 0
    assert sim.admin.run("release all").status == 0
    release, release_all = list(m.events)[-2:]
    assert (release.action, release.token) == ("RELEASE", tokens[0])
    assert (release_all.action, release_all.token) == ("RELEASE_ALL", tokens[1])


def test_usage_over_a_window_into_the_future_is_measured_up_to_now():
    from sdamanager_stub.entities import Job, JobStatus
    from sdamanager_stub.usage import compute_usage

    running = Job(feid=1, token="T", sda_id=1, model_id=1, priority=0, device_count=2, backend_group_id=0,
                  status=JobStatus.RUNNING, start_time=10.0)
    report = compute_usage([running], begin=10.0, end=210.0, now=110.0, total_devices=8, descriptions={})
    assert (report.total.max, report.total.average) == (2, 2.0)  # not 1.0: [110, 210) has not happened
    later = compute_usage([running], begin=150.0, end=200.0, now=100.0, total_devices=8, descriptions={},
                          token="T")
    assert (later.total.average, [(e.token, e.average) for e in later.entries]) == (0.0, [("T", 0.0)])


def test_job_submit_count_that_stops_part_way_says_how_far_it_got(sim):
    import os
    import subprocess
    import sys
    from pathlib import Path

    token = sim.manager.create_token("vm", 0).value
    sim.manager.create_sda(token, "s", 1)  # duplicable off: a second job of the SDA is refused
    env = {**{k: v for k, v in os.environ.items() if not k.startswith(("SDAMANAGER_", "MOREH_SDA"))},
           "SDAMANAGER_PORT": str(sim.port)}  # found through the environment, as the shell finds it
    done = subprocess.run([str(Path(sys.executable).with_name("sdamanager-stub")), "job", "submit", "--token", token,
                           "--process", "python a.py", "--count", "3"], env=env, capture_output=True, text=True,
                          timeout=60)
    assert (done.returncode, done.stdout) == (1, "1\n")
    assert done.stderr == ("sdamanager-stub: 1 of 3 jobs submitted; SDA 1 is already in use and may be used "
                           "once at a time (duplicable off).\n")


def test_get_job_in_json_nests_devices_by_backend_always_as_arrays(sim):
    m = sim.manager
    for n, name in enumerate(("Status", "Token")):  # backends named like fields of the record
        m.create_backend(name, f"10.0.0.{n + 9}", 8)
    for backend_id in (1, 2):
        m.update_backend_status(backend_id, m.backends[backend_id].status.__class__.SHUTDOWN)
    token = m.create_token("json", 0).value
    m.update_token_max_sda(token, 2)
    m.create_sda(token, "eight", 4)  # 8 devices: a whole backend
    m.create_sda(token, "one", 1)  # 1 device: the other one
    m.request_devices(token, 1, "q", sda_id=1)
    m.request_devices(token, 2, "p", sda_id=2)
    eight, one = as_json(sim, "get job feid 1"), as_json(sim, "get job feid 2")
    assert (eight["status"], eight["token"], one["status"], one["token"]) == ("RUNNING", token, "RUNNING", token)
    (whole, indexes), = eight["devices"].items()
    (other, single), = one["devices"].items()
    assert {whole, other} == {"Status", "Token"} and indexes == list(range(8)) and single == [0]
    assert [job["devices"] for job in as_json(sim, f"get job token {token}")] == [eight["devices"], one["devices"]]


def test_the_event_log_says_who_from_where_and_its_request_is_data(sim):
    token = as_json(sim, "create token audited 1")["token"]
    events = as_json(sim, "show eventlog")
    created = events[-1]
    assert (created["action"], created["token"], created["peer"]) == ("CREATE_TOKEN", token, "127.0.0.1")
    assert created["request"] == {"description": "audited", "priority": 1}  # an object, not JSON in a string
    filtered = as_json(sim, f"show eventlog where token={token} and time>2000-01-01")
    assert [e["id"] for e in filtered] == [created["id"]]
    sim.admin.run("set output table")
    header = sim.admin.run("show eventlog").stdout.splitlines()[1]
    assert header.rstrip("|").split("|")[-1].strip() == "Peer"


def test_peer_host():
    from smclient.views import peer_host

    assert [peer_host(p) for p in ("ipv4:10.0.0.5:41822", "ipv6:[::1]:5000", "unix:/run/s", "")] == \
        ["10.0.0.5", "::1", "unix:/run/s", ""]


# ---------------------------------------------------------------- the README's shapes are the contract

def documented_shapes() -> dict[str, list[tuple[str, str]]]:
    """command -> [(field, kind or "")] from the README's list of json shapes."""
    import re
    from pathlib import Path

    text = (Path(__file__).resolve().parent.parent / "README.md").read_text()
    block = text[text.index("The shapes (a test checks this list"):]
    start = block.index("\n- ") + 1
    block = block[start: block.index("\n\n", start)]
    shapes: dict[str, list[tuple[str, str]]] = {}
    for item in re.split(r"\n(?=- )", block):
        line = " ".join(item[2:].split())
        head, rest = re.match(r"(.*?(?:`|\)))\s*: (.*)", line).groups()
        fields = [re.fullmatch(r"([a-z_]+)(?: \(([a-z_]+)\))?", f.strip()).groups("")
                  for f in rest.split(";")[0].split(",")]
        for command in re.findall(r"`([a-z_ ]+)`", head):
            shapes[command] = fields
    return shapes


def test_the_readmes_shapes_are_what_the_shell_prints():
    from smclient.commands import COMMANDS
    from smclient.filters import fields, is_name_value
    from smclient.formats import snake

    shapes = documented_shapes()
    listings = {c.name: c for c in COMMANDS if c.shape is not None}
    assert sorted(shapes) == sorted(listings)  # every listing documented, and nothing else
    for name, command in listings.items():
        table = command.shape()
        if is_name_value(table):  # a record: its names (a job's devices nested under one key)
            expected = [(f, "") for f in fields(table)] + [("devices", "")] * ("frontend_id" in fields(table))
        else:
            kinds = {("devices" if c.kind == "devices" else snake(c.header)): c.kind for c in table.columns}
            expected = [(f, "" if kinds[f] == "text" else kinds[f]) for f in fields(table)]
        assert shapes[name] == expected, name


@pytest.mark.parametrize(("path", "said"), [
    ("/dev/zero", "moreh_smclient: /dev/zero:1: the line is longer than 1 MiB: is this a script of commands?"),
    ("/proc/self/mem", "moreh_smclient: cannot read /proc/self/mem after line 0: Input/output error"),
])
def test_a_script_that_is_no_script_is_one_line_not_gigabytes_or_a_traceback(path, said):
    import os
    import subprocess
    import sys
    from pathlib import Path

    if not os.path.exists(path):
        pytest.skip(f"no {path} here")
    done = subprocess.run([str(Path(sys.executable).with_name("moreh_smclient")), "--port", "1", "--file", path],
                          capture_output=True, text=True, timeout=60)
    assert (done.returncode, done.stdout, done.stderr) == (2, "", said + "\n")


@pytest.mark.parametrize(("args", "said"), [
    (["--ip", "127.0.0.1:30105"], "moreh_smclient: invalid --ip '127.0.0.1:30105': give the host alone "
                                  "('127.0.0.1') and the port with --port ('30105')"),
    (["--ip", "\u202eevil"], "moreh_smclient: invalid --ip '\\u202eevil': expected a host name or an IP address"),
    (["--bogus\u202ex"], "moreh_smclient: error: unrecognized arguments: --bogus\\u202ex"),
])
def test_an_address_or_argument_that_is_wrong_is_a_usage_line_shown_escaped(args, said):
    import subprocess
    import sys
    from pathlib import Path

    done = subprocess.run([str(Path(sys.executable).with_name("moreh_smclient")), *args, "--command", "show token"],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr.splitlines()[-1] == said
    assert "\u202e" not in done.stderr


def test_the_customer_tools_show_a_bad_argument_escaped_too():
    import subprocess
    import sys
    from pathlib import Path

    done = subprocess.run([str(Path(sys.executable).with_name("moreh-smi")), "--bogus\u202ex"],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 2 and "\u202e" not in done.stderr and "--bogus\\u202ex" in done.stderr


def test_show_usage_takes_hh_mm_and_get_backend_group_takes_a_name(sim):
    with_seconds = sim.admin.run("show usage 2026-01-01 08:00:00 2026-01-02 08:00:00")
    assert sim.admin.run("show usage 2026-01-01 08:00 2026-01-02 08:00") == with_seconds
    assert with_seconds.status == 0
    status, _, err = sim.admin.run("show usage 2026-01-01 8h 2026-01-02 08:00")
    assert status == 2 and err.startswith("Invalid begin 2026-01-01 8h: expected a time")
    sim.manager.create_backendgroup("bg-east", [2])
    by_name, by_id = sim.admin.run("get backend group bg-east"), sim.admin.run("get backend group 1")
    assert by_name == by_id and "back02" in by_name.stdout
    assert sim.admin.run("get backend group default_backend_group").stdout.count("back01") == 1
    assert sim.admin.run("get backend group nope") == (1, "", "print backend by beckend group failed. "
                                                            "(No backend group is named 'nope'.)\n")
