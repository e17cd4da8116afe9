"""How a command line is read: typed arguments, command specs, the parser.

The command table (commands.py) is a list of `Command`s built from these
pieces; parsing, `help`, `COMMAND ?`, argument checks, usage lines and
completion all walk that one table.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Callable, Iterable, Sequence
from enum import Enum
from types import SimpleNamespace
from typing import Any, NamedTuple

from .errors import UsageError
from .results import HelpEntry, HelpListing, Table


class Kind(Enum):
    TEXT = "text"  # one word (quote it for spaces)
    REST = "rest"  # the rest of the line, words joined by one space
    INT = "int"
    NUMBER = "number"  # a decimal number such as 0.5 (seconds)
    INT_OR_NULL = "int or null"  # an id, or null for none
    CHOICE = "choice"  # one of `choices`, case-insensitive, returned upper-case
    BOOL = "bool"  # true|false
    INT_LIST = "int list"  # 1,2,3 or null
    TEXT_LIST = "text list"  # a,b,c or null
    COMMAND = "command words"  # the rest of the line, word by word: the words of commands (help's topic)


NULL = "null"
_INT = re.compile(r"[-+]?[0-9]+")
_NUMBER = re.compile(r"[0-9]+(\.[0-9]*)?|\.[0-9]+")


def is_int(text: str) -> bool:
    """A decimal integer in ASCII digits (int() would also take '1_0' and other scripts' digits)."""
    return _INT.fullmatch(text) is not None


class Arg(NamedTuple):
    """One argument of a command, in the order of its usage line."""

    label: str  # how the usage line and error messages name it
    kind: Kind = Kind.TEXT
    optional: bool = False
    low: float | None = None
    high: float | None = None
    choices: tuple[str, ...] = ()
    complete: str = ""  # live completion source: tokens, feids, backends, ...
    key: str = ""  # attribute name for the handler; default: from the label
    form: str = ""  # how a text value is written (YYYY-MM-DD), for the usage line
    named: tuple[tuple[str, int], ...] = ()  # words an INT may be given as, as tables show it ("off", 1)

    @property
    def takes_rest(self) -> bool:
        return self.kind in (Kind.REST, Kind.COMMAND)

    @property
    def name(self) -> str:
        return self.key or self.label.lower().replace(" ", "_").replace("'", "")

    def fits(self, word: str) -> bool:
        """The word has this argument's form (its range aside): how an optional
        argument that may be left out is told from what follows it."""
        if self.kind is Kind.NUMBER:
            return _NUMBER.fullmatch(word) is not None
        if self.kind is Kind.INT:
            return is_int(word)
        return True

    def allowed(self) -> str:
        """What values are allowed, for error messages and completion hints."""
        if self.kind is Kind.NUMBER:
            return f"a number from {self.low:g} to {self.high:g}"
        if self.kind is Kind.INT_OR_NULL:
            return "an id or null"
        if self.kind is Kind.INT and self.named:
            return Arg(self.label, Kind.INT, low=self.low, high=self.high).allowed() + ", " + \
                " or ".join(word for word, _ in self.named)
        if self.kind is Kind.INT:
            if self.low is not None and self.high is not None:
                return f"an integer from {self.low} to {self.high}"
            if self.low is not None:
                return f"an integer of at least {self.low}"
            return "an integer"
        if self.kind is Kind.CHOICE:
            return " | ".join(self.choices)
        if self.kind is Kind.BOOL:
            return "true | false"
        if self.kind is Kind.INT_LIST:
            return "ids separated by commas (1,2,3) or null"
        if self.kind is Kind.TEXT_LIST:
            return "values separated by commas (a,b,c) or null"
        return "text"

    def usage(self) -> str:
        """The argument as the original's usage lines write it: `{label [shape] : optional}`."""
        shape = self._shape()
        text = f"{self.label} [{shape}]" if shape else self.label
        return "{" + text + (" : optional" if self.optional else "") + "}"

    def _shape(self) -> str:
        kind = self.kind
        if kind is Kind.CHOICE:
            return "|".join(self.choices)
        if kind is Kind.BOOL:
            return "true|false"
        if kind is Kind.INT_OR_NULL:
            return "id | null"
        if kind in (Kind.INT_LIST, Kind.TEXT_LIST):
            item = self.label.removesuffix(" list") + (" id" if kind is Kind.INT_LIST else "")
            # The original shows three items for a list that may be left out, and two
            # and null for one that must be given (null empties it).
            if self.optional:
                return f"{item} 1,{item} 2,{item} 3,..."
            return f"{item} 1,{item} 2,... | null"
        return self.form

    def parse(self, text: str) -> Any:
        kind = self.kind
        if kind in (Kind.TEXT, Kind.REST):
            return text
        if kind is Kind.NUMBER:
            assert self.low is not None and self.high is not None  # (a NUMBER argument has its range)
            if not self.fits(text) or not self.low <= float(text) <= self.high:
                raise UsageError(f"Invalid {self.label} {shown(text)}: expected {self.allowed()}.")
            return float(text)
        if kind is Kind.INT:
            named = dict(self.named).get(text.lower())
            return named if named is not None else self._int(text)
        if kind is Kind.INT_OR_NULL:
            return None if text.lower() == NULL else self._int(text)
        if kind is Kind.CHOICE:
            # Any case; returned as the choice is written (SHUTDOWN, auto).
            upper = text.upper() if text.isascii() else text
            for choice in self.choices:
                if choice.upper() == upper:
                    return choice
            raise UsageError(f"Invalid {self.label} {shown(text)}: expected {self.allowed()}.")
        if kind is Kind.BOOL:
            lower = text.lower()
            if lower not in ("true", "false"):
                raise UsageError(f"Invalid {self.label} {shown(text)}: expected true or false.")
            return lower == "true"
        if text.lower() == NULL:
            return []
        items = text.split(",")
        if any(not item for item in items):
            raise UsageError(f"Invalid {self.label} {shown(text)}: expected {self.allowed()}, without spaces.")
        if kind is Kind.INT_LIST:
            return [self._int(item, in_list=True) for item in items]
        return items

    def _int(self, text: str, in_list: bool = False) -> int:
        if not is_int(text):
            if in_list:
                raise UsageError(f"Invalid id {shown(text)} in {self.label}: expected a number.")
            raise UsageError(f"Invalid {self.label} {shown(text)}: expected {self.allowed()}.")
        value = int(text)
        if abs(value) >= 2**63:
            raise UsageError(f"Invalid {self.label} {shown(text)}: the number is too large.")
        if (self.low is not None and value < self.low) or (self.high is not None and value > self.high):
            raise UsageError(f"Invalid {self.label} {shown(text)}: expected {self.allowed()}.")
        return value


# Plain named tuples rather than dataclasses: the table is built on every
# start of a one-shot command, and tuples are much cheaper to define and make.

# Binds the words after the command's own words to argument values; the
# default binds them in order.  A few commands accept two argument orders
# (the guide's and the manual's) and bind with a function of their own.
Binder = Callable[["Command", list[str]], dict[str, Any]]


class Command(NamedTuple):
    words: tuple[str, ...]
    description: str  # the help listing's description
    args: tuple[Arg, ...]
    handler: Callable[..., Any]  # (connection, bound arguments) -> a result (results.py)
    title: str | None = None  # base of "<title> success." / "<title> failed. (...)"
    hidden: bool = False  # the guide's variants, not in the original's listing
    own: bool = False  # this shell's addition: listed after the original's commands
    binder: Binder | None = None
    aliases: tuple[str, ...] = ()  # other names; the listing has a line for each
    # The listing's usage where the original's words are not derived from the
    # arguments ("" for none); an override equal to the derived usage is an error.
    usage_override: str | None = None
    # Lines the original's listing shows between the description and the usage, exactly as
    # it prints them (the manual's stray second usage line under `delete usergroup`).
    verbatim: tuple[str, ...] = ()
    # A listing: () -> an empty table of the listing's columns (a record's names),
    # what `where FIELD ...` may name (filters.py); None: the command takes no filter.
    shape: Callable[[], Table] | None = None
    newest: bool = False  # a log: `limit N` keeps the newest N rows, the last ones
    # A bulk change: (connection, bound arguments) -> what it will touch, as a question
    # the interactive shell asks first (None: it touches at most one thing, no question).
    confirm: Callable[..., str | None] | None = None

    @property
    def required(self) -> int:
        """How many arguments must be given."""
        return sum(1 for a in self.args if not a.optional)

    @property
    def name(self) -> str:
        return " ".join(self.words)

    @property
    def names(self) -> tuple[str, ...]:
        return (self.name, *self.aliases)

    @property
    def usage(self) -> str | None:
        """The listing's usage, without "(usages : ...)"; None when it shows none."""
        if self.usage_override is not None:
            return self.usage_override or None
        return self.derived_usage()

    def derived_usage(self) -> str | None:
        if not self.args:
            return None
        return " ".join([self.name, *(arg.usage() for arg in self.args)])

    @property
    def message_title(self) -> str:
        if self.title:
            return self.title
        text = self.description
        cut = text.find(" (")
        return text[:cut] if cut > 0 else text

    def bind(self, words: list[str]) -> SimpleNamespace:
        values = self.binder(self, words) if self.binder else bind_in_order(self, self.args, words)
        return SimpleNamespace(**values)

    def usage_error(self, detail: str = "Invalid arguments.") -> UsageError:
        if self.usage:
            return UsageError(f"{detail} (usages : {self.usage})")
        return UsageError(f"{detail} '{self.name}' takes no arguments.")


def bind_in_order(command: Command, args: Sequence[Arg], words: list[str]) -> dict[str, Any]:
    required = sum(1 for a in args if not a.optional)
    rest = bool(args) and args[-1].takes_rest
    if len(words) < required or (len(words) > len(args) and not rest):
        raise command.usage_error()
    values: dict[str, Any] = {a.name: None for a in args}
    for i, arg in enumerate(args):
        if i >= len(words):
            break
        if arg.kind is Kind.COMMAND:
            values[arg.name] = tuple(words[i:])
        else:
            # The rest of the line is re-quoted, so `sh -c "echo a b"` keeps its meaning.
            text = shlex.join(words[i:]) if arg.kind is Kind.REST else words[i]
            values[arg.name] = arg.parse(text)
    return values


# ---------------------------------------------------------------- the line


# One piece of a line at a time: a run of plain characters, a quoted string,
# an escaped character, blanks (shlex's: space, tab, CR, LF), a '#', or a
# quote or backslash with nothing to pair.
_PIECE = re.compile(r"""([^ \t\r\n'"\\#]+)|'([^']*)'|"((?:[^"\\]|\\.)*)"|\\(.)|([ \t\r\n]+)|(#)|(.)""", re.S)
_IN_DOUBLE_QUOTES = re.compile(r'\\([\\"])')


def split_line(line: str) -> list[str]:
    """Shell-style words (POSIX quoting, as `shlex.split`); a word that starts with
    an unquoted `#` begins a comment (the guide's examples carry comments such
    as `add membership 1 1   # ...`).  Linear in the line's length."""
    words: list[str] = []
    word: list[str] = []
    started = False  # quotes make a word even when empty: ''
    for match in _PIECE.finditer(line):
        plain, single, double, escaped, blank, hash_, stray = match.groups()
        if blank is not None:
            if started:
                words.append("".join(word))
                word, started = [], False
        elif hash_ is not None:
            if not started:
                break  # the rest of the line is a comment
            word.append("#")
        elif stray is not None:
            # An unclosed double quote whose text ends in a lone backslash ends, for
            # shlex as here, on that backslash's missing character.
            lone = stray == "\\" or (stray == '"' and (len(line) - len(line.rstrip("\\"))) % 2 == 1)
            problem = "No escaped character" if lone else "No closing quotation"
            raise UsageError(f"Cannot read the line: {problem} (close the quote).")
        else:
            if plain is not None:
                word.append(plain)
            elif single is not None:
                word.append(single)
            elif double is not None:
                word.append(_IN_DOUBLE_QUOTES.sub(r"\1", double))
            else:
                word.append(escaped)
            started = True
    if started:
        words.append("".join(word))
    return words


class Invocation(NamedTuple):
    command: Command
    args: SimpleNamespace
    clause: tuple[str, ...] = ()  # a listing's `where ... limit N` words (filters.py)


# Words that begin a listing's filter, looked for after its required arguments
# only, so a backend named `where` is still a backend name.
CLAUSE_KEYWORDS = ("where", "limit")


def split_clause(command: Command, words: Sequence[str]) -> tuple[list[str], tuple[str, ...]]:
    """A command's words after its name: (its arguments, a listing's filter clause)."""
    if command.shape is not None:
        for i in range(command.required, len(words)):
            if words[i].lower() in CLAUSE_KEYWORDS:
                return list(words[:i]), tuple(words[i:])
    return list(words), ()


class Topic(NamedTuple):
    """A command under one of its names: the help listing has a line for each."""

    name: str
    command: Command

    def entry(self) -> HelpEntry:
        return HelpEntry(self.name, self.command.description, self.command.usage, self.command.verbatim)


class Grammar:
    """Finds a line's command by its longest matching words and binds the rest."""

    def __init__(self, commands: Iterable[Command]) -> None:
        self.commands: list[Command] = list(commands)
        # Every name of every command (aliases too), by its lower-case words.
        self.by_words: dict[tuple[str, ...], Topic] = {}
        for command in self.commands:
            for name in command.names:
                key = tuple(name.lower().split())
                if key in self.by_words:
                    raise ValueError(f"two commands are named {name!r}")
                self.by_words[key] = Topic(name, command)
        self._longest = max(len(k) for k in self.by_words)

    def match(self, words: Sequence[str]) -> tuple[Command, int] | None:
        found = self._topic(words)
        return (found[0].command, found[1]) if found else None

    def _topic(self, words: Sequence[str]) -> tuple[Topic, int] | None:
        lowered = tuple(w.lower() for w in words[: self._longest])
        for n in range(len(lowered), 0, -1):
            topic = self.by_words.get(lowered[:n])
            if topic is not None:
                return topic, n
        return None

    def help(self, words: Sequence[str] = ()) -> HelpListing:
        """What `help WORDS` and `WORDS ?` print: the command the words name (its
        arguments may follow them), else every listed command whose name starts
        with them; no words, the whole listing."""
        found = self._topic(words) if words else None
        if found:  # `create sda ?`, also `create sda TOKEN ?`
            return HelpListing((found[0].entry(),))
        prefix = tuple(w.lower() for w in words)
        topics = sorted((t for key, t in self.by_words.items() if key[: len(prefix)] == prefix
                         and not t.command.hidden), key=lambda t: t.name)
        if not topics:
            raise unknown_command(words)
        return HelpListing(tuple(t.entry() for t in topics if not t.command.own),
                           tuple(t.entry() for t in topics if t.command.own))

    def _incomplete(self, words: Sequence[str]) -> UsageError | None:
        """`show` alone: the words begin commands but name none; say how they go on."""
        prefix = tuple(w.lower() for w in words)
        following = sorted({key[len(prefix)] for key, topic in self.by_words.items()
                            if len(key) > len(prefix) and key[: len(prefix)] == prefix
                            and not topic.command.hidden})
        if not following:
            return None
        typed = " ".join(prefix)
        return UsageError(f"Incomplete command: {shown(typed, 60)} goes on with {' | '.join(following)}. "
                          f"Type '{typed} ?' for their usages.")

    def parse(self, line: str) -> Invocation | HelpListing | None:
        """None for a blank line; raises UsageError for anything it cannot run."""
        words = split_line(line)
        if not words:
            return None
        if words[-1] == "?":
            return self.help(words[:-1])
        found = self.match(words)
        if found is None:
            raise self._incomplete(words) or unknown_command(words)
        command, used = found
        arguments, clause = split_clause(command, words[used:])
        return Invocation(command, command.bind(arguments), clause)


def shown(text: str, limit: int = 40) -> str:
    """A word the user typed, quoted for a message: cut when long (a pasted megabyte
    must not come back as a megabyte of error)."""
    return repr(text) if len(text) <= limit else f"{text[:limit]!r}... ({len(text)} characters)"


def unknown_command(words: Sequence[str]) -> UsageError:
    typed = " ".join(words[:3]) + (" ..." if len(words) > 3 else "")
    return UsageError(f"Unknown command: {shown(typed, 60)}. Type 'help' to list the commands.")
