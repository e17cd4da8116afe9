"""Golden transcripts of the customer's side: what a customer runs in the VM
(`moreh-smi`, `moreh-switch-model`), what the operator sees of it in the admin
shell, and the reverse, against a fresh simulator per file.

Each file in tests/golden/customer/ is one session, in test_golden.py's format
(`! ` stderr, `[exit N]`, `<NAME>` placeholders bound at first sight, the
simulator's clock fixed and its tokens seeded per file), with these steps:

- `> CMD`: the operator's `moreh_smclient --command 'CMD'`;
- `$ moreh-smi ARGS`, `$ moreh-switch-model ARGS`: the customer's tools, with
  MOREH_SDA_MANAGER_ADDRESS set to the simulator and MOREH_SDA_TOKEN to the
  token of the last `@ token`; `$ printf 'TEXT' | TOOL ARGS` feeds TEXT (with
  `\\n` escapes) to its standard input, which is a pipe, never a terminal;
- `$ sdamanager-stub ARGS`: the VM side's jobs (`job submit`, `job finish`),
  with the simulator's --port added;
- `@ token <T>` sets the tools' token (`@ token -`: none); `@ wait N` moves
  the simulator's clock N seconds on.

The tools run in this process (their `main`, as test_golden runs the shell's);
with CUSTOMER_GOLDEN_SUBPROCESS=1 each runs as the installed console script
instead, with the same expected output.  `pytest tests/test_customer_golden.py
--update-golden` rewrites the files from what the tools print now.
"""

from __future__ import annotations

import io
import os
import random
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
from helpers import FakeClock
from test_golden import START, check_step, read_transcript, substitute, write_transcript

from sdamanager_stub.cli import main as stub_main
from sdamanager_stub.manager import new_manager
from sdamanager_stub.server import create_server
from smclient.cli import main as shell_main
from smclient.vm import smi, switch_model

GOLDEN = Path(__file__).parent / "golden" / "customer"
TOOLS = {"moreh-smi": smi.main, "moreh-switch-model": switch_model.main}
BIN = Path(sys.executable).parent
SUBPROCESS = os.environ.get("CUSTOMER_GOLDEN_SUBPROCESS") == "1"
# Variables that would point the tools elsewhere than the simulator, or hand them a secret.
FOREIGN = ("SDAMANAGER_IP", "SDAMANAGER_PORT", "MOREH_SDA_MANAGER_ADDRESS", "MOREH_SDA_TOKEN",
           "SDAMANAGER_ADMIN_SECRET", "SDAMANAGER_ADMIN_SECRET_FILE", "SDAMANAGER_TLS_CA")

pytestmark = pytest.mark.usefixtures("utc")  # the transcripts' times are in UTC (conftest.py)


def piped(words: list[str]) -> tuple[str | None, list[str]]:
    """`printf 'TEXT' | TOOL ARGS` -> (TEXT, [TOOL, *ARGS]); other words stay as they are."""
    if words[0] != "printf":
        return None, words
    assert words[2] == "|", words
    return words[1].encode().decode("unicode_escape"), words[3:]


class Session:
    def __init__(self, port: int, clock: FakeClock, capsys: pytest.CaptureFixture[str],
                 monkeypatch: pytest.MonkeyPatch) -> None:
        self.port, self.clock, self.capsys, self.monkeypatch = port, clock, capsys, monkeypatch
        self.token: str | None = None
        for name in FOREIGN:
            monkeypatch.delenv(name, raising=False)
        monkeypatch.setenv("MOREH_SDA_MANAGER_ADDRESS", f"127.0.0.1:{port}")

    def run(self, line: str) -> tuple[list[str], list[str], int]:
        kind, command = line[:2], line[2:]
        if kind == "@ ":
            verb, value = command.split()
            if verb == "wait":
                self.clock.now += float(value)
            else:
                assert verb == "token", line
                self.token = None if value == "-" else value
            return [], [], 0
        if kind == "> ":
            status = shell_main(["--ip", "127.0.0.1", "--port", str(self.port), "--command", command])
            out, err = self.capsys.readouterr()
            return out.splitlines(), err.splitlines(), status
        stdin, words = piped(shlex.split(command))
        if words[0] == "sdamanager-stub":
            status = stub_main([*words[1:], "--port", str(self.port)])
            out, err = self.capsys.readouterr()
        elif SUBPROCESS:
            env = {k: v for k, v in os.environ.items() if k not in FOREIGN}
            env["MOREH_SDA_MANAGER_ADDRESS"] = f"127.0.0.1:{self.port}"
            if self.token is not None:
                env["MOREH_SDA_TOKEN"] = self.token
            proc = subprocess.run([str(BIN / words[0]), *words[1:]], input=stdin or "", capture_output=True,
                                  text=True, env=env, timeout=60)
            status, out, err = proc.returncode, proc.stdout, proc.stderr
        else:
            if self.token is None:
                self.monkeypatch.delenv("MOREH_SDA_TOKEN", raising=False)
            else:
                self.monkeypatch.setenv("MOREH_SDA_TOKEN", self.token)
            self.monkeypatch.setattr(sys, "stdin", io.StringIO(stdin or ""))
            status = TOOLS[words[0]](words[1:])
            out, err = self.capsys.readouterr()
        assert "Traceback" not in err, err
        return out.splitlines(), err.splitlines(), status


@pytest.mark.parametrize("path", sorted(GOLDEN.glob("*.txt")), ids=lambda p: p.stem)
def test_customer_transcript(path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
                             request: pytest.FixtureRequest) -> None:
    update = request.config.getoption("--update-golden")
    header, steps = read_transcript(path)
    clock = FakeClock(START)
    manager = new_manager(4, 8, clock=clock, randbelow=random.Random(path.stem).randrange)
    server, port = create_server("127.0.0.1:0", manager)
    server.start()
    session = Session(port, clock, capsys, monkeypatch)
    bound: dict[str, str] = {}
    try:
        for step in steps:
            command = substitute(step.command, bound)
            out, err, status = session.run(command)
            check_step(f"{path.name}: {command}", step, out, err, status, bound, update)
    finally:
        server.stop(0)
    if update:
        write_transcript(path, header, steps)
