"""The shell's errors; each knows its one-shot exit status (README, "Using the shell against an SDAManager")."""

from __future__ import annotations

EXIT_OK = 0
EXIT_REFUSED = 1
EXIT_USAGE = 2
EXIT_UNREACHABLE = 3


class SmclientError(Exception):
    """An error shown to the operator as one line; never a traceback."""

    exit_status = EXIT_REFUSED


class UsageError(SmclientError):
    """Unknown command, wrong arguments or a value of the wrong type."""

    exit_status = EXIT_USAGE


class ServerError(SmclientError):
    """SDAManager refused or failed the request; the message is its reason."""

    exit_status = EXIT_REFUSED

    def __init__(self, reason: str, code: str = "") -> None:
        super().__init__(reason)
        self.reason = reason
        self.code = code


class Unreachable(SmclientError):
    """SDAManager cannot be reached, or did not answer in time."""

    exit_status = EXIT_UNREACHABLE
