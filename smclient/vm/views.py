"""The text of moreh-smi and moreh-switch-model, made from the API's messages.

Pure functions: a DeviceReport or ModelChoices in, lines out (no I/O, no
calls).  The frame is the admin shell's (smclient.render: `+---+` rules,
`+===+` under the header, two spaces of padding, headers centred by the
original's rule), with what Moreh's moreh-smi samples add to it:

- a minimum width per column (the device table is 103 columns wide even
  when every cell is `-`), growing for longer content;
- a title row over the header (`Current Version: X  Latest Version: Y`,
  right-aligned, two spaces before the closing `|`);
- cells centred the way Python's str.center does it (`    397 MiB     `,
  `      0 %      `, `      Moreh SDA      `), and per-cell alignment (an idle
  `-` is left-aligned in a centred column).

Text from the server is cleaned (smclient.sanitize) before it is measured.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any, NamedTuple

from ..render import _centre, _pad, _width
from ..sanitize import clean

LEFT, RIGHT, CENTRE = "L", "R", "C"

NAME = "Moreh SDA"  # the Name column: what Moreh's pages call "MoAI Accelerator"
IDLE = "-"
PROMPT = "Selection ({first}-{last}, q, Q): "


class Col(NamedTuple):
    header: str
    align: str = LEFT  # LEFT, RIGHT or CENTRE, for the data (headers are centred)
    minimum: int = 0  # the column's least content width


# A cell: its text (aligned as its column says), or (text, alignment) for one cell
# aligned otherwise (an idle `-` in a centred column).
Cell = str | tuple[str, str]


def _cell(cell: Cell, default: str) -> tuple[str, str]:
    text, align = cell if isinstance(cell, tuple) else (cell, default)
    return clean(text), align


def _padded(text: str, w: int, align: str) -> str:
    if align != CENTRE:
        return _pad(text, w, align == RIGHT)
    leftover = w - _width(text)
    left = leftover // 2 + (leftover & w & 1)  # str.center's rule
    return "  " + " " * left + text + " " * (leftover - left) + "  "


def frame(columns: Sequence[Col], rows: Iterable[Sequence[Cell]], title: str | None = None) -> list[str]:
    """`rows` in the frame, under `title` when given (a row of its own, right-aligned)."""
    cells = [[_cell(c, col.align) for c, col in zip(row, columns)] for row in rows]
    widths = [max(col.minimum, _width(clean(col.header)), *(_width(row[j][0]) for row in cells))
              for j, col in enumerate(columns)]
    inner = sum(w + 4 for w in widths) + len(widths) - 1
    if title is not None:
        title = clean(title)
        short = _width(title) + 4 - inner
        if short > 0:  # a long title widens the last column: the frame stays straight
            widths[-1] += short
            inner += short
    rule, double = "+" + "-" * inner + "+", "+" + "=" * inner + "+"
    lines = []
    if title is not None:
        lines += [rule, "|" + " " * (inner - _width(title) - 2) + title + "  |"]
    lines += [rule, "|" + "|".join(_centre(clean(col.header), w) for col, w in zip(columns, widths)) + "|", double]
    lines += ["|" + "|".join(_padded(text, w, align) for (text, align), w in zip(row, widths)) + "|"
              for row in cells]
    lines.append(rule)
    return lines


# ---- moreh-smi ----------------------------------------------------------------------------

DEVICE_COLUMNS = (Col("Device", LEFT, 6), Col("Name", CENTRE, 17), Col("Model", LEFT, 14),
                  Col("Memory Usage", CENTRE, 12), Col("Total Memory", LEFT, 12), Col("Utilization", CENTRE, 11))
SHORT_COLUMNS = DEVICE_COLUMNS[:3]
TOKEN_COLUMNS = (Col("Device", LEFT, 6), Col("Name", CENTRE, 17), Col("Token"), Col("Model"))
PROCESS_COLUMNS = (Col("Device", RIGHT), Col("Job ID", RIGHT), Col("PID", RIGHT), Col("Process"),
                   Col("Memory Usage", CENTRE))
PHYSICAL_COLUMNS = (Col("Dev", RIGHT), Col("Location"), Col("Dev Temp", RIGHT), Col("Mem Temp", RIGHT),
                    Col("Dev Util", RIGHT), Col("Mem Util", RIGHT), Col("Mem Usage", RIGHT))


def mib(value: int) -> str:
    return f"{value} MiB"


def percent(value: int) -> str:
    return f"{value} %"


def celsius(value: int) -> str:
    return f"{value}C"


def device_label(number: int, device: Any) -> str:
    """`* 0` for the current device (the token's Cur SDA), `  1` for the others."""
    return f"{'*' if device.current else ' '} {number}"


def numbered(report: Any, only: int | None = None) -> list[tuple[int, Any]]:
    """(device number, TokenDevice) pairs: all of them, or just device `only`."""
    pairs = list(enumerate(report.devices))
    return pairs if only is None else [pairs[only]]


def measured_jobs(device: Any) -> list[Any]:
    return [job for job in device.jobs if job.measured]


def usage_cells(device: Any) -> list[Cell]:
    """Memory Usage, Total Memory and Utilization of a device: its running jobs' figures
    (summed, utilisation averaged, when a duplicable SDA runs several), `-` when none runs."""
    jobs = measured_jobs(device)
    if not jobs:
        return [(IDLE, LEFT)] * 3
    used = sum(job.memory_used_mib for job in jobs)
    total = sum(job.memory_total_mib for job in jobs)
    utilization = sum(job.utilization_percent for job in jobs) // len(jobs)
    return [mib(used), (mib(total), LEFT), percent(utilization)]


def version_title(report: Any) -> str:
    return (f"Current Version: {report.current_version or IDLE}  "
            f"Latest Version: {report.latest_version or IDLE}")


def device_table(report: Any, only: int | None = None) -> list[str]:
    """moreh-smi's main table: the versions, then one row per device of the token."""
    rows = [[device_label(n, d), NAME, d.model_name, *usage_cells(d)] for n, d in numbered(report, only)]
    return frame(DEVICE_COLUMNS, rows, title=version_title(report))


def short_table(report: Any) -> list[str]:
    """Device, Name and Model: what device --rm and --switch show."""
    return frame(SHORT_COLUMNS, [[device_label(n, d), NAME, d.model_name] for n, d in numbered(report)])


def token_table(report: Any, only: int | None = None) -> list[str]:
    """moreh-smi -t: the token each device authenticates with (every device is the token's)."""
    return frame(TOKEN_COLUMNS, [[device_label(n, d), NAME, report.token, d.model_name]
                                 for n, d in numbered(report, only)])


def process_table(report: Any, only: int | None = None) -> list[str]:
    """The `Processes:` block (a blank line, the heading, the table), or no lines when no
    device has a live job.  A job still waiting for its devices (QUEUED, SUMMITED) is
    listed too, its Memory Usage `-`: the customer sees its Job ID at once."""
    rows = [[str(n), str(job.feid), str(job.client_pid), job.process_name,
             mib(job.memory_used_mib) if job.measured else (IDLE, LEFT)]
            for n, device in numbered(report, only) for job in device.jobs]
    return ["", "Processes:", *frame(PROCESS_COLUMNS, rows)] if rows else []


def smi_screen(report: Any, only: int | None = None) -> list[str]:
    """What `moreh-smi` (and `-i N`) prints."""
    return device_table(report, only) + process_table(report, only)


def physical_table(job: Any) -> list[str]:
    """moreh-smi -p: one row per physical device of a running job."""
    rows = [[str(n), f"{t.backend_name}:{t.index}", celsius(t.temperature_c), celsius(t.memory_temperature_c),
             percent(t.utilization_percent), percent(t.memory_utilization_percent),
             f"{mib(t.memory_used_mib)} / {mib(t.memory_total_mib)}"]
            for n, t in enumerate(job.devices)]
    return frame(PHYSICAL_COLUMNS, rows)


def physical_screen(report: Any, number: int | None = None) -> list[str]:
    """moreh-smi -p: the devices of device `number`'s running job (default: the current device)."""
    if number is None:
        number = next((n for n, d in enumerate(report.devices) if d.current), None)
        if number is None:
            return ["No running job: the token has no device."]
    device = report.devices[number]
    running = measured_jobs(device)
    if not running:
        waiting = [f"job {job.feid} is {status_name(job.status)}" for job in device.jobs]
        return [f"No running job on device {number}" + (f" ({', '.join(waiting)})." if waiting else ".")]
    lines: list[str] = []
    for job in running:
        if lines:
            lines.append("")
        lines += [clean(f"Device {number} ({device.model_name}), Job ID {job.feid}:"), *physical_table(job)]
    return lines


def status_name(status: int) -> str:
    from ..api import sdamanager_pb2 as pb

    try:
        return pb.JobStatus.Name(status).removeprefix("JOB_STATUS_")
    except ValueError:
        return str(status)


# ---- the model menu (moreh-switch-model, moreh-smi device --list/--add) -------------------

def choice_line(number: int, choice: Any, star: bool = True) -> str:
    """`1. small mg1 *`, `2. large mg1`, `1. Small.64GB  *` (no group: two spaces, as in Moreh's sample)."""
    line = clean(f"{number}. {choice.model.name} {choice.model_group_name}")
    return line + " *" if star and choice.current else line.rstrip()


def menu_lines(choices: Any, star: bool = True) -> list[str]:
    return [choice_line(n, c, star) for n, c in enumerate(choices.choices, 1)]


def current_line(choices: Any) -> str:
    """`Current Moreh SDA: small at mg1`, `Current Moreh SDA: Small.64GB`, or `... none` without an SDA."""
    if not choices.current_sda:
        return "Current Moreh SDA: none"
    name = choices.current_model_name
    if choices.current_model_group_name:
        name += f" at {choices.current_model_group_name}"
    return clean(f"Current Moreh SDA: {name}")


def model_prompt(count: int) -> str:
    return PROMPT.format(first=1, last=count)


def device_prompt(count: int) -> str:
    return PROMPT.format(first=0, last=count - 1)


def switched_line(choice: Any) -> str:
    return clean(f'The Moreh SDA model is successfully switched to  "{choice.model.name}".')
