"""The renderer and time formatting as they were before the fast path (commit 987ddaf),
kept verbatim as the reference the fast path is compared against (tests/test_render_fast.py).
Do not optimise this file: its only job is to be the old behaviour."""

# ruff: noqa

from collections.abc import Iterable, Sequence
from functools import lru_cache
from typing import Any

from smclient.errors import SmclientError
from smclient.results import RIGHT, Clear, Column, Exit, Failure, HelpEntry, HelpListing, Message, Success, Table

__all__ = ["display_width", "render", "render_outcome", "render_table"]

# Separator between the sub-cells of a ``parts > 1`` column (``0  |  IDLE``).
_SUB_SEP = "  |  "


def _sanitizing_table() -> dict[int, str]:
    """Map every character that could break a frame line to a harmless one."""
    table: dict[int, str] = {}
    # C0/C1 controls (\t, \n, \r, ESC, NEL...) and DEL move the cursor or
    # start escape sequences; a newline inside a str cell would add a line.
    for code in (*range(0x00, 0x20), 0x7F, *range(0x80, 0xA0)):
        table[code] = " "
    # Line/paragraph separators (str.splitlines breaks on them) and bidi
    # embeddings/overrides/isolates, which some terminals use to reorder text;
    # the marks LRM, RLM and ALM reorder the text around them too.
    for code in (0x2028, 0x2029, *range(0x202A, 0x202F), *range(0x2066, 0x206A), 0x200E, 0x200F, 0x061C):
        table[code] = " "
    # Lone surrogates cannot be encoded when printed: they would raise
    # UnicodeEncodeError far from here.
    for code in range(0xD800, 0xE000):
        table[code] = "\uFFFD"
    return table


_SANITIZE = _sanitizing_table()


def _clean(s: str) -> str:
    """Cell text made safe for one frame line."""
    # isprintable() is a single C loop and true for almost all real data, so
    # the translate() cost is only paid by odd text.
    if s.isprintable():
        return s
    s = s.translate(_SANITIZE)
    # A trailing ZWJ joins nothing, but wcwidth would let it swallow the
    # padding space after it while a terminal still prints that space.
    return s.rstrip("\u200d") if s.endswith("\u200d") else s


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
        return _clean(value)
    if isinstance(value, tuple):
        # A pair in a plain column: show it the way a pair column would.
        return _SUB_SEP.join(_clean(str(v)) for v in value)
    return _clean(str(value))


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
            line = _clean(cell)
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


def render_table(table: Table) -> list[str]:
    """Lines of ``table`` in the original's frame (no trailing newline)."""
    columns: Sequence[Column] = table.columns
    ncol = len(columns)
    # Short rows get blank cells rather than an IndexError on server data.
    rows = [row if len(row) >= ncol else [*row, *([""] * (ncol - len(row)))]
            for row in table.rows]

    padded_cols: list[list[str | list[str]]] = []
    headers: list[str] = []
    blanks: list[str] = []
    multi = False
    for j, col in enumerate(columns):
        cells = [row[j] for row in rows]
        if col.parts > 1:
            data, content_width = _parts_column(cells, col.parts)
        else:
            data, content_width = _plain_column(cells)
        header = _clean(col.header)
        w = max(_width(header), content_width)
        right = col.align == RIGHT
        # Column-major padding keeps the per-cell work in tight comprehensions.
        padded: list[str | list[str]] = []
        for cell in data:
            if type(cell) is str:
                padded.append(_pad(cell, w, right))
            else:
                multi = True
                padded.append([_pad(line, w, right) for line in cell])
        padded_cols.append(padded)
        headers.append(_centre(header, w))
        blanks.append(" " * (w + 4))

    inner = max(sum(len(b) for b in blanks) + ncol - 1, 0)
    top = "+" + "-" * inner + "+"
    lines = [top, "|" + "|".join(headers) + "|", "+" + "=" * inner + "+"]

    if not multi:
        lines.extend("|" + "|".join(cells) + "|" for cells in zip(*padded_cols, strict=True))
    else:
        for cells in zip(*padded_cols, strict=True):
            height = max((len(c) for c in cells if type(c) is list), default=1)
            if height == 1:
                lines.append("|" + "|".join(cells) + "|")
                continue
            for k in range(height):
                line_cells = []
                for j, cell in enumerate(cells):
                    if type(cell) is list:
                        line_cells.append(cell[k] if k < len(cell) else blanks[j])
                    else:
                        line_cells.append(cell if k == 0 else blanks[j])
                lines.append("|" + "|".join(line_cells) + "|")

    lines.append(top)
    return lines


def help_entry(entry: HelpEntry) -> list[str]:
    """One command as the original's listing shows it."""
    lines = [f"{entry.name:<33} : {entry.description}"]
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


def render(result: Any) -> str:
    """Text of a result: Table, Message, Success, Failure, HelpListing, a list of them,
    or None, Exit or Clear (nothing to show)."""
    if result is None or isinstance(result, (Exit, Clear)):
        return ""
    if isinstance(result, Message):
        return _clean(result.text)
    if isinstance(result, Table):
        return "\n".join(render_table(result))
    if isinstance(result, Success):
        return f"{result.title} success." + (f"\n{_clean(result.note)}" if result.note else "")
    if isinstance(result, Failure):
        return failure_line(result)
    if isinstance(result, HelpListing):
        return "\n".join(line for entry in result.entries for line in help_entry(entry))
    if isinstance(result, (list, tuple)):
        # None items are results with nothing to show: no blank line for them.
        return "\n".join(render(item) for item in result if item is not None)
    raise TypeError(f"cannot render {type(result).__name__}")


def render_outcome(result: Any) -> tuple[str, str]:
    """(stdout, stderr) text of what a line returned: a failure is one line on stderr,
    anything else goes to stdout; "" prints nothing."""
    text = render(result)
    return ("", text) if isinstance(result, Failure) else (text, "")


# ---------------------------------------------------------------- smclient/views.py as it was

import time


def when(ts: Any) -> str:
    """A Timestamp as `YYYY-MM-DD HH:MM:SS.cc` in local time; blank when unset."""
    if not ts.seconds and not ts.nanos:
        return ""
    local = time.localtime(ts.seconds)
    return time.strftime("%Y-%m-%d %H:%M:%S", local) + f".{ts.nanos // 10_000_000:02d}"


from smclient.views import HISTORY_COLUMNS, JOB_COLUMNS, JOB_STATUS


def jobs_table(jobs: Iterable[Any]) -> Table:
    rows = [[str(j.feid), j.token, str(j.priority), JOB_STATUS[j.status], str(j.client_pid),
             j.process_name, when(j.start_time)] for j in jobs]
    return Table(JOB_COLUMNS, rows)


def history_table(jobs: Sequence[Any], devices: bool = False) -> Table:
    columns = list(HISTORY_COLUMNS)
    if devices:
        columns += [Column("Device count", RIGHT), Column("Device Information")]
    rows = []
    for j in jobs:
        row: list[Any] = [str(j.feid), j.token, str(j.priority), JOB_STATUS[j.status], str(j.client_pid),
                          j.process_name, when(j.request_time), when(j.start_time), when(j.end_time)]
        if devices:
            row += [str(j.device_count),
                    [f"{p.backend_name or p.backend_id} | {','.join(map(str, p.device_indexes))}"
                     for p in j.placement]]
        rows.append(row)
    return Table(columns, rows)


def events_table(events: Iterable[Any]) -> Table:
    from smclient.views import peer_host

    rows = [[str(e.id), when(e.time), e.token, e.action, e.request, e.result, peer_host(e.peer)] for e in events]
    return Table([Column("ID", RIGHT), Column("Time"), Column("Token"), Column("Action"), Column("Request"),
                  Column("Result"), Column("Peer")], rows)

