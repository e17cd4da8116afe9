"""The interactive shell, driven by keystrokes through prompt_toolkit's pipe input.

The shell runs in the test's thread on `create_pipe_input()` and `DummyOutput()`;
a typist thread sends keys, waiting where a human would (for completions to
arrive, for the next prompt).  Also: the completer position by position, the
live-name cache, history files, and that one-shot mode never imports prompt_toolkit.
"""

from __future__ import annotations

import io
import os
import stat
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from helpers import wait_for
from hypothesis import given, settings
from hypothesis import strategies as st
from prompt_toolkit.input import create_pipe_input
from prompt_toolkit.output import DummyOutput

from sdamanager_stub.server import create_server
from smclient.commands import COMMANDS, GRAMMAR
from smclient.completion import ShellCompleter, _quoted, scan, usage_hint
from smclient.executor import Outcome
from smclient.history import ShellHistory, default_path
from smclient.live_names import SOURCE_FEEDS, Chained, LiveNames, Names
from smclient.render import banner
from smclient.repl import Shell
from smclient.results import Message
from smclient.transport import Address, Connection

UP = "\x1b[A"
CTRL_C = "\x03"
CTRL_D = "\x04"
CTRL_R = "\x12"
TAB = "\t"
ENTER = "\r"
PASTE_START, PASTE_END = "\x1b[200~", "\x1b[201~"


class Session:
    """A Shell on a pipe input, with its stdout and stderr captured."""

    def __init__(self, connection: Connection, history_path: Path | None = None,
                 live: LiveNames | None = None) -> None:
        self.stdout = io.StringIO()
        self.stderr = io.StringIO()
        self.history = ShellHistory(history_path, warn=lambda message: print(message, file=self.stderr))
        self.connection = connection
        self.live = live
        self.status: int | None = None
        self.error: BaseException | None = None

    def run(self, typist: Callable[[Typist], None], timeout: float = 30.0) -> int:
        with create_pipe_input() as pipe:
            shell = Shell(self.connection, input=pipe, output=DummyOutput(), history=self.history,
                          live=self.live, stdout=self.stdout, stderr=self.stderr)
            typing = Typist(pipe, shell)

            def type_all() -> None:
                try:
                    typist(typing)
                except BaseException as err:  # report it in the test's thread
                    self.error = err
                    pipe.send_text(CTRL_C + CTRL_D)

            thread = threading.Thread(target=type_all, daemon=True)
            thread.start()
            self.status = shell.run()
            thread.join(timeout)
        if self.error is not None:
            raise self.error
        return self.status


class Typist:
    def __init__(self, pipe, shell: Shell) -> None:  # type: ignore[no-untyped-def]
        self.pipe = pipe
        self.shell = shell
        # (text, asked for by Tab) of each completion the shell finished, in order: what
        # settle() and tabbed() wait for.  (A completion that the next keystroke made
        # stale is abandoned by prompt_toolkit and not recorded.)
        self.completed: list[tuple[str, bool]] = []
        complete = shell.completer.get_completions

        def recorded(document, event):  # type: ignore[no-untyped-def]
            yield from complete(document, event)
            self.completed.append((document.text, event.completion_requested))

        shell.completer.get_completions = recorded  # type: ignore[method-assign]
        self.typed = ""  # the line as it reads once the keys type() sent have all been taken

    @property
    def text(self) -> str:
        session = self.shell.session
        return session.default_buffer.text if session is not None else ""

    def at_prompt(self) -> None:
        """Wait until the shell shows a prompt with an empty line."""
        wait_for(lambda: self.shell.session is not None and self.shell.session.app.is_running
                 and self.text == "", what="the prompt")

    def type(self, keys: str, pause: float = 0.005) -> None:
        self.typed = self.text + keys  # keys go at the end of the line, in these tests
        for key in keys:
            self.pipe.send_text(key)
            time.sleep(pause)

    def tab_until(self, expected: str) -> None:
        """Tab, as an operator does once the menu shows what they want."""
        self.settle()
        self.pipe.send_text(TAB)
        wait_for(lambda: self.text == expected, what=lambda: f"the line to read {expected!r} (it reads {self.text!r})")

    def settle(self) -> None:
        """Wait for the completion started by typing to finish (a human is slower than that)."""
        wait_for(lambda: self.text == self.typed and (self.typed, False) in self.completed[-1:],
                 what=lambda: f"the completion of {self.typed!r} (the line reads {self.text!r}, "
                              f"completions done: {self.completed[-3:]})")

    def tabbed(self) -> None:
        """Wait for the Tab just pressed to have looked for completions of the line."""
        wait_for(lambda: (self.text, True) in self.completed,
                 what=lambda: f"Tab's completion of {self.text!r} (done: {self.completed[-3:]})")

    def line(self, text: str) -> None:
        self.at_prompt()
        self.type(text)
        self.pipe.send_text(ENTER)

    def ctrl_d(self) -> None:
        self.at_prompt()
        self.pipe.send_text(CTRL_D)


@pytest.fixture
def connection(sdamanager) -> Iterator[Connection]:
    conn = Connection(Address("127.0.0.1", sdamanager.port), timeout=3)
    yield conn
    conn.close()


# ============================================================================ keystrokes


def test_banner_first_line_names_the_address_and_second_the_project(connection, tmp_path):
    session = Session(connection, tmp_path / "history")
    assert session.run(lambda t: t.ctrl_d()) == 0
    lines = session.stdout.getvalue().splitlines()
    assert lines[0] == f"SDAManager's Client. Connect to 127.0.0.1:{connection.address.port}"
    assert lines[1].startswith("moreh_smclient ") and "(open re-implementation)" in lines[1]
    assert lines[2] == ""  # every session in the guide has a blank line before the first prompt
    assert "Moreh" not in lines[1] and "Copyright" not in session.stdout.getvalue()
    assert session.stderr.getvalue() == ""


def test_tab_completes_verbs_and_nouns_then_the_command_runs(connection, tmp_path):
    def typist(t: Typist) -> None:
        t.at_prompt()
        t.type("sh")
        t.tab_until("show ")
        t.type("sdam")
        t.tab_until("show sdamodel ")  # the menu shows sdamodel and sdamodelgroup: Tab takes the first
        t.pipe.send_text(ENTER)
        t.ctrl_d()

    session = Session(connection, tmp_path / "history")
    assert session.run(typist) == 0
    out = session.stdout.getvalue()
    assert "|  52  |  1.5xLarge.768GB   |       12  |" in out
    assert session.stderr.getvalue() == ""


def test_tab_in_the_same_instant_as_the_text_inserts_a_unique_completion(connection, tmp_path):
    """A fast typist or a paste: the text and Tab arrive together, before the
    completion started by typing has finished; readline inserts the one
    completion there is, and so does the shell."""
    def typist(t: Typist) -> None:
        t.at_prompt()
        t.pipe.send_text("sh" + TAB)
        wait_for(lambda: t.text == "show ", what=lambda: repr(t.text))
        t.pipe.send_text("sdamodelg" + TAB)
        wait_for(lambda: t.text == "show sdamodelgroup ", what=lambda: repr(t.text))
        t.pipe.send_text(CTRL_C)
        t.ctrl_d()

    session = Session(connection, tmp_path / "history")
    assert session.run(typist) == 0


def test_tab_completes_argument_choices_by_position(connection, tmp_path, sdamanager):
    def typist(t: Typist) -> None:
        t.at_prompt()
        t.type("update backend status 2 sh")
        t.tab_until("update backend status 2 SHUTDOWN ")
        t.pipe.send_text(ENTER)
        t.ctrl_d()

    session = Session(connection, tmp_path / "history")
    assert session.run(typist) == 0
    assert session.stdout.getvalue().endswith("Update Backend Status success.\n")
    assert sdamanager.manager.backends[2].status.name == "SHUTDOWN"


def test_tab_completes_live_tokens_and_finds_them_by_description(connection, tmp_path, sdamanager):
    alpha = sdamanager.manager.create_token("alpha team").value
    beta = sdamanager.manager.create_token("beta team", 5).value

    def typist(t: Typist) -> None:
        t.at_prompt()
        t.type("get token " + alpha[:6])
        t.tab_until(f"get token {alpha} ")  # the only token starting so (tokens are random)
        t.pipe.send_text(ENTER)
        t.at_prompt()
        t.type("update token priority beta")  # an operator knows the customer, not the token
        t.tab_until(f"update token priority {beta} ")
        t.type("-3" + ENTER)
        t.ctrl_d()

    session = Session(connection, tmp_path / "history")
    assert session.run(typist) == 0
    out = session.stdout.getvalue()
    assert "alpha team" in out
    assert out.endswith("Update Token Priority success.\n")
    assert sdamanager.manager.tokens[beta].priority == -3


def test_live_names_that_arrive_after_tab_are_shown_when_they_come(connection, tmp_path, sdamanager):
    token = sdamanager.manager.create_token("late").value
    gate = threading.Event()

    class SlowNames(LiveNames):
        def fetch_now(self, name, pb=None):  # type: ignore[no-untyped-def]
            gate.wait(10)  # a slow server: nothing arrives until the typist has pressed Tab
            return super().fetch_now(name, pb)

    live = SlowNames(connection.clone(), ttl=60)

    def typist(t: Typist) -> None:
        t.at_prompt()
        t.type("delete token ")
        t.settle()
        t.pipe.send_text(TAB)  # the names are not here yet; the keystroke does not wait for them
        t.tabbed()
        assert t.text == "delete token "
        gate.set()  # now they come, and the menu with them
        wait_for(lambda: t.shell.session.default_buffer.complete_state is not None
                 and len(t.shell.session.default_buffer.complete_state.completions) == 1, what="the menu")
        t.pipe.send_text(TAB)
        wait_for(lambda: t.text == f"delete token {token} ", what=lambda: repr(t.text))
        t.pipe.send_text(CTRL_C)
        t.ctrl_d()

    session = Session(connection, tmp_path / "history", live=live)
    assert session.run(typist) == 0
    assert token in sdamanager.manager.tokens  # Ctrl-C: nothing ran


def test_ctrl_c_clears_the_line_and_the_session_goes_on(connection, tmp_path, sdamanager):
    def typist(t: Typist) -> None:
        t.at_prompt()
        t.type("delete token")
        t.pipe.send_text(CTRL_C)
        t.line("show sdamodel")
        t.ctrl_d()

    session = Session(connection, tmp_path / "history")
    assert session.run(typist) == 0
    assert "Small.64GB" in session.stdout.getvalue()
    assert session.stderr.getvalue() == ""  # `delete token` never ran


def test_ctrl_d_leaves_only_on_an_empty_line(connection, tmp_path):
    def typist(t: Typist) -> None:
        t.at_prompt()
        t.type("show sdamodelx")
        t.pipe.send_text("\x1b[D" + CTRL_D)  # on a character: deletes it, as in a shell
        wait_for(lambda: t.text == "show sdamodel", what="the x to go")
        t.pipe.send_text(ENTER)
        t.ctrl_d()

    session = Session(connection, tmp_path / "history")
    assert session.run(typist) == 0
    assert "Small.64GB" in session.stdout.getvalue()


@pytest.mark.parametrize("word", ["exit", "quit", "q", "EXIT"])
def test_exit_words_leave(connection, tmp_path, word):
    session = Session(connection, tmp_path / "history")
    assert session.run(lambda t: t.line(word)) == 0


def test_an_error_mid_session_goes_to_stderr_and_the_session_goes_on(connection, tmp_path):
    def typist(t: Typist) -> None:
        t.line("get token nope")
        t.line("shwo token")
        t.line("create token")
        t.line("show sdamodel")
        t.line("exit")

    session = Session(connection, tmp_path / "history")
    assert session.run(typist) == 0
    errors = session.stderr.getvalue().splitlines()
    assert errors == [
        "Get Token information failed. (Token 'nope' does not exist.)",
        "Unknown command: 'shwo token'. Type 'help' to list the commands.",
        "Invalid arguments. (usages : create token {description} {priority : optional})",
    ]
    out = session.stdout.getvalue()
    assert "Small.64GB" in out and "Traceback" not in out + session.stderr.getvalue()


def test_an_unreachable_server_is_one_line_and_the_shell_reconnects_when_it_is_back(tmp_path):
    manager_server, port = create_server("127.0.0.1:0")
    manager_server.start()
    manager_server.stop(0)  # the port is known and nobody listens on it
    connection = Connection(Address("127.0.0.1", port), timeout=2)
    restarted = []

    def typist(t: Typist) -> None:
        t.line("show sdamodel")
        wait_for(lambda: "Cannot connect" in t.shell.stderr.getvalue(), what="the unreachable line")
        server, _ = create_server(f"127.0.0.1:{port}")
        server.start()
        restarted.append(server)
        t.line("show sdamodel")
        t.ctrl_d()

    session = Session(connection, tmp_path / "history")
    try:
        started = time.monotonic()
        assert session.run(typist) == 0
        assert time.monotonic() - started < 15
    finally:
        for server in restarted:
            server.stop(0)
        connection.close()
    assert session.stderr.getvalue() == f"Cannot connect to SDAManager at 127.0.0.1:{port}.\n"
    assert "Small.64GB" in session.stdout.getvalue()


def test_history_persists_across_two_sessions_with_mode_0600(connection, tmp_path):
    path = tmp_path / "history"
    first = Session(connection, path)
    assert first.run(lambda t: (t.line("show sdamodel"), t.line("show usergroup"), t.ctrl_d())) == 0
    assert stat.S_IMODE(path.stat().st_mode) == 0o600

    def typist(t: Typist) -> None:
        t.at_prompt()
        t.pipe.send_text(UP + UP)  # the older of the two
        wait_for(lambda: t.text == "show sdamodel", what="the history entry")
        t.pipe.send_text(ENTER)
        t.ctrl_d()

    second = Session(connection, path)
    assert second.run(typist) == 0
    assert "Small.64GB" in second.stdout.getvalue()
    assert "show usergroup" in path.read_text()


def test_ctrl_r_searches_history_and_enter_runs_the_line_found(connection, tmp_path):
    path = tmp_path / "history"
    ShellHistory(path).append_string("show sdamodel")
    ShellHistory(path).append_string("show usergroup")

    def typist(t: Typist) -> None:
        t.at_prompt()
        t.pipe.send_text(CTRL_R)
        t.type("sdam")
        # Enter searches for what the search line holds (accept_search): all four keys there.
        wait_for(lambda: t.shell.session.search_buffer.text == "sdam",
                 what=lambda: f"the search line to read 'sdam' ({t.shell.session.search_buffer.text!r})")
        t.pipe.send_text(ENTER)
        t.ctrl_d()

    session = Session(connection, path)
    assert session.run(typist) == 0
    assert "Small.64GB" in session.stdout.getvalue()


def test_a_pasted_block_runs_line_by_line_each_shown_with_its_output(connection, tmp_path):
    def typist(t: Typist) -> None:
        t.at_prompt()
        t.pipe.send_text(PASTE_START + "show sdamodel\nget token nope\ncreate token pasted\n" + PASTE_END)
        wait_for(lambda: t.text.count("\n") == 3, what="the paste")
        t.pipe.send_text(ENTER)
        t.ctrl_d()

    session = Session(connection, tmp_path / "history")
    assert session.run(typist) == 0
    out = session.stdout.getvalue()
    assert out.index(">show sdamodel\n") < out.index("Small.64GB") < out.index(">get token nope\n") \
        < out.index(">create token pasted\n") < out.index("Create SDA Success (Token : ")
    assert session.stderr.getvalue() == "Get Token information failed. (Token 'nope' does not exist.)\n"
    assert (tmp_path / "history").read_text().count("+") == 3  # each line its own entry


def test_ctrl_c_while_a_command_runs_stops_it_and_the_rest_of_a_paste(connection, tmp_path):
    shell = Shell(connection, history=ShellHistory(None), live=LiveNames(None),
                  stdout=io.StringIO(), stderr=io.StringIO())
    ran: list[str] = []

    def execute_line(line: str):  # type: ignore[no-untyped-def]
        ran.append(line)
        if line == "show job":
            raise KeyboardInterrupt  # what Ctrl-C does to a command waiting on the server
        return Outcome(Message(f"ran {line}"))

    shell.executor.execute_line = execute_line  # type: ignore[method-assign]
    assert shell.run_text("show token\nshow job\nshow sda", echo=True) is False
    assert ran == ["show token", "show job"]
    assert shell.stdout.getvalue() == ">show token\nran show token\n>show job\n"
    assert shell.stderr.getvalue() == "Interrupted.\n"


def test_a_failing_terminal_is_reported_and_ends_the_session_if_it_goes_on(connection, monkeypatch):
    stderr = io.StringIO()
    shell = Shell(connection, history=ShellHistory(None), live=LiveNames(None), output=DummyOutput(),
                  stdout=io.StringIO(), stderr=stderr)
    from prompt_toolkit import PromptSession

    def broken(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        raise OSError(5, "Input/output error")

    monkeypatch.setattr(PromptSession, "prompt", broken)
    assert shell.run() == 1
    assert stderr.getvalue().count("the terminal failed: OSError: [Errno 5] Input/output error") == 3


def test_an_unusable_history_path_warns_once_and_the_shell_goes_on(connection, tmp_path):
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("")
    session = Session(connection, blocker / "history")
    assert session.run(lambda t: (t.line("show sdamodel"), t.line("show sdamodel"), t.ctrl_d())) == 0
    warning = session.stderr.getvalue()
    assert warning.count("history is not saved") == 1
    assert str(blocker / "history") in warning and "SMCLIENT_HISTFILE" in warning
    assert session.stdout.getvalue().count("Small.64GB") == 2


# ============================================================================ the completer


@pytest.fixture
def completer(sdamanager) -> Iterator[ShellCompleter]:
    manager = sdamanager.manager
    manager.create_token("acme research")
    manager.create_token("globex", 3)
    live = LiveNames(Connection(Address("127.0.0.1", sdamanager.port)), start=False)
    for feed in ("tokens", "models", "backends", "backend_groups", "user_groups", "model_groups", "sdas",
                 "jobs", "versions", "history"):
        assert live.fetch_now(feed), feed
    yield ShellCompleter(live)
    live.close()


def shown(completer: ShellCompleter, text: str) -> list[str]:
    return [c.display_text for c in completer.complete(text)]


def test_every_completion_source_in_the_command_table_is_known():
    sources = {arg.complete for command in COMMANDS for arg in command.args if arg.complete}
    assert sources <= set(SOURCE_FEEDS), sources - set(SOURCE_FEEDS)


def test_verbs_come_from_the_table(completer):
    verbs = sorted({name.split()[0] for c in GRAMMAR.commands if not c.hidden for name in c.names})
    assert shown(completer, "") == verbs
    assert shown(completer, "SH") == ["show"]
    assert shown(completer, "show backend ") == ["group", "name", "where", "limit"]  # and its filter
    assert shown(completer, "update token sda ") == ["current", "max"]
    assert "list" not in shown(completer, "remove usergroup ")  # the guide's hidden variant


def test_aliases_complete_like_any_command():
    completer = ShellCompleter(LiveNames(None))
    assert shown(completer, "q") == ["q", "quit"]
    assert shown(completer, "h") == ["h", "help"]
    assert shown(completer, "help q") == ["q", "quit"]  # help's topic: command words again
    assert [(c.display_text, c.display_meta_text) for c in completer.complete("e")] == [
        ("exit", "Exit application (same command: exit, quit, q)")]


def test_each_candidate_shows_its_meaning(completer, sdamanager):
    metas = {c.display_text: c.display_meta_text for c in completer.complete("")}
    assert metas["clear"] == "Clear screen"
    assert metas["create"].startswith("backend, backendgroup, resv_sda, sda")
    tokens = {c.display_text: c.display_meta_text for c in completer.complete("get token ")}
    assert sorted(tokens.values()) == ["acme research", "globex"]
    models = {c.display_text: c.display_meta_text for c in completer.complete("delete sdamodel ")}
    assert models["1"] == "Small.64GB (1 device)"
    assert models["52"] == "1.5xLarge.768GB (12 devices)"


@pytest.mark.parametrize(("text", "expected"), [
    ("update backend status 1 ", ["SHUTDOWN", "ACTIVE"]),
    ("update backend status 1 a", ["ACTIVE"]),
    ("update device 1 0 p", ["PREPARING", "PROCESSING"]),
    ("update token access level TOKEN ", ["USER", "ADMIN", "DEVELOPER"]),
    ("update version support v1 ", ["true", "false"]),
    ("delete backendgroup 0 T", ["true"]),
    ("show job ", ["QUEUED", "SUMMITED", "RUNNING", "where", "limit"]),  # a listing: its filter too
    ("update backend group 1 n", ["null"]),
    ("update backendgroup list 0 N", ["null"]),
    ("show backend group ", ["where", "limit"]),  # no arguments: only the filter
    ("get token x ", ["where", "limit"]),  # past the last argument: only the filter
    ("create backend h ip 8 ", []),  # past the last argument of a change
    ("create token ", []),  # free text
    ("update version worker v1 sh -c ", []),  # the rest of the line
    ("show token # a comment ", []),
    ("create sda ? ", []),
])
def test_fixed_choices_by_position(completer, text, expected):
    assert shown(completer, text) == expected


def test_ids_complete_in_numeric_order_with_names(completer):
    assert shown(completer, "delete sdamodel ")[:13] == [str(i) for i in range(1, 13)] + ["52"]
    assert shown(completer, "delete sdamodel 1") == ["1", "10", "11", "12"]
    assert shown(completer, "show backendgroup ") == ["0", "where", "limit"]
    assert shown(completer, "get backend beid ") == ["1", "2", "3", "4"]
    assert shown(completer, "get backend name back0") == ["back01", "back02", "back03", "back04"]
    assert shown(completer, "update backend group 1 ") == ["null", "0"]


def test_list_arguments_complete_the_item_after_the_last_comma(completer):
    listed = completer.complete("create sdamodelgroup g 0 1,2,1")
    assert [c.display_text for c in listed] == ["10", "11", "12"]
    assert listed[0].text == "1,2,10" and listed[0].start_position == -len("1,2,1")
    assert "2" not in shown(completer, "update sdamodelgroup list 1 1,2,")
    assert shown(completer, "update sdamodelgroup list 1 ")[0] == "null"


def test_sdas_and_env_names_follow_the_token_on_the_line(completer, sdamanager):
    manager = sdamanager.manager
    acme = next(t.value for t in manager.list_tokens() if t.description == "acme research")
    manager.update_token_max_sda(acme, 3)
    first = manager.create_sda(acme, "one", 1)
    second = manager.create_sda(acme, "two", 2)
    manager.add_token_env(acme, "NCCL_DEBUG", "INFO")
    live = completer.live
    assert live is not None and live.fetch_now("sdas") and live.fetch_now("tokens")
    assert shown(completer, f"delete sda {acme} ") == [str(first.id), str(second.id)]
    assert shown(completer, "delete sda NOT-A-TOKEN ") == [str(first.id), str(second.id)]
    assert [(c.display_text, c.display_meta_text) for c in completer.complete(f"remove token env {acme} ")] \
        == [("NCCL_DEBUG", "INFO")]


def test_names_order_and_limits():
    ids = Names([("10", "ten"), ("2", "two"), ("1", "one"), ("100", "hundred")], numeric=True)
    assert [v for v, _ in ids.prefixed("", 10)] == ["1", "2", "10", "100"]
    assert [v for v, _ in ids.prefixed("1", 2)] == ["1", "10"]
    assert ids.prefixed("", 0) == [] and ids.described("t", 0) == []
    tokens = Names([("YWJj", "acme"), ("eHl6", "globex"), ("YWJk", "Acme labs")])
    assert [v for v, _ in tokens.prefixed("ywj", 10)] == ["YWJj", "YWJk"]  # any case
    assert [m for _, m in tokens.described("ACME", 10)] == ["acme", "Acme labs"]
    both = Chained(ids, tokens)  # `release`: FeIDs first, then tokens
    assert [v for v, _ in both.prefixed("", 5)] == ["1", "2", "10", "100", "eHl6"]
    assert len(both) == 7 and "eHl6" in both and both.meta("2") == "two"


def test_quoted_words_and_values_with_spaces(completer):
    assert scan('create usergroup "my team" to').words == ["create", "usergroup", "my team"]
    state = scan('create token "half open')
    assert (state.current, state.current_raw) == ("half open", '"half open')
    found = completer.complete('get token "glo')  # found by description, the quote replaced
    assert [(c.display_meta_text, c.start_position) for c in found] == [("globex", -len('"glo'))]
    assert found[0].text == found[0].display_text + " "
    assert _quoted("a b") == "'a b'" and _quoted("back01") == "back01"
    assert shown(completer, "help cr") == ["create"]
    assert shown(completer, "help create sda") == ["sda", "sdamodel", "sdamodelgroup"]


@pytest.mark.parametrize(("text", "words"), [
    ("watch sh", ["show"]), ("watch 5 sh", ["show"]), ("watch 0.5 show jo", ["job"]), ("watch show jo", ["job"]),
    ("watch 2 get job ", ["feid", "token"]),
])
def test_watch_completes_the_command_it_repeats_after_its_optional_seconds(completer, text, words):
    assert shown(completer, text) == words


@pytest.mark.parametrize(("text", "expected"), [
    ("show job where ", ["feid", "token", "pry", "status", "pid", "process_name", "start_time"]),
    ("show job where st", ["status", "start_time"]),
    ("show job where status ", ["=", "!=", "~", "<", ">", "<=", ">="]),
    ("show job where status=RU", ["RUNNING"]),
    ("show job where status = Q", ["QUEUED"]),
    ("show backend where status=", ["SHUTDOWN", "ACTIVE"]),
    ("show token where access_level=D", ["DEVELOPER"]),
    ("show job where status=RUNNING ", ["and", "limit"]),
    ("show job where status=RUNNING and p", ["pry", "pid", "process_name"]),
    ("show job where feid>1 limit ", []),
    ("get backend name where", []),  # the name comes first: no backend is named so, and no filter yet
])
def test_a_listings_filter_completes_fields_operators_and_known_values(completer, text, expected):
    assert shown(completer, text) == expected


def test_a_filter_completes_live_tokens(completer, sdamanager):
    tokens = [t.value for t in sdamanager.manager.tokens.values()]
    assert sorted(shown(completer, "show job where token=")) == sorted(tokens)


def test_toolbar_in_a_filter_names_the_fields():
    hint = "".join(text for _, text in usage_hint("show sdamodel where "))
    assert hint == "show sdamodel where FIELD OP VALUE [and ...] [limit N]   fields: id, name, devices; " \
                   "OP: = != ~ < > <= >="
    assert "too many" not in "".join(text for _, text in usage_hint("show token wh"))


def test_toolbar_shows_the_usage_with_the_current_argument():
    hint = usage_hint("update token priority TOKEN ")
    assert "".join(text for _, text in hint).startswith("update token priority {token} {priority}")
    current = [text for style, text in hint if style == "class:hint.current"]
    assert current == ["{priority}"]
    assert "an integer from -99 to 99" in "".join(text for _, text in hint)
    assert "too many arguments" in "".join(t for _, t in usage_hint("get token a b"))
    assert "too many" not in "".join(t for _, t in usage_hint("get token a "))  # nothing typed yet
    assert usage_hint("show token x") == [("class:hint.error", "'show token' takes no arguments")]
    assert usage_hint("show token r") == [("class:hint", "show token: Print list of Tokens")]  # `running`
    assert "Unknown command" in "".join(t for _, t in usage_hint("shwo "))
    assert usage_hint("show ") == []


WORDS = sorted({w for c in COMMANDS for w in c.words} | {"null", "true", "?", "#", "1,2,", '"a b', "'x", "\\", ","})


@settings(max_examples=300, deadline=None)
@given(st.lists(st.one_of(st.sampled_from(WORDS), st.text(max_size=6)), max_size=7), st.sampled_from(["", " "]))
def test_any_line_completes_and_hints_without_an_exception(words, tail):
    text = " ".join(words) + tail
    completer = ShellCompleter(LiveNames(None))
    for completion in completer.complete(text):
        assert -completion.start_position <= len(text)
        assert completion.text
    usage_hint(text)


def test_a_completer_bug_never_reaches_the_operator():
    class Broken(LiveNames):
        def names(self, source: str, context: str = "") -> Names:
            raise RuntimeError("boom")

    from prompt_toolkit.completion import CompleteEvent
    from prompt_toolkit.document import Document

    completer = ShellCompleter(Broken(None))
    assert list(completer.get_completions(Document("get token "), CompleteEvent())) == []


def test_a_dead_server_costs_nothing_per_keystroke():
    live = LiveNames(Connection(Address("127.0.0.1", 1), timeout=0.5), ttl=60)
    try:
        completer = ShellCompleter(live)
        started = time.monotonic()
        for _ in range(100):
            completer.complete("get token ")
        assert time.monotonic() - started < 1
        wait_for(lambda: live.unreachable != "", what="the background fetch to fail")
        assert live.unreachable == "Cannot connect to SDAManager at 127.0.0.1:1."
        assert "SDAManager unreachable" in "".join(t for _, t in usage_hint("get token ", live))
    finally:
        live.close()


# ============================================================================ history, imports


def test_history_path_comes_from_the_environment(tmp_path):
    assert default_path({"SMCLIENT_HISTFILE": str(tmp_path / "h")}) == tmp_path / "h"
    assert default_path({"SMCLIENT_HISTFILE": ""}) is None
    assert default_path({"HOME": "/home/op"}) == Path("/home/op/.moreh_smclient_history")


def test_history_file_is_tightened_to_0600_and_keeps_prompt_toolkit_format(tmp_path):
    path = tmp_path / "history"
    path.write_text("\n# 2024-01-01 00:00:00\n+show token\n")
    os.chmod(path, 0o644)
    history = ShellHistory(path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert list(history.load_history_strings()) == ["show token"]
    history.append_string("show token")  # an immediate repeat is not stored
    history.append_string("get sda X\n\n  \nshow job")
    assert list(ShellHistory(path).load_history_strings()) == ["show job", "get sda X", "show token"]


def test_memory_only_history_writes_nothing(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    history = ShellHistory(None)
    history.append_string("show token")
    assert history.get_strings() == ["show token"]
    assert list(tmp_path.iterdir()) == []


def test_one_shot_mode_never_imports_prompt_toolkit(sdamanager):
    code = ("import sys; from smclient.cli import main; status = main(['--port', sys.argv[1], '--command', "
            "'help; show sdamodel']); print(status, 'prompt_toolkit' in sys.modules, file=sys.stderr)")
    result = subprocess.run([sys.executable, "-c", code, str(sdamanager.port)], capture_output=True, text=True,
                            timeout=30)
    assert result.stderr.strip() == "0 False"


def test_banner_brackets_an_ipv6_address():
    assert banner(Connection(Address("::1", 30105))).splitlines()[0] == \
        "SDAManager's Client. Connect to [::1]:30105"
