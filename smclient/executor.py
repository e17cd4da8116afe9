"""One execution path for every mode: a line in, an Outcome out.

The REPL, `--command` and the tests all call `Executor.execute_line`; they
differ only in where lines come from and where the outcome's result is
rendered (`render.render_outcome`).  Nothing here makes text.
"""

from __future__ import annotations

import logging
from typing import Any, NamedTuple

from .commands import GRAMMAR
from .errors import EXIT_OK, EXIT_REFUSED, ServerError, SmclientError, UsageError
from .grammar import Invocation
from .results import Clear, Exit, Failure, Message, Note, SetOutput, Success, Watch
from .transport import Connection

log = logging.getLogger(__name__)


class Outcome(NamedTuple):
    result: Any = None  # what the line returned, for the renderer (None: nothing to show)
    status: int = EXIT_OK  # the one-shot exit status (SPEC section 5)

    @property
    def exit(self) -> bool:
        """The operator asked to leave."""
        return isinstance(self.result, Exit)

    @property
    def clear(self) -> bool:
        """The operator asked to clear the screen."""
        return isinstance(self.result, Clear)


class Executor:
    """`interactive`: the lines come from the shell at a terminal, which can run `watch`.
    `output`: the format tables are printed in (`set output` changes it)."""

    def __init__(self, connection: Connection, interactive: bool = False, output: str = "table") -> None:
        self.connection = connection
        self.interactive = interactive
        self.output = output

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
        command = invocation.command
        try:
            result = command.handler(self.connection, invocation.args)
        except ServerError as err:
            return Outcome(Failure(err, command.message_title), err.exit_status)
        if result is None or isinstance(result, Note):
            # A change that worked is told in the command's own words.
            return Outcome(Success(command.message_title, result.text if result else ""))
        if isinstance(result, SetOutput):
            if result.name is not None:
                from .formats import check

                self.output = check(result.name)
            return Outcome(Message(f"Output format: {self.output}"))
        if isinstance(result, Watch) and not self.interactive:
            err = UsageError("watch runs in the interactive shell only (moreh_smclient with no --command, "
                             "at a terminal).")
            return Outcome(Failure(err), err.exit_status)
        return Outcome(result)


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
