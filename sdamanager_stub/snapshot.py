"""The manager's whole state as plain JSON data, and back.

Only state is kept: the state's records (state.py) and what the scheduler
exports (the queue each waiting job is in, when devices are done); the
queues' order and the timeline are rebuilt from them on restore.  The
devices' delays are kept by the store; the server's start time is not state.

A snapshot of a running server must not hold the manager's lock while it
converts and writes tens of thousands of records, so it is taken in two
steps: `freeze` (under the lock, cheap) copies what changes can still touch,
each live record's fields into a dict of its own (the live jobs: their
`state()` tuples, which the job index keeps as they change); `serialise`
(anywhere, no lock) turns that frozen view into the JSON text, a piece at a
time, so it never holds the interpreter for long either.  `capture` is the
two at once, read back as plain data (tests compare states with it).

Ended jobs and events are not state a snapshot holds: they are in the
archive's tables (archive.py); a snapshot of schema 2 held them, and
`restore` hands those back for the store to archive.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import re
import typing
from collections.abc import Callable, Iterator
from itertools import starmap
from operator import itemgetter
from typing import TYPE_CHECKING, Any

from . import checks
from .entities import (
    JOB_NAMES,
    Backend,
    BackendGroup,
    Event,
    Job,
    Sda,
    SdaModel,
    SdaModelGroup,
    Token,
    UserGroup,
    Version,
)
from .state import ID_KINDS

if TYPE_CHECKING:
    from .manager import SDAManager


def capture(m: SDAManager) -> dict[str, Any]:
    """The state as plain JSON data, as a snapshot keeps it (tests compare states with it)."""
    data: dict[str, Any] = json.loads("".join(serialise(freeze(m))))
    return data


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
    names = _fields(type(record))[0]
    fields: dict[str, Any] = record.__dict__
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
    state = m.state
    return {
        "next": dict(state.next),
        "tokens": [_copy(t) for t in state.tokens.values()],
        "sdas": [_copy(s) for s in state.sdas.values()],
        "models": [_copy(x) for x in state.models.values()],
        "model_groups": [_copy(g) for g in state.model_groups.values()],
        "backends": [_copy(b) for b in state.backends.values()],
        "backend_groups": [_copy(g) for g in state.backend_groups.values()],
        "user_groups": [_copy(g) for g in state.user_groups.values()],
        "memberships": [[ug, list(mgs)] for ug, mgs in state.memberships.items()],
        # The live jobs are most of a big state: their `state()` tuples, kept by the job
        # index as they change (a list copied at C speed), made records by `serialise`,
        # off the owner's thread.
        "jobs": state.job_index.states(),
        "versions": [_copy(v) for v in state.versions.values()],
        "departed": dict(state.departed),
        **m.scheduler.export(),  # queued_in, clean_until, ready_at
    }


def _json_value(value: Any) -> Any:
    if hasattr(value, "value"):  # enums
        return value.value
    raise TypeError(f"{type(value).__name__} is not state")


_encode = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), default=_json_value).encode


_CHUNK = 64  # records per piece of text: never the interpreter for long in one call (about 0.5 ms)


def _job_record(state: tuple[Any, ...]) -> dict[str, Any]:
    """A live job's record (what `capture` holds) from its `state()`."""
    return dict(zip(JOB_NAMES, state))


def serialise(frozen: dict[str, Any]) -> Iterator[str]:
    """The JSON text of a frozen view (what `json.dumps(capture(m))` holds), in pieces."""
    yield "{"
    for n, (key, items) in enumerate(frozen.items()):
        yield f'{"," if n else ""}{_encode(key)}:'
        if not isinstance(items, list):
            yield _encode(items)
            continue
        yield "["
        chunks = (items[start:start + _CHUNK] for start in range(0, len(items), _CHUNK))
        if key == "jobs":
            chunks = (list(map(_job_record, chunk)) for chunk in chunks)
        pieces = (_encode(chunk)[1:-1] for chunk in chunks)
        first = True
        for piece in pieces:
            if piece:
                yield piece if first else "," + piece
                first = False
        yield "]"
    yield "}"


# ---------------------------------------------------------------- reading a snapshot back, checked

class Damaged(ValueError):
    """A snapshot that is not the state it should be: names the record and the field
    (`tokens[0] priority is 'high', not an integer`)."""


@functools.cache
def _spec(cls: type) -> tuple[tuple[tuple[str, Callable[[Any], Any]], ...], frozenset[str], frozenset[str]]:
    """(each field's name and checker, every field, the fields without a default) of a record class."""
    hints = typing.get_type_hints(cls)
    fields = dataclasses.fields(cls)
    required = frozenset(f.name for f in fields
                         if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING)
    columns = tuple((f.name, checks.checker(hints[f.name], _record)) for f in fields)
    return columns, frozenset(f.name for f in fields), required


def _record(cls: type, value: Any, where: str) -> Any:
    """A record of class `cls` from its JSON object, every field checked; `where` names
    it in an error (`tokens[3]`)."""
    columns, names, required = _spec(cls)
    if type(value) is not dict:
        raise Damaged(f"{where} is {checks.short(value)}, not a record")
    if not names.issuperset(value) or not required.issubset(value):
        unknown, missing = sorted(set(value) - names), sorted(required - set(value))
        raise Damaged(f"{where} has no field {missing[0]}" if missing else f"{where} has a field {unknown[0]!r} "
                      f"that a {cls.__name__} has not")
    fields = {}
    name = ""
    try:
        for name, check in columns:
            if name in value:
                fields[name] = check(value[name])
    except checks.Wrong as wrong:
        raise Damaged(f"{where} {name} is {checks.short(wrong.value)}, not {wrong.expected}") from None
    except Damaged as inner:  # in a record of this one (a backend's device)
        raise Damaged(f"{where} {name}: {inner}") from None
    return cls(**fields)


def _records(cls: type, s: dict[str, Any], key: str) -> list[Any]:
    """The records of class `cls` in list `key` of the snapshot (made already when `parse`
    read them)."""
    items = s[key]
    if isinstance(items, _Made):
        return items
    if type(items) is not list:
        raise Damaged(f"{key} is {checks.short(items)}, not a list")
    return _made(cls, items, key)


def _made(cls: type, items: list[Any], key: str, first: int = 0) -> list[Any]:
    """Records of class `cls` from `items` (`key`'s, from its `first`-th on).  Checked a
    field at a time across all of them (the loops in C: a snapshot holds 200,000
    records); when one is not as it should be, record by record, to say which and why."""
    records = _by_column(cls, items)
    if records is None:
        records = [_record(cls, item, f"{key}[{first + k}]") for k, item in enumerate(items)]
    return records


class _Made(list[Any]):
    """A snapshot's list whose records `parse` made as it read them."""


# The snapshot's big lists: `parse` makes their records a chunk at a time, so the parsed
# JSON of 200,000 jobs never exists all at once (it was most of a restart's peak memory).
_BIG: dict[str, type] = {"history": Job, "events": Event, "jobs": Job}
_PARSE_CHUNK = 4096
_decode = json.JSONDecoder().raw_decode
_SPACE = re.compile(r"[ \t\n\r]*")


def parse(text: str) -> dict[str, Any]:
    """A snapshot's JSON text as `json.loads` reads it, except that the big lists (ended
    and live jobs, events) come as their records, made and checked a chunk at a time.
    ValueError (a json.JSONDecodeError, or Damaged) where it is not."""
    _, position = _next(text, 0, "{")
    state: dict[str, Any] = {}
    if text.startswith("}", position):
        position += 1
    else:
        while True:
            key, position = _decode(text, position)
            if not isinstance(key, str):
                raise json.JSONDecodeError("Expecting property name enclosed in double quotes", text, position)
            _, position = _next(text, position, ":")
            cls = _BIG.get(key)
            if cls is not None and text.startswith("[", position):
                state[key], position = _parse_records(text, position + 1, cls, key)
            else:
                state[key], position = _decode(text, position)
            separator, position = _next(text, position, ",}")
            if separator == "}":
                break
    if _skip(text, position) != len(text):
        raise json.JSONDecodeError("Extra data", text, position)
    return state


def _skip(text: str, position: int) -> int:
    """The position of the first character from `position` on that is not JSON's space."""
    space = _SPACE.match(text, position)
    assert space is not None  # (the pattern matches "" at least)
    return space.end()


def _next(text: str, position: int, allowed: str) -> tuple[str, int]:
    """The next character (after space), one of `allowed`, and the position after it and
    the space after it."""
    position = _skip(text, position)
    if position >= len(text) or text[position] not in allowed:
        raise json.JSONDecodeError(f"Expecting {' or '.join(map(repr, allowed))}", text, position)
    return text[position], _skip(text, position + 1)


def _parse_records(text: str, position: int, cls: type, key: str) -> tuple[_Made, int]:
    """The records of the list `key` whose "[" ends before `position`, and where it ends."""
    records = _Made()
    position = _skip(text, position)
    if text.startswith("]", position):
        return records, position + 1
    chunk: list[Any] = []
    while True:
        item, position = _decode(text, position)
        chunk.append(item)
        if len(chunk) == _PARSE_CHUNK:
            records += _made(cls, chunk, key, len(records))
            chunk = []
        separator, position = _next(text, position, ",]")
        if separator == "]":
            break
    records += _made(cls, chunk, key, len(records))
    return records, position


def _by_column(cls: type, items: list[Any]) -> list[Any] | None:
    """The records of `items`, each a dict of every field of `cls`, made field by field
    across all of them; None when any item is not that (_record then says which)."""
    fields, names, _ = _spec(cls)
    if not items:
        return []
    if set(map(type, items)) != {dict} or set(map(len, items)) != {len(names)}:
        return None  # (not all records, or fields missing, perhaps from an older file: one by one)
    columns = []
    try:
        for name, check in fields:
            values = list(map(itemgetter(name), items))
            types = checks.TYPE_ONLY.get(check)
            if types is None:
                values = list(map(check, values))
            elif not set(map(type, values)) <= types or not checks.in_range(check, values):
                return None
            elif check is checks.text:  # one string for each text that repeats (tokens, builds, actions)
                shared: dict[str, str] = {}
                values = list(map(shared.setdefault, values, values))
            columns.append(values)
    except (KeyError, checks.Wrong, Damaged):
        return None
    return list(starmap(cls, zip(*columns)))  # (the fields in their order: positional)


def _value(s: dict[str, Any], key: str, kind: Any) -> Any:
    try:
        return checks.checker(kind, _record)(s[key])
    except checks.Wrong as wrong:
        raise Damaged(f"{key} holds {checks.short(wrong.value)}, not {wrong.expected}") from None


def _rows(s: dict[str, Any], key: str, *kinds: Callable[[Any], Any]) -> list[tuple[Any, ...]]:
    """A list of fixed-length rows (`ready_at`: [feid, time] each), every value checked."""
    rows = s[key]
    if type(rows) is not list:
        raise Damaged(f"{key} is {checks.short(rows)}, not a list")
    out = []
    for k, row in enumerate(rows):
        try:
            if type(row) is not list or len(row) != len(kinds):
                raise checks.Wrong(row, f"a list of {len(kinds)}")
            out.append(tuple(check(value) for check, value in zip(kinds, row)))
        except checks.Wrong:
            raise Damaged(f"{key}[{k}] is {checks.short(row)}, not as a {key} row is") from None
    return out


def _refers(where: str, key: Any, known: dict[Any, Any], what: str) -> None:
    if key not in known:
        raise Damaged(f"{where} names {what} {checks.short(key)}, which is no {what}")


def _device_check(backends: dict[int, Backend]) -> Callable[[tuple[int, int], str], None]:
    """A check that a (backend id, device index) pair `where` names is one of `backends`' devices."""
    def check(pair: tuple[int, int], where: str) -> None:
        backend = backends.get(pair[0])
        if backend is None:
            raise Damaged(f"{where} names backend {pair[0]}, which is no backend")
        if not 0 <= pair[1] < len(backend.devices):
            raise Damaged(f"{where} names device {pair[1]} of backend {pair[0]}, which has {len(backend.devices)}")
    return check


def departed_from_events(tokens: dict[str, Token], history: list[Job], events: list[Event]) -> dict[str, str]:
    """A state file from before deleted tokens were kept: their last descriptions, as far
    as the event log still tells them (it keeps the newest events only)."""
    described: dict[str, str] = {}
    for event in events:
        if event.result == "SUCCESS" and event.action in ("CREATE_TOKEN", "UPDATE_TOKEN_DESCRIPTION"):
            try:
                described[event.token] = str(json.loads(event.request).get("description", ""))
            except (ValueError, AttributeError):
                continue
    gone = {job.token for job in history} | set(described)
    return {token: described.get(token, "") for token in gone if token not in tokens}


def restore(m: SDAManager, s: dict[str, Any]) -> tuple[list[Job], list[Event]]:
    """Replace `m`'s live state and its scheduler's with snapshot `s` (the manager's
    configuration is kept).  Every record is checked against its type, and what refers
    to a backend, a device, a token or a job against what the snapshot holds: Damaged
    says where it is not.

    Returns the ended jobs and the events a snapshot of schema 2 held (one of today
    holds none: they are in the archive's tables), for the caller to archive."""
    if type(s) is not dict:
        raise Damaged(f"it is {checks.short(s)}, not a state")
    missing = sorted({"next", "tokens", "sdas", "models", "model_groups", "backends", "backend_groups",
                      "user_groups", "memberships", "jobs", "queued_in", "versions", "clean_until",
                      "ready_at"} - set(s))
    if missing:
        raise Damaged(f"it has no {missing[0]}")
    counters = _value(s, "next", dict[str, int])
    if not set(ID_KINDS) <= set(counters):  # (every id the manager makes up has its counter)
        raise Damaged(f"next has no {sorted(set(ID_KINDS) - set(counters))[0]} counter")
    memberships = {ug: sorted(mgs) for ug, mgs in _rows(s, "memberships", checks.integer, checks.checker(list[int]))}
    departed = _value(s, "departed", dict[str, str]) if "departed" in s else None
    tokens = {t.value: t for t in _records(Token, s, "tokens")}
    sdas = _records(Sda, s, "sdas")
    models = {x.id: x for x in _records(SdaModel, s, "models")}
    model_groups = _records(SdaModelGroup, s, "model_groups")
    model_groups_by_id = {g.id: g for g in model_groups}
    backends = _records(Backend, s, "backends")
    for k, backend in enumerate(backends):
        for index, device in enumerate(backend.devices):
            if device.index != index:
                raise Damaged(f"backends[{k}] devices[{index}] has index {device.index}")
    backend_groups = {g.id: g for g in _records(BackendGroup, s, "backend_groups")}
    user_groups = _records(UserGroup, s, "user_groups")
    user_groups_by_id = {g.id: g for g in user_groups}
    # What the rules never leave dangling (a delete is refused, or clears the reference).
    for k, sda in enumerate(sdas):
        _refers(f"sdas[{k}] token", sda.token, tokens, "token")
        _refers(f"sdas[{k}] model_id", sda.model_id, models, "SDA model")
        if sda.model_group_id:
            _refers(f"sdas[{k}] model_group_id", sda.model_group_id, model_groups_by_id, "SDA model group")
    for k, g in enumerate(model_groups):
        _refers(f"model_groups[{k}] backend_group_id", g.backend_group_id, backend_groups, "backend group")
        for model_id in g.model_ids:
            _refers(f"model_groups[{k}] model_ids", model_id, models, "SDA model")
    for k, b in enumerate(backends):
        _refers(f"backends[{k}] group_id", b.group_id, backend_groups, "backend group")
    for k, ug in enumerate(user_groups):
        for token in ug.tokens:
            _refers(f"user_groups[{k}] tokens", token, tokens, "token")
    for ug_id, mg_ids in memberships.items():
        _refers("memberships", ug_id, user_groups_by_id, "user group")
        for mg_id in mg_ids:
            _refers(f"memberships of user group {ug_id}", mg_id, model_groups_by_id, "SDA model group")
    by_id = {b.id: b for b in backends}
    device = _device_check(by_id)
    for k, sda in enumerate(sdas):
        for pair in sda.held:
            device(pair, f"sdas[{k}] held")
    jobs = _records(Job, s, "jobs")
    for k, job in enumerate(jobs):
        _refers(f"jobs[{k}] token", job.token, tokens, "token")
        for pair in job.placement:
            device(pair, f"jobs[{k}] placement")
    live = {j.feid: j for j in jobs}
    history = _records(Job, s, "history") if "history" in s else []
    events = _records(Event, s, "events") if "events" in s else []
    # What the scheduler keeps: the queue of each waiting job, when devices are done.
    queued_in = _rows(s, "queued_in", checks.integer, checks.integer)
    clean_until = _rows(s, "clean_until", checks.integer, checks.integer, checks.seconds)
    ready_at = _rows(s, "ready_at", checks.integer, checks.seconds)
    for what, rows in (("queued_in", queued_in), ("ready_at", ready_at)):
        for k, (feid, _) in enumerate(rows):
            if feid not in live:
                raise Damaged(f"{what}[{k}] names job {feid}, which is no live job")
    for k, (b, i, _) in enumerate(clean_until):
        if b in by_id:  # (a backend deleted while its devices cleaned: nothing to clean)
            device((b, i), f"clean_until[{k}]")
    m.state.load(next_ids=counters, tokens=tokens, sdas={x.id: x for x in sdas}, models=models,
                 model_groups=model_groups_by_id, backends=by_id,
                 backend_groups=backend_groups, user_groups=user_groups_by_id,
                 memberships=memberships, jobs=live, versions={v.version: v for v in _records(Version, s, "versions")},
                 departed=departed if departed is not None else departed_from_events(tokens, history, events))
    # A group lists its members in their own order (rules/groups.py); a state file from
    # before holds them in the order they joined, so they are put in order here (by the
    # state just loaded: a model's size, a token's age).
    for g in model_groups:
        g.model_ids = m.rules.models.groups.ordered(g.model_ids)
    for ug in user_groups:
        ug.tokens = m.rules.users.groups.ordered(ug.tokens)
    m.scheduler.restore(queued_in, clean_until, ready_at)
    return history, events
