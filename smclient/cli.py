"""`moreh_smclient`: the entry point.

`--command` runs lines and exits with the README's one-shot exit status (0 ok,
1 refused, 2 usage, 3 unreachable); otherwise the interactive shell starts.  The REPL
library is imported only for the interactive shell, so one-shot commands
start fast.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
from collections.abc import Iterable, Iterator, Mapping
from typing import TYPE_CHECKING, Any, NoReturn, TextIO

from . import __version__
from .errors import EXIT_OK, EXIT_REFUSED, EXIT_UNREACHABLE, EXIT_USAGE, UsageError

if TYPE_CHECKING:  # (imported where used: a one-shot command loads only what it needs)
    from typing_extensions import Unpack

    from .config import Config, Context
    from .executor import SessionOptions
    from .terminal import Pager
    from .transport import Connection


class Parser(argparse.ArgumentParser):
    """argparse whose messages show what is not printable in an argument escaped (`\\u202e`)."""

    def error(self, message: str) -> NoReturn:
        from .sanitize import visible

        super().error(visible(message))


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(
        prog="moreh_smclient",
        description="SDAManager's admin shell. Type 'help' at the prompt for the commands.",
    )
    parser.add_argument("--ip", help="SDAManager address (default: $SDAMANAGER_IP, "
                                     "$MOREH_SDA_MANAGER_ADDRESS, else 127.0.0.1)")
    parser.add_argument("--port", help="SDAManager port (default: $SDAMANAGER_PORT, else 30105)")
    parser.add_argument("--command", "-c", metavar="CMD",
                        help="run CMD (several separated by ';') and exit; only their output is printed; "
                             "the chain stops at the first failure")
    parser.add_argument("--file", "-f", metavar="PATH",
                        help="run the lines of PATH ('-': standard input) as if typed, skipping blank lines "
                             "and # comments; stops at the first failure")
    parser.add_argument("--force", action="store_true",
                        help="with --command or --file, run every command even after a failure "
                             "(the exit status is still the first failure's)")
    parser.add_argument("--output", "-o", metavar="FORMAT", default=None,
                        help="print tables as FORMAT: table (the original's, default), json, csv, tsv or a tabulate "
                             "format (github, grid, psql, ...); default $SMCLIENT_OUTPUT")
    parser.add_argument("--no-pager", action="store_true",
                        help="never page output (by default, output taller or wider than the terminal goes through "
                             "$SMCLIENT_PAGER, $PAGER or less; never when the output is not a terminal)")
    parser.add_argument("--expanded", "-x", action="store_true",
                        help="show each row of a table as a record (psql's expanded view); "
                             "'set expanded auto' at the prompt does it only for tables wider than the terminal")
    parser.add_argument("--timeout", type=float, default=None, metavar="SECONDS",
                        help="connect and call timeout in seconds (default 5)")
    parser.add_argument("--tls-ca", metavar="PEM",
                        help="connect with TLS, trusting this CA certificate (default: $SDAMANAGER_TLS_CA)")
    parser.add_argument("--admin-secret-file", metavar="PATH",
                        help="send the admin secret in this file (default: $SDAMANAGER_ADMIN_SECRET_FILE or "
                             "$SDAMANAGER_ADMIN_SECRET); a secret is never given on the command line")
    parser.add_argument("--simulator", action="store_true",
                        help="start an embedded SDAManager simulator with a demo cluster and connect to it")
    parser.add_argument("--context", metavar="NAME",
                        help="use the cluster NAME of the config file (default: $SMCLIENT_CONTEXT, else the file's "
                             "default-context); flags and environment variables win over it")
    parser.add_argument("--list-contexts", action="store_true",
                        help="print the config file's context names, one a line, and exit")
    parser.add_argument("--completion", choices=("bash", "zsh"),
                        help="print a completion script for the shell named and exit "
                             "(bash: source <(moreh_smclient --completion bash))")
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    return parser


def main(argv: list[str] | None = None) -> int:
    # gRPC's C core logs TLS failures itself; the shell prints one line of its own.
    os.environ.setdefault("GRPC_VERBOSITY", "NONE")
    # Started with Ctrl-C ignored (a background job, some launchers): Ctrl-C must still
    # stop a slow call or `watch`, so the handler is set again.
    if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.default_int_handler)
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is not None and args.file is not None:
        parser.error("--command and --file go alone: give one of them")
    if args.force and args.command is None and args.file is None:
        parser.error("--force goes with --command or --file")
    # A terminal or pipe that cannot show some character gets a replacement, not a traceback.
    for stream in (sys.stdout, sys.stderr):
        if hasattr(stream, "reconfigure"):
            stream.reconfigure(errors="replace")
    if args.completion is not None:
        from .shell_completion import completion_script

        sys.stdout.write(completion_script(args.completion, parser))
        return EXIT_OK

    try:
        config, context = _context(args.context, choose=not args.list_contexts)
    except UsageError as err:  # config.ConfigError
        print(f"moreh_smclient: {err}", file=sys.stderr)
        return EXIT_USAGE
    if args.list_contexts:
        for name in config.contexts if config else ():
            print(name)
        return EXIT_OK

    from .api.address import resolve_address
    from .transport import DEFAULT_TIMEOUT, Connection

    # Each setting: the flag, else the environment, else the context, else the default.
    output = args.output or os.environ.get("SMCLIENT_OUTPUT") or (context and context.output) or "table"
    if output != "table":  # the default imports no format module
        from .formats import check

        try:
            output = check(output)
        except UsageError as err:
            where = "" if args.output or os.environ.get("SMCLIENT_OUTPUT") or context is None or config is None \
                else f"{config.path}: context.{context.name}.output: "  # (a context comes with its config)
            print(f"moreh_smclient: {where}{err}", file=sys.stderr)
            return EXIT_USAGE

    timeout = args.timeout if args.timeout is not None else DEFAULT_TIMEOUT
    if not 0 < timeout <= 3600:
        print(f"moreh_smclient: invalid --timeout {timeout:g}: expected 0 < SECONDS <= 3600", file=sys.stderr)
        return EXIT_USAGE
    from .api.secret import SECRET_ENV, SECRET_FILE_ENV, is_loopback, read_secret
    from .credentials import TLS_CA_ENV, tls_credentials

    tls_ca = args.tls_ca or os.environ.get(TLS_CA_ENV) or (context and context.tls_ca) or None
    secret_file = args.admin_secret_file
    if not secret_file and not os.environ.get(SECRET_FILE_ENV) and not os.environ.get(SECRET_ENV) and context:
        secret_file = context.admin_secret_file
    try:
        credentials, secret = tls_credentials(tls_ca), read_secret(secret_file)
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
            environ: dict[str, str] = dict(os.environ)
            if context and context.address and not environ.get("MOREH_SDA_MANAGER_ADDRESS", "").strip():
                # The context's address is the lowest: SDAMANAGER_IP/PORT and --ip/--port still win.
                environ["MOREH_SDA_MANAGER_ADDRESS"] = context.address
            address = resolve_address(args.ip, args.port, environ)
    except ValueError as err:
        print(f"moreh_smclient: {err}", file=sys.stderr)
        return EXIT_USAGE
    except OSError as err:
        print(f"moreh_smclient: cannot start the embedded simulator: {err}", file=sys.stderr)
        return EXIT_UNREACHABLE

    if secret is not None and credentials is None and not is_loopback(address.host):
        print(f"warning: sending the admin secret without TLS to {address}", file=sys.stderr)
    connection = Connection(address, timeout=timeout, credentials=credentials, admin_secret=secret)
    options: SessionOptions = {"pager": "off" if args.no_pager else (context and context.pager) or "auto",
                               "expanded": "on" if args.expanded else "off"}
    if context and context.history_file is not None:
        # $SMCLIENT_HISTFILE (even empty) wins; the interactive shell reads it (history.default_path).
        os.environ.setdefault("SMCLIENT_HISTFILE", context.history_file)
    try:
        if args.command is not None:
            from .executor import split_commands

            return run_script(connection, ((None, line) for line in split_commands(args.command)),
                              force=args.force, output=output, **options)
        if args.file is not None:
            return run_file(connection, args.file, force=args.force, output=output, **options)
        if sys.stdin.isatty() and sys.stdout.isatty() and os.environ.get("TERM", "") != "dumb":
            from .repl import run_repl

            return run_repl(connection, output_format=output, **options)
        # Bytes that are not UTF-8 become a usage error for that line, not a traceback.
        sys.stdin.reconfigure(errors="surrogateescape")  # type: ignore[union-attr]  # typeshed: a TextIO, not TextIOWrapper
        # A terminal that cannot draw (TERM=dumb) still gets the banner and a plain prompt.
        return run_lines(connection, sys.stdin, prompt=sys.stdin.isatty() and sys.stdout.isatty(), output=output,
                         **options)
    except KeyboardInterrupt:
        return 130
    finally:
        connection.close()
        if simulator is not None:
            simulator.stop()


CONFIG_ENV = "SMCLIENT_CONFIG"
CONTEXT_ENV = "SMCLIENT_CONTEXT"


def config_path(env: Mapping[str, str] | None = None) -> tuple[str, bool]:
    """(the config file's path, whether $SMCLIENT_CONFIG named it): $SMCLIENT_CONFIG, else
    $XDG_CONFIG_HOME/moreh_smclient/config.toml, else ~/.config/moreh_smclient/config.toml.
    A file $SMCLIENT_CONFIG names must exist; the default one may be absent."""
    env = os.environ if env is None else env
    chosen = env.get(CONFIG_ENV, "").strip()
    if chosen:
        return os.path.expanduser(chosen), True
    base = env.get("XDG_CONFIG_HOME", "").strip()
    if not os.path.isabs(base):  # the XDG spec: unset, empty or relative means the default
        base = os.path.join(env.get("HOME") or os.path.expanduser("~"), ".config")
    return os.path.join(base, "moreh_smclient", "config.toml"), False


def _context(flag: str | None, choose: bool = True) -> tuple[Config | None, Context | None]:
    """(the config file, the context chosen): --context, else $SMCLIENT_CONTEXT, else the
    file's default-context.  (None, None) when there is no config file and none is asked
    for: config.py and the TOML parser are then never imported.  ConfigError (config.py) for a
    bad file or an unknown name."""
    name, source = flag, "--context"
    if not name and os.environ.get(CONTEXT_ENV, "").strip():
        name, source = os.environ[CONTEXT_ENV].strip(), f"${CONTEXT_ENV}"
    path, named = config_path()
    if not named and not os.path.exists(path) and not (name and choose):
        return None, None
    from .config import ConfigError, load

    if not named and not os.path.exists(path):
        assert name is not None  # (`name and choose` held above)
        raise ConfigError(f"no context {name[:60]!r} ({source}): there is no config file {path}")
    config = load(path)
    return config, config.select(name or None, source) if choose else None


def _prompted(stream: TextIO) -> Iterator[str]:
    """The lines of a terminal that cannot draw: `> ` before each, as the shell's prompt."""
    while True:
        sys.stdout.write("> ")
        sys.stdout.flush()
        line = stream.readline()
        if not line:
            sys.stdout.write("\n")
            return
        yield line


class OutputFailed(Exception):
    """Standard output cannot be written (a full disk, a closed file): said once, on stderr."""


def _emit(result: Any, flush: bool = False, where: str = "", options: dict[str, str] | None = None) -> None:
    """Print a result: a failure on stderr (prefixed `where`, a script's PATH:LINE: ),
    anything else on stdout, piece by piece, tables in format `options["output"]`;
    at a terminal, through the pager when it does not fit (terminal.py)."""
    from .render import render_chunks, render_outcome
    from .results import Failure

    options = options or {"output": "table", "pager": "off", "expanded": "off"}
    fmt = options["output"]
    try:
        if isinstance(result, Failure):
            _, error = render_outcome(result, fmt)
            if error:
                sys.stdout.flush()
                sys.stderr.write(where + error + "\n")
                sys.stderr.flush()
        elif result is not None and (options["expanded"] != "off" or
                                     (options["pager"] != "off" and sys.stdout.isatty())):
            from .terminal import present

            pager = _pager()
            pager.write(present(result, fmt, options["expanded"], pager.size()[0]), fmt, options["pager"])
        else:
            # Written piece by piece: a long listing is never held whole as text.
            wrote = False
            for piece in render_chunks(result, fmt):
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
        _silence_stdout()
    except OSError as err:
        _silence_stdout()
        raise OutputFailed(f"moreh_smclient: cannot write the output: {err.strerror or err}") from None


_PAGERS: list[Pager] = []


def _pager() -> Pager:
    """The process's one Pager (terminal.py): a failing pager is warned about once."""
    if not _PAGERS:
        import shutil

        from .terminal import Pager

        def warn(text: str) -> None:
            print(text, file=sys.stderr, flush=True)

        def size() -> tuple[int, int]:
            columns, lines = shutil.get_terminal_size()
            return columns, lines

        _PAGERS.append(Pager(sys.stdout, warn, size))
    return _PAGERS[0]


def _silence_stdout() -> None:
    """What is left to write (Python's own flush at exit too) goes nowhere."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    os.close(devnull)


def run_script(connection: Connection, lines: Iterable[tuple[str | None, str]], force: bool = False,
               output: str = "table", **options: Unpack[SessionOptions]) -> int:
    """`--command` and `--file`: run `(where, line)` pairs in order.  The first failure
    stops them (all run with `force`); the status is the first failure's, else 0."""
    from .executor import Executor

    executor = Executor(connection, output=output, **options)
    status = EXIT_OK
    try:
        for where, line in lines:
            outcome = executor.execute_line(line)
            _emit(outcome.result, where=where or "", options=executor.options)
            if outcome.status and status == EXIT_OK:
                status = outcome.status
            if outcome.exit or (outcome.status and not force):
                break
        _emit(None, flush=True)
    except OutputFailed as err:
        print(err, file=sys.stderr)
        return status or EXIT_REFUSED
    return status


def run_file(connection: Connection, path: str, force: bool = False, output: str = "table",
             **options: Unpack[SessionOptions]) -> int:
    """`--file PATH`: its lines as if typed; a failure names its place, `PATH:LINE: `."""
    name = "<stdin>" if path == "-" else path
    try:
        stream = sys.stdin if path == "-" else open(path, encoding="utf-8", errors="surrogateescape")  # noqa: SIM115
    except OSError as err:
        print(f"moreh_smclient: cannot read {path}: {err.strerror or err}", file=sys.stderr)
        return EXIT_USAGE
    if path == "-":
        sys.stdin.reconfigure(errors="surrogateescape")  # type: ignore[union-attr]  # typeshed: a TextIO, not TextIOWrapper
    with stream:
        try:
            return run_script(connection, _script_lines(stream, name), force=force, output=output, **options)
        except ScriptUnreadable as err:
            print(f"moreh_smclient: {err}", file=sys.stderr)
            return EXIT_USAGE


# A line of a script longer than this is no command (`--file /dev/zero` has no line end at all).
MAX_SCRIPT_LINE = 1 << 20


class ScriptUnreadable(Exception):
    """A --file script that cannot be read on: said in one line, exit 2."""


def _script_lines(stream: TextIO, name: str) -> Iterator[tuple[str, str]]:
    """(`PATH:LINE: `, line) of a script, each line read with a bound."""
    number = 0
    while True:
        try:
            line = stream.readline(MAX_SCRIPT_LINE + 1)
        except OSError as err:  # /proc/self/mem, a device that fails
            raise ScriptUnreadable(f"cannot read {name} after line {number}: {err.strerror or err}") from None
        if not line:
            return
        number += 1
        if len(line) > MAX_SCRIPT_LINE:
            raise ScriptUnreadable(f"{name}:{number}: the line is longer than {MAX_SCRIPT_LINE >> 20} MiB: "
                                   "is this a script of commands?")
        yield f"{name}:{number}: ", line.rstrip("\r\n")


def run_lines(connection: Connection, stream: TextIO, prompt: bool = False, output: str = "table",
              **options: Unpack[SessionOptions]) -> int:
    """No terminal (a pipe, kubectl exec without -t), or TERM=dumb: read commands line
    by line, print only their output (with `prompt`, the banner and a plain `> `
    before each line too), exit at end of input with the last failure's status."""
    from .executor import Executor

    executor = Executor(connection, output=output, **options)
    status = EXIT_OK
    if prompt:
        from .render import banner

        print(banner(connection), flush=True)
    try:
        for line in _prompted(stream) if prompt else stream:
            outcome = executor.execute_line(line.rstrip("\r\n"))
            # Someone may be typing into the pipe (kubectl exec -i without -t): answer each line now.
            _emit(outcome.result, flush=True, options=executor.options)
            if outcome.status:
                status = outcome.status
            if outcome.exit:
                break
    except OutputFailed as err:
        print(err, file=sys.stderr)
        return status or EXIT_REFUSED
    return status
