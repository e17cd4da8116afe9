"""The command table: every command of the original's `help` listing.

This is the only list of commands.  Parsing, `help`/`h`, `COMMAND ?`,
argument checks and completion are all derived from it.  Descriptions and
usages are the original's words (`../shared/reference/mcp-manual-smclient.rst`,
section 5), typos included ("fronend id", "beckend", "histroy").  The guide's
variants are accepted too (SPEC section 4).
"""

from __future__ import annotations

from typing import Any

from . import handlers as h
from .grammar import Arg, Command, Grammar, Kind, bind_in_order, is_int

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


# `help {command words : optional}` shows those commands, like `COMMAND ?`.
HELP_TOPIC = Arg("command", Kind.REST, optional=True, key="topic")
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


# ---------------------------------------------------------------- the table

C = Command

COMMANDS: list[Command] = [
    # ---- add
    C(("add", "backendgroup"), "Add Backend to Backend Group",
      "add backendgroup {backend group id} {backend id}", (BACKEND_GROUP, BACKEND), h.add_backendgroup),
    C(("add", "membership"), "Add Membership between User Group and SDAModel Group",
      "add membership {user group id} {SDAModel group id}", (USER_GROUP, MODEL_GROUP), h.add_membership,
      title="Add Membership between User Group and SDAModel group"),
    C(("add", "sdamodelgroup"), "Add SDAModel to SDAModel Group",
      "add sdamodelgroup {SDAModel group id} {SDAModel id}", (MODEL_GROUP, MODEL), h.add_sdamodelgroup),
    C(("add", "token", "env"), "Add each token execution environment variable",
      "add token env {token} {name} {value}", (token(), text("name"), text("value")), h.add_token_env),
    C(("add", "usergroup"), "Add Token to User Group",
      "add usergroup {user group id} {token}", (USER_GROUP, token()), h.add_usergroup),
    C(("add", "worker", "env"), "Add each version of worker execution environment variable",
      "add worker env {version} {name} {value}",
      (Arg("version", complete="versions"), text("name"), text("value")), h.add_worker_env),
    # ---- clear
    C(("clear",), "Clear screen"),
    # ---- create
    C(("create", "backend"), "Create Backend",
      "create backend {host name} {ip} {device count}",
      (text("host name"), text("ip"), Arg("device count", Kind.INT, low=1, high=1024)), h.create_backend),
    C(("create", "backendgroup"), "Create BackendGroup",
      "create backendgroup {name} {backend list [backend id 1,backend id 2,backend id 3,...] : optional}",
      (text("name"), Arg("backend list", Kind.INT_LIST, optional=True, complete="backends")),
      h.create_backendgroup),
    C(("create", "resv_sda"), "Create new reserving SDA or add reserving SDA to registered Token",
      "create resv_sda {token} {description} {SDAModel ID} {SDAModel Group ID : optional}",
      _SDA_MANUAL, h.create_resv_sda, title="Create reserving SDA"),
    C(("create", "sda"), "Create new SDA or add SDA to registered Token",
      "create sda {token} {description} {SDAModel ID} {SDAModel Group ID : optional}",
      _SDA_MANUAL, h.create_sda, title="Create SDA", binder=bind_create_sda),
    C(("create", "sdamodel"), "Create SDAModel",
      "create sdamodel {name} {devices}",
      (text("name"), Arg("devices", Kind.INT, low=1, high=100_000)), h.create_sdamodel),
    C(("create", "sdamodelgroup"), "Create SDAModel Group",
      "create sdamodelgroup {name} {backend group id} "
      "{SDAModel list [SDAModel id 1,SDAModel id 2,SDAModel id 3,...] : optional}",
      (text("name"), BACKEND_GROUP, Arg("SDAModel list", Kind.INT_LIST, optional=True, complete="models")),
      h.create_sdamodelgroup),
    C(("create", "token"), "Create new Token",
      "create token {description} {priority : optional}",
      (text("description"), Arg("priority", Kind.INT, optional=True, low=PRIORITY_LOW, high=PRIORITY_HIGH)),
      h.create_token, title="Create Token"),
    C(("create", "usergroup"), "Create UserGroup",
      "create usergroup {name} {token list [token 1,token 2,token 3,...] : optional}",
      (text("name"), Arg("token list", Kind.TEXT_LIST, optional=True, complete="tokens")),
      h.create_usergroup, binder=bind_create_usergroup),
    C(("create", "version"), "Create Version",
      "create version {version} {installed path}", (text("version"), text("installed path")), h.create_version),
    # ---- delete
    C(("delete", "backend"), "Delete Backend",
      "delete backend {backend id}", (BACKEND,), h.delete_backend),
    C(("delete", "backendgroup"), "Delete BackendGroup",
      "delete backendgroup {backend group id} {force delete [true|false] : optional}",
      (BACKEND_GROUP, FORCE), h.delete_backendgroup),
    C(("delete", "sda"), "Delete all SDAs using requested Token or delete specified SDA using Token, SDA's ID",
      "delete sda {token} {SDA ID : optional}",
      (token(), id_("SDA ID", "sdas", optional=True)), h.delete_sda, title="Delete SDA"),
    C(("delete", "sdamodel"), "Delete SDAModel",
      "delete sdamodel {SDAModel ID}", (MODEL,), h.delete_sdamodel),
    C(("delete", "sdamodelgroup"), "Delete SDAModel Group",
      "delete sdamodelgroup {SDAModel group id} {force delete [true|false] : optional}",
      (MODEL_GROUP, FORCE), h.delete_sdamodelgroup),
    C(("delete", "token"), "Delete Token",
      "delete token {token}", (token(),), h.delete_token),
    C(("delete", "usergroup"), "Delete UserGroup",
      "delete usergroup {user group id} {force delete [true|false] : optional}",
      (USER_GROUP, FORCE), h.delete_usergroup),
    C(("delete", "version"), "Delete Version",
      "delete version {version}", (Arg("version", complete="versions"),), h.delete_version),
    # ---- exit
    C(("exit",), "Exit application (same command: exit, quit, q)"),
    # ---- get
    C(("get", "backend", "beid"), "print backend by beckend id",
      "get backend beid {backend id}", (BACKEND,), h.get_backend_beid),
    C(("get", "backend", "group"), "print backend by beckend group",
      "get backend group {backend group}", (id_("backend group", "backend_groups", low=0),), h.get_backend_group),
    C(("get", "backend", "name"), "print backend by beckend name",
      "get backend name {backend name}", (Arg("backend name", complete="backend_names"),), h.get_backend_name),
    C(("get", "history", "feid"), "Get job info in job histroy",
      "get history feid {frontend id}", (id_("frontend id", "history_feids"),), h.get_history_feid),
    C(("get", "history", "token"), "Get job info in job histroy",
      "get history token {token} {count of history : optional}",
      (token(), Arg("count of history", Kind.INT, optional=True, low=1, high=10_000_000)), h.get_history_token),
    C(("get", "job", "feid"), "Get job info in job queue",
      "get job feid {frontend id}", (id_("frontend id", "feids"),), h.get_job_feid),
    C(("get", "job", "token"), "Get job info in job queue",
      "get job token {token}", (token(),), h.get_job_token),
    C(("get", "sda"), "Print enrolled SDAs using reqeusted Token",
      "get sda {token}", (token(),), h.get_sda),
    C(("get", "token"), "Get Token information",
      "get token {token}", (token(),), h.get_token),
    # ---- help
    C(("h",), "Print help message (same command: help, h)", None, (HELP_TOPIC,)),
    C(("help",), "Print help message (same command: help, h)", None, (HELP_TOPIC,)),
    C(("q",), "Exit application (same command: exit, quit, q)"),
    C(("quit",), "Exit application (same command: exit, quit, q)"),
    # ---- release
    C(("release",), "Release Device",
      "release {[token | fronend id]} {SDA ID : optional}",
      (Arg("token | frontend id", key="token_or_frontend_id", complete="tokens_and_feids"),
       id_("SDA ID", "sdas", optional=True)), h.release),
    C(("release", "all"), "Release All Device", None, (), h.release_all),
    # ---- remove
    C(("remove", "backendgroup"), "Remove Backend from Backend Group",
      "remove backendgroup {backend group id} {backend id}", (BACKEND_GROUP, BACKEND), h.remove_backendgroup),
    C(("remove", "membership"), "Remove Membership between User Group and SDAModel Group",
      "remove membership {user group id} {SDAModel group id}", (USER_GROUP, MODEL_GROUP), h.remove_membership,
      title="Remove Membership between User Group and SDAModel group"),
    C(("remove", "sdamodelgroup"), "Remove SDAModel from SDAModel Group",
      "remove sdamodelgroup {SDAModel group id} {SDAModel id}", (MODEL_GROUP, MODEL), h.remove_sdamodelgroup),
    C(("remove", "token", "env"), "Remove each token execution environment variable",
      "remove token env {token} {name}", (token(), Arg("name", complete="token_env")), h.remove_token_env),
    C(("remove", "usergroup"), "Remove Token from User Group",
      "remove usergroup {user group id} {token}", (USER_GROUP, token()), h.remove_usergroup),
    C(("remove", "usergroup", "list"), "Remove UserGroup Token list",
      "remove usergroup list {user group id} {token}", (USER_GROUP, token()), h.remove_usergroup, hidden=True),
    C(("remove", "worker", "env"), "Remove each version of worker execution environment variable",
      "remove worker env {version} {name}", (Arg("version", complete="versions"), text("name")),
      h.remove_worker_env),
    # ---- show
    C(("show", "backend"), "Print list of Backend", None, (), h.show_backend),
    C(("show", "backend", "group"), "Print list of backend sorted by group and node name", None, (),
      h.show_backend_group),
    C(("show", "backend", "name"), "Print list of backend sorted by node name", None, (), h.show_backend_name),
    C(("show", "backendgroup"), "Show BackendGroup",
      "show backendgroup {backend group id : optional}",
      (id_("backend group id", "backend_groups", optional=True, low=0),), h.show_backendgroup),
    C(("show", "eventlog"), "Print list of Event Log list", None, (), h.show_eventlog),
    C(("show", "history"), "Print list of Job history list",
      "show history {count of history : optional}",
      (Arg("count of history", Kind.INT, optional=True, low=1, high=10_000_000),), h.show_history),
    C(("show", "history", "device"), "Print list of Job history list with device info",
      "show history device {count of history : optional}",
      (Arg("count of history", Kind.INT, optional=True, low=1, high=10_000_000),), h.show_history_device),
    C(("show", "job"), "Print list of Job list",
      "show job {status of job : optional}",
      (Arg("status of job", Kind.CHOICE, optional=True, choices=JOB_STATUSES),), h.show_job),
    C(("show", "membership"), "Show Membership between User Group SDAModel Group",
      "show membership {user group id : optional}",
      (id_("user group id", "user_groups", optional=True),), h.show_membership),
    C(("show", "relationship"), "Show Relations between User Group, SDAModel Group, Backend Group",
      "show relationship {user group id : optional}",
      (id_("user group id", "user_groups", optional=True),), h.show_relationship),
    C(("show", "sda"), "Print list of SDAs", None, (), h.show_sda),
    C(("show", "sda", "running"), "Print list of running SDAs", None, (), h.show_sda_running),
    C(("show", "sda", "token"), "Print list of SDAs sorted by token", None, (), h.show_sda_token),
    C(("show", "sdamodel"), "Print list of SDAModels",
      "show sdamodel {token : optional}", (token(optional=True),), h.show_sdamodel),
    C(("show", "sdamodelgroup"), "Show SDAModel Group",
      "show sdamodelgroup {SDAModel group id : optional}",
      (id_("SDAModel group id", "model_groups", optional=True),), h.show_sdamodelgroup),
    C(("show", "server", "version"), "Show Server Version Information", None, (), h.show_server_version),
    C(("show", "token"), "Print list of Tokens", None, (), h.show_token),
    C(("show", "token", "running"), "Print list of running Tokens", None, (), h.show_token_running),
    C(("show", "usage"), "Print Device Usage",
      "show usage {begin date [YYYY-MM-DD]} {begin time [hh:mm:ss]} {end date [YYYY-MM-DD]} "
      "{end time [hh:mm:ss]} {token : optional}",
      (text("begin date"), text("begin time"), text("end date"), text("end time"), token(optional=True)),
      h.show_usage),
    C(("show", "usergroup"), "Show UserGroup",
      "show usergroup {user group id : optional}",
      (id_("user group id", "user_groups", optional=True),), h.show_usergroup),
    C(("show", "version"), "Show Version Information",
      "show version {version : optional}", (Arg("version", optional=True, complete="versions"),), h.show_version),
    # ---- update: backends and devices
    C(("update", "backend", "group"), "Update Backend Group",
      "update backend group {backend id} {backend group id [id | null] : optional}",
      (BACKEND, Arg("backend group id", Kind.INT_OR_NULL, optional=True, low=0, high=ID_MAX,
                    complete="backend_groups")), h.update_backend_group),
    C(("update", "backend", "host"), "Update Backend Host name",
      "update backend host {backend id} {host name}", (BACKEND, text("host name")), h.update_backend_host),
    C(("update", "backend", "ip"), "Update Backend Ip address",
      "update backend ip {backend id} {ip}", (BACKEND, text("ip")), h.update_backend_ip),
    C(("update", "backend", "status"), "Update Backend Status",
      "update backend status {backend id} {status [SHUTDOWN|ACTIVE]}",
      (BACKEND, Arg("status", Kind.CHOICE, choices=BACKEND_STATUSES)), h.update_backend_status),
    C(("update", "backendgroup", "list"), "Update BackendGroup Backend List (remove all if null)",
      "update backendgroup list {backend group id} {backend list [backend id 1,backend id 2,... | null]}",
      (BACKEND_GROUP, Arg("backend list", Kind.INT_LIST, complete="backends")), h.update_backendgroup_list),
    C(("update", "backendgroup", "name"), "Update BackendGroup Name",
      "update backendgroup name {backend group id} {name}", (BACKEND_GROUP, text("name")),
      h.update_backendgroup_name),
    C(("update", "device"), "Update Device Status",
      "update device {backend id} {device index} {status}",
      (BACKEND, Arg("device index", Kind.INT, low=0, high=100_000),
       Arg("status", Kind.CHOICE, choices=DEVICE_STATUSES)), h.update_device),
    C(("update", "device", "all"), "Update All Device Status",
      "update device all {backend id} {status}",
      (BACKEND, Arg("status", Kind.CHOICE, choices=DEVICE_STATUSES)), h.update_device_all),
    # ---- update: jobs and SDAs
    C(("update", "job", "priority"), "Update Job Priority",
      "update job priority {frontend id} {priority}", (id_("frontend id", "feids"), priority()),
      h.update_job_priority),
    C(("update", "sda"), "Update SDA",
      "update sda {token} {SDAModel ID} {SDAModel Group ID : optional}",
      (token(), MODEL, OPT_MODEL_GROUP), h.update_sda),
    C(("update", "sda", "id"), "Update SDA ByID",
      "update sda id {token} {SDA ID} {SDAModel ID} {SDAModel Group ID : optional}",
      (token(), id_("SDA ID", "sdas"), MODEL, OPT_MODEL_GROUP), h.update_sda),
    # ---- update: SDA model groups
    C(("update", "sdamodelgroup", "backendgroup"), "Update SDAModel Group BackendGroup",
      "update sdamodelgroup backendgroup {SDAModel group id} {backend group id}",
      (MODEL_GROUP, BACKEND_GROUP), h.update_sdamodelgroup_backendgroup),
    C(("update", "sdamodelgroup", "list"), "Update SDAModel Group Model List (remove all if null)",
      "update sdamodelgroup list {SDAModel group id} {SDAModel list [SDAModel id 1,SDAModel id 2,... | null]}",
      (MODEL_GROUP, Arg("SDAModel list", Kind.INT_LIST, complete="models")), h.update_sdamodelgroup_list),
    C(("update", "sdamodelgroup", "name"), "Update SDAModel Group Name",
      "update sdamodelgroup name {SDAModel group id} {name}", (MODEL_GROUP, text("name")),
      h.update_sdamodelgroup_name),
    # ---- update: tokens
    C(("update", "token", "access", "level"), "Update Token access level",
      "update token access level {token} {access level [USER|ADMIN|DEVELOPER]}",
      (token(), Arg("access level", Kind.CHOICE, choices=ACCESS_LEVELS)), h.update_token_access_level),
    C(("update", "token", "desc"), "Update Token",
      "update token desc {token} {description}", (token(), text("description")), h.update_token_desc),
    C(("update", "token", "duplicable"), "Update Token Duplicable",
      "update token duplicable {token} {value}",
      (token(), Arg("value", Kind.INT, low=0, high=1024)), h.update_token_duplicable),
    C(("update", "token", "priority"), "Update Token Priority",
      "update token priority {token} {priority}", (token(), priority()), h.update_token_priority),
    C(("update", "token", "sda", "current"), "Update Token sda default",
      "update token sda current {token} {current sda}", (token(), id_("current sda", "sdas")),
      h.update_token_sda_current),
    C(("update", "token", "sda", "max"), "Update Token sda max",
      "update token sda max {token} {max}", (token(), Arg("max", Kind.INT, low=1, high=1024)),
      h.update_token_sda_max),
    # ---- update: user groups
    C(("update", "usergroup", "list"), "Update UserGroup Token List (remove all if null)",
      "update usergroup list {user group id} {token list [token 1,token 2,... | null]}",
      (USER_GROUP, Arg("token list", Kind.TEXT_LIST, complete="tokens")), h.update_usergroup_list,
      title="Update UserGroup Token list"),
    C(("update", "usergroup", "name"), "Update UserGroup Name",
      "update usergroup name {user group id} {name}", (USER_GROUP, text("name")), h.update_usergroup_name),
    # ---- update: versions
    C(("update", "version", "health_check"), "Update version health check GPU command",
      "update version health_check {version} {command}",
      (Arg("version", complete="versions"), Arg("command", Kind.REST)), h.update_version_health_check),
    C(("update", "version", "latest"), "Update Version Supported",
      "update version latest {version}", (Arg("version", complete="versions"),), h.update_version_latest,
      title="Update Version Latest"),
    C(("update", "version", "path"), "Update version working directory",
      "update version path {version} {installed path}",
      (Arg("version", complete="versions"), Arg("installed path", Kind.REST)), h.update_version_path),
    C(("update", "version", "query"), "Update each version of worker query execution command",
      "update version query {version} {command}",
      (Arg("version", complete="versions"), Arg("command", Kind.REST)), h.update_version_query),
    C(("update", "version", "support"), "Update Version Supported",
      "update version support {version} {supported [true|false]}",
      (Arg("version", complete="versions"), Arg("supported", Kind.BOOL)), h.update_version_support),
    C(("update", "version", "worker"), "Update each version of worker execution command",
      "update version worker {version} {command}",
      (Arg("version", complete="versions"), Arg("command", Kind.REST)), h.update_version_worker),
]

# Commands the shell answers itself, without SDAManager.
EXIT_WORDS = {("exit",), ("quit",), ("q",)}
HELP_WORDS = {("help",), ("h",)}
CLEAR_WORDS = {("clear",)}

GRAMMAR = Grammar(COMMANDS)


def help_entry(command: Command) -> list[str]:
    """One command as the original's listing shows it."""
    lines = [f"{command.name:<33} : {command.description}"]
    if command.usage:
        lines.append(f"      (usages : {command.usage})")
    return lines


def help_text(commands: list[Command] | None = None) -> str:
    lines: list[str] = []
    for command in commands if commands is not None else GRAMMAR.visible():
        lines.extend(help_entry(command))
    return "\n".join(lines)
