"""Turn results into the original moreh_smclient's text: all the text the shell
prints for a line is made here.

The frame is the one measured from the manual's samples (tests/test_render.py
keeps them, byte for byte)::

    +---------------------------------------+
    |  ID  |        Name        |  Devices  |
    +=======================================+
    |   1  |  Small.64GB        |        1  |
    +---------------------------------------+

Widths are terminal display widths, so wide (Korean) text keeps the frame
straight.  Cell text comes from the server and is untrusted: characters that
would move the cursor or reorder text are replaced before measuring, so no
cell can break the frame.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from functools import lru_cache
from itertools import islice
from operator import itemgetter
from typing import TYPE_CHECKING, Any, cast

from .errors import SmclientError
from .results import RIGHT, Clear, Column, Exit, Expanded, Failure, HelpEntry, HelpListing, Message, Success, Table
from .sanitize import clean

if TYPE_CHECKING:
    from .views import Listing

__all__ = ["display_width", "render", "render_chunks", "render_outcome", "render_table", "table_lines"]

# Separator between the sub-cells of a ``parts > 1`` column (``0  |  IDLE``).
_SUB_SEP = "  |  "


def display_width(s: str) -> int:
    """Number of terminal columns ``s`` takes (wide characters count 2)."""
    if s.isascii():
        return len(s)
    import wcwidth  # only for non-ASCII text: most listings never pay for it

    width = wcwidth.wcswidth(s)
    if width < 0:
        # wcswidth gives up on the whole string at the first non-printable;
        # count those as zero so the rest is still measured.
        width = sum(max(wcwidth.wcwidth(c), 0) for c in s)
    return width


@lru_cache(maxsize=8192)
def _in_frame_width(s: str) -> int:
    """Columns non-ASCII cell text adds to a frame line (cached: wcwidth is slow).

    wcwidth measures grapheme clusters, so text can change the width of its
    neighbours: a trailing ZWJ swallows the next character, a trailing virama
    or a leading spacing mark merges with the adjacent space.  In a frame a
    cell always sits between spaces, so measuring it between spaces gives
    exactly what it adds to the whole line.
    """
    return display_width(" " + s + " ") - 2


def _width(s: str) -> int:
    """Columns clean cell text adds to a frame line."""
    return len(s) if s.isascii() else _in_frame_width(s)


def _text(value: Any) -> str:
    """One line of a cell as clean text, whatever a handler put there."""
    if type(value) is str:
        return clean(value)
    if isinstance(value, tuple):
        # A pair in a plain column: show it the way a pair column would.
        return _SUB_SEP.join(clean(str(v)) for v in value)
    return clean(str(value))


def _pad(s: str, w: int, right: bool) -> str:
    """``s`` padded to display width ``w`` with the frame's 2+2 margins."""
    if s.isascii():
        return "  " + (s.rjust(w) if right else s.ljust(w)) + "  "
    fill = " " * (w - _in_frame_width(s))
    return "  " + (fill + s if right else s + fill) + "  "


def _centre(header: str, w: int) -> str:
    """Header centred in ``w`` the way the original does it."""
    leftover = w - _width(header)
    left = leftover // 2
    # Measured from the manual: an odd leftover puts the extra space on the
    # left when the column is even-width, on the right when it is odd-width.
    if leftover % 2 and w % 2 == 0:
        left += 1
    return "  " + " " * left + header + " " * (leftover - left) + "  "


def _plain_column(cells: list[Any]) -> tuple[list[str | list[str]], int]:
    """Normalize a ``parts == 1`` column; return its cells and content width.

    A cell becomes a ``str`` (one line) or a ``list`` of two or more lines,
    so the row builder only has to look for lists.
    """
    out: list[str | list[str]] = []
    append = out.append
    width = 0
    for cell in cells:
        if type(cell) is str:
            line = clean(cell)
            n = len(line) if line.isascii() else _in_frame_width(line)
            if n > width:
                width = n
            append(line)
        elif isinstance(cell, list):
            lines = [_text(v) for v in cell]
            for line in lines:
                n = _width(line)
                if n > width:
                    width = n
            append(lines if len(lines) > 1 else (lines[0] if lines else ""))
        else:
            line = _text(cell)
            width = max(width, _width(line))
            append(line)
    return out, width


def _parts_line(value: Any, parts: int) -> tuple[str, ...] | str:
    """One line of a ``parts > 1`` cell: a tuple of exactly ``parts`` texts.

    A plain string stays a string (printed as is, not split into sub-cells),
    so an empty cell does not show a stray ``|``.
    """
    if not isinstance(value, tuple):
        return _text(value)
    subs = [_text(v) for v in value[:parts]]
    if len(value) > parts:
        # Never drop data a handler sent: fold the extras into the last sub-cell.
        subs[-1] = _SUB_SEP.join([subs[-1], *(_text(v) for v in value[parts:])])
    subs.extend([""] * (parts - len(subs)))
    return tuple(subs)


def _parts_column(cells: list[Any], parts: int) -> tuple[list[str | list[str]], int]:
    """Normalize a ``parts > 1`` column into joined lines; return them and the width.

    Each sub-column gets its own width over every line of the column, then
    the sub-cells of a line are left aligned and joined with ``  |  ``.
    """
    rows: list[list[tuple[str, ...] | str]] = []
    sub_widths = [0] * parts
    plain_width = 0
    for cell in cells:
        if isinstance(cell, list):
            lines = [_parts_line(v, parts) for v in cell]
        else:
            lines = [_parts_line(cell, parts)]
        for line in lines:
            if type(line) is str:
                plain_width = max(plain_width, _width(line))
            else:
                for k, sub in enumerate(line):
                    n = _width(sub)
                    if n > sub_widths[k]:
                        sub_widths[k] = n
        rows.append(lines)

    def join(line: tuple[str, ...] | str) -> str:
        if type(line) is str:
            return line
        # The last sub-cell is padded too, so every pair line has the same
        # width and a right-aligned column still keeps the pairs aligned.
        return _SUB_SEP.join(
            [sub + " " * (sub_widths[k] - _width(sub)) for k, sub in enumerate(line)]
        )

    out: list[str | list[str]] = []
    for lines in rows:
        joined = [join(line) for line in lines]
        out.append(joined if len(joined) > 1 else (joined[0] if joined else ""))
    width = max(plain_width, sum(sub_widths) + len(_SUB_SEP) * (parts - 1))
    return out, width


def render_table(table: Table, general: bool = False) -> list[str]:
    """Lines of ``table`` in the original's frame (no trailing newline).  With ``general``
    every cell goes the general path (cleaned, measured and padded one by one): the
    same text, slower; what the fast paths are tested against."""
    return [line for block in _table_blocks(table, general) for line in block]


# Rows per piece of text handed to the writer: big enough that joining and
# writing cost little per line, small enough that a listing of any length is
# never held whole as text.
_CHUNK_LINES = 2048


def table_lines(table: Table) -> Iterator[str]:
    """Lines of ``table`` in the original's frame, one at a time."""
    for block in _table_blocks(table):
        yield from block


def _table_blocks(table: Table, general_only: bool = False) -> Iterator[list[str]]:
    """Lines of ``table`` in the original's frame, in lists of at most about _CHUNK_LINES.

    Widths need every row, so the rows are read twice: once column by column
    for the widths, then row by row for the lines.  A column whose cells are
    all printable ASCII ``str`` (nearly every column of a big listing) is
    measured with ``len`` and padded by a ``%``-format of the whole row, which
    is exact there: a code point is a column.  Other columns are measured cell
    by cell, as before; a row whose cells all come out as one line of
    printable ASCII still takes the format, and any other row (wide text,
    several lines) goes through the general path, cell by cell, as before.
    `general_only`: every column and row that way (see render_table).
    """
    columns: Sequence[Column] = table.columns
    ncol = len(columns)
    listing = getattr(table.rows, "ncolumns", None) == ncol
    if ncol and listing and all(col.parts == 1 for col in columns) and not general_only:
        # Rows with `ncolumns` are a views.Listing (not imported: a command without one never loads views).
        yield from _listing_blocks(columns, cast("Listing", table.rows))
        return
    rows: Sequence[Sequence[Any]] = table.rows if ncol else []  # no columns: no row lines either
    if general_only and listing:
        rows = list(rows)
    if set(map(len, rows)) - {ncol}:
        # Short rows get blank cells rather than an IndexError on server data;
        # cells beyond the columns are not shown.
        rows = [row[:ncol] if len(row) >= ncol else [*row, *([""] * (ncol - len(row)))] for row in rows]
    widths: list[int] = []
    # Column index -> the column's cells made ready for _pad (a str, or a list
    # of two or more lines): only for columns that are not plain ASCII text.
    general: dict[int, list[str | list[str]]] = {}
    odd_rows: set[int] = set()
    for j, col in enumerate(columns):
        cells = list(map(itemgetter(j), rows))  # one column at a time: a list of pointers
        if col.parts == 1 and not general_only and _plain_ascii(cells):
            content_width = max(map(len, cells), default=0)
        else:
            if col.parts > 1:
                data, content_width = _parts_column(cells, col.parts)
            else:
                data, content_width = _plain_column(cells)
            general[j] = data
            # A row goes the general way when this column left several lines or
            # non-ASCII text in its cell; a cell it only cleaned, joined or took
            # out of a one-line list is printable ASCII still, fit for the format.
            odd_rows.update(i for i, out in enumerate(data)
                            if general_only or type(out) is not str or not out.isascii())
        widths.append(max(_width(clean(col.header)), content_width))

    rights = [col.align == RIGHT for col in columns]
    blanks = [" " * (w + 4) for w in widths]
    inner = max(sum(len(b) for b in blanks) + ncol - 1, 0)
    top = "+" + "-" * inner + "+"
    yield [top, "|" + "|".join(_centre(clean(col.header), w) for col, w in zip(columns, widths)) + "|",
           "+" + "=" * inner + "+"]

    # Only plain ASCII text reaches this format, where "%-Ns" pads to N columns.
    fmt = "|" + "|".join(
        "  %s  " if w == 0 else ("  %%%ds  " if right else "  %%-%ds  ") % w
        for w, right in zip(widths, rights)) + "|"

    def general_lines(i: int, row: Sequence[Any]) -> list[str]:
        cells: list[str | list[str]] = []
        for j in range(ncol):
            data = general.get(j)
            cell = row[j] if data is None else data[i]
            if type(cell) is str:
                cells.append(_pad(cell, widths[j], rights[j]))
            else:
                cells.append([_pad(line, widths[j], rights[j]) for line in cell])
        height = max((len(c) for c in cells if type(c) is list), default=1)
        if height == 1:
            # One line: every cell is a str (a cell of several lines is a list of two or more).
            return ["|" + "|".join(cast("list[str]", cells)) + "|"]
        out = []
        for k in range(height):
            line_cells = []
            for j, cell in enumerate(cells):
                if type(cell) is list:
                    line_cells.append(cell[k] if k < len(cell) else blanks[j])
                else:
                    line_cells.append(cell if k == 0 else blanks[j])
            out.append("|" + "|".join(line_cells) + "|")
        return out

    replaced = list(general.items())

    def plain_line(i: int, row: Sequence[Any]) -> str:
        if not replaced:
            return fmt % tuple(row)
        cells = list(row)
        for j, data in replaced:
            cells[j] = data[i]
        return fmt % tuple(cells)

    if not odd_rows and not replaced:
        lines = map(fmt.__mod__, map(tuple, rows))
        while block := list(islice(lines, _CHUNK_LINES)):
            yield block
    else:
        block = []
        for i, row in enumerate(rows):
            if i in odd_rows:
                block.extend(general_lines(i, row))
            else:
                block.append(plain_line(i, row))
            if len(block) >= _CHUNK_LINES:
                yield block
                block = []
        if block:
            yield block
    yield [top]


def _measure(text: str) -> int:
    """Columns that a str cell adds to a frame line (its one line cleaned)."""
    return _width(clean(text))


def _listing_blocks(columns: Sequence[Column], rows: Listing) -> Iterator[list[str]]:
    """_table_blocks for rows kept by column (views.Listing): every cell one line of
    text.  The widths come from what the columns recorded as they were filled; then
    each block of rows comes column by column, and its lines are made by a
    ``%``-format of each row, as the plain rows of the general path are (a column of
    integers formatted from the numbers, ``%d`` being str's text).  A column with
    text that is not printable ASCII in the block is cleaned and padded cell by cell
    (as _pad does) and goes into the format as it is.  The text is the general path's
    for the same rows, byte for byte."""
    ncol = len(columns)
    widths = [max(_width(clean(col.header)), w) for col, w in zip(columns, rows.frame_widths(_measure))]
    rights = [col.align == RIGHT for col in columns]
    inner = sum(widths) + 5 * ncol - 1
    top = "+" + "-" * inner + "+"
    yield [top, "|" + "|".join(_centre(clean(col.header), w) for col, w in zip(columns, widths)) + "|",
           "+" + "=" * inner + "+"]
    specs = ["  %s  " if w == 0 else ("  %%%d%s  " if right else "  %%-%d%s  ") % (w, "d" if number else "s")
             for w, right, number in zip(widths, rights, rows.number_columns())]
    plain_format = "|" + "|".join(specs) + "|"
    plain = rows.plain_columns()
    for cells in rows.blocks(numbers=True):
        odd = [j for j in range(ncol) if not plain[j] and not _plain_ascii(cells[j])]
        fmt = plain_format
        if odd:
            block_specs = list(specs)
            for j in odd:
                w, right = widths[j], rights[j]
                cells[j] = [_pad(clean(text), w, right) for text in cells[j]]
                block_specs[j] = "%s"
            fmt = "|" + "|".join(block_specs) + "|"
        yield list(map(fmt.__mod__, zip(*cells)))
    yield [top]


# ASCII's printable characters, the ones str.isprintable accepts below 0x80.
_PRINTABLE_ASCII = bytes(range(0x20, 0x7F))


def _plain_ascii(cells: Sequence[Any]) -> bool:
    """Every cell is a printable ASCII ``str``: checked on the column's text at once,
    in C (a str method per cell costs more than the rest of the row's work)."""
    if not cells:
        return True
    if set(map(type, cells)) != {str}:
        return False
    text = "".join(cells)
    return text.isascii() and not text.encode("ascii").translate(None, _PRINTABLE_ASCII)


OWN_HEADING = "Commands of this shell (not in the original moreh_smclient):"


def banner(connection: Any) -> str:
    """What the interactive shell says first, up to its first prompt: two lines and the
    blank line every session in the guide has before the first prompt (the text ends in a
    newline, so `print` leaves that line empty)."""
    from . import __version__

    return (f"SDAManager's Client. Connect to {connection.address}\n"
            f"moreh_smclient {__version__} (open re-implementation). Type 'help' for the commands.\n")


def help_entry(entry: HelpEntry) -> list[str]:
    """One command as the original's listing shows it."""
    lines = [f"{entry.name:<33} : {entry.description}", *entry.verbatim]
    if entry.usage:
        lines.append(f"      (usages : {entry.usage})")
    return lines


def failure_line(failure: Failure) -> str:
    error = failure.error
    if failure.title:  # a ServerError: its text is SDAManager's reason
        return f"{failure.title} failed. ({error})"
    if isinstance(error, SmclientError):
        return str(error)
    return f"Internal error: {type(error).__name__}: {error}"


def render(result: Any, fmt: str = "table") -> str:
    """Text of a result: Table, Message, Success, Failure, HelpListing, a list of them,
    or None, Exit or Clear (nothing to show); tables in output format `fmt`."""
    return "".join(render_chunks(result, fmt))


def render_chunks(result: Any, fmt: str = "table") -> Iterator[str]:
    """The text of ``render(result)`` in pieces, so a long listing can be written
    as it is made instead of being held whole: ``"".join`` of them is ``render(result)``."""
    if result is None or isinstance(result, (Exit, Clear)):
        return
    if fmt == "json":
        from .formats import render_json

        yield render_json(result, failure_line(result) if isinstance(result, Failure) else "")
    elif isinstance(result, Message):
        yield clean(result.text) + (f"\n{clean(result.note)}" if result.note else "")
    elif isinstance(result, Expanded):
        from .terminal import expanded_lines

        expanded, separator = expanded_lines(result.table), ""
        while block := list(islice(expanded, _CHUNK_LINES)):
            yield separator + "\n".join(block)
            separator = "\n"
    elif isinstance(result, Table) and fmt != "table":
        from .formats import render_table

        yield render_table(result, fmt)
    elif isinstance(result, Table):
        separator = ""
        for block in _table_blocks(result):
            yield separator + "\n".join(block)
            separator = "\n"
    elif isinstance(result, Success):
        yield f"{result.title} success." + (f"\n{clean(result.note)}" if result.note else "")
    elif isinstance(result, Failure):
        yield failure_line(result)
    elif isinstance(result, HelpListing):
        lines = [line for entry in result.entries for line in help_entry(entry)]
        if result.own:  # after the original's listing, which stays as it was
            lines += ["", OWN_HEADING] if lines else [OWN_HEADING]
            lines += [line for entry in result.own for line in help_entry(entry)]
        yield "\n".join(lines)
    elif isinstance(result, (list, tuple)):
        # None items are results with nothing to show: no blank line for them.
        first = True
        for item in result:
            if item is None:
                continue
            if not first:
                yield "\n"
            first = False
            yield from render_chunks(item, fmt)
    else:
        raise TypeError(f"cannot render {type(result).__name__}")


def render_outcome(result: Any, fmt: str = "table") -> tuple[str, str]:
    """(stdout, stderr) text of what a line returned: a failure is one line on stderr,
    anything else goes to stdout; "" prints nothing."""
    text = render(result, fmt)
    return ("", text) if isinstance(result, Failure) else (text, "")
