"""API messages to the original's tables: pure functions, no I/O.

Column names, order and alignment follow the references (SPEC section 5 and
its appendix); tables with no sample follow the same rules (text left,
counts and ids right).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Sequence
from functools import cache
from sys import intern  # a listing repeats its few tokens on every row: one string each
from typing import Any

from .api import sdamanager_pb2 as pb
from .results import RIGHT, Column, Table

# ---------------------------------------------------------------- values


def enum_name(prefix: str, name: str) -> str:
    """BACKEND_STATUS_ACTIVE -> ACTIVE."""
    return name[len(prefix):] if name.startswith(prefix) else name


def _names(enum: Any, prefix: str) -> dict[int, str]:
    return _Names({v.number: enum_name(prefix, v.name) for v in enum.DESCRIPTOR.values
                   if not v.name.endswith("UNSPECIFIED")})


class _Names(dict):
    """Enum number -> name; a number this shell does not know shows as itself."""

    def __missing__(self, number: int) -> str:
        return str(number)


ACCESS_LEVEL = _names(pb.AccessLevel, "ACCESS_LEVEL_")
BACKEND_STATUS = _names(pb.BackendStatus, "BACKEND_STATUS_")
DEVICE_STATUS = _names(pb.DeviceStatus, "DEVICE_STATUS_")
JOB_STATUS = _names(pb.JobStatus, "JOB_STATUS_")


def when(ts: Any) -> str:
    """A Timestamp as `YYYY-MM-DD HH:MM:SS.cc` in local time; blank when unset."""
    if not ts.seconds and not ts.nanos:
        return ""
    local = time.localtime(ts.seconds)
    return time.strftime("%Y-%m-%d %H:%M:%S", local) + f".{ts.nanos // 10_000_000:02d}"


@cache
def _seconds_hundredths() -> list[str]:
    """`SS.cc` for each second of a minute and hundredth: index second * 100 + hundredths
    (made on the first listing with times: a command that has none never pays for it)."""
    return [f"{s:02d}.{c:02d}" for s in range(60) for c in range(100)]


def _minute_prefix(start: int) -> str | None:
    """`YYYY-MM-DD HH:MM:` shared by the local times of the 60 seconds from `start`
    (a multiple of 60), or None when they do not share one."""
    try:
        first, last = time.localtime(start), time.localtime(start + 59)
    except (OverflowError, OSError, ValueError):
        return None
    # The minute is regular when it runs from :00 to :59 of the same local minute:
    # no change of offset inside it (a DST switch, a zone's new rule), an offset in
    # whole minutes (not a local mean time such as +00:19:32), no leap second.
    if first.tm_sec != 0 or last.tm_sec != 59 or first[:5] != last[:5]:
        return None
    return time.strftime("%Y-%m-%d %H:%M:", first)


def time_formatter() -> Callable[[Any], str]:
    """A `when` for one listing, with the same text, that calls localtime and strftime
    about once per minute of the listing's times instead of once per time.

    A minute's `YYYY-MM-DD HH:MM:` is formatted once and the seconds appended; a
    minute that is not regular (see _minute_prefix) falls back to `when`'s own
    computation, once per second.  The caches live as long as the formatter (one
    listing), so a change of time zone between listings is always seen.
    """
    minutes: dict[int, str | None] = {}
    seconds_text: dict[int, str] = {}
    seconds_hundredths = _seconds_hundredths()

    def format_time(ts: Any) -> str:
        seconds = ts.seconds
        nanos = ts.nanos
        if not seconds and not nanos:
            return ""
        minute = seconds // 60
        try:
            prefix = minutes[minute]
        except KeyError:
            prefix = minutes[minute] = _minute_prefix(minute * 60)
        hundredths = nanos // 10_000_000
        if prefix is not None and 0 <= hundredths < 100:
            return prefix + seconds_hundredths[(seconds - minute * 60) * 100 + hundredths]
        text = seconds_text.get(seconds)
        if text is None:
            text = seconds_text[seconds] = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(seconds))
        return text + f".{hundredths:02d}"

    return format_time


def duplicable(value: int) -> str:
    if value == 1:
        return "off"
    if value == 0:
        return "unlimited"
    return str(value)


def env_lines(env: Iterable[Any]) -> list[str]:
    return [f"{e.name}={e.value}" for e in env]


def placement_lines(placement: Iterable[Any]) -> tuple[list[str], list[str]]:
    """(backend ids, device lists), one line per backend."""
    ids, devices = [], []
    for p in placement:
        ids.append(str(p.backend_id))
        devices.append(",".join(map(str, p.device_indexes)))
    return ids, devices


# ---------------------------------------------------------------- tokens and SDAs

TOKEN_COLUMNS = [
    Column("Token"), Column("Description"), Column("Cur SDA", kind="int"), Column("Max SDA", kind="int"),
    Column("Duplicable", kind="auto"), Column("Priority", kind="int"), Column("Access Level"),
    Column("Worker Execute Info"), Column("ENV value", kind="env"),
]


def tokens_table(tokens: Iterable[Any]) -> Table:
    rows = [
        [t.value, t.description, str(t.current_sda) if t.current_sda else "", str(t.max_sda),
         duplicable(t.duplicable), str(t.priority), ACCESS_LEVEL[t.access_level],
         t.worker_execute_info, env_lines(t.env)]
        for t in tokens
    ]
    return Table(TOKEN_COLUMNS, rows)


SDA_COLUMNS = [Column("ID", RIGHT, kind="int"), Column("Token"), Column("SDAModel", kind="int"),
               Column("Reserved", kind="bool"), Column("Be_ID", kind="ints"), Column("Device_ID", kind="int_lists")]


def sdas_table(sdas: Iterable[Any]) -> Table:
    rows = []
    for s in sdas:
        backends, devices = placement_lines(s.placement)
        rows.append([str(s.id), s.token, str(s.model_id), "True" if s.reserved else "False", backends, devices])
    return Table(SDA_COLUMNS, rows)


def sdamodels_table(models: Iterable[Any]) -> Table:
    # The guide lists models by size (52, 12 devices, between 4 and 5).
    ordered = sorted(models, key=lambda m: (m.devices, m.id))
    rows = [[str(m.id), m.name, str(m.devices)] for m in ordered]
    return Table([Column("ID", RIGHT, kind="int"), Column("Name"), Column("Devices", RIGHT, kind="int")], rows)


# ---------------------------------------------------------------- groups

GROUP_COLUMNS = [Column("ID", RIGHT, kind="int"), Column("Name"), Column("Childs", kind="list")]
# A record shown as Name/Value rows: json makes it one object, keyed by the names.
NAME_VALUE_COLUMNS = [Column("Name"), Column("Value", kind="auto")]


def ref(r: Any) -> str:
    return f"{r.name}({r.id})"


def usergroups_table(groups: Iterable[Any]) -> Table:
    rows = [[str(g.id), g.name, g.description, ", ".join(g.tokens)] for g in groups]
    return Table([Column("ID", RIGHT, kind="int"), Column("Name"), Column("Description"),
                  Column("Childs", kind="list")], rows)


def sdamodelgroups_table(groups: Iterable[Any]) -> Table:
    rows = [[str(g.id), g.name, f"{g.backend_group_name}({g.backend_group_id})",
             ", ".join(m.name for m in g.models)] for g in groups]
    return Table([Column("ID", RIGHT, kind="int"), Column("Name"), Column("Backend Group"),
                  Column("Childs", kind="list")], rows)


def backendgroups_table(groups: Iterable[Any]) -> Table:
    rows = [[str(g.id), g.name, ", ".join(b.name for b in g.backends)] for g in groups]
    return Table(GROUP_COLUMNS, rows)


def memberships_table(memberships: Iterable[Any]) -> Table:
    rows = [[str(m.user_group.id), m.user_group.name, ", ".join(g.name for g in m.model_groups)]
            for m in memberships]
    return Table(GROUP_COLUMNS, rows)


def relationships_table(relationships: Iterable[Any]) -> Table:
    rows = []
    for r in relationships:
        rows.append([[ref(r.user_group)], [ref(link.model_group) for link in r.links],
                     [ref(link.backend_group) for link in r.links]])
    return Table([Column("User Group(id)", kind="list"), Column("SDAModel Group(id)", kind="list"),
                  Column("Backend Group(id)", kind="list")], rows)


# ---------------------------------------------------------------- backends

BACKEND_COLUMNS = [
    Column("ID", kind="int"), Column("Name"), Column("Ip"), Column("Group"), Column("Status"),
    Column("Device", parts=2, kind="devices"), Column("Device", parts=2, kind="devices"),
]


def backends_table(backends: Iterable[Any]) -> Table:
    rows = []
    for b in backends:
        pairs = [(str(d.index), DEVICE_STATUS[d.status]) for d in b.devices]
        # The default group shows blank, as in the guide's sample.
        group = b.group_name if b.group_id else ""
        rows.append([str(b.id), b.name, b.ip, group, BACKEND_STATUS[b.status], pairs[0::2], pairs[1::2]])
    return Table(BACKEND_COLUMNS, rows)


# ---------------------------------------------------------------- jobs

JOB_COLUMNS = [Column("FeID", RIGHT, kind="int"), Column("Token"), Column("PRY", RIGHT, kind="int"), Column("Status"),
               Column("PID", RIGHT, kind="int"), Column("Process Name"), Column("Start Time", kind="time")]


def jobs_table(jobs: Iterable[Any]) -> Table:
    when_ = time_formatter()
    status = JOB_STATUS
    rows = [(str(j.feid), intern(j.token), str(j.priority), status[j.status], str(j.client_pid),
             j.process_name, when_(j.start_time)) for j in jobs]
    return Table(JOB_COLUMNS, rows)  # type: ignore[arg-type]


def job_detail_table(job: Any) -> Table:
    """`get job feid`: a Name/Value table, one row per backend with its devices."""
    rows: list[list[Any]] = [
        ["Frontend ID", str(job.feid)],
        ["Token", job.token],
        ["Token name", job.token_description],
        ["SDA", str(job.sda_id) if job.sda_id else ""],
        ["Priority", str(job.priority)],
        ["Status", JOB_STATUS[job.status]],
        ["Client", job.client],
        ["Client PID", str(job.client_pid)],
        ["Process name", job.process_name],
        ["Backend Group", job.backend_group],
        ["Request time", when(job.request_time)],
        ["Start time", when(job.start_time)],
        ["Version", job.version],
        ["Device count", str(job.device_count)],
    ]
    if job.HasField("end_time"):  # a job of the history: when it ended, and why
        rows.insert(12, ["End time", when(job.end_time)])
        if job.end_reason:
            rows.insert(13, ["End reason", job.end_reason])
    rows.extend([p.backend_name or str(p.backend_id), ",".join(map(str, p.device_indexes))] for p in job.placement)
    return Table(NAME_VALUE_COLUMNS, rows, record=True)


HISTORY_COLUMNS = [Column("FeID", RIGHT, kind="int"), Column("Token"), Column("PRY", RIGHT, kind="int"),
                   Column("Status"), Column("PID", RIGHT, kind="int"), Column("Process Name"),
                   Column("Request Time", kind="time"), Column("Start Time", kind="time"),
                   Column("End Time", kind="time")]


def history_table(jobs: Iterable[Any], devices: bool = False) -> Table:
    """`jobs` may be a stream: each job is read once, and only its row is kept."""
    columns = list(HISTORY_COLUMNS)
    when_ = time_formatter()
    status = JOB_STATUS
    if not devices:
        rows = [(str(j.feid), intern(j.token), str(j.priority), status[j.status], str(j.client_pid), j.process_name,
                 when_(j.request_time), when_(j.start_time), when_(j.end_time)) for j in jobs]
        return Table(columns, rows)  # type: ignore[arg-type]
    columns += [Column("Device count", RIGHT, kind="int"), Column("Device Information", kind="list")]
    rows = []
    for j in jobs:
        rows.append((str(j.feid), intern(j.token), str(j.priority), status[j.status], str(j.client_pid), j.process_name,
                     when_(j.request_time), when_(j.start_time), when_(j.end_time), str(j.device_count),
                     [f"{p.backend_name or p.backend_id} | {','.join(map(str, p.device_indexes))}"
                      for p in j.placement]))
    return Table(columns, rows)  # type: ignore[arg-type]


# ---------------------------------------------------------------- versions, events, server

def versions_table(versions: Iterable[Any]) -> Table:
    rows = [[v.version, v.path, "True" if v.latest else "False", "True" if v.supported else "False",
             v.health_check, v.query, v.worker, env_lines(v.env)] for v in versions]
    return Table([Column("Version"), Column("Path"), Column("Latest", kind="bool"), Column("Supported", kind="bool"),
                  Column("Health Check"), Column("Query"), Column("Worker"), Column("ENV value", kind="env")], rows)


def events_table(events: Iterable[Any]) -> Table:
    when_ = time_formatter()
    rows = [(str(e.id), when_(e.time), e.token, e.action, e.request, e.result) for e in events]
    return Table([Column("ID", RIGHT, kind="int"), Column("Time", kind="time"), Column("Token"), Column("Action"),
                  Column("Request"), Column("Result")], rows)


def usage_table(report: Any) -> Table:
    """`show usage`: device usage per token over the interval, then the total."""

    def row(e: Any, token: str, description: str) -> list[str]:
        return [token, description, str(e.min), str(e.max), f"{e.average:.2f}",
                f"{e.min_percentage:.2f}", f"{e.max_percentage:.2f}", f"{e.average_percentage:.2f}"]

    rows = [row(e, e.token, e.description) for e in report.entries]
    rows.append(row(report.total, "Total", f"all {report.total_devices} devices"))
    return Table([Column("Token"), Column("Description"), Column("Min", RIGHT, kind="int"),
                  Column("Max", RIGHT, kind="int"), Column("Average", RIGHT, kind="number"),
                  Column("Min(%)", RIGHT, kind="number"), Column("Max(%)", RIGHT, kind="number"),
                  Column("Average(%)", RIGHT, kind="number")], rows, totals=1)


def name_value_table(pairs: Sequence[tuple[str, str]]) -> Table:
    return Table(NAME_VALUE_COLUMNS, [[n, v] for n, v in pairs], record=True)
