"""The gRPC face of the rules: messages in, domain calls, messages out.

Each method converts its request, calls one operation of the SDAManager
rules, and converts the result.  Domain errors become gRPC status codes with
the rule's reason as the detail; nothing else is decided here.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable, Iterable, Iterator
from typing import Any, TypeVar

import grpc

from smclient.api import sdamanager_pb2 as pb
from smclient.api import sdamanager_pb2_grpc as pb_grpc

from . import __version__
from .audit import request_peer
from .convert import (
    Converter,
    access_level,
    backend_status,
    device_status,
    job_status,
    seconds,
    timestamp,
    usage_report,
)
from .errors import (
    AlreadyExists,
    DomainError,
    FailedPrecondition,
    Internal,
    InvalidArgument,
    NotFound,
    ResourceExhausted,
)
from .manager import SDAManager

log = logging.getLogger(__name__)

STATUS_OF: dict[type[DomainError], grpc.StatusCode] = {
    InvalidArgument: grpc.StatusCode.INVALID_ARGUMENT,
    NotFound: grpc.StatusCode.NOT_FOUND,
    AlreadyExists: grpc.StatusCode.ALREADY_EXISTS,
    FailedPrecondition: grpc.StatusCode.FAILED_PRECONDITION,
    ResourceExhausted: grpc.StatusCode.RESOURCE_EXHAUSTED,
    Internal: grpc.StatusCode.INTERNAL,
}

DEFAULT_PAGE = 1000
MAX_PAGE = 10_000
PAGE_BYTES = 1024 * 1024

F = TypeVar("F", bound=Callable[..., Any])


def status_for(err: DomainError) -> grpc.StatusCode:
    for cls in type(err).__mro__:
        if cls in STATUS_OF:
            return STATUS_OF[cls]  # type: ignore[index]
    return grpc.StatusCode.FAILED_PRECONDITION


def _abort(context: grpc.ServicerContext, err: Exception, method: str) -> None:
    if isinstance(err, DomainError):
        context.abort(status_for(err), str(err))
    # Only reachable through a bug in a conversion; say so plainly.
    log.exception("bad request to %s", method)
    context.abort(grpc.StatusCode.INVALID_ARGUMENT, f"Invalid request: {err}")


def rpc(fn: F) -> F:
    """Record the caller for the event log and turn domain errors into statuses."""

    @functools.wraps(fn)
    def unary(self: Servicer, request: Any, context: grpc.ServicerContext) -> Any:
        token = request_peer.set(context.peer() or "")
        try:
            return fn(self, request, context)
        except (DomainError, ValueError, OverflowError, TypeError) as err:
            _abort(context, err, fn.__name__)
        finally:
            request_peer.reset(token)

    return unary  # type: ignore[return-value]


def stream(fn: F) -> F:
    """Like `rpc` for server-streaming methods (the generator runs after the call returns)."""

    @functools.wraps(fn)
    def streaming(self: Servicer, request: Any, context: grpc.ServicerContext) -> Iterator[Any]:
        try:
            yield from fn(self, request, context)
        except (DomainError, ValueError, OverflowError, TypeError) as err:
            _abort(context, err, fn.__name__)

    return streaming  # type: ignore[return-value]


def _pages(items: list[Any], page_size: int, make: Callable[[list[Any]], Any]) -> Iterator[Any]:
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


def _opt(request: Any, field: str) -> int | None:
    return getattr(request, field) if request.HasField(field) else None


class Servicer(pb_grpc.SDAManagerServicer):
    def __init__(self, manager: SDAManager) -> None:
        self.m = manager

    def _convert(self, produce: Callable[[], Any], convert: Callable[[Converter, Any], Any]) -> Any:
        with self.m.lock:
            self.m.advance()  # what the caller sees is the state as of now
            return convert(Converter(self.m), produce())

    def _one(self, produce: Callable[[], Any], method: str) -> Any:
        return self._convert(produce, lambda c, item: getattr(c, method)(item))

    def _many(self, produce: Callable[[], Iterable[Any]], method: str) -> list[Any]:
        return self._convert(produce, lambda c, items: [getattr(c, method)(i) for i in items])

    # ---- server
    @rpc
    def GetServerVersion(self, request, context):
        with self.m.lock:
            latest = next((v.version for v in self.m.versions.values() if v.latest), "")
        return pb.ServerVersion(name="SDAManager simulator", version=__version__, api_version="sdamanager.v1",
                                start_time=timestamp(self.m.started), latest_client_version=latest)

    # ---- tokens
    @rpc
    def CreateToken(self, request, context):
        return self._one(lambda: self.m.create_token(request.description, request.priority), "token")

    @rpc
    def DeleteToken(self, request, context):
        self.m.delete_token(request.token)
        return pb.Ack()

    @rpc
    def GetToken(self, request, context):
        return self._one(lambda: self.m.token(request.token), "token")

    @stream
    def ListTokens(self, request, context):
        tokens = self._many(lambda: self.m.list_tokens(request.running_only), "token")
        yield from _pages(tokens, request.page_size, lambda page: pb.TokenPage(tokens=page))

    @rpc
    def UpdateTokenPriority(self, request, context):
        return self._one(lambda: self.m.update_token_priority(request.token, request.priority), "token")

    @rpc
    def UpdateTokenDescription(self, request, context):
        return self._one(lambda: self.m.update_token_description(request.token, request.description), "token")

    @rpc
    def UpdateTokenAccessLevel(self, request, context):
        level = access_level(request.access_level)
        return self._one(lambda: self.m.update_token_access_level(request.token, level), "token")

    @rpc
    def UpdateTokenMaxSda(self, request, context):
        return self._one(lambda: self.m.update_token_max_sda(request.token, request.max_sda), "token")

    @rpc
    def UpdateTokenCurrentSda(self, request, context):
        return self._one(lambda: self.m.update_token_current_sda(request.token, request.sda_id), "token")

    @rpc
    def UpdateTokenDuplicable(self, request, context):
        return self._one(lambda: self.m.update_token_duplicable(request.token, request.duplicable), "token")

    @rpc
    def AddTokenEnv(self, request, context):
        return self._one(lambda: self.m.add_token_env(request.token, request.name, request.value), "token")

    @rpc
    def RemoveTokenEnv(self, request, context):
        return self._one(lambda: self.m.remove_token_env(request.token, request.name), "token")

    # ---- SDAs
    @rpc
    def CreateSda(self, request, context):
        return self._one(lambda: self.m.create_sda(request.token, request.description, request.model_id,
                                                   _opt(request, "model_group_id") or 0, request.reserved), "sda")

    @rpc
    def UpdateSda(self, request, context):
        return self._one(lambda: self.m.update_sda(request.token, request.model_id,
                                                   _opt(request, "model_group_id") or 0,
                                                   _opt(request, "sda_id") or 0), "sda")

    @rpc
    def DeleteSda(self, request, context):
        if request.HasField("sda_id") and request.sda_id <= 0:
            raise InvalidArgument(f"SDA ID must be a positive id (got {request.sda_id}).")
        return pb.DeleteSdaResponse(deleted_ids=self.m.delete_sda(request.token, _opt(request, "sda_id") or 0))

    @stream
    def ListSdas(self, request, context):
        sdas = self._many(lambda: self.m.list_sdas(request.token, request.running_only,
                                                   request.order == pb.SDA_ORDER_TOKEN), "sda")
        yield from _pages(sdas, request.page_size, lambda page: pb.SdaPage(sdas=page))

    # ---- SDA models and groups
    @rpc
    def CreateSdaModel(self, request, context):
        return self._one(lambda: self.m.create_sdamodel(request.name, request.devices, request.description), "model")

    @rpc
    def DeleteSdaModel(self, request, context):
        self.m.delete_sdamodel(request.id)
        return pb.Ack()

    @rpc
    def ListSdaModels(self, request, context):
        produce = (lambda: self.m.allowed_models(request.token)) if request.token else self.m.list_models
        return pb.ListSdaModelsResponse(models=self._many(produce, "model"))

    @rpc
    def CreateSdaModelGroup(self, request, context):
        return self._one(lambda: self.m.create_sdamodelgroup(request.name, request.backend_group_id,
                                                             list(request.model_ids)), "model_group")

    @rpc
    def DeleteSdaModelGroup(self, request, context):
        self.m.delete_sdamodelgroup(request.id, request.force)
        return pb.Ack()

    @rpc
    def ListSdaModelGroups(self, request, context):
        groups = self._many(lambda: self.m.list_model_groups(_opt(request, "id")), "model_group")
        return pb.ListSdaModelGroupsResponse(groups=groups)

    @rpc
    def RenameSdaModelGroup(self, request, context):
        return self._one(lambda: self.m.rename_sdamodelgroup(request.id, request.name), "model_group")

    @rpc
    def SetSdaModelGroupBackendGroup(self, request, context):
        return self._one(lambda: self.m.set_sdamodelgroup_backendgroup(request.id, request.backend_group_id),
                         "model_group")

    @rpc
    def SetSdaModelGroupModels(self, request, context):
        return self._one(lambda: self.m.set_sdamodelgroup_models(request.id, list(request.model_ids)),
                         "model_group")

    @rpc
    def AddModelToSdaModelGroup(self, request, context):
        return self._one(lambda: self.m.add_sdamodelgroup_model(request.id, request.model_id), "model_group")

    @rpc
    def RemoveModelFromSdaModelGroup(self, request, context):
        return self._one(lambda: self.m.remove_sdamodelgroup_model(request.id, request.model_id), "model_group")

    # ---- backends and devices
    @rpc
    def CreateBackend(self, request, context):
        return self._one(lambda: self.m.create_backend(request.name, request.ip, request.device_count), "backend")

    @rpc
    def DeleteBackend(self, request, context):
        self.m.delete_backend(request.id)
        return pb.Ack()

    @stream
    def ListBackends(self, request, context):
        order = {pb.BACKEND_ORDER_GROUP: "group", pb.BACKEND_ORDER_NAME: "name"}.get(request.order, "id")
        backends = self._many(lambda: self.m.list_backends(order, _opt(request, "id"), _opt(request, "group_id"),
                                                           request.name), "backend")
        yield from _pages(backends, request.page_size, lambda page: pb.BackendPage(backends=page))

    @rpc
    def UpdateBackendHost(self, request, context):
        return self._one(lambda: self.m.update_backend_host(request.id, request.name), "backend")

    @rpc
    def UpdateBackendIp(self, request, context):
        return self._one(lambda: self.m.update_backend_ip(request.id, request.ip), "backend")

    @rpc
    def UpdateBackendStatus(self, request, context):
        status = backend_status(request.status)
        return self._one(lambda: self.m.update_backend_status(request.id, status), "backend")

    @rpc
    def UpdateBackendGroup(self, request, context):
        return self._one(lambda: self.m.update_backend_group(request.id, request.group_id), "backend")

    @rpc
    def UpdateDeviceStatus(self, request, context):
        status = device_status(request.status)
        return self._one(lambda: self.m.update_device_status(request.backend_id, request.index, status), "backend")

    @rpc
    def UpdateAllDeviceStatus(self, request, context):
        status = device_status(request.status)
        return self._one(lambda: self.m.update_all_device_status(request.backend_id, status), "backend")

    # ---- backend groups
    @rpc
    def CreateBackendGroup(self, request, context):
        return self._one(lambda: self.m.create_backendgroup(request.name, list(request.backend_ids)),
                         "backend_group")

    @rpc
    def DeleteBackendGroup(self, request, context):
        self.m.delete_backendgroup(request.id, request.force)
        return pb.Ack()

    @rpc
    def ListBackendGroups(self, request, context):
        groups = self._many(lambda: self.m.list_backend_groups(_opt(request, "id")), "backend_group")
        return pb.ListBackendGroupsResponse(groups=groups)

    @rpc
    def RenameBackendGroup(self, request, context):
        return self._one(lambda: self.m.rename_backendgroup(request.id, request.name), "backend_group")

    @rpc
    def SetBackendGroupBackends(self, request, context):
        return self._one(lambda: self.m.set_backendgroup_backends(request.id, list(request.backend_ids)),
                         "backend_group")

    @rpc
    def AddBackendToBackendGroup(self, request, context):
        return self._one(lambda: self.m.add_backendgroup_backend(request.id, request.backend_id), "backend_group")

    @rpc
    def RemoveBackendFromBackendGroup(self, request, context):
        return self._one(lambda: self.m.remove_backendgroup_backend(request.id, request.backend_id),
                         "backend_group")

    # ---- user groups, memberships, relationships
    @rpc
    def CreateUserGroup(self, request, context):
        return self._one(lambda: self.m.create_usergroup(request.name, request.description, list(request.tokens)),
                         "user_group")

    @rpc
    def DeleteUserGroup(self, request, context):
        self.m.delete_usergroup(request.id, request.force)
        return pb.Ack()

    @rpc
    def ListUserGroups(self, request, context):
        groups = self._many(lambda: self.m.list_user_groups(_opt(request, "id")), "user_group")
        return pb.ListUserGroupsResponse(groups=groups)

    @rpc
    def RenameUserGroup(self, request, context):
        return self._one(lambda: self.m.rename_usergroup(request.id, request.name), "user_group")

    @rpc
    def SetUserGroupTokens(self, request, context):
        return self._one(lambda: self.m.set_usergroup_tokens(request.id, list(request.tokens)), "user_group")

    @rpc
    def AddTokenToUserGroup(self, request, context):
        return self._one(lambda: self.m.add_usergroup_token(request.id, request.token), "user_group")

    @rpc
    def RemoveTokenFromUserGroup(self, request, context):
        return self._one(lambda: self.m.remove_usergroup_token(request.id, request.token), "user_group")

    def _membership_of(self, user_group_id: int) -> pb.Membership:
        ((group, model_groups),) = self.m.list_memberships(user_group_id)
        return Converter(self.m).membership(group, model_groups)

    @rpc
    def AddMembership(self, request, context):
        with self.m.lock:
            self.m.add_membership(request.user_group_id, request.model_group_id)
            return self._membership_of(request.user_group_id)

    @rpc
    def RemoveMembership(self, request, context):
        with self.m.lock:
            self.m.remove_membership(request.user_group_id, request.model_group_id)
            return self._membership_of(request.user_group_id)

    @rpc
    def ListMemberships(self, request, context):
        with self.m.lock:
            c = Converter(self.m)
            rows = self.m.list_memberships(_opt(request, "user_group_id"))
            return pb.ListMembershipsResponse(memberships=[c.membership(g, mgs) for g, mgs in rows])

    @rpc
    def ListRelationships(self, request, context):
        with self.m.lock:
            c = Converter(self.m)
            rows = self.m.list_memberships(_opt(request, "user_group_id"))
            return pb.ListRelationshipsResponse(relationships=[c.relationship(g, mgs) for g, mgs in rows])

    # ---- jobs and history
    @stream
    def ListJobs(self, request, context):
        status = job_status(request.status) if request.HasField("status") else None
        jobs = self._many(lambda: self.m.list_jobs(status, request.token), "job")
        yield from _pages(jobs, request.page_size, lambda page: pb.JobPage(jobs=page))

    @rpc
    def GetJob(self, request, context):
        return self._one(lambda: self.m.job(request.feid), "job")

    @rpc
    def UpdateJobPriority(self, request, context):
        return self._one(lambda: self.m.update_job_priority(request.feid, request.priority), "job")

    @rpc
    def Release(self, request, context):
        target = request.WhichOneof("target")
        if target is None:
            raise InvalidArgument("Release needs a frontend id or a token.")
        feids = self.m.release(feid=request.feid if target == "feid" else 0,
                               token=request.token if target == "token" else "",
                               sda_id=_opt(request, "sda_id") or 0)
        return pb.ReleaseResponse(released_feids=feids)

    @rpc
    def ReleaseAll(self, request, context):
        return pb.ReleaseResponse(released_feids=self.m.release_all())

    @stream
    def ListHistory(self, request, context):
        if request.count < 0:
            raise InvalidArgument(f"Count of history must be 0 or more (got {request.count}).")
        jobs = self._many(lambda: self.m.list_history(request.count, request.token), "job")
        yield from _pages(jobs, request.page_size, lambda page: pb.JobPage(jobs=page))

    @rpc
    def GetHistory(self, request, context):
        return self._one(lambda: self.m.history_job(request.feid), "job")

    # ---- versions
    @rpc
    def CreateVersion(self, request, context):
        return self._one(lambda: self.m.create_version(request.version, request.path), "version")

    @rpc
    def DeleteVersion(self, request, context):
        self.m.delete_version(request.version)
        return pb.Ack()

    @rpc
    def ListVersions(self, request, context):
        return pb.ListVersionsResponse(versions=self._many(lambda: self.m.list_versions(request.version), "version"))

    @rpc
    def UpdateVersionHealthCheck(self, request, context):
        return self._one(lambda: self.m.update_version_health_check(request.version, request.value), "version")

    @rpc
    def UpdateVersionPath(self, request, context):
        return self._one(lambda: self.m.update_version_path(request.version, request.value), "version")

    @rpc
    def UpdateVersionQuery(self, request, context):
        return self._one(lambda: self.m.update_version_query(request.version, request.value), "version")

    @rpc
    def UpdateVersionWorker(self, request, context):
        return self._one(lambda: self.m.update_version_worker(request.version, request.value), "version")

    @rpc
    def UpdateVersionSupport(self, request, context):
        return self._one(lambda: self.m.update_version_support(request.version, request.supported), "version")

    @rpc
    def SetLatestVersion(self, request, context):
        return self._one(lambda: self.m.set_latest_version(request.version), "version")

    @rpc
    def AddWorkerEnv(self, request, context):
        return self._one(lambda: self.m.add_worker_env(request.version, request.name, request.value), "version")

    @rpc
    def RemoveWorkerEnv(self, request, context):
        return self._one(lambda: self.m.remove_worker_env(request.version, request.name), "version")

    # ---- usage and audit
    @rpc
    def GetUsage(self, request, context):
        if not request.HasField("begin") or not request.HasField("end"):
            raise InvalidArgument("Usage needs a begin and an end time.")
        return self._convert(lambda: self.m.usage(seconds(request.begin), seconds(request.end), request.token),
                             lambda _, report: usage_report(report))

    @stream
    def ListEvents(self, request, context):
        if request.count < 0:
            raise InvalidArgument(f"Count must be 0 or more (got {request.count}).")
        events = self._many(lambda: self.m.list_events(request.token, request.action, request.count), "event")
        yield from _pages(events, request.page_size, lambda page: pb.EventPage(events=page))

    # ---- the VM side
    @rpc
    def RequestDevices(self, request, context):
        return self._one(lambda: self.m.request_devices(
            request.token, request.client_pid, request.process_name, request.client, request.version,
            _opt(request, "sda_id") or 0), "job")

    @rpc
    def ReportRunning(self, request, context):
        return self._one(lambda: self.m.report_running(request.feid), "job")

    @rpc
    def FinishJob(self, request, context):
        return self._one(lambda: self.m.finish_job(request.feid, request.failed, request.reason), "job")
