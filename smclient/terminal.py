"""Output at a terminal: the expanded view, the pager and `watch`'s screen.

All three are this shell's additions, and none changes what the original
prints where it prints it: the expanded view is off unless asked for (`-x`,
`set expanded`), the pager never runs when standard output is not a
terminal, and `watch` exists only at the interactive prompt.

- The expanded view (psql's `\\x`): each row as a record, `-[ RECORD 1 ]-+----`
  and then one `Column | value` line per field, names padded to the longest.
  `auto` uses it for a table wider than the terminal.
- The pager: output taller or wider than the terminal goes through
  `$SMCLIENT_PAGER`, else `$PAGER`, else `less -SRXFK` (wide tables scroll
  sideways, `/` searches, Ctrl-C leaves), as psql and mycli do.  Output that
  fits is printed as it is.  A pager that cannot start or that fails falls
  back to printing, with one warning.
- `watch`'s screen: the header on the first line, the output cut to the
  screen (rows and columns) with a last line saying what was cut, drawn in
  place like `watch(1)`: it never scrolls.
"""

from __future__ import annotations

import os
import shlex
import signal
import subprocess
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any, TextIO

from .formats import field
from .render import display_width, render_chunks, table_lines
from .results import Expanded, Table
from .sanitize import clean

DEFAULT_PAGER = "less -SRXFK"
MODES = ("on", "off", "auto")

# ---------------------------------------------------------------- the expanded view


def present(result: Any, fmt: str, expanded: str, width: int) -> Any:
    """`result` with its tables as records where the expanded view applies: in the
    original's format (`table`), always (`on`) or for a table wider than `width`
    columns (`auto`)."""
    if expanded == "off" or fmt != "table":
        return result
    if isinstance(result, Table):
        if expanded == "on" or _frame_width(result) > width:
            return Expanded(result)
        return result
    if isinstance(result, (list, tuple)):
        return [present(item, fmt, expanded, width) for item in result]
    return result


def _frame_width(table: Table) -> int:
    return len(next(iter(table_lines(table)), ""))


def expanded_lines(table: Table) -> Iterator[str]:
    """psql's expanded layout: a `-[ RECORD N ]` rule before each row, then one
    `name | value` line per column (a cell of several lines: one line each, the
    name blank after the first)."""
    names = [clean(c.header) for c in table.columns]
    records = [[_cell_lines(cell) for cell in row] for row in table.rows]
    if not records:
        yield "(0 rows)"
        return
    name_width = max(map(display_width, names), default=0)
    value_width = max((display_width(line) for record in records for lines in record for line in lines), default=0)
    rule = "-" * name_width + "-+-" + "-" * value_width
    for number, record in enumerate(records, 1):
        label = f"-[ RECORD {number} ]"
        yield label + rule[len(label):]
        for name, lines in zip(names, record):
            pad = " " * (name_width - display_width(name))
            for k, line in enumerate(lines or [""]):
                yield (name + pad if k == 0 else " " * name_width) + " | " + line


def _cell_lines(cell: Any) -> list[str]:
    if isinstance(cell, str):
        return [clean(cell)]
    if isinstance(cell, tuple):
        return [field(cell)]
    return [field(line) for line in cell]


# ---------------------------------------------------------------- the pager


def pager_command(environ: Mapping[str, str] | None = None) -> str:
    environ = os.environ if environ is None else environ
    return environ.get("SMCLIENT_PAGER") or environ.get("PAGER") or DEFAULT_PAGER


class Pager:
    """Writes output to `stdout`, through the pager when it does not fit.

    `mode`: `auto` (only what does not fit), `on` (always), `off` (never);
    `size`: () -> (columns, lines) of the terminal; `warn`: says a line on
    stderr.  Nothing goes to the pager when `stdout` is not a terminal.
    """

    def __init__(self, stdout: TextIO, warn: Callable[[str], None], size: Callable[[], tuple[int, int]],
                 command: str | None = None) -> None:
        self.stdout = stdout
        self.warn = warn
        self.size = size
        self.command = command
        self.warned = False

    def write(self, result: Any, fmt: str, mode: str) -> None:
        """The text of `result` in format `fmt`, then a newline (nothing for no text)."""
        chunks = render_chunks(result, fmt)
        if mode == "off" or not _is_terminal(self.stdout):
            self._print(chunks)
            return
        columns, lines = self.size()
        held: list[str] = []
        fits = mode != "on"
        height = 0
        for chunk in chunks:
            held.append(chunk)
            if fits:
                for line in chunk.split("\n"):
                    height += 1
                    if height >= lines or display_width(line) > columns:
                        fits = False
                        break
                # A chunk ends mid-line: its last line continues in the next one.
                height -= 1
            if not fits:
                break
        else:  # it all fits (or there was nothing)
            self._print(held)
            return
        rest = _continue(held, chunks)
        if not self._page(rest):
            self._print(render_chunks(result, fmt))  # the pager failed: print it all instead

    def _print(self, chunks: Iterable[str]) -> None:
        wrote = False
        for chunk in chunks:
            if chunk:
                self.stdout.write(chunk)
                wrote = True
        if wrote:
            self.stdout.write("\n")
        self.stdout.flush()

    def _page(self, chunks: Iterable[str]) -> bool:
        """Send the text to the pager; False when it could not run or failed."""
        command = self.command or pager_command()
        try:
            argv = shlex.split(command)
        except ValueError as err:
            return self._failed(f"cannot read the pager command {command!r} ({err})")
        if not argv:
            return False
        environ = dict(os.environ)
        environ.setdefault("LESS", "-SRXFK")  # a plain `less` in $PAGER pages the same way
        environ.setdefault("LESSCHARSET", "utf-8")
        self.stdout.flush()
        with _Interrupts() as interrupted:
            try:
                process = subprocess.Popen(argv, stdin=subprocess.PIPE, env=environ)
            except OSError as err:
                return self._failed(f"cannot run the pager {command!r} ({err.strerror or err})")
            stdin = process.stdin
            assert stdin is not None
            try:
                for chunk in chunks:
                    if interrupted.seen:
                        break
                    stdin.write(chunk.encode("utf-8", "replace"))
                stdin.write(b"\n")
            except OSError:  # the pager quit before the end (a broken pipe): the reader is done
                pass
            finally:
                try:
                    stdin.close()
                except OSError:
                    pass
            # Ctrl-C goes to the pager, which is the one to end (less -K quits on it).
            status = process.wait()
        if status != 0 and not interrupted.seen and status != -signal.SIGPIPE:
            return self._failed(f"the pager {command!r} failed (exit status {status})")
        return True

    def _failed(self, why: str) -> bool:
        if not self.warned:
            self.warn(f"moreh_smclient: {why}; printing instead.")
            self.warned = True
        return False


class _Interrupts:
    """While the pager runs, Ctrl-C is the pager's: here it is only noted (the shell
    must not go back to its prompt while the pager still holds the terminal)."""

    def __init__(self) -> None:
        self.seen = False
        self._previous: Any = None

    def __enter__(self) -> _Interrupts:
        if threading.current_thread() is threading.main_thread():
            self._previous = signal.signal(signal.SIGINT, self._note)
        return self

    def _note(self, signum: int, frame: Any) -> None:
        self.seen = True

    def __exit__(self, *exc: object) -> None:
        if self._previous is not None:
            signal.signal(signal.SIGINT, self._previous)


def _continue(held: list[str], rest: Iterator[str]) -> Iterator[str]:
    yield from held
    yield from rest


def _is_terminal(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


# ---------------------------------------------------------------- watch's screen


def watch_screen(header: str, text: str, columns: int, lines: int) -> list[str]:
    """The lines `watch` draws: the header, a blank line, then `text` cut to the screen;
    when rows or columns are cut, the last line says so."""
    body = text.split("\n") if text else []
    room = max(lines - 2, 1)  # under the header and the blank line after it
    wide = any(display_width(line) > columns for line in body)
    hidden = 0
    if len(body) > room or (wide and len(body) >= room):
        hidden = len(body) - (room - 1)
        body = body[: room - 1]
    screen = [_cut(header, columns), ""] + [_cut(line, columns) for line in body]
    if hidden or wide:
        what = [f"{hidden} more lines below" if hidden else "", "lines cut at the right edge" if wide else ""]
        screen.append(_cut(f"... {'; '.join(w for w in what if w)} (the screen is {columns}x{lines})", columns))
    return screen


def _cut(line: str, columns: int) -> str:
    if display_width(line) <= columns:
        return line
    if line.isascii():
        return line[:columns]
    out, used = [], 0
    for char in line:
        width = max(display_width(char), 0)
        if used + width > columns:
            break
        out.append(char)
        used += width
    return "".join(out)
