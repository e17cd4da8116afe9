"""`moreh-smi`: the customer's devices (the token's SDAs), their running jobs, and
adding, removing and switching devices; Moreh's options (see HELP).

The customer's device number is the SDA's place in the token's list (SDA id
order, from 0): each command maps it to the SDA id from the report it has just
fetched, and sends that.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from ..errors import EXIT_OK, EXIT_REFUSED, ServerError, UsageError
from ..sanitize import clean
from . import views
from .console import Console, Parser, add_connection_options, connect, failed, menu_entry, run

PROG = "moreh-smi"

# Moreh's own help text, as documented (Moreh's pages), then what this implementation adds.
HELP = """
Usage: moreh-smi [-h | --help] [-r | --reset] [-s | --server-version] [-v | --version] [-t | --token] [-i | --idx]
                 [device {--add [model_id] | --rm [device_id] | --switch [device_id]}]

Basic Options:
  -h, --help             provide information about available command switches and their options
  -r, --reset            stop the running process
  -s, --server-version   print Moreh Framework version information
  -v, --version          print current software version information
  -t, --token            print Moreh Solution token information
  -i, --idx              select a device to print

Device Options:
  device --list                 list available models for adding device
  device --add [model_id]       add a device corresponding to model_id
  device --rm  [device_id]      remove a device corresponding to device_id
  device --switch [device_id]   switch to the device corresponding to [device_id]

Device Options operate interactively if there are no optional arguments([model_id], [device_id]).

Device Example:
  moreh-smi device --list
  moreh-smi device --add
  moreh-smi device --add 2
  moreh-smi device --switch 1
  moreh-smi -i 2

Also:
  model_id               the number of a model in the device --list menu (1-13 with the guide's
                         models), as Moreh's tool takes it: not the SDA model's id in SDAManager
  -p                     print the physical devices of the current device's running job
                         (with -i N: of device N's)
  --token=TOKEN          the token to use (default: $MOREH_SDA_TOKEN); written with '=',
                         as -t/--token alone prints the token table
  --ip HOST, --port PORT SDAManager's address (default: $SDAMANAGER_IP and $SDAMANAGER_PORT,
                         else $MOREH_SDA_MANAGER_ADDRESS=host[:port], else 127.0.0.1:30105)
  --timeout SECONDS      connect and call timeout (default 5)
  --tls-ca PEM           connect with TLS, trusting this CA certificate (default: $SDAMANAGER_TLS_CA)
"""

ASK = "ask"  # a device option given without its id: choose from a menu


def build_parser() -> Parser:
    parser = Parser(prog=PROG, add_help=False, allow_abbrev=False)
    parser.add_argument("-h", "--help", action="store_true")
    parser.add_argument("-r", "--reset", action="store_true")
    parser.add_argument("-s", "--server-version", action="store_true")
    parser.add_argument("-v", "--version", action="store_true")
    parser.add_argument("-t", "--token", action="store_true", dest="token_table")
    parser.add_argument("-p", action="store_true", dest="physical")
    parser.add_argument("-i", "--idx", metavar="N")
    parser.add_argument("device", nargs="?", choices=["device"])
    parser.add_argument("--list", action="store_true")
    for option in ("--add", "--rm", "--switch"):
        parser.add_argument(option, nargs="?", const=ASK, metavar="ID")
    add_connection_options(parser)
    return parser


def split_token(argv: list[str]) -> tuple[str | None, list[str]]:
    """`--token=TOKEN` out of argv (the token to use); `-t`/`--token` alone stays (the table)."""
    token, rest = None, []
    for k, arg in enumerate(argv):
        if arg in ("-t", "--token") and k + 1 < len(argv) and not argv[k + 1].startswith("-") \
                and argv[k + 1] != "device":
            raise UsageError(f"{arg} alone prints the token table; give the token to use as --token=TOKEN")
        if arg.startswith("--token="):
            token = arg[len("--token="):]
        else:
            rest.append(arg)
    return token, rest


def device_option(args: argparse.Namespace) -> tuple[str, str | None] | None:
    """("add"|"rm"|"switch"|"list", its id or ASK), or None; `device` alone is a usage error.
    `--rm 1` without the word `device` is accepted too (Moreh's page shows it)."""
    given = [(name, getattr(args, name)) for name in ("add", "rm", "switch") if getattr(args, name) is not None]
    if args.list:
        given.append(("list", None))
    if len(given) > 1:
        raise UsageError("give one of device --list, --add, --rm or --switch")
    if not given:
        if args.device:
            raise UsageError("device needs --list, --add, --rm or --switch")
        return None
    return given[0]


def main(argv: list[str] | None = None) -> int:
    return run(PROG, lambda console: _main(console, list(sys.argv[1:] if argv is None else argv)))


def _main(console: Console, argv: list[str]) -> int:
    token, rest = split_token(argv)
    args = build_parser().parse_args(rest)
    if args.help:
        console.say(HELP.rstrip("\n"))
        return EXIT_OK
    operation = device_option(args)
    chosen = [flag for flag, on in (("-r", args.reset), ("-s", args.server_version), ("-v", args.version),
                                    ("-t", args.token_table), ("-p", args.physical), ("device", operation))
              if on]
    if len(chosen) > 1:
        raise UsageError(f"{' and '.join(chosen)} go alone: give one of them")
    if args.idx is not None and chosen and chosen[0] in ("-s", "-v", "device"):
        raise UsageError(f"-i goes with -r, -t, -p or alone, not with {chosen[0]}")
    if args.version:
        from .. import __version__

        console.say(f"{PROG} {__version__}")
        return EXIT_OK
    client = connect(args, token, "--token=TOKEN")
    try:
        if operation is not None:
            return device_command(console, client, *operation)
        if args.reset:
            return reset(console, client, args.idx)
        report = client.devices()
        number = device_number(report, args.idx)
        if args.server_version:
            lines = [clean(f"Server Version: {report.server_version or views.IDLE}")]
        elif args.token_table:
            lines = views.token_table(report, number)
        elif args.physical:
            lines = views.physical_screen(report, number)
        else:
            lines = views.smi_screen(report, number)
        console.say(*lines)
        return EXIT_OK
    finally:
        client.connection.close()


def device_number(report: Any, text: str | None) -> int | None:
    """The device `text` names (-i N, device --rm N), checked against the report; None for None."""
    if text is None:
        return None
    count = len(report.devices)
    if not (text.isascii() and text.isdigit()) or int(text) >= count:
        known = {0: "the token has no device", 1: "the token has device 0 only"}.get(
            count, f"the token's devices are 0-{count - 1}")
        raise UsageError(f"no device {clean(text)}: {known}")
    return int(text)


TITLES = {"add": "Create device", "rm": "Remove device", "switch": "Switch current device"}


def device_command(console: Console, client: Any, name: str, value: str | None) -> int:
    """device --list, --add [N], --rm [N], --switch [N]."""
    title = TITLES.get(name, "List models")
    try:
        if name in ("list", "add"):
            choices = client.choices()
            if name == "list":
                console.say(*views.menu_lines(choices, star=False))
                return EXIT_OK
            return add(console, client, choices, value)
        report = client.devices()
        if not report.devices:
            console.warn(f"{title} failed. (The token has no device.)")
            return EXIT_REFUSED
        if value == ASK:
            console.say(*views.short_table(report))
            number = console.select(views.device_prompt(len(report.devices)), 0, len(report.devices) - 1)
            if number is None:
                return EXIT_OK
        else:
            number = device_number(report, value)
        sda_id = report.devices[number].sda_id
        after = client.remove_device(sda_id) if name == "rm" else client.switch_device(sda_id)
        console.say(*views.short_table(after), f"{title} success.")
        return EXIT_OK
    except ServerError as err:
        console.warn(failed(title, err))
        return EXIT_REFUSED


def add(console: Console, client: Any, choices: Any, value: str | None) -> int:
    if value == ASK:
        count = len(choices.choices)
        if not count:
            raise ServerError("The token may use no SDA model.")
        console.say(*views.menu_lines(choices, star=False), "")
        number = console.select(views.model_prompt(count), 1, count)
        if number is None:
            return EXIT_OK
        choice = choices.choices[number - 1]
    else:
        choice = menu_entry(choices, value or "", "model", "choose 1-{count} (moreh-smi device --list)")
    report = client.add_device(choice)
    console.say(*views.device_table(report), "Create device success.")
    return EXIT_OK


def reset(console: Console, client: Any, idx: str | None) -> int:
    """-r: end the live jobs of the current device (or device -i N)."""
    try:
        sda_id = None
        if idx is not None:
            report = client.devices()
            sda_id = report.devices[device_number(report, idx)].sda_id
        client.reset_device(sda_id)
    except ServerError as err:
        console.warn(failed("Device release", err))
        return EXIT_REFUSED
    console.say("Device release success.")
    return EXIT_OK
