"""Every command of the table, under each of its names, walked: its `?` prints
its help entry, and a real call through the same path an operator's line takes
succeeds against a simulator holding a little of everything."""

from __future__ import annotations

import pytest

from sdamanager_stub.entities import DeviceStatus
from sdamanager_stub.manager import new_manager
from sdamanager_stub.server import create_server
from smclient import handlers
from smclient.commands import COMMANDS
from smclient.executor import Executor
from smclient.render import render_outcome
from smclient.results import Watch
from smclient.transport import Address, Connection

# One working line per command; {T} a token with an SDA and a running job,
# {U} a token without SDA, {Q} a token whose job waits, {H} a token with a
# finished job.  Ids: backend 4 is in backend group 1; SDA model group 1 (in
# backend group 1) holds model 1; user group 1 holds {T}; FeID 1 runs, 2 waits,
# 3 is in the history.
EXAMPLES = {
    "add backendgroup": "add backendgroup 1 3",
    "add membership": "add membership 2 1",
    "add sdamodelgroup": "add sdamodelgroup 1 2",
    "add token env": "add token env {T} MOREH_X 1",
    "add usergroup": "add usergroup 1 {U}",
    "add worker env": "add worker env 23.9.2 MOREH_LOG debug",
    "clear": "clear",
    "create backend": "create backend rx6900-7 10.0.0.7 8",
    "create backendgroup": "create backendgroup bg2 3",
    "create resv_sda": "create resv_sda {U} reserved 1",
    "create sda": "create sda {U} 1 sda_name",
    "create sdamodel": "create sdamodel Tiny.32GB 1",
    "create sdamodelgroup": "create sdamodelgroup mg2 0 1,2",
    "create token": "create token new_customer 3",
    "create usergroup": "create usergroup ug3 TEST {U}",
    "create version": "create version 24.1.0 /opt/moreh/24.1.0",
    "delete backend": "delete backend 3",
    "delete backendgroup": "delete backendgroup 1 true",
    "delete sda": "delete sda {H}",
    "delete sdamodel": "delete sdamodel 12",
    "delete sdamodelgroup": "delete sdamodelgroup 1 true",
    "delete token": "delete token {U}",
    "delete usergroup": "delete usergroup 1 true",
    "delete version": "delete version 23.9.2",
    "exit": "exit",
    "get backend beid": "get backend beid 1",
    "get backend group": "get backend group 1",
    "get backend name": "get backend name back02",
    "get history feid": "get history feid 3",
    "get history token": "get history token {H} 5",
    "get job feid": "get job feid 1",
    "get job token": "get job token {T}",
    "get sda": "get sda {T}",
    "get token": "get token {T}",
    "h": "h",
    "help": "help",
    "q": "q",
    "quit": "quit",
    "release": "release 1",
    "release all": "release all",
    "remove backendgroup": "remove backendgroup 1 4",
    "remove membership": "remove membership 1 1",
    "remove sdamodelgroup": "remove sdamodelgroup 1 1",
    "remove token env": "remove token env {T} MOREH_ENV",
    "remove usergroup": "remove usergroup 1 {T}",
    "remove usergroup list": "remove usergroup list 1 {T}",
    "remove worker env": "remove worker env 23.9.2 MOREH_WORKER",
    "show backend": "show backend",
    "show backend group": "show backend group",
    "show backend name": "show backend name",
    "show backendgroup": "show backendgroup 1",
    "show eventlog": "show eventlog",
    "show history": "show history 10",
    "show history device": "show history device",
    "show job": "show job QUEUED",
    "show membership": "show membership 1",
    "show relationship": "show relationship",
    "show sda": "show sda",
    "show sda running": "show sda running",
    "show sda token": "show sda token",
    "show sdamodel": "show sdamodel {T}",
    "show sdamodelgroup": "show sdamodelgroup 1",
    "show server version": "show server version",
    "show token": "show token",
    "show token running": "show token running",
    "show usage": "show usage 2000-01-01 00:00:00 2100-01-01 00:00:00",
    "show usergroup": "show usergroup 1",
    "show version": "show version 23.9.2",
    "update backend group": "update backend group 3 1",
    "update backend host": "update backend host 3 rx6900-3",
    "update backend ip": "update backend ip 3 10.0.0.3",
    "update backend status": "update backend status 3 SHUTDOWN",
    "update backendgroup list": "update backendgroup list 1 3,4",
    "update backendgroup name": "update backendgroup name 1 gpu_a",
    "update device": "update device 3 0 SHUTDOWN",
    "update device all": "update device all 3 SHUTDOWN",
    "update job priority": "update job priority 2 -1",
    "update sda": "update sda {H} 2",
    "update sda id": "update sda id {H} 3 2",
    "update sdamodelgroup backendgroup": "update sdamodelgroup backendgroup 1 0",
    "update sdamodelgroup list": "update sdamodelgroup list 1 1,2,3",
    "update sdamodelgroup name": "update sdamodelgroup name 1 small_models",
    "update token access level": "update token access level {T} DEVELOPER",
    "update token desc": "update token desc {T} \"renamed customer\"",
    "update token duplicable": "update token duplicable {T} 2",
    "update token priority": "update token priority {T} 10",
    "update token sda current": "update token sda current {T} 1",
    "update token sda max": "update token sda max {U} 4",
    "update usergroup list": "update usergroup list 1 {T},{U}",
    "update usergroup name": "update usergroup name 1 renamed",
    "update version health_check": "update version health_check 23.9.2 moreh-smi --health",
    "update version latest": "update version latest 23.9.2",
    "update version path": "update version path 23.9.2 /srv/moreh",
    "update version query": "update version query 23.9.2 moreh-smi --query",
    "update version support": "update version support 23.9.2 false",
    "update version worker": "update version worker 23.9.2 python -m moreh.worker",
    "watch": "watch 5 show job",
    "set output": "set output csv",
    "set pager": "set pager off",
    "set expanded": "set expanded auto",
    "set confirm": "set confirm off",
}


def prepared():
    m = new_manager(backends=4, devices=8)
    tokens = {name: m.create_token(f"{name.lower()}_customer", 0).value for name in "TUQH"}
    m.create_sda(tokens["T"], "t", 1)
    m.add_token_env(tokens["T"], "MOREH_ENV", "1")
    m.create_backendgroup("bg1", [4])
    m.create_sdamodelgroup("mg1", 1, [1])
    m.create_usergroup("ug1", "", [tokens["T"]])
    m.create_usergroup("ug2", "")
    m.add_membership(1, 1)
    m.create_version("23.9.2", "/opt/moreh/23.9.2")
    m.add_worker_env("23.9.2", "MOREH_WORKER", "1")
    m.request_devices(tokens["T"], 10, "python t.py")  # FeID 1 runs
    m.create_sda(tokens["Q"], "q", 6)  # 24 devices: the default group's 24 are not all idle
    m.update_device_status(2, 0, DeviceStatus.SHUTDOWN)
    m.request_devices(tokens["Q"], 11, "python q.py")  # FeID 2 waits
    m.update_token_max_sda(tokens["H"], 3)
    for model in (1, 1, 1):
        m.create_sda(tokens["H"], "h", model)
    m.finish_job(m.request_devices(tokens["H"], 12, "python h.py").feid)  # FeID 3 ends
    return m, tokens


@pytest.fixture
def world():
    m, tokens = prepared()
    server, port = create_server("127.0.0.1:0", m)
    server.start()
    connection = Connection(Address("127.0.0.1", port), timeout=5)
    yield Executor(connection), tokens, m
    connection.close()
    server.stop(0)


NAMES = [(name, command) for command in COMMANDS for name in command.names]


def test_every_command_has_an_example():
    assert sorted(EXAMPLES) == sorted(name for name, _ in NAMES)


@pytest.mark.parametrize(("name", "command"), NAMES, ids=[name for name, _ in NAMES])
def test_question_mark_prints_the_help_entry(name, command):
    executor = Executor(Connection(Address("127.0.0.1", 1), timeout=0.5))  # never contacted
    outcome = executor.execute_line(f"{name} ?")
    output, error = render_outcome(outcome.result)
    assert (outcome.status, error) == (0, "")
    entry = [f"{name:<33} : {command.description}", *command.verbatim]  # (delete usergroup's second usage line)
    if command.usage:
        entry.append(f"      (usages : {command.usage})")
    assert output == "\n".join(entry)


@pytest.mark.parametrize(("name", "command"), NAMES, ids=[name for name, _ in NAMES])
def test_a_real_call_succeeds(name, command, world):
    executor, tokens, m = world
    line = EXAMPLES[name].format(**tokens)
    events = len(m.events)
    if command.words == ("watch",):  # the interactive shell runs it (test_repl_smoke); elsewhere a usage error
        assert executor.execute_line(line).status == 2
        assert Executor(executor.connection, interactive=True).execute_line(line).result == Watch(5.0, "show job")
        return
    outcome = executor.execute_line(line)
    output, error = render_outcome(outcome.result)
    assert outcome.status == 0, error
    assert error == ""
    if command.handler.__module__ != handlers.__name__:
        return  # the shell's own command: SDAManager was not asked
    if command.words[0] in ("show", "get"):
        assert output.startswith("+-"), output  # a table
    else:
        # a change: the server recorded it as a success
        assert m.events[-1].result == "SUCCESS" and len(m.events) > events, (line, m.events[-1])


@pytest.mark.parametrize(("word", "shown"), [("off", "off"), ("OFF", "off"), ("unlimited", "unlimited"), ("3", "3")])
def test_duplicable_takes_the_words_the_table_shows(world, word, shown):
    executor, tokens, m = world
    token = tokens["U"]
    m.update_token_duplicable(token, 5)
    outcome = executor.execute_line(f"update token duplicable {token} {word}")
    assert outcome.status == 0, render_outcome(outcome.result)
    output, _ = render_outcome(executor.execute_line(f"get token {token}").result)
    header, row = ([cell.strip() for cell in line.split("|")] for line in output.splitlines()[1:4:2])
    assert row[header.index("Duplicable")] == shown, output


def test_a_mistyped_token_in_create_usergroup_is_refused_not_a_description(world):
    executor, tokens, m = world
    groups = len(m.user_groups)
    for word in ("YmFidTE2NjcyOTE2NTI0MjU=", f"{tokens['T']},YmFidTE2NjcyOTE2NTI0MjU="):
        outcome = executor.execute_line(f"create usergroup typo {word}")
        output, error = render_outcome(outcome.result)
        assert outcome.status == 1
        assert error == "Create UserGroup failed. (Token 'YmFidTE2NjcyOTE2NTI0MjU=' does not exist.)"
    assert len(m.user_groups) == groups
    # A description stays one, as in the guide.
    assert executor.execute_line("create usergroup group_H TEST").status == 0
    assert m.user_groups[max(m.user_groups)].description == "TEST"


@pytest.mark.parametrize("description", ["babu", "x", "", "고객사", "a b c d e", "TEST"])
def test_every_token_the_server_makes_looks_like_a_token(description):
    m = new_manager(backends=0, devices=0)
    assert all(handlers.looks_like_token(m.create_token(description or "d", 0).value) for _ in range(20))


@pytest.mark.parametrize("word", ["TEST", "small_customers", "group-A", "nosuchtoken", "a" * 24, "YWJjZA=="])
def test_descriptions_do_not_look_like_tokens(word):
    assert not handlers.looks_like_token(word)


LISTINGS = [(name, command) for name, command in NAMES if command.shape is not None]


def _first_word(result):
    """(field, value, each row's values there): the first row's first cell that is one word,
    of a listing's result (a table, or a list of Name/Value records)."""
    from smclient.filters import fields, is_name_value
    from smclient.results import Table

    def values(cell):
        return [cell] if isinstance(cell, str) else [v for v in cell if isinstance(v, str)]

    records = result if isinstance(result, list) else [result]
    assert records and all(isinstance(r, Table) for r in records)
    if is_name_value(records[0]):
        for k, name in enumerate(fields(records[0])):
            value = records[0].rows[k][1]
            if value and " " not in value:
                return name, value, [values(r.rows[k][1]) for r in records]
    table = records[0]
    for j, name in enumerate(fields(table)):
        first = values(table.rows[0][j])
        if table.columns[j].kind != "devices" and first and first[0] and " " not in first[0]:
            return name, first[0], [values(row[j]) for row in table.rows]
    raise AssertionError("no one-word cell in the first row")


@pytest.mark.parametrize(("name", "command"), LISTINGS, ids=[name for name, _ in LISTINGS])
def test_where_keeps_the_rows_that_match_on_every_listing(name, command, world):
    """Each listing with `where FIELD=VALUE` (the first row's first one-word cell) keeps
    exactly the rows with that value there, and `!=` the others."""
    executor, tokens, m = world
    line = EXAMPLES[name].format(**tokens)
    result = executor.execute_line(line).result
    field, value, column = _first_word(result)
    kept = executor.execute_line(f"{line} where {field}={value}")
    assert kept.status == 0, render_outcome(kept.result)
    dropped = executor.execute_line(f"{line} where {field}!={value}")
    matching = [value in texts for texts in column]
    if isinstance(result, list) or result.columns[0].header == "Name" and result.record:  # records
        def count(records):  # a record that matched is itself; none, []
            return len(records) if isinstance(records, list) else 1

        assert count(kept.result) == sum(matching) >= 1 and count(dropped.result) == len(matching) - sum(matching)
    else:
        assert kept.result.rows == [row for row, match in zip(result.rows, matching) if match]
        assert len(dropped.result.rows) == len(result.rows) - sum(matching)
