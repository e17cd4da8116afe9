"""The simulator's clocks: wall time that never runs backwards (SteadyClock, what
a server runs on), that time run faster (`serve --speed N`, for demos), and a
manual clock that stands still until a test moves it
(`running_simulator(clock="manual")`, `sim.advance(seconds)`).

The rules read time only when asked something (rules/base.py `advance`), and
run every transition that fell due since, in time order, at its own instant;
so moving a clock by an hour runs that hour's transitions (devices prepared,
jobs started, devices cleaned) as they would have happened, with no thread and
no sleeping.
"""

from __future__ import annotations

import datetime
import threading
import time
from collections.abc import Callable


class SteadyClock:
    """Seconds since the epoch that run at the pace of the monotonic clock and never go
    backwards: from the wall time when made, forward with `monotonic()`, and forward to
    `wall()` whenever that is ahead (a step forward, a resume from suspend).  A step of
    the wall clock backwards (NTP, an operator's `date -s`) leaves it running on, so a
    device still prepares and cleans in its seconds (on wall time it would wait out the
    step: an hour back, an hour PREPARING).  `not_before(t)` moves it forward to `t` (a
    state file's last instant: its times never run backwards across a restart either)."""

    def __init__(self, wall: Callable[[], float] = time.time, monotonic: Callable[[], float] = time.monotonic) -> None:
        self._wall, self._monotonic = wall, monotonic
        self._now, self._at = wall(), monotonic()  # the last reading, and the monotonic time of it
        self._lock = threading.Lock()

    def __call__(self) -> float:
        with self._lock:
            at = self._monotonic()
            self._now = max(self._now + (at - self._at), self._wall())
            self._at = at
            return self._now

    def not_before(self, moment: float) -> None:
        with self._lock:
            self._now = max(self._now, moment)


class ManualClock:
    """Seconds since the epoch that change only when `advance` or `advance_to` says so."""

    def __init__(self, start: float | None = None) -> None:
        self._now = time.time() if start is None else float(start)
        self._lock = threading.Lock()

    def __call__(self) -> float:
        return self._now

    def advance(self, seconds: float) -> float:
        if isinstance(seconds, bool) or not isinstance(seconds, (int, float)) or not 0 <= seconds < 10 * 365 * 86_400:
            raise ValueError(f"advance takes seconds from 0 to ten years, not {seconds!r}")
        with self._lock:
            self._now += float(seconds)
            return self._now

    def advance_to(self, moment: datetime.datetime | float) -> float:
        """To `moment` (an aware datetime, or seconds since the epoch); never backwards."""
        if isinstance(moment, datetime.datetime):
            if moment.tzinfo is None:
                raise ValueError("advance_to takes an aware datetime (with its zone), or seconds since the epoch")
            target = moment.timestamp()
        else:
            target = float(moment)
        with self._lock:
            if target < self._now:
                raise ValueError(f"the clock does not go back: it is {self._now:.3f}, not {target:.3f}")
            self._now = target
            return self._now


def scaled_clock(speed: float, base: Callable[[], float] | None = None) -> Callable[[], float]:
    """`base` (default: a SteadyClock) from now on, `speed` times faster (`serve --speed N`)."""
    if not 0 < speed <= 10_000:
        raise ValueError(f"speed must be above 0 and at most 10000, not {speed!r}")
    base = base if base is not None else SteadyClock()
    start = base()

    def clock() -> float:
        return start + (base() - start) * speed

    return clock
