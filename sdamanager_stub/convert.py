"""Domain records to API messages, and API enums to domain enums.

Callers hold the manager's lock while converting, so a message never mixes
two states; or, for the big listings (jobs, history, events), they take the
records' copies and the `Names` the messages show under the lock and convert
outside it (servicer.py), so a listing of 100,000 jobs does not hold up
every other caller while it is converted.  Counts per token and per SDA come from the manager's indexes
(rules/index.py), so converting one record costs the same whatever the state
holds; listings build their other lookup tables (user groups per token,
backend names) once per call, so converting N records costs O(N), not O(N^2).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from enum import Enum
from typing import TYPE_CHECKING, Any, NamedTuple, TypeVar, cast

from google.protobuf.internal.enum_type_wrapper import EnumTypeWrapper
from google.protobuf.timestamp_pb2 import Timestamp

from smclient import __version__
from smclient.api import sdamanager_pb2 as pb

from .entities import (
    AccessLevel,
    Backend,
    BackendGroup,
    BackendStatus,
    DeviceStatus,
    Event,
    Job,
    JobStatus,
    Sda,
    SdaModel,
    SdaModelGroup,
    Token,
    UserGroup,
    Version,
)
from .errors import InvalidArgument
from .journal import Listed
from .rules.customer import CustomerDevice, DeviceView, ModelMenu
from .telemetry import job_figures
from .usage import Usage, UsageReport

if TYPE_CHECKING:
    from .manager import SDAManager


def timestamp(seconds: float) -> Timestamp | None:
    """A Timestamp, or None for "not set" (0)."""
    if not seconds:
        return None
    ts = Timestamp()
    whole = int(seconds)
    ts.seconds = whole
    ts.nanos = int(round((seconds - whole) * 1e9)) % 1_000_000_000
    return ts


def seconds(ts: Timestamp) -> float:
    return ts.seconds + ts.nanos / 1e9


# An API enum's number: the generated stubs give each API enum a class, a subclass of int.
PbEnum = TypeVar("PbEnum", bound=int)
# A domain enum (entities.py).
Domain = TypeVar("Domain", bound=Enum)


def _enum_to_pb(prefix: str, enum_type: type[PbEnum], value: Enum) -> PbEnum:
    # An API enum is an EnumTypeWrapper at run time (its metaclass in the stubs), whose
    # Value is a plain int: the number the stubs type as an instance of the enum's class.
    return cast(PbEnum, cast(EnumTypeWrapper, enum_type).Value(prefix + value.value))


def _pb_to_enum(prefix: str, enum_type: EnumTypeWrapper, domain: type[Domain], number: int, what: str) -> Domain:
    try:
        name = enum_type.Name(number)
    except ValueError:
        name = ""
    allowed = "|".join(m.value for m in domain)
    if not name.startswith(prefix) or name == prefix + "UNSPECIFIED":
        raise InvalidArgument(f"{what} must be one of {allowed}.")
    return domain(name[len(prefix):])


def access_level(number: int) -> AccessLevel:
    return _pb_to_enum("ACCESS_LEVEL_", pb.AccessLevel, AccessLevel, number, "Access level")


def backend_status(number: int) -> BackendStatus:
    return _pb_to_enum("BACKEND_STATUS_", pb.BackendStatus, BackendStatus, number, "Backend status")


def device_status(number: int) -> DeviceStatus:
    return _pb_to_enum("DEVICE_STATUS_", pb.DeviceStatus, DeviceStatus, number, "Device status")


def job_status(number: int) -> JobStatus:
    return _pb_to_enum("JOB_STATUS_", pb.JobStatus, JobStatus, number, "Job status")


def _env(env: dict[str, str]) -> list[pb.EnvVar]:
    return [pb.EnvVar(name=k, value=v) for k, v in env.items()]


class Names(NamedTuple):
    """What a job's message shows besides the job itself, as of one instant."""

    token_descriptions: dict[str, str]
    backend_group_names: dict[int, str]
    backend_names: dict[int, str]

    @classmethod
    def of(cls, m: SDAManager) -> Names:
        """Taken under the lock: O(tokens + groups + backends), once per listing."""
        return cls({value: t.description for value, t in m.tokens.items()},
                   {i: g.name for i, g in m.backend_groups.items()},
                   {i: b.name for i, b in m.backends.items()})


class Converter:
    """Converts records of one manager; build one per call, under the manager's lock.

    With `names` (taken under the lock with copies of the jobs), `job` reads
    nothing else of the manager and may run outside the lock.
    """

    def __init__(self, manager: SDAManager, names: Names | None = None) -> None:
        self.m = manager
        self.names = names
        self._token_groups: dict[str, list[int]] | None = None
        self._backends_by_group: dict[int, list[pb.BackendRef]] | None = None
        # An ended job's name fields and placements, serialized once per listing (they repeat).
        self._names_bytes: dict[tuple[str, int], bytes] = {}
        self._placement_bytes: dict[str, bytes] = {}

    # ---- tokens
    def token(self, t: Token) -> pb.Token:
        if self._token_groups is None:
            groups: dict[str, list[int]] = {}
            for g in self.m.user_groups.values():
                for member in g.tokens:
                    groups.setdefault(member, []).append(g.id)
            self._token_groups = groups
        return pb.Token(
            value=t.value,
            description=t.description,
            priority=t.priority,
            access_level=_enum_to_pb("ACCESS_LEVEL_", pb.AccessLevel, t.access_level),
            max_sda=t.max_sda,
            current_sda=t.current_sda,
            sda_count=self.m.state.sda_index.count_of_token(t.value),
            duplicable=t.duplicable,
            env=_env(t.env),
            worker_execute_info=t.worker_execute_info,
            create_time=timestamp(t.created),
            user_group_ids=self._token_groups.get(t.value, []),
            running_jobs=self.m.state.token_holding_count(t.value),
        )

    # ---- SDAs and models
    def placement(self, pairs: Iterable[tuple[int, int]]) -> list[pb.DevicePlacement]:
        by_backend: dict[int, list[int]] = {}
        for backend_id, index in pairs:
            by_backend.setdefault(backend_id, []).append(index)
        out = []
        for backend_id, indexes in by_backend.items():
            out.append(pb.DevicePlacement(backend_id=backend_id, backend_name=self._backend_name(backend_id),
                                          device_indexes=sorted(indexes)))
        return out

    def _backend_name(self, backend_id: int) -> str:
        if self.names is not None:
            return self.names.backend_names.get(backend_id, "")
        backend = self.m.backends.get(backend_id)
        return backend.name if backend else ""

    def sda(self, s: Sda) -> pb.Sda:
        model = self.m.models.get(s.model_id)
        jobs = self.m.state.sda_holding_jobs(s.id)
        # Devices it holds now: its reservation, else its running jobs' devices.
        held = s.held or [p for j in jobs for p in j.placement]
        return pb.Sda(
            id=s.id,
            token=s.token,
            model_id=s.model_id,
            model_name=model.name if model else "",
            model_group_id=s.model_group_id,
            reserved=s.reserved,
            description=s.description,
            placement=self.placement(held),
            device_count=model.devices if model else 0,
            running=bool(jobs),
            create_time=timestamp(s.created),
        )

    def model(self, m: SdaModel) -> pb.SdaModel:
        return pb.SdaModel(id=m.id, name=m.name, devices=m.devices, description=m.description)

    def model_group(self, g: SdaModelGroup) -> pb.SdaModelGroup:
        bg = self.m.backend_groups.get(g.backend_group_id)
        return pb.SdaModelGroup(
            id=g.id,
            name=g.name,
            backend_group_id=g.backend_group_id,
            backend_group_name=bg.name if bg else "",
            models=[self.model(self.m.models[i]) for i in g.model_ids if i in self.m.models],
        )

    # ---- backends
    def backend(self, b: Backend) -> pb.Backend:
        group = self.m.backend_groups.get(b.group_id)
        return pb.Backend(
            id=b.id,
            name=b.name,
            ip=b.ip,
            status=_enum_to_pb("BACKEND_STATUS_", pb.BackendStatus, b.status),
            group_id=b.group_id,
            group_name=group.name if group else "",
            devices=[
                pb.Device(index=d.index,
                          status=_enum_to_pb("DEVICE_STATUS_", pb.DeviceStatus, d.status),
                          job_id=d.job_id, sda_id=d.sda_id)
                for d in b.devices
            ],
        )

    def backend_group(self, g: BackendGroup) -> pb.BackendGroup:
        if self._backends_by_group is None:  # one pass over the backends for all groups
            self._backends_by_group = {}
            for b in sorted(self.m.backends.values(), key=lambda b: b.id):
                self._backends_by_group.setdefault(b.group_id, []).append(pb.BackendRef(id=b.id, name=b.name))
        return pb.BackendGroup(id=g.id, name=g.name, backends=self._backends_by_group.get(g.id, []))

    # ---- groups
    def user_group(self, g: UserGroup) -> pb.UserGroup:
        return pb.UserGroup(id=g.id, name=g.name, description=g.description, tokens=g.tokens)

    @staticmethod
    def ref(group: UserGroup | SdaModelGroup | BackendGroup) -> pb.GroupRef:
        return pb.GroupRef(id=group.id, name=group.name)

    def membership(self, ug: UserGroup, mgs: list[SdaModelGroup]) -> pb.Membership:
        return pb.Membership(user_group=self.ref(ug), model_groups=[self.ref(g) for g in mgs])

    def membership_of(self, user_group_id: int) -> pb.Membership:
        ((group, model_groups),) = self.m.list_memberships(user_group_id)
        return self.membership(group, model_groups)

    def relationship(self, ug: UserGroup, mgs: list[SdaModelGroup]) -> pb.Relationship:
        links = []
        for mg in mgs:
            bg = self.m.backend_groups.get(mg.backend_group_id)
            links.append(pb.Relationship.Link(
                model_group=self.ref(mg),
                backend_group=pb.GroupRef(id=mg.backend_group_id, name=bg.name if bg else ""),
            ))
        return pb.Relationship(user_group=self.ref(ug), links=links)

    # ---- jobs
    def job_state(self, state: tuple[Any, ...]) -> pb.Job:
        """A job from what `Job.state()` took."""
        return self.job(Job.from_state(state))

    def job(self, j: Job) -> pb.Job:
        description, group_name = self.names_of(j.token, j.backend_group_id)
        return pb.Job(token_description=description, backend_group=group_name, placement=self.placement(j.placement),
                      **_job_fields(j))

    def names_of(self, token: str, backend_group_id: int) -> tuple[str, str]:
        """What a job's message shows of its token and its backend group: their names now."""
        if self.names is not None:
            return (self.names.token_descriptions.get(token, ""),
                    self.names.backend_group_names.get(backend_group_id, ""))
        tok = self.m.tokens.get(token)
        group = self.m.backend_groups.get(backend_group_id)
        return (tok.description if tok else ""), (group.name if group else "")

    def ended_job(self, entry: Listed) -> bytes:
        """An ended job's message from what the archive keeps of it (its message without
        the names it shows: they may change) and the names as of this listing."""
        key = (entry.token, entry.backend_group_id)
        names = self._names_bytes.get(key)
        if names is None:
            description, group_name = self.names_of(*key)
            names = self._names_bytes[key] = pb.Job(token_description=description,
                                                    backend_group=group_name).SerializeToString()
        placement = self._placement_bytes.get(entry.placement)
        if placement is None:
            pairs = [(b, i) for b, i in json.loads(entry.placement)]
            placement = self._placement_bytes[entry.placement] = pb.Job(
                placement=self.placement(pairs)).SerializeToString()
        return entry.message + names + placement

    # ---- the customer's side
    def device_report(self, view: DeviceView) -> pb.DeviceReport:
        tok = view.token
        return pb.DeviceReport(token=tok.value, max_sda=tok.max_sda, current_sda=tok.current_sda,
                               duplicable=tok.duplicable, devices=[self.token_device(d) for d in view.devices],
                               current_version=view.current_version, latest_version=view.latest_version,
                               server_version=__version__)

    def token_device(self, d: CustomerDevice) -> pb.TokenDevice:
        return pb.TokenDevice(sda_id=d.sda.id, model_id=d.sda.model_id, model_name=d.model.name if d.model else "",
                              model_group_id=d.sda.model_group_id, model_group_name=d.group.name if d.group else "",
                              device_count=d.model.devices if d.model else 0, current=d.current,
                              jobs=[self.device_job(j) for j in d.jobs])

    def device_job(self, j: Job) -> pb.DeviceJob:
        message = pb.DeviceJob(feid=j.feid, status=_enum_to_pb("JOB_STATUS_", pb.JobStatus, j.status),
                               client_pid=j.client_pid, process_name=j.process_name)
        if j.status is JobStatus.RUNNING:
            figures = job_figures(j.feid, len(j.placement), self.m.now - j.start_time)
            message.measured = True
            message.memory_used_mib, message.memory_total_mib = figures.memory_used_mib, figures.memory_total_mib
            message.utilization_percent = figures.utilization_percent
            message.devices.extend(
                pb.DeviceTelemetry(backend_id=backend_id, backend_name=self._backend_name(backend_id), index=index,
                                   **f._asdict())
                for (backend_id, index), f in zip(j.placement, figures.devices))
        return message

    def model_choices(self, menu: ModelMenu) -> pb.ModelChoices:
        current = menu.current
        return pb.ModelChoices(
            choices=[pb.ModelChoice(model=self.model(c.model), model_group_id=c.group.id if c.group else 0,
                                    model_group_name=c.group.name if c.group else "", current=c.current)
                     for c in menu.choices],
            current_sda=current.sda.id if current else 0,
            current_model_name=current.model.name if current and current.model else "",
            current_model_group_name=current.group.name if current and current.group else "",
        )

    # ---- the server, versions and events
    def server_version(self, latest: str) -> pb.ServerVersion:
        return pb.ServerVersion(name="SDAManager simulator", version=__version__, api_version="sdamanager.v1",
                                start_time=timestamp(self.m.started), latest_client_version=latest)

    def version(self, v: Version) -> pb.Version:
        return pb.Version(version=v.version, path=v.path, latest=v.latest, supported=v.supported,
                          health_check=v.health_check, query=v.query, worker=v.worker, env=_env(v.env))

    def event(self, e: Event) -> pb.Event:
        return pb.Event.FromString(MESSAGES.event(e))


def _job_fields(j: Job) -> dict[str, Any]:
    """A job's message's fields that are the job's alone (not the names it shows, nor its
    placement, which shows its backends' names)."""
    return {"feid": j.feid, "token": j.token, "sda_id": j.sda_id, "model_id": j.model_id, "priority": j.priority,
            "status": _enum_to_pb("JOB_STATUS_", pb.JobStatus, j.status), "client": j.client,
            "client_pid": j.client_pid, "process_name": j.process_name, "request_time": timestamp(j.request_time),
            "start_time": timestamp(j.start_time), "end_time": timestamp(j.end_time), "version": j.version,
            "device_count": j.device_count, "end_reason": j.end_reason}


class Messages:
    """What the archive keeps of an ended job or an event, made when it is written (archive.Encoder):
    an event's whole message; an ended job's without what changes (the names it shows and
    its placement's backend names, which `Converter.ended_job` adds as it lists it)."""

    def job(self, j: Job) -> bytes:
        return pb.Job(**_job_fields(j)).SerializeToString()

    def event(self, e: Event) -> bytes:
        return pb.Event(id=e.id, time=timestamp(e.time), token=e.token, action=e.action,
                        request=e.request, result=e.result, peer=e.peer).SerializeToString()


MESSAGES = Messages()


def _usage_entry(u: Usage) -> pb.UsageEntry:
    return pb.UsageEntry(token=u.token, description=u.description, min=u.min, max=u.max, average=u.average,
                         min_percentage=u.share(u.min), max_percentage=u.share(u.max),
                         average_percentage=u.share(u.average))


def usage_report(report: UsageReport) -> pb.UsageReport:
    return pb.UsageReport(begin=timestamp(report.begin), end=timestamp(report.end),
                          total_devices=report.total_devices, total=_usage_entry(report.total),
                          entries=[_usage_entry(e) for e in report.entries])
