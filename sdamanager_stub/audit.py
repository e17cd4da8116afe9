"""Every operation of the rules is a `change` or a `query`.

A change runs under the lock, with time brought up to date first, the queues
served after, and the attempt written to the event log and the journal.  A
query runs under the lock with time brought up to date (unless it is called
from inside another operation, which already did that), so a reader sees the
state as of now and never a half-made change.  Nothing outside the rules
takes the manager's lock: callers that must read several things at once (the
gRPC face converting a result) pass a function to `SDAManager.read`.
"""

from __future__ import annotations

import contextvars
import functools
import inspect
import json
from collections.abc import Callable
from typing import Any, TypeVar

from .entities import Token
from .errors import DomainError, Internal

# Who is asking (e.g. "ipv4:127.0.0.1:50312"); the server sets it per call so
# the event log can say where a change came from.
request_peer: contextvars.ContextVar[str] = contextvars.ContextVar("request_peer", default="")

F = TypeVar("F", bound=Callable[..., Any])


def json_default(value: Any) -> Any:
    if hasattr(value, "value"):  # enums
        return value.value
    return str(value)


def plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def query(fn: F) -> F:
    """Make `fn` a read operation of the manager (see the module docstring)."""

    @functools.wraps(fn)
    def wrapper(self: Any, *args: Any, **kwargs: Any) -> Any:
        return self.read(lambda: fn(self, *args, **kwargs))

    return wrapper  # type: ignore[return-value]


def change(fn: F) -> F:
    """Make `fn` a state-changing operation of the manager (see the module docstring)."""
    action = fn.__name__.upper()
    signature = inspect.signature(fn)

    @functools.wraps(fn)
    def wrapper(self: Any, *args: Any, **kwargs: Any) -> Any:
        bound = signature.bind(self, *args, **kwargs)
        bound.apply_defaults()
        arguments = {k: v for k, v in bound.arguments.items() if k != "self"}
        token = arguments.get("token", "")
        token = token if isinstance(token, str) else ""
        with self.lock:
            if self.journal_broken:
                # Memory may hold a change the file lacks: accept nothing more until a
                # restart rebuilds the state from what was saved.
                raise Internal(f"The state file failed earlier ({self.journal_broken}): restart the simulator.")
            # As JSON once, for both the event log and the journal.
            request = json.dumps(arguments, default=json_default, ensure_ascii=False)
            # One instant per change, frozen before anything else looks at the clock,
            # so replaying the journal at that instant does exactly the same.
            now = self.clock()
            real_clock, self.clock = self.clock, (lambda: now)
            self.busy += 1
            try:
                self.advance()
                try:
                    result = fn(self, *args, **kwargs)
                except DomainError as err:
                    self._record(action, token, request, f"FAILED: {err}")
                    if self.journal is not None:
                        self._journal(now, "refused", fn.__name__, request, token=token, result=f"FAILED: {err}")
                    raise
                if isinstance(result, Token):
                    token = result.value
                elif not token and isinstance(getattr(result, "token", None), str):
                    token = result.token  # a job or an SDA: the token it belongs to
                self._record(action, token, request, "SUCCESS")
                # Any change may let a waiting job run: freed devices, a new
                # priority, a backend back to ACTIVE, a new job.
                self._schedule(now)
                if self.journal is not None:
                    made = result.value if isinstance(result, Token) and action == "CREATE_TOKEN" else ""
                    self._journal(now, "change", fn.__name__, request, made=made)
                return result
            finally:
                self.busy -= 1
                self.clock = real_clock

    return wrapper  # type: ignore[return-value]
