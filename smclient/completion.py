"""Completion for the interactive shell, derived from the command table.

`ShellCompleter` walks `GRAMMAR` (the command table) for the words before
the cursor: command words, then the argument at that position (its fixed
choices, true/false, null, or its live source from `live_names`), each
candidate with its meaning beside it.  `usage_hint` describes the same
position for the bottom toolbar.

Nothing here lists command names: they all come from the table.
"""

from __future__ import annotations

import logging
import re
import shlex
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from prompt_toolkit.completion import CompleteEvent, Completer, Completion
from prompt_toolkit.document import Document
from prompt_toolkit.formatted_text import StyleAndTextTuples

from . import views
from .commands import GRAMMAR
from .grammar import CLAUSE_KEYWORDS, Arg, Command, Grammar, Kind, split_clause
from .live_names import SOURCE_NAMES, LiveNames

log = logging.getLogger(__name__)

# At most this many candidates per keystroke: a menu of 10,000 tokens is no
# help to anyone, and building it would cost more than a keystroke may.
MAX_CANDIDATES = 200
META_WIDTH = 60


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
    naming_commands: bool = False  # in an argument of command words (help's topic)


def locate(text: str, grammar: Grammar = GRAMMAR) -> Position:
    state = scan(text)
    words = state.words
    next_words = _next_words(grammar, words)
    found = grammar.match(words) if words else None
    if found is None:
        return Position(state, next_words)
    command, used = found
    index, last = len(words) - used, len(command.args) - 1
    if last >= 0 and command.args[last].kind is Kind.COMMAND:
        # The words of a command come after the arguments before them; an
        # optional one among those is there only if the word fits it (watch's seconds).
        start, missing = used, False
        for arg in command.args[:last]:
            if start < len(words) and (not arg.optional or arg.fits(words[start])):
                start += 1
            elif not arg.optional:
                missing = True  # a required argument is still to come
        if not missing:
            # Command words again, continuing those typed in that argument.
            return Position(state, {**next_words, **_next_words(grammar, words[start:])}, command,
                            index, tuple(words[used:]), naming_commands=True)
    return Position(state, next_words, command, index, tuple(words[used:]))


def _next_words(grammar: Grammar, words: Sequence[str]) -> dict[str, tuple[Command | None, list[str]]]:
    """Command words (of aliases too) that can follow `words`: word -> (the command it completes, if any;
    the rest of the longer commands' words)."""
    typed = tuple(w.lower() for w in words)
    n = len(typed)
    found: dict[str, tuple[Command | None, list[str]]] = {}
    for key, topic in grammar.by_words.items():
        command = topic.command
        if command.hidden:
            continue
        if len(key) <= n or key[:n] != typed:
            continue
        word = key[n]
        exact, rest = found.get(word, (None, []))
        if len(key) == n + 1:
            exact = command
        else:
            rest.append(" ".join(key[n + 1:]))
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
        if position.command is not None and not position.naming_commands:
            clause = filter_clause(position)
            if clause is not None:
                return self._clause(position, clause, text, replace)[: self.limit]
            out.extend(self._argument(position, text, replace))
            if position.command.shape is not None and position.arg_index >= position.command.required:
                out.extend(self._keywords(CLAUSE_KEYWORDS, current, replace))
        return out[: self.limit]

    # ------------------------------------------------------------ a listing's filter

    @staticmethod
    def _keywords(words: Sequence[str], current: str, replace: int) -> list[Completion]:
        return [Completion(word + " ", replace, display=word, display_meta=KEYWORD_MEANINGS[word])
                for word in words if word.startswith(current.lower())]

    def _clause(self, position: Position, clause: list[str], text: str, replace: int) -> list[Completion]:
        """In `where FIELD OP VALUE [and ...] [limit N]`: fields, then their values where
        they are known, then `and` / `limit`."""
        command = position.command
        assert command is not None
        current = position.state.current
        keyword = next((w for w in reversed(clause) if w.lower() in (*CLAUSE_KEYWORDS, "and")), "").lower()
        if keyword == "limit":
            return []
        condition = clause[max(i for i, w in enumerate(clause) if w.lower() == keyword) + 1:]
        fields = clause_fields(command)
        if not condition:  # a field, or a whole `field=value` word
            match = FIELD_AND_OP.match(current)
            if match is None:
                return [Completion(name, replace, display=name, display_meta="field")
                        for name in fields if name.startswith(current.lower())]
            head, value = current[: match.end()], current[match.end():]
            return [Completion(_quoted(head + v) + " ", replace, display=v, display_meta=_short(meta))
                    for v, meta in self._values(command, match.group(1).lower(), value, text)]
        first = FIELD_AND_OP.match(condition[0])
        if len(condition) == 1 and first is None:  # `status ` : an operator
            return [Completion(op + " ", replace, display=op, display_meta=meaning)
                    for op, meaning in OPERATOR_MEANINGS.items() if op.startswith(current)]
        if (len(condition) == 2 and condition[1] in OPERATOR_MEANINGS) or \
                (len(condition) == 1 and FIELD_AND_OP.fullmatch(condition[0])):  # `status = ` or `status= `
            name = condition[0].lower() if first is None else first.group(1).lower()
            return [Completion(_quoted(v) + " ", replace, display=v, display_meta=_short(meta))
                    for v, meta in self._values(command, name, current, text)]
        return self._keywords(("and", "limit"), current, replace)

    def _values(self, command: Command, name: str, typed: str, text: str) -> list[tuple[str, str]]:
        """Values of a field that the shell knows: statuses, access levels, live names."""
        fixed = field_choices(command, name)
        if fixed:
            return [(v, name) for v in fixed if v.lower().startswith(typed.lower())]
        source = FIELD_SOURCES.get(name)
        if source is None or self.live is None:
            return []
        arg = Arg(name, complete=source)
        return self._live(arg, Position(scan(""), {}, command), typed, text)

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
        stale = self.live.stale(arg.complete)  # asked before names() queues the refresh
        names = self.live.names(arg.complete, self._context(position))
        if self.live.loading(arg.complete) or stale:
            # None of the names yet, or names older than the TTL (other clients may have made
            # more): these are shown now, and the menu again when the fresh ones come.
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
# A listing's filter: `where FIELD OP VALUE [and ...] [limit N]` (filters.py).

KEYWORD_MEANINGS = {"where": "keep the rows where FIELD OP VALUE", "limit": "keep N rows",
                    "and": "another condition"}
OPERATOR_MEANINGS = {"=": "equals", "!=": "differs", "~": "contains, any case", "<": "less or before",
                     ">": "more or after", "<=": "at most", ">=": "at least"}
FIELD_AND_OP = re.compile(r"([A-Za-z_][A-Za-z0-9_]*)\s*(!=|<=|>=|==|=|~|<|>)")
# Fields whose values are names the shell fetches for completion anyway.
FIELD_SOURCES = {"token": "tokens", "name": "backend_names"}


def filter_clause(position: Position) -> list[str] | None:
    """The words of a listing's filter typed before the cursor (from `where`/`limit`),
    or None when the cursor is not in one."""
    if position.command is None:
        return None
    _, clause = split_clause(position.command, position.arg_words)
    return list(clause) if clause else None


def clause_fields(command: Command) -> list[str]:
    from .filters import fields

    assert command.shape is not None
    return fields(command.shape())


def field_choices(command: Command, name: str) -> list[str]:
    """The values a field can only have (statuses, access levels), for the listing."""
    fields = clause_fields(command)
    if name == "status":
        names = views.BACKEND_STATUS if "devices" in fields else views.JOB_STATUS
        return list(names.values())
    if name == "access_level":
        return list(views.ACCESS_LEVEL.values())
    if name == "devices":
        return list(views.DEVICE_STATUS.values())
    return []


# ============================================================================
# The toolbar: what the command at the cursor expects.


def usage_hint(text: str, live: LiveNames | None = None, grammar: Grammar = GRAMMAR) -> StyleAndTextTuples:
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
    if command is None or position.naming_commands:
        if not position.next_words and state.words:
            return [("class:hint.error", f"Unknown command: {' '.join(state.words[:3])!r}")]
        if command is None and not any(w.startswith(state.current.lower()) for w in position.next_words):
            return [("class:hint.error", f"Unknown command: {' '.join([*state.words, state.current][:3])!r}")]
        return []
    clause = filter_clause(position)
    if clause is not None:
        return [("class:hint", f"{command.name} where FIELD OP VALUE [and ...] [limit N]"),
                ("class:hint", f"   fields: {', '.join(clause_fields(command))}; OP: = != ~ < > <= >=")]
    index = position.arg_index
    # Typing past the last argument (a longer command's word is not an argument).
    extra = (index > len(command.args) or (index == len(command.args) and state.current)) \
        and not (command.args and command.args[-1].takes_rest) \
        and not any(w.startswith(state.current.lower()) for w in position.next_words) \
        and not (command.shape is not None and any(k.startswith(state.current.lower()) for k in CLAUSE_KEYWORDS))
    if not command.args:
        if extra:
            return [("class:hint.error", f"'{command.name}' takes no arguments")]
        return [("class:hint", f"{command.name}: {command.description}")]
    parts: StyleAndTextTuples = [("class:hint", command.name)]
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
            elif live.stale(arg.complete):
                parts.append(("class:hint", "  (refreshing: the list may be partial)"))
    return parts
