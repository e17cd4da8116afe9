"""What a command returns: plain data, rendered elsewhere.

Handlers never print.  A server command's handler returns a :class:`Table`,
a :class:`Message`, a :class:`Note` (or a list of them), or None for a plain
success; the executor gives a success or a refusal the command's title
(:class:`Success`, :class:`Failure`).  The shell's own commands return a
:class:`HelpListing`, :class:`Exit` or :class:`Clear`.  :mod:`smclient.render`
turns any of them into the original's text.  Failures are raised as
:class:`smclient.errors.SmclientError` subclasses, never returned by a handler.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

# A cell is one line of text, several lines (a multi-line cell), or, in a
# column with ``parts > 1``, a tuple of ``parts`` strings per line (the nested
# ``idx | STATE`` pairs of ``show backend``): a tuple, or a list of tuples.
Cell = str | list[str] | tuple[str, ...] | list[tuple[str, ...]]

LEFT = "L"
RIGHT = "R"


class Column(NamedTuple):
    header: str
    align: str = LEFT  # LEFT or RIGHT, for the data (headers are centred)
    parts: int = 1  # >1: each line of a cell is a tuple of `parts` sub-cells
    # What the cells hold, for formats with types (json): text, int, number, bool,
    # time (local `YYYY-MM-DD HH:MM:SS.cc`), list (lines, or a ", " list), ints
    # (lines of integers), int_lists (lines of "0,1"), env (lines of NAME=VALUE),
    # devices (`idx STATE` pairs), auto (an integer or a time where it is one), json
    # (JSON text, an object in json).
    kind: str = "text"


class Table:
    """Columns and rows (each a list or a tuple of cells); rows may grow after the table is made.
    `record`: the table shows one record (`get token`), which json prints as one object.
    `totals`: how many last rows are totals (`show usage`'s Total), which the original's
    frame shows and the formats for other tools leave out (a script sums)."""

    __slots__ = ("columns", "rows", "record", "totals")

    def __init__(self, columns: list[Column], rows: Sequence[Sequence[Cell]] | None = None,
                 record: bool = False, totals: int = 0) -> None:
        self.columns = columns
        self.rows: Sequence[Sequence[Cell]] = rows if rows is not None else []
        self.record = record
        self.totals = totals

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Table) and (self.columns, self.rows) == (other.columns, other.rows)

    def __repr__(self) -> str:
        return f"Table(columns={self.columns!r}, rows={self.rows!r})"


class Placement(str):
    """The name of a row of a record that is a backend holding some of the record's
    devices (`get job feid`): shown as the name, and in json nested under `devices`
    (backend -> device indexes), so a backend named `Status` is never a key of the record."""

    __slots__ = ()


@dataclass(frozen=True)
class Expanded:
    """A table shown as records, psql's expanded view (`set expanded`, terminal.py)."""

    table: Table


class Message(NamedTuple):
    """A line of the command's own (`Create SDA Success (Token : ...)`); json adds `data`'s
    keys (what was created: `{"token": "..."}`, `{"id": 3}`).  `note`: this shell's
    own word on it, shown only at the interactive prompt, as Changed's text is."""

    text: str
    data: dict[str, Any] | None = None
    note: str = ""


class Note(NamedTuple):
    """A command that succeeded with something the operator should know:
    printed after the command's "<title> success." line."""

    text: str


class Changed(NamedTuple):
    """A change that says what it did (`10 jobs released: 1-10`): the text is this
    shell's own, shown only at the interactive prompt and only when the change
    touched several things (`many`): scripts, and a change of one thing, get
    the original's words alone.  `data` is what json carries (`{"released": [1, 2]}`)."""

    text: str
    data: dict[str, Any]
    many: bool


class Success(NamedTuple):
    """A command that worked and has nothing to list: "<title> success.", then the note
    if any; json adds `data`'s keys."""

    title: str
    note: str = ""
    data: dict[str, Any] | None = None


class Failure(NamedTuple):
    """A line that failed: one line on stderr.  With a title, SDAManager refused the
    command itself: "<title> failed. (<reason>)"."""

    error: Exception
    title: str = ""


class HelpEntry(NamedTuple):
    """One command of the help listing, under one of its names."""

    name: str
    description: str
    usage: str | None  # without "(usages : ...)"; None: no usage line
    verbatim: tuple[str, ...] = ()  # lines shown as they are, between the description and the usage


class HelpListing(NamedTuple):
    """`help`, `help WORDS`, `WORDS ?`: the original's entries, then this shell's own
    commands (not in the original's listing), shown under a heading of their own."""

    entries: tuple[HelpEntry, ...]
    own: tuple[HelpEntry, ...] = ()


# Not named tuples: two empty tuples would be equal, and an exit is no clear.


class Exit:
    """`exit`: the session ends."""

    __slots__ = ()


class Clear:
    """`clear`: the screen is cleared (nothing to print)."""

    __slots__ = ()


@dataclass(frozen=True)
class Watch:
    """`watch [SECONDS] COMMAND`: the interactive shell runs `line` every `seconds` until
    Ctrl-C (not a tuple: the renderer takes tuples for lists of results)."""

    seconds: float
    line: str


@dataclass(frozen=True)
class SetOption:
    """`set output|pager|expanded|confirm [VALUE]`: one of the session's options from
    now on (value None: say what it is)."""

    name: str
    value: str | None
