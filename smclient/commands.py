"""The command table: every command of the original's `help` listing.

This is the only list of commands, the shell's own (`help`, `exit`, `clear`)
included.  Parsing, `help`, `COMMAND ?`, argument checks, usage lines and
completion are all derived from it.  Descriptions are the original's words
(the manual's help listing, kept in tests/data/original_help.txt), typos included
("beckend", "histroy"); so are the usage lines, derived from the typed
arguments except where a row overrides them ("fronend id").  The guide's
variants are accepted too (tests/test_grammar.py).
"""

from __future__ import annotations

import shlex
from functools import partial
from types import SimpleNamespace as Args
from typing import Any

from google.protobuf.timestamp_pb2 import Timestamp

from . import handlers as h
from . import views
from .api import sdamanager_pb2 as pb
from .errors import UsageError
from .grammar import Arg, Command, Grammar, Invocation, Kind, bind_in_order, is_int
from .results import Clear, Exit, HelpListing, SetOption, Watch
from .transport import Connection

# ---------------------------------------------------------------- argument kinds used below

PRIORITY_LOW, PRIORITY_HIGH = -99, 99
ID_MAX = 2**63 - 1


def token(label: str = "token", optional: bool = False) -> Arg:
    return Arg(label, optional=optional, complete="tokens")


def id_(label: str, complete: str, optional: bool = False, low: int = 1, key: str = "") -> Arg:
    return Arg(label, Kind.INT, optional=optional, low=low, high=ID_MAX, complete=complete, key=key)


def text(label: str, optional: bool = False, key: str = "") -> Arg:
    return Arg(label, optional=optional, key=key)


def priority() -> Arg:
    return Arg("priority", Kind.INT, low=PRIORITY_LOW, high=PRIORITY_HIGH)


def date(label: str) -> Arg:
    return Arg(label, form="YYYY-MM-DD")


def time_of_day(label: str) -> Arg:
    return Arg(label, form="hh:mm:ss")


# `help {command words : optional}` shows those commands, like `COMMAND ?`.
HELP_TOPIC = Arg("command", Kind.COMMAND, optional=True, key="topic")
FORCE = Arg("force delete", Kind.BOOL, optional=True, key="force")
BACKEND_GROUP = id_("backend group id", "backend_groups", low=0)
MODEL_GROUP = id_("SDAModel group id", "model_groups")
USER_GROUP = id_("user group id", "user_groups")
BACKEND = id_("backend id", "backends")
MODEL = id_("SDAModel ID", "models", key="sdamodel_id")
OPT_MODEL_GROUP = id_("SDAModel Group ID", "model_groups", optional=True, key="sdamodel_group_id")
BACKEND_STATUSES = ("SHUTDOWN", "ACTIVE")
DEVICE_STATUSES = ("SHUTDOWN", "IDLE", "PREPARING", "PROCESSING", "CLEANING")
JOB_STATUSES = ("QUEUED", "SUMMITED", "RUNNING")
ACCESS_LEVELS = ("USER", "ADMIN", "DEVELOPER")


# ---------------------------------------------------------------- commands with two argument orders

_SDA_MANUAL = (token(), text("description"), MODEL, OPT_MODEL_GROUP)
_SDA_GUIDE = (token(), MODEL, text("description"))


def bind_create_sda(command: Command, words: list[str]) -> dict[str, Any]:
    """`create sda {token} {SDAModelID} {description}` (guide) or
    `create sda {token} {description} {SDAModel ID} {SDAModel Group ID : optional}` (manual).

    Three words with an integer second and a non-integer third are the guide's
    order; with an integer third, the manual's.  When both are integers the
    guide's order wins, as the guide wins where the sources disagree.
    """
    if len(words) == 3 and is_int(words[1]):
        values = bind_in_order(command, _SDA_GUIDE, words)
        values["sdamodel_group_id"] = None
        return values
    return bind_in_order(command, _SDA_MANUAL, words)


def bind_create_usergroup(command: Command, words: list[str]) -> dict[str, Any]:
    """`create usergroup {name} {description} {token list : optional}` (guide) or
    `create usergroup {name} {token list : optional}` (manual).

    With two words the second is a description or a token list; the handler
    asks the server which (every item an existing token: a list).
    """
    if len(words) == 2:
        return {"name": words[0], "description": None, "token_list": None, "description_or_tokens": words[1]}
    args = (text("name"), text("description", optional=True),
            Arg("token list", Kind.TEXT_LIST, optional=True, complete="tokens"))
    values = bind_in_order(command, args, words)
    values["description_or_tokens"] = None
    return values


# ---------------------------------------------------------------- the shell's own commands
# Answered without SDAManager; here rather than in handlers.py because help reads the table.

def show_help(conn: Connection, a: Args) -> HelpListing:
    return GRAMMAR.help(a.topic or ())


def exit_shell(conn: Connection, a: Args) -> Exit:
    return Exit()


def clear_screen(conn: Connection, a: Args) -> Clear:
    return Clear()


WATCH_DEFAULT = 2.0
WATCH_SECONDS = Arg("seconds", Kind.NUMBER, optional=True, low=0.5, high=86_400)


def bind_watch(command: Command, words: list[str]) -> dict[str, Any]:
    """`watch [SECONDS] COMMAND`: a leading number is the interval."""
    seconds = WATCH_DEFAULT
    if words and WATCH_SECONDS.fits(words[0]):
        seconds = WATCH_SECONDS.parse(words[0])
        words = words[1:]
    if not words:
        raise command.usage_error()
    return {"seconds": seconds, "command": tuple(words)}


def set_output(conn: Connection, a: Args) -> SetOption:
    """Checked and kept by the executor, which renders every line's result."""
    return SetOption("output", a.format)


def set_pager(conn: Connection, a: Args) -> SetOption:
    return SetOption("pager", a.mode)


def set_expanded(conn: Connection, a: Args) -> SetOption:
    return SetOption("expanded", a.mode)


def set_confirm(conn: Connection, a: Args) -> SetOption:
    return SetOption("confirm", a.mode)


ON_OFF_AUTO = Arg("mode", Kind.CHOICE, optional=True, choices=("on", "off", "auto"))
ON_OFF = Arg("mode", Kind.CHOICE, optional=True, choices=("on", "off"))

# ---------------------------------------------------------------- what listings show
# An empty table of each listing's columns (a record's names): the fields a filter
# may name, checked before the call and offered by completion.

BACKENDS = partial(views.backends_table, ())
TOKENS = partial(views.tokens_table, ())
SDAS = partial(views.sdas_table, ())
JOB = partial(views.job_detail_table, pb.Job())
ENDED_JOB = partial(views.job_detail_table, pb.Job(end_time=Timestamp(seconds=1), end_reason="-"))
HISTORY = partial(views.history_table, ())
HISTORY_DEVICES = partial(views.history_table, (), devices=True)


def watch(conn: Connection, a: Args) -> Watch:
    """Checked now, so a mistyped command is told at once; run by the shell (repl.py)."""
    line = shlex.join(a.command)
    parsed = GRAMMAR.parse(line)
    if not isinstance(parsed, Invocation) or parsed.command.words[0] not in ("show", "get"):
        raise UsageError("watch repeats a show or get command (e.g. watch 5 show job).")
    return Watch(a.seconds, line)


# ---------------------------------------------------------------- the table

C = Command

COMMANDS: list[Command] = [
    # ---- add
    C(("add", "backendgroup"), "Add Backend to Backend Group", (BACKEND_GROUP, BACKEND), h.add_backendgroup),
    C(("add", "membership"), "Add Membership between User Group and SDAModel Group",
      (USER_GROUP, MODEL_GROUP), h.add_membership, title="Add Membership between User Group and SDAModel group"),
    C(("add", "sdamodelgroup"), "Add SDAModel to SDAModel Group",
      (MODEL_GROUP, MODEL), h.add_sdamodelgroup,
      usage_override="add sdamodelgroup {SDAModel group id} {SDAModel id}"),  # "id" here, "ID" elsewhere
    C(("add", "token", "env"), "Add each token execution environment variable",
      (token(), text("name"), text("value")), h.add_token_env),
    C(("add", "usergroup"), "Add Token to User Group", (USER_GROUP, token()), h.add_usergroup),
    C(("add", "worker", "env"), "Add each version of worker execution environment variable",
      (Arg("version", complete="versions"), text("name"), text("value")), h.add_worker_env),
    # ---- clear
    C(("clear",), "Clear screen", (), clear_screen),
    # ---- create
    C(("create", "backend"), "Create Backend",
      (text("host name"), text("ip"), Arg("device count", Kind.INT, low=1, high=1024)), h.create_backend),
    C(("create", "backendgroup"), "Create BackendGroup",
      (text("name"), Arg("backend list", Kind.INT_LIST, optional=True, complete="backends")), h.create_backendgroup),
    C(("create", "resv_sda"), "Create new reserving SDA or add reserving SDA to registered Token",
      _SDA_MANUAL, h.create_resv_sda, title="Create reserving SDA"),
    C(("create", "sda"), "Create new SDA or add SDA to registered Token",
      _SDA_MANUAL, h.create_sda, title="Create SDA", binder=bind_create_sda),
    C(("create", "sdamodel"), "Create SDAModel",
      (text("name"), Arg("devices", Kind.INT, low=1, high=100_000)), h.create_sdamodel),
    C(("create", "sdamodelgroup"), "Create SDAModel Group",
      (text("name"), BACKEND_GROUP, Arg("SDAModel list", Kind.INT_LIST, optional=True, complete="models")),
      h.create_sdamodelgroup),
    C(("create", "token"), "Create new Token",
      (text("description"), Arg("priority", Kind.INT, optional=True, low=PRIORITY_LOW, high=PRIORITY_HIGH)),
      h.create_token, title="Create Token"),
    C(("create", "usergroup"), "Create UserGroup",
      (text("name"), Arg("token list", Kind.TEXT_LIST, optional=True, complete="tokens")),
      h.create_usergroup, binder=bind_create_usergroup),
    C(("create", "version"), "Create Version", (text("version"), text("installed path")), h.create_version),
    # ---- delete
    C(("delete", "backend"), "Delete Backend", (BACKEND,), h.delete_backend),
    C(("delete", "backendgroup"), "Delete BackendGroup", (BACKEND_GROUP, FORCE), h.delete_backendgroup,
      confirm=h.ask_delete_backendgroup),
    C(("delete", "sda"), "Delete all SDAs using requested Token or delete specified SDA using Token, SDA's ID",
      (token(), id_("SDA ID", "sdas", optional=True)), h.delete_sda, title="Delete SDA", confirm=h.ask_delete_sda),
    C(("delete", "sdamodel"), "Delete SDAModel", (MODEL,), h.delete_sdamodel),
    C(("delete", "sdamodelgroup"), "Delete SDAModel Group", (MODEL_GROUP, FORCE), h.delete_sdamodelgroup,
      confirm=h.ask_delete_sdamodelgroup),
    C(("delete", "token"), "Delete Token", (token(),), h.delete_token),
    C(("delete", "usergroup"), "Delete UserGroup", (USER_GROUP, FORCE), h.delete_usergroup,
      confirm=h.ask_delete_usergroup,
      # The manual's listing has this second usage line here, in a form of its own: shown as it
      # is (its 12 spaces are 16 in the manual, whose whole listing is indented by 4).
      verbatim=("            (usages: delete usergroup {group id} {force delete[true|false] : optional})",)),
    C(("delete", "version"), "Delete Version", (Arg("version", complete="versions"),), h.delete_version),
    # ---- exit
    C(("exit",), "Exit application (same command: exit, quit, q)", (), exit_shell, aliases=("quit", "q")),
    # ---- get
    C(("get", "backend", "beid"), "print backend by beckend id", (BACKEND,), h.get_backend_beid, shape=BACKENDS),
    C(("get", "backend", "group"), "print backend by beckend group",
      (Arg("backend group", complete="backend_groups"),), h.get_backend_group, shape=BACKENDS),
    C(("get", "backend", "name"), "print backend by beckend name",
      (Arg("backend name", complete="backend_names"),), h.get_backend_name, shape=BACKENDS),
    C(("get", "history", "feid"), "Get job info in job histroy",
      (id_("frontend id", "history_feids"),), h.get_history_feid, shape=ENDED_JOB),
    C(("get", "history", "token"), "Get job info in job histroy",
      (token(), Arg("count of history", Kind.INT, optional=True, low=1, high=10_000_000)), h.get_history_token,
      shape=HISTORY_DEVICES, newest=True),
    C(("get", "job", "feid"), "Get job info in job queue", (id_("frontend id", "feids"),), h.get_job_feid, shape=JOB),
    C(("get", "job", "token"), "Get job info in job queue", (token(),), h.get_job_token, shape=JOB),
    C(("get", "sda"), "Print enrolled SDAs using reqeusted Token", (token(),), h.get_sda, shape=SDAS),
    C(("get", "token"), "Get Token information", (token(),), h.get_token, shape=TOKENS),
    # ---- help: the original's listing shows no usage for it (the topic is the guide's)
    C(("help",), "Print help message (same command: help, h)", (HELP_TOPIC,), show_help, aliases=("h",),
      usage_override=""),
    # ---- release
    C(("release",), "Release Device",
      (Arg("token | frontend id", key="token_or_frontend_id", complete="tokens_and_feids"),
       id_("SDA ID", "sdas", optional=True)), h.release,
      usage_override="release {[token | fronend id]} {SDA ID : optional}", confirm=h.ask_release),
    C(("release", "all"), "Release All Device", (), h.release_all, confirm=h.ask_release_all),
    # ---- remove
    C(("remove", "backendgroup"), "Remove Backend from Backend Group", (BACKEND_GROUP, BACKEND), h.remove_backendgroup),
    C(("remove", "membership"), "Remove Membership between User Group and SDAModel Group",
      (USER_GROUP, MODEL_GROUP), h.remove_membership, title="Remove Membership between User Group and SDAModel group"),
    C(("remove", "sdamodelgroup"), "Remove SDAModel from SDAModel Group",
      (MODEL_GROUP, MODEL), h.remove_sdamodelgroup,
      usage_override="remove sdamodelgroup {SDAModel group id} {SDAModel id}"),  # "id" here, "ID" elsewhere
    C(("remove", "token", "env"), "Remove each token execution environment variable",
      (token(), Arg("name", complete="token_env")), h.remove_token_env),
    C(("remove", "usergroup"), "Remove Token from User Group", (USER_GROUP, token()), h.remove_usergroup),
    C(("remove", "usergroup", "list"), "Remove UserGroup Token list",
      (USER_GROUP, token()), h.remove_usergroup, hidden=True),
    C(("remove", "worker", "env"), "Remove each version of worker execution environment variable",
      (Arg("version", complete="versions"), text("name")), h.remove_worker_env),
    # ---- show
    C(("show", "backend"), "Print list of Backend", (), h.show_backend, shape=BACKENDS),
    C(("show", "backend", "group"), "Print list of backend sorted by group and node name", (), h.show_backend_group,
      shape=BACKENDS),
    C(("show", "backend", "name"), "Print list of backend sorted by node name", (), h.show_backend_name,
      shape=BACKENDS),
    C(("show", "backendgroup"), "Show BackendGroup",
      (id_("backend group id", "backend_groups", optional=True, low=0),), h.show_backendgroup,
      shape=partial(views.backendgroups_table, ())),
    C(("show", "eventlog"), "Print list of Event Log list", (), h.show_eventlog,
      shape=partial(views.events_table, ()), newest=True),
    C(("show", "history"), "Print list of Job history list",
      (Arg("count of history", Kind.INT, optional=True, low=1, high=10_000_000),), h.show_history,
      shape=HISTORY, newest=True),
    C(("show", "history", "device"), "Print list of Job history list with device info",
      (Arg("count of history", Kind.INT, optional=True, low=1, high=10_000_000),), h.show_history_device,
      shape=HISTORY_DEVICES, newest=True),
    C(("show", "job"), "Print list of Job list",
      (Arg("status of job", Kind.CHOICE, optional=True, choices=JOB_STATUSES),), h.show_job,
      usage_override="show job {status of job : optional}", shape=partial(views.jobs_table, ())),  # no statuses listed
    C(("show", "membership"), "Show Membership between User Group SDAModel Group",
      (id_("user group id", "user_groups", optional=True),), h.show_membership,
      shape=partial(views.memberships_table, ())),
    C(("show", "relationship"), "Show Relations between User Group, SDAModel Group, Backend Group",
      (id_("user group id", "user_groups", optional=True),), h.show_relationship,
      shape=partial(views.relationships_table, ())),
    C(("show", "sda"), "Print list of SDAs", (), h.show_sda, shape=SDAS),
    C(("show", "sda", "running"), "Print list of running SDAs", (), h.show_sda_running, shape=SDAS),
    C(("show", "sda", "token"), "Print list of SDAs sorted by token", (), h.show_sda_token, shape=SDAS),
    C(("show", "sdamodel"), "Print list of SDAModels", (token(optional=True),), h.show_sdamodel,
      shape=partial(views.sdamodels_table, ())),
    C(("show", "sdamodelgroup"), "Show SDAModel Group",
      (id_("SDAModel group id", "model_groups", optional=True),), h.show_sdamodelgroup,
      shape=partial(views.sdamodelgroups_table, ())),
    C(("show", "server", "version"), "Show Server Version Information", (), h.show_server_version,
      shape=partial(h.server_version_table, pb.ServerVersion())),
    C(("show", "token"), "Print list of Tokens", (), h.show_token, shape=TOKENS),
    C(("show", "token", "running"), "Print list of running Tokens", (), h.show_token_running, shape=TOKENS),
    C(("show", "usage"), "Print Device Usage",
      (date("begin date"), time_of_day("begin time"), date("end date"), time_of_day("end time"), token(optional=True)),
      h.show_usage, shape=partial(views.usage_table, pb.UsageReport())),
    C(("show", "usergroup"), "Show UserGroup", (id_("user group id", "user_groups", optional=True),), h.show_usergroup,
      shape=partial(views.usergroups_table, ())),
    C(("show", "version"), "Show Version Information",
      (Arg("version", optional=True, complete="versions"),), h.show_version, shape=partial(views.versions_table, ())),
    # ---- update: backends and devices
    C(("update", "backend", "group"), "Update Backend Group",
      (BACKEND, Arg("backend group id", Kind.INT_OR_NULL, optional=True, low=0, high=ID_MAX,
                    complete="backend_groups")), h.update_backend_group),
    C(("update", "backend", "host"), "Update Backend Host name", (BACKEND, text("host name")), h.update_backend_host),
    C(("update", "backend", "ip"), "Update Backend Ip address", (BACKEND, text("ip")), h.update_backend_ip),
    C(("update", "backend", "status"), "Update Backend Status",
      (BACKEND, Arg("status", Kind.CHOICE, choices=BACKEND_STATUSES)), h.update_backend_status,
      confirm=h.ask_update_backend_status),
    C(("update", "backendgroup", "list"), "Update BackendGroup Backend List (remove all if null)",
      (BACKEND_GROUP, Arg("backend list", Kind.INT_LIST, complete="backends")), h.update_backendgroup_list),
    C(("update", "backendgroup", "name"), "Update BackendGroup Name",
      (BACKEND_GROUP, text("name")), h.update_backendgroup_name),
    C(("update", "device"), "Update Device Status",
      (BACKEND, Arg("device index", Kind.INT, low=0, high=100_000),
       Arg("status", Kind.CHOICE, choices=DEVICE_STATUSES)), h.update_device,
      usage_override="update device {backend id} {device index} {status}"),  # no statuses listed
    C(("update", "device", "all"), "Update All Device Status",
      (BACKEND, Arg("status", Kind.CHOICE, choices=DEVICE_STATUSES)), h.update_device_all,
      usage_override="update device all {backend id} {status}"),  # no statuses listed
    # ---- update: jobs and SDAs
    C(("update", "job", "priority"), "Update Job Priority",
      (id_("frontend id", "feids"), priority()), h.update_job_priority),
    C(("update", "sda"), "Update SDA", (token(), MODEL, OPT_MODEL_GROUP), h.update_sda),
    C(("update", "sda", "id"), "Update SDA ByID",
      (token(), id_("SDA ID", "sdas"), MODEL, OPT_MODEL_GROUP), h.update_sda),
    # ---- update: SDA model groups
    C(("update", "sdamodelgroup", "backendgroup"), "Update SDAModel Group BackendGroup",
      (MODEL_GROUP, BACKEND_GROUP), h.update_sdamodelgroup_backendgroup),
    C(("update", "sdamodelgroup", "list"), "Update SDAModel Group Model List (remove all if null)",
      (MODEL_GROUP, Arg("SDAModel list", Kind.INT_LIST, complete="models")), h.update_sdamodelgroup_list),
    C(("update", "sdamodelgroup", "name"), "Update SDAModel Group Name",
      (MODEL_GROUP, text("name")), h.update_sdamodelgroup_name),
    # ---- update: tokens
    C(("update", "token", "access", "level"), "Update Token access level",
      (token(), Arg("access level", Kind.CHOICE, choices=ACCESS_LEVELS)), h.update_token_access_level),
    C(("update", "token", "desc"), "Update Token", (token(), text("description")), h.update_token_desc),
    C(("update", "token", "duplicable"), "Update Token Duplicable",
      (token(), Arg("value", Kind.INT, low=0, high=1024, named=(("off", 1), ("unlimited", 0)))),
      h.update_token_duplicable),
    C(("update", "token", "priority"), "Update Token Priority", (token(), priority()), h.update_token_priority),
    C(("update", "token", "sda", "current"), "Update Token sda default",
      (token(), id_("current sda", "sdas")), h.update_token_sda_current),
    C(("update", "token", "sda", "max"), "Update Token sda max",
      (token(), Arg("max", Kind.INT, low=1, high=1024)), h.update_token_sda_max),
    # ---- update: user groups
    C(("update", "usergroup", "list"), "Update UserGroup Token List (remove all if null)",
      (USER_GROUP, Arg("token list", Kind.TEXT_LIST, complete="tokens")), h.update_usergroup_list,
      title="Update UserGroup Token list", confirm=h.ask_update_usergroup_list),
    C(("update", "usergroup", "name"), "Update UserGroup Name", (USER_GROUP, text("name")), h.update_usergroup_name),
    # ---- update: versions
    C(("update", "version", "health_check"), "Update version health check GPU command",
      (Arg("version", complete="versions"), Arg("command", Kind.REST)), h.update_version_health_check),
    C(("update", "version", "latest"), "Update Version Supported",
      (Arg("version", complete="versions"),), h.update_version_latest),  # "Supported" (sic) in its messages too
    C(("update", "version", "path"), "Update version working directory",
      (Arg("version", complete="versions"), Arg("installed path", Kind.REST)), h.update_version_path),
    C(("update", "version", "query"), "Update each version of worker query execution command",
      (Arg("version", complete="versions"), Arg("command", Kind.REST)), h.update_version_query),
    C(("update", "version", "support"), "Update Version Supported",
      (Arg("version", complete="versions"), Arg("supported", Kind.BOOL)), h.update_version_support),
    C(("update", "version", "worker"), "Update each version of worker execution command",
      (Arg("version", complete="versions"), Arg("command", Kind.REST)), h.update_version_worker),
    # ---- this shell's own (not in the original's listing)
    C(("set", "output"), "Print tables as table (the original's), json, csv, tsv or a tabulate format; "
                         "alone, say which", (Arg("format", optional=True),), set_output, own=True),
    C(("set", "pager"), "Page output taller or wider than the terminal: on (always), off or auto (default); "
                        "alone, say which", (ON_OFF_AUTO,), set_pager, own=True),
    C(("set", "expanded"), "Show each row as a record: on, off (default) or auto (tables wider than the "
                           "terminal); alone, say which", (ON_OFF_AUTO,), set_expanded, own=True),
    C(("set", "confirm"), "Ask before a change that ends or removes several things: on (default) or off; "
                          "alone, say which", (ON_OFF,), set_confirm, own=True),
    C(("watch",), f"Run a show or get command every SECONDS (default {WATCH_DEFAULT:g}) until Ctrl-C",
      (WATCH_SECONDS, Arg("command", Kind.COMMAND)), watch, binder=bind_watch, own=True),
]

GRAMMAR = Grammar(COMMANDS)
