"""What many test modules share: a clock that moves only when told, a journal kept in
memory, a manager with a seeded random source, and waiting for a condition with a
deadline.  (Fixtures are in conftest.py; the simulator itself is the project's own
`sdamanager` fixture, sdamanager_stub/pytest_plugin.py.)

    from helpers import FakeClock, MemoryJournal, seeded_manager, strength, wait_for
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable

from sdamanager_stub.journal import JournalError
from sdamanager_stub.manager import SDAManager

T0 = 1_700_000_000.0  # 2023-11-14 22:13:20 UTC

# Set by conftest.py from --slow (make test-all) before any test module is imported.
FULL_STRENGTH = False


def strength(light: int, full: int) -> int:
    """How many rounds (kills, examples) a test marked slow makes: `full` with --slow
    (make test-all, CI), `light` in make test.  Read when a test module is imported,
    so it can size a hypothesis @settings too."""
    return full if FULL_STRENGTH else light


class FakeClock:
    """A clock for the rules (`SDAManager(clock=...)`): it reads `now`, which moves only when a test moves it."""

    def __init__(self, now: float = T0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds

    def set(self, now: float) -> None:
        self.now = now


class MemoryJournal:
    """The journal protocol (sdamanager_stub/journal.py) kept in lists: what the rules
    write to a store, and what `SDAManager.replay` needs of it."""

    def __init__(self) -> None:
        self.changes: list[tuple[float, str, str, str, str]] = []  # (when, action, arguments, made, peer)
        # (when, action, arguments, token, result, peer)
        self.refusals: list[tuple[float, str, str, str, str, str]] = []

    def record_change(self, when: float, action: str, arguments: str, made: str, peer: str) -> None:
        self.changes.append((when, action, arguments, made, peer))

    def record_refusal(self, when: float, action: str, arguments: str, token: str, result: str,
                       peer: str) -> None:
        self.refusals.append((when, action, arguments, token, result, peer))

    # Each entry is kept as it is recorded (and no handle returned): nothing waits.
    def sync(self, entry: object) -> None:
        pass

    def when_durable(self, entry: object, callback: Callable[[JournalError | None], None]) -> None:
        callback(None)


def seeded_manager(clock: Callable[[], float], backends: int = 4, devices: int = 8, prepare: float = 0.0,
                   clean: float = 0.0) -> SDAManager:
    """The guide's models on a `backends` x `devices` cluster, with the given delays, on
    `clock`, and tokens drawn from a seeded random source (the same tokens every run)."""
    m = SDAManager(clock=clock, randbelow=random.Random(1234).randrange,
                   prepare_seconds=prepare, clean_seconds=clean)
    m.add_default_models()
    m.add_default_cluster(backends, devices)
    return m


def wait_for(condition: Callable[[], object], timeout: float = 10.0,
             what: str | Callable[[], str] = "the condition", every: float = 0.01) -> None:
    """Return as soon as `condition()` is true; fail naming `what` if it is not within `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:g} s waiting for {what() if callable(what) else what}")
        time.sleep(every)
