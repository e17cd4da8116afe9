"""Output formats other than the original's table (SPEC section 7): `csv`, `tsv`
and tabulate's table formats by name.

The default, `table`, never comes here: render.py draws the original's frame,
and a one-shot command in that format imports neither this module nor
tabulate.  Only tables change with the format; messages, successes, failures
and the help listing are the same text in every format.

A cell that holds several values (lines of a multi-line cell, the `idx STATE`
pairs of `show backend`) becomes one field, its values joined with `;`.
"""

from __future__ import annotations

import csv
import io
from typing import Any

from .errors import UsageError
from .render import clean
from .results import Table

TABLE = "table"
OWN = ("table", "csv", "tsv")
# Not offered: tabulate's unsafehtml writes the cells' text into HTML unescaped.
UNSAFE = frozenset({"unsafehtml"})


def names() -> list[str]:
    """Every format's name: this shell's, then tabulate's."""
    import tabulate

    return [*OWN, *sorted(set(tabulate.tabulate_formats) - set(OWN) - UNSAFE)]


def check(name: str) -> str:
    """The format's name, or a usage error listing the valid ones."""
    from .grammar import shown

    fmt = name.strip().lower()
    if fmt in OWN:
        return fmt
    valid = names()
    if fmt not in valid:
        raise UsageError(f"Unknown output format {shown(name)}: expected one of {', '.join(valid)}.")
    return fmt


def field(cell: Any) -> str:
    """One cell as one field: several values joined with `;`, a pair's parts with a
    space; control and bidi characters neutralised as in the original's frame."""
    if isinstance(cell, str):
        return clean(cell)
    if isinstance(cell, tuple):
        return " ".join(map(clean, cell))
    return ";".join(field(value) for value in cell)


def render_table(table: Table, fmt: str) -> str:
    headers = [column.header for column in table.columns]
    rows = [[field(cell) for cell in row] for row in table.rows]
    if fmt in ("csv", "tsv"):
        out = io.StringIO()
        writer = csv.writer(out, delimiter="," if fmt == "csv" else "\t", lineterminator="\n")
        writer.writerow(headers)
        writer.writerows(rows)
        return out.getvalue().removesuffix("\n")
    import tabulate

    return tabulate.tabulate(rows, headers, tablefmt=fmt, disable_numparse=True)
