"""The manager's whole state as plain JSON data, and back.

Only state is captured; what derives from it (queues, the timeline of
transitions) is rebuilt on restore.  The devices' delays are kept by the
store; the server's start time is not state.

Two ways to take it.  `capture` builds the plain data at once (tests compare
states with it).  A snapshot of a running server must not hold the manager's
lock while it converts and writes hundreds of thousands of records, so it is
taken in two steps: `freeze` (under the lock, cheap) copies what changes can
still touch, each live record's fields into a dict of its own, and only
references to what they never touch again (an ended job in the history, an
event: each is made whole before it is appended and never changed after);
`serialise` (anywhere, no lock) turns that frozen view into the same JSON
text, record by record, so it never holds the interpreter for long either.
"""

from __future__ import annotations

import dataclasses
import json
from collections import deque
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from .entities import (
    AccessLevel,
    Backend,
    BackendGroup,
    BackendStatus,
    Device,
    DeviceStatus,
    Event,
    Job,
    JobStatus,
    Sda,
    SdaModel,
    SdaModelGroup,
    Token,
    UserGroup,
    Version,
)
from .rules.jobs import CLEAN_EVENT, READY_EVENT
from .scheduler import PoolQueue

if TYPE_CHECKING:
    from .manager import SDAManager


def _plain(value: Any) -> Any:
    if dataclasses.is_dataclass(value):
        return {f.name: _plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if hasattr(value, "value") and not isinstance(value, (int, float, str)):
        return value.value  # enums
    return value


def capture(m: SDAManager) -> dict[str, Any]:
    return {
        "next": dict(m._next),
        "tokens": [_plain(t) for t in m.tokens.values()],
        "sdas": [_plain(s) for s in m.sdas.values()],
        "models": [_plain(x) for x in m.models.values()],
        "model_groups": [_plain(g) for g in m.model_groups.values()],
        "backends": [_plain(b) for b in m.backends.values()],
        "backend_groups": [_plain(g) for g in m.backend_groups.values()],
        "user_groups": [_plain(g) for g in m.user_groups.values()],
        "memberships": [[ug, list(mgs)] for ug, mgs in m.memberships.items()],
        "jobs": [_plain(j) for j in m.jobs.values()],
        "queued_in": [[feid, key] for feid, key in m._pool.items()],
        "history": [_plain(j) for j in m.history],
        "versions": [_plain(v) for v in m.versions.values()],
        "events": [_plain(e) for e in m.events],
        "departed": dict(m.departed),
        "clean_until": [[b, i, t] for (b, i), t in m._clean_until.items()],
        "ready_at": [[feid, t] for feid, t in m._ready_at.items()],
    }


# ---------------------------------------------------------------- a frozen view, serialised later

# Per record class, the fields holding containers (a Job's placement, a Backend's devices, a
# Token's env): the ones a change may alter in place, so copied by freeze.  Every other
# field holds an immutable value (str, number, enum, tuple) that a change can only replace.
_CONTAINERS: dict[type, tuple[tuple[str, ...], tuple[str, ...]]] = {}


def _fields(cls: type) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(every field, the fields holding containers) of a record class."""
    names = _CONTAINERS.get(cls)
    if names is None:
        fields = dataclasses.fields(cls)
        names = _CONTAINERS[cls] = (tuple(f.name for f in fields),
                                    tuple(f.name for f in fields if f.default_factory is not dataclasses.MISSING))
    return names


def _state(record: Any) -> dict[str, Any]:
    """A record's fields by name: its __dict__, without what is no field (a device's or a
    backend's watcher, which the scheduler's index sets there)."""
    fields = vars(record)
    names = _fields(type(record))[0]
    if len(fields) != len(names):
        return {name: fields[name] for name in names}
    return fields


def _copy(record: Any) -> dict[str, Any]:
    """A live record's fields as they are now, in a dict no later change reaches."""
    fields = dict(_state(record))
    for name in _fields(type(record))[1]:
        value = fields[name]
        if isinstance(value, dict):
            fields[name] = dict(value)
        elif value and dataclasses.is_dataclass(value[0]):
            fields[name] = [_copy(item) for item in value]  # a backend's devices
        else:
            fields[name] = list(value)  # of immutable items: (backend, device) pairs, ids, names
    return fields


def freeze(m: SDAManager) -> dict[str, Any]:
    """The state as it is now, for `serialise` later (call it under the manager's lock)."""
    return {
        "next": dict(m._next),
        "tokens": [_copy(t) for t in m.tokens.values()],
        "sdas": [_copy(s) for s in m.sdas.values()],
        "models": [_copy(x) for x in m.models.values()],
        "model_groups": [_copy(g) for g in m.model_groups.values()],
        "backends": [_copy(b) for b in m.backends.values()],
        "backend_groups": [_copy(g) for g in m.backend_groups.values()],
        "user_groups": [_copy(g) for g in m.user_groups.values()],
        "memberships": [[ug, list(mgs)] for ug, mgs in m.memberships.items()],
        "jobs": [_copy(j) for j in m.jobs.values()],
        "queued_in": [[feid, key] for feid, key in m._pool.items()],
        "history": list(m.history),  # ended jobs: never changed again
        "versions": [_copy(v) for v in m.versions.values()],
        "events": list(m.events),  # never changed once logged
        "departed": dict(m.departed),
        "clean_until": [[b, i, t] for (b, i), t in m._clean_until.items()],
        "ready_at": [[feid, t] for feid, t in m._ready_at.items()],
    }


def _json_value(value: Any) -> Any:
    if hasattr(value, "value"):  # enums
        return value.value
    if dataclasses.is_dataclass(value):  # an ended job or an event, by reference
        return _state(value)
    raise TypeError(f"{type(value).__name__} is not state")


_encode = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), default=_json_value).encode


# The records a frozen view holds by reference (never changed again), by the field that
# names each uniquely.  Their text is kept from one snapshot to the next (TextCache).
_SETTLED = {"history": "feid", "events": "id"}
_CHUNK = 256  # records per piece of text: never the interpreter for long in one call


class TextCache:
    """The text of settled records (ended jobs, events) from the last snapshot, by run.

    The history and the event log only grow at the end and lose their oldest
    records, so a run of records is named by its first record and its length: the
    same first record is followed by the same records as long as it is there.
    Runs start where a record's unique number is a multiple of _CHUNK, so they stay
    where they are when the oldest records go; a snapshot then converts only the
    records that are new since the last one.
    """

    def __init__(self) -> None:
        self._texts: dict[tuple[str, int, int], str] = {}
        self._used: dict[tuple[str, int, int], str] = {}

    def text(self, kind: str, run: list[Any], name: str) -> str:
        key = (kind, getattr(run[0], name), len(run))
        text = self._texts.get(key)
        if text is None:
            text = _encode(run)[1:-1]
        self._used[key] = text
        return text

    def done(self) -> None:
        """Keep only the runs the last snapshot used."""
        self._texts, self._used = self._used, {}


def _runs(items: list[Any], name: str) -> Iterator[list[Any]]:
    """`items` cut where a record's number is a multiple of _CHUNK (and after 4 x _CHUNK)."""
    run: list[Any] = []
    for item in items:
        if run and (getattr(item, name) % _CHUNK == 0 or len(run) >= 4 * _CHUNK):
            yield run
            run = []
        run.append(item)
    if run:
        yield run


def serialise(frozen: dict[str, Any], cache: TextCache | None = None) -> Iterator[str]:
    """The JSON text of a frozen view (what `json.dumps(capture(m))` holds), in pieces.

    With a cache, settled records' text comes from the last snapshot where it can."""
    yield "{"
    for n, (key, items) in enumerate(frozen.items()):
        yield f'{"," if n else ""}{_encode(key)}:'
        if not isinstance(items, list):
            yield _encode(items)
            continue
        yield "["
        if cache is not None and key in _SETTLED:
            pieces = (cache.text(key, run, _SETTLED[key]) for run in _runs(items, _SETTLED[key]))
        else:
            pieces = (_encode(items[start:start + _CHUNK])[1:-1] for start in range(0, len(items), _CHUNK))
        first = True
        for piece in pieces:
            if piece:
                yield piece if first else "," + piece
                first = False
        yield "]"
    yield "}"
    if cache is not None:
        cache.done()


def _pairs(items: list[list[int]]) -> list[tuple[int, int]]:
    return [(b, i) for b, i in items]


def _job(d: dict[str, Any]) -> Job:
    return Job(**{**d, "status": JobStatus(d["status"]), "placement": _pairs(d["placement"])})


def departed_from_events(m: SDAManager) -> dict[str, str]:
    """A state file from before deleted tokens were kept: their last descriptions, as far
    as the event log still tells them (it keeps the newest events only)."""
    described: dict[str, str] = {}
    for event in m.events:
        if event.result == "SUCCESS" and event.action in ("CREATE_TOKEN", "UPDATE_TOKEN_DESCRIPTION"):
            try:
                described[event.token] = str(json.loads(event.request).get("description", ""))
            except (ValueError, AttributeError):
                continue
    gone = {job.token for job in m.history} | set(described)
    return {token: described.get(token, "") for token in gone if token not in m.tokens}


def restore(m: SDAManager, s: dict[str, Any]) -> None:
    """Replace `m`'s state with snapshot `s` (the manager's configuration is kept)."""
    m._next = dict(s["next"])
    m.tokens = {d["value"]: Token(**{**d, "access_level": AccessLevel(d["access_level"])}) for d in s["tokens"]}
    m.sdas = {d["id"]: Sda(**{**d, "held": _pairs(d["held"])}) for d in s["sdas"]}
    m.models = {d["id"]: SdaModel(**d) for d in s["models"]}
    # A group lists its members in their own order (rules/groups.py); a state file from
    # before holds them in the order they joined, so they are put in order here.
    m.model_groups = {d["id"]: SdaModelGroup(**{**d, "model_ids": m.model_group_rules.ordered(d["model_ids"])})
                      for d in s["model_groups"]}
    m.backends = {
        d["id"]: Backend(**{**d, "status": BackendStatus(d["status"]),
                            "devices": [Device(**{**x, "status": DeviceStatus(x["status"])}) for x in d["devices"]]})
        for d in s["backends"]
    }
    m.backend_groups = {d["id"]: BackendGroup(**d) for d in s["backend_groups"]}
    m.user_groups = {d["id"]: UserGroup(**{**d, "tokens": m.user_group_rules.ordered(d["tokens"])})
                     for d in s["user_groups"]}
    m.memberships = {ug: sorted(mgs) for ug, mgs in s["memberships"]}
    m.jobs = {d["feid"]: _job(d) for d in s["jobs"]}
    m.history = [_job(d) for d in s["history"]]
    m.versions = {d["version"]: Version(**d) for d in s["versions"]}
    m.events = deque((Event(**d) for d in s["events"]), maxlen=m.events.maxlen)
    m.departed = dict(s["departed"]) if "departed" in s else departed_from_events(m)
    # What derives from the state: the queues and the timeline of transitions.
    m.queues = {}
    m._pool = {}
    for feid, key in s["queued_in"]:
        m._pool[feid] = key
        m.queues.setdefault(key, PoolQueue()).push(m.jobs[feid])
    m._clean_until = {(b, i): t for b, i, t in s["clean_until"]}
    m._ready_at = {feid: t for feid, t in s["ready_at"]}
    m._timeline = []
    m._seq = 0
    for (b, i), t in m._clean_until.items():
        m._at(t, CLEAN_EVENT, (b, i))
    for feid, t in m._ready_at.items():
        m._at(t, READY_EVENT, feid)
