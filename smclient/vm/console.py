"""What moreh-smi and moreh-switch-model share: the connection options, the token,
reading a selection at a prompt, and turning errors into one line and the shell's
exit statuses (0 ok, 1 refused, 2 usage, 3 unreachable; README, "The customer's side")."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable
from typing import Any, NoReturn

from ..errors import EXIT_REFUSED, EXIT_UNREACHABLE, EXIT_USAGE, ServerError, Unreachable, UsageError
from ..sanitize import clean

TOKEN_ENV = "MOREH_SDA_TOKEN"
INTERRUPTED = 130


class Parser(argparse.ArgumentParser):
    """argparse whose mistakes are one line (a UsageError), not usage plus a message."""

    def error(self, message: str) -> NoReturn:
        from ..sanitize import visible

        raise UsageError(f"{visible(message)} (see {self.prog} --help)")


def add_connection_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--ip", help="SDAManager address (default: $SDAMANAGER_IP, else the host of "
                                     "$MOREH_SDA_MANAGER_ADDRESS=host[:port], else 127.0.0.1)")
    parser.add_argument("--port", help="SDAManager port (default: $SDAMANAGER_PORT, else the port of "
                                       "$MOREH_SDA_MANAGER_ADDRESS, else 30105)")
    parser.add_argument("--timeout", type=float, default=None, metavar="SECONDS",
                        help="connect and call timeout in seconds (default 5)")
    parser.add_argument("--tls-ca", metavar="PEM",
                        help="connect with TLS, trusting this CA certificate (default: $SDAMANAGER_TLS_CA)")


def connect(args: argparse.Namespace, token: str | None, token_option: str = "--token TOKEN") -> Any:
    """A VmClient for the options in `args` and the token (`token`, else $MOREH_SDA_TOKEN).
    The connection never carries the admin secret, whatever the environment holds."""
    from ..api.address import resolve_address
    from ..credentials import tls_credentials
    from ..transport import DEFAULT_TIMEOUT, Connection
    from .client import VmClient

    token = (token if token is not None else os.environ.get(TOKEN_ENV, "")).strip()
    if not token:
        raise UsageError(f"no token: give {token_option} or set {TOKEN_ENV}")
    timeout = args.timeout if args.timeout is not None else DEFAULT_TIMEOUT
    if not 0 < timeout <= 3600:
        raise UsageError(f"invalid --timeout {timeout:g}: expected 0 < SECONDS <= 3600")
    try:
        address = resolve_address(args.ip, args.port)
        credentials = tls_credentials(args.tls_ca)
    except (OSError, ValueError) as err:
        raise UsageError(str(err)) from None
    return VmClient(Connection(address, timeout=timeout, credentials=credentials), token)


class OutputFailed(Exception):
    """Standard output cannot be written (a full disk, a closed file)."""


class Console:
    """Lines out (stdout; refusals on stderr) and selections in (stdin: a terminal or a pipe)."""

    def __init__(self) -> None:
        self.gone = False  # the reader of stdout went away: the rest goes nowhere

    def say(self, *lines: str) -> None:
        self._write("".join(line + "\n" for line in lines))

    def warn(self, line: str) -> None:
        self.flush()
        try:
            sys.stderr.write(line + "\n")
            sys.stderr.flush()
        except OSError:
            pass  # nowhere left to say it

    def flush(self) -> None:
        self._write("", flush=True)

    def _write(self, text: str, flush: bool = False) -> None:
        if self.gone:
            return
        try:
            if text:
                sys.stdout.write(text)
            if flush:
                sys.stdout.flush()
        except BrokenPipeError:
            # `moreh-smi | head -1`: quietly, and the tool's own exit status stands.
            self.gone = True
            from ..cli import _silence_stdout

            _silence_stdout()
        except OSError as err:
            self.gone = True
            raise OutputFailed(f"cannot write the output: {err.strerror or err}") from None

    def ask(self, prompt: str) -> str | None:
        """The line typed at `prompt` (stripped), or None at end of input.  From a pipe the
        line is echoed after the prompt, so the output reads as a terminal session does."""
        self._write(prompt, flush=True)
        line = sys.stdin.readline()
        if not line:
            self.say("")
            return None
        answer = line.rstrip("\r\n")
        if not sys.stdin.isatty():
            self.say(clean(answer))
        return answer.strip()

    def select(self, prompt: str, first: int, last: int) -> int | None:
        """A number in first..last typed at `prompt` (asked again until it is one);
        None for q, Q or the end of input."""
        while True:
            answer = self.ask(prompt)
            if answer is None or answer in ("q", "Q"):
                return None
            if not answer:
                continue
            if answer.isascii() and answer.isdigit() and first <= int(answer) <= last:
                return int(answer)
            shown = clean(answer if len(answer) <= 40 else answer[:40] + "...")
            self.warn(f"Invalid selection '{shown}': enter {first}-{last}, q or Q.")


def menu_entry(choices: Any, text: str, what: str, allowed: str) -> Any:
    """The model menu's entry numbered `text` (1-based), or a UsageError saying what is
    allowed (`allowed` formatted with the count: device --add 14 is
    "no model 14: choose 1-13 (moreh-smi device --list)")."""
    count = len(choices.choices)
    if not (text.isascii() and text.isdigit()) or not 1 <= int(text) <= count:
        known = allowed.format(count=count) if count else "the token may use no SDA model"
        raise UsageError(f"no {what} {clean(text)}: {known}")
    return choices.choices[int(text) - 1]


def failed(title: str, err: ServerError) -> str:
    """`Create device failed. (<SDAManager's reason>)`, as the shell says a refusal."""
    return f"{title} failed. ({clean(err.reason)})"


def run(tool: str, body: Callable[[Console], int]) -> int:
    """Run a tool's `body`; whatever goes wrong is one line and an exit status, never a traceback."""
    # gRPC's C core logs connection failures itself; the tool prints one line of its own.
    os.environ.setdefault("GRPC_VERBOSITY", "NONE")
    for stream in (sys.stdout, sys.stderr):
        if hasattr(stream, "reconfigure"):  # a terminal that cannot show a character gets a replacement
            stream.reconfigure(errors="replace")
    if hasattr(sys.stdin, "reconfigure"):  # bytes that are not UTF-8 are an invalid selection, not a traceback
        sys.stdin.reconfigure(errors="surrogateescape")
    console = Console()
    try:
        status = body(console)
        console.flush()
        return status
    except UsageError as err:
        console.warn(f"{tool}: {err}")
        return EXIT_USAGE
    except Unreachable as err:
        console.warn(str(err))
        return EXIT_UNREACHABLE
    except ServerError as err:
        console.warn(clean(err.reason))
        return EXIT_REFUSED
    except OutputFailed as err:
        console.warn(f"{tool}: {err}")
        return EXIT_REFUSED
    except KeyboardInterrupt:
        if not console.gone:
            console.say("")
        return INTERRUPTED
