"""The interactive shell: the `>` prompt around Executor.execute_line."""

from __future__ import annotations

import sys
from collections.abc import Iterable

from prompt_toolkit import PromptSession
from prompt_toolkit.completion import CompleteEvent, Completer, Completion
from prompt_toolkit.document import Document

from . import __version__
from .commands import GRAMMAR
from .errors import EXIT_OK
from .executor import Executor
from .grammar import Kind, split_line
from .transport import Connection


def banner(connection: Connection) -> str:
    return (f"SDAManager's Client. Connect to {connection.address}\n"
            f"moreh_smclient {__version__} (open re-implementation). Type 'help' for the commands.")


class CommandCompleter(Completer):
    """Command words and fixed argument choices, from the command table."""

    def get_completions(self, document: Document, complete_event: CompleteEvent) -> Iterable[Completion]:
        text = document.text_before_cursor
        try:
            words = split_line(text)
        except Exception:
            return
        current = "" if not text or text[-1].isspace() else (words.pop() if words else "")
        lowered = [w.lower() for w in words]
        found = GRAMMAR.match(words)
        suggestions: dict[str, str] = {}
        for command in GRAMMAR.starting_with(lowered):
            if command.hidden:
                continue
            if len(command.words) > len(words):
                suggestions.setdefault(command.words[len(words)], command.description)
        if found is not None and found[1] == len(words) or found is not None and not suggestions:
            command, used = found
            position = len(words) - used
            if position < len(command.args):
                arg = command.args[position]
                choices: tuple[str, ...] = arg.choices
                if arg.kind is Kind.BOOL:
                    choices = ("true", "false")
                for choice in choices:
                    suggestions.setdefault(choice, arg.label)
        for word, meta in sorted(suggestions.items()):
            if word.lower().startswith(current.lower()):
                yield Completion(word, start_position=-len(current), display_meta=meta)


def run_repl(connection: Connection) -> int:
    executor = Executor(connection)
    print(banner(connection))
    session: PromptSession[str] = PromptSession(completer=CommandCompleter(), complete_while_typing=False)
    while True:
        try:
            line = session.prompt(">")
        except KeyboardInterrupt:
            continue  # Ctrl-C clears the line
        except EOFError:
            return EXIT_OK  # Ctrl-D
        for part in line.splitlines() or [""]:
            outcome = executor.execute_line(part)
            if outcome.output:
                print(outcome.output)
            if outcome.error:
                print(outcome.error, file=sys.stderr)
            if outcome.clear:
                session.app.renderer.clear()
            if outcome.exit:
                return EXIT_OK
