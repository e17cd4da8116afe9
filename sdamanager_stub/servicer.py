"""The gRPC face of the rules: one table, request in, one domain operation, message out.

Every method of sdamanager.v1.SDAManager is a row of RPCS: the operation of
the rules it calls, how the request becomes that operation's arguments, and
how the result becomes the response (or, for a listing, the pages of it).
The operation and the conversion of its result run as one domain read
(`SDAManager.read`), on the event loop that owns the state (owner.py), so a
caller sees one consistent state as of now; the answer waits for what the
operation journalled to be on disk (`durably`).  Nothing here decides a rule.
Domain errors become status codes with the rule's reason as the detail;
anything else is a bug, logged and answered INTERNAL.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Hashable, Iterable, Iterator
from operator import attrgetter
from typing import Any, NamedTuple, TypeVar

import grpc
import grpc.aio

from smclient.api import sdamanager_pb2 as pb

from .audit import bounded, request_peer
from .convert import (
    Converter,
    Names,
    access_level,
    backend_status,
    device_status,
    job_status,
    seconds,
    usage_report,
)
from .entities import Job
from .errors import (
    AlreadyExists,
    DomainError,
    FailedPrecondition,
    Internal,
    InvalidArgument,
    NotFound,
    PermissionDenied,
    ResourceExhausted,
)
from .manager import SDAManager
from .owner import durably

log = logging.getLogger(__name__)

T = TypeVar("T")

SERVICE = pb.DESCRIPTOR.services_by_name["SDAManager"]

STATUS_OF: dict[type[DomainError], grpc.StatusCode] = {
    InvalidArgument: grpc.StatusCode.INVALID_ARGUMENT,
    NotFound: grpc.StatusCode.NOT_FOUND,
    PermissionDenied: grpc.StatusCode.PERMISSION_DENIED,
    AlreadyExists: grpc.StatusCode.ALREADY_EXISTS,
    FailedPrecondition: grpc.StatusCode.FAILED_PRECONDITION,
    ResourceExhausted: grpc.StatusCode.RESOURCE_EXHAUSTED,
    Internal: grpc.StatusCode.INTERNAL,
}

DEFAULT_PAGE = 1000
MAX_PAGE = 10_000
# A page is at most this big: a client that stops reading holds one page of the server's memory.
PAGE_BYTES = 256 * 1024
TURN = 0.002  # seconds of converting a listing before the other calls get a turn


def status_for(err: DomainError) -> grpc.StatusCode:
    for cls in type(err).__mro__:
        if cls in STATUS_OF:
            return STATUS_OF[cls]
    return grpc.StatusCode.FAILED_PRECONDITION


# ---------------------------------------------------------------- the rows

Arguments = Callable[[Any], tuple[Any, ...]]  # request -> the operation's positional arguments
Operation = str | Callable[..., Any]  # a method name of SDAManager, or f(manager, *arguments)


class Unary(NamedTuple):
    """One request, one response: `present(converter, result, arguments)` makes the response."""

    operation: Operation
    arguments: Arguments
    present: Callable[[Converter, Any, tuple[Any, ...]], Any]


class Listing(NamedTuple):
    """A server-streamed listing: each item converted by the Converter's method `item`,
    sent in pages made by `page(items)`.

    `detach(items)`, for the big listings: copies of the listed records that
    later changes do not reach, taken in the read with the `Names` their
    messages show; the conversion then runs page by page as the client takes
    them, other calls served in between, and `key` names each message kept
    serialized (Wire).  Without them, the records are converted in the read.
    """

    operation: Operation
    arguments: Arguments
    item: str
    page: Callable[[list[Any]], Any]
    detach: Callable[[list[Any]], list[Any]] | None = None
    # What names a record's message for good (an ended job's FeID, a live job's
    # whole state): messages are then kept serialized (Wire) and a listing of
    # records already seen is bytes joined, not converted again.
    key: Callable[[Any], Hashable] | None = None


def record(kind: str) -> Callable[[Converter, Any, tuple[Any, ...]], Any]:
    """The result is one record: the response is the Converter's `kind` of it."""
    return lambda c, result, _: getattr(c, kind)(result)


def records(kind: str, wrap: Callable[[list[Any]], Any]) -> Callable[[Converter, Any, tuple[Any, ...]], Any]:
    """The result is a list of records, answered in one message."""
    return lambda c, result, _: wrap([getattr(c, kind)(item) for item in result])


def ack(c: Converter, result: Any, arguments: tuple[Any, ...]) -> pb.Ack:
    return pb.Ack()


def released(c: Converter, feids: list[int], arguments: tuple[Any, ...]) -> pb.ReleaseResponse:
    return pb.ReleaseResponse(released_feids=feids)


def membership_of(c: Converter, result: Any, arguments: tuple[Any, ...]) -> pb.Membership:
    """After a membership changes: the user group's memberships (its id is the first argument)."""
    return c.membership_of(arguments[0])


def states(jobs: list[Job]) -> list[tuple[Any, ...]]:
    """Live jobs change: their states as of now (each also names its message in Wire)."""
    return [job.state() for job in jobs]


def itself(record: Any) -> Any:
    return record


def as_they_are(records: list[Any]) -> list[Any]:
    """Ended jobs and events never change: the list the rules made is already a view."""
    return records


def _opt(request: Any, field: str) -> int | None:
    return getattr(request, field) if request.HasField(field) else None


def _id_or_all(request: Any, field: str, what: str) -> int:
    """An optional id where unset means "all" (0 to the rules); a set id must be positive."""
    value = _opt(request, field)
    if value is not None and value <= 0:
        raise InvalidArgument(f"{what} must be a positive id (got {value}).")
    return value or 0


def _count(request: Any, what: str) -> int:
    count: int = request.count  # an int32 field of the request message
    if count < 0:
        raise InvalidArgument(f"{what} must be 0 or more (got {count}).")
    return count


def _interval(request: Any) -> tuple[float, float, str]:
    if not request.HasField("begin") or not request.HasField("end"):
        raise InvalidArgument("Usage needs a begin and an end time.")
    return seconds(request.begin), seconds(request.end), request.token


def _release_target(request: Any) -> tuple[int, str, int]:
    target = request.WhichOneof("target")
    if target is None:
        raise InvalidArgument("Release needs a frontend id or a token.")
    return (request.feid if target == "feid" else 0, request.token if target == "token" else "",
            _opt(request, "sda_id") or 0)


_BACKEND_ORDER = {pb.BACKEND_ORDER_GROUP: "group", pb.BACKEND_ORDER_NAME: "name"}

_TOKEN, _SDA, _MODEL, _MODEL_GROUP = record("token"), record("sda"), record("model"), record("model_group")
_BACKEND, _BACKEND_GROUP, _USER_GROUP = record("backend"), record("backend_group"), record("user_group")
_JOB, _VERSION = record("job"), record("version")
_DEVICES, _MENU = record("device_report"), record("model_choices")


def _devices_after(c: Converter, result: Any, arguments: tuple[Any, ...]) -> pb.DeviceReport:
    """After a change of the customer's devices: the token's devices (the token is the first argument)."""
    return c.device_report(c.m.device_view(arguments[0]))


def _menu_after(c: Converter, result: Any, arguments: tuple[Any, ...]) -> pb.ModelChoices:
    """After a switch of model: the token's menu."""
    return c.model_choices(c.m.model_menu(arguments[0]))


RPCS: dict[str, Unary | Listing] = {
    # ---- server
    "GetServerVersion": Unary("latest_version", lambda r: (), lambda c, latest, _: c.server_version(latest)),
    # ---- tokens
    "CreateToken": Unary("create_token", lambda r: (r.description, r.priority), _TOKEN),
    "DeleteToken": Unary("delete_token", lambda r: (r.token,), ack),
    "GetToken": Unary("token", lambda r: (r.token,), _TOKEN),
    "ListTokens": Listing("list_tokens", lambda r: (r.running_only,), "token", lambda p: pb.TokenPage(tokens=p)),
    "UpdateTokenPriority": Unary("update_token_priority", lambda r: (r.token, r.priority), _TOKEN),
    "UpdateTokenDescription": Unary("update_token_description", lambda r: (r.token, r.description), _TOKEN),
    "UpdateTokenAccessLevel": Unary("update_token_access_level",
                                    lambda r: (r.token, access_level(r.access_level)), _TOKEN),
    "UpdateTokenMaxSda": Unary("update_token_max_sda", lambda r: (r.token, r.max_sda), _TOKEN),
    "UpdateTokenCurrentSda": Unary("update_token_current_sda", lambda r: (r.token, r.sda_id), _TOKEN),
    "UpdateTokenDuplicable": Unary("update_token_duplicable", lambda r: (r.token, r.duplicable), _TOKEN),
    "AddTokenEnv": Unary("add_token_env", lambda r: (r.token, r.name, r.value), _TOKEN),
    "RemoveTokenEnv": Unary("remove_token_env", lambda r: (r.token, r.name), _TOKEN),
    # ---- SDAs
    "CreateSda": Unary("create_sda", lambda r: (r.token, r.description, r.model_id,
                                                _opt(r, "model_group_id") or 0, r.reserved), _SDA),
    "UpdateSda": Unary("update_sda", lambda r: (r.token, r.model_id, _opt(r, "model_group_id") or 0,
                                                _opt(r, "sda_id") or 0), _SDA),
    "DeleteSda": Unary("delete_sda", lambda r: (r.token, _id_or_all(r, "sda_id", "SDA ID")),
                       lambda c, ids, _: pb.DeleteSdaResponse(deleted_ids=ids)),
    "ListSdas": Listing("list_sdas", lambda r: (r.token, r.running_only, r.order == pb.SDA_ORDER_TOKEN), "sda",
                        lambda p: pb.SdaPage(sdas=p)),
    # ---- SDA models and groups
    "CreateSdaModel": Unary("create_sdamodel", lambda r: (r.name, r.devices, r.description), _MODEL),
    "DeleteSdaModel": Unary("delete_sdamodel", lambda r: (r.id,), ack),
    "ListSdaModels": Unary(lambda m, token: m.allowed_models(token) if token else m.list_models(),
                           lambda r: (r.token,), records("model", lambda ms: pb.ListSdaModelsResponse(models=ms))),
    "CreateSdaModelGroup": Unary("create_sdamodelgroup", lambda r: (r.name, r.backend_group_id, list(r.model_ids)),
                                 _MODEL_GROUP),
    "DeleteSdaModelGroup": Unary("delete_sdamodelgroup", lambda r: (r.id, r.force), ack),
    "ListSdaModelGroups": Unary("list_model_groups", lambda r: (_opt(r, "id"),),
                                records("model_group", lambda gs: pb.ListSdaModelGroupsResponse(groups=gs))),
    "RenameSdaModelGroup": Unary("rename_sdamodelgroup", lambda r: (r.id, r.name), _MODEL_GROUP),
    "SetSdaModelGroupBackendGroup": Unary("set_sdamodelgroup_backendgroup", lambda r: (r.id, r.backend_group_id),
                                          _MODEL_GROUP),
    "SetSdaModelGroupModels": Unary("set_sdamodelgroup_models", lambda r: (r.id, list(r.model_ids)), _MODEL_GROUP),
    "AddModelToSdaModelGroup": Unary("add_sdamodelgroup_model", lambda r: (r.id, r.model_id), _MODEL_GROUP),
    "RemoveModelFromSdaModelGroup": Unary("remove_sdamodelgroup_model", lambda r: (r.id, r.model_id), _MODEL_GROUP),
    # ---- backends and devices
    "CreateBackend": Unary("create_backend", lambda r: (r.name, r.ip, r.device_count), _BACKEND),
    "DeleteBackend": Unary("delete_backend", lambda r: (r.id,), ack),
    "ListBackends": Listing("list_backends", lambda r: (_BACKEND_ORDER.get(r.order, "id"), _opt(r, "id"),
                                                        _opt(r, "group_id"), r.name),
                            "backend", lambda p: pb.BackendPage(backends=p)),
    "UpdateBackendHost": Unary("update_backend_host", lambda r: (r.id, r.name), _BACKEND),
    "UpdateBackendIp": Unary("update_backend_ip", lambda r: (r.id, r.ip), _BACKEND),
    "UpdateBackendStatus": Unary("update_backend_status", lambda r: (r.id, backend_status(r.status)), _BACKEND),
    "UpdateBackendGroup": Unary("update_backend_group", lambda r: (r.id, r.group_id), _BACKEND),
    "UpdateDeviceStatus": Unary("update_device_status",
                                lambda r: (r.backend_id, r.index, device_status(r.status)), _BACKEND),
    "UpdateAllDeviceStatus": Unary("update_all_device_status", lambda r: (r.backend_id, device_status(r.status)),
                                   _BACKEND),
    # ---- backend groups
    "CreateBackendGroup": Unary("create_backendgroup", lambda r: (r.name, list(r.backend_ids)), _BACKEND_GROUP),
    "DeleteBackendGroup": Unary("delete_backendgroup", lambda r: (r.id, r.force), ack),
    "ListBackendGroups": Unary("list_backend_groups", lambda r: (_opt(r, "id"),),
                               records("backend_group", lambda gs: pb.ListBackendGroupsResponse(groups=gs))),
    "RenameBackendGroup": Unary("rename_backendgroup", lambda r: (r.id, r.name), _BACKEND_GROUP),
    "SetBackendGroupBackends": Unary("set_backendgroup_backends", lambda r: (r.id, list(r.backend_ids)),
                                     _BACKEND_GROUP),
    "AddBackendToBackendGroup": Unary("add_backendgroup_backend", lambda r: (r.id, r.backend_id), _BACKEND_GROUP),
    "RemoveBackendFromBackendGroup": Unary("remove_backendgroup_backend", lambda r: (r.id, r.backend_id),
                                           _BACKEND_GROUP),
    # ---- user groups, memberships, relationships
    "CreateUserGroup": Unary("create_usergroup", lambda r: (r.name, r.description, list(r.tokens)), _USER_GROUP),
    "DeleteUserGroup": Unary("delete_usergroup", lambda r: (r.id, r.force), ack),
    "ListUserGroups": Unary("list_user_groups", lambda r: (_opt(r, "id"),),
                            records("user_group", lambda gs: pb.ListUserGroupsResponse(groups=gs))),
    "RenameUserGroup": Unary("rename_usergroup", lambda r: (r.id, r.name), _USER_GROUP),
    "SetUserGroupTokens": Unary("set_usergroup_tokens", lambda r: (r.id, list(r.tokens)), _USER_GROUP),
    "AddTokenToUserGroup": Unary("add_usergroup_token", lambda r: (r.id, r.token), _USER_GROUP),
    "RemoveTokenFromUserGroup": Unary("remove_usergroup_token", lambda r: (r.id, r.token), _USER_GROUP),
    "AddMembership": Unary("add_membership", lambda r: (r.user_group_id, r.model_group_id), membership_of),
    "RemoveMembership": Unary("remove_membership", lambda r: (r.user_group_id, r.model_group_id), membership_of),
    "ListMemberships": Unary("list_memberships", lambda r: (_opt(r, "user_group_id"),),
                             lambda c, rows, _: pb.ListMembershipsResponse(
                                 memberships=[c.membership(g, mgs) for g, mgs in rows])),
    "ListRelationships": Unary("list_memberships", lambda r: (_opt(r, "user_group_id"),),
                               lambda c, rows, _: pb.ListRelationshipsResponse(
                                   relationships=[c.relationship(g, mgs) for g, mgs in rows])),
    # ---- jobs and history
    "ListJobs": Listing("list_jobs", lambda r: (job_status(r.status) if r.HasField("status") else None, r.token),
                        "job_state", lambda p: pb.JobPage(jobs=p), states, key=itself),
    "GetJob": Unary("job", lambda r: (r.feid,), _JOB),
    "UpdateJobPriority": Unary("update_job_priority", lambda r: (r.feid, r.priority), _JOB),
    "Release": Unary("release", _release_target, released),
    "ReleaseAll": Unary("release_all", lambda r: (), released),
    "ListHistory": Listing("list_history", lambda r: (_count(r, "Count of history"), r.token), "job",
                           lambda p: pb.JobPage(jobs=p), as_they_are, key=attrgetter("feid")),
    "GetHistory": Unary("history_job", lambda r: (r.feid,), _JOB),
    # ---- versions
    "CreateVersion": Unary("create_version", lambda r: (r.version, r.path), _VERSION),
    "DeleteVersion": Unary("delete_version", lambda r: (r.version,), ack),
    "ListVersions": Unary("list_versions", lambda r: (r.version,),
                          records("version", lambda vs: pb.ListVersionsResponse(versions=vs))),
    "UpdateVersionHealthCheck": Unary("update_version_health_check", lambda r: (r.version, r.value), _VERSION),
    "UpdateVersionPath": Unary("update_version_path", lambda r: (r.version, r.value), _VERSION),
    "UpdateVersionQuery": Unary("update_version_query", lambda r: (r.version, r.value), _VERSION),
    "UpdateVersionWorker": Unary("update_version_worker", lambda r: (r.version, r.value), _VERSION),
    "UpdateVersionSupport": Unary("update_version_support", lambda r: (r.version, r.supported), _VERSION),
    "SetLatestVersion": Unary("set_latest_version", lambda r: (r.version,), _VERSION),
    "AddWorkerEnv": Unary("add_worker_env", lambda r: (r.version, r.name, r.value), _VERSION),
    "RemoveWorkerEnv": Unary("remove_worker_env", lambda r: (r.version, r.name), _VERSION),
    # ---- usage and audit
    "GetUsage": Unary("usage", _interval, lambda c, report, _: usage_report(report)),
    "ListEvents": Listing("list_events", lambda r: (r.token, r.action, _count(r, "Count")), "event",
                          lambda p: pb.EventPage(events=p), as_they_are, key=attrgetter("id")),
    # ---- the VM side
    "RequestDevices": Unary("request_devices", lambda r: (r.token, r.client_pid, r.process_name, r.client,
                                                          r.version, _opt(r, "sda_id") or 0), _JOB),
    "ReportRunning": Unary("report_running", lambda r: (r.feid, r.token), _JOB),
    "FinishJob": Unary("finish_job", lambda r: (r.feid, r.failed, r.reason, r.token), _JOB),
    # ---- the customer's side (moreh-smi, moreh-switch-model): each change answers the view after it
    "GetDevices": Unary("device_view", lambda r: (r.token,), _DEVICES),
    "ListModelChoices": Unary("model_menu", lambda r: (r.token,), _MENU),
    "SwitchModel": Unary("switch_model", lambda r: (r.token, r.model_id, _opt(r, "model_group_id") or 0,
                                                    _opt(r, "sda_id") or 0), _menu_after),
    "AddDevice": Unary("add_device", lambda r: (r.token, r.model_id, _opt(r, "model_group_id") or 0),
                       _devices_after),
    "RemoveDevice": Unary("remove_device", lambda r: (r.token, r.sda_id), _devices_after),
    "SwitchDevice": Unary("switch_device", lambda r: (r.token, r.sda_id), _devices_after),
    "ResetDevice": Unary("reset_device", lambda r: (r.token, _opt(r, "sda_id") or 0), released),
}


# ---------------------------------------------------------------- running a row


class Wire:
    """Serialized messages by the key that names their content (an ended job's FeID,
    a live job's whole state), as last made with these `Names` (a renamed token,
    backend or group makes them again).  A page of them is the bytes of its
    repeated field (tag, length, message each), exactly what serializing the page
    message would give, without converting anything."""

    LIMIT = 250_000  # messages kept; beyond, the cache starts again (the history holds 200,000)

    def __init__(self) -> None:
        self._names: Names | None = None
        self._blobs: dict[Hashable, bytes] = {}

    def blobs(self, records: Iterable[Any], key: Callable[[Any], Hashable], names: Names,
              convert: Callable[[Any], Any]) -> Iterator[bytes]:
        if names != self._names or len(self._blobs) > self.LIMIT:
            self._names, self._blobs = names, {}
        blobs = self._blobs  # this listing's, even if another listing starts a new one
        for record in records:
            number = key(record)
            blob = blobs.get(number)
            if blob is None:
                blob = blobs[number] = convert(record).SerializeToString()
            yield blob


def _varint(n: int) -> bytes:
    out = bytearray()
    while n > 0x7F:
        out.append(n & 0x7F | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)


async def _byte_pages(blobs: Iterable[bytes], page_size: int) -> AsyncIterator[bytes]:
    """_pages for serialized items: each page the bytes of a page message whose field 1
    (the repeated items, as in every page message of the API) holds them.

    Making the items (converting the records not yet in Wire) is the loop's work: every
    TURN seconds of it, the other calls get a turn, so a call waits for a slice of
    another's listing, never the whole of it."""
    size = page_size if 0 < page_size <= MAX_PAGE else DEFAULT_PAGE
    page: list[bytes] = []
    count = used = 0
    turn = time.perf_counter()
    for blob in blobs:
        if count and (count >= size or used + len(blob) > PAGE_BYTES):
            yield b"".join(page)  # sending it is a turn for the others too
            page, count, used = [], 0, 0
            turn = time.perf_counter()
        page += (b"\x0a", _varint(len(blob)), blob)
        count += 1
        used += len(blob)
        if time.perf_counter() - turn > TURN:
            await asyncio.sleep(0)
            turn = time.perf_counter()
    yield b"".join(page)


def _pages(items: Iterable[Any], page_size: int, make: Callable[[list[Any]], Any]) -> Iterator[Any]:
    """Pages of at most `page_size` items and about PAGE_BYTES bytes (at least one item),
    so no page nears a client's 4 MB message limit whatever the items hold."""
    size = page_size if 0 < page_size <= MAX_PAGE else DEFAULT_PAGE
    page: list[Any] = []
    used = 0
    for item in items:
        item_bytes = item.ByteSize()
        if page and (len(page) >= size or used + item_bytes > PAGE_BYTES):
            yield make(page)
            page, used = [], 0
        page.append(item)
        used += item_bytes
    yield make(page)  # an empty listing is one empty page


def _fail(context: grpc.aio.ServicerContext[Any, Any], err: Exception, method: str) -> None:
    """The call's status for a failure; the handler then returns without a response.  (Not
    `abort`: its exception makes a reference cycle in gRPC's call state, garbage that only
    the collector frees, at every refusal.)"""
    if isinstance(err, DomainError):
        context.set_code(status_for(err))
        context.set_details(bounded(str(err)))  # a reason may quote what was sent
        return
    # A bug, not the caller's fault: the log has the traceback, the caller one plain line.
    log.error("internal error in %s", method, exc_info=err)
    context.set_code(grpc.StatusCode.INTERNAL)
    context.set_details(f"Internal error in {method}: see the simulator's log.")


def _peer(context: grpc.aio.ServicerContext[Any, Any]) -> str:
    """Who is calling, for the event log."""
    try:
        return context.peer() or ""
    except (NotImplementedError, AttributeError):
        return ""


class Servicer:
    """The methods of sdamanager.v1.SDAManager, made from RPCS: one coroutine (a listing: an
    async generator of pages) per method, run on the event loop that owns the state."""

    def __init__(self, manager: SDAManager) -> None:
        self.m = manager
        self._wire = {name: Wire() for name, row in RPCS.items() if isinstance(row, Listing) and row.detach}
        for name, row in RPCS.items():
            method = self._listing(name, row) if isinstance(row, Listing) else self._unary(name, row)
            setattr(self, name, method)

    def _run(self, row: Unary | Listing, request: Any, present: Callable[[Converter, Any, tuple[Any, ...]], T]) -> T:
        arguments = row.arguments(request)
        operation = row.operation
        call = (getattr(self.m, operation) if isinstance(operation, str)
                else functools.partial(operation, self.m))
        return self.m.read(lambda: present(Converter(self.m), call(*arguments), arguments))

    def _unary(self, name: str, row: Unary) -> Callable[[Any, grpc.aio.ServicerContext[Any, Any]], Awaitable[Any]]:
        async def unary(request: Any, context: grpc.aio.ServicerContext[Any, Any]) -> Any:
            peer = request_peer.set(_peer(context))
            try:
                return await durably(self.m, lambda: self._run(row, request, row.present))
            except Exception as err:  # every failure becomes a status
                _fail(context, err, name)
                return None
            finally:
                request_peer.reset(peer)

        unary.__name__ = name
        return unary

    def _listing(self, name: str,
                 row: Listing) -> Callable[[Any, grpc.aio.ServicerContext[Any, Any]], AsyncIterator[Any]]:
        def converted(c: Converter, items: Any, _: tuple[Any, ...]) -> list[Any]:
            return [getattr(c, row.item)(item) for item in items]

        def detached(c: Converter, items: Any, _: tuple[Any, ...]) -> tuple[list[Any], Names]:
            detach = row.detach
            assert detach is not None  # used only for a row that detaches (below)
            return detach(items), Names.of(self.m)

        async def listing(request: Any, context: grpc.aio.ServicerContext[Any, Any]) -> AsyncIterator[Any]:
            try:
                if row.detach is None:
                    messages = await durably(self.m, lambda: self._run(row, request, converted))
                    for page in _pages(messages, request.page_size, row.page):
                        yield page
                else:  # converted as the pages go out, other callers served in between
                    records, names = await durably(self.m, lambda: self._run(row, request, detached))
                    convert = getattr(Converter(self.m, names), row.item)
                    assert row.key is not None  # every row that detaches names its messages (RPCS)
                    blobs = self._wire[name].blobs(records, row.key, names, convert)
                    async for blob_page in _byte_pages(blobs, request.page_size):
                        yield blob_page
            except Exception as err:  # every failure becomes a status
                _fail(context, err, name)

        listing.__name__ = name
        return listing


def _serializer(message_type: Any) -> Callable[[Any], bytes]:
    """A message's bytes; a page already serialized (Wire) as it is."""
    serialize = message_type.SerializeToString

    def to_bytes(message: Any) -> bytes:
        return message if type(message) is bytes else serialize(message)

    return to_bytes


def add_to_server(servicer: Servicer, server: grpc.aio.Server) -> None:
    """Register every method of the service through one generic handler made from the descriptor."""
    handlers = {}
    for method in SERVICE.methods:
        request_type = getattr(pb, method.input_type.name)
        response_type = getattr(pb, method.output_type.name)
        make = (grpc.unary_stream_rpc_method_handler if method.server_streaming
                else grpc.unary_unary_rpc_method_handler)
        handlers[method.name] = make(getattr(servicer, method.name), request_deserializer=request_type.FromString,
                                     response_serializer=_serializer(response_type))
    server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler(SERVICE.full_name, handlers),))
