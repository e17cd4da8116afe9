"""Checks on the values of a request, shared by every rule.

Each check raises InvalidArgument with a sentence that names the field and
says what is allowed, so a refused request tells the operator how to fix it
(`unique_name`, which checks a name against the names in use, raises
AlreadyExists and names the record that has it).
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable
from typing import Protocol, TypeVar

from .errors import AlreadyExists, InvalidArgument

PRIORITY_MIN, PRIORITY_MAX = -99, 99
MAX_SDA_LIMIT = 1024
DUPLICABLE_LIMIT = 1024
DEVICES_PER_BACKEND_LIMIT = 1024
MODEL_DEVICES_LIMIT = 100_000
NAME_MAX = 64
TEXT_MAX = 256
ENV_VALUE_MAX = 4096
COMMAND_MAX = 4096
LIST_MAX = 10_000

_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,127}")
_VERSION = re.compile(r"[0-9A-Za-z][0-9A-Za-z._+-]{0,63}")

_T = TypeVar("_T")


def int_range(what: str, value: int, low: int, high: int) -> int:
    if not low <= value <= high:
        raise InvalidArgument(f"{what} must be between {low} and {high} (got {value}).")
    return value


def priority(value: int) -> int:
    return int_range("Priority", value, PRIORITY_MIN, PRIORITY_MAX)


def name(what: str, value: str) -> str:
    """Names of groups, models and backends: no spaces or commas (lists are comma-separated)."""
    if not value:
        raise InvalidArgument(f"{what} must not be empty.")
    if len(value) > NAME_MAX:
        raise InvalidArgument(f"{what} is longer than {NAME_MAX} characters.")
    if not value.isprintable() or any(c.isspace() or c == "," for c in value):
        raise InvalidArgument(f"{what} may not contain spaces, commas or control characters.")
    return value


class Named(Protocol):
    id: int
    name: str


def unique_name(what: str, value: str, existing: Iterable[Named], skip: Named | None = None) -> None:
    """Refuse `value` if a record of `existing` other than `skip` already has it; `what`
    names the kind with its article ("A backend")."""
    for item in existing:
        if item is not skip and item.name == value:
            raise AlreadyExists(f"{what} named {value!r} already exists (id {item.id}).")


def text(what: str, value: str, *, allow_empty: bool = True, limit: int = TEXT_MAX) -> str:
    """Free text such as descriptions: printable, bounded."""
    if not value and not allow_empty:
        raise InvalidArgument(f"{what} must not be empty.")
    if len(value) > limit:
        raise InvalidArgument(f"{what} is longer than {limit} characters.")
    if not value.isprintable():
        raise InvalidArgument(f"{what} may not contain control characters.")
    return value


def env_name(value: str) -> str:
    if not _ENV_NAME.fullmatch(value):
        raise InvalidArgument(
            f"Invalid environment variable name {value!r}: use letters, digits and _, not starting with a digit."
        )
    return value


def env_value(value: str) -> str:
    return text("Environment variable value", value, limit=ENV_VALUE_MAX)


def ip(value: str) -> str:
    try:
        return str(ipaddress.ip_address(value))
    except ValueError:
        raise InvalidArgument(f"Invalid ip address {value!r}: expected e.g. 192.168.110.1.") from None


def version(value: str) -> str:
    if not _VERSION.fullmatch(value):
        raise InvalidArgument(f"Invalid version {value!r}: use digits, letters and . _ + - (e.g. 23.9.2).")
    return value


def list_size(what: str, values: list[_T]) -> list[_T]:
    if len(values) > LIST_MAX:
        raise InvalidArgument(f"{what} has more than {LIST_MAX} entries.")
    if len(set(values)) != len(values):
        raise InvalidArgument(f"{what} lists an entry twice.")
    return values
