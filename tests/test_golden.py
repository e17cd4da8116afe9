"""Golden transcripts: what an operator types and exactly what the shell prints.

Each file in tests/golden/ is one session against a fresh simulator (the
guide's 60 x 8 cluster), run twice:

- every `> CMD` line as its own `moreh_smclient --command 'CMD'` (the console
  script's `main`, in process);
- the whole file as one interactive session: the REPL's loop (`Shell.run`) on
  prompt_toolkit's pipe input, each `> CMD` typed at its prompt once the line
  before has run.  The REPL has no exit status per line, so `[exit N]` is
  checked only in the first run.

What follows a `> CMD` line, up to the next step, is what must be printed:

    > delete token <T1>
    ! Delete Token failed. (The token still has 1 SDA: delete it first.)
    [exit 1]

- `! text` is a line on stderr; other lines are stdout.
- `[exit N]` is the exit status (0 when absent).
- `<NAME>` stands for a value the simulator makes up (a token): its first
  appearance in expected output binds it (`Create SDA Success (Token : <T1>)`),
  and later commands use it.  Tokens are still reproducible: the simulator's
  token generator is seeded per file, so tables show them literally and the
  frames in the files are exactly what the operator sees.
- `$ ARGS` runs `sdamanager-stub ARGS --port P` instead (the VM side:
  `$ job submit --token <T1> --process "python train.py"`).
- `@ wait N` moves the simulator's clock N seconds on.  The clock is fixed
  otherwise (2023-09-14 23:14:08.49 UTC, shown in UTC), so times are exact.
- Lines starting with `#` before the first command are comments; there,
  `# cluster: B x D` sets the cluster (default the guide's 60 x 8) and
  `# delays: P C` the devices' prepare and clean seconds (default 0 0).

`pytest tests/test_golden.py --update-golden` rewrites the files from what
the shell prints now (read the diff before committing it).
"""

from __future__ import annotations

import io
import queue
import random
import re
import shlex
import threading
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from pathlib import Path
from typing import Any

import pytest
from helpers import FakeClock
from prompt_toolkit.input import PipeInput, create_pipe_input
from prompt_toolkit.output import DummyOutput

from sdamanager_stub.cli import main as stub_main
from sdamanager_stub.manager import new_manager
from sdamanager_stub.server import create_server
from smclient import __version__
from smclient.cli import main
from smclient.history import ShellHistory
from smclient.live_names import LiveNames
from smclient.repl import Shell
from smclient.transport import Address, Connection

GOLDEN = Path(__file__).parent / "golden"
PLACEHOLDER = re.compile(r"<([A-Z][A-Z0-9_]*)>")
# What a placeholder may stand for: tokens (base64) and ids.
VALUE = r"([A-Za-z0-9+/=_.-]+)"


class Step:
    def __init__(self, command: str) -> None:
        self.command = command
        self.stdout: list[str] = []
        self.stderr: list[str] = []
        self.status = 0


START = 1694733248.49  # 2023-09-14 23:14:08.49 UTC

pytestmark = pytest.mark.usefixtures("utc")  # the transcripts' times are in UTC (conftest.py)


def read_transcript(path: Path) -> tuple[list[str], list[Step]]:
    header: list[str] = []
    steps: list[Step] = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.startswith(("> ", "$ ", "@ ")):
            steps.append(Step(line))
        elif not steps:
            header.append(line)
        elif line.startswith("! "):
            steps[-1].stderr.append(line[2:])
        elif re.fullmatch(r"\[exit \d+\]", line):
            steps[-1].status = int(line[6:-1])
        else:
            steps[-1].stdout.append(line)
    return header, steps


def write_transcript(path: Path, header: list[str], steps: list[Step]) -> None:
    lines = list(header)
    for step in steps:
        lines.append(step.command)
        lines.extend(step.stdout)
        lines.extend(f"! {e}" for e in step.stderr)
        if step.status:
            lines.append(f"[exit {step.status}]")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def substitute(text: str, bound: dict[str, str]) -> str:
    return PLACEHOLDER.sub(lambda m: bound[m.group(1)], text)


def match_line(expected: str, actual: str, bound: dict[str, str]) -> bool:
    """Compare one line, binding placeholders seen for the first time."""
    pattern, names, pos = [], [], 0
    for m in PLACEHOLDER.finditer(expected):
        pattern.append(re.escape(expected[pos:m.start()]))
        name = m.group(1)
        if name in bound:
            pattern.append(re.escape(bound[name]))
        else:
            pattern.append(VALUE)
            names.append(name)
        pos = m.end()
    pattern.append(re.escape(expected[pos:]))
    found = re.fullmatch("".join(pattern), actual)
    if not found:
        return False
    for name, value in zip(names, found.groups()):
        bound[name] = value
    return True


def updated(expected: list[str], actual: list[str], bound: dict[str, str]) -> list[str]:
    """For --update-golden: the actual lines, keeping the file's placeholder lines that still match."""
    return [e if i < len(expected) and PLACEHOLDER.search(e := expected[i]) and match_line(e, line, bound) else line
            for i, line in enumerate(actual)]


class TranscriptShell(Shell):
    """The real REPL, telling the transcript when a line has run (its output is all printed)."""

    def __init__(self, *args, **kwargs) -> None:  # type: ignore[no-untyped-def]
        super().__init__(*args, **kwargs)
        self.ran: queue.Queue[str] = queue.Queue()

    def run_text(self, text: str, echo: bool = False) -> bool:
        try:
            return super().run_text(text, echo)
        finally:
            self.ran.put(text)


class Interactive:
    """One REPL session for a whole transcript, its loop in a thread of its own;
    `type` enters a line at the prompt and returns what the line printed."""

    def __init__(self, connection: Connection, pipe: PipeInput) -> None:
        self.pipe = pipe
        self.stdout, self.stderr = io.StringIO(), io.StringIO()
        # The original never asked before a bulk change: `set confirm off` is its behaviour.
        self.shell = TranscriptShell(connection, input=pipe, output=DummyOutput(), history=ShellHistory(None),
                                     live=LiveNames(None), stdout=self.stdout, stderr=self.stderr, confirm="off")
        # What the shell prints before its first prompt: the banner's two lines and the
        # blank line every session in the guide has between the banner and the prompt.
        self.banner = (f"SDAManager's Client. Connect to {connection.address}\n"
                       f"moreh_smclient {__version__} (open re-implementation). Type 'help' for the commands.\n"
                       "\n")
        self.status: int | None = None
        self._printed = (len(self.banner), 0)
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        self.status = self.shell.run()

    def type(self, line: str) -> tuple[list[str], list[str]]:
        self.pipe.send_text(line + "\r")
        try:
            ran = self.shell.ran.get(timeout=30)
        except queue.Empty:
            raise AssertionError(f"the shell did not run {line!r}") from None
        assert ran == line, f"the shell ran {ran!r} for {line!r}"
        out, err = self.stdout.getvalue(), self.stderr.getvalue()
        assert out.startswith(self.banner), out[:200]
        printed = out[self._printed[0]:], err[self._printed[1]:]
        self._printed = (len(out), len(err))
        return printed[0].splitlines(), printed[1].splitlines()

    def leave(self) -> None:
        self.pipe.send_text("\x04")  # Ctrl-D on the empty prompt
        self._thread.join(10)
        assert not self._thread.is_alive(), "the shell did not leave on Ctrl-D"
        assert self.status == 0


@contextmanager
def interactive(port: int) -> Iterator[Interactive]:
    connection = Connection(Address("127.0.0.1", port), timeout=5)
    try:
        with create_pipe_input() as pipe:
            session = Interactive(connection, pipe)
            yield session
            session.leave()
    finally:
        connection.close()


def run(capsys: pytest.CaptureFixture[str], port: int, line: str, clock: FakeClock,
        shell: Interactive | None) -> tuple[list[str], list[str], int | None]:
    """What one step printed, and its exit status (None through the REPL, which has none)."""
    kind, command = line[:2], line[2:]
    if kind == "@ ":
        verb, seconds = command.split()
        assert verb == "wait", line
        clock.now += float(seconds)
        return [], [], 0
    if kind == "> " and shell is not None:
        out, err = shell.type(command)
        return out, err, None
    if kind == "$ ":
        words = shlex.split(command)
        status = stub_main([*words, "--port", str(port)])
    else:
        status = main(["--ip", "127.0.0.1", "--port", str(port), "--command", command])
    out, err = capsys.readouterr()
    return out.splitlines(), err.splitlines(), status


def settings(header: list[str]) -> dict[str, float]:
    found = {"backends": 60, "devices": 8, "prepare": 0.0, "clean": 0.0}
    for line in header:
        if m := re.fullmatch(r"# cluster: (\d+) x (\d+)", line):
            found["backends"], found["devices"] = int(m.group(1)), int(m.group(2))
        elif m := re.fullmatch(r"# delays: ([\d.]+) ([\d.]+)", line):
            found["prepare"], found["clean"] = float(m.group(1)), float(m.group(2))
    return found


def check_step(where: str, step: Any, out: list[str], err: list[str], status: int | None,
               bound: dict[str, str], update: bool = False) -> None:
    """What a step printed and its exit status (None: not known, not checked) are the
    transcript's; with `update` (--update-golden), they become the transcript's."""
    if update:
        step.stdout = updated(step.stdout, out, bound)
        step.stderr = updated(step.stderr, err, bound)
        step.status = status
        return
    assert len(out) == len(step.stdout), f"{where}\nstdout was:\n" + "\n".join(out)
    for expected, actual in zip(step.stdout, out):
        assert match_line(expected, actual, bound), f"{where}\nexpected: {expected}\nactual:   {actual}"
    assert len(err) == len(step.stderr), f"{where}\nstderr was:\n" + "\n".join(err)
    for expected, actual in zip(step.stderr, err):
        assert match_line(expected, actual, bound), f"{where}\nexpected: {expected}\nactual:   {actual}"
    if status is not None:
        assert status == step.status, f"{where}: exit {status}, expected {step.status}"


@pytest.mark.parametrize("mode", ["command", "repl"])
@pytest.mark.parametrize("path", sorted(GOLDEN.glob("*.txt")), ids=lambda p: p.stem)
def test_transcript(path: Path, mode: str, capsys: pytest.CaptureFixture[str],
                    request: pytest.FixtureRequest) -> None:
    update = request.config.getoption("--update-golden")
    if update and mode == "repl":
        pytest.skip("--update-golden rewrites the files from --command")
    header, steps = read_transcript(path)
    clock = FakeClock(START)
    size = settings(header)
    manager = new_manager(int(size["backends"]), int(size["devices"]), clock=clock,
                          randbelow=random.Random(path.stem).randrange,
                          prepare_seconds=size["prepare"], clean_seconds=size["clean"])
    server, port = create_server("127.0.0.1:0", manager)
    server.start()
    bound: dict[str, str] = {}
    try:
        with interactive(port) if mode == "repl" else nullcontext() as shell:
            for step in steps:
                command = substitute(step.command, bound)
                out, err, status = run(capsys, port, command, clock, shell)
                check_step(f"{path.name} ({mode}): {command}", step, out, err, status, bound, update)
    finally:
        server.stop(0)
    if update:
        write_transcript(path, header, steps)
