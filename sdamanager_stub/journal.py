"""What the rules need of durable storage: a journal of their changes.

The rules keep the state in memory; a journal keeps what rebuilds it.  The
domain owns this protocol and the store implements it (store.py imports the
rules, never the other way), so no storage library reaches the rules: a
journal that cannot save says so with JournalError.  Rebuilding goes the
other way round, through `SDAManager.replay`.
"""

from __future__ import annotations

from typing import Protocol


class JournalError(Exception):
    """The journal could not save an entry; ``str(err)`` says why."""


class NotAChange(LookupError):
    """A journal names an operation that is not a change of these rules."""


class Journal(Protocol):
    def record_change(self, when: float, action: str, arguments: str, made: str, peer: str) -> None:
        """Save a change durably before returning (its caller is told it succeeded only after
        this): the rule method's name, its arguments as JSON, its instant, what it made up (a
        new token's value, so replay makes the same) and who asked."""

    def record_refusal(self, when: float, action: str, arguments: str, token: str, result: str,
                       peer: str) -> None:
        """Save a refused attempt, for the event log only (replay does not run it)."""
