"""The installed shell on a real terminal (pexpect): `moreh_smclient --simulator` (what
`make run` starts), completion, history and errors against a simulator, a server
that goes away and comes back, TERM=dumb, and piped input."""

from __future__ import annotations

import asyncio
import os
import re
import subprocess
import sys
import threading
import time
from concurrent import futures
from pathlib import Path

import grpc
import grpc.aio
import pytest

from sdamanager_stub.server import create_server

pexpect = pytest.importorskip("pexpect")

SCRIPT = Path(sys.executable).with_name("moreh_smclient")
ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]|\x1b[()][AB012]|[\x07\x08]")


def shell_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    # pexpect's terminal does not answer cursor position requests; without this
    # prompt_toolkit would wait for the answer and print a warning.
    # Output taller than the terminal goes through a pager (test_terminal.py tests it):
    # here `cat`, so what these tests look for reaches the terminal as it is.
    return {**os.environ, "TERM": "xterm", "PROMPT_TOOLKIT_NO_CPR": "1", "SMCLIENT_PAGER": "cat",
            "SMCLIENT_HISTFILE": str(tmp_path / "history"), **extra}


def test_interactive_shell_on_the_embedded_simulator(tmp_path):
    child = pexpect.spawn(str(SCRIPT), ["--simulator"], encoding="utf-8", timeout=20, dimensions=(50, 220),
                          env=shell_env(tmp_path))
    try:
        child.expect(r"SDAManager's Client\. Connect to 127\.0\.0\.1:\d+\r\n")
        child.expect(r"moreh_smclient \S+ \(open re-implementation\)")
        child.expect(">")
        child.sendline("show usergroup")
        child.expect(r"\|  ID  \|  Name  \|    Description    \|")
        child.expect("large customers")
        child.expect(">")
        child.sendline("create token")  # an error never ends the session
        child.expect(r"Invalid arguments\. \(usages : create token \{description\} \{priority : optional\}\)")
        child.expect(">")
        child.send("garbage that is cleared\x03")  # Ctrl-C clears the line
        child.expect(">")
        child.sendline("create sda ?")
        child.expect(r"create sda\s+: Create new SDA or add SDA to registered Token")
        child.expect(">")
        child.sendeof()  # Ctrl-D leaves
        child.expect(pexpect.EOF)
    finally:
        child.close()
    assert child.exitstatus == 0


# ---------------------------------------------------------------- against a simulator the test controls

def spawn_shell(port: int, tmp_path: Path, **extra: str):  # type: ignore[no-untyped-def]
    return pexpect.spawn(str(SCRIPT), ["--port", str(port), "--timeout", "2"], encoding="utf-8", timeout=20,
                         dimensions=(40, 200), env=shell_env(tmp_path, **extra))


def screen_text(child) -> str:  # type: ignore[no-untyped-def]
    """What the terminal received since the last match, without escape sequences."""
    return ANSI.sub("", child.before or "")


class Terminal:
    """The shell on a pseudo-terminal, its screen kept by a terminal emulator (pyte),
    which also answers prompt_toolkit's cursor position requests as a real terminal does."""

    def __init__(self, args: list[str], env: dict[str, str], rows: int = 30, columns: int = 160) -> None:
        pyte = pytest.importorskip("pyte")
        self.child = pexpect.spawn(str(SCRIPT), args, encoding="utf-8", timeout=20, dimensions=(rows, columns),
                                   env=env)
        self.screen = pyte.Screen(columns, rows)
        self.screen.write_process_input = self.child.send  # CPR answers go back to the shell
        self.stream = pyte.Stream(self.screen)
        self.seen = ""  # everything received, without escape sequences

    def pump(self, wait: float = 0.05) -> None:
        try:
            data = self.child.read_nonblocking(65536, wait)
        except pexpect.TIMEOUT:
            return
        self.stream.feed(data)
        self.seen += ANSI.sub("", data)

    @property
    def text(self) -> str:
        return "\n".join(line.rstrip() for line in self.screen.display)

    @property
    def cursor_line(self) -> str:
        return self.screen.display[self.screen.cursor.y].rstrip()

    def wait(self, pattern: str, timeout: float = 20) -> re.Match[str]:
        """Until the screen shows `pattern` (a regex)."""
        deadline = time.monotonic() + timeout
        while True:
            found = re.search(pattern, self.text)
            if found:
                return found
            if time.monotonic() > deadline:
                raise AssertionError(f"the screen never showed {pattern!r}; it shows:\n{self.text}")
            self.pump()

    def wait_line(self, expected: str, timeout: float = 20) -> None:
        """Until the line with the cursor reads `expected`."""
        deadline = time.monotonic() + timeout
        while self.cursor_line != expected:
            if time.monotonic() > deadline:
                raise AssertionError(f"the prompt line reads {self.cursor_line!r}, not {expected!r}")
            self.pump()

    def send(self, keys: str) -> None:
        self.child.send(keys)

    def finish(self) -> int:
        self.child.expect(pexpect.EOF)
        self.child.close()
        return self.child.exitstatus


def test_completion_toolbar_history_and_errors_on_a_real_terminal(sdamanager, tmp_path):
    token = sdamanager.manager.create_token("pexpect team", 7).value
    env = shell_env(tmp_path)
    del env["PROMPT_TOOLKIT_NO_CPR"]  # this terminal answers them
    term = Terminal(["--port", str(sdamanager.port)], env)
    try:
        term.wait(re.escape(f"SDAManager's Client. Connect to 127.0.0.1:{sdamanager.port}"))
        term.wait("Ctrl-D leaves")  # the toolbar's hint on an empty line
        term.wait_line(">")
        term.send("sh")
        term.wait(r"show +backend, backend group")  # the menu, each candidate with its meaning
        term.send("\t")
        term.wait_line(">show")
        term.send("sdamodel")
        term.wait(r"sdamodel +Print list of SDAModels")
        term.wait(r"sdamodelgroup +Show SDAModel Group")
        term.send("\r")
        term.wait(r"\|  52  \|  1\.5xLarge\.768GB   \|       12  \|")
        term.wait_line(">")
        term.send("update token priority pexpect")  # found by the token's description
        term.wait(re.escape(token) + " +pexpect team")
        term.wait(r"update token priority \{token\} \{priority\} +token: Tab lists the tokens")
        term.send("\t")  # the token, and a space: the toolbar moves on to the priority
        term.wait(r"priority: an integer from -99 to 99")
        term.wait_line(f">update token priority {token}")
        term.send("500\r")
        term.wait(re.escape("Invalid priority '500': expected an integer from -99 to 99."))
        term.wait_line(">")
        term.send("\x1b[A")  # Up: the last line again
        term.wait_line(f">update token priority {token} 500")
        term.send("\x7f\x7f\x7f-5\r")
        term.wait("Update Token Priority success.")
        term.send("garbage\x03")  # Ctrl-C clears the line
        term.wait_line(">")
        term.send("exit\r")
        status = term.finish()
    finally:
        term.child.close()
    assert status == 0
    assert sdamanager.manager.tokens[token].priority == -5
    assert "Traceback" not in term.seen
    history = (tmp_path / "history").read_text()
    assert "+show sdamodel" in history and f"+update token priority {token} -5" in history
    assert os.stat(tmp_path / "history").st_mode & 0o777 == 0o600


def test_the_shell_says_when_sdamanager_is_gone_and_reconnects_when_it_is_back(tmp_path):
    server, port = create_server("127.0.0.1:0")
    server.start()
    child = spawn_shell(port, tmp_path)
    try:
        child.expect(">")
        child.sendline("show sdamodel")
        child.expect("Small.64GB")
        child.expect(">")
        server.stop(0)
        child.sendline("show sdamodel")
        child.expect_exact(f"Cannot connect to SDAManager at 127.0.0.1:{port}.")
        child.expect(">")
        server, _ = create_server(f"127.0.0.1:{port}")
        server.start()
        child.sendline("show sdamodel")
        child.expect("Small.64GB")
        assert "Cannot connect" not in screen_text(child)
        child.expect(">")
        child.sendeof()
        child.expect(pexpect.EOF)
    finally:
        child.close()
        server.stop(0)
    assert child.exitstatus == 0


def test_term_dumb_on_a_terminal_has_the_banner_and_a_plain_prompt(sdamanager, tmp_path):
    """A terminal that cannot draw (TERM=dumb) must not look hung: the banner, then
    `> ` before each line, and no escape sequences."""
    child = pexpect.spawn(str(SCRIPT), ["--port", str(sdamanager.port)], encoding="utf-8", timeout=20,
                          env=shell_env(tmp_path, TERM="dumb"))
    try:
        child.expect_exact(f"SDAManager's Client. Connect to 127.0.0.1:{sdamanager.port}")
        child.expect_exact("Type 'help' for the commands.\r\n\r\n> ")  # a blank line before the prompt
        seen = child.before
        child.sendline("show sdamodel")
        child.expect(r"\+=+\+")
        child.expect("Small.64GB")
        child.expect_exact("\r\n> ")
        seen += child.before
        child.sendline("get token nope")
        child.expect_exact("Get Token information failed. (Token 'nope' does not exist.)")
        child.expect_exact("> ")
        child.sendeof()
        child.expect(pexpect.EOF)
        seen += child.before
    finally:
        child.close()
    assert child.exitstatus == 1  # the last failure's status
    assert "\x1b" not in seen


def test_piped_input_prints_only_the_command_output(sdamanager):
    pipeline = f"printf 'show sdamodel\\nexit\\n' | {SCRIPT} --port {sdamanager.port}"
    result = subprocess.run(pipeline, shell=True, capture_output=True, text=True, timeout=30)
    assert result.returncode == 0
    assert result.stderr == ""
    lines = result.stdout.splitlines()
    assert lines[0].startswith("+---") and lines[1] == "|  ID  |        Name        |  Devices  |"
    assert len(lines) == 3 + 13 + 1  # frame, header, rule, the 13 models, frame



def test_ctrl_c_stops_a_slow_command_and_the_session_goes_on(tmp_path):
    release, arrived = threading.Event(), threading.Event()

    class Slow(grpc.GenericRpcHandler):
        def service(self, details):  # type: ignore[no-untyped-def]
            method = details.method

            def listing(request, context):  # type: ignore[no-untyped-def]
                # Only the command's own call: the shell fetches tokens and models for
                # completion as it starts, and those calls must not count as "arrived".
                if method.endswith("/ListBackends"):
                    arrived.set()
                release.wait(30)
                yield b""

            return grpc.unary_stream_rpc_method_handler(listing)

    server = grpc.server(futures.ThreadPoolExecutor(4))
    port = server.add_insecure_port("127.0.0.1:0")
    server.add_generic_rpc_handlers([Slow()])
    server.start()
    child = pexpect.spawn(str(SCRIPT), ["--port", str(port), "--timeout", "20"], encoding="utf-8", timeout=20,
                          env=shell_env(tmp_path))
    try:
        child.expect(">")
        child.sendline("show backend")
        # Ctrl-C once the call is under way: the prompt has handed the terminal back
        # (a ^C typed while the prompt still reads keys is the prompt's, not the call's).
        assert arrived.wait(15)
        started = time.monotonic()
        child.send("\x03")
        child.expect_exact("Interrupted.")
        assert time.monotonic() - started < 5  # not the 20 s timeout
        child.expect(">")
        child.sendline("help")
        child.expect("show token")
        child.expect(">")
        child.sendeof()
        child.expect(pexpect.EOF)
    finally:
        child.close()
        release.set()
        server.stop(0)
    assert child.exitstatus == 0


def test_watch_redraws_until_ctrl_c_and_never_stacks_calls(tmp_path):
    """`watch 0.5 show sdamodel` on a server that takes 0.8 s per call: the output is
    redrawn under its header again and again, the next call starts only when the
    last has answered, and Ctrl-C brings the prompt back."""
    # Per peer: the shell's completion fetches the models too, on a channel of its own.
    now: dict[str, int] = {}
    calls = {"most": 0, "total": 0}
    lock = threading.Lock()

    class Slow(grpc.aio.ServerInterceptor):
        async def intercept_service(self, continuation, details):  # type: ignore[no-untyped-def]
            handler = await continuation(details)
            if not details.method.endswith("/ListSdaModels"):
                return handler
            inner = handler.unary_unary

            async def slow(request, context):  # type: ignore[no-untyped-def]
                peer = context.peer()
                with lock:
                    now[peer] = now.get(peer, 0) + 1
                    calls["total"] += 1
                    calls["most"] = max(calls["most"], now[peer])
                try:
                    await asyncio.sleep(0.8)
                    return await inner(request, context)
                finally:
                    with lock:
                        now[peer] -= 1

            return grpc.unary_unary_rpc_method_handler(slow, handler.request_deserializer,
                                                       handler.response_serializer)

    from sdamanager_stub.manager import new_manager

    server, port = create_server("127.0.0.1:0", new_manager(2, 8), interceptors=[Slow()])
    server.start()
    child = spawn_shell(port, tmp_path)
    try:
        child.expect(">")
        child.sendline("watch 0.5 show sdamodel")
        for _ in range(3):  # three redraws, each under its header
            child.expect(r"Every 0\.5s: show sdamodel    \d{4}-\d\d-\d\d \d\d:\d\d:\d\d")
            child.expect("48xLarge.24576GB")
        with lock:
            most, total = calls["most"], calls["total"]
        child.send("\x03")
        child.expect(">")
        child.sendline("watch 1 create token x")  # a change is never repeated
        child.expect(r"watch repeats a show or get command \(e\.g\. watch 5 show job\)\.")
        child.expect(">")
        child.sendeof()
        child.expect(pexpect.EOF)
    finally:
        child.close()
        server.stop(0)
    assert child.exitstatus == 0
    assert most == 1 and total >= 3
