"""`COMMAND where FIELD OP VALUE [and ...] [limit N]`: part of any listing.

This shell's addition (the original has no filters).  The fields are the
table's columns as `-o json` names them (`feid`, `process_name`,
`start_time`; a record's names for the Name/Value tables of `get job feid`).
Operators: `=` and `!=` (exact text), `~` (substring, ignoring case), `<`,
`>`, `<=`, `>=`.  Numbers compare as numbers; times as times, given as
`YYYY-MM-DD[ HH:MM[:SS]]` in the local zone, where a time given to the day or
the minute stands for all of it (`start_time = 2026-12-06` is that day,
`start_time > 2026-12-06` after it).  A cell with several values (a group's
members, a backend's devices) matches when one of them does (`!=`: when none
equals).

`limit N` keeps N rows: the first N, except in the logs (`show eventlog`,
`show history`), which keep their newest N as `show history N` does.

A filter is applied to what the handler returned, in every output format;
where SDAManager can filter a listing itself (events by token and action,
the newest N events or jobs, jobs by status) the handler asks it to as well
(`Filter.equal`, `Filter.pushed_limit`), so a big log is not streamed whole.
"""

from __future__ import annotations

import datetime
import re
from collections.abc import Callable, Iterable, Sequence
from typing import Any, NamedTuple

from .errors import UsageError
from .formats import field, snake
from .grammar import is_int, shown
from .results import Table

WHERE, LIMIT, AND = "where", "limit", "and"
OPERATORS = ("!=", "<=", ">=", "==", "=", "~", "<", ">")
SYNTAX = "where FIELD OP VALUE [and FIELD OP VALUE ...] [limit N]; OP is one of = != ~ < > <= >="
LIMIT_MAX = 10_000_000

_CONDITION = re.compile(r"\s*([A-Za-z_][A-Za-z0-9_]*)\s*(!=|<=|>=|==|=|~|<|>)\s*(.*)", re.S)
# A time as this shell prints it (`YYYY-MM-DD HH:MM:SS.cc`) or a prefix of one.
_TIME = re.compile(r"\d{4}-\d\d-\d\d(?:[ T]\d\d:\d\d(?::\d\d(?:\.\d+)?)?)?")
_NUMBER = re.compile(r"[-+]?(?:\d+(?:\.\d*)?|\.\d+)")
_PRINTED_TIME = re.compile(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d\d")
# The kinds of column whose cells hold several values (results.Column.kind).
_MANY = frozenset({"list", "ints", "int_lists", "env", "devices"})


class Condition(NamedTuple):
    field: str
    op: str
    value: str


class Filter(NamedTuple):
    conditions: tuple[Condition, ...]
    limit: int | None = None

    def equal(self, name: str) -> str | None:
        """The value of a `name = VALUE` condition, for a handler that can ask SDAManager for it."""
        return next((c.value for c in self.conditions if c.field == name and c.op == "="), None)

    def pushed_limit(self, pushed: Iterable[str] = ()) -> int:
        """The count a log's request may carry: the limit when every condition is one
        SDAManager answers exactly (`FIELD = VALUE` on a field in `pushed`); else 0, all."""
        names = set(pushed)
        if self.limit and all(c.op == "=" and c.field in names for c in self.conditions):
            return self.limit
        return 0


# ---------------------------------------------------------------- reading the clause

def parse(clause: Sequence[str], fields: Sequence[str], command: str) -> Filter:
    """The clause's words (from `where` or `limit`) as a Filter on `fields`."""
    words = list(clause)
    limit = None
    lowered = [w.lower() for w in words]
    if LIMIT in lowered:
        at = lowered.index(LIMIT)
        if len(words) != at + 2:
            raise _usage(command, "'limit' takes one number and ends the line")
        limit = _limit(words[at + 1])
        words, lowered = words[:at], lowered[:at]
    conditions: list[Condition] = []
    if words:
        if lowered[0] != WHERE:
            raise _usage(command, f"expected 'where' or 'limit', not {shown(words[0])}")
        pieces: list[list[str]] = [[]]
        for word, low in zip(words[1:], lowered[1:]):
            if low == AND:
                pieces.append([])
            else:
                pieces[-1].append(word)
        for piece in pieces:
            conditions.append(_condition(" ".join(piece), fields, command))
    return Filter(tuple(conditions), limit)


def _limit(word: str) -> int:
    if not is_int(word) or not 1 <= int(word) <= LIMIT_MAX:
        raise UsageError(f"Invalid limit {shown(word)}: expected an integer from 1 to {LIMIT_MAX}.")
    return int(word)


def _condition(text: str, fields: Sequence[str], command: str) -> Condition:
    match = _CONDITION.fullmatch(text)
    if match is None:
        raise _usage(command, f"cannot read the condition {shown(text)}" if text.strip()
                     else "a condition is missing")
    name, op, value = match.group(1).lower(), match.group(2), match.group(3)
    if name not in fields:
        raise UsageError(f"Unknown field {shown(match.group(1))} for {command}: "
                         f"expected one of {', '.join(fields)}.")
    if op == "==":
        op = "="
    if value and _TIME.fullmatch(value) and op != "~":
        _check_time(value)
    return Condition(name, op, value)


def _check_time(value: str) -> None:
    date, _, clock = value.replace("T", " ").partition(" ")
    try:
        datetime.date.fromisoformat(date)
        if clock:
            datetime.time.fromisoformat(clock[:8] if len(clock) > 5 else clock)
    except ValueError:
        raise UsageError(f"Invalid time {shown(value)}: expected YYYY-MM-DD[ HH:MM[:SS]].") from None


def _usage(command: str, detail: str) -> UsageError:
    return UsageError(f"Invalid filter: {detail}. (usages : {command} {SYNTAX})")


# ---------------------------------------------------------------- fields of a table

def is_name_value(table: Table) -> bool:
    """A record shown as Name/Value rows (`get job feid`, `show server version`)."""
    return table.record and [c.header for c in table.columns] == ["Name", "Value"]


def fields(table: Table) -> list[str]:
    """The names a filter may use on `table`, in the table's order."""
    if is_name_value(table):
        names = [snake(str(row[0])) for row in table.rows]
    else:
        names = [snake(c.header) if c.kind != "devices" else "devices" for c in table.columns]
    return list(dict.fromkeys(names))


# ---------------------------------------------------------------- matching

Test = Callable[[str], bool]


def _number(text: str) -> float | None:
    if text.isdigit() and text.isascii():  # the common case (ids, counts), without the expression
        return int(text)
    return float(text) if _NUMBER.fullmatch(text) else None


def _tester(condition: Condition, kind: str) -> Test:
    """A test of one value (a cell's text, one of its lines) for the condition."""
    op, value = condition.op, condition.value
    if op == "~":
        needle = value.casefold()
        return lambda text: needle in text.casefold()
    if op == "=":
        return _time_test(op, value) if _TIME.fullmatch(value) and kind in ("time", "auto") else \
            (lambda text: text == value)
    if op == "!=":
        equal = _tester(condition._replace(op="="), kind)
        return lambda text: not equal(text)
    if _TIME.fullmatch(value) and kind in ("time", "auto", "text"):
        return _time_test(op, value)
    bound = _number(value)
    if kind in ("int", "number", "ints") and bound is None:
        raise UsageError(f"Invalid value {shown(value)} for {condition.field}: expected a number.")
    compare = _ORDER[op]
    if bound is not None:
        def numeric(text: str) -> bool:
            number = _number(text)
            return number is not None and compare(number, bound)
        return numeric
    folded = value.casefold()
    return lambda text: compare(text.casefold(), folded)


_ORDER: dict[str, Callable[[Any, Any], bool]] = {
    "<": lambda a, b: a < b, ">": lambda a, b: a > b, "<=": lambda a, b: a <= b, ">=": lambda a, b: a >= b,
}


def _time_test(op: str, value: str) -> Test:
    """Times compare as the text this shell prints them in (`YYYY-MM-DD HH:MM:SS.cc`,
    local), which sorts as the times do; a value given to the day or the minute
    stands for all of it.  A blank time (not yet started, not ended) matches
    only `!=`."""
    prefix = value.replace("T", " ")

    def printed(text: str) -> bool:
        return _PRINTED_TIME.fullmatch(text) is not None

    if op == "=":
        return lambda text: printed(text) and text.startswith(prefix)
    if op == "<":
        return lambda text: printed(text) and text < prefix
    if op == ">=":
        return lambda text: printed(text) and text >= prefix
    if op == "<=":
        return lambda text: printed(text) and (text < prefix or text.startswith(prefix))
    return lambda text: printed(text) and text > prefix and not text.startswith(prefix)  # ">"


def _values(cell: Any, kind: str) -> list[str]:
    """A cell's values as text: one for a plain cell, one per value for a cell of several."""
    if kind in _MANY or isinstance(cell, list):
        lines: list[Any] = [cell] if isinstance(cell, (str, tuple)) else list(cell)
        if kind == "list" and len(lines) == 1 and isinstance(lines[0], str):
            lines = lines[0].split(", ") if lines[0] else []
        if kind == "int_lists":
            return [n for line in lines for n in field(line).split(",") if n]
        return [field(line) for line in lines]
    return [field(cell)]


def _row_test(condition: Condition, columns: list[tuple[int, str]]) -> Callable[[Sequence[Any]], bool]:
    """A test of a row: `columns` are the (index, kind) of the cells the field names."""
    tests = [(j, _tester(condition, kind), kind) for j, kind in columns]
    negative = condition.op == "!="
    if len(tests) == 1 and tests[0][2] not in _MANY:
        # One column of one value per cell (nearly every filter): its text as it is.
        (j, check, kind), = tests

        def single(row: Sequence[Any]) -> bool:
            cell = row[j] if j < len(row) else ""
            if type(cell) is str:
                return check(cell)
            values = _values(cell, kind)
            return all(map(check, values)) if negative else any(map(check, values))
        return single

    def test(row: Sequence[Any]) -> bool:
        values = [value for j, _, kind in tests if j < len(row) for value in _values(row[j], kind)]
        check = tests[0][1]
        if negative:  # no value equals
            return all(check(v) for v in values)
        return any(check(v) for v in values)
    return test


def apply(flt: Filter, result: Any, newest: bool = False) -> Any:
    """`result` (a Table, or a list of record tables) with only the rows the filter keeps."""
    if isinstance(result, Table):
        if is_name_value(result):
            kept = [result] if _record_matches(flt, result) else []
            return kept[0] if kept else []
        return _filter_table(flt, result, newest)
    if isinstance(result, list) and all(isinstance(item, Table) and is_name_value(item) for item in result):
        kept = [item for item in result if _record_matches(flt, item)]
        return _limited(kept, flt.limit, newest)
    return result


def _filter_table(flt: Filter, table: Table, newest: bool) -> Table:
    names = [snake(c.header) if c.kind != "devices" else "devices" for c in table.columns]
    tests = []
    for condition in flt.conditions:
        columns = [(j, table.columns[j].kind) for j, name in enumerate(names) if name == condition.field]
        if not columns:
            raise UsageError(f"Unknown field {shown(condition.field)}: expected one of {', '.join(fields(table))}.")
        tests.append(_row_test(condition, columns))
    rows = [row for row in table.rows if all(test(row) for test in tests)] if tests else list(table.rows)
    return Table(table.columns, _limited(rows, flt.limit, newest), record=table.record)


def _record_matches(flt: Filter, table: Table) -> bool:
    values = {snake(str(row[0])): row[1] for row in table.rows}
    for condition in flt.conditions:
        if condition.field not in values:
            return condition.op == "!="
        test = _tester(condition, "auto")
        if not test(field(values[condition.field])):
            return False
    return True


def _limited(rows: list[Any], limit: int | None, newest: bool) -> list[Any]:
    if limit is None or len(rows) <= limit:
        return rows
    return rows[-limit:] if newest else rows[:limit]
