"""A state file written by an earlier simulator loads and lists the same.

tests/data/state-2.db was written once by the simulator of schema version 2
(tests/data/make_state_file.py): a snapshot, then one op for every kind of
change, refused attempts among them.  Today's simulator must replay it and
show, through the shell, exactly what that simulator showed
(tests/data/state-2.listings.txt): every listing, the history and the event
log included.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from helpers import FakeClock

from sdamanager_stub.manager import new_manager
from sdamanager_stub.server import build_simulator
from sdamanager_stub.store import Store
from sdamanager_stub.testing import AdminClient

DATA = Path(__file__).resolve().parent / "data"
STATE_FILE = DATA / "state-2.db"
OPENED = 1_767_261_600.0  # 2026-01-01 10:00 UTC, after everything in the file

COMMANDS = [
    "show token", "show token running", "show sda", "show sda running", "show sdamodel",
    "show sdamodelgroup", "show backend", "show backendgroup", "show usergroup", "show membership",
    "show relationship", "show job", "show history", "show eventlog", "show version",
"show usage 2026-01-01 2026-01-02", "show history device",
    "set output json", "show token", "show job", "show history", "show eventlog",
]


def listings(path: Path) -> str:
    """What the shell shows of the state in `path` (opened, so a snapshot is added to it)."""
    store = Store(path)
    manager = new_manager(backends=0, devices=8, clock=FakeClock(OPENED))
    store.attach(manager)
    simulator = build_simulator("127.0.0.1:0", manager)
    simulator.start()
    admin = AdminClient("127.0.0.1", simulator.port, None)
    try:
        shown = []
        for command in COMMANDS:
            result = admin.run(command)
            shown.append(f"> {command}\n{result.stdout}{result.stderr}")
        return "".join(shown)
    finally:
        admin.close()
        simulator.stop()
        store.close()


@pytest.mark.usefixtures("utc")
def test_a_state_file_of_schema_2_loads_and_lists_the_same(tmp_path: Path) -> None:
    copy = tmp_path / "state.db"
    shutil.copyfile(STATE_FILE, copy)
    expected = STATE_FILE.with_suffix(".listings.txt").read_text()
    assert listings(copy) == expected
    # and again, from the snapshot the first opening took
    assert listings(copy) == expected
