"""The command parser: the table, `Grammar.parse`, `COMMAND ?`, `help`, and the
Executor's promise never to raise, all checked against
the original's `help` listing (tests/data/original_help.txt, from the original's manual).

No server is needed: parsing never touches the network, and the Executor
property test runs against a port with nothing listening.
"""

from __future__ import annotations

import re
import shlex
import socket
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from smclient import handlers as h
from smclient.commands import COMMANDS, GRAMMAR
from smclient.errors import UsageError
from smclient.executor import Executor, Outcome
from smclient.grammar import Arg, Command, Invocation, Kind
from smclient.render import render, render_outcome
from smclient.results import Clear, Exit, HelpListing
from smclient.transport import Address, Connection

# The original's help listing, kept with the tests (its source is named in the file).
ORIGINAL_HELP = Path(__file__).resolve().parent / "data" / "original_help.txt"

BY_NAME = {name: c for c in COMMANDS for name in c.names}


def parse(line: str) -> Invocation:
    result = GRAMMAR.parse(line)
    assert isinstance(result, Invocation), f"{line!r} parsed to {result!r}"
    return result


def usage_message(name: str) -> str:
    return f"Invalid arguments. (usages : {BY_NAME[name].usage})"


# ====================================================================== 1. valid lines

VALID = [
    # tokens
    ("create token babu 5", "create token", {"description": "babu", "priority": 5}),
    ('create token "my team" -3', "create token", {"description": "my team", "priority": -3}),
    ("create token 'my team' 99", "create token", {"description": "my team", "priority": 99}),
    ("create token x -99", "create token", {"description": "x", "priority": -99}),
    ("CREATE TOKEN x", "create token", {"description": "x", "priority": None}),
    ("Create Token MyTeam", "create token", {"description": "MyTeam", "priority": None}),
    ("create token 여기 0", "create token", {"description": "여기", "priority": 0}),
    ("update token access level TOK admin", "update token access level", {"token": "TOK", "access_level": "ADMIN"}),
    ("UPDATE TOKEN ACCESS LEVEL AbC= Developer", "update token access level",
     {"token": "AbC=", "access_level": "DEVELOPER"}),
    ("update token priority YmFidTE2NjcyOTE2NTI0MjU= -5", "update token priority",
     {"token": "YmFidTE2NjcyOTE2NTI0MjU=", "priority": -5}),
    ("update token duplicable TOK 4", "update token duplicable", {"token": "TOK", "value": 4}),
    ("update token desc TOK 'new description'", "update token desc",
     {"token": "TOK", "description": "new description"}),
    ("update token sda max TOK 3", "update token sda max", {"token": "TOK", "max": 3}),
    ("update token sda current TOK 1542", "update token sda current", {"token": "TOK", "current_sda": 1542}),
    ("delete token TOK", "delete token", {"token": "TOK"}),
    # SDAs: the guide's order, the manual's order, both ints -> guide
    ("create sda TOK 1 sda_name", "create sda",
     {"token": "TOK", "sdamodel_id": 1, "description": "sda_name", "sdamodel_group_id": None}),
    ("create sda YmFidTE2NjcyOTE2NTI0MjU= 1 sda_name", "create sda",
     {"token": "YmFidTE2NjcyOTE2NTI0MjU=", "sdamodel_id": 1, "description": "sda_name", "sdamodel_group_id": None}),
    ("create sda TOK sda_name 1", "create sda",
     {"token": "TOK", "description": "sda_name", "sdamodel_id": 1, "sdamodel_group_id": None}),
    ("create sda TOK sda_name 1 2", "create sda",
     {"token": "TOK", "description": "sda_name", "sdamodel_id": 1, "sdamodel_group_id": 2}),
    ("create sda TOK 1 2", "create sda",
     {"token": "TOK", "sdamodel_id": 1, "description": "2", "sdamodel_group_id": None}),
    ('create sda TOK "my sda" 52', "create sda",
     {"token": "TOK", "description": "my sda", "sdamodel_id": 52, "sdamodel_group_id": None}),
    ("CREATE SDA Tok 1 Name", "create sda",
     {"token": "Tok", "sdamodel_id": 1, "description": "Name", "sdamodel_group_id": None}),
    ("create resv_sda TOK desc 3 4", "create resv_sda",
     {"token": "TOK", "description": "desc", "sdamodel_id": 3, "sdamodel_group_id": 4}),
    ("delete sda TOK", "delete sda", {"token": "TOK", "sda_id": None}),
    ("delete sda TOK 7", "delete sda", {"token": "TOK", "sda_id": 7}),
    ("update sda TOK 2", "update sda", {"token": "TOK", "sdamodel_id": 2, "sdamodel_group_id": None}),
    ("update sda id TOK 5 2 3", "update sda id",
     {"token": "TOK", "sda_id": 5, "sdamodel_id": 2, "sdamodel_group_id": 3}),
    # user groups
    ("create usergroup g1 TEST tok1,tok2", "create usergroup",
     {"name": "g1", "description": "TEST", "token_list": ["tok1", "tok2"], "description_or_tokens": None}),
    ("create usergroup group_C TEST dGFlczE2NzY2MDAwNDAzMTk=", "create usergroup",
     {"name": "group_C", "description": "TEST", "token_list": ["dGFlczE2NzY2MDAwNDAzMTk="],
      "description_or_tokens": None}),
    ("create usergroup g1 X", "create usergroup",
     {"name": "g1", "description": None, "token_list": None, "description_or_tokens": "X"}),
    ("create usergroup g1 a,b", "create usergroup",
     {"name": "g1", "description": None, "token_list": None, "description_or_tokens": "a,b"}),
    ("update usergroup list 19 Null", "update usergroup list", {"user_group_id": 19, "token_list": []}),
    ("update usergroup list 19 NULL", "update usergroup list", {"user_group_id": 19, "token_list": []}),
    ("update usergroup list 28 a,b", "update usergroup list", {"user_group_id": 28, "token_list": ["a", "b"]}),
    ("update usergroup name 3 'new name'", "update usergroup name", {"user_group_id": 3, "name": "new name"}),
    ("remove usergroup list 19 tok", "remove usergroup list", {"user_group_id": 19, "token": "tok"}),
    ("remove usergroup 19 tok", "remove usergroup", {"user_group_id": 19, "token": "tok"}),
    ("add usergroup 28 your_token_1", "add usergroup", {"user_group_id": 28, "token": "your_token_1"}),
    ("delete usergroup 4", "delete usergroup", {"user_group_id": 4, "force": None}),
    ("delete usergroup 4 FALSE", "delete usergroup", {"user_group_id": 4, "force": False}),
    # memberships, with the guide's trailing comment
    ("add membership 1 1      # a comment", "add membership", {"user_group_id": 1, "sdamodel_group_id": 1}),
    ("add membership 1 2 #no space", "add membership", {"user_group_id": 1, "sdamodel_group_id": 2}),
    ('create token "#team"', "create token", {"description": "#team", "priority": None}),
    ("create token a#b # comment", "create token", {"description": "a#b", "priority": None}),
    ("remove membership 1 2", "remove membership", {"user_group_id": 1, "sdamodel_group_id": 2}),
    # release
    ("release 24622", "release", {"token_or_frontend_id": "24622", "sda_id": None}),
    ("release TOKEN 5", "release", {"token_or_frontend_id": "TOKEN", "sda_id": 5}),
    ("release all", "release all", {}),
    ("RELEASE ALL", "release all", {}),
    # backends, groups, devices
    ("update backend group 3 null", "update backend group", {"backend_id": 3, "backend_group_id": None}),
    ("update backend group 3 0", "update backend group", {"backend_id": 3, "backend_group_id": 0}),
    ("update backend group 3", "update backend group", {"backend_id": 3, "backend_group_id": None}),
    ("update backend status 1 shutdown", "update backend status", {"backend_id": 1, "status": "SHUTDOWN"}),
    ("Update Backend Status 1 Active", "update backend status", {"backend_id": 1, "status": "ACTIVE"}),
    ("update backend host 2 node-02", "update backend host", {"backend_id": 2, "host_name": "node-02"}),
    ("update device 1 0 idle", "update device", {"backend_id": 1, "device_index": 0, "status": "IDLE"}),
    ("update device all 1 Processing", "update device all", {"backend_id": 1, "status": "PROCESSING"}),
    ("delete backendgroup 2 true", "delete backendgroup", {"backend_group_id": 2, "force": True}),
    ("delete backendgroup 2", "delete backendgroup", {"backend_group_id": 2, "force": None}),
    ("create backendgroup bg1 1,2,3", "create backendgroup", {"name": "bg1", "backend_list": [1, 2, 3]}),
    ("create backendgroup bg1", "create backendgroup", {"name": "bg1", "backend_list": None}),
    ("update backendgroup list 1 null", "update backendgroup list", {"backend_group_id": 1, "backend_list": []}),
    ("create sdamodelgroup mg1 0 1,2,52", "create sdamodelgroup",
     {"name": "mg1", "backend_group_id": 0, "sdamodel_list": [1, 2, 52]}),
    ("create backend node-01 10.0.0.1 8", "create backend", {"host_name": "node-01", "ip": "10.0.0.1",
                                                             "device_count": 8}),
    # listings
    ("show job running", "show job", {"status_of_job": "RUNNING"}),
    ("show job", "show job", {"status_of_job": None}),
    ("show backend", "show backend", {}),
    ("show backend group", "show backend group", {}),
    ("show backend name", "show backend name", {}),
    ("get backend group 0", "get backend group", {"backend_group": "0"}),  # an id or a name: the handler decides
    ("show backendgroup 0", "show backendgroup", {"backend_group_id": 0}),
    ("show history 10", "show history", {"count_of_history": 10}),
    ("show history device", "show history device", {"count_of_history": None}),
    ("show sda running", "show sda running", {}),
    ("show sdamodel TOK", "show sdamodel", {"token": "TOK"}),
    ("show server version", "show server version", {}),
    ("get job feid 28150", "get job feid", {"frontend_id": 28150}),
    ("get history token TOK 5", "get history token", {"token": "TOK", "count_of_history": 5}),
    ("show usage 2024-01-01 00:00:00 2024-01-02 00:00:00 TOK", "show usage",
     {"begin_date": "2024-01-01", "begin_time": "00:00:00", "end_date": "2024-01-02", "end_time": "00:00:00",
      "token": "TOK"}),
    # jobs
    ("update job priority 28150 -1", "update job priority", {"frontend_id": 28150, "priority": -1}),
    # versions: REST arguments join the rest of the line
    ("update version worker 23.9.2 python worker.py --flag", "update version worker",
     {"version": "23.9.2", "command": "python worker.py --flag"}),
    ("update version worker 23.9.2   python    worker.py", "update version worker",
     {"version": "23.9.2", "command": "python worker.py"}),
    ("update version path 23.9.2 /opt/moreh", "update version path",
     {"version": "23.9.2", "installed_path": "/opt/moreh"}),
    ("update version support 23.9.2 True", "update version support", {"version": "23.9.2", "supported": True}),
    ("add worker env 23.9.2 KEY value", "add worker env", {"version": "23.9.2", "name": "KEY", "value": "value"}),
    # the shell's own commands
    ("help", "help", {"topic": None}),
    ("h create sda", "help", {"topic": ("create", "sda")}),
    ('help "create sda"', "help", {"topic": ("create sda",)}),
    ("exit", "exit", {}),
    ("QUIT", "exit", {}),
    ("q", "exit", {}),
    ("clear", "clear", {}),
]


@pytest.mark.parametrize(("line", "name", "values"), VALID, ids=[v[0] for v in VALID])
def test_valid_line(line: str, name: str, values: dict) -> None:
    invocation = parse(line)
    assert invocation.command.name == name
    assert vars(invocation.args) == values


def test_remove_usergroup_variants_share_the_handler() -> None:
    guide = parse("remove usergroup list 19 tok")
    manual = parse("remove usergroup 19 tok")
    assert guide.command.handler is manual.command.handler is h.remove_usergroup
    assert vars(guide.args) == vars(manual.args)
    assert guide.command.hidden and not manual.command.hidden


@pytest.mark.parametrize("line", ["", "   ", "\t", "# only a comment", "   # indented comment"])
def test_blank_lines_parse_to_none(line: str) -> None:
    assert GRAMMAR.parse(line) is None


# ====================================================================== 2. invalid lines

UNKNOWN = "Unknown command: {!r}. Type 'help' to list the commands."

INVALID = [
    ("foo bar", UNKNOWN.format("foo bar")),
    ("foo bar baz qux", UNKNOWN.format("foo bar baz ...")),
    # too few / too many
    ("create token", usage_message("create token")),
    ("create token x 1 2", usage_message("create token")),
    ("create sda TOK", usage_message("create sda")),
    ("create sda TOK 1", usage_message("create sda")),
    ("create sda TOK a 1 2 3", usage_message("create sda")),
    ("create usergroup", usage_message("create usergroup")),
    ("create usergroup g1 a b c", usage_message("create usergroup")),
    ("release", usage_message("release")),
    ("release TOK 1 2", usage_message("release")),
    ("update device 1 0", usage_message("update device")),
    ("show usage 2024-01-01 00:00:00 2024-01-02", usage_message("show usage")),
    ("remove usergroup list 19", usage_message("remove usergroup list")),
    ("release all 5", "Invalid arguments. 'release all' takes no arguments."),
    ("show backend group 0", "Invalid arguments. 'show backend group' takes no arguments."),
    ("show backend x", "Invalid arguments. 'show backend' takes no arguments."),
    ("exit now", "Invalid arguments. 'exit' takes no arguments."),
    # values of the wrong type or out of range
    ("create token x 500", "Invalid priority '500': expected an integer from -99 to 99."),
    ("create token x -100", "Invalid priority '-100': expected an integer from -99 to 99."),
    ("create token x abc", "Invalid priority 'abc': expected an integer from -99 to 99."),
    ("update token priority TOK 100", "Invalid priority '100': expected an integer from -99 to 99."),
    ("update job priority 28150 abc", "Invalid priority 'abc': expected an integer from -99 to 99."),
    ("update backend status 1 BROKEN", "Invalid status 'BROKEN': expected SHUTDOWN | ACTIVE."),
    ("update device 1 0 broken",
     "Invalid status 'broken': expected SHUTDOWN | IDLE | PREPARING | PROCESSING | CLEANING."),
    ("update token access level TOK root", "Invalid access level 'root': expected USER | ADMIN | DEVELOPER."),
    ("show job done", "Invalid status of job 'done': expected QUEUED | SUMMITED | RUNNING."),
    ("update usergroup list 1 a,,b",
     "Invalid token list 'a,,b': expected values separated by commas (a,b,c) or null, without spaces."),
    ("update usergroup list 1 a,",
     "Invalid token list 'a,': expected values separated by commas (a,b,c) or null, without spaces."),
    ("create usergroup g1 TEST a,,b",
     "Invalid token list 'a,,b': expected values separated by commas (a,b,c) or null, without spaces."),
    ('create token "abc', "Cannot read the line: No closing quotation (close the quote)."),
    ("create token 'abc", "Cannot read the line: No closing quotation (close the quote)."),
    ("delete backendgroup 2 maybe", "Invalid force delete 'maybe': expected true or false."),
    (f"delete backend {2**70}", f"Invalid backend id '{2**70}': the number is too large."),
    (f"get job feid {2**63}", f"Invalid frontend id '{2**63}': the number is too large."),
    ("delete backend x", "Invalid backend id 'x': expected an integer from 1 to 9223372036854775807."),
    ("delete backend 0", "Invalid backend id '0': expected an integer from 1 to 9223372036854775807."),
    ("update backend group 3 -1",
     "Invalid backend group id '-1': expected an id or null."),
    ("create sda TOK sda_name x", "Invalid SDAModel ID 'x': expected an integer from 1 to 9223372036854775807."),
    ("create sda TOK -1 sda_name", "Invalid SDAModel ID '-1': expected an integer from 1 to 9223372036854775807."),
    ("update version support 1 yes", "Invalid supported 'yes': expected true or false."),
    ("show", "Incomplete command: 'show' goes on with backend | backendgroup | eventlog | history | job | "
     "membership | relationship | sda | sdamodel | sdamodelgroup | server | token | usage | usergroup | version. "
     "Type 'show ?' for their usages."),
    ("UPDATE Token", "Incomplete command: 'update token' goes on with access | desc | duplicable | priority | sda. "
     "Type 'update token ?' for their usages."),
    ("show foo", "Unknown command: 'show foo'. Type 'help' to list the commands."),
    # A long word comes back cut, with its length.
    ("delete backend " + "9x" * 5000,
     "Invalid backend id '9x9x9x9x9x9x9x9x9x9x9x9x9x9x9x9x9x9x9x9x'... (10000 characters): "
     "expected an integer from 1 to 9223372036854775807."),
    ("y" * 100 + " z", f"Unknown command: {'y' * 60!r}... (102 characters). Type 'help' to list the commands."),
]


@pytest.mark.parametrize(("line", "message"), INVALID, ids=[v[0] for v in INVALID])
def test_invalid_line(line: str, message: str) -> None:
    with pytest.raises(UsageError) as info:
        GRAMMAR.parse(line)
    assert str(info.value) == message
    assert "\n" not in str(info.value)


def test_usage_errors_exit_status_2() -> None:
    assert UsageError("x").exit_status == 2


# ---------------------------------------------------------------- bugs these tests found (now fixed)

def test_create_usergroup_name_only() -> None:
    """Both sources make everything after the name optional."""
    invocation = parse("create usergroup g1")
    assert invocation.command.name == "create usergroup"
    assert invocation.args.name == "g1"
    assert invocation.args.token_list in (None, [])
    assert invocation.args.description in (None, "")
    assert invocation.args.description_or_tokens is None


def test_rest_argument_keeps_quoted_words() -> None:
    invocation = parse('update version worker 23.9.2 sh -c "echo a b"')
    assert shlex.split(invocation.args.command) == ["sh", "-c", "echo a b"]


@pytest.mark.parametrize("line", ["update backendgroup list 1 1,x", "create backendgroup g x"])
def test_bad_id_in_list_message(line: str) -> None:
    with pytest.raises(UsageError) as info:
        GRAMMAR.parse(line)
    message = str(info.value)
    assert "backend list" in message
    assert not message.startswith("Invalid an ")


@pytest.mark.parametrize("line", ["delete backend 1_0", "delete backend ١٢", "create token x ٥"])
def test_only_ascii_decimal_numbers(line: str) -> None:
    with pytest.raises(UsageError):
        GRAMMAR.parse(line)


# ====================================================================== 3. COMMAND ? and help

def listed(result: object) -> list[str]:
    assert isinstance(result, HelpListing), result
    return [entry.name for entry in result.entries]


def test_question_mark_on_a_command() -> None:
    assert listed(GRAMMAR.parse("create sda ?")) == ["create sda"]


def test_question_mark_is_case_insensitive() -> None:
    assert listed(GRAMMAR.parse("CREATE Sda ?")) == ["create sda"]


def test_question_mark_on_a_prefix() -> None:
    names = listed(GRAMMAR.parse("update token ?"))
    expected = {c.name for c in COMMANDS if c.name.startswith("update token ")}
    assert set(names) == expected
    assert expected == {"update token access level", "update token desc", "update token duplicable",
                        "update token priority", "update token sda current", "update token sda max"}
    assert names == sorted(expected)


@pytest.mark.parametrize(("line", "name"), [("q ?", "q"), ("QUIT ?", "quit"), ("exit ?", "exit"), ("h ?", "h")])
def test_question_mark_on_an_alias_lists_that_name(line: str, name: str) -> None:
    assert listed(GRAMMAR.parse(line)) == [name]


def test_question_mark_on_unknown() -> None:
    with pytest.raises(UsageError) as info:
        GRAMMAR.parse("nonsense ?")
    assert str(info.value) == UNKNOWN.format("nonsense")


@pytest.fixture(scope="module")
def dead_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def executor(dead_port: int) -> Executor:
    connection = Connection(Address("127.0.0.1", dead_port), timeout=0.5)
    yield Executor(connection)
    connection.close()


@pytest.mark.parametrize("line", ["help create sda", "h create sda", "HELP CREATE SDA"])
def test_help_topic_is_question_mark(executor: Executor, line: str) -> None:
    via_help = executor.execute_line(line)
    via_question = executor.execute_line("create sda ?")
    assert via_help == via_question
    assert via_help.status == 0
    output, error = render_outcome(via_help.result)
    assert error == ""
    assert output.splitlines() == [
        "create sda                        : Create new SDA or add SDA to registered Token",
        "      (usages : create sda {token} {description} {SDAModel ID} {SDAModel Group ID : optional})",
    ]


def test_help_and_h_print_the_listing(executor: Executor) -> None:
    assert executor.execute_line("help") == Outcome(GRAMMAR.help())
    assert executor.execute_line("h") == Outcome(GRAMMAR.help())


@pytest.mark.parametrize("line", ["exit", "quit", "q", "EXIT"])
def test_exit_words(executor: Executor, line: str) -> None:
    outcome = executor.execute_line(line)
    assert isinstance(outcome.result, Exit) and outcome.exit and not outcome.clear
    assert outcome.status == 0 and render_outcome(outcome.result) == ("", "")


def test_clear(executor: Executor) -> None:
    outcome = executor.execute_line("clear")
    assert isinstance(outcome.result, Clear) and outcome.clear and not outcome.exit
    assert outcome.status == 0 and render_outcome(outcome.result) == ("", "")


EXECUTOR_USAGE = [case for case in INVALID if case[0] in {
    "foo bar", "create token", "create sda TOK 1", "release all 5", "create token x 500",
    "update backend status 1 BROKEN", 'create token "abc', f"delete backend {2**70}"}]


@pytest.mark.parametrize(("line", "message"), EXECUTOR_USAGE, ids=[v[0] for v in EXECUTOR_USAGE])
def test_executor_usage_errors(executor: Executor, line: str, message: str) -> None:
    """Usage errors are reported before any connection: status 2, the one line."""
    outcome = executor.execute_line(line)
    assert outcome.status == 2
    assert render_outcome(outcome.result) == ("", message)


def test_executor_unreachable_is_status_3(executor: Executor, dead_port: int) -> None:
    outcome = executor.execute_line("show token")
    assert outcome.status == 3
    output, error = render_outcome(outcome.result)
    assert f"127.0.0.1:{dead_port}" in error
    assert output == ""


@pytest.mark.parametrize("line", [
    "release ²",
    "release 99999999999999999999999",
    "show usage 0001-01-01 00:00:00 2024-01-01 00:00:00",
    "create token \udcff",
])
def test_executor_no_internal_error(executor: Executor, line: str) -> None:
    _, error = render_outcome(executor.execute_line(line).result)
    assert not error.startswith("Internal error"), error


# ====================================================================== 4. the table against the original

def manual_listing() -> list[str]:
    """The original's `help` block, line by line (tests/data/original_help.txt, its comments left out)."""
    lines = ORIGINAL_HELP.read_text(encoding="utf-8").splitlines()
    return [line for line in lines if not line.startswith("#")]


ENTRY = re.compile(r"^(\S(?:.*?\S)?) +: (.*)$")
USAGE = re.compile(r"^      \(usages : (.*)\)$")
# A line of another form under an entry, before its usage (the manual has one, under
# `delete usergroup`): the command shows it as it is.
VERBATIM = re.compile(r"^ {7,}\S.*$")


def manual_entries() -> dict[str, tuple[str, str | None, tuple[str, ...]]]:
    """Each command of the listing: (description, usage, the lines of another form shown before the usage)."""
    entries: dict[str, tuple[str, str | None, tuple[str, ...]]] = {}
    last = None
    for line in manual_listing():
        usage = USAGE.match(line)
        if usage:
            assert last is not None and entries[last][1] is None, line
            entries[last] = (entries[last][0], usage.group(1), entries[last][2])
            continue
        if VERBATIM.match(line):
            assert last is not None and entries[last][1] is None, line
            entries[last] = (entries[last][0], None, (*entries[last][2], line))
            continue
        entry = ENTRY.match(line)
        assert entry, f"unexpected line in the manual's listing: {line!r}"
        last = entry.group(1)
        assert last not in entries
        entries[last] = (entry.group(2), None, ())
    return entries


def test_manual_listing_is_read() -> None:
    entries = manual_entries()
    assert len(entries) == 94
    assert entries["delete usergroup"] == (
        "Delete UserGroup", "delete usergroup {user group id} {force delete [true|false] : optional}",
        ("            (usages: delete usergroup {group id} {force delete[true|false] : optional})",))
    assert entries["release all"] == ("Release All Device", None, ())
    assert [name for name, (_, _, verbatim) in entries.items() if verbatim] == ["delete usergroup"]


def test_visible_commands_are_the_manuals_plus_duplicable() -> None:
    visible = set(listed(GRAMMAR.help()))
    assert visible == set(manual_entries()) | {"update token duplicable"}
    assert "update token duplicable" not in manual_entries()


@pytest.mark.parametrize("name", sorted(manual_entries()))
def test_description_and_usage_match_the_manual(name: str) -> None:
    description, usage, verbatim = manual_entries()[name]
    command = BY_NAME[name]
    assert not command.hidden
    assert command.description == description
    assert command.usage == usage
    assert command.verbatim == verbatim


def test_delete_usergroup_shows_the_manuals_second_usage_line_as_it_is() -> None:
    """`help` and `delete usergroup ?` show it byte for byte, before the usual usage line."""
    second = "            (usages: delete usergroup {group id} {force delete[true|false] : optional})"
    usual = "      (usages : delete usergroup {user group id} {force delete [true|false] : optional})"
    name = "delete usergroup                  : Delete UserGroup"
    for listing in (render(GRAMMAR.help()), render(GRAMMAR.help(("delete", "usergroup")))):
        lines = listing.splitlines()
        at = lines.index(name)
        assert lines[at + 1:at + 3] == [second, usual]
    assert render(GRAMMAR.help(("delete", "usergroup"))) == "\n".join([name, second, usual])


def test_help_text_reproduces_the_manual() -> None:
    """The original's listing, as it was (one command from the guide added), and
    after it, under a heading of their own, this shell's commands."""
    from smclient.render import OWN_HEADING

    ours = render(GRAMMAR.help()).splitlines()
    own = ours.index(OWN_HEADING)
    assert ours[own - 1] == "" and ours[own + 1].startswith("set confirm ")
    ours = ours[: own - 1]
    added = ours.index("update token duplicable" + " " * 10 + " : Update Token Duplicable")
    assert ours[added + 1] == "      (usages : update token duplicable {token} {value})"
    without = ours[:added] + ours[added + 2:]
    assert without == manual_listing()


def test_help_text_has_no_hidden_commands() -> None:
    assert "remove usergroup list" not in render(GRAMMAR.help())


# ====================================================================== 5. the table's own consistency

PLACEHOLDER = re.compile(r"\{[^{}]*\}")


@pytest.mark.parametrize("command", [c for c in COMMANDS if c.usage], ids=lambda c: c.name)
def test_usage_placeholders_match_args(command: Command) -> None:
    assert len(PLACEHOLDER.findall(command.usage)) == len(command.args)
    assert command.usage.startswith(command.name + " ")


OVERRIDDEN = [c for c in COMMANDS if c.usage_override is not None]


def test_usage_overrides_are_few_and_each_needed() -> None:
    """An override is only for the original's words that the arguments cannot give; one
    equal to the derived usage would hide a change of the arguments."""
    for command in OVERRIDDEN:
        assert command.usage != command.derived_usage(), f"{command.name}: the override is the derived usage"
    assert sorted(c.name for c in OVERRIDDEN) == [
        "add sdamodelgroup",  # "{SDAModel id}" where the argument (and its errors) say "SDAModel ID"
        "help",  # no usage line: the topic is not in the original's listing
        "release",  # "{[token | fronend id]}": a typo and brackets of its own
        "remove sdamodelgroup",  # as add sdamodelgroup
        "show job",  # choices not listed
        "update device",  # choices not listed
        "update device all",  # choices not listed
    ]


@pytest.mark.parametrize("name", sorted(manual_entries()))
def test_usage_is_derived_from_the_arguments_unless_overridden(name: str) -> None:
    command = BY_NAME[name]
    _, usage, _ = manual_entries()[name]
    if command.usage_override is None:
        assert command.derived_usage() == usage
    else:
        assert (command.usage_override or None) == usage


@pytest.mark.parametrize(("arg", "usage"), [
    (Arg("name"), "{name}"),
    (Arg("count", Kind.INT, optional=True), "{count : optional}"),
    (Arg("status", Kind.CHOICE, choices=("ON", "OFF")), "{status [ON|OFF]}"),
    (Arg("force", Kind.BOOL, optional=True), "{force [true|false] : optional}"),
    (Arg("group id", Kind.INT_OR_NULL), "{group id [id | null]}"),
    (Arg("node list", Kind.INT_LIST, optional=True), "{node list [node id 1,node id 2,node id 3,...] : optional}"),
    (Arg("name list", Kind.TEXT_LIST), "{name list [name 1,name 2,... | null]}"),
    (Arg("day", form="YYYY-MM-DD"), "{day [YYYY-MM-DD]}"),
])
def test_argument_usage(arg: Arg, usage: str) -> None:
    assert arg.usage() == usage


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: c.name)
def test_args_are_well_formed(command: Command) -> None:
    names = [a.name for a in command.args]
    assert len(names) == len(set(names))
    optional = [a.optional for a in command.args]
    if command.binder is None:  # binding in order (a binder of its own may tell them apart: watch's number)
        assert optional == sorted(optional), "a required argument after an optional one"
    for arg in command.args:
        assert len({choice.upper() for choice in arg.choices}) == len(arg.choices)  # told apart in any case
        if arg.kind is Kind.REST:
            assert arg is command.args[-1]


def test_names_are_lower_case_and_unique() -> None:
    names = [c.name for c in COMMANDS]
    assert len(names) == len(set(names))
    assert all(name == name.lower() for name in names)


def test_the_shells_own_commands_are_rows_with_aliases() -> None:
    assert all(callable(c.handler) for c in COMMANDS)
    assert {c.name: c.aliases for c in COMMANDS if c.aliases} == {"exit": ("quit", "q"), "help": ("h",)}
    for command in COMMANDS:
        if command.aliases:  # the original's description names them all
            assert command.description.endswith(f"(same command: {', '.join(command.names)})")


def test_alias_names_are_lower_case_and_unique() -> None:
    names = [name for c in COMMANDS for name in c.names]
    assert len(names) == len(set(names))
    assert all(name == name.lower() for name in names)


# ====================================================================== 6. properties

COMMAND_WORDS = sorted({w for c in COMMANDS for w in c.words} | {"?", "null", "Null", "all", "list"})
ARG_TOKENS = st.one_of(
    st.integers(min_value=-(2**80), max_value=2**80).map(str),
    st.integers(min_value=-120, max_value=120).map(str),
    st.sampled_from(["null", "NULL", "true", "false", "maybe", "idle", "ACTIVE", "admin", "running", "a,b",
                     "1,2,3", "a,,b", ",", "#", "# c", "\"", "'", '"a b"', "'x y'", "\\", "?", "1_0", "²",
                     "2024-01-01", "00:00:00", "YmFidTE2NjcyOTE2NTI0MjU=", "", " "]),
    st.text(max_size=12),
)
WORD_LINES = st.lists(st.one_of(st.sampled_from(COMMAND_WORDS), ARG_TOKENS), min_size=0, max_size=9).map(" ".join)

# Real commands followed by argument-like tokens: most lines reach a binder.
COMMAND_LINES = st.tuples(
    st.sampled_from(COMMANDS).map(lambda c: " ".join(c.words)),
    st.lists(ARG_TOKENS, max_size=6).map(" ".join),
).map(" ".join)

ANY_LINE = st.one_of(st.text(), WORD_LINES, COMMAND_LINES)


@settings(max_examples=400, deadline=None)
@given(ANY_LINE)
def test_parse_raises_only_usage_error(line: str) -> None:
    try:
        result = GRAMMAR.parse(line)
    except UsageError as err:
        assert str(err) and "\n" not in str(err)
        return
    assert result is None or isinstance(result, (Invocation, HelpListing))
    if isinstance(result, Invocation):
        expected = {a.name for a in result.command.args}
        if result.command.name == "create sda":
            expected |= {"sdamodel_group_id"}
        if result.command.name == "create usergroup":
            expected = {"name", "description", "token_list", "description_or_tokens"}
        assert set(vars(result.args)) == expected
    if isinstance(result, HelpListing):
        assert result.entries or result.own  # (`set ?`: only the shell's own commands)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(line=ANY_LINE)
def test_executor_never_raises(executor: Executor, line: str) -> None:
    outcome = executor.execute_line(line)
    assert isinstance(outcome, Outcome)
    assert outcome.status in {0, 1, 2, 3}
    output, error = render_outcome(outcome.result)
    assert "\n" not in error
    assert "Traceback" not in error and "Traceback" not in output


# ---------------------------------------------------------------- splitting a line


def shlex_split_line(line: str) -> list[str]:
    """The reference: shlex in POSIX mode, a word starting with an unquoted '#' ends
    the line (the splitter before it was made linear; it was quadratic)."""
    lexer = shlex.shlex(line, posix=True)
    lexer.whitespace_split = True
    lexer.commenters = ""
    words: list[str] = []
    try:
        while True:
            rest = lexer.instream.read()
            lexer.instream = __import__("io").StringIO(rest)
            if rest.lstrip(" \t\r\n").startswith("#"):
                break
            word = lexer.get_token()
            if word is None:
                break
            words.append(word)
    except ValueError as err:
        raise UsageError(f"Cannot read the line: {err} (close the quote).") from None
    return words


def split_or_error(split, line: str):  # type: ignore[no-untyped-def]
    try:
        return split(line)
    except UsageError as err:
        return str(err)


@settings(max_examples=3000, deadline=None)
@given(st.text(alphabet=st.sampled_from(list("ab #'\"\\\t\n\r\x0b\u00a0é")), max_size=30))
def test_split_line_splits_as_shlex_does(line):
    from smclient.grammar import split_line

    assert split_or_error(split_line, line) == split_or_error(shlex_split_line, line)


@pytest.mark.parametrize(("line", "words"), [
    ("add membership 1 1   # the guide's comment", ["add", "membership", "1", "1"]),
    ("create token 'a b' \"c \\\" d\" e\\ f", ["create", "token", "a b", 'c " d', "e f"]),
    ("x '' \"\" y", ["x", "", "", "y"]),
    ("a#b '#c' \\#d", ["a#b", "#c", "#d"]),
    ('"back\\slash" \'back\\slash\'', ["back\\slash", "back\\slash"]),
])
def test_split_line_examples(line, words):
    from smclient.grammar import split_line

    assert split_line(line) == words


def test_a_megabyte_line_is_split_in_linear_time():
    """1 MB of short words and 1 MB in one word: both well under a second (the
    shlex-based splitter took 17-27 s on such lines); a count of operations
    would be better than a time, but the old cost was quadratic: 100x the
    bound here."""
    import time

    from smclient.grammar import split_line

    for line in ("create token " + "w " * 500_000, "get token " + "x" * 1_000_000):
        started = time.perf_counter()
        words = split_line(line)
        assert len(words) in (500_002, 3)
        assert time.perf_counter() - started < 5
