"""Big state at the prompt (issue 22): `where ... limit N` on listings, the expanded
view, and bulk changes that ask first and say what they did.  The pager and
`watch` on a real terminal are in test_terminal.py."""

from __future__ import annotations

import json
import time

import grpc
import pytest

from sdamanager_stub.entities import Event
from sdamanager_stub.testing import running_simulator
from smclient.api.address import Address
from smclient.executor import Executor
from smclient.render import render, render_outcome
from smclient.terminal import expanded_lines, present
from smclient.transport import Connection


@pytest.fixture
def sim():
    with running_simulator(backends=6, devices=8) as running:
        yield running


def executor_for(sim, **options) -> Executor:
    return Executor(Connection(Address(sim.host, sim.port), timeout=10), **options)


def run(executor: Executor, line: str) -> tuple[int, str, str]:
    outcome = executor.execute_line(line)
    out, err = render_outcome(outcome.result, executor.output)
    return outcome.status, out, err


def rows(out: str) -> list[list[str]]:
    """The data rows of a frame, each as its stripped cells."""
    lines = out.splitlines()
    return [[cell.strip() for cell in line.split("|")[1:-1]] for line in lines[3:-1]]


def jobs(sim, count: int, token: str | None = None) -> str:
    token = token or sim.manager.create_token("team", 0).value
    sim.manager.create_sda(token, "s", 1)
    sim.manager.update_token_duplicable(token, 0)  # unlimited: one job per call below
    for pid in range(count):
        sim.manager.request_devices(token, 100 + pid, f"python train{pid}.py")
    return token


# ---------------------------------------------------------------- where

def test_each_operator_on_numbers_text_and_statuses(sim):
    alice = jobs(sim, 3)  # FeIDs 1-3, one device each: all run
    bob = jobs(sim, 2)  # FeIDs 4-5
    ex = executor_for(sim)
    cases = {
        "show job where feid>3": ["4", "5"],
        "show job where feid >= 3": ["3", "4", "5"],
        "show job where feid<2": ["1"],
        "show job where feid <= 2": ["1", "2"],
        "show job where feid!=3": ["1", "2", "4", "5"],
        f"show job where token={bob}": ["4", "5"],
        "show job where process_name~TRAIN1": ["2", "5"],  # case-insensitive substring
        "show job where process_name = python train1.py": ["2", "5"],  # the rest of the condition's words
        "show job where process_name='python train2.py'": ["3"],
        f"show job where token={alice} and pid>=101": ["2", "3"],
        "show job where status=RUNNING limit 2": ["1", "2"],
        "show job where status=running": [],  # = is exact
        "show job limit 1": ["1"],
    }
    for line, feids in cases.items():
        status, out, err = run(ex, line)
        assert (status, err) == (0, ""), line
        assert [row[0] for row in rows(out)] == feids, line


def test_times_compare_as_times_a_day_or_minute_standing_for_all_of_it(sim):
    jobs(sim, 2)
    ex = executor_for(sim)
    _, out, _ = run(ex, "show job")
    started = rows(out)[0][6]  # YYYY-MM-DD HH:MM:SS.cc, local
    day, minute = started[:10], started[:16]
    assert len(rows(run(ex, f"show job where start_time={day}")[1])) == 2
    assert len(rows(run(ex, f"show job where start_time='{minute}'")[1])) == 2
    assert rows(run(ex, f"show job where start_time>{day}")[1]) == []  # after that day
    assert len(rows(run(ex, "show job where start_time<=2999-01-01")[1])) == 2
    assert rows(run(ex, "show job where start_time<2000-01-01")[1]) == []
    status, _, err = run(ex, "show job where start_time>2026-02-30")
    assert (status, err) == (2, "Invalid time '2026-02-30': expected YYYY-MM-DD[ HH:MM[:SS]].")


def test_an_unknown_field_is_one_line_naming_the_fields_and_costs_no_call(sim):
    ex = executor_for(sim)
    events = len(sim.manager.events)
    status, out, err = run(ex, "show job where owner=alice")
    assert (status, out) == (2, "")
    assert err == ("Unknown field 'owner' for show job: expected one of feid, token, pry, status, pid, "
                   "process_name, start_time.")
    assert len(sim.manager.events) == events


@pytest.mark.parametrize(("line", "error"), [
    ("show job where", "Invalid filter: a condition is missing."),
    ("show job where feid", "Invalid filter: cannot read the condition 'feid'."),
    ("show job where feid>3 and", "Invalid filter: a condition is missing."),
    ("show job where feid>x", "Invalid value 'x' for feid: expected a number."),
    ("show job limit", "Invalid filter: 'limit' takes one number and ends the line."),
    ("show job limit 0", "Invalid limit '0': expected an integer from 1 to 10000000."),
    ("show job limit 2 where feid=1", "Invalid filter: 'limit' takes one number and ends the line."),
])
def test_a_filter_that_cannot_be_read_is_one_usage_line(sim, line, error):
    status, out, err = run(executor_for(sim), line)
    assert status == 2 and out == ""
    assert err.startswith(error) and "\n" not in err


def test_a_backend_named_where_is_still_a_name(sim):
    sim.manager.create_backend("where", "10.0.0.9", 8)
    status, out, _ = run(executor_for(sim), "get backend name where")
    assert status == 0 and [row[1] for row in rows(out) if row[1]] == ["where"]


def test_several_values_in_a_cell_match_when_one_does(sim):
    token = jobs(sim, 1)
    sim.manager.update_device_status(2, 3, sim.manager.backends[2].devices[3].status.__class__.SHUTDOWN)
    ex = executor_for(sim)
    _, out, _ = run(ex, "show backend where devices~SHUTDOWN")
    assert [row[1] for row in rows(out) if row[1]] == ["back02"]
    _, out, _ = run(ex, "show backend where devices!='3 SHUTDOWN'")
    assert "back02" not in out and "back01" in out
    sim.manager.create_usergroup("ug", "", [token])
    assert [row[1] for row in rows(run(ex, f"show usergroup where childs={token}")[1])] == ["ug"]


def test_filters_work_in_every_output_format(sim):
    jobs(sim, 3)
    ex = executor_for(sim, output="json")
    status, out, _ = run(ex, "show job where feid>=2")
    assert status == 0 and [job["feid"] for job in json.loads(out)] == [2, 3]
    ex.output = "csv"
    out = run(ex, "show job where feid<2")[1]
    assert out.splitlines()[0].startswith("FeID,Token") and len(out.splitlines()) == 2
    ex.output = "json"  # a record (get job feid) that does not match: nothing
    assert json.loads(run(ex, "get job feid 1 where status=QUEUED")[1]) == []
    assert json.loads(run(ex, "get job feid 1 where status=RUNNING")[1])["frontend_id"] == 1


def test_the_logs_keep_their_newest_rows(sim):
    jobs(sim, 3)
    sim.manager.release_all()
    ex = executor_for(sim)
    assert [row[0] for row in rows(run(ex, "show history limit 2")[1])] == ["2", "3"]
    assert [row[0] for row in rows(run(ex, "show history where pid>100 limit 1")[1])] == ["3"]
    ids = [row[0] for row in rows(run(ex, "show eventlog")[1])]
    assert [row[0] for row in rows(run(ex, "show eventlog limit 2")[1])] == ids[-2:]


class Requests(grpc.aio.ServerInterceptor):
    """Keeps the ListEvents requests the server got."""

    def __init__(self) -> None:
        self.seen: list[object] = []

    async def intercept_service(self, continuation, details):  # type: ignore[no-untyped-def]
        handler = await continuation(details)
        if not details.method.endswith("/ListEvents"):
            return handler
        inner = handler.unary_stream

        async def kept(request, context):  # type: ignore[no-untyped-def]
            self.seen.append(request)
            async for page in inner(request, context):
                yield page

        return grpc.unary_stream_rpc_method_handler(kept, handler.request_deserializer, handler.response_serializer)


def test_the_event_log_is_filtered_by_sdamanager_not_streamed_whole():
    """`show eventlog where action=CREATE_TOKEN limit 5` with 100,000 events: the
    request carries the action and the count, so 5 events come, not 100,000."""
    from sdamanager_stub.manager import new_manager
    from sdamanager_stub.server import create_server

    manager = new_manager(backends=1, devices=8)
    token = manager.create_token("seed", 0).value
    now = time.time()
    manager.archive.extend((), [Event(manager.state.new_id("event"), now, token, "RELEASE" if n % 2 else "CREATE_TOKEN",
                                      "{}", "SUCCESS") for n in range(100_000)])
    requests = Requests()
    server, port = create_server("127.0.0.1:0", manager, interceptors=[requests])
    server.start()
    try:
        ex = Executor(Connection(Address("127.0.0.1", port), timeout=30))
        status, out, _ = run(ex, "show eventlog where action=CREATE_TOKEN limit 5")
        shown = rows(out)
        newest = [str(e.id) for e in manager.events if e.action == "CREATE_TOKEN"][-5:]
        assert status == 0 and [row[0] for row in shown] == newest
        request = requests.seen[-1]
        assert (request.action, request.count, request.token) == ("CREATE_TOKEN", 5, "")
        # A condition SDAManager cannot answer exactly: the whole log is read, the filter still holds.
        status, out, _ = run(ex, "show eventlog where action=CREATE_TOKEN and id<10 limit 2")
        assert [row[0] for row in rows(out)] == ["6", "8"]
        assert requests.seen[-1].count == 0
    finally:
        server.stop(0)


# ---------------------------------------------------------------- the expanded view

def test_expanded_view_of_get_token_in_psqls_layout(sim):
    token = sim.manager.create_token("alice", 5).value
    ex = executor_for(sim, expanded="on")
    outcome = ex.execute_line(f"get token {token}")
    text = render(present(outcome.result, "table", "on", 80))
    assert text.splitlines() == [
        "-[ RECORD 1 ]-------+-------------------------",
        f"Token               | {token}",
        "Description         | alice",
        "Cur SDA             | ",
        "Max SDA             | 1",
        "Duplicable          | off",
        "Priority            | 5",
        "Access Level        | USER",
        "Worker Execute Info | ",
        "ENV value           | ",
    ]


def test_expanded_auto_only_for_tables_wider_than_the_terminal(sim):
    jobs(sim, 2)
    ex = executor_for(sim)
    table = ex.execute_line("show job").result
    width = len(render(table).splitlines()[0])
    assert present(table, "table", "auto", width) is table
    records = render(present(table, "table", "auto", width - 1)).splitlines()
    assert records[0].startswith("-[ RECORD 1 ]+--") and records[8].startswith("-[ RECORD 2 ]+--")
    assert records[1].startswith("FeID         | 1")
    assert present(table, "json", "on", 10) is table  # the other formats are records already


def test_expanded_view_keeps_every_line_of_a_cell_and_wide_text():
    from smclient.results import Column, Table

    table = Table([Column("이름"), Column("Lines")], [["고객", ["a", "b"]], ["x", []]])
    assert list(expanded_lines(table)) == [
        "-[ RECORD 1 ]",  # longer than the rule under it, as psql prints it
        "이름  | 고객",
        "Lines | a",
        "      | b",
        "-[ RECORD 2 ]",
        "이름  | x",
        "Lines | ",
    ]
    assert list(expanded_lines(Table([Column("A")], []))) == ["(0 rows)"]


def test_dash_x_on_the_command_line(sim):
    from smclient.cli import main

    token = sim.manager.create_token("bob", 1).value
    import contextlib
    import io

    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        status = main(["--port", str(sim.port), "-x", "--command", f"get token {token}"])
    assert status == 0 and out.getvalue().startswith("-[ RECORD 1 ]-")


# ---------------------------------------------------------------- bulk changes ask first

class Answers:
    def __init__(self, *answers: bool) -> None:
        self.answers = list(answers)
        self.asked: list[str] = []

    def __call__(self, question: str) -> bool:
        self.asked.append(question)
        return self.answers.pop(0)


def test_release_all_asks_and_no_keeps_every_job_yes_releases_and_counts(sim):
    jobs(sim, 4)
    jobs(sim, 6)
    answers = Answers(False, True)
    ex = executor_for(sim, interactive=True, ask=answers)
    status, out, err = run(ex, "release all")
    assert answers.asked == ["Release 10 jobs of 2 tokens (FeIDs 1-10)?"]
    assert (status, out, err) == (0, "Nothing was changed.", "")
    assert len(sim.manager.jobs) == 10
    status, out, _ = run(ex, "release all")
    assert out == "Release All Device success.\n10 jobs released: 1-10"
    assert len(sim.manager.jobs) == 0


def test_release_of_a_tokens_jobs_and_of_one_job(sim):
    token = jobs(sim, 3)
    answers = Answers(True)
    ex = executor_for(sim, interactive=True, ask=answers)
    assert run(ex, "release 2")[1] == "Release Device success."  # one job: nothing asked, nothing added
    assert answers.asked == []
    assert run(ex, f"release {token}")[1] == "Release Device success.\n2 jobs released: 1, 3"
    assert answers.asked == [f"Release 2 jobs of token {token} (FeIDs 1, 3)?"]


def test_the_other_bulk_changes_ask(sim):
    m = sim.manager
    token = m.create_token("t", 0).value
    m.update_token_max_sda(token, 3)
    for _ in range(3):
        m.create_sda(token, "s", 1)
    other = m.create_token("u", 0).value
    m.create_usergroup("ug", "", [token, other])
    m.request_devices(token, 5, "python a.py")
    m.create_backendgroup("bg", [1, 2])
    answers = Answers(False, False, False, False)
    ex = executor_for(sim, interactive=True, ask=answers)
    for line in (f"delete sda {token}", "update usergroup list 1 null", "update backend status 1 SHUTDOWN",
                 "delete backendgroup 1 true"):
        assert run(ex, line)[1] == "Nothing was changed.", line
    assert answers.asked == [
        f"Delete 3 SDAs of token {token} (IDs 1-3)?",
        f"Remove 2 tokens from user group 1 ({token}, {other})?",
        "Shut down backend back01 (1) with 1 job on it (FeIDs 1)? They keep their devices until they end.",
        "Force-delete backend group 1 with 2 backends (back01, back02)?",
    ]
    assert len(m.sdas) == 3 and len(m.user_groups[1].tokens) == 2 and 1 in m.backend_groups


def test_confirm_off_and_scripts_never_ask_and_print_the_originals_words(sim):
    jobs(sim, 3)

    def never(question: str) -> bool:
        raise AssertionError(f"asked {question!r}")

    ex = executor_for(sim, interactive=True, ask=never)
    assert run(ex, "set confirm off")[1] == "Confirm: off"
    assert run(ex, "release all")[1] == "Release All Device success."
    jobs(sim, 2)
    assert sim.admin.run("release all") == (0, "Release All Device success.\n", "")  # one-shot, as the original
    jobs(sim, 2)
    assert json.loads(sim.admin.run("set output json") and sim.admin.run("release all").stdout) == \
        {"message": "Release All Device success.", "released": [6, 7]}


def test_set_commands_say_their_value_and_refuse_others(sim):
    ex = executor_for(sim)
    assert run(ex, "set pager")[1] == "Pager: auto"
    assert run(ex, "set pager OFF")[1] == "Pager: off"
    assert run(ex, "set expanded")[1] == "Expanded display: off"
    status, _, err = run(ex, "set expanded sometimes")
    assert (status, err) == (2, "Invalid mode 'sometimes': expected on | off | auto.")
