"""`sdamanager-stub`: run the SDAManager simulator."""

from __future__ import annotations

import argparse
import gc
import logging
import os
import signal
import sqlite3
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from smclient import __version__

from .calls import MAX_CALLS, MAX_STREAMS, REPLY_DEADLINE, REQUEST_DEADLINE

if TYPE_CHECKING:
    from .observe import Faults

DEFAULT_PORT = 30105

log = logging.getLogger(__name__)
_json_logs = False  # serve --log-format json: `say` logs its lines (as JSON) instead of printing them


def say(text: str, level: int = logging.WARNING) -> None:
    """One line of serve's on stderr: as it is, or with --log-format json as a log record."""
    if _json_logs:
        log.log(level, text)
    else:
        print(text, file=sys.stderr, flush=True)


def _bounded(low: int, high: int, what: str) -> Callable[[str], int]:
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a number ({what})") from None
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(f"{value} is out of range ({what})")
        return value

    parse.__name__ = what  # argparse names the type in some messages
    return parse


PORT = _bounded(0, 65535, "0-65535; 0 picks a free port")
BACKENDS = _bounded(0, 100_000, "0-100000")
DEVICES = _bounded(0, 1024, "0-1024")


def _seconds(low: float, high: float) -> Callable[[str], float]:
    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds") from None
        if not low <= value <= high:  # nan is never in range
            raise argparse.ArgumentTypeError(f"{value:g} is out of range ({low:g}-{high:g} seconds)")
        return value

    parse.__name__ = "seconds"
    return parse


SECONDS = _seconds(0, 86_400)
DEADLINE = _seconds(0.1, 3600)


def SPEED(text: str) -> float:  # noqa: N802  (an argparse type, named like the others)
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not 0.01 <= value <= 10_000:  # nan is never in range
        raise argparse.ArgumentTypeError(f"{value:g} is out of range (0.01-10000)")
    return value


# What shapes a new state file (an existing one keeps its own), with the defaults.
SHAPING = {"backends": 60, "devices": 8, "prepare_seconds": 2.0, "clean_seconds": 2.0}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="sdamanager-stub", description="SDAManager simulator for moreh_smclient.")
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    serve = sub.add_parser("serve", help="serve the SDAManager gRPC API")
    serve.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    serve.add_argument("--port", type=PORT, default=DEFAULT_PORT,
                       help=f"port to listen on (default {DEFAULT_PORT}; 0 picks a free one)")
    # The options that shape a new state file default to None, so that serve can tell which were given.
    serve.add_argument("--backends", type=BACKENDS, help="backends in the cluster (default 60)")
    serve.add_argument("--devices", type=DEVICES, help="devices per backend (default 8)")
    serve.add_argument("--prepare-seconds", type=SECONDS, metavar="S",
                       help="how long devices take to prepare for a job (default 2; 0 allowed)")
    serve.add_argument("--clean-seconds", type=SECONDS, metavar="S",
                       help="how long devices take to clean after a job (default 2; 0 allowed)")
    where = serve.add_mutually_exclusive_group()
    where.add_argument("--state", metavar="PATH", default=None,
                       help="the state file (SQLite; default $SDAMANAGER_STATE, else "
                            "$XDG_STATE_HOME/sdamanager-stub/state.db); every acknowledged change is on disk")
    where.add_argument("--memory", action="store_true", help="keep the state in memory only (lost on exit)")
    serve.add_argument("--init", action="store_true",
                       help="start a new cluster in a state file that is empty (0 bytes); without it such a file "
                            "is refused, as a state file that lost its content would be")
    serve.add_argument("--tls-cert", metavar="PEM", help="serve TLS with this certificate (needs --tls-key)")
    serve.add_argument("--tls-key", metavar="PEM", help="the certificate's private key")
    serve.add_argument("--admin-secret-file", metavar="PATH",
                       help="admin calls must carry the secret in this file (default: $SDAMANAGER_ADMIN_SECRET_FILE, "
                            "else $SDAMANAGER_ADMIN_SECRET); "
                            "a secret is never given on the command line")
    serve.add_argument("--request-deadline", type=DEADLINE, default=REQUEST_DEADLINE, metavar="S",
                       help=f"cancel a call whose request has not arrived S seconds after it began "
                            f"(default {REQUEST_DEADLINE:g})")
    serve.add_argument("--reply-deadline", type=DEADLINE, default=REPLY_DEADLINE, metavar="S",
                       help=f"cancel a listing whose client has not taken its next page in S seconds "
                            f"(default {REPLY_DEADLINE:g})")
    serve.add_argument("--max-calls", type=_bounded(1, 1_000_000, "1-1000000"), default=MAX_CALLS, metavar="N",
                       help=f"unary calls of one kind (admin, VM side, health) answered at once; more are refused "
                            f"RESOURCE_EXHAUSTED (default {MAX_CALLS})")
    serve.add_argument("--max-streams", type=_bounded(1, 1_000_000, "1-1000000"), default=MAX_STREAMS, metavar="N",
                       help=f"listings, and health or reflection streams, open at once; more are refused "
                            f"(default {MAX_STREAMS})")
    serve.add_argument("--grace", type=SECONDS, default=5.0, metavar="S",
                       help="on SIGTERM or SIGINT, let calls in flight finish for up to S seconds (default 5)")
    serve.add_argument("--speed", type=SPEED, default=1.0, metavar="N",
                       help="run simulated time N times faster than the wall clock, for demos (default 1; "
                            "with --memory only: a state file's times would run backwards at its next start)")
    serve.add_argument("--faults", metavar="FILE",
                       help="inject the faults this JSON or TOML file lists (method, code, delay, times, after, "
                            "token), for testing clients; reloaded on SIGHUP")
    serve.add_argument("--demo", action="store_true",
                       help="fill the cluster with demo tokens, groups and a steady synthetic workload")
    serve.add_argument("--metrics-port", type=PORT, default=None, metavar="PORT",
                       help="serve Prometheus metrics (calls by method and code, jobs, queues, devices, the "
                            "journal) at http://HOST:PORT/metrics (0 picks a free port; default: none)")
    serve.add_argument("--metrics-host", default=None, metavar="HOST",
                       help="address the metrics listen on (default: --host's)")
    serve.add_argument("--log-format", choices=("text", "json"), default="text",
                       help="text (default), or json: one JSON object per log line (time, level, logger, "
                            "message), for log collectors")

    job = sub.add_parser("job", help="act as a customer's VM: ask for devices, finish a job")
    job_sub = job.add_subparsers(dest="job_command", required=True)
    submit = job_sub.add_parser("submit", help="request devices for a process; prints each new FeID")
    finish = job_sub.add_parser("finish", help="end a job (its process finished)")
    health = sub.add_parser("health", help="ask a running server's gRPC health service whether it serves: "
                                           "exit 0 if SERVING, else 1 (the image's HEALTHCHECK)")
    health.add_argument("--service", default="",
                        help="the service to ask about (default: the server as a whole; or sdamanager.v1.SDAManager)")
    for p in (submit, finish, health):
        p.add_argument("--ip", default=None, help="SDAManager address (default: $SDAMANAGER_IP, "
                                                  "$MOREH_SDA_MANAGER_ADDRESS, else 127.0.0.1), as the shell finds it")
        p.add_argument("--port", type=PORT, default=None,
                       help=f"SDAManager port (default: $SDAMANAGER_PORT, else {DEFAULT_PORT})")
        p.add_argument("--tls-ca", metavar="PEM", default=None,
                       help="connect with TLS, trusting this CA certificate (default: $SDAMANAGER_TLS_CA)")
        p.add_argument("--timeout", type=SECONDS, default=5.0, metavar="S", help="call timeout (default 5)")
    submit.add_argument("--token", required=True, help="the VM's token")
    finish.add_argument("--token", required=True, help="the token the job was submitted with")
    submit.add_argument("--process", required=True, help='the process and its arguments, e.g. "python train.py"')
    submit.add_argument("--pid", type=_bounded(0, 2**62, "0 or more"), default=None,
                        help="the process id on the VM (default: this process's)")
    submit.add_argument("--version", default="23.9.2", help="the VM's Moreh version (default 23.9.2)")
    submit.add_argument("--client", default="pytorch-1.13.1+cu116.moreh23.9.2", help="the VM's framework build")
    submit.add_argument("--sda", type=_bounded(1, 2**62, "an SDA id"), default=None,
                        help="the SDA to use (default: the token's current SDA)")
    submit.add_argument("--count", type=_bounded(1, 10_000, "1-10000"), default=1, help="jobs to submit (default 1)")
    finish.add_argument("feid", type=_bounded(1, 2**62, "a frontend id"), help="the job's FeID")
    finish.add_argument("--failed", action="store_true", help="the process failed")
    return parser


def serve(args: argparse.Namespace) -> int:
    from smclient.api.address import Address
    from smclient.api.secret import read_secret

    from .clock import SteadyClock, scaled_clock
    from .demo import Workload, seed_demo
    from .errors import DomainError
    from .logs import configure
    from .manager import new_manager
    from .security import server_credentials
    from .server import build_simulator

    global _json_logs
    configure(args.log_format)
    _json_logs = args.log_format == "json"
    host = args.host
    address = str(Address(host, args.port))
    if args.speed != 1 and not args.memory:
        say("sdamanager-stub: --speed goes with --memory: a state file's times would run backwards when it is "
            "next served at the wall clock's pace", logging.ERROR)
        return 2
    given = [f"--{name.replace('_', '-')}" for name in SHAPING if getattr(args, name) is not None]
    # Each the option's value (argparse's: an int or a float as the option parses) or its default.
    shape: dict[str, Any] = {name: default if getattr(args, name) is None else getattr(args, name)
                             for name, default in SHAPING.items()}
    steady = SteadyClock()
    manager = new_manager(shape["backends"], shape["devices"], prepare_seconds=shape["prepare_seconds"],
                          clean_seconds=shape["clean_seconds"],
                          clock=steady if args.speed == 1 else scaled_clock(args.speed, steady))
    metrics = None
    if args.metrics_port is not None:
        from .metrics import Metrics

        metrics = Metrics(manager)
    store = None
    if not args.memory:
        from .store import StateError, Store, claim

        path = Path(args.state or default_state_path())
        try:
            if not args.init and path.is_file() and path.stat().st_size == 0:
                raise StateError("it is empty (0 bytes), not a state file; give --init to start a new cluster in it")
            held = claim(path)  # kept open, so locked, while this server runs
            store = Store(path)
            if metrics is not None:
                metrics.watch_store(store)  # start-up's snapshot included
            fresh = store.is_new()
            steady.not_before(store.latest_instant())  # a wall clock set back since: its times run on
            store.attach(manager)
        except (OSError, sqlite3.Error, StateError) as err:
            say(f"sdamanager-stub: cannot use the state file {path}: {err}", logging.ERROR)
            return 1
        if not fresh:
            verb = "shapes" if len(given) == 1 else "shape"
            ignored = f"; {', '.join(given)} {verb} new state files only" if given else ""
            say(f"sdamanager-stub: state from {path} ({len(manager.backends)} backends, "
                f"{len(manager.tokens)} tokens, devices prepare {manager.prepare_seconds:g} s and clean "
                f"{manager.clean_seconds:g} s){ignored}", logging.INFO)
    if bool(args.tls_cert) != bool(args.tls_key):
        say("sdamanager-stub: --tls-cert and --tls-key go together", logging.ERROR)
        return 2
    try:
        secret = read_secret(args.admin_secret_file)
        credentials = server_credentials(args.tls_cert, args.tls_key) if args.tls_cert else None
    except (OSError, ValueError) as err:
        say(f"sdamanager-stub: {err}", logging.ERROR)
        return 1
    faults = None
    if args.faults:
        from .observe import Faults, load_faults

        faults = Faults()
        try:
            faults.replace(load_faults(args.faults))
        except (OSError, ValueError) as err:
            say(f"sdamanager-stub: {err}", logging.ERROR)
            return 2
    # The metrics first among the observers: a call a fault delays has started before it waits.
    observers = tuple(o for o in (metrics, faults) if o is not None)
    try:
        simulator = build_simulator(address, manager, admin_secret=secret, credentials=credentials,
                                    request_deadline=args.request_deadline, reply_deadline=args.reply_deadline,
                                    max_calls=args.max_calls, max_streams=args.max_streams,
                                    observers=observers)
    except (OSError, RuntimeError):
        say(f"sdamanager-stub: cannot listen on {address} (address in use or not local)", logging.ERROR)
        return 1
    metrics_server = None
    if metrics is not None:
        from .metrics import MetricsServer

        metrics_host = host if args.metrics_host is None else args.metrics_host
        try:
            metrics_server = MetricsServer(metrics.registry, metrics_host, args.metrics_port)
        except OSError as err:
            say(f"sdamanager-stub: cannot serve metrics on {Address(metrics_host, args.metrics_port)}: "
                f"{err.strerror or err}", logging.ERROR)
            simulator.stop(0)
            return 1
    _warn_if_exposed(host, simulator.address, tls=credentials is not None, secret=secret is not None)
    workload = None
    if args.demo:
        try:
            tokens = seed_demo(manager) if not manager.tokens else list(manager.tokens)
        except DomainError as err:  # a state file with groups of the same names
            say(f"sdamanager-stub: cannot seed the demo in this state ({err}); using its tokens")
            tokens = list(manager.tokens)
        workload = Workload(manager, tokens)
    # The state as loaded (a state file can hold 300,000 records) moves out of the
    # garbage collector's sight: its full collections would walk all of it while every
    # caller waits (bench_aio.py: GetToken max while two clients stream the big
    # listings 182 -> 71 ms).  The records are still freed by reference counting.
    gc.freeze()
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    if faults is not None:
        signal.signal(signal.SIGHUP, lambda *_: _reload_faults(faults, args.faults))
    simulator.start()
    print(f"SDAManager simulator listening on {simulator.address}", flush=True)
    if metrics_server is not None:
        print(f"metrics on {metrics_server.url}", flush=True)
    if workload is not None:
        simulator.spawn(workload.run)
    stop.wait()  # the server serves on its own thread; this one waits for the signal
    # Graceful: no new calls, those in flight finish (within the grace), then every
    # acknowledged change is on disk before the process ends.
    simulator.stop(grace=args.grace)
    if metrics_server is not None:
        metrics_server.close()
    if store is not None:
        store.close()
        os.close(held)
    return 0


def _reload_faults(faults: Faults, path: str) -> None:
    """SIGHUP: the faults file again; a bad file keeps the rules in force and says why."""
    from .observe import load_faults

    try:
        rules = load_faults(path)
    except (OSError, ValueError) as err:
        say(f"sdamanager-stub: faults not reloaded, the old ones stay: {err}", logging.ERROR)
        return
    faults.replace(rules)
    say(f"sdamanager-stub: {len(rules)} fault(s) loaded from {path}", logging.INFO)


def _warn_if_exposed(host: str, address: str, *, tls: bool, secret: bool) -> None:
    """Beyond loopback every customer's token crosses the network: say what does not guard it."""
    from smclient.api.secret import is_loopback

    missing = [(what, flag) for what, flag, there in (("TLS", "--tls-cert/--tls-key", tls),
                                                        ("an admin secret", "--admin-secret-file", secret))
               if not there]
    if missing and not is_loopback(host):
        say(f"warning: listening on {address} without {' and without '.join(w for w, _ in missing)} "
            f"(set {' and '.join(f for _, f in missing)}, or listen on 127.0.0.1)")


def default_state_path() -> Path:
    if os.environ.get("SDAMANAGER_STATE"):
        return Path(os.environ["SDAMANAGER_STATE"])
    base = os.environ.get("XDG_STATE_HOME") or os.path.join(os.path.expanduser("~"), ".local", "state")
    return Path(base) / "sdamanager-stub" / "state.db"


def _channel(args: argparse.Namespace) -> tuple[Any, str]:
    """A channel to the server --ip/--port/--tls-ca name, found as the shell and the
    customer's tools find it, and its address; ValueError or OSError for bad options."""
    import grpc

    from smclient.api.address import resolve_address
    from smclient.api.secret import read_certificates

    address = resolve_address(args.ip, args.port)
    ca = args.tls_ca or os.environ.get("SDAMANAGER_TLS_CA")
    trust = grpc.ssl_channel_credentials(read_certificates(ca, "the TLS CA file")) if ca else None
    channel = grpc.secure_channel(str(address), trust) if trust else grpc.insecure_channel(str(address))
    return channel, str(address)


def health(args: argparse.Namespace) -> int:
    """`health`: one Check of the standard health service.  0 when it answers SERVING;
    1 for anything else (another status, no answer, a refusal), with one line on stderr:
    Docker's HEALTHCHECK takes 0 as healthy and 1 as unhealthy (it reserves 2)."""
    import grpc
    from grpc_health.v1 import health_pb2, health_pb2_grpc

    try:
        channel, address = _channel(args)
    except (OSError, ValueError) as err:
        print(f"sdamanager-stub: {err}", file=sys.stderr)
        return 1
    with channel:
        try:
            answer = health_pb2_grpc.HealthStub(channel).Check(
                health_pb2.HealthCheckRequest(service=args.service), timeout=args.timeout)
        except grpc.RpcError as err:
            detail = " ".join((err.details() or "").split())
            print(f"sdamanager-stub: the health check of SDAManager at {address} failed "
                  f"({err.code().name}{': ' + detail if detail else ''}).", file=sys.stderr)
            return 1
    status = health_pb2.HealthCheckResponse.ServingStatus.Name(answer.status)
    if answer.status != health_pb2.HealthCheckResponse.SERVING:
        print(f"sdamanager-stub: SDAManager at {address} is {status}.", file=sys.stderr)
        return 1
    print(status)
    return 0


def job(args: argparse.Namespace) -> int:
    """The VM side from a shell: `job submit` prints FeIDs; `job finish --token T FEID` ends one."""
    import grpc

    from smclient.api import sdamanager_pb2 as pb
    from smclient.api import sdamanager_pb2_grpc as pb_grpc

    try:
        channel, address = _channel(args)
    except (OSError, ValueError) as err:
        print(f"sdamanager-stub: {err}", file=sys.stderr)
        return 2
    submitted = 0
    with channel:
        stub = pb_grpc.SDAManagerStub(channel)  # type: ignore[no-untyped-call]  # generated code, unannotated
        try:
            if args.job_command == "submit":
                request = pb.RequestDevicesRequest(token=args.token, process_name=args.process,
                                                   client_pid=args.pid if args.pid is not None else os.getpid(),
                                                   client=args.client, version=args.version)
                if args.sda is not None:
                    request.sda_id = args.sda
                for _ in range(args.count):
                    print(stub.RequestDevices(request, timeout=args.timeout).feid, flush=True)
                    submitted += 1
            else:
                stub.FinishJob(pb.FinishJobRequest(feid=args.feid, failed=args.failed, token=args.token),
                              timeout=args.timeout)
            return 0
        except grpc.RpcError as err:
            code = err.code()
            # A --count that stopped part way says how far it got.
            part = (f"{submitted} of {args.count} jobs submitted; "
                    if args.job_command == "submit" and args.count > 1 else "")
            if code in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED, grpc.StatusCode.CANCELLED):
                # No answer: the job may or may not have been submitted or finished.
                print(f"sdamanager-stub: {part}SDAManager at {address} did not answer ({code.name}).",
                      file=sys.stderr)
                return 3
            detail = " ".join((err.details() or code.name).split())
            print(f"sdamanager-stub: {part}{detail}", file=sys.stderr)
            return 1


def main(argv: list[str] | None = None) -> int:
    # gRPC's C core logs bind failures itself; we print one line of our own.
    os.environ.setdefault("GRPC_VERBOSITY", "NONE")
    args = build_parser().parse_args(argv)
    if args.command == "serve":
        return serve(args)
    if args.command == "job":
        return job(args)
    if args.command == "health":
        return health(args)
    return 2  # pragma: no cover - argparse enforces the sub-command


if __name__ == "__main__":
    sys.exit(main())
