"""What a customer's `moreh-smi` reads off a running job's devices, simulated.

There is no hardware behind the simulator, so the figures are a function of
the job alone: its FeID, its devices (their number and order) and how long it
has been RUNNING.  The same state read at the same instant always gives the
same figures, and they move in steps of `STEP` seconds, so a transcript taken
within a step of a job's start is stable:

- every physical device has `DEVICE_MIB` MiB (65520, as Moreh's sample shows:
  xLarge.512GB, 8 devices, `524160 MiB`);
- during the first step a job reads `STARTUP_MIB` (397 MiB, the framework's
  footprint in Moreh's sample) and 0 % utilization;
- from step k = 1 on, it has taken `min(0.85, 0.1 k)` of its memory on top of
  that, and its devices are `60 + (7 feid + 13 k + 3 i) mod 39` % busy
  (device i of the job, so between 60 and 98 %);
- a job's memory is spread over its devices (the first ones take the
  remainder), its utilization is the mean of its devices';
- a device's temperature is `30 + 45 util / 100 + i mod 3` degrees C and its
  memory's `28 + 40 memutil / 100 + i mod 2` (integer division throughout).
"""

from __future__ import annotations

from typing import NamedTuple

DEVICE_MIB = 65520
STARTUP_MIB = 397
STEP = 10.0


class DeviceFigures(NamedTuple):
    temperature_c: int
    memory_temperature_c: int
    utilization_percent: int
    memory_utilization_percent: int
    memory_used_mib: int
    memory_total_mib: int


class JobFigures(NamedTuple):
    memory_used_mib: int
    memory_total_mib: int
    utilization_percent: int
    devices: list[DeviceFigures]  # in the job's placement order


def job_figures(feid: int, devices: int, running_for: float) -> JobFigures:
    """The figures of a job with `devices` devices that has been RUNNING `running_for` seconds."""
    devices = max(devices, 1)
    step = int(max(running_for, 0.0) // STEP)
    total = devices * DEVICE_MIB
    used = min(total, STARTUP_MIB + (total * min(85, 10 * step)) // 100)
    share, extra = divmod(used, devices)
    figures = []
    for i in range(devices):
        mem = share + (1 if i < extra else 0)
        util = 0 if step == 0 else 60 + (7 * feid + 13 * step + 3 * i) % 39
        mem_util = (100 * mem) // DEVICE_MIB
        figures.append(DeviceFigures(
            temperature_c=30 + (45 * util) // 100 + i % 3,
            memory_temperature_c=28 + (40 * mem_util) // 100 + i % 2,
            utilization_percent=util,
            memory_utilization_percent=mem_util,
            memory_used_mib=mem,
            memory_total_mib=DEVICE_MIB,
        ))
    mean = sum(f.utilization_percent for f in figures) // devices
    return JobFigures(used, total, mean, figures)
