"""What each command does: the RPCs it makes and the data it returns.

A handler takes the connection and the parsed arguments and returns a Table,
a Message, a Note, a list of them, or None: the executor makes a None or a
Note the command's Success, and the renderer prints "<title> success.".
Handlers never print and never see grpc errors: the transport raises
ServerError / Unreachable, the executor makes a ServerError the command's
Failure ("<title> failed. (<reason>)").  The shell's own commands (help,
exit, clear) are in commands.py, next to the table they read.
"""

from __future__ import annotations

import base64
import datetime as dt
from collections.abc import Iterable, Iterator
from types import SimpleNamespace as Args
from typing import Any, cast

from google.protobuf.timestamp_pb2 import Timestamp

from . import views
from .api import sdamanager_pb2 as pb
from .errors import ServerError, UsageError
from .grammar import is_int
from .results import Changed, Message, Note, Table
from .transport import Connection


def _items(conn: Connection, method: str, request: Any, field: str) -> Iterator[Any]:
    for page in conn.stream(method, request):
        yield from getattr(page, field)


def _int_opt(value: int | None) -> dict[str, int]:
    return {} if value is None else {"id": value}


# ---------------------------------------------------------------- tokens

def create_token(conn: Connection, a: Args) -> Message:
    token = conn.call("CreateToken", pb.CreateTokenRequest(description=a.description, priority=a.priority or 0))
    return Message(f"Create SDA Success (Token : {token.value})", {"token": token.value})


def delete_token(conn: Connection, a: Args) -> None:
    conn.call("DeleteToken", pb.DeleteTokenRequest(token=a.token))


def get_token(conn: Connection, a: Args) -> Table:
    table = views.tokens_table([conn.call("GetToken", pb.GetTokenRequest(token=a.token))])
    table.record = True  # one token: json prints an object
    return table


def show_token(conn: Connection, a: Args) -> Table:
    return views.tokens_table(_items(conn, "ListTokens", pb.ListTokensRequest(), "tokens"))


def show_token_running(conn: Connection, a: Args) -> Table:
    return views.tokens_table(_items(conn, "ListTokens", pb.ListTokensRequest(running_only=True), "tokens"))


def update_token_priority(conn: Connection, a: Args) -> None:
    conn.call("UpdateTokenPriority", pb.UpdateTokenPriorityRequest(token=a.token, priority=a.priority))


def update_token_desc(conn: Connection, a: Args) -> None:
    conn.call("UpdateTokenDescription", pb.UpdateTokenDescriptionRequest(token=a.token, description=a.description))


def update_token_access_level(conn: Connection, a: Args) -> None:
    # An enum's Value() is one of its numbers; protobuf's stubs type it int (so below too).
    level = cast("pb.AccessLevel", pb.AccessLevel.Value("ACCESS_LEVEL_" + a.access_level))
    conn.call("UpdateTokenAccessLevel", pb.UpdateTokenAccessLevelRequest(token=a.token, access_level=level))


def update_token_sda_max(conn: Connection, a: Args) -> None:
    conn.call("UpdateTokenMaxSda", pb.UpdateTokenMaxSdaRequest(token=a.token, max_sda=a.max))


def update_token_sda_current(conn: Connection, a: Args) -> None:
    conn.call("UpdateTokenCurrentSda", pb.UpdateTokenCurrentSdaRequest(token=a.token, sda_id=a.current_sda))


def update_token_duplicable(conn: Connection, a: Args) -> None:
    conn.call("UpdateTokenDuplicable", pb.UpdateTokenDuplicableRequest(token=a.token, duplicable=a.value))


def add_token_env(conn: Connection, a: Args) -> None:
    conn.call("AddTokenEnv", pb.AddTokenEnvRequest(token=a.token, name=a.name, value=a.value))


def remove_token_env(conn: Connection, a: Args) -> None:
    conn.call("RemoveTokenEnv", pb.RemoveTokenEnvRequest(token=a.token, name=a.name))


# ---------------------------------------------------------------- SDAs and models

def _create_sda(conn: Connection, a: Args, reserved: bool) -> Changed:
    request = pb.CreateSdaRequest(token=a.token, description=a.description, model_id=a.sdamodel_id,
                                  reserved=reserved)
    if a.sdamodel_group_id is not None:
        request.model_group_id = a.sdamodel_group_id
    return created(conn.call("CreateSda", request).id)


def create_sda(conn: Connection, a: Args) -> Changed:
    return _create_sda(conn, a, reserved=False)


def create_resv_sda(conn: Connection, a: Args) -> Changed:
    return _create_sda(conn, a, reserved=True)


def update_sda(conn: Connection, a: Args) -> None:
    request = pb.UpdateSdaRequest(token=a.token, model_id=a.sdamodel_id)
    if getattr(a, "sda_id", None) is not None:
        request.sda_id = a.sda_id
    if a.sdamodel_group_id is not None:
        request.model_group_id = a.sdamodel_group_id
    conn.call("UpdateSda", request)


def delete_sda(conn: Connection, a: Args) -> Changed:
    request = pb.DeleteSdaRequest(token=a.token)
    if a.sda_id is not None:
        request.sda_id = a.sda_id
    deleted = sorted(conn.call("DeleteSda", request).deleted_ids)
    return Changed(counted(deleted, "SDA", "deleted"), {"deleted": deleted}, len(deleted) > 1)


def ask_delete_sda(conn: Connection, a: Args) -> str | None:
    if a.sda_id is not None:
        return None
    ids = [s.id for s in _items(conn, "ListSdas", pb.ListSdasRequest(token=a.token), "sdas")]
    return f"Delete {len(ids)} SDAs of token {a.token} (IDs {ranges(ids)})?" if len(ids) > 1 else None


def get_sda(conn: Connection, a: Args) -> Table:
    return views.sdas_table(_items(conn, "ListSdas", pb.ListSdasRequest(token=a.token), "sdas"))


def show_sda(conn: Connection, a: Args) -> Table:
    return views.sdas_table(_items(conn, "ListSdas", pb.ListSdasRequest(), "sdas"))


def show_sda_running(conn: Connection, a: Args) -> Table:
    return views.sdas_table(_items(conn, "ListSdas", pb.ListSdasRequest(running_only=True), "sdas"))


def show_sda_token(conn: Connection, a: Args) -> Table:
    return views.sdas_table(_items(conn, "ListSdas", pb.ListSdasRequest(order=pb.SDA_ORDER_TOKEN), "sdas"))


def show_sdamodel(conn: Connection, a: Args) -> Table:
    reply = conn.call("ListSdaModels", pb.ListSdaModelsRequest(token=a.token or ""))
    return views.sdamodels_table(reply.models)


def create_sdamodel(conn: Connection, a: Args) -> Changed:
    return created(conn.call("CreateSdaModel", pb.CreateSdaModelRequest(name=a.name, devices=a.devices)).id)


def delete_sdamodel(conn: Connection, a: Args) -> None:
    conn.call("DeleteSdaModel", pb.DeleteSdaModelRequest(id=a.sdamodel_id))


# ---------------------------------------------------------------- SDA model groups

def _group_created(group: Any, note: str = "") -> Message:
    return Message(f"Create Group Success (id : {group.id})", {"id": group.id}, note)


def created(new_id: int) -> Changed:
    """A change that made something with an id: json carries it (`{"id": 3}`)."""
    return Changed("", {"id": new_id}, many=False)


def create_sdamodelgroup(conn: Connection, a: Args) -> Message:
    return _group_created(conn.call("CreateSdaModelGroup", pb.CreateSdaModelGroupRequest(
        name=a.name, backend_group_id=a.backend_group_id, model_ids=a.sdamodel_list or [])))


def ask_delete_sdamodelgroup(conn: Connection, a: Args) -> str | None:
    if not a.force:
        return None
    groups = conn.call("ListSdaModelGroups", pb.ListSdaModelGroupsRequest(id=a.sdamodel_group_id)).groups
    held = [m.name for g in groups for m in g.models]
    return (f"Force-delete SDAModel group {a.sdamodel_group_id} with {len(held)} SDAModels ({_few(held)})?"
            if held else None)


def delete_sdamodelgroup(conn: Connection, a: Args) -> None:
    conn.call("DeleteSdaModelGroup", pb.DeleteSdaModelGroupRequest(id=a.sdamodel_group_id, force=bool(a.force)))


def show_sdamodelgroup(conn: Connection, a: Args) -> Table:
    reply = conn.call("ListSdaModelGroups", pb.ListSdaModelGroupsRequest(**_int_opt(a.sdamodel_group_id)))
    return views.sdamodelgroups_table(reply.groups)


def update_sdamodelgroup_name(conn: Connection, a: Args) -> None:
    conn.call("RenameSdaModelGroup", pb.RenameSdaModelGroupRequest(id=a.sdamodel_group_id, name=a.name))


def update_sdamodelgroup_backendgroup(conn: Connection, a: Args) -> None:
    conn.call("SetSdaModelGroupBackendGroup", pb.SetSdaModelGroupBackendGroupRequest(
        id=a.sdamodel_group_id, backend_group_id=a.backend_group_id))


def update_sdamodelgroup_list(conn: Connection, a: Args) -> None:
    conn.call("SetSdaModelGroupModels", pb.SetSdaModelGroupModelsRequest(
        id=a.sdamodel_group_id, model_ids=a.sdamodel_list))


def add_sdamodelgroup(conn: Connection, a: Args) -> None:
    conn.call("AddModelToSdaModelGroup", pb.SdaModelGroupMemberRequest(id=a.sdamodel_group_id,
                                                                       model_id=a.sdamodel_id))


def remove_sdamodelgroup(conn: Connection, a: Args) -> None:
    conn.call("RemoveModelFromSdaModelGroup", pb.SdaModelGroupMemberRequest(id=a.sdamodel_group_id,
                                                                            model_id=a.sdamodel_id))


# ---------------------------------------------------------------- backends and devices

def _backends(conn: Connection, **request: Any) -> Table:
    return views.backends_table(_items(conn, "ListBackends", pb.ListBackendsRequest(**request), "backends"))


def show_backend(conn: Connection, a: Args) -> Table:
    return _backends(conn)


def show_backend_group(conn: Connection, a: Args) -> Table:
    return _backends(conn, order=pb.BACKEND_ORDER_GROUP)


def show_backend_name(conn: Connection, a: Args) -> Table:
    return _backends(conn, order=pb.BACKEND_ORDER_NAME)


def get_backend_beid(conn: Connection, a: Args) -> Table:
    return _backends(conn, id=a.backend_id)


def get_backend_group(conn: Connection, a: Args) -> Table:
    """By the group's id, or by its name (`default_backend_group`) where that is as clear."""
    word = a.backend_group
    if is_int(word):
        group_id = int(word)
        if not 0 <= group_id < 2**63:
            raise UsageError(f"Invalid backend group {word!r}: expected an id from 0 to {2**63 - 1} or a name.")
    else:
        groups = conn.call("ListBackendGroups", pb.ListBackendGroupsRequest()).groups
        group_id = next((g.id for g in groups if g.name == word), -1)
        if group_id < 0:
            raise ServerError(f"No backend group is named {word!r}.")
    return _backends(conn, group_id=group_id, order=pb.BACKEND_ORDER_NAME)


def get_backend_name(conn: Connection, a: Args) -> Table:
    return _backends(conn, name=a.backend_name)


def create_backend(conn: Connection, a: Args) -> Changed:
    return created(conn.call("CreateBackend", pb.CreateBackendRequest(name=a.host_name, ip=a.ip,
                                                                      device_count=a.device_count)).id)


def delete_backend(conn: Connection, a: Args) -> None:
    conn.call("DeleteBackend", pb.DeleteBackendRequest(id=a.backend_id))


def update_backend_host(conn: Connection, a: Args) -> None:
    conn.call("UpdateBackendHost", pb.UpdateBackendHostRequest(id=a.backend_id, name=a.host_name))


def update_backend_ip(conn: Connection, a: Args) -> None:
    conn.call("UpdateBackendIp", pb.UpdateBackendIpRequest(id=a.backend_id, ip=a.ip))


def _jobs_kept(backend: Any, what: str) -> Note | None:
    """Jobs are never yanked off their devices: say which keep running there."""
    feids = sorted({d.job_id for d in backend.devices if d.job_id})
    if not feids:
        return None
    if len(feids) == 1:
        who = f"job {feids[0]} keeps its devices on {backend.name} until it ends"
    else:
        who = f"jobs {', '.join(map(str, feids))} keep their devices on {backend.name} until they end"
    return Note(f"Note: {who}; {what}")


def ask_update_backend_status(conn: Connection, a: Args) -> str | None:
    if a.status != "SHUTDOWN":
        return None
    backends = list(_items(conn, "ListBackends", pb.ListBackendsRequest(id=a.backend_id), "backends"))
    feids = sorted({d.job_id for b in backends for d in b.devices if d.job_id})
    if not feids:
        return None
    return (f"Shut down backend {backends[0].name} ({a.backend_id}) with {_jobs(len(feids))} on it "
            f"(FeIDs {ranges(feids)})? They keep their devices until they end.")


def update_backend_status(conn: Connection, a: Args) -> Note | None:
    status = cast("pb.BackendStatus", pb.BackendStatus.Value("BACKEND_STATUS_" + a.status))
    backend = conn.call("UpdateBackendStatus", pb.UpdateBackendStatusRequest(id=a.backend_id, status=status))
    if a.status == "SHUTDOWN":
        return _jobs_kept(backend, "no new job is placed there (release to stop now).")
    return None


def update_backend_group(conn: Connection, a: Args) -> Note | None:
    # `null` or no group: back to the default group (id 0).
    group = a.backend_group_id or 0
    backend = conn.call("UpdateBackendGroup", pb.UpdateBackendGroupRequest(id=a.backend_id, group_id=group))
    return _jobs_kept(backend, "new jobs there come from its new group.")


def update_device(conn: Connection, a: Args) -> None:
    status = cast("pb.DeviceStatus", pb.DeviceStatus.Value("DEVICE_STATUS_" + a.status))
    conn.call("UpdateDeviceStatus", pb.UpdateDeviceStatusRequest(backend_id=a.backend_id, index=a.device_index,
                                                                 status=status))


def update_device_all(conn: Connection, a: Args) -> None:
    status = cast("pb.DeviceStatus", pb.DeviceStatus.Value("DEVICE_STATUS_" + a.status))
    conn.call("UpdateAllDeviceStatus", pb.UpdateAllDeviceStatusRequest(backend_id=a.backend_id, status=status))


# ---------------------------------------------------------------- backend groups

def create_backendgroup(conn: Connection, a: Args) -> Message:
    return _group_created(conn.call("CreateBackendGroup", pb.CreateBackendGroupRequest(
        name=a.name, backend_ids=a.backend_list or [])))


def ask_delete_backendgroup(conn: Connection, a: Args) -> str | None:
    if not a.force:
        return None
    groups = conn.call("ListBackendGroups", pb.ListBackendGroupsRequest(id=a.backend_group_id)).groups
    held = [b.name for g in groups for b in g.backends]
    return (f"Force-delete backend group {a.backend_group_id} with {len(held)} backends ({_few(held)})?"
            if held else None)


def delete_backendgroup(conn: Connection, a: Args) -> None:
    conn.call("DeleteBackendGroup", pb.DeleteBackendGroupRequest(id=a.backend_group_id, force=bool(a.force)))


def show_backendgroup(conn: Connection, a: Args) -> Table:
    reply = conn.call("ListBackendGroups", pb.ListBackendGroupsRequest(**_int_opt(a.backend_group_id)))
    return views.backendgroups_table(reply.groups)


def update_backendgroup_name(conn: Connection, a: Args) -> None:
    conn.call("RenameBackendGroup", pb.RenameBackendGroupRequest(id=a.backend_group_id, name=a.name))


def update_backendgroup_list(conn: Connection, a: Args) -> None:
    conn.call("SetBackendGroupBackends", pb.SetBackendGroupBackendsRequest(id=a.backend_group_id,
                                                                           backend_ids=a.backend_list))


def add_backendgroup(conn: Connection, a: Args) -> None:
    conn.call("AddBackendToBackendGroup", pb.BackendGroupMemberRequest(id=a.backend_group_id,
                                                                       backend_id=a.backend_id))


def remove_backendgroup(conn: Connection, a: Args) -> None:
    conn.call("RemoveBackendFromBackendGroup", pb.BackendGroupMemberRequest(id=a.backend_group_id,
                                                                            backend_id=a.backend_id))


# ---------------------------------------------------------------- user groups and memberships

def looks_like_token(word: str) -> bool:
    """The original's token shape: base64 of a few characters and 13 digits
    (`YmFidTE2NjcyOTE2NTI0MjU=` is `babu1667291652425`)."""
    if not 16 <= len(word) <= 64 or len(word) % 4:
        return False
    try:
        text = base64.b64decode(word.replace("-", "+").replace("_", "/"), validate=True).decode()
    except (ValueError, UnicodeDecodeError):
        return False
    return len(text) >= 13 and text[-13:].isascii() and text[-13:].isdigit()


def _all_tokens(conn: Connection, words: list[str]) -> bool:
    for word in words:
        try:
            conn.call("GetToken", pb.GetTokenRequest(token=word))
        except ServerError:
            return False
    return True


def create_usergroup(conn: Connection, a: Args) -> Message:
    description, tokens = a.description or "", a.token_list or []
    if a.description_or_tokens is not None:
        # `create usergroup {name} X`: the manual's token list if every item
        # of X is a token, else the guide's description.  Items that all look
        # like tokens are a list even when one is not known: SDAManager then
        # refuses the unknown token, rather than a mistyped token quietly
        # becoming the group's description.
        items = a.description_or_tokens.split(",")
        if a.description_or_tokens.lower() == "null":
            tokens = []
        elif all(items) and (all(map(looks_like_token, items)) or _all_tokens(conn, items)):
            tokens = items
        else:
            description = a.description_or_tokens
    note = (f"Note: {description!r} is the group's description (no token is so named); the group has no "
            f"members yet (add usergroup ID TOKEN)." if a.description_or_tokens is not None and not tokens
            and description else "")
    return _group_created(conn.call("CreateUserGroup", pb.CreateUserGroupRequest(
        name=a.name, description=description, tokens=tokens)), note)


def ask_delete_usergroup(conn: Connection, a: Args) -> str | None:
    if not a.force:
        return None
    groups = conn.call("ListUserGroups", pb.ListUserGroupsRequest(id=a.user_group_id)).groups
    held = [t for g in groups for t in g.tokens]
    return (f"Force-delete user group {a.user_group_id} with {len(held)} tokens ({_few(held)})?"
            if held else None)


def delete_usergroup(conn: Connection, a: Args) -> None:
    conn.call("DeleteUserGroup", pb.DeleteUserGroupRequest(id=a.user_group_id, force=bool(a.force)))


def show_usergroup(conn: Connection, a: Args) -> Table:
    reply = conn.call("ListUserGroups", pb.ListUserGroupsRequest(**_int_opt(a.user_group_id)))
    return views.usergroups_table(reply.groups)


def update_usergroup_name(conn: Connection, a: Args) -> None:
    conn.call("RenameUserGroup", pb.RenameUserGroupRequest(id=a.user_group_id, name=a.name))


def ask_update_usergroup_list(conn: Connection, a: Args) -> str | None:
    groups = conn.call("ListUserGroups", pb.ListUserGroupsRequest(id=a.user_group_id)).groups
    dropped = [t for g in groups for t in g.tokens if t not in a.token_list]
    if not dropped:
        return None
    return f"Remove {len(dropped)} token{'s' * (len(dropped) != 1)} from user group {a.user_group_id} " \
           f"({_few(dropped)})?"


def update_usergroup_list(conn: Connection, a: Args) -> None:
    conn.call("SetUserGroupTokens", pb.SetUserGroupTokensRequest(id=a.user_group_id, tokens=a.token_list))


def add_usergroup(conn: Connection, a: Args) -> None:
    conn.call("AddTokenToUserGroup", pb.UserGroupMemberRequest(id=a.user_group_id, token=a.token))


def remove_usergroup(conn: Connection, a: Args) -> None:
    conn.call("RemoveTokenFromUserGroup", pb.UserGroupMemberRequest(id=a.user_group_id, token=a.token))


def add_membership(conn: Connection, a: Args) -> None:
    conn.call("AddMembership", pb.MembershipRequest(user_group_id=a.user_group_id,
                                                    model_group_id=a.sdamodel_group_id))


def remove_membership(conn: Connection, a: Args) -> None:
    conn.call("RemoveMembership", pb.MembershipRequest(user_group_id=a.user_group_id,
                                                       model_group_id=a.sdamodel_group_id))


def show_membership(conn: Connection, a: Args) -> Table:
    request = pb.ListMembershipsRequest()
    if a.user_group_id is not None:
        request.user_group_id = a.user_group_id
    return views.memberships_table(conn.call("ListMemberships", request).memberships)


def show_relationship(conn: Connection, a: Args) -> Table:
    request = pb.ListRelationshipsRequest()
    if a.user_group_id is not None:
        request.user_group_id = a.user_group_id
    return views.relationships_table(conn.call("ListRelationships", request).relationships)


# ---------------------------------------------------------------- jobs

def show_job(conn: Connection, a: Args) -> Table:
    request = pb.ListJobsRequest()
    status = a.status_of_job or (a.where.equal("status") if a.where is not None else None)
    if status and "JOB_STATUS_" + status in pb.JobStatus.keys():  # a filter's `status = RUNNING` too
        request.status = cast("pb.JobStatus", pb.JobStatus.Value("JOB_STATUS_" + status))
    return views.jobs_table(_items(conn, "ListJobs", request, "jobs"))


def get_job_feid(conn: Connection, a: Args) -> Table:
    return views.job_detail_table(conn.call("GetJob", pb.GetJobRequest(feid=a.frontend_id)))


def get_job_token(conn: Connection, a: Args) -> list[Any]:
    jobs = list(_items(conn, "ListJobs", pb.ListJobsRequest(token=a.token), "jobs"))
    if not jobs:
        raise ServerError("The token has no job in the job queue.")
    return [views.job_detail_table(j) for j in jobs]


def update_job_priority(conn: Connection, a: Args) -> None:
    conn.call("UpdateJobPriority", pb.UpdateJobPriorityRequest(feid=a.frontend_id, priority=a.priority))


def _release_request(a: Args) -> pb.ReleaseRequest:
    target = a.token_or_frontend_id
    if is_int(target):
        feid = int(target)
        if not 0 < feid < 2**63:
            raise UsageError(f"Invalid frontend id {target!r}: expected an id from 1 to {2**63 - 1}.")
        request = pb.ReleaseRequest(feid=feid)
    else:
        request = pb.ReleaseRequest(token=target)
    if a.sda_id is not None:
        request.sda_id = a.sda_id
    return request


def release(conn: Connection, a: Args) -> Changed:
    return _released(conn.call("Release", _release_request(a)))


def release_all(conn: Connection, a: Args) -> Changed:
    return _released(conn.call("ReleaseAll", pb.ReleaseAllRequest()))


def _released(reply: Any) -> Changed:
    feids = sorted(reply.released_feids)
    return Changed(counted(feids, "job", "released"), {"released": feids}, len(feids) > 1)


def ask_release(conn: Connection, a: Args) -> str | None:
    request = _release_request(a)
    if request.HasField("feid"):
        return None  # one job
    jobs = [j for j in _items(conn, "ListJobs", pb.ListJobsRequest(token=request.token), "jobs")
            if not request.HasField("sda_id") or j.sda_id == request.sda_id]
    if len(jobs) < 2:
        return None
    of_sda = f" on SDA {request.sda_id}" if request.HasField("sda_id") else ""
    return f"Release {_jobs(len(jobs))} of token {request.token}{of_sda} (FeIDs {ranges(j.feid for j in jobs)})?"


def ask_release_all(conn: Connection, a: Args) -> str | None:
    jobs = list(_items(conn, "ListJobs", pb.ListJobsRequest(), "jobs"))
    if len(jobs) < 2:
        return None
    tokens = len({j.token for j in jobs})
    return (f"Release {_jobs(len(jobs))} of {tokens} token{'s' * (tokens != 1)} "
            f"(FeIDs {ranges(j.feid for j in jobs)})?")


# Listings are made into rows page by page as they stream in: a page's messages
# are dropped once its rows are made, never held for the whole listing.

def _history_count(a: Args) -> int:
    """The newest N jobs: the count given, or a filter's `limit N` alone."""
    limit = a.where.pushed_limit() if a.where is not None else 0
    given = a.count_of_history or 0
    return min(given, limit) if given and limit else (given or limit)


def show_history(conn: Connection, a: Args) -> Table:
    jobs = _items(conn, "ListHistory", pb.ListHistoryRequest(count=_history_count(a)), "jobs")
    return views.history_table(jobs)


def show_history_device(conn: Connection, a: Args) -> Table:
    jobs = _items(conn, "ListHistory", pb.ListHistoryRequest(count=_history_count(a)), "jobs")
    return views.history_table(jobs, devices=True)


def get_history_feid(conn: Connection, a: Args) -> Table:
    return views.job_detail_table(conn.call("GetHistory", pb.GetHistoryRequest(feid=a.frontend_id)))


def get_history_token(conn: Connection, a: Args) -> Table:
    request = pb.ListHistoryRequest(token=a.token, count=_history_count(a))
    return views.history_table(_items(conn, "ListHistory", request, "jobs"), devices=True)


# ---------------------------------------------------------------- versions and workers

def create_version(conn: Connection, a: Args) -> Changed:
    version = conn.call("CreateVersion", pb.CreateVersionRequest(version=a.version, path=a.installed_path))
    return Changed("", {"version": version.version}, many=False)


def delete_version(conn: Connection, a: Args) -> None:
    conn.call("DeleteVersion", pb.DeleteVersionRequest(version=a.version))


def show_version(conn: Connection, a: Args) -> Table:
    return views.versions_table(conn.call("ListVersions", pb.ListVersionsRequest(version=a.version or "")).versions)


def _version_text(method: str, field: str) -> Any:
    def handler(conn: Connection, a: Args) -> None:
        conn.call(method, pb.UpdateVersionTextRequest(version=a.version, value=getattr(a, field)))

    handler.__name__ = method
    return handler


update_version_health_check = _version_text("UpdateVersionHealthCheck", "command")
update_version_path = _version_text("UpdateVersionPath", "installed_path")
update_version_query = _version_text("UpdateVersionQuery", "command")
update_version_worker = _version_text("UpdateVersionWorker", "command")


def update_version_support(conn: Connection, a: Args) -> None:
    conn.call("UpdateVersionSupport", pb.UpdateVersionSupportRequest(version=a.version, supported=a.supported))


def update_version_latest(conn: Connection, a: Args) -> None:
    conn.call("SetLatestVersion", pb.SetLatestVersionRequest(version=a.version))


def add_worker_env(conn: Connection, a: Args) -> None:
    conn.call("AddWorkerEnv", pb.AddWorkerEnvRequest(version=a.version, name=a.name, value=a.value))


def remove_worker_env(conn: Connection, a: Args) -> None:
    conn.call("RemoveWorkerEnv", pb.RemoveWorkerEnvRequest(version=a.version, name=a.name))


# ---------------------------------------------------------------- usage, events, server

def show_usage(conn: Connection, a: Args) -> Table:
    def stamp(date: str, clock: str, label: str) -> Timestamp:
        try:
            # hh:mm:ss, or hh:mm for the minute's start
            form = "%Y-%m-%d %H:%M:%S" if clock.count(":") == 2 else "%Y-%m-%d %H:%M"
            moment = dt.datetime.strptime(f"{date} {clock}", form)
            ts = Timestamp()
            ts.FromDatetime(moment.astimezone(dt.timezone.utc))
        except (ValueError, OverflowError, OSError):
            raise UsageError(f"Invalid {label} {date} {clock}: expected a time YYYY-MM-DD hh:mm:ss "
                             "between 1970 and 9999.") from None
        return ts

    begin = stamp(a.begin_date, a.begin_time, "begin")
    end = stamp(a.end_date, a.end_time, "end")
    report = conn.call("GetUsage", pb.GetUsageRequest(begin=begin, end=end, token=a.token or ""))
    return views.usage_table(report)


def show_eventlog(conn: Connection, a: Args) -> Table:
    request = pb.ListEventsRequest()
    where = a.where
    if where is not None:  # what SDAManager can filter itself (the filter is applied after too)
        request.token = where.equal("token") or ""
        action = where.equal("action") or ""
        request.action = action if action == action.upper() else ""  # SDAManager ignores its case
        pushed = ["token"] + ["action"] * bool(request.action)
        request.count = where.pushed_limit(pushed)
    return views.events_table(_items(conn, "ListEvents", request, "events"))


def show_server_version(conn: Connection, a: Args) -> Table:
    return server_version_table(conn.call("GetServerVersion", pb.GetServerVersionRequest()))


def server_version_table(v: Any) -> Table:
    return views.name_value_table([
        ("Name", v.name), ("Version", v.version), ("API", v.api_version),
        ("Start time", views.when(v.start_time)), ("Latest client version", v.latest_client_version),
    ])


# ---------------------------------------------------------------- what bulk changes say

def ranges(ids: Iterable[int], most: int = 12) -> str:
    """`1-10, 15, 20-22`: ids as runs, at most `most` of them, then how many more."""
    runs: list[list[int]] = []
    for n in sorted(set(ids)):
        if runs and n == runs[-1][1] + 1:
            runs[-1][1] = n
        else:
            runs.append([n, n])
    shown = [f"{lo}" if lo == hi else f"{lo}-{hi}" for lo, hi in runs[:most]]
    if len(runs) > most:
        shown.append(f"and {sum(hi - lo + 1 for lo, hi in runs[most:])} more")
    return ", ".join(shown)


def counted(ids: list[int], noun: str, done: str) -> str:
    """`10 jobs released: 1-10`, `No job released.`"""
    if not ids:
        return f"No {noun} {done}."
    return f"{len(ids)} {noun}{'s' * (len(ids) != 1)} {done}: {ranges(ids)}"


def _jobs(n: int) -> str:
    return f"{n} job{'s' * (n != 1)}"


def _few(names: list[str], most: int = 5) -> str:
    return ", ".join(names[:most]) + (f" and {len(names) - most} more" if len(names) > most else "")
