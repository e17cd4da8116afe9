"""API messages to the original's tables: pure functions, no I/O.

Column names, order and alignment follow the manual's samples (tests/test_render.py)
and the guide's transcripts (tests/golden); tables with no sample follow the same rules (text left,
counts and ids right).
"""

from __future__ import annotations

import time
from array import array
from bisect import bisect_left
from collections.abc import Callable, Iterable, Iterator, Sequence
from functools import cache
from itertools import accumulate, chain, islice, repeat
from operator import attrgetter, floordiv
from sys import intern  # a listing repeats its few tokens on every row: one string each
from typing import Any, cast

from .api import sdamanager_pb2 as pb
from .results import RIGHT, Column, Placement, Table

# ---------------------------------------------------------------- values


def enum_name(prefix: str, name: str) -> str:
    """BACKEND_STATUS_ACTIVE -> ACTIVE."""
    return name[len(prefix):] if name.startswith(prefix) else name


def _names(enum: Any, prefix: str) -> dict[int, str]:
    return _Names({v.number: enum_name(prefix, v.name) for v in enum.DESCRIPTOR.values
                   if not v.name.endswith("UNSPECIFIED")})


class _Names(dict[int, str]):
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
        seconds: int = ts.seconds
        nanos: int = ts.nanos
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


# ---------------------------------------------------------------- big listings, kept by column
#
# Held as rows of str cells, a listing of 100,000 jobs is 100,000 tuples and 900,000
# strings: several times the bytes of the text it prints, and most of the time it
# takes.  So the big listings (jobs, history, events) keep their rows column by
# column: numbers in arrays, repeated text (tokens, statuses) shared, unique text
# (process names) joined a batch at a time, times as hundredths of a second whose
# minute's text is made once.  A Listing is still a sequence of rows of str cells,
# the cells the rows always had (results.Cell), made when they are read; the
# renderer (render._listing_blocks) reads it column by column instead: the widths
# from what each column recorded as it was filled, then the cells a block of rows
# at a time, so no listing is ever held as text.

# Messages read at a time: small enough that what a batch makes is still in the
# processor's cache when it is stored (measured: 256 took about two thirds of the time of 2048).
_BATCH = 256
LISTING_BLOCK = 1024  # rows per block of text handed to the renderer
_SECONDS = attrgetter("seconds")
_NANOS = attrgetter("nanos")


def _printable_ascii(text: str) -> bool:
    """Every character of ``text`` is printable ASCII (one terminal column, nothing to clean)."""
    return text.isascii() and text.isprintable()


def _store(values: array[int], more: list[int]) -> array[int]:
    """`values` with `more` appended; an array of 32-bit integers becomes one of 64 bits
    when they need it (an error leaves `values` as it was)."""
    try:
        values.fromlist(more)
    except OverflowError:
        values = array("q", values)
        values.fromlist(more)
    return values


class _IntColumn:
    """An integer field (int64): an array of 32 bits while the values fit; the text is
    str(value), which a %d of the renderer's format makes from the number itself."""

    __slots__ = ("values", "low", "high")
    plain = True
    numbers = True

    def __init__(self) -> None:
        self.values = array("i")
        self.low = self.high = 0

    def add(self, values: list[int]) -> None:
        if not self.values:
            self.low = self.high = values[0]
        self.values = _store(self.values, values)
        self.low = min(self.low, min(values))
        self.high = max(self.high, max(values))

    def width(self, measure: Callable[[str], int]) -> int:
        return max(len(str(self.low)), len(str(self.high))) if self.values else 0

    def texts(self, start: int, stop: int) -> list[str]:
        return list(map(str, self.values[start:stop]))

    def cells(self, start: int, stop: int) -> Sequence[Any]:
        return self.values[start:stop]


class _SharedColumn:
    """Text that repeats (tokens, statuses): one string per distinct value, shared by the
    rows.  `text`: a value's text (an enum's name), by default the value interned."""

    __slots__ = ("values", "distinct", "text")
    numbers = False

    def __init__(self, text: Callable[[Any], str] = intern) -> None:
        self.values: list[str] = []
        self.distinct: set[str] = set()
        self.text = text

    def add(self, values: list[Any]) -> None:
        texts = list(map(self.text, values))
        self.values += texts
        self.distinct.update(texts)

    @property
    def plain(self) -> bool:
        return _printable_ascii("".join(self.distinct))

    def width(self, measure: Callable[[str], int]) -> int:
        return max(map(measure, self.distinct), default=0)

    def texts(self, start: int, stop: int) -> list[str]:
        return self.values[start:stop]

    cells = texts


class _TextColumn:
    """Text that is mostly unique (process names, requests): a batch's values joined
    into one string, with where each ends in it (a string per cell is twice the bytes)."""

    __slots__ = ("chunks", "ends", "odd", "longest")
    numbers = False

    def __init__(self) -> None:
        self.chunks: list[str] = []
        self.ends = array("I")  # where each row's text ends in its batch's chunk
        self.odd: list[int] = []  # batches whose text is not all printable ASCII
        self.longest = 0  # the longest text of the other batches

    def add(self, values: list[str]) -> None:
        chunk = "".join(values)
        self.ends = _store(self.ends, list(accumulate(map(len, values))))
        if _printable_ascii(chunk):
            self.longest = max(self.longest, max(map(len, values)))
        else:
            self.odd.append(len(self.chunks))
        self.chunks.append(chunk)

    @property
    def plain(self) -> bool:
        return not self.odd

    def width(self, measure: Callable[[str], int]) -> int:
        width = self.longest
        for batch in self.odd:
            width = max(width, max(map(measure, self.texts(batch * _BATCH, (batch + 1) * _BATCH))))
        return width

    def texts(self, start: int, stop: int) -> list[str]:
        out: list[str] = []
        ends_ = self.ends
        stop = min(stop, len(ends_))
        while start < stop:
            batch = start // _BATCH
            first = batch * _BATCH
            end = min(stop, first + _BATCH)
            ends = ends_[start:end]
            starts = chain((ends_[start - 1] if start > first else 0,), ends)
            chunk = self.chunks[batch]
            out += [chunk[a:b] for a, b in zip(starts, ends)]  # (a comprehension: twice as fast as maps)
            start = end
        return out

    cells = texts


class _TimeColumn:
    """A Timestamp field, with `when`'s text: each time kept as hundredths of a second
    from the column's first minute, its text made when read from its minute's
    `YYYY-MM-DD HH:MM:` (made once per listing, see time_formatter) and a table of
    `SS.cc`.  The times that have no such text (unset, in an irregular minute, nanos
    out of range) keep their own, made at once: an error in one is raised while the
    listing is read, as before."""

    __slots__ = ("keys", "base", "known", "prefixes", "odd_rows", "odd_texts", "minutes", "regular_width")
    numbers = False

    def __init__(self, minutes: dict[int, str | None]) -> None:
        self.keys = array("i")  # (seconds - base * 60) * 100 + hundredths; 0 for the odd times
        self.base = 0  # the minute of the column's first regular time
        self.known: set[int] = set()  # the minutes of the column's times so far
        self.prefixes: dict[int, str] = {}  # minute - base -> its text, for the regular times
        self.odd_rows = array("I")  # the rows of the odd times, in order
        self.odd_texts: list[str] = []  # and their text
        self.minutes = minutes  # the listing's: minute -> its prefix, None when not regular
        self.regular_width = 0

    def _register(self, new: set[int]) -> None:
        minutes, prefixes = self.minutes, self.prefixes
        for minute in sorted(new):
            if minute in minutes:
                prefix = minutes[minute]
            else:
                prefix = _minute_prefix(minute * 60)
                if prefix is not None and not _printable_ascii(prefix):
                    prefix = None  # (never seen: the digits of a time) shown as odd text
                minutes[minute] = prefix
            if prefix is not None:
                if not prefixes:
                    self.base = minute
                prefixes[minute - self.base] = prefix
        self.known |= new

    def add(self, stamps: list[Any]) -> None:
        seconds = list(map(_SECONDS, stamps))
        nanos = list(map(_NANOS, stamps))
        if not any(seconds) and not any(nanos):  # all unset (the start of queued jobs)
            first = len(self.keys)
            self.keys.fromlist([0] * len(seconds))
            self.odd_rows.fromlist(list(range(first, first + len(seconds))))
            self.odd_texts += [""] * len(seconds)
            return
        # The batch's minutes: all those from its first to its last when they are few
        # (cheaper than a set of them; one not used costs only its registering), else
        # the ones it has.
        low, high = min(seconds) // 60, max(seconds) // 60
        span = high - low < 64
        seen: Iterable[int] = range(low, high + 1) if span else set(map(floordiv, seconds, repeat(60)))
        if not self.known.issuperset(seen):
            self._register(set(seen) - self.known)
        minutes = self.minutes
        if (0 in seconds or min(nanos) < 0 or max(nanos) >= 1_000_000_000
                or None in map(minutes.__getitem__, seen)):
            self._add_odd(seconds, nanos)  # (an irregular minute not used goes this way too: exact, slower)
            return
        base = self.base * 60
        self.keys = _store(self.keys, [(second - base) * 100 + nano // 10_000_000
                                       for second, nano in zip(seconds, nanos)])
        # Every minute of `seen` has its prefix (no None: checked above).
        prefix_of = cast("Callable[[int], str]", minutes.__getitem__)
        lengths = set(map(len, map(prefix_of, seen)))
        if span and len(lengths) > 1:  # a year of other digits: measure the minutes used only
            lengths = set(map(len, map(prefix_of, set(map(floordiv, seconds, repeat(60))))))
        self.regular_width = max(self.regular_width, max(lengths) + 5)

    def _add_odd(self, seconds: list[int], nanos: list[int]) -> None:
        """add() for a batch that has odd times: time by time."""
        minutes = self.minutes
        first = len(self.keys)
        keys = []
        for row, second, nano in zip(range(first, first + len(seconds)), seconds, nanos):
            hundredths = nano // 10_000_000
            prefix = minutes[second // 60]
            if prefix is not None and 0 <= hundredths < 100 and (second or nano):
                keys.append((second - self.base * 60) * 100 + hundredths)
                self.regular_width = max(self.regular_width, len(prefix) + 5)
                continue
            keys.append(0)
            self.odd_rows.append(row)
            self.odd_texts.append(time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(second))
                                  + f".{hundredths:02d}" if second or nano else "")
        self.keys = _store(self.keys, keys)

    @property
    def plain(self) -> bool:
        return _printable_ascii("".join(set(self.odd_texts)))

    def width(self, measure: Callable[[str], int]) -> int:
        return max(self.regular_width, max(map(measure, set(self.odd_texts)), default=0))

    def texts(self, start: int, stop: int) -> list[str]:
        keys = self.keys[start:stop]
        if not keys:
            return []
        prefixes, suffixes = self.prefixes, _seconds_hundredths()
        low = min(keys)
        if not prefixes:  # no regular time at all: each is odd
            out = [""] * len(keys)
        elif low == max(keys):  # one time for the whole block (the end of many jobs)
            out = [prefixes[low // 6000] + suffixes[low % 6000]] * len(keys)
        else:  # (the odd times' key, 0, is the base minute's: a text, replaced below)
            out = [prefixes[key // 6000] + suffixes[key % 6000] for key in keys]
        odd_rows = self.odd_rows
        first, last = bisect_left(odd_rows, start), bisect_left(odd_rows, start + len(keys))
        if first < last and odd_rows[last - 1] - odd_rows[first] == last - 1 - first:  # one run of rows
            row = odd_rows[first] - start
            out[row:row + last - first] = self.odd_texts[first:last]
        else:
            for k in range(first, last):
                out[odd_rows[k] - start] = self.odd_texts[k]
        return out

    cells = texts


_Column = _IntColumn | _SharedColumn | _TextColumn | _TimeColumn


class Listing(Sequence[tuple[str, ...]]):
    """The rows of a big listing, kept by column (see above): a sequence of rows, each a
    tuple of str cells, made when read.  For the renderer: `ncolumns`,
    `frame_widths(measure)` (each column's widest text as `measure` counts it, the
    text's own length when it is printable ASCII), `plain_columns()` (whether all of a
    column's text is printable ASCII), `number_columns()` (the columns whose text is
    str of an integer) and `blocks(numbers)` (a block of rows at a time, column by
    column: the cells' text, or with `numbers` those columns' integers)."""

    __slots__ = ("columns", "length")

    def __init__(self, columns: list[_Column], length: int) -> None:
        self.columns = columns
        self.length = length

    @property
    def ncolumns(self) -> int:
        return len(self.columns)

    def __len__(self) -> int:
        return self.length

    def __getitem__(self, index: Any) -> Any:
        if isinstance(index, slice):
            start, stop, step = index.indices(self.length)
            if step != 1:
                return [self[i] for i in range(start, stop, step)]
            return list(zip(*(column.texts(start, stop) for column in self.columns))) if stop > start else []
        i = index.__index__()
        if i < 0:
            i += self.length
        if not 0 <= i < self.length:
            raise IndexError("listing index out of range")
        return tuple(column.texts(i, i + 1)[0] for column in self.columns)

    def __iter__(self) -> Iterator[tuple[str, ...]]:
        for block in self.blocks():
            yield from zip(*block)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Listing | list | tuple):
            return len(self) == len(other) and all(a == b for a, b in zip(self, other))
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]  # (unhashable, as a list; typeshed declares a method)

    def __repr__(self) -> str:
        return repr(list(self))

    def blocks(self, numbers: bool = False) -> Iterator[list[Sequence[Any]]]:
        for start in range(0, self.length, LISTING_BLOCK):
            stop = start + LISTING_BLOCK
            yield [(column.cells if numbers else column.texts)(start, stop) for column in self.columns]

    def frame_widths(self, measure: Callable[[str], int]) -> list[int]:
        return [column.width(measure) for column in self.columns]

    def plain_columns(self) -> list[bool]:
        return [column.plain for column in self.columns]

    def number_columns(self) -> list[bool]:
        return [column.numbers for column in self.columns]


def read_listing(messages: Iterable[Any], fields: Sequence[tuple[str, str]]) -> Listing:
    """A Listing of `messages` (read once, as they come: a stream is never held whole),
    one column per (attribute, kind): "int", "token" (repeated text), "status" (a
    JobStatus), "peer" (a caller, shown as its host), "text", "time" (a Timestamp,
    shown as `when` shows it)."""
    minutes: dict[int, str | None] = {}
    makers: dict[str, Callable[[], _Column]] = {
        "int": _IntColumn, "token": _SharedColumn, "status": lambda: _SharedColumn(JOB_STATUS.__getitem__),
        "peer": lambda: _SharedColumn(peer_host), "text": _TextColumn, "time": lambda: _TimeColumn(minutes)}
    columns = [makers[kind]() for _, kind in fields]
    getters = [attrgetter(name) for name, _ in fields]
    messages = iter(messages)
    length = 0
    while batch := list(islice(messages, _BATCH)):
        try:
            for column, get in zip(columns, getters):
                column.add(list(map(get, batch)))
        except Exception:
            # A time that cannot be shown: raise what the row by row reading raised first.
            for message in batch:
                for get, (_, kind) in zip(getters, fields):
                    if kind == "time":
                        when(get(message))
            raise
        length += len(batch)
    return Listing(columns, length)


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


_JOB_FIELDS = [("feid", "int"), ("token", "token"), ("priority", "int"), ("status", "status"),
               ("client_pid", "int"), ("process_name", "text")]


def jobs_table(jobs: Iterable[Any]) -> Table:
    """`jobs` may be a stream: each job is read once, and only its row is kept (by column)."""
    return Table(JOB_COLUMNS, read_listing(jobs, [*_JOB_FIELDS, ("start_time", "time")]))


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
    rows.extend([Placement(p.backend_name or str(p.backend_id)), ",".join(map(str, p.device_indexes))]
                for p in job.placement)
    return Table(NAME_VALUE_COLUMNS, rows, record=True)


HISTORY_COLUMNS = [Column("FeID", RIGHT, kind="int"), Column("Token"), Column("PRY", RIGHT, kind="int"),
                   Column("Status"), Column("PID", RIGHT, kind="int"), Column("Process Name"),
                   Column("Request Time", kind="time"), Column("Start Time", kind="time"),
                   Column("End Time", kind="time")]


def history_table(jobs: Iterable[Any], devices: bool = False) -> Table:
    """`jobs` may be a stream: each job is read once, and only its row is kept."""
    columns = list(HISTORY_COLUMNS)
    if not devices:
        listing = read_listing(jobs, [*_JOB_FIELDS, ("request_time", "time"), ("start_time", "time"),
                                      ("end_time", "time")])
        return Table(columns, listing)
    when_ = time_formatter()
    status = JOB_STATUS
    columns += [Column("Device count", RIGHT, kind="int"), Column("Device Information", kind="list")]
    rows = []
    for j in jobs:
        rows.append((str(j.feid), intern(j.token), str(j.priority), status[j.status], str(j.client_pid), j.process_name,
                     when_(j.request_time), when_(j.start_time), when_(j.end_time), str(j.device_count),
                     [f"{p.backend_name or p.backend_id} | {','.join(map(str, p.device_indexes))}"
                      for p in j.placement]))
    return Table(columns, rows)


# ---------------------------------------------------------------- versions, events, server

def versions_table(versions: Iterable[Any]) -> Table:
    rows = [[v.version, v.path, "True" if v.latest else "False", "True" if v.supported else "False",
             v.health_check, v.query, v.worker, env_lines(v.env)] for v in versions]
    return Table([Column("Version"), Column("Path"), Column("Latest", kind="bool"), Column("Supported", kind="bool"),
                  Column("Health Check"), Column("Query"), Column("Worker"), Column("ENV value", kind="env")], rows)


def events_table(events: Iterable[Any]) -> Table:
    rows = read_listing(events, [("id", "int"), ("time", "time"), ("token", "token"), ("action", "token"),
                                 ("request", "text"), ("result", "text"), ("peer", "peer")])
    return Table([Column("ID", RIGHT, kind="int"), Column("Time", kind="time"), Column("Token"), Column("Action"),
                  Column("Request", kind="json"), Column("Result"), Column("Peer")], rows)


def peer_host(peer: str) -> str:
    """Where a call came from, as SDAManager recorded it (`ipv4:10.0.0.5:41822`): its host
    (`10.0.0.5`); the port is the caller's ephemeral one.  Other forms (`unix:...`) as they are."""
    kind, _, rest = peer.partition(":")
    if kind == "ipv4":
        return rest.rpartition(":")[0] or rest
    if kind == "ipv6":
        host = rest.rpartition(":")[0] or rest
        return host[1:-1] if host.startswith("[") and host.endswith("]") else host
    return peer


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
