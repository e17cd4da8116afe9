"""Every operation of the rules is a `change` or a `query`.

A change runs under the lock at one instant, fixed before anything else looks
at the time: due transitions are applied first, the queues served after, and
the attempt written to the event log and the journal.  A query runs under the
lock with time brought up to date, so a reader sees the state as of now and
never a half-made change.  An operation called from inside another one keeps
the outer one's instant and only does its own work.  Nothing outside the rules
takes the manager's lock: callers that must read several things at once (the
gRPC face converting a result) pass a function to `SDAManager.read`.

How they run is `Operations.read` and `Operations.perform` (rules/base.py);
the decorators here only bind the arguments and hand them to the service's
`ops`.  A change's arguments are kept as
JSON (for the event log and the journal) and come back from it for replay.
"""

from __future__ import annotations

import contextvars
import functools
import inspect
import typing
from collections.abc import Callable, Iterator
from typing import Any, Concatenate, ParamSpec, Protocol, TypeVar

from . import checks
from .journal import NotAChange

# Who is asking (e.g. "ipv4:127.0.0.1:50312"); the server sets it per call so
# the event log can say where a change came from.
request_peer: contextvars.ContextVar[str] = contextvars.ContextVar("request_peer", default="")

P = ParamSpec("P")
R = TypeVar("R")


class Runner(Protocol):
    """What runs the operations (rules/base.py's `Operations`)."""

    def read(self, fn: Callable[[], R], *, shown: bool = False) -> R: ...

    def perform(self, kind: ChangeKind, service: Any, arguments: dict[str, Any], *,
                at: float | None = None, made: str = "") -> Any: ...


class Served(Protocol):
    """What an operation is a method of: a service of the rules, run by `ops`."""

    @property
    def ops(self) -> Runner: ...


S = TypeVar("S", bound=Served)


def json_default(value: Any) -> Any:
    if hasattr(value, "value"):  # enums
        return value.value
    return str(value)


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
        return self.ops.read(lambda: fn(self, *args, **kwargs), shown=True)

    return wrapper


class DamagedArguments(ValueError):
    """A journalled change's arguments are not what the change takes; ``str(err)`` says which."""


class ChangeKind:
    """One kind of change the journal keeps: the name it is kept under, the rule that makes
    it (called as ``rule(service, **arguments)``), the class of the service that makes it
    (set as that class is made: rules/base.py's `Service`), and the types of its arguments,
    read from the rule's signature, by which the journal's JSON is checked and decoded on
    replay."""

    def __init__(self, rule: Callable[..., Any]) -> None:
        self.name = rule.__name__
        self.rule = rule
        self.owner: type[Any] = object

    def __repr__(self) -> str:
        return f"ChangeKind({self.name})"

    @functools.cached_property
    def arguments(self) -> tuple[dict[str, Callable[[Any], Any]], frozenset[str]]:
        """(each argument's check, from its type; the arguments without a default).  Made
        when first needed: by then the rule's module has every name its annotations use."""
        hints = typing.get_type_hints(self.rule)
        parameters = [p for name, p in inspect.signature(self.rule).parameters.items() if name != "self"]
        return ({p.name: checks.checker(hints[p.name]) for p in parameters},
                frozenset(p.name for p in parameters if p.default is inspect.Parameter.empty))

    def decode(self, arguments: object) -> dict[str, Any]:
        """The arguments as the journal keeps them (JSON) made the rule's again, each checked
        against its type (enums become enums); DamagedArguments names the first that is not.
        One the journal lacks takes its default (a file from before the argument existed)."""
        if not isinstance(arguments, dict):
            raise DamagedArguments(f"they are {checks.short(arguments)}, not an object of named arguments")
        checkers, required = self.arguments
        unknown = sorted(set(arguments) - set(checkers))
        if unknown:
            raise DamagedArguments(f"{self.name} takes no argument {checks.short(unknown[0])}")
        missing = sorted(required - set(arguments))
        if missing:
            raise DamagedArguments(f"its argument {missing[0]} is missing")
        decoded = {}
        for name, value in arguments.items():
            try:
                decoded[name] = checkers[name](value)
            except checks.Wrong as wrong:
                raise DamagedArguments(f"its argument {name} is {checks.short(wrong.value)}, "
                                       f"not {wrong.expected}") from None
        return decoded


class ChangeRegistry:
    """Every kind of change, by the name the journal keeps it under: `change` adds each rule
    it makes, and replay finds them here (never as an attribute found by its name)."""

    def __init__(self) -> None:
        self._kinds: dict[str, ChangeKind] = {}
        self._made_by: dict[object, ChangeKind] = {}  # the operation `change` made -> its kind

    def add(self, rule: Callable[..., Any], operation: object) -> ChangeKind:
        kind = ChangeKind(rule)
        if kind.name in self._kinds:
            raise ValueError(f"two changes are named {kind.name!r}: the journal could not tell them apart")
        self._kinds[kind.name] = kind
        self._made_by[operation] = kind
        return kind

    def made_by(self, value: object) -> ChangeKind | None:
        """The kind of change `value` makes, if it is an operation `change` made."""
        try:
            return self._made_by.get(value)
        except TypeError:  # (not hashable: no operation)
            return None

    def find(self, name: str) -> ChangeKind:
        """The kind of change kept under `name`; NotAChange if there is none."""
        try:
            return self._kinds[name]
        except KeyError:
            raise NotAChange(name) from None

    def __iter__(self) -> Iterator[ChangeKind]:
        return iter(self._kinds.values())


CHANGES = ChangeRegistry()


def change(fn: Callable[Concatenate[S, P], R]) -> Callable[Concatenate[S, P], R]:
    """Make `fn` a state-changing operation of its service (see the module docstring), kept
    in the journal under its name: CHANGES has it."""
    signature = inspect.signature(fn)

    @functools.wraps(fn)
    def wrapper(self: S, /, *args: P.args, **kwargs: P.kwargs) -> R:
        bound = signature.bind(self, *args, **kwargs)
        bound.apply_defaults()
        # By name, defaults included: what the event log shows and the journal replays.
        arguments = {k: v for k, v in bound.arguments.items() if k != "self"}
        result: R = self.ops.perform(kind, self, arguments)
        return result

    kind = CHANGES.add(fn, wrapper)
    return wrapper
