"""`moreh_smclient`: the entry point.

`--command` runs lines and exits with the SPEC's status (0 ok, 1 refused,
2 usage, 3 unreachable); otherwise the interactive shell starts.  The REPL
library is imported only for the interactive shell, so one-shot commands
start fast.
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any

from . import __version__
from .errors import EXIT_OK, EXIT_UNREACHABLE, EXIT_USAGE


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="moreh_smclient",
        description="SDAManager's admin shell. Type 'help' at the prompt for the commands.",
    )
    parser.add_argument("--ip", help="SDAManager address (default: $SDAMANAGER_IP, "
                                     "$MOREH_SDA_MANAGER_ADDRESS, else 127.0.0.1)")
    parser.add_argument("--port", help="SDAManager port (default: $SDAMANAGER_PORT, else 30105)")
    parser.add_argument("--command", "-c", metavar="CMD",
                        help="run CMD (several separated by ';') and exit; only their output is printed")
    parser.add_argument("--timeout", type=float, default=None, metavar="SECONDS",
                        help="connect and call timeout in seconds (default 5)")
    parser.add_argument("--tls-ca", metavar="PEM",
                        help="connect with TLS, trusting this CA certificate (default: $SDAMANAGER_TLS_CA)")
    parser.add_argument("--admin-secret-file", metavar="PATH",
                        help="send the admin secret in this file (default: $SDAMANAGER_ADMIN_SECRET_FILE or "
                             "$SDAMANAGER_ADMIN_SECRET); a secret is never given on the command line")
    parser.add_argument("--simulator", action="store_true",
                        help="start an embedded SDAManager simulator with a demo cluster and connect to it")
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    return parser


def main(argv: list[str] | None = None) -> int:
    # gRPC's C core logs TLS failures itself; the shell prints one line of its own.
    os.environ.setdefault("GRPC_VERBOSITY", "NONE")
    parser = build_parser()
    args = parser.parse_args(argv)
    # A terminal or pipe that cannot show some character gets a replacement, not a traceback.
    for stream in (sys.stdout, sys.stderr):
        if hasattr(stream, "reconfigure"):
            stream.reconfigure(errors="replace")

    from .api.address import resolve_address
    from .transport import DEFAULT_TIMEOUT, Connection

    timeout = args.timeout if args.timeout is not None else DEFAULT_TIMEOUT
    if not 0 < timeout <= 3600:
        print(f"moreh_smclient: invalid --timeout {timeout:g}: expected 0 < SECONDS <= 3600", file=sys.stderr)
        return EXIT_USAGE
    from .api.secret import is_loopback, read_secret
    from .credentials import tls_credentials

    try:
        credentials, secret = tls_credentials(args.tls_ca), read_secret(args.admin_secret_file)
    except (OSError, ValueError) as err:
        print(f"moreh_smclient: {err}", file=sys.stderr)
        return EXIT_USAGE
    simulator = None
    try:
        if args.simulator:
            from .embedded import EmbeddedSimulator

            simulator = EmbeddedSimulator()
            address = simulator.address
        else:
            address = resolve_address(args.ip, args.port)
    except ValueError as err:
        print(f"moreh_smclient: {err}", file=sys.stderr)
        return EXIT_USAGE
    except OSError as err:
        print(f"moreh_smclient: cannot start the embedded simulator: {err}", file=sys.stderr)
        return EXIT_UNREACHABLE

    if secret is not None and credentials is None and not is_loopback(address.host):
        print(f"warning: sending the admin secret without TLS to {address}", file=sys.stderr)
    connection = Connection(address, timeout=timeout, credentials=credentials, admin_secret=secret)
    try:
        if args.command is not None:
            return run_commands(connection, args.command)
        if sys.stdin.isatty() and sys.stdout.isatty() and os.environ.get("TERM", "") != "dumb":
            from .repl import run_repl

            return run_repl(connection)
        # Bytes that are not UTF-8 become a usage error for that line, not a traceback.
        sys.stdin.reconfigure(errors="surrogateescape")  # type: ignore[union-attr]
        return run_lines(connection, sys.stdin)
    except KeyboardInterrupt:
        return 130
    finally:
        connection.close()
        if simulator is not None:
            simulator.stop()


def _emit(result: Any, flush: bool = False) -> None:
    from .render import render_chunks, render_outcome
    from .results import Failure

    try:
        if isinstance(result, Failure):
            _, error = render_outcome(result)
            if error:
                sys.stdout.flush()
                sys.stderr.write(error + "\n")
                sys.stderr.flush()
        else:
            # Written piece by piece: a long listing is never held whole as text.
            wrote = False
            for piece in render_chunks(result):
                if piece:
                    sys.stdout.write(piece)
                    wrote = True
            if wrote:
                sys.stdout.write("\n")
        if flush:
            sys.stdout.flush()
    except BrokenPipeError:
        # The reader went away (`... | head -1`): the rest of the output goes nowhere,
        # quietly, and the commands' own exit status stands.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)


def run_commands(connection, text: str) -> int:  # type: ignore[no-untyped-def]
    """One-shot mode: run each `;`-separated command; the status is the last failure's."""
    from .executor import Executor, split_commands

    executor = Executor(connection)
    status = EXIT_OK
    for line in split_commands(text):
        outcome = executor.execute_line(line)
        _emit(outcome.result)
        if outcome.status:
            status = outcome.status
        if outcome.exit or outcome.status == EXIT_UNREACHABLE:
            break
    _emit(None, flush=True)
    return status


def run_lines(connection, stream) -> int:  # type: ignore[no-untyped-def]
    """No terminal (a pipe, kubectl exec without -t, TERM=dumb): read commands line
    by line, print only their output, exit at end of input with the last failure's status."""
    from .executor import Executor

    executor = Executor(connection)
    status = EXIT_OK
    for line in stream:
        outcome = executor.execute_line(line.rstrip("\r\n"))
        # Someone may be typing into the pipe (kubectl exec -i without -t): answer each line now.
        _emit(outcome.result, flush=True)
        if outcome.status:
            status = outcome.status
        if outcome.exit:
            break
    return status
