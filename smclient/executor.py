"""One execution path for every mode: a line in, an Outcome out.

The REPL, `--command` and the tests all call `Executor.execute_line`; they
differ only in where lines come from and where the outcome is printed.
"""

from __future__ import annotations

import logging
from typing import NamedTuple

from .commands import GRAMMAR
from .errors import EXIT_OK, EXIT_REFUSED, ServerError, SmclientError, UsageError
from .grammar import Invocation
from .render import render
from .results import Clear, Exit, Note
from .transport import Connection

log = logging.getLogger(__name__)


class Outcome(NamedTuple):
    output: str = ""  # for stdout ("" prints nothing)
    error: str = ""  # one line for stderr
    status: int = EXIT_OK
    exit: bool = False  # the operator asked to leave
    clear: bool = False  # the operator asked to clear the screen


class Executor:
    def __init__(self, connection: Connection) -> None:
        self.connection = connection

    def execute_line(self, line: str) -> Outcome:
        try:
            if not line.isascii() and _has_surrogates(line):
                # Bytes that are not UTF-8 reach us as lone surrogates (from argv or stdin).
                raise UsageError("The line has bytes that are not valid UTF-8.")
            parsed = GRAMMAR.parse(line)
            if parsed is None:
                return Outcome()
            if isinstance(parsed, Invocation):
                return self._run(parsed)
            return Outcome(output=render(parsed))  # `COMMAND ?`
        except SmclientError as err:
            return Outcome(error=str(err), status=err.exit_status)
        except Exception as err:  # a bug must not end the session or print a traceback
            log.debug("internal error", exc_info=True)
            return Outcome(error=f"Internal error: {type(err).__name__}: {err}", status=EXIT_REFUSED)

    def _run(self, invocation: Invocation) -> Outcome:
        command = invocation.command
        try:
            result = command.handler(self.connection, invocation.args)
        except ServerError as err:
            return Outcome(error=f"{command.message_title} failed. ({err.reason})", status=err.exit_status)
        if result is None:
            return Outcome(output=f"{command.message_title} success.")
        if isinstance(result, Note):
            return Outcome(output=f"{command.message_title} success.\n{result.text}")
        return Outcome(output=render(result), exit=isinstance(result, Exit), clear=isinstance(result, Clear))


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
