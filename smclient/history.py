"""The shell's persistent history: one file per user, mode 0600, never fatal.

The file is in prompt_toolkit's FileHistory format (a `# time` line, then the
entry's lines each prefixed by `+`), so it stays readable by other tools.
Differences from FileHistory, for an operator's shell:

- `$SMCLIENT_HISTFILE` chooses the file (empty: keep history in memory only);
  the default is `~/.moreh_smclient_history`;
- the file is created 0600 (commands carry customers' tokens) and a looser
  mode on an existing file is tightened;
- a path that cannot be used (read-only HOME in a pod, no HOME at all, a full
  disk) gives one warning and the shell goes on with history in memory;
- each line of a multi-line paste is its own entry, blank lines and an
  immediate repeat are not stored, and only the newest MAX_ENTRIES are loaded.
"""

from __future__ import annotations

import datetime
import os
import sys
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path

from prompt_toolkit.history import History

ENV_VAR = "SMCLIENT_HISTFILE"
DEFAULT_NAME = ".moreh_smclient_history"
MAX_ENTRIES = 10_000
MODE = 0o600


def default_path(env: Mapping[str, str] | None = None) -> Path | None:
    """Where history goes: $SMCLIENT_HISTFILE, else ~/.moreh_smclient_history; None: memory only."""
    env = os.environ if env is None else env
    if ENV_VAR in env:
        chosen = env[ENV_VAR].strip()
        return Path(chosen).expanduser() if chosen else None
    home = env.get("HOME") or os.path.expanduser("~")
    if not home or home == "~":
        return Path(DEFAULT_NAME)  # no home at all: opening it will decide
    return Path(home) / DEFAULT_NAME


def _warn_to_stderr(message: str) -> None:
    print(message, file=sys.stderr)


class ShellHistory(History):
    """History kept in `path` when it can be, in memory when it cannot (one warning)."""

    def __init__(self, path: Path | None, warn: Callable[[str], None] = _warn_to_stderr) -> None:
        super().__init__()
        self.path = path
        self._warn = warn
        self._writable = path is not None
        self._last = ""
        if path is not None:
            self._prepare(path)

    # ------------------------------------------------------------ the file

    def _prepare(self, path: Path) -> None:
        try:
            fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, MODE)
            try:
                if os.fstat(fd).st_mode & 0o077:
                    os.fchmod(fd, MODE)
            finally:
                os.close(fd)
        except OSError as err:
            self._give_up(err)

    def _give_up(self, err: OSError) -> None:
        if self._writable:
            self._writable = False
            reason = err.strerror or str(err)
            self._warn(f"moreh_smclient: history is not saved ({self.path}: {reason}); "
                       f"set {ENV_VAR} to a writable file.")

    def load_history_strings(self) -> Iterable[str]:
        if self.path is None or not self._writable:
            return []
        entries: list[str] = []
        lines: list[str] = []
        try:
            with open(self.path, "rb") as f:
                for raw in f:
                    line = raw.decode("utf-8", errors="replace")
                    if line.startswith("+"):
                        lines.append(line[1:])
                    elif lines:
                        entries.append("".join(lines)[:-1])
                        lines = []
            if lines:
                entries.append("".join(lines)[:-1])
        except OSError as err:
            self._give_up(err)
            return []
        entries = entries[-MAX_ENTRIES:]
        if entries:
            self._last = entries[-1]
        return list(reversed(entries))

    # ------------------------------------------------------------ new entries

    def append_string(self, string: str) -> None:
        # A paste of several lines runs line by line, so it is recalled line by line.
        for line in string.splitlines():
            if not line.strip() or line == self._last:
                continue
            self._last = line
            self._loaded_strings.insert(0, line)
            self.store_string(line)

    def store_string(self, string: str) -> None:
        if self.path is None or not self._writable:
            return
        text = f"\n# {datetime.datetime.now()}\n" + "".join(f"+{line}\n" for line in string.split("\n"))
        try:
            fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, MODE)
            with os.fdopen(fd, "ab") as f:
                f.write(text.encode("utf-8", errors="replace"))
        except OSError as err:
            self._give_up(err)
