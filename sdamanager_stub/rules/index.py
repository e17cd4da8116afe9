"""What the rules count per token and per SDA, kept as records come and go.

A single-entity call (`get token`, a VM's request, a priority change) must
not pass over every job: the live jobs of a token and of an SDA, and those
that hold devices, are kept here, updated at each transition.  The manager's
`jobs`, `sdas` and `backends` are `Table`s, which tell their index of every
record added, replaced or removed (whoever does it: a rule, a restored
snapshot, a test setting a scene); a job taking or leaving devices while it
stays live is told by the jobs' rules (`JobIndex.update`, rules/jobs.py).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any, TypeVar

from ..entities import Job, Sda

K = TypeVar("K")
V = TypeVar("V")

_MISSING: Any = object()


class Table(dict[K, V]):
    """A dict that tells `on_set(key, value)` after each record is added or replaced and
    `on_del(key, value)` after each is removed.  Reading costs what a dict's does.
    A copy (copy, deepcopy, pickle) is a plain dict: it is no longer the state."""

    __slots__ = ("_on_set", "_on_del")

    def __init__(self, items: Any = (), *, on_set: Callable[[K, V], None],
                 on_del: Callable[[K, V], None]) -> None:
        super().__init__(items)  # not told: whoever builds a table indexes it whole
        self._on_set = on_set
        self._on_del = on_del

    def __setitem__(self, key: K, value: V) -> None:
        super().__setitem__(key, value)
        self._on_set(key, value)

    def __delitem__(self, key: K) -> None:
        value = super().pop(key)
        self._on_del(key, value)

    def pop(self, key: K, default: Any = _MISSING) -> Any:
        if key in self:
            value = super().pop(key)
            self._on_del(key, value)
            return value
        if default is _MISSING:
            raise KeyError(key)
        return default

    def popitem(self) -> tuple[K, V]:
        key, value = super().popitem()
        self._on_del(key, value)
        return key, value

    def setdefault(self, key: K, default: Any = None) -> V:
        if key not in self:
            self[key] = default
        return self[key]

    def update(self, *args: Any, **kwargs: Any) -> None:
        for key, value in dict(*args, **kwargs).items():
            self[key] = value

    # (typeshed's own dict.__ior__ fails mypy's check against __or__ in a subclass: mypy issue 11941)
    def __ior__(self, other: Any) -> Table[K, V]:  # type: ignore[override,misc]
        self.update(other)
        return self

    def clear(self) -> None:
        while self:
            self.popitem()

    def __reduce_ex__(self, protocol: Any) -> tuple[Any, ...]:
        return (dict, (dict(self),))


class JobIndex:
    """The live jobs by token and by SDA, and those holding devices (SUMMITED or RUNNING:
    a placement)."""

    def __init__(self) -> None:
        self._counted: dict[int, tuple[str, int, bool]] = {}  # feid -> (token, sda, holds devices) as indexed
        self._by_token: dict[str, dict[int, None]] = {}
        self._by_sda: dict[int, dict[int, None]] = {}
        self._holding: dict[int, None] = {}
        self._holding_by_token: dict[str, int] = {}
        self._holding_by_sda: dict[int, dict[int, None]] = {}

    # ---- changes
    def rebuild(self, jobs: Iterable[Job]) -> None:
        type(self).__init__(self)
        for job in jobs:
            self.added(job.feid, job)

    def added(self, feid: int, job: Job) -> None:
        """Job `feid` is live now (added or replaced)."""
        if feid in self._counted:
            self.removed(feid, job)
        holding = bool(job.placement)
        self._counted[feid] = (job.token, job.sda_id, holding)
        self._by_token.setdefault(job.token, {})[feid] = None
        self._by_sda.setdefault(job.sda_id, {})[feid] = None
        if holding:
            self._hold(feid, job.token, job.sda_id)

    def removed(self, feid: int, job: object = None) -> None:
        """Job `feid` is no longer live."""
        counted = self._counted.pop(feid, None)
        if counted is None:
            return
        token, sda_id, holding = counted
        _drop(self._by_token, token, feid)
        _drop(self._by_sda, sda_id, feid)
        if holding:
            self._release(feid, token, sda_id)

    def update(self, job: Job) -> None:
        """A live job took or left devices."""
        counted = self._counted.get(job.feid)
        if counted is None:
            return
        token, sda_id, holding = counted
        if (token, sda_id) != (job.token, job.sda_id):
            self.added(job.feid, job)
            return
        now = bool(job.placement)
        if now != holding:
            self._counted[job.feid] = (token, sda_id, now)
            (self._hold if now else self._release)(job.feid, token, sda_id)

    def _hold(self, feid: int, token: str, sda_id: int) -> None:
        self._holding[feid] = None
        self._holding_by_token[token] = self._holding_by_token.get(token, 0) + 1
        self._holding_by_sda.setdefault(sda_id, {})[feid] = None

    def _release(self, feid: int, token: str, sda_id: int) -> None:
        del self._holding[feid]
        left = self._holding_by_token[token] - 1
        if left:
            self._holding_by_token[token] = left
        else:
            del self._holding_by_token[token]
        _drop(self._holding_by_sda, sda_id, feid)

    # ---- questions
    # FeID order is the jobs' table order (FeIDs only grow), also for a job replaced in place.
    def of_token(self, token: str) -> list[int]:
        """FeIDs of the token's live jobs, in FeID order."""
        return sorted(self._by_token.get(token, ()))

    def of_sda(self, sda_id: int) -> list[int]:
        """FeIDs of the SDA's live jobs, in FeID order."""
        return sorted(self._by_sda.get(sda_id, ()))

    def count_of_sda(self, sda_id: int) -> int:
        return len(self._by_sda.get(sda_id, ()))

    def holding(self) -> list[int]:
        """FeIDs of every job holding devices, in FeID order."""
        return sorted(self._holding)

    def holding_count_of_token(self, token: str) -> int:
        return self._holding_by_token.get(token, 0)

    def holding_of_sda(self, sda_id: int) -> list[int]:
        return sorted(self._holding_by_sda.get(sda_id, ()))

    def tokens_holding(self) -> set[str]:
        return set(self._holding_by_token)

    def sdas_holding(self) -> set[int]:
        return set(self._holding_by_sda)

    def view(self) -> dict[str, object]:
        """Everything the index holds, as plain data (tests compare it with an index built afresh)."""
        return {
            "counted": dict(sorted(self._counted.items())),
            "by_token": {k: sorted(v) for k, v in sorted(self._by_token.items())},
            "by_sda": {k: sorted(v) for k, v in sorted(self._by_sda.items())},
            "holding": sorted(self._holding),
            "holding_by_token": dict(sorted(self._holding_by_token.items())),
            "holding_by_sda": {k: sorted(v) for k, v in sorted(self._holding_by_sda.items())},
        }


class SdaIndex:
    """The SDAs of each token."""

    def __init__(self) -> None:
        self._counted: dict[int, str] = {}  # sda id -> its token, as indexed
        self._by_token: dict[str, dict[int, None]] = {}

    def rebuild(self, sdas: Iterable[Sda]) -> None:
        type(self).__init__(self)
        for sda in sdas:
            self.added(sda.id, sda)

    def added(self, sda_id: int, sda: Sda) -> None:
        if self._counted.get(sda_id, sda.token) != sda.token:
            self.removed(sda_id)
        self._counted[sda_id] = sda.token
        self._by_token.setdefault(sda.token, {})[sda_id] = None

    def removed(self, sda_id: int, sda: object = None) -> None:
        token = self._counted.pop(sda_id, None)
        if token is not None:
            _drop(self._by_token, token, sda_id)

    def of_token(self, token: str) -> list[int]:
        """Ids of the token's SDAs, in id order (the SDAs' table order: ids only grow)."""
        return sorted(self._by_token.get(token, ()))

    def count_of_token(self, token: str) -> int:
        return len(self._by_token.get(token, ()))

    def view(self) -> dict[str, list[int]]:
        return {k: sorted(v) for k, v in sorted(self._by_token.items())}


def _drop(groups: dict[Any, dict[int, None]], key: Any, member: int) -> None:
    members = groups.get(key)
    if members is None:
        return
    members.pop(member, None)
    if not members:
        del groups[key]
