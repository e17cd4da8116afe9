"""The pager and `watch` on a real terminal (pexpect, and pyte for what the screen
shows): big output goes to the pager whole, output that fits does not, and
nothing is ever paged when standard output is not a terminal."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

from sdamanager_stub.testing import running_simulator

pexpect = pytest.importorskip("pexpect")

SCRIPT = Path(sys.executable).with_name("moreh_smclient")
# A pager that keeps what it was given in a file, and then waits for Ctrl-C when asked to.
RECORDER = """
import signal, sys, time
data = sys.stdin.buffer.read()
with open(sys.argv[1], "wb") as out:
    out.write(data)
if len(sys.argv) > 2:
    signal.signal(signal.SIGINT, lambda *a: sys.exit(2))
    print("recorder waiting", flush=True)
    time.sleep(60)
"""


@pytest.fixture(scope="module")
def sim():
    with running_simulator(backends=4, devices=8) as running:
        token = running.manager.create_token("team", 0).value
        running.manager.create_sda(token, "s", 1)
        running.manager.update_token_duplicable(token, 0)
        for pid in range(1000):
            running.manager.request_devices(token, 100 + pid, f"python train{pid}.py")
        running.manager.create_token("w" * 190, 0)  # a token row over 200 columns wide
        yield running


@pytest.fixture
def pager(tmp_path):
    script = tmp_path / "recorder.py"
    script.write_text(RECORDER)
    got = tmp_path / "paged.txt"
    return f"{sys.executable} {script} {got}", got


def environ(tmp_path: Path, sim, **extra: str) -> dict[str, str]:
    env = {**os.environ, **sim.environ(), "TERM": "xterm", "PROMPT_TOOLKIT_NO_CPR": "1",
           "SMCLIENT_HISTFILE": str(tmp_path / "history"), **extra}
    for name in ("PAGER", "SMCLIENT_PAGER", "LESS"):
        if name not in extra:
            env.pop(name, None)
    return env


def one_shot(env: dict[str, str], *args: str, rows: int = 40, columns: int = 120) -> str:
    """`moreh_smclient ARGS` on a terminal of `rows` x `columns`: what it showed there."""
    child = pexpect.spawn(str(SCRIPT), list(args), encoding="utf-8", timeout=30, dimensions=(rows, columns),
                          env=env)
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0, child.before
    return child.before.replace("\r\n", "\n")


class Screen:
    """The shell on a pexpect terminal of `rows` x `columns`, its output drawn on a pyte
    screen (what a user would see there)."""

    def __init__(self, env: dict[str, str], rows: int = 40, columns: int = 100) -> None:
        pyte = pytest.importorskip("pyte")
        self.child = pexpect.spawn(str(SCRIPT), [], encoding="utf-8", timeout=30, dimensions=(rows, columns),
                                   env=env)
        self.screen = pyte.Screen(columns, rows)
        self.stream = pyte.Stream(self.screen)

    def pump_until(self, predicate, timeout: float = 20) -> None:
        """Draw what the shell writes until `predicate()` holds (an assertion error
        showing the screen after `timeout` seconds)."""
        deadline = time.monotonic() + timeout
        while not predicate():
            assert time.monotonic() < deadline, "\n".join(self.screen.display)
            try:
                self.stream.feed(self.child.read_nonblocking(65536, 0.1))
            except pexpect.TIMEOUT:
                pass

    def cursor_line_startswith(self, text: str) -> bool:
        return self.screen.display[self.screen.cursor.y].startswith(text)

    def at_empty_prompt(self) -> bool:
        """The cursor on a fresh `>` with nothing typed: keys sent now go to that prompt
        (a Ctrl-D sent with a Ctrl-C that ends a prompt may be read by the prompt ending)."""
        return self.screen.display[self.screen.cursor.y].rstrip() == ">"


def piped(env: dict[str, str], *args: str) -> str:
    done = subprocess.run([str(SCRIPT), *args], env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_a_listing_taller_than_the_terminal_goes_to_the_pager_whole(sim, tmp_path, pager):
    command, got = pager
    env = environ(tmp_path, sim, SMCLIENT_PAGER=command)
    shown = one_shot(env, "--command", "show job")
    paged = got.read_text()
    got.unlink()
    expected = piped(env, "--command", "show job")  # not a terminal: printed, never paged
    assert not got.exists()
    assert expected.count("\n") == 1004 and paged == expected
    assert "python train999.py" not in shown


def test_output_that_fits_is_printed_not_paged(sim, tmp_path, pager):
    command, got = pager
    shown = one_shot(environ(tmp_path, sim, SMCLIENT_PAGER=command), "--command", "show sdamodel")
    assert "48xLarge.24576GB" in shown and not got.exists()


def test_a_table_wider_than_the_terminal_pages(sim, tmp_path, pager):
    command, got = pager
    env = environ(tmp_path, sim, SMCLIENT_PAGER=command)
    shown = one_shot(env, "--command", "show token", columns=80)
    assert got.read_text().count("w" * 190) == 1 and "w" * 190 not in shown
    assert max(len(line) for line in got.read_text().splitlines()) > 200


def test_no_pager_and_a_pipe_never_page(sim, tmp_path, pager):
    command, got = pager
    env = environ(tmp_path, sim, SMCLIENT_PAGER=command)
    shown = one_shot(env, "--no-pager", "--command", "show job")
    assert "python train999.py" in shown
    assert "python train999.py" in piped(env, "--command", "show job")
    assert not got.exists()


@pytest.mark.parametrize(("command", "warning"), [
    ("/nonexistent/pager", r"moreh_smclient: cannot run the pager '/nonexistent/pager' \(No such file or directory\); "
                           r"printing instead\."),
    ("false", r"moreh_smclient: the pager 'false' failed \(exit status 1\); printing instead\."),
])
def test_a_missing_or_failing_pager_falls_back_to_printing_with_one_warning(sim, tmp_path, command, warning):
    shown = one_shot(environ(tmp_path, sim, SMCLIENT_PAGER=command), "--command", "show job")
    assert len(re.findall(warning, shown)) == 1
    assert "python train999.py" in shown


def test_pager_in_the_shell_ctrl_c_returns_to_the_prompt_and_set_pager_off(sim, tmp_path, pager):
    command, got = pager
    env = environ(tmp_path, sim, SMCLIENT_PAGER=command + " wait")
    child = pexpect.spawn(str(SCRIPT), [], encoding="utf-8", timeout=30, dimensions=(40, 120), env=env)
    try:
        child.expect(">")
        child.sendline("show job where process_name~train limit 3")  # fits: printed
        child.expect("python train2.py")
        child.expect(">")
        assert not got.exists()
        child.sendline("show job")
        child.expect("recorder waiting")
        child.send("\x03")  # Ctrl-C: the pager ends, the shell is back at its prompt
        child.expect(">")
        assert got.read_text().count("python train") == 1000
        child.sendline("set pager off")
        child.expect("Pager: off")
        got.unlink()
        child.sendline("show job")
        child.expect("python train999.py")
        child.expect(">")
        assert not got.exists()
        child.sendeof()
        child.expect(pexpect.EOF)
    finally:
        child.close()
    assert child.exitstatus == 0


@pytest.mark.skipif(not any(Path(p, "less").exists() for p in os.get_exec_path()), reason="no less here")
def test_the_default_pager_is_less_and_q_comes_back(sim, tmp_path):
    env = environ(tmp_path, sim)
    child = pexpect.spawn(str(SCRIPT), [], encoding="utf-8", timeout=30, dimensions=(40, 120), env=env)
    try:
        child.expect(">")
        child.sendline("show job")
        child.expect(r"python train3\d\.py")  # the first screen
        child.send("q")
        child.expect(">")
        child.sendline("set pager")
        child.expect("Pager: auto")
        child.expect(">")
        child.sendeof()
        child.expect(pexpect.EOF)
    finally:
        child.close()
    assert child.exitstatus == 0


def test_watch_draws_in_place_on_a_40_line_terminal_and_never_scrolls(sim, tmp_path):
    rows, columns = 40, 100
    term = Screen(environ(tmp_path, sim), rows, columns)
    child, screen = term.child, term.screen
    scrolled = []
    index = screen.index

    def noted_index() -> None:  # a line feed on the last line scrolls the screen
        if screen.cursor.y == screen.lines - 1:
            scrolled.append(screen.display[0])
        index()

    screen.index = noted_index
    try:
        term.pump_until(lambda: term.cursor_line_startswith(">"))
        scrolled.clear()
        child.sendline("watch 0.5 show job")
        header = re.compile(r"Every 0\.5s: show job    \d{4}-\d\d-\d\d \d\d:\d\d:(\d\d)")
        term.pump_until(lambda: header.match(screen.display[0]) is not None)
        first = header.match(screen.display[0]).group(1)
        term.pump_until(lambda: (m := header.match(screen.display[0])) is not None and m.group(1) != first)
        shown = [line.rstrip() for line in screen.display]
        assert scrolled == []  # drawn in place: nothing ever left the top of the screen
        assert shown[2].startswith("+---") and "FeID" in shown[3]
        assert re.fullmatch(r"\.\.\. \d+ more lines below; lines cut at the right edge \(the screen is 100x39\)",
                            shown[38]), shown[38]
        assert all(len(line) <= columns for line in shown)
        child.send("\x03")
        term.pump_until(term.at_empty_prompt)
        child.sendeof()
        child.expect(pexpect.EOF)
    finally:
        child.close()


def test_release_tab_enter_never_releases_and_release_all_asks_first(tmp_path):
    with running_simulator(backends=2, devices=8) as own:
        token = own.manager.create_token("team", 0).value
        own.manager.create_sda(token, "s", 1)
        own.manager.update_token_duplicable(token, 0)
        for pid in range(10):
            own.manager.request_devices(token, 100 + pid, "python train.py")
        child = pexpect.spawn(str(SCRIPT), [], encoding="utf-8", timeout=30, dimensions=(40, 120),
                              env=environ(tmp_path, own))
        try:
            child.expect(">")
            child.send("release al\t\r")  # Tab does not make it `release all`: the menu shows it instead
            child.expect(r"Release Device failed\. \(Token 'al' does not exist\.\)")
            child.expect(">")
            child.sendline("release all")
            child.expect(r"Release 10 jobs of 1 token \(FeIDs 1-10\)\? \[y/N\]")
            child.sendline("n")
            child.expect("Nothing was changed.")
            child.expect(">")
            assert len(own.manager.jobs) == 10
            child.sendline("release all")
            child.expect(r"\[y/N\]")
            child.sendline("yes")
            child.expect(r"Release All Device success\.\r\n10 jobs released: 1-10")
            child.expect(">")
            assert len(own.manager.jobs) == 0
            child.sendeof()
            child.expect(pexpect.EOF)
        finally:
            child.close()
        assert child.exitstatus == 0
        # One-shot, as the original: nothing asked.
        for pid in range(3):
            own.manager.request_devices(token, 200 + pid, "python train.py")
        assert piped(environ(tmp_path, own), "--command", "release all") == "Release All Device success.\n"
        assert len(own.manager.jobs) == 0


def test_ctrl_z_suspends_the_shell_and_fg_resumes_it_at_the_prompt(sim, tmp_path):
    env = environ(tmp_path, sim, PS1="bash$ ")
    bash = pexpect.spawn("bash", ["--norc", "--noprofile", "-i"], encoding="utf-8", timeout=30,
                         dimensions=(40, 120), env=env)
    try:
        bash.expect_exact("bash$ ")
        bash.sendline(f"{SCRIPT} --no-pager")
        bash.expect(">")
        bash.send("\x1a")  # Ctrl-Z
        bash.expect("Stopped")
        bash.expect_exact("bash$ ")
        bash.sendline("jobs")
        bash.expect("Stopped")
        bash.sendline("fg")
        bash.expect(">")
        bash.sendline("show sdamodel")  # the shell goes on where it was
        bash.expect("48xLarge.24576GB")
        bash.expect(">")
        bash.sendeof()
        bash.expect_exact("bash$ ")
        bash.sendline("echo status $?")
        bash.expect("status 0")
        bash.sendline("exit")
        bash.expect(pexpect.EOF)
    finally:
        bash.close(force=True)


def test_with_no_color_the_suggestion_from_history_is_underlined(sim, tmp_path):
    (tmp_path / "history").write_text("\n# 2026-12-06 00:00:00\n+show token\n")
    term = Screen(environ(tmp_path, sim, NO_COLOR="1"))
    child, screen = term.child, term.screen
    try:
        term.pump_until(lambda: term.cursor_line_startswith(">"))
        child.send("show tok")
        term.pump_until(lambda: term.cursor_line_startswith(">show token"))
        row = screen.buffer[screen.cursor.y]
        typed, suggested = [row[x] for x in range(1, 9)], [row[x] for x in range(9, 11)]
        assert "".join(c.data for c in suggested) == "en"
        assert all(c.underscore for c in suggested) and not any(c.underscore for c in typed)
        child.send("\x03")
        term.pump_until(term.at_empty_prompt)
        child.sendeof()
        child.expect(pexpect.EOF)
    finally:
        child.close()


def test_started_with_ctrl_c_ignored_the_shell_still_leaves_watch_on_ctrl_c(sim, tmp_path):
    env = environ(tmp_path, sim)
    # A background job's Ctrl-C is ignored, and exec passes that on.
    child = pexpect.spawn("bash", ["-c", f"trap '' INT; exec {SCRIPT}"], encoding="utf-8", timeout=30,
                          dimensions=(40, 120), env=env)
    try:
        child.expect(">")
        child.sendline("watch 1 show sdamodel")
        child.expect(r"Every 1\.0s: show sdamodel")
        child.send("\x03")
        child.expect(">")
        child.sendline("show sdamodel")
        child.expect("48xLarge.24576GB")
        child.expect(">")
        child.sendeof()
        child.expect(pexpect.EOF)
    finally:
        child.close()
    assert child.exitstatus == 0
