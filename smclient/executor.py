"""One execution path for every mode: a line in, an Outcome out.

The REPL, `--command` and the tests all call `Executor.execute_line`; they
differ only in where lines come from and where the outcome's result is
rendered (`render.render_outcome`).  Nothing here makes text.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any, NamedTuple, TypedDict

from .commands import GRAMMAR
from .errors import EXIT_OK, EXIT_REFUSED, ServerError, SmclientError, UsageError
from .grammar import Invocation
from .results import Changed, Clear, Exit, Failure, Message, Note, SetOption, Success, Watch
from .transport import Connection

log = logging.getLogger(__name__)


class Outcome(NamedTuple):
    result: Any = None  # what the line returned, for the renderer (None: nothing to show)
    status: int = EXIT_OK  # the one-shot exit status (README, "Using the shell against an SDAManager")

    @property
    def exit(self) -> bool:
        """The operator asked to leave."""
        return isinstance(self.result, Exit)

    @property
    def clear(self) -> bool:
        """The operator asked to clear the screen."""
        return isinstance(self.result, Clear)


# The session's options (`set NAME [VALUE]`, and the command line's flags): their
# values, and how the line that says one names it.
OPTIONS = {"output": "Output format", "pager": "Pager", "expanded": "Expanded display", "confirm": "Confirm"}
DEFAULTS = {"output": "table", "pager": "auto", "expanded": "off", "confirm": "on"}


class SessionOptions(TypedDict, total=False):
    """The options an Executor takes besides `output` (its **options)."""

    pager: str
    expanded: str
    confirm: str


Ask = Callable[[str], bool]


class Executor:
    """`interactive`: the lines come from the shell at a terminal, which can run `watch`,
    asks before bulk changes (with `ask`, a question -> yes or no) and says what
    they did.  `options`: the session's options (DEFAULTS; `set` changes them):
    the output format tables are printed in, the pager, the expanded display,
    whether bulk changes ask first."""

    def __init__(self, connection: Connection, interactive: bool = False, output: str = "table",
                 ask: Ask | None = None, **options: str) -> None:
        self.connection = connection
        self.interactive = interactive
        self.ask = ask
        self.options = {**DEFAULTS, **options, "output": output}

    @property
    def output(self) -> str:
        return self.options["output"]

    @output.setter
    def output(self, name: str) -> None:
        self.options["output"] = name

    def execute_line(self, line: str) -> Outcome:
        try:
            if not line.isascii() and _has_surrogates(line):
                # Bytes that are not UTF-8 reach us as lone surrogates (from argv or stdin).
                raise UsageError("The line has bytes that are not valid UTF-8.")
            parsed = GRAMMAR.parse(line)
            if isinstance(parsed, Invocation):
                return self._run(parsed)
            return Outcome(parsed)  # a blank line, or `COMMAND ?`'s listing
        except SmclientError as err:
            return Outcome(Failure(err), err.exit_status)
        except Exception as err:  # a bug must not end the session or print a traceback
            log.debug("internal error", exc_info=True)
            return Outcome(Failure(err), EXIT_REFUSED)

    def _run(self, invocation: Invocation) -> Outcome:
        command, args = invocation.command, invocation.args
        where = None
        if invocation.clause:
            from . import filters

            assert command.shape is not None  # a clause is split off for a listing only (grammar.split_clause)
            # Checked before the call: a misspelt field costs no listing.
            where = filters.parse(invocation.clause, filters.fields(command.shape()), command.name)
        args.where = where  # a handler that can ask SDAManager to filter reads it
        try:
            if self._declined(invocation):
                return Outcome(Message("Nothing was changed."))
            result = command.handler(self.connection, args)
        except ServerError as err:
            return Outcome(Failure(err, command.message_title), err.exit_status)
        if where is not None:
            result = filters.apply(where, result, newest=command.newest)
        if result is None or isinstance(result, Note):
            # A change that worked is told in the command's own words.
            return Outcome(Success(command.message_title, result.text if result else ""))
        if isinstance(result, Changed):
            # What a bulk change did is said at the prompt only, with `confirm` on (off, the
            # prompt is the original's); scripts get the original's words.
            note = result.text if self._confirming and result.many else ""
            return Outcome(Success(command.message_title, note, result.data))
        if isinstance(result, Message) and result.note and not self._confirming:
            return Outcome(result._replace(note=""))
        if isinstance(result, SetOption):
            if result.value is not None:
                from .formats import check

                self.options[result.name] = check(result.value) if result.name == "output" else result.value
            return Outcome(Message(f"{OPTIONS[result.name]}: {self.options[result.name]}"))
        if isinstance(result, Watch) and not self.interactive:
            error = UsageError("watch runs in the interactive shell only (moreh_smclient with no --command, "
                               "at a terminal).")
            return Outcome(Failure(error), error.exit_status)
        return Outcome(result)

    @property
    def _confirming(self) -> bool:
        """Bulk changes ask first and say what they did: at the prompt, unless `set confirm off`."""
        return self.interactive and self.ask is not None and self.options["confirm"] == "on"

    def _declined(self, invocation: Invocation) -> bool:
        """At the prompt, a bulk change says what it will touch and asks first: True when
        the answer was not yes.  Scripts and one-shot commands never ask."""
        confirm = invocation.command.confirm
        if confirm is None or not self._confirming:
            return False
        assert self.ask is not None  # (_confirming: there is one)
        question = confirm(self.connection, invocation.args)
        return question is not None and not self.ask(question)


def _has_surrogates(text: str) -> bool:
    return any("\ud800" <= c <= "\udfff" for c in text)


def split_commands(text: str) -> list[str]:
    """`--command 'a; b'`: split on `;` outside quotes."""
    parts, current, quote = [], [], ""
    escaped = False
    for char in text:
        if escaped:
            current.append(char)
            escaped = False
        elif char == "\\" and quote != "'":
            current.append(char)
            escaped = True
        elif quote:
            current.append(char)
            if char == quote:
                quote = ""
        elif char in "'\"":
            current.append(char)
            quote = char
        elif char == ";":
            parts.append("".join(current))
            current = []
        else:
            current.append(char)
    parts.append("".join(current))
    return [p for p in (part.strip() for part in parts) if p]
