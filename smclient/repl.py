"""The interactive shell: the `>` prompt around Executor.execute_line.

It adds only what a terminal needs: the prompt, history (persistent, Ctrl-R
search, suggestions from it), completion from the command table with live
names from SDAManager, a toolbar with the usage of the command being typed,
and Ctrl-C / Ctrl-D.  Every line goes through the same `execute_line` as
`--command` and piped input.
"""

from __future__ import annotations

import logging
import os
import shutil
import sys
import time
from collections.abc import Callable, Mapping
from typing import Any, TextIO

from prompt_toolkit import PromptSession
from prompt_toolkit.auto_suggest import AutoSuggestFromHistory
from prompt_toolkit.completion import CompleteEvent, Completion, get_common_complete_suffix
from prompt_toolkit.filters import Condition, is_searching
from prompt_toolkit.formatted_text import StyleAndTextTuples
from prompt_toolkit.history import History
from prompt_toolkit.input import Input
from prompt_toolkit.key_binding import KeyBindings, KeyPressEvent
from prompt_toolkit.key_binding.bindings.search import accept_search_and_accept_input
from prompt_toolkit.output import Output
from prompt_toolkit.styles import Style

from .completion import ShellCompleter, usage_hint
from .errors import EXIT_OK, EXIT_REFUSED
from .executor import Executor, Outcome
from .history import ShellHistory, default_path
from .live_names import SOURCE_FEEDS, LiveNames
from .render import banner, render_outcome
from .results import Failure, Watch
from .terminal import Pager, present, watch_screen
from .transport import Connection

log = logging.getLogger(__name__)

PROMPT = ">"
# Background name fetches must not hold a dead connection for long.
COMPLETION_TIMEOUT = 3.0
# Fetched as the shell starts: the names nearly every session completes.
PREFETCH = ("tokens", "models")
# A prompt that fails this many times in a row (a terminal gone) ends the session.
MAX_PROMPT_FAILURES = 3
# Words Tab never inserts alone: they make a command a bulk change (`release all`).
NEVER_ALONE = frozenset({"all"})

STYLE_RULES = {
    "bottom-toolbar": "noreverse",
    "bottom-toolbar.text": "",
    "hint": "fg:ansibrightblack",
    "hint.current": "bold reverse",
    "hint.error": "fg:ansired",
}
# With NO_COLOR the suggestion from history would look like typed text: underlined instead.
NO_COLOR_RULES = {"auto-suggestion": "underline"}


def shell_style(environ: Mapping[str, str] = os.environ) -> Style:
    return Style.from_dict({**STYLE_RULES, **(NO_COLOR_RULES if environ.get("NO_COLOR") else {})})


class Shell:
    """One interactive session.  `input`/`output` are prompt_toolkit's (the terminal when
    None; tests pass a pipe input and a DummyOutput); `stdout`/`stderr` receive the
    commands' output and errors."""

    def __init__(self, connection: Connection, *, input: Input | None = None, output: Output | None = None,
                 history: History | None = None, live: LiveNames | None = None,
                 stdout: TextIO | None = None, stderr: TextIO | None = None, output_format: str = "table",
                 size: Callable[[], tuple[int, int]] | None = None, **options: str) -> None:
        self.connection = connection
        self.stdout = sys.stdout if stdout is None else stdout
        self.stderr = sys.stderr if stderr is None else stderr
        self.executor = Executor(connection, interactive=True, output=output_format, ask=self._ask, **options)
        self.size = size or terminal_size
        self.pager = Pager(self.stdout, self._error, self.size)
        self._history = history
        self.live = live if live is not None else LiveNames(
            connection.clone(timeout=min(connection.timeout, COMPLETION_TIMEOUT)))
        self.live.on_update = self._names_arrived
        self.completer = ShellCompleter(self.live)
        self._input = input
        self._output = output
        self.session: PromptSession[str] | None = None

    # ------------------------------------------------------------ the loop

    def run(self) -> int:
        self._print(banner(self.connection))
        if self._history is None:
            self._history = ShellHistory(default_path(), warn=self._error)
        self.session = self._make_session(self._history)
        self.live.prefetch(*PREFETCH)
        failures = 0
        try:
            while True:
                self.session.app.erase_when_done = False
                try:
                    text = self.session.prompt(PROMPT)
                    failures = 0
                except KeyboardInterrupt:
                    continue  # Ctrl-C clears the line
                except EOFError:
                    return EXIT_OK  # Ctrl-D on an empty line
                except Exception as err:  # the terminal itself failed: say so, and give up if it goes on
                    log.debug("prompt failed", exc_info=True)
                    failures += 1
                    self._error(f"moreh_smclient: the terminal failed: {type(err).__name__}: {err}")
                    if failures >= MAX_PROMPT_FAILURES:
                        return EXIT_REFUSED
                    continue
                if self.run_text(text, echo=self.session.app.erase_when_done):
                    return EXIT_OK
        finally:
            self.live.close()

    def run_text(self, text: str, echo: bool = False) -> bool:
        """Run what was entered, line by line (a paste may hold several); True to leave.
        With `echo`, each line is shown after the prompt before its output, so a
        pasted block reads like a transcript."""
        ran = False
        for line in text.splitlines() or [""]:
            if echo:
                self._print(PROMPT + line)
            ran = ran or bool(line.strip())
            try:
                outcome = self.executor.execute_line(line)
            except KeyboardInterrupt:  # Ctrl-C while a command runs: stop it, and the rest of a paste
                self._error("Interrupted.")
                break
            if isinstance(outcome.result, Watch):
                self._watch(outcome.result)
                continue
            self._show(outcome)
            if outcome.exit:
                return True
        if ran:
            self.live.invalidate()  # the command may have changed names: refetch in the background
        return False

    def _show(self, outcome: Outcome) -> None:
        result, options = outcome.result, self.executor.options
        fmt = options["output"]
        if isinstance(result, Failure):
            self._error(render_outcome(result, fmt)[1])
        elif result is not None:
            try:
                self.pager.write(present(result, fmt, options["expanded"], self.size()[0]), fmt, options["pager"])
            except (BrokenPipeError, ValueError):  # the terminal went away: nothing left to tell
                pass
        if outcome.clear:
            self._clear_screen()

    def _ask(self, question: str) -> bool:
        """A bulk change's question, answered on a prompt of its own: only y or yes goes on."""
        session: PromptSession[str] = PromptSession(input=self._input, output=self._output)
        try:
            answer = session.prompt(question + " [y/N] ")
        except (KeyboardInterrupt, EOFError):
            answer = ""
        return answer.strip().lower() in ("y", "yes")

    def _clear_screen(self) -> None:
        if self.session is not None:
            out = self.session.output
            out.erase_screen()
            out.cursor_goto(0, 0)
            out.flush()

    def _watch(self, watch: Watch) -> None:
        """The command again every `watch.seconds`, counted from the start of the last
        run, so a slow server is never asked twice at once.  Each run's output is
        drawn in place of the last, cut to the screen under a header line, as
        watch(1) does: the screen never scrolls.  Ctrl-C ends it."""
        options = self.executor.options
        self._clear_screen()
        try:
            while True:
                started = time.monotonic()
                columns, lines = self.size()
                result = self.executor.execute_line(watch.line).result
                output, error = render_outcome(present(result, options["output"], options["expanded"], columns),
                                               options["output"])
                header = f"Every {watch.seconds:.1f}s: {watch.line}    {time.strftime('%Y-%m-%d %H:%M:%S')}"
                screen = watch_screen(header, output or error, columns, lines - 1)
                # Drawn over the last one (after the call: it stays while the call runs),
                # each line cleared to its end, then everything below it.
                self._write(CURSOR_HOME + "".join(line + CLEAR_LINE + "\n" for line in screen) + CLEAR_BELOW)
                time.sleep(max(0.0, watch.seconds - (time.monotonic() - started)))
        except KeyboardInterrupt:
            self._print("")

    def _write(self, text: str) -> None:
        try:
            self.stdout.write(text)
            self.stdout.flush()
        except (BrokenPipeError, ValueError):
            pass

    def _print(self, text: str) -> None:
        try:
            print(text, file=self.stdout, flush=True)
        except (BrokenPipeError, ValueError):  # the terminal went away: nothing left to tell
            pass

    def _error(self, text: str) -> None:
        try:
            self.stdout.flush()
            print(text, file=self.stderr, flush=True)
        except (BrokenPipeError, ValueError):
            pass

    # ------------------------------------------------------------ prompt_toolkit

    def _make_session(self, history: History) -> PromptSession[str]:
        return PromptSession(
            message=PROMPT,
            history=history,
            completer=self.completer,
            complete_while_typing=True,
            auto_suggest=AutoSuggestFromHistory(),
            bottom_toolbar=self._toolbar,
            style=shell_style(),
            enable_suspend=True,  # Ctrl-Z suspends, as in any shell (fg resumes at the prompt)
            key_bindings=self._key_bindings(),
            input=self._input,
            output=self._output,
            mouse_support=False,
            reserve_space_for_menu=6,
        )

    def _key_bindings(self) -> KeyBindings:
        bindings = KeyBindings()

        def pasted_lines() -> bool:
            return self.session is not None and "\n" in self.session.default_buffer.text

        @bindings.add("enter", filter=Condition(pasted_lines))
        def _run_pasted(event: KeyPressEvent) -> None:
            # A pasted block of lines: erase it from the screen and show each line
            # with its own output (run_text echoes them).
            event.app.erase_when_done = True
            event.current_buffer.validate_and_handle()

        # Enter in a Ctrl-R search runs the line found, as readline does (prompt_toolkit
        # would only end the search).
        bindings.add("enter", filter=is_searching)(accept_search_and_accept_input)

        @bindings.add("tab", filter=~is_searching)
        def _tab(event: KeyPressEvent) -> None:
            # With a menu for this very text, Tab moves through it (prompt_toolkit's way).
            # Without one (the text came in the same instant as the Tab: a fast typist,
            # a paste), the completion typing started has not finished and would only
            # open the menu: complete now, and insert what is certain, as readline does.
            buffer = event.current_buffer
            if buffer.complete_state is not None:
                if not _never_alone(buffer.complete_state.completions):
                    buffer.complete_next()
                return
            completions = list(self.completer.get_completions(buffer.document,
                                                              CompleteEvent(completion_requested=True)))
            if _never_alone(completions):
                # A bulk change is never made by Tab alone: the menu shows it instead.
                buffer.start_completion(select_first=False)
                return
            if len(completions) == 1:
                buffer.apply_completion(completions[0])
                return
            common = get_common_complete_suffix(buffer.document, completions)
            if common:
                buffer.insert_text(common)
            else:
                buffer.start_completion(select_first=False)

        return bindings

    def _toolbar(self) -> StyleAndTextTuples:
        if self.session is None:
            return []
        try:
            return usage_hint(self.session.default_buffer.document.text_before_cursor, self.live)
        except Exception:  # the toolbar must never break the prompt
            log.debug("toolbar failed", exc_info=True)
            return []

    def _names_arrived(self, feed: str) -> None:
        """Called from the background thread when fresh names came.  If the last
        completion lacked these names because they had not come yet, or offered
        names older than the TTL (other clients may have made more), complete
        again now, unless a candidate has been chosen meanwhile (a Tab is not raced)."""
        session = self.session
        waiting = self.completer.waiting
        if session is None or waiting is None or feed not in SOURCE_FEEDS.get(waiting[1], ()):
            return
        app = session.app
        loop = getattr(app, "loop", None)
        if not app.is_running or loop is None:
            return
        try:
            loop.call_soon_threadsafe(self._recomplete)
        except RuntimeError:  # the loop closed meanwhile
            pass

    def _recomplete(self) -> None:
        session = self.session
        if session is None or not session.app.is_running:
            return
        buffer = session.default_buffer
        waiting, self.completer.waiting = self.completer.waiting, None
        state = buffer.complete_state
        if waiting is not None and waiting[0] == buffer.document.text_before_cursor \
                and (state is None or state.complete_index is None):
            buffer.complete_state = None
            buffer.start_completion(select_first=False)
        session.app.invalidate()


# Drawing `watch` in place: the cursor to the top left, a line cleared to its end,
# the screen cleared below the cursor (VT100, as every terminal speaks it).
CURSOR_HOME, CLEAR_LINE, CLEAR_BELOW = "\x1b[H", "\x1b[K", "\x1b[J"


def _never_alone(completions: list[Completion]) -> bool:
    """The one candidate would make a bulk change (`release all`): Tab does not insert it."""
    return len(completions) == 1 and completions[0].text.strip().lower() in NEVER_ALONE


def terminal_size() -> tuple[int, int]:
    size = shutil.get_terminal_size()
    return size.columns, size.lines


def run_repl(connection: Connection, **options: Any) -> int:
    return Shell(connection, **options).run()
