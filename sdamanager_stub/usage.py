"""Device usage over an interval (`show usage`), from the jobs that ran in it.

A job uses its device count from its start (RUNNING) to its end, or to now
while it still runs.  Per token, and for the whole cluster, the usage is a
step function over the interval; its minimum, maximum and time-weighted
average are reported, also as a share of the cluster's devices.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from .entities import Job


@dataclass(frozen=True)
class Usage:
    token: str
    description: str
    min: int
    max: int
    average: float
    total_devices: int

    def share(self, value: float) -> float:
        return 100.0 * value / self.total_devices if self.total_devices else 0.0


@dataclass(frozen=True)
class UsageReport:
    begin: float
    end: float
    total_devices: int
    total: Usage
    entries: list[Usage] = field(default_factory=list)


def _profile(intervals: list[tuple[float, float, int]], begin: float, end: float) -> tuple[int, int, float]:
    """(min, max, average) of the sum of `intervals` (start, stop, devices) over [begin, end)."""
    changes: dict[float, int] = {}
    level = 0
    for start, stop, devices in intervals:
        start, stop = max(start, begin), min(stop, end)
        if start >= stop:
            continue
        if start <= begin:
            level += devices
        else:
            changes[start] = changes.get(start, 0) + devices
        if stop < end:
            changes[stop] = changes.get(stop, 0) - devices
    low = high = level
    area = 0.0
    at = begin
    for when in sorted(changes):
        area += level * (when - at)
        level += changes[when]
        at = when
        low, high = min(low, level), max(high, level)
    area += level * (end - at)
    return low, high, area / (end - begin)


def compute_usage(jobs: Iterable[Job], begin: float, end: float, now: float, total_devices: int,
                  descriptions: dict[str, str], token: str = "") -> UsageReport:
    """Usage per token (only `token` if given) and for the whole cluster over [begin, end),
    measured up to `now`: what has not happened yet is not idle time."""
    until = min(end, now)
    if until <= begin:  # all of it still to come: nothing used, nothing idle
        none = Usage("", "", 0, 0, 0.0, total_devices)
        entries = [Usage(token, descriptions.get(token, ""), 0, 0, 0.0, total_devices)] if token else []
        return UsageReport(begin, end, total_devices, none, entries)
    per_token: dict[str, list[tuple[float, float, int]]] = {}
    everything: list[tuple[float, float, int]] = []
    for job in jobs:
        if not job.start_time:
            continue  # never ran
        interval = (job.start_time, job.end_time or now, job.device_count)
        everything.append(interval)
        if not token or job.token == token:
            per_token.setdefault(job.token, []).append(interval)
    if token:
        per_token.setdefault(token, [])
    entries = []
    for value, intervals in per_token.items():
        low, high, average = _profile(intervals, begin, until)
        if token or high:
            entries.append(Usage(value, descriptions.get(value, ""), low, high, average, total_devices))
    low, high, average = _profile(everything, begin, until)
    total = Usage("", "", low, high, average, total_devices)
    return UsageReport(begin, end, total_devices, total, entries)
