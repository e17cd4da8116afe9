"""What the rules count per token and per SDA, kept as records come and go.

A single-entity call (`get token`, a VM's request, a priority change) must
not pass over every job: the live jobs of a token and of an SDA, and those
that hold devices, are kept here.  One way keeps every index current
(state.py): the state's `jobs`, `sdas` and `backends` are `Table`s, which
tell their index of every record added, replaced or removed (whoever does
it: a rule, a restored snapshot, a test setting a scene), and the index
watches the fields it indexes on the records it holds (entities.Watched: a
live job that takes or leaves devices, or changes at all, tells the job index,
which also keeps each live job's state for snapshots and listings).
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Mapping
from typing import Any, Protocol, TypeVar, cast

from ..entities import Job, Sda

K = TypeVar("K")
V = TypeVar("V")
K_in = TypeVar("K_in", contravariant=True)
V_in = TypeVar("V_in", contravariant=True)

_MISSING: Any = object()


class Index(Protocol[K_in, V_in]):
    """What a table tells of its records."""

    def added(self, key: K_in, value: V_in) -> None:
        """`value` is the record under `key` now (added or replacing another)."""

    def removed(self, key: K_in, value: V_in) -> None:
        """The record `value` under `key` is gone."""

    def rebuild(self, table: Mapping[Any, V_in]) -> None:
        """Every record is new: index `table` from scratch."""


class Table(dict[K, V]):
    """A dict that tells its index of each record added, replaced or removed.  Reading
    costs what a dict's does.  A copy (copy, deepcopy, pickle) is a plain dict: it is no
    longer the state."""

    __slots__ = ("_index", "_on_set", "_on_del")

    def __init__(self, index: Index[K, V]) -> None:
        super().__init__()
        self._index = index
        self._on_set = index.added
        self._on_del = index.removed
        index.rebuild(self)  # (an empty table: the index holds on to it)

    def replace(self, items: Mapping[K, V]) -> None:
        """Hold `items` instead of what it holds, indexed from scratch."""
        super().clear()
        super().update(items)
        self._index.rebuild(self)

    def __setitem__(self, key: K, value: V) -> None:
        old = self.get(key, _MISSING)
        super().__setitem__(key, value)
        if old is not _MISSING and old is not value:
            self._on_del(key, old)
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
    """The live jobs by token and by SDA, those holding devices (SUMMITED or RUNNING: a
    placement), and each one's `state()` as of its last change (what a snapshot takes, at
    C speed: 20,000 jobs made again at each snapshot cost the owner's thread 15 to 45 ms).
    Each job indexed tells of its changes (entities.Watched: its placement, status,
    priority and times)."""

    def __init__(self) -> None:
        self._counted: dict[int, tuple[str, int, bool]] = {}  # feid -> (token, sda, holds devices) as indexed
        self._by_token: dict[str, dict[int, None]] = {}
        self._by_sda: dict[int, dict[int, None]] = {}
        self._holding: dict[int, None] = {}
        self._holding_by_token: dict[str, int] = {}
        self._holding_by_sda: dict[int, dict[int, None]] = {}
        self._states: dict[int, tuple[Any, ...] | None] = {}  # feid -> its state(), None while stale
        self._stale: dict[int, Job] = {}  # the jobs changed since their state was last taken

    # ---- changes
    def rebuild(self, jobs: Mapping[int, Job]) -> None:
        type(self).__init__(self)
        for feid, job in jobs.items():
            self.added(feid, job)

    def added(self, feid: int, job: Job) -> None:
        """Job `feid` is live now (added or replaced)."""
        if feid in self._counted:
            self._uncount(feid)  # (the same job added again: it keeps its place)
        # Set straight into __dict__: setting the watcher must not itself count as a change.
        job.__dict__["_touch"] = functools.partial(self._changed, job)
        self._states.setdefault(feid, None)
        self._stale[feid] = job
        holding = bool(job.placement)
        self._counted[feid] = (job.token, job.sda_id, holding)
        self._by_token.setdefault(job.token, {})[feid] = None
        self._by_sda.setdefault(job.sda_id, {})[feid] = None
        if holding:
            self._hold(feid, job.token, job.sda_id)

    def removed(self, feid: int, job: Job | None = None) -> None:
        """Job `feid` is no longer live."""
        if job is not None:
            job.__dict__.pop("_touch", None)
        self._states.pop(feid, None)
        self._stale.pop(feid, None)
        self._uncount(feid)

    def _uncount(self, feid: int) -> None:
        counted = self._counted.pop(feid, None)
        if counted is None:
            return
        token, sda_id, holding = counted
        _drop(self._by_token, token, feid)
        _drop(self._by_sda, sda_id, feid)
        if holding:
            self._release(feid, token, sda_id)

    def _changed(self, job: Job) -> None:
        """A live job changed (its watcher): its state is taken again; it may have taken or
        left devices."""
        counted = self._counted.get(job.feid)
        if counted is None:
            return
        self._stale[job.feid] = job
        token, sda_id, holding = counted
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
    def states(self) -> list[tuple[Any, ...]]:
        """Every live job's `state()` as of now, in the order they were added (FeID order:
        FeIDs only grow)."""
        self._refresh()
        return cast("list[tuple[Any, ...]]", list(self._states.values()))  # (none is None once refreshed)

    def states_of(self, jobs: Iterable[Job]) -> list[tuple[Any, ...]]:
        """The `state()` of each of `jobs` (live ones) as of now."""
        self._refresh()
        states = self._states
        return cast("list[tuple[Any, ...]]", [states[job.feid] for job in jobs])  # (none is None now)

    def _refresh(self) -> None:
        """Take the state of every job changed since its state was last taken."""
        states = self._states
        for feid, job in self._stale.items():
            states[feid] = job.state()
        self._stale.clear()

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

    def rebuild(self, sdas: Mapping[int, Sda]) -> None:
        type(self).__init__(self)
        for sda_id, sda in sdas.items():
            self.added(sda_id, sda)

    def added(self, sda_id: int, sda: Sda) -> None:
        if self._counted.get(sda_id, sda.token) != sda.token:
            self.removed(sda_id)
        self._counted[sda_id] = sda.token
        self._by_token.setdefault(sda.token, {})[sda_id] = None

    def removed(self, sda_id: int, sda: Sda | None = None) -> None:
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
