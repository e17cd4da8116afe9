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
from collections.abc import AsyncIterator, Awaitable, Callable, Hashable, Iterable, Iterator, Sized
from typing import Any, NamedTuple, TypeVar

import grpc
import grpc.aio
from google.protobuf.message_factory import GetMessageClass

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

# Each row calls one operation of the rules: `call(manager, request)`, a function that
# reads the request's fields and calls the manager's method with them (so a checker
# sees every call, and what each row reaches); the messages are typed Any (protobuf's
# generated classes have no stubs here).
Call = Callable[[SDAManager, Any], Any]
Present = Callable[[Converter, Any, Any], Any]  # (converter, result, request) -> the response
Convert = Callable[[Converter, Any], Any]  # (converter, record) -> its message: a method of Converter


class Unary(NamedTuple):
    """One request, one response: `present(converter, result, request)` makes the response."""

    call: Call
    present: Present


class Listing(NamedTuple):
    """A server-streamed listing: each item converted by `item` (a Converter method),
    sent in pages made by `page(items)`.

    `detach(items)`, for the big listings: copies of the listed records that
    later changes do not reach, taken in the read with the `Names` their
    messages show; the conversion then runs page by page as the client takes
    them, other calls served in between.  `key` (the live jobs) names each
    message kept serialized (Wire); the archive's records (ended jobs, events)
    come with their messages, kept in its tables.  Without `detach`, the records
    are converted in the read.
    """

    call: Call
    item: Convert
    page: Callable[[list[Any]], Any]
    detach: Callable[[Any], Iterable[Any]] | None = None
    # What names a record's message for good (a live job's whole state): messages
    # are then kept serialized (Wire) and a listing of records already seen is
    # bytes joined, not converted again.
    key: Callable[[Any], Hashable] | None = None


def record(convert: Convert) -> Present:
    """The result is one record: the response is `convert` of it."""
    return lambda c, result, _: convert(c, result)


def records(convert: Convert, wrap: Callable[[list[Any]], Any]) -> Present:
    """The result is a list of records, answered in one message."""
    return lambda c, result, _: wrap([convert(c, item) for item in result])


def ack(c: Converter, result: Any, request: Any) -> pb.Ack:
    return pb.Ack()


def released(c: Converter, feids: list[int], request: Any) -> pb.ReleaseResponse:
    return pb.ReleaseResponse(released_feids=feids)


def membership_of(c: Converter, result: Any, request: Any) -> pb.Membership:
    """After a membership changes: the user group's memberships."""
    return c.membership_of(request.user_group_id)


def itself(record: Any) -> Any:
    return record


def as_they_are(records: Iterable[Any]) -> Iterable[Any]:
    """Ended jobs and events never change: what the rules gave (the archive's rows as of
    the read, read page by page as the listing goes) is already a view."""
    return records


def as_sent(c: Converter, message: bytes) -> bytes:
    """An event's message as the archive keeps it, whole."""
    return message


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

_TOKEN, _SDA = record(Converter.token), record(Converter.sda)
_MODEL, _MODEL_GROUP = record(Converter.model), record(Converter.model_group)
_BACKEND, _BACKEND_GROUP = record(Converter.backend), record(Converter.backend_group)
_USER_GROUP = record(Converter.user_group)
_JOB, _VERSION = record(Converter.job), record(Converter.version)
_DEVICES, _MENU = record(Converter.device_report), record(Converter.model_choices)


def _devices_after(c: Converter, result: Any, request: Any) -> pb.DeviceReport:
    """After a change of the customer's devices: the token's devices."""
    return c.device_report(c.m.device_view(request.token))


def _menu_after(c: Converter, result: Any, request: Any) -> pb.ModelChoices:
    """After a switch of model: the token's menu."""
    return c.model_choices(c.m.model_menu(request.token))


RPCS: dict[str, Unary | Listing] = {
    # ---- server
    "GetServerVersion": Unary(lambda m, r: m.latest_version(), lambda c, latest, _: c.server_version(latest)),
    # ---- tokens
    "CreateToken": Unary(lambda m, r: m.create_token(r.description, r.priority), _TOKEN),
    "DeleteToken": Unary(lambda m, r: m.delete_token(r.token), ack),
    "GetToken": Unary(lambda m, r: m.token(r.token), _TOKEN),
    "ListTokens": Listing(lambda m, r: m.list_tokens(r.running_only), Converter.token,
                          lambda p: pb.TokenPage(tokens=p)),
    "UpdateTokenPriority": Unary(lambda m, r: m.update_token_priority(r.token, r.priority), _TOKEN),
    "UpdateTokenDescription": Unary(lambda m, r: m.update_token_description(r.token, r.description), _TOKEN),
    "UpdateTokenAccessLevel": Unary(lambda m, r: m.update_token_access_level(r.token, access_level(r.access_level)),
                                    _TOKEN),
    "UpdateTokenMaxSda": Unary(lambda m, r: m.update_token_max_sda(r.token, r.max_sda), _TOKEN),
    "UpdateTokenCurrentSda": Unary(lambda m, r: m.update_token_current_sda(r.token, r.sda_id), _TOKEN),
    "UpdateTokenDuplicable": Unary(lambda m, r: m.update_token_duplicable(r.token, r.duplicable), _TOKEN),
    "AddTokenEnv": Unary(lambda m, r: m.add_token_env(r.token, r.name, r.value), _TOKEN),
    "RemoveTokenEnv": Unary(lambda m, r: m.remove_token_env(r.token, r.name), _TOKEN),
    # ---- SDAs
    "CreateSda": Unary(lambda m, r: m.create_sda(r.token, r.description, r.model_id, _opt(r, "model_group_id") or 0,
                                                 r.reserved), _SDA),
    "UpdateSda": Unary(lambda m, r: m.update_sda(r.token, r.model_id, _opt(r, "model_group_id") or 0,
                                                 _opt(r, "sda_id") or 0), _SDA),
    "DeleteSda": Unary(lambda m, r: m.delete_sda(r.token, _id_or_all(r, "sda_id", "SDA ID")),
                       lambda c, ids, _: pb.DeleteSdaResponse(deleted_ids=ids)),
    "ListSdas": Listing(lambda m, r: m.list_sdas(r.token, r.running_only, r.order == pb.SDA_ORDER_TOKEN), Converter.sda,
                        lambda p: pb.SdaPage(sdas=p)),
    # ---- SDA models and groups
    "CreateSdaModel": Unary(lambda m, r: m.create_sdamodel(r.name, r.devices, r.description), _MODEL),
    "DeleteSdaModel": Unary(lambda m, r: m.delete_sdamodel(r.id), ack),
    "ListSdaModels": Unary(lambda m, r: m.allowed_models(r.token) if r.token else m.list_models(),
                           records(Converter.model, lambda ms: pb.ListSdaModelsResponse(models=ms))),
    "CreateSdaModelGroup": Unary(lambda m, r: m.create_sdamodelgroup(r.name, r.backend_group_id, list(r.model_ids)),
                                 _MODEL_GROUP),
    "DeleteSdaModelGroup": Unary(lambda m, r: m.delete_sdamodelgroup(r.id, r.force), ack),
    "ListSdaModelGroups": Unary(lambda m, r: m.list_model_groups(_opt(r, "id")),
                                records(Converter.model_group, lambda gs: pb.ListSdaModelGroupsResponse(groups=gs))),
    "RenameSdaModelGroup": Unary(lambda m, r: m.rename_sdamodelgroup(r.id, r.name), _MODEL_GROUP),
    "SetSdaModelGroupBackendGroup": Unary(lambda m, r: m.set_sdamodelgroup_backendgroup(r.id, r.backend_group_id),
                                          _MODEL_GROUP),
    "SetSdaModelGroupModels": Unary(lambda m, r: m.set_sdamodelgroup_models(r.id, list(r.model_ids)), _MODEL_GROUP),
    "AddModelToSdaModelGroup": Unary(lambda m, r: m.add_sdamodelgroup_model(r.id, r.model_id), _MODEL_GROUP),
    "RemoveModelFromSdaModelGroup": Unary(lambda m, r: m.remove_sdamodelgroup_model(r.id, r.model_id), _MODEL_GROUP),
    # ---- backends and devices
    "CreateBackend": Unary(lambda m, r: m.create_backend(r.name, r.ip, r.device_count), _BACKEND),
    "DeleteBackend": Unary(lambda m, r: m.delete_backend(r.id), ack),
    "ListBackends": Listing(lambda m, r: m.list_backends(_BACKEND_ORDER.get(r.order, "id"), _opt(r, "id"),
                                                         _opt(r, "group_id"), r.name),
                            Converter.backend, lambda p: pb.BackendPage(backends=p)),
    "UpdateBackendHost": Unary(lambda m, r: m.update_backend_host(r.id, r.name), _BACKEND),
    "UpdateBackendIp": Unary(lambda m, r: m.update_backend_ip(r.id, r.ip), _BACKEND),
    "UpdateBackendStatus": Unary(lambda m, r: m.update_backend_status(r.id, backend_status(r.status)), _BACKEND),
    "UpdateBackendGroup": Unary(lambda m, r: m.update_backend_group(r.id, r.group_id), _BACKEND),
    "UpdateDeviceStatus": Unary(lambda m, r: m.update_device_status(r.backend_id, r.index, device_status(r.status)),
                                _BACKEND),
    "UpdateAllDeviceStatus": Unary(lambda m, r: m.update_all_device_status(r.backend_id, device_status(r.status)),
                                   _BACKEND),
    # ---- backend groups
    "CreateBackendGroup": Unary(lambda m, r: m.create_backendgroup(r.name, list(r.backend_ids)), _BACKEND_GROUP),
    "DeleteBackendGroup": Unary(lambda m, r: m.delete_backendgroup(r.id, r.force), ack),
    "ListBackendGroups": Unary(lambda m, r: m.list_backend_groups(_opt(r, "id")),
                               records(Converter.backend_group, lambda gs: pb.ListBackendGroupsResponse(groups=gs))),
    "RenameBackendGroup": Unary(lambda m, r: m.rename_backendgroup(r.id, r.name), _BACKEND_GROUP),
    "SetBackendGroupBackends": Unary(lambda m, r: m.set_backendgroup_backends(r.id, list(r.backend_ids)),
                                     _BACKEND_GROUP),
    "AddBackendToBackendGroup": Unary(lambda m, r: m.add_backendgroup_backend(r.id, r.backend_id), _BACKEND_GROUP),
    "RemoveBackendFromBackendGroup": Unary(lambda m, r: m.remove_backendgroup_backend(r.id, r.backend_id),
                                           _BACKEND_GROUP),
    # ---- user groups, memberships, relationships
    "CreateUserGroup": Unary(lambda m, r: m.create_usergroup(r.name, r.description, list(r.tokens)), _USER_GROUP),
    "DeleteUserGroup": Unary(lambda m, r: m.delete_usergroup(r.id, r.force), ack),
    "ListUserGroups": Unary(lambda m, r: m.list_user_groups(_opt(r, "id")),
                            records(Converter.user_group, lambda gs: pb.ListUserGroupsResponse(groups=gs))),
    "RenameUserGroup": Unary(lambda m, r: m.rename_usergroup(r.id, r.name), _USER_GROUP),
    "SetUserGroupTokens": Unary(lambda m, r: m.set_usergroup_tokens(r.id, list(r.tokens)), _USER_GROUP),
    "AddTokenToUserGroup": Unary(lambda m, r: m.add_usergroup_token(r.id, r.token), _USER_GROUP),
    "RemoveTokenFromUserGroup": Unary(lambda m, r: m.remove_usergroup_token(r.id, r.token), _USER_GROUP),
    "AddMembership": Unary(lambda m, r: m.add_membership(r.user_group_id, r.model_group_id), membership_of),
    "RemoveMembership": Unary(lambda m, r: m.remove_membership(r.user_group_id, r.model_group_id), membership_of),
    "ListMemberships": Unary(lambda m, r: m.list_memberships(_opt(r, "user_group_id")),
                             lambda c, rows, _: pb.ListMembershipsResponse(
                                 memberships=[c.membership(g, mgs) for g, mgs in rows])),
    "ListRelationships": Unary(lambda m, r: m.list_memberships(_opt(r, "user_group_id")),
                               lambda c, rows, _: pb.ListRelationshipsResponse(
                                   relationships=[c.relationship(g, mgs) for g, mgs in rows])),
    # ---- jobs and history
    "ListJobs": Listing(lambda m, r: m.job_listing(job_status(r.status) if r.HasField("status") else None, r.token),
                        Converter.job_state, lambda p: pb.JobPage(jobs=p), as_they_are, key=itself),
    "GetJob": Unary(lambda m, r: m.job(r.feid), _JOB),
    "UpdateJobPriority": Unary(lambda m, r: m.update_job_priority(r.feid, r.priority), _JOB),
    "Release": Unary(lambda m, r: m.release(*_release_target(r)), released),
    "ReleaseAll": Unary(lambda m, r: m.release_all(), released),
    "ListHistory": Listing(lambda m, r: m.history_listing(_count(r, "Count of history"), r.token),
                           Converter.ended_job, lambda p: pb.JobPage(jobs=p), as_they_are),
    "GetHistory": Unary(lambda m, r: m.history_job(r.feid), _JOB),
    # ---- versions
    "CreateVersion": Unary(lambda m, r: m.create_version(r.version, r.path), _VERSION),
    "DeleteVersion": Unary(lambda m, r: m.delete_version(r.version), ack),
    "ListVersions": Unary(lambda m, r: m.list_versions(r.version),
                          records(Converter.version, lambda vs: pb.ListVersionsResponse(versions=vs))),
    "UpdateVersionHealthCheck": Unary(lambda m, r: m.update_version_health_check(r.version, r.value), _VERSION),
    "UpdateVersionPath": Unary(lambda m, r: m.update_version_path(r.version, r.value), _VERSION),
    "UpdateVersionQuery": Unary(lambda m, r: m.update_version_query(r.version, r.value), _VERSION),
    "UpdateVersionWorker": Unary(lambda m, r: m.update_version_worker(r.version, r.value), _VERSION),
    "UpdateVersionSupport": Unary(lambda m, r: m.update_version_support(r.version, r.supported), _VERSION),
    "SetLatestVersion": Unary(lambda m, r: m.set_latest_version(r.version), _VERSION),
    "AddWorkerEnv": Unary(lambda m, r: m.add_worker_env(r.version, r.name, r.value), _VERSION),
    "RemoveWorkerEnv": Unary(lambda m, r: m.remove_worker_env(r.version, r.name), _VERSION),
    # ---- usage and audit
    "GetUsage": Unary(lambda m, r: m.usage(*_interval(r)), lambda c, report, _: usage_report(report)),
    "ListEvents": Listing(lambda m, r: m.event_listing(r.token, r.action, _count(r, "Count")), as_sent,
                          lambda p: pb.EventPage(events=p), as_they_are),
    # ---- the VM side
    "RequestDevices": Unary(lambda m, r: m.request_devices(r.token, r.client_pid, r.process_name, r.client,
                                                           r.version, _opt(r, "sda_id") or 0), _JOB),
    "ReportRunning": Unary(lambda m, r: m.report_running(r.feid, r.token), _JOB),
    "FinishJob": Unary(lambda m, r: m.finish_job(r.feid, r.failed, r.reason, r.token), _JOB),
    # ---- the customer's side (moreh-smi, moreh-switch-model): each change answers the view after it
    "GetDevices": Unary(lambda m, r: m.device_view(r.token), _DEVICES),
    "ListModelChoices": Unary(lambda m, r: m.model_menu(r.token), _MENU),
    "SwitchModel": Unary(lambda m, r: m.switch_model(r.token, r.model_id, _opt(r, "model_group_id") or 0,
                                                     _opt(r, "sda_id") or 0), _menu_after),
    "AddDevice": Unary(lambda m, r: m.add_device(r.token, r.model_id, _opt(r, "model_group_id") or 0), _devices_after),
    "RemoveDevice": Unary(lambda m, r: m.remove_device(r.token, r.sda_id), _devices_after),
    "SwitchDevice": Unary(lambda m, r: m.switch_device(r.token, r.sda_id), _devices_after),
    "ResetDevice": Unary(lambda m, r: m.reset_device(r.token, _opt(r, "sda_id") or 0), released),
}


# ---------------------------------------------------------------- running a row


class Wire:
    """Serialized messages by the key that names their content (a live job's whole
    state), as last made with these `Names` (a renamed token,
    backend or group makes them again).  A page of them is the bytes of its
    repeated field (tag, length, message each), exactly what serializing the page
    message would give, without converting anything."""

    # Messages kept: at most twice as many as a listing lists, or LIMIT if more.  A job's
    # message is made anew after each change of its state, so the old ones pile up: beyond
    # that, the cache starts again (with a limit of its own, a listing of more jobs than
    # the limit made every message again, every time: 100,000 live jobs, 1.9 s a listing).
    LIMIT = 50_000

    def __init__(self) -> None:
        self._names: Names | None = None
        self._blobs: dict[Hashable, bytes] = {}

    def blobs(self, records: Iterable[Any], key: Callable[[Any], Hashable], names: Names,
              convert: Callable[[Any], Any]) -> Iterator[bytes]:
        listed = len(records) if isinstance(records, Sized) else 0
        if names != self._names or len(self._blobs) > max(self.LIMIT, 2 * listed):
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
        self._wire = {name: Wire() for name, row in RPCS.items() if isinstance(row, Listing) and row.key}
        # The method's name (as the service's descriptor has it) -> its handler.
        self.methods: dict[str, Callable[[Any, grpc.aio.ServicerContext[Any, Any]], Any]] = {
            name: self._listing(name, row) if isinstance(row, Listing) else self._unary(name, row)
            for name, row in RPCS.items()}

    def _run(self, row: Unary | Listing, request: Any, present: Callable[[Converter, Any, Any], T]) -> T:
        return self.m.read(lambda: present(Converter(self.m), row.call(self.m, request), request))

    def _unary(self, name: str, row: Unary) -> Callable[[Any, grpc.aio.ServicerContext[Any, Any]], Awaitable[Any]]:
        async def unary(request: Any, context: grpc.aio.ServicerContext[Any, Any]) -> Any:
            peer = request_peer.set(_peer(context))
            try:
                return await durably(self.m.ops, lambda: self._run(row, request, row.present))
            except Exception as err:  # every failure becomes a status
                _fail(context, err, name)
                return None
            finally:
                request_peer.reset(peer)

        unary.__name__ = name
        return unary

    def _listing(self, name: str,
                 row: Listing) -> Callable[[Any, grpc.aio.ServicerContext[Any, Any]], AsyncIterator[Any]]:
        def converted(c: Converter, items: Any, _: Any) -> list[Any]:
            return [row.item(c, item) for item in items]

        def detached(c: Converter, items: Any, _: Any) -> tuple[Iterable[Any], Names]:
            detach = row.detach
            assert detach is not None  # used only for a row that detaches (below)
            return detach(items), Names.of(self.m)

        async def listing(request: Any, context: grpc.aio.ServicerContext[Any, Any]) -> AsyncIterator[Any]:
            try:
                if row.detach is None:
                    messages = await durably(self.m.ops, lambda: self._run(row, request, converted))
                    for page in _pages(messages, request.page_size, row.page):
                        yield page
                else:  # converted as the pages go out, other callers served in between
                    records, names = await durably(self.m.ops, lambda: self._run(row, request, detached))
                    convert = functools.partial(row.item, Converter(self.m, names))
                    blobs = (self._wire[name].blobs(records, row.key, names, convert) if row.key is not None
                             else (_serialized(convert(record)) for record in records))
                    async for blob_page in _byte_pages(blobs, request.page_size):
                        yield blob_page
            except Exception as err:  # every failure becomes a status
                _fail(context, err, name)

        listing.__name__ = name
        return listing


def _serialized(message: Any) -> bytes:
    """A message's bytes; bytes already (a page joined from Wire, a message the archive
    kept) as they are."""
    return message if type(message) is bytes else message.SerializeToString()


def add_to_server(servicer: Servicer, server: grpc.aio.Server) -> None:
    """Register every method of the service through one generic handler made from the descriptor."""
    handlers = {}
    for method in SERVICE.methods:
        request_type = GetMessageClass(method.input_type)
        make = (grpc.unary_stream_rpc_method_handler if method.server_streaming
                else grpc.unary_unary_rpc_method_handler)
        handlers[method.name] = make(servicer.methods[method.name], request_deserializer=request_type.FromString,
                                     response_serializer=_serialized)
    server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler(SERVICE.full_name, handlers),))
