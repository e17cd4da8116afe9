"""Output formats other than the original's table: `json`, `csv`, `tsv` and
tabulate's table formats by name (README, "Using the shell against an SDAManager";
tests/test_formats.py).

The default, `table`, never comes here: render.py draws the original's frame,
and a one-shot command in that format imports neither this module nor
tabulate.  In csv, tsv and tabulate's formats only tables change: messages,
successes, failures and the help listing are the same text as in `table`,
and a cell that holds several values (lines of a multi-line cell, the
`idx STATE` pairs of `show backend`) becomes one field, its values joined
with `;`.  json prints every result as data, typed by the columns' kinds.
"""

from __future__ import annotations

import csv
import datetime
import io
import json
import re
from collections.abc import Sequence
from typing import Any, cast

from .errors import EXIT_REFUSED, UsageError
from .grammar import is_int
from .results import RIGHT, Failure, HelpListing, Message, Placement, Success, Table
from .sanitize import clean

OWN = ("table", "json", "csv", "tsv")
# Not offered: tabulate's unsafehtml writes the cells' text into HTML unescaped.
UNSAFE = frozenset({"unsafehtml"})


def names() -> list[str]:
    """Every format's name: this shell's, then tabulate's."""
    import tabulate  # type: ignore[import-untyped]  # tabulate ships no type information (types-tabulate does)

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


def data_rows(table: Table) -> list[Sequence[Any]]:
    """The rows other tools get: without the totals (`show usage`'s Total), which a script sums."""
    rows = table.rows
    return list(rows[: len(rows) - table.totals]) if table.totals else list(rows)


def render_table(table: Table, fmt: str) -> str:
    """csv, tsv or a tabulate format: one column per header, a backend's devices one
    column (`Device`, its `idx STATE` pairs in index order, as json has them)."""
    columns = [c for c in table.columns if c.kind != "devices"]
    devices = [j for j, c in enumerate(table.columns) if c.kind == "devices"]
    plain = [j for j, c in enumerate(table.columns) if c.kind != "devices"]
    headers = [column.header for column in columns] + (["Device"] if devices else [])
    rows = []
    for row in data_rows(table):
        fields = [field(row[j]) for j in plain]
        if devices:
            pairs = sorted((pair for j in devices for pair in _lines(row[j]) if isinstance(pair, tuple)),
                           key=lambda pair: str(pair[0]).zfill(9))
            fields.append(field(pairs))
        rows.append(fields)
    if fmt in ("csv", "tsv"):
        out = io.StringIO()
        writer = csv.writer(out, delimiter="," if fmt == "csv" else "\t", lineterminator="\n")
        writer.writerow(headers)
        writer.writerows(rows)
        return out.getvalue().removesuffix("\n")
    import tabulate

    # Numbers to the right, as the original's frame has them (tabulate is told, not guessing).
    align = ["right" if c.align == RIGHT or c.kind in ("int", "number") else "left" for c in columns]
    text: str = tabulate.tabulate(rows, headers, tablefmt=fmt, disable_numparse=True,
                                  colalign=align + ["left"] * bool(devices))
    return text


# ---------------------------------------------------------------- json

def snake(header: str) -> str:
    """A column's key: `Cur SDA` -> cur_sda, `ENV value` -> env_value, `Min(%)` -> min_percent."""
    return re.sub(r"[^0-9a-z]+", "_", header.replace("%", "percent").lower()).strip("_")


_TIME = re.compile(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d\d")


def _time(text: str) -> str:
    """A local `YYYY-MM-DD HH:MM:SS.cc` as ISO 8601 with its offset."""
    moment = datetime.datetime.strptime(text, "%Y-%m-%d %H:%M:%S.%f").astimezone()
    return moment.isoformat(timespec="milliseconds")


def _int(text: str) -> int | str:
    return int(text) if is_int(text) else text


def _lines(cell: Any) -> list[Any]:
    return [cell] if isinstance(cell, (str, tuple)) else list(cell)


def value(cell: Any, kind: str) -> Any:
    """A cell as a typed JSON value; an empty cell is null."""
    if cell == "":
        return None
    if cell == []:  # a multi-valued cell with no values
        return [] if kind in ("list", "ints", "int_lists", "devices") else None
    if kind == "int":
        return _int(clean(cell))
    if kind == "number":
        return float(cell)
    if kind == "bool":
        return cell == "True"
    if kind == "time":
        return _time(cell)
    if kind == "auto":
        text = clean(cell) if isinstance(cell, str) else field(cell)
        return _time(text) if _TIME.fullmatch(text) else _int(text)
    if kind == "list":
        items = _lines(cell)
        if len(items) == 1 and isinstance(items[0], str):
            items = items[0].split(", ")
        return [clean(item) for item in items]
    if kind == "ints":
        return [_int(line) for line in _lines(cell)]
    if kind == "int_lists":
        return [[_int(n) for n in line.split(",") if n] for line in _lines(cell)]
    if kind == "env":
        return dict(clean(line).partition("=")[::2] for line in _lines(cell))
    if kind == "json":  # a request as SDAManager recorded it: an object (a cut excerpt stays text)
        try:
            return json.loads(cell)
        except (TypeError, ValueError):
            return field(cell)
    if kind == "devices":
        return [{"index": _int(index), "status": status} for index, status in _lines(cell)]
    return field(cell)


def records(table: Table) -> list[dict[str, Any]]:
    """Each row as an object keyed by the snake_case headers; the columns of a
    backend's devices are one `devices` array, in index order."""
    out = []
    for row in data_rows(table):
        record: dict[str, Any] = {}
        devices: list[dict[str, Any]] | None = None
        for column, cell in zip(table.columns, row):
            if column.kind == "devices":
                devices = (devices or []) + (value(cell, "devices") or [])
            else:
                record[snake(column.header)] = value(cell, column.kind)
        if devices is not None:  # the two columns hold alternate indexes: back in index order
            record["devices"] = sorted(devices, key=lambda d: str(d["index"]).zfill(9))
        out.append(record)
    return out


def data(result: Any) -> Any:
    """What json prints for a result."""
    if isinstance(result, Table):
        if result.record and [c.header for c in result.columns] == ["Name", "Value"]:
            # A Name/Value record's names are text.
            record = {snake(cast(str, name)): value(cell, "auto")
                      for name, cell in result.rows if not isinstance(name, Placement)}
            if "frontend_id" in record:  # a job: where its devices are, always a map of arrays
                record["devices"] = {str(name): [_int(n) for n in str(cell).split(",") if n]
                                     for name, cell in result.rows if isinstance(name, Placement)}
            return record
        rows = records(result)
        return rows[0] if result.record and len(rows) == 1 else rows
    if isinstance(result, Message):
        return {"message": clean(result.text), **({"note": clean(result.note)} if result.note else {}),
                **(result.data or {})}
    if isinstance(result, Success):
        return {"message": f"{result.title} success.", **({"note": clean(result.note)} if result.note else {}),
                **(result.data or {})}
    if isinstance(result, HelpListing):
        entries = [*result.entries, *result.own]
        return [{"command": e.name, "description": e.description, "usage": e.usage} for e in entries]
    if isinstance(result, (list, tuple)):
        return [data(item) for item in result if item is not None]
    raise TypeError(f"cannot render {type(result).__name__} as json")


def render_json(result: Any, failure: str = "") -> str:
    """`failure`: a Failure's line, as the renderer words it."""
    if isinstance(result, Failure):
        status = getattr(result.error, "exit_status", EXIT_REFUSED)
        return json.dumps({"error": failure, "exit": status}, ensure_ascii=False)
    return json.dumps(data(result), ensure_ascii=False, indent=2)
