"""Names that live on the server, for completion: tokens, FeIDs, backend ids and
names, group ids, SDA model ids, versions...

`LiveNames` fetches them on one background thread with a connection of its
own and caches them for a few seconds.  A lookup never waits: it answers from
the cache (possibly stale, possibly empty) and asks the thread to refresh;
`on_update` tells the shell when fresh names came.  Each source is a `Names`,
sorted so that a keystroke's prefix lookup costs O(log n) however many names
the server has.
"""

from __future__ import annotations

import bisect
import logging
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from .errors import SmclientError, Unreachable
from .transport import Connection

if TYPE_CHECKING:
    from google.protobuf.internal.enum_type_wrapper import EnumTypeWrapper

log = logging.getLogger(__name__)

TTL_SECONDS = 5.0
HISTORY_NAMES = 1000  # FeIDs of the newest jobs of the history offered for completion


# ============================================================================
# Names: one source's candidates, sorted for prefix lookups.


class Names:
    """(value, meaning) pairs; prefix lookups by bisection, so a keystroke costs
    O(log n + shown) however many names the server has."""

    def __init__(self, items: Iterable[tuple[str, str]], numeric: bool = False) -> None:
        unique: dict[str, str] = {}
        for value, meta in items:
            if value:
                unique.setdefault(value, meta)
        self.numeric = numeric
        self._items = sorted(unique.items(), key=lambda item: item[0].lower())
        self._keys = [value.lower() for value, _ in self._items]
        self._metas = [meta.lower() for _, meta in self._items]
        self._meta = dict(self._items)
        self._by_value = sorted(self._items, key=lambda item: _int_key(item[0])) if numeric else []

    def __len__(self) -> int:
        return len(self._items)

    def __contains__(self, value: str) -> bool:
        return value in self._meta

    def meta(self, value: str) -> str:
        return self._meta.get(value, "")

    def prefixed(self, prefix: str, limit: int) -> list[tuple[str, str]]:
        """Names starting with `prefix` (any case), in order (numbers by value)."""
        if limit <= 0:
            return []
        key = prefix.lower()
        if self.numeric and not key:
            return self._by_value[:limit]
        start = bisect.bisect_left(self._keys, key)
        if self.numeric:
            # Lexical order puts 10 before 2: take the whole range, then sort by value.
            end = bisect.bisect_left(self._keys, key + "\U0010ffff", lo=start)
            found = sorted(self._items[start:end], key=lambda item: _int_key(item[0]))
            return found[:limit]
        found = []
        for i in range(start, len(self._keys)):
            if not self._keys[i].startswith(key) or len(found) >= limit:
                break
            found.append(self._items[i])
        return found

    def described(self, needle: str, limit: int, skip_prefix: str = "") -> list[tuple[str, str]]:
        """Names whose meaning contains `needle` (any case): an operator knows the
        customer's name, not the token.  Names starting with `skip_prefix` are left out."""
        if limit <= 0:
            return []
        needle = needle.lower()
        skip = skip_prefix.lower()
        found = []
        for i, meta in enumerate(self._metas):
            if needle in meta and not (skip and self._keys[i].startswith(skip)):
                found.append(self._items[i])
                if len(found) >= limit:
                    break
        return found


def _int_key(text: str) -> tuple[int, str]:
    try:
        return int(text), text
    except ValueError:
        return 2**63, text


EMPTY = Names(())


class Chained(Names):
    """Several sources offered one after the other (FeIDs, then tokens, for `release`)."""

    def __init__(self, *parts: Names) -> None:
        self.parts = parts
        self.numeric = False

    def __len__(self) -> int:
        return sum(len(part) for part in self.parts)

    def __contains__(self, value: str) -> bool:
        return any(value in part for part in self.parts)

    def meta(self, value: str) -> str:
        return next((part.meta(value) for part in self.parts if value in part), "")

    def prefixed(self, prefix: str, limit: int) -> list[tuple[str, str]]:
        found: list[tuple[str, str]] = []
        for part in self.parts:
            found += part.prefixed(prefix, limit - len(found))
        return found

    def described(self, needle: str, limit: int, skip_prefix: str = "") -> list[tuple[str, str]]:
        found: list[tuple[str, str]] = []
        for part in self.parts:
            found += part.described(needle, limit - len(found), skip_prefix)
        return found


# ============================================================================
# Live names from the server.


def _enum(value: int, enum: EnumTypeWrapper, prefix: str) -> str:
    try:
        return enum.Name(value).removeprefix(prefix)
    except ValueError:
        return str(value)


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" + ("" if n == 1 else "s")


def _fetch_tokens(conn: Connection, pb: Any) -> dict[str, Any]:
    tokens = [t for page in conn.stream("ListTokens", pb.ListTokensRequest()) for t in page.tokens]
    return {
        "tokens": Names((t.value, t.description) for t in tokens),
        "token_env": {t.value: Names((e.name, e.value) for e in t.env) for t in tokens if t.env},
    }


def _fetch_jobs(conn: Connection, pb: Any) -> dict[str, Any]:
    jobs = [j for page in conn.stream("ListJobs", pb.ListJobsRequest()) for j in page.jobs]
    return {"feids": Names(((str(j.feid), f"{_enum(j.status, pb.JobStatus, 'JOB_STATUS_')} "
                                        f"{j.token_description or j.token}") for j in jobs), numeric=True)}


def _fetch_history(conn: Connection, pb: Any) -> dict[str, Any]:
    request = pb.ListHistoryRequest(count=HISTORY_NAMES)
    jobs = [j for page in conn.stream("ListHistory", request) for j in page.jobs]
    return {"history_feids": Names(((str(j.feid), f"{_enum(j.status, pb.JobStatus, 'JOB_STATUS_')} "
                                                  f"{j.token_description or j.token}") for j in jobs),
                                   numeric=True)}


def _fetch_backends(conn: Connection, pb: Any) -> dict[str, Any]:
    backends = [b for page in conn.stream("ListBackends", pb.ListBackendsRequest()) for b in page.backends]
    return {
        "backends": Names(((str(b.id), f"{b.name} {b.ip} {_enum(b.status, pb.BackendStatus, 'BACKEND_STATUS_')}")
                           for b in backends), numeric=True),
        "backend_names": Names((b.name, f"id {b.id}, {b.ip}, group {b.group_name}") for b in backends),
    }


def _fetch_backend_groups(conn: Connection, pb: Any) -> dict[str, Any]:
    groups = conn.call("ListBackendGroups", pb.ListBackendGroupsRequest()).groups
    return {"backend_groups": Names(((str(g.id), f"{g.name} ({_plural(len(g.backends), 'backend')})")
                                     for g in groups), numeric=True)}


def _fetch_model_groups(conn: Connection, pb: Any) -> dict[str, Any]:
    groups = conn.call("ListSdaModelGroups", pb.ListSdaModelGroupsRequest()).groups
    return {"model_groups": Names(((str(g.id), f"{g.name} (backends: {g.backend_group_name})") for g in groups),
                                  numeric=True)}


def _fetch_user_groups(conn: Connection, pb: Any) -> dict[str, Any]:
    groups = conn.call("ListUserGroups", pb.ListUserGroupsRequest()).groups
    return {"user_groups": Names(((str(g.id), f"{g.name} ({_plural(len(g.tokens), 'token')})") for g in groups),
                                 numeric=True)}


def _fetch_models(conn: Connection, pb: Any) -> dict[str, Any]:
    models = conn.call("ListSdaModels", pb.ListSdaModelsRequest()).models
    return {"models": Names(((str(m.id), f"{m.name} ({_plural(m.devices, 'device')})") for m in models),
                            numeric=True)}


def _fetch_sdas(conn: Connection, pb: Any) -> dict[str, Any]:
    sdas = [s for page in conn.stream("ListSdas", pb.ListSdasRequest()) for s in page.sdas]
    by_token: dict[str, list[tuple[str, str]]] = {}
    for s in sdas:
        by_token.setdefault(s.token, []).append((str(s.id), f"{s.model_name} {s.description}".strip()))
    return {
        "sdas": Names(((str(s.id), f"{s.model_name} of {s.token}") for s in sdas), numeric=True),
        "sdas_by_token": {token: Names(items, numeric=True) for token, items in by_token.items()},
    }


def _fetch_versions(conn: Connection, pb: Any) -> dict[str, Any]:
    versions = conn.call("ListVersions", pb.ListVersionsRequest()).versions
    return {"versions": Names((v.version, ("latest, " if v.latest else "") + (v.path or "")) for v in versions)}


# Each feed is one listing call; a source is read from one or more feeds.
FEEDS: dict[str, Callable[[Connection, Any], dict[str, Any]]] = {
    "tokens": _fetch_tokens,
    "jobs": _fetch_jobs,
    "history": _fetch_history,
    "backends": _fetch_backends,
    "backend_groups": _fetch_backend_groups,
    "model_groups": _fetch_model_groups,
    "user_groups": _fetch_user_groups,
    "models": _fetch_models,
    "sdas": _fetch_sdas,
    "versions": _fetch_versions,
}

SOURCE_FEEDS: dict[str, tuple[str, ...]] = {
    "tokens": ("tokens",),
    "token_env": ("tokens",),
    "feids": ("jobs",),
    "history_feids": ("history",),
    "tokens_and_feids": ("tokens", "jobs"),
    "backends": ("backends",),
    "backend_names": ("backends",),
    "backend_groups": ("backend_groups",),
    "model_groups": ("model_groups",),
    "user_groups": ("user_groups",),
    "models": ("models",),
    "sdas": ("sdas",),
    "versions": ("versions",),
}

SOURCE_NAMES = {"tokens": "tokens", "token_env": "token variables", "feids": "jobs", "history_feids": "job history",
                "tokens_and_feids": "tokens and jobs", "backends": "backends", "backend_names": "backends",
                "backend_groups": "backend groups", "model_groups": "SDA model groups",
                "user_groups": "user groups", "models": "SDA models", "sdas": "SDAs", "versions": "versions"}


@dataclass
class _Feed:
    data: dict[str, Any] = field(default_factory=dict)
    fetched: float = float("-inf")  # monotonic time of the last attempt that finished
    ok: bool = False  # the last attempt succeeded
    queued: bool = False


class LiveNames:
    """Server names for completion: cached, refreshed in the background, never waited for."""

    def __init__(self, connection: Connection | None, ttl: float = TTL_SECONDS,
                 on_update: Callable[[str], None] | None = None, start: bool = True) -> None:
        self._connection = connection
        self.ttl = ttl
        self.on_update = on_update
        self.unreachable = ""  # the last background error when SDAManager could not be reached
        self._feeds = {name: _Feed() for name in FEEDS}
        self._queue: list[str] = []
        self._wake = threading.Condition()
        self._closed = False
        self._thread: threading.Thread | None = None
        if connection is not None and start:
            self._thread = threading.Thread(target=self._run, name="smclient-completion", daemon=True)
            self._thread.start()

    # ------------------------------------------------------------ keystroke side: never blocks

    def names(self, source: str, context: str = "") -> Names:
        """The cached names of `source` (empty if none yet); a stale or missing feed
        is queued for the background thread.  `context` is the token typed earlier
        on the line, for sources that depend on it (its SDAs, its variables)."""
        feeds = SOURCE_FEEDS.get(source, ())
        for feed in feeds:
            self._want(feed)
        if source == "tokens_and_feids":
            return Chained(self._get("jobs", "feids"), self._get("tokens", "tokens"))
        if source == "token_env":
            env: dict[str, Names] = self._get("tokens", "token_env", {})
            return env.get(context, EMPTY)
        if source == "sdas" and context:
            by_token: dict[str, Names] = self._get("sdas", "sdas_by_token", {})
            if context in by_token:
                return by_token[context]
            if context in self._get("tokens", "tokens"):
                return EMPTY  # a token without SDAs
        return self._get(feeds[0], source) if feeds else EMPTY

    def loading(self, source: str) -> bool:
        """True while `source` has never been fetched and a fetch is due or running."""
        return any(not self._feeds[f].ok and self._feeds[f].queued for f in SOURCE_FEEDS.get(source, ()))

    def stale(self, source: str) -> bool:
        """True when the names of `source` are older than the TTL: other clients may have
        changed them since (a refresh is queued by the lookup that asked)."""
        now = time.monotonic()
        return any(self._feeds[f].ok and now - self._feeds[f].fetched >= self.ttl for f in SOURCE_FEEDS.get(source, ()))

    def prefetch(self, *sources: str) -> None:
        for source in sources:
            for feed in SOURCE_FEEDS.get(source, ()):
                self._want(feed)

    def invalidate(self) -> None:
        """Something may have changed (a command ran): refetch what was fetched before, keeping
        the old names meanwhile."""
        for name, feed in self._feeds.items():
            if feed.fetched > float("-inf"):
                feed.fetched = float("-inf")
                self._want(name)

    def close(self) -> None:
        with self._wake:
            self._closed = True
            self._wake.notify_all()
        if self._connection is not None:
            self._connection.close()  # cancels a fetch in flight
        if self._thread is not None:
            self._thread.join(timeout=2)

    # ------------------------------------------------------------ cache

    def _get(self, feed: str, key: str, default: Any = EMPTY) -> Any:
        return self._feeds[feed].data.get(key, default)

    def _want(self, name: str) -> None:
        feed = self._feeds[name]
        if feed.queued or self._connection is None or self._closed:
            return
        # After a failure wait a TTL before trying again, so a dead server costs nothing per keystroke.
        if time.monotonic() - feed.fetched < self.ttl:
            return
        with self._wake:
            # `feed` again: another thread may have queued it (mypy would keep `feed.queued` False from above).
            if self._feeds[name].queued:
                return
            feed.queued = True
            self._queue.append(name)
            self._wake.notify()

    # ------------------------------------------------------------ background thread

    def _run(self) -> None:
        from .api import sdamanager_pb2 as pb

        while True:
            with self._wake:
                while not self._queue and not self._closed:
                    self._wake.wait()
                if self._closed:
                    return
                name = self._queue.pop(0)
            self.fetch_now(name, pb)

    def fetch_now(self, name: str, pb: Any = None) -> bool:
        """Fetch one feed in this thread (the background thread, or a test or benchmark)."""
        if pb is None:
            from .api import sdamanager_pb2 as pb
        feed = self._feeds[name]
        ok = False
        try:
            assert self._connection is not None
            feed.data = FEEDS[name](self._connection, pb)
            ok = True
            self.unreachable = ""
        except Unreachable as err:
            self.unreachable = str(err)
        except SmclientError as err:
            log.debug("completion feed %s: %s", name, err)
        except Exception:  # completion must never break the shell
            log.debug("completion feed %s failed", name, exc_info=True)
        finally:
            feed.ok = ok or feed.ok
            feed.fetched = time.monotonic()
            feed.queued = False
        if ok and self.on_update is not None:
            try:
                self.on_update(name)
            except Exception:
                log.debug("completion update callback failed", exc_info=True)
        return ok
