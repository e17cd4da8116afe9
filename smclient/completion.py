"""Completion for the interactive shell, derived from the command table.

Two parts:

- `LiveNames`: names that live on the server (tokens, FeIDs, backend ids and
  names, group ids, SDA model ids, ...), fetched by one background thread on
  a connection of its own and cached for a few seconds.  A lookup never
  waits: it answers from the cache (possibly stale, possibly empty) and asks
  the thread to refresh; `on_update` tells the shell when fresh names came.
- `ShellCompleter`: walks `GRAMMAR` (the command table) for the words before
  the cursor: command words, then the argument at that position (its fixed
  choices, true/false, null, or its live source), each candidate with its
  meaning beside it.  `usage_hint` describes the same position for the
  bottom toolbar.

Nothing here lists command names: they all come from the table.
"""

from __future__ import annotations

import bisect
import logging
import shlex
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from prompt_toolkit.completion import CompleteEvent, Completer, Completion
from prompt_toolkit.document import Document

from .commands import GRAMMAR, HELP_WORDS
from .errors import SmclientError, Unreachable
from .grammar import Arg, Command, Grammar, Kind
from .transport import Connection

log = logging.getLogger(__name__)

# At most this many candidates per keystroke: a menu of 10,000 tokens is no
# help to anyone, and building it would cost more than a keystroke may.
MAX_CANDIDATES = 200
TTL_SECONDS = 5.0
HISTORY_NAMES = 1000  # FeIDs of the newest jobs of the history offered for completion
META_WIDTH = 60


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


def _enum(value: Any, enum: Any, prefix: str) -> str:
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
            return self._get("tokens", "token_env", {}).get(context, EMPTY)
        if source == "sdas" and context:
            by_token = self._get("sdas", "sdas_by_token", {})
            if context in by_token:
                return by_token[context]
            if context in self._get("tokens", "tokens"):
                return EMPTY  # a token without SDAs
        return self._get(feeds[0], source) if feeds else EMPTY

    def loading(self, source: str) -> bool:
        """True while `source` has never been fetched and a fetch is due or running."""
        return any(not self._feeds[f].ok and self._feeds[f].queued for f in SOURCE_FEEDS.get(source, ()))

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
            if feed.queued:
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


# ============================================================================
# The line before the cursor.


@dataclass(frozen=True)
class LineState:
    words: list[str]  # complete words before the one being typed (unquoted)
    current: str  # the word being typed (unquoted)
    current_raw: str  # the same as typed (what a completion replaces)
    comment: bool = False  # the cursor is in a `#` comment


def scan(text: str) -> LineState:
    """Shell-style words of `text`, tolerating an unclosed quote in the last word."""
    raws: list[str] = []
    start: int | None = None
    quote = ""
    escaped = False
    for i, char in enumerate(text):
        if escaped:
            escaped = False
        elif quote:
            if char == quote:
                quote = ""
            elif char == "\\" and quote == '"':
                escaped = True
        elif char.isspace():
            if start is not None:
                raws.append(text[start:i])
                start = None
        else:
            if start is None:
                if char == "#":
                    return LineState([_unquote(r) for r in raws], "", "", comment=True)
                start = i
            if char == "\\":
                escaped = True
            elif char in "'\"":
                quote = char
    raw = text[start:] if start is not None else ""
    return LineState([_unquote(r) for r in raws], _unquote(raw, quote, escaped), raw)


def _unquote(raw: str, quote: str = "", escaped: bool = False) -> str:
    if not raw:
        return ""
    closed = (raw[:-1] if escaped else raw) + quote
    try:
        words = shlex.split(closed)
    except ValueError:
        return raw
    return "".join(words) if words else ""


def _quoted(value: str) -> str:
    return value if value and not any(c.isspace() or c in "'\"\\#" for c in value) else shlex.quote(value)


def _short(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= META_WIDTH else text[: META_WIDTH - 1] + "…"


# ============================================================================
# The completer.


@dataclass(frozen=True)
class Position:
    """Where the cursor is in terms of the command table."""

    state: LineState
    next_words: dict[str, tuple[Command | None, list[str]]]  # command words that may come next
    command: Command | None = None  # the command the words before the cursor name
    arg_index: int = -1  # the position among its arguments
    arg_words: tuple[str, ...] = ()  # the arguments typed so far
    help_topic: bool = False  # after `help`: command words again


def locate(text: str, grammar: Grammar = GRAMMAR) -> Position:
    state = scan(text)
    words = state.words
    next_words = _next_words(grammar, words)
    found = grammar.match(words) if words else None
    if found is None:
        return Position(state, next_words)
    command, used = found
    if command.words in HELP_WORDS:
        return Position(state, {**next_words, **_next_words(grammar, words[used:])}, command,
                        len(words) - used, tuple(words[used:]), help_topic=True)
    return Position(state, next_words, command, len(words) - used, tuple(words[used:]))


def _next_words(grammar: Grammar, words: Sequence[str]) -> dict[str, tuple[Command | None, list[str]]]:
    """Command words that can follow `words`: word -> (the command it completes, if any;
    the rest of the longer commands' words)."""
    typed = tuple(w.lower() for w in words)
    n = len(typed)
    found: dict[str, tuple[Command | None, list[str]]] = {}
    for command in grammar.commands:
        if command.hidden:
            continue
        name = tuple(w.lower() for w in command.words)
        if len(name) <= n or name[:n] != typed:
            continue
        word = name[n]
        exact, rest = found.get(word, (None, []))
        if len(name) == n + 1:
            exact = command
        else:
            rest.append(" ".join(name[n + 1:]))
        found[word] = (exact, rest)
    return found


class ShellCompleter(Completer):
    """Command words, argument choices and live server names, from the command table."""

    def __init__(self, live: LiveNames | None = None, grammar: Grammar = GRAMMAR,
                 limit: int = MAX_CANDIDATES) -> None:
        self.live = live
        self.grammar = grammar
        self.limit = limit
        # (text before the cursor, source) of the last lookup that found the cache empty:
        # when that source arrives the shell completes again.
        self.waiting: tuple[str, str] | None = None

    def get_completions(self, document: Document, complete_event: CompleteEvent) -> Iterator[Completion]:
        try:
            completions = self.complete(document.text_before_cursor)
        except Exception:  # a completer bug must never reach the operator
            log.debug("completion failed", exc_info=True)
            return
        yield from completions

    def complete(self, text: str) -> list[Completion]:
        self.waiting = None
        position = locate(text, self.grammar)
        state = position.state
        if state.comment or (state.words and state.words[-1] == "?"):
            return []
        replace = -len(state.current_raw)
        out: list[Completion] = []
        current = state.current.lower()
        for word in sorted(position.next_words):
            if word.startswith(current):
                exact, rest = position.next_words[word]
                meta = exact.description if exact is not None else ", ".join(sorted(rest))
                out.append(Completion(word + " ", replace, display=word, display_meta=_short(meta)))
        if position.command is not None and not position.help_topic:
            out.extend(self._argument(position, text, replace))
        return out[: self.limit]

    # ------------------------------------------------------------ arguments

    def _argument(self, position: Position, text: str, replace: int) -> list[Completion]:
        command = position.command
        assert command is not None
        index = position.arg_index
        if index >= len(command.args):
            return []
        arg = command.args[index]
        current = position.state.current
        if arg.kind is Kind.REST:
            return []
        if arg.kind in (Kind.INT_LIST, Kind.TEXT_LIST):
            return self._list_item(arg, current, replace, text, position)
        out: list[Completion] = []
        fixed: list[tuple[str, str]] = []
        if arg.kind is Kind.CHOICE:
            fixed = [(choice, arg.label) for choice in arg.choices]
        elif arg.kind is Kind.BOOL:
            fixed = [("true", arg.label), ("false", arg.label)]
        elif arg.kind is Kind.INT_OR_NULL:
            fixed = [("null", "none")]
        for value, meta in fixed:
            if value.lower().startswith(current.lower()):
                out.append(Completion(value + " ", replace, display=value, display_meta=meta))
        if arg.complete and self.live is not None:
            for value, meta in self._live(arg, position, current, text):
                out.append(Completion(_quoted(value) + " ", replace, display=value, display_meta=_short(meta)))
        return out

    def _list_item(self, arg: Arg, current: str, replace: int, text: str, position: Position) -> list[Completion]:
        head, _, partial = current.rpartition(",")
        head = head + "," if head or current.startswith(",") else ""
        out: list[Completion] = []
        if not head and "null".startswith(partial.lower()):
            out.append(Completion("null ", replace, display="null", display_meta="empty the list"))
        if arg.complete and self.live is not None:
            listed = set(head.split(","))
            for value, meta in self._live(arg, position, partial, text, skip=listed):
                out.append(Completion(_quoted(head + value), replace, display=value, display_meta=_short(meta)))
        return out

    def _live(self, arg: Arg, position: Position, current: str, text: str,
              skip: set[str] | frozenset[str] = frozenset()) -> list[tuple[str, str]]:
        assert self.live is not None
        names = self.live.names(arg.complete, self._context(position))
        if self.live.loading(arg.complete):  # none or only some of the names yet: show them when they come
            self.waiting = (text, arg.complete)
        if not len(names):
            return []
        limit = self.limit + len(skip)
        found = names.prefixed(current, limit)
        # Words that are not ids or tokens may be part of a name: `delete token acme` offers
        # the tokens described "acme ...".
        if len(current) >= 2 and len(found) < limit and not (names.numeric and current.isdigit()):
            found += names.described(current, limit - len(found), skip_prefix=current)
        return [item for item in found if item[0] not in skip][: self.limit]

    @staticmethod
    def _context(position: Position) -> str:
        """The token typed earlier on the line, for sources that depend on it."""
        command = position.command
        assert command is not None
        for arg, word in zip(command.args, position.arg_words):
            if arg.complete in ("tokens", "tokens_and_feids"):
                return word
        return ""


# ============================================================================
# The toolbar: what the command at the cursor expects.


def usage_hint(text: str, live: LiveNames | None = None, grammar: Grammar = GRAMMAR) -> list[tuple[str, str]]:
    """Formatted text for the bottom toolbar: the usage of the command being typed,
    its current argument highlighted and what it accepts."""
    if not text.strip():
        return [("class:hint", "Tab completes, Up and Ctrl-R recall history, 'help' lists the commands, "
                               "Ctrl-D leaves.")]
    position = locate(text, grammar)
    state = position.state
    command = position.command
    if state.comment:
        return []
    if command is None or position.help_topic:
        if not position.next_words and state.words:
            return [("class:hint.error", f"Unknown command: {' '.join(state.words[:3])!r}")]
        if command is None and not any(w.startswith(state.current.lower()) for w in position.next_words):
            return [("class:hint.error", f"Unknown command: {' '.join([*state.words, state.current][:3])!r}")]
        return []
    index = position.arg_index
    # Typing past the last argument (a longer command's word is not an argument).
    extra = (index > len(command.args) or (index == len(command.args) and state.current)) \
        and not (command.args and command.args[-1].kind is Kind.REST) \
        and not any(w.startswith(state.current.lower()) for w in position.next_words)
    if not command.args:
        if extra:
            return [("class:hint.error", f"'{command.name}' takes no arguments")]
        return [("class:hint", f"{command.name}: {command.description}")]
    parts: list[tuple[str, str]] = [("class:hint", command.name)]
    for i, arg in enumerate(command.args):
        label = f"[{arg.label}]" if arg.optional else f"{{{arg.label}}}"
        parts.append(("class:hint", " "))
        parts.append(("class:hint.current" if i == index else "class:hint", label))
    if extra:
        parts.append(("class:hint.error", "   too many arguments"))
    elif 0 <= index < len(command.args):
        arg = command.args[min(index, len(command.args) - 1)]
        allowed = arg.allowed()
        if arg.complete in SOURCE_NAMES:
            allowed = f"Tab lists the {SOURCE_NAMES[arg.complete]}"
            if arg.kind in (Kind.INT_LIST, Kind.TEXT_LIST):
                allowed += ", comma-separated, or null"
            elif arg.kind is Kind.INT_OR_NULL:
                allowed += ", or null"
        parts.append(("class:hint", f"   {arg.label}: {allowed}"))
        if live is not None and arg.complete:
            if live.unreachable:
                parts.append(("class:hint.error", "  (SDAManager unreachable)"))
            elif live.loading(arg.complete):
                parts.append(("class:hint", "  (fetching...)"))
    return parts
