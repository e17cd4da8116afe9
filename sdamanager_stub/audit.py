"""Every operation of the rules is a `change` or a `query`.

A change runs under the lock at one instant, fixed before anything else looks
at the time: due transitions are applied first, the queues served after, and
the attempt written to the event log and the journal.  A query runs under the
lock with time brought up to date, so a reader sees the state as of now and
never a half-made change.  An operation called from inside another one keeps
the outer one's instant and only does its own work.  Nothing outside the rules
takes the manager's lock: callers that must read several things at once (the
gRPC face converting a result) pass a function to `SDAManager.read`.

How the manager runs them is `Rules.read` and `Rules.perform` (rules/base.py);
the decorators here only bind the arguments.  A change's arguments are kept as
JSON (for the event log and the journal) and come back from it for replay.
"""

from __future__ import annotations

import contextvars
import functools
import inspect
import typing
from collections.abc import Callable
from enum import Enum
from typing import Any, Concatenate, ParamSpec, Protocol, TypeGuard, TypeVar

# Who is asking (e.g. "ipv4:127.0.0.1:50312"); the server sets it per call so
# the event log can say where a change came from.
request_peer: contextvars.ContextVar[str] = contextvars.ContextVar("request_peer", default="")

P = ParamSpec("P")
R = TypeVar("R")


class Runner(Protocol):
    """What runs the operations: the manager's base (rules/base.py)."""

    def read(self, fn: Callable[[], R], *, shown: bool = False) -> R: ...

    def perform(self, change: Callable[..., R], arguments: dict[str, Any], *,
                at: float | None = None, made: str = "") -> R: ...


S = TypeVar("S", bound=Runner)


def json_default(value: Any) -> Any:
    if hasattr(value, "value"):  # enums
        return value.value
    return str(value)


def from_json(change: Callable[..., Any], arguments: dict[str, Any]) -> dict[str, Any]:
    """A change's arguments read back from JSON: enums become enums again."""
    hints = typing.get_type_hints(change)
    decoded = dict(arguments)
    for name, value in arguments.items():
        kind = hints.get(name)
        if isinstance(kind, type) and issubclass(kind, Enum):
            decoded[name] = kind(value)
    return decoded


LOGGED_MAX = 1024  # characters of a refused request's text the log keeps whole
EXCERPT = 256  # characters kept of a longer one


def bounded(text: str) -> str:
    """A refused request's text as it is logged and answered: whole when short, else its
    start and its size.  What was refused was not validated: it may be megabytes."""
    if len(text) <= LOGGED_MAX:
        return text
    return f"{text[:EXCERPT]}... ({len(text.encode('utf-8', 'replace')):,} bytes)"


def plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def query(fn: Callable[Concatenate[S, P], R]) -> Callable[Concatenate[S, P], R]:
    """Make `fn` a read operation of the manager (see the module docstring)."""

    @functools.wraps(fn)
    def wrapper(self: S, /, *args: P.args, **kwargs: P.kwargs) -> R:
        return self.read(lambda: fn(self, *args, **kwargs), shown=True)

    return wrapper


def change(fn: Callable[Concatenate[S, P], R]) -> Callable[Concatenate[S, P], R]:
    """Make `fn` a state-changing operation of the manager (see the module docstring)."""
    signature = inspect.signature(fn)

    @functools.wraps(fn)
    def wrapper(self: S, /, *args: P.args, **kwargs: P.kwargs) -> R:
        bound = signature.bind(self, *args, **kwargs)
        bound.apply_defaults()
        # By name, defaults included: what the event log shows and the journal replays.
        arguments = {k: v for k, v in bound.arguments.items() if k != "self"}
        return self.perform(fn, arguments)

    vars(wrapper)["is_change"] = True  # a function attribute (what `is_change` reads), unknown to the type
    return wrapper


class Change(Protocol):
    """A method made with `change`: the operation it wraps is its `__wrapped__`."""

    __wrapped__: Callable[..., Any]
    is_change: bool

    def __call__(self, *args: Any, **kwargs: Any) -> Any: ...


def is_change(operation: object) -> TypeGuard[Change]:
    """True for a method made with `change`: what a journal may name and replay."""
    return getattr(operation, "is_change", False) is True
