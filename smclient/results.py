"""What a command handler returns: plain data, rendered elsewhere.

Handlers never print.  They return a :class:`Table` or a :class:`Message`
(or a list of them), and :mod:`smclient.render` turns that into the
original's text.  Failures are raised as :class:`smclient.errors.CommandError`
subclasses, never returned.
"""

from __future__ import annotations

from dataclasses import dataclass, field

# A cell is one line of text, several lines (a multi-line cell), or, in a
# column with ``parts > 1``, a tuple of ``parts`` strings per line (the nested
# ``idx | STATE`` pairs of ``show backend``): a tuple, or a list of tuples.
Cell = str | list[str] | tuple[str, ...] | list[tuple[str, ...]]

LEFT = "L"
RIGHT = "R"


@dataclass(frozen=True)
class Column:
    header: str
    align: str = LEFT  # LEFT or RIGHT, for the data (headers are centred)
    parts: int = 1  # >1: each line of a cell is a tuple of `parts` sub-cells


@dataclass
class Table:
    columns: list[Column]
    rows: list[list[Cell]] = field(default_factory=list)


@dataclass(frozen=True)
class Message:
    text: str


@dataclass(frozen=True)
class Note:
    """A command that succeeded with something the operator should know:
    printed after the command's "<title> success." line."""

    text: str


Result = Table | Message | Note | list[Table | Message] | None
