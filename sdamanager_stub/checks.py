"""Values read back from JSON (a snapshot's records, a journalled change's arguments),
each checked against the type it is declared with and made that type again.

`checker(kind)` is the function for one annotation: integers within 64 bits
and times within years 1 to 9999 (what the API carries), text, true or false,
enums by value, lists, pairs, mappings and `X | None`.  A value that is not
of its type raises `Wrong` with the value and what was expected; the caller
names the record and the field.
"""

from __future__ import annotations

import dataclasses
import enum
import types
import typing
from collections.abc import Callable
from typing import Any


def short(value: object) -> str:
    """A value as a damaged record's message shows it: its repr, cut when long."""
    text = repr(value)
    return text if len(text) <= 60 else f"{text[:50]}... ({len(text):,} characters)"


class Wrong(Exception):
    """A value that is not of its field's type (the record's loop adds which record and field)."""

    def __init__(self, value: Any, expected: str) -> None:
        super().__init__(value, expected)
        self.value, self.expected = value, expected


# What the API carries: integers of 64 bits, and times a Timestamp can hold (years 1 to
# 9999).  A record beyond them would load and then fail every call that shows it.
_INT64 = (-2**63, 2**63)
TIMES = (-62_135_596_800, 253_402_300_800)


def is_time(value: Any) -> bool:
    """`value` is a time a state file may hold: a number within years 1 to 9999."""
    return type(value) in (int, float) and TIMES[0] <= value < TIMES[1]  # (NaN compares false)


def integer(value: Any) -> int:
    if type(value) is not int:
        raise Wrong(value, "an integer")
    if not _INT64[0] <= value < _INT64[1]:
        raise Wrong(value, "an integer of 64 bits")
    return value


def seconds(value: Any) -> float:
    """A time: a number (an integer where JSON kept it so) within years 1 to 9999."""
    if type(value) not in (int, float):
        raise Wrong(value, "a number")
    if not is_time(value):
        raise Wrong(value, "a time from year 1 to 9999")
    return typing.cast(float, value)  # (an int where JSON kept it so, as the record had it)


def text(value: Any) -> str:
    if type(value) is not str:
        raise Wrong(value, "text")
    return value


def truth(value: Any) -> bool:
    if type(value) is not bool:
        raise Wrong(value, "true or false")
    return value


# The checkers that only look at a value's type (and a number's range): a whole column
# of them is checked at once (see _by_column).
TYPE_ONLY: dict[Callable[[Any], Any], set[type]] = {integer: {int}, seconds: {int, float}, text: {str},
                                                      truth: {bool}}


def in_range(check: Callable[[Any], Any], values: list[int | float]) -> bool:
    """Every number of a column (of the type `check` takes) is in its range."""
    if check is seconds:  # (each compared: min and max may step over a NaN)
        return all(map(is_time, values))
    if check is integer and values:
        return _INT64[0] <= min(values) and max(values) < _INT64[1]
    return True


def checker(kind: Any, nested: Callable[[type, Any, str], Any] | None = None) -> Callable[[Any], Any]:
    """The function checking (and converting) a JSON value for a field annotated `kind`
    (a record class inside is read by `nested(cls, value, where)`)."""
    origin, args = typing.get_origin(kind), typing.get_args(kind)
    if kind is int:
        return integer
    if kind is float:
        return seconds
    if kind is str:
        return text
    if kind is bool:
        return truth
    if origin in (typing.Union, types.UnionType) and len(args) == 2 and type(None) in args:  # X | None
        (some,) = [arg for arg in args if arg is not type(None)]
        check = checker(some, nested)

        def optional(value: Any) -> Any:
            return None if value is None else check(value)
        return optional
    if isinstance(kind, type) and issubclass(kind, enum.Enum):
        names = ", ".join(member.value for member in kind)
        by_value = {member.value: member for member in kind}

        def member(value: Any) -> Any:
            try:
                return by_value[value]
            except (KeyError, TypeError):  # (TypeError: a list or a dict is no key)
                raise Wrong(value, f"one of {names}") from None
        return member
    if origin is tuple:  # (backend id, device index)
        checks = [checker(arg, nested) for arg in args]

        def pair(value: Any) -> tuple[Any, ...]:
            if type(value) is not list or len(value) != len(checks):
                raise Wrong(value, f"a list of {len(checks)}")
            return tuple(check(item) for check, item in zip(checks, value))
        return pair
    if origin is list:
        item = checker(args[0], nested)

        def items(value: Any) -> list[Any]:
            if type(value) is not list:
                raise Wrong(value, "a list")
            return [item(x) for x in value]
        return items
    if origin is dict:
        key, val = checker(args[0], nested), checker(args[1], nested)

        def mapping(value: Any) -> dict[Any, Any]:
            if type(value) is not dict:
                raise Wrong(value, "an object")
            return {key(k): val(v) for k, v in value.items()}
        return mapping
    if isinstance(kind, type) and dataclasses.is_dataclass(kind) and nested is not None:  # a backend's devices
        read = nested

        def record(value: Any) -> Any:
            return read(kind, value, kind.__name__.lower())
        return record
    raise TypeError(f"no check for {kind!r}")  # (a field of a type added to a record: add its check)
