"""`moreh-switch-model`: the menu of SDA models the token may use; a number switches
the current device (the token's Cur SDA) to that model, q or Q ends.  `-M N`
switches to entry N without the menu, for scripts.

The menu is the server's ModelChoices, in its order: entry N is choice N-1, and
the switch sends that choice's model and SDA model group.
"""

from __future__ import annotations

import sys
from typing import Any

from ..errors import EXIT_OK, EXIT_REFUSED, ServerError
from . import views
from .console import Console, Parser, add_connection_options, connect, failed, menu_entry, run

PROG = "moreh-switch-model"
TITLE = "Switch model"


def build_parser() -> Parser:
    from .. import __version__

    parser = Parser(prog=PROG, allow_abbrev=False,
                    description="Switch the current Moreh SDA (the token's current device) to another SDA model: "
                                "a menu of the models the token may use; a number switches, q or Q ends.",
                    epilog="In the menu, end of input ends too (printf '2\\nq\\n' | moreh-switch-model).")
    parser.add_argument("-M", metavar="N", dest="entry",
                        help="switch to menu entry N without the menu, and exit (for scripts)")
    parser.add_argument("--token", help="the token to use (default: $MOREH_SDA_TOKEN)")
    add_connection_options(parser)
    parser.add_argument("-v", "--version", action="version", version=f"%(prog)s {__version__}")
    return parser


def main(argv: list[str] | None = None) -> int:
    return run(PROG, lambda console: _main(console, list(sys.argv[1:] if argv is None else argv)))


def _main(console: Console, argv: list[str]) -> int:
    args = build_parser().parse_args(argv)
    client = connect(args, args.token)
    try:
        choices = client.choices()
        if args.entry is not None:
            return switch_once(console, client, choices, args.entry)
        return menu(console, client, choices)
    finally:
        client.connection.close()


def switch_once(console: Console, client: Any, choices: Any, text: str) -> int:
    """-M N: one switch, one line."""
    choice = menu_entry(choices, text, "entry", "the menu has 1-{count}")
    try:
        client.switch_model(choice)
    except ServerError as err:
        console.warn(failed(TITLE, err))
        return EXIT_REFUSED
    console.say(views.switched_line(choice))
    return EXIT_OK


def menu(console: Console, client: Any, choices: Any) -> int:
    """The interactive menu.  Exit status 0, or 1 when a switch of the session was refused."""
    console.say(views.current_line(choices), "")
    if not choices.choices:
        console.warn(f"{TITLE} failed. (The token may use no SDA model.)")
        return EXIT_REFUSED
    console.say(*views.menu_lines(choices), "")
    status = EXIT_OK
    while True:
        count = len(choices.choices)
        number = console.select(views.model_prompt(count), 1, count)
        if number is None:
            return status
        choice = choices.choices[number - 1]
        try:
            choices = client.switch_model(choice)
        except ServerError as err:
            console.warn(failed(TITLE, err))
            status = EXIT_REFUSED
            continue
        console.say(views.switched_line(choice), "", *views.menu_lines(choices), "")
