"""`sdamanager-stub`: run the SDAManager simulator."""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading

from . import __version__

DEFAULT_PORT = 30105


def _bounded(low: int, high: int, what: str):  # type: ignore[no-untyped-def]
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


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="sdamanager-stub", description="SDAManager simulator for moreh_smclient.")
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    serve = sub.add_parser("serve", help="serve the SDAManager gRPC API")
    serve.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    serve.add_argument("--port", type=PORT, default=DEFAULT_PORT,
                       help=f"port to listen on (default {DEFAULT_PORT}; 0 picks a free one)")
    serve.add_argument("--backends", type=BACKENDS, default=60, help="backends in the cluster (default 60)")
    serve.add_argument("--devices", type=DEVICES, default=8, help="devices per backend (default 8)")
    return parser


def serve(args: argparse.Namespace) -> int:
    from .manager import new_manager
    from .server import build_simulator

    host = args.host
    address = f"[{host}]:{args.port}" if ":" in host else f"{host}:{args.port}"
    try:
        simulator = build_simulator(address, new_manager(args.backends, args.devices))
    except (OSError, RuntimeError):
        print(f"sdamanager-stub: cannot listen on {address} (address in use or not local)", file=sys.stderr)
        return 1
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    simulator.start()
    print(f"SDAManager simulator listening on {simulator.address}", flush=True)
    stop.wait()
    simulator.stop(grace=2)
    return 0


def main(argv: list[str] | None = None) -> int:
    # gRPC's C core logs bind failures itself; we print one line of our own.
    os.environ.setdefault("GRPC_VERBOSITY", "NONE")
    args = build_parser().parse_args(argv)
    if args.command == "serve":
        return serve(args)
    return 2  # pragma: no cover - argparse enforces the sub-command


if __name__ == "__main__":
    sys.exit(main())
