"""The rules of SDAManager, composed: one manager over one state.

Nothing here knows about gRPC or storage.  Every public method is one
operation of the API; it validates its arguments, checks the rules against
the current state, changes the state or raises a DomainError with the reason,
and records the attempt in the event log.  The rules live by entity in
rules/ (each module's class builds on the ones whose rules it uses), over the
shared base in rules/base.py: the state, the lookups, and how an operation
runs (one re-entrant lock, one instant per operation, the journal).
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable

from .archive import in_memory
from .clock import SteadyClock
from .journal import Records
from .rules.backends import BackendRules
from .rules.customer import CustomerRules
from .rules.jobs import JobRules
from .rules.models import ModelRules
from .rules.sdas import SdaRules
from .rules.tokens import TokenRules
from .rules.users import UserRules
from .rules.versions import VersionRules


class SDAManager(CustomerRules, TokenRules, JobRules, SdaRules, UserRules, ModelRules, BackendRules, VersionRules):
    """The whole state of one SDAManager and the operations on it (built as rules/base.py's `Rules`).

    Its ended jobs and events go to `archive`: by default an in-memory one of their own
    (a state file's store gives the manager its own when it attaches: store.py)."""

    def __init__(self, clock: Callable[[], float] = time.time, randbelow: Callable[[int], int] = secrets.randbelow,
                 prepare_seconds: float = 0.0, clean_seconds: float = 0.0, *,
                 archive: Records | None = None) -> None:
        super().__init__(archive if archive is not None else in_memory(), clock=clock, randbelow=randbelow,
                         prepare_seconds=prepare_seconds, clean_seconds=clean_seconds)


def new_manager(backends: int = 60, devices: int = 8, clock: Callable[[], float] | None = None,
                randbelow: Callable[[int], int] = secrets.randbelow,
                prepare_seconds: float = 0.0, clean_seconds: float = 0.0) -> SDAManager:
    """A manager with the guide's model catalogue and a cluster of `backends` x `devices`;
    its clock by default a SteadyClock (wall time that never runs backwards)."""
    manager = SDAManager(clock=clock if clock is not None else SteadyClock(), randbelow=randbelow,
                         prepare_seconds=prepare_seconds,
                         clean_seconds=clean_seconds)
    manager.add_default_models()
    manager.add_default_cluster(backends, devices)
    return manager

