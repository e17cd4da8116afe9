"""The installed shell on a real terminal: `moreh_smclient --simulator` (what `make run` starts)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

pexpect = pytest.importorskip("pexpect")

SCRIPT = Path(sys.executable).with_name("moreh_smclient")


def test_interactive_shell_on_the_embedded_simulator():
    child = pexpect.spawn(str(SCRIPT), ["--simulator"], encoding="utf-8", timeout=20, dimensions=(50, 220))
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
