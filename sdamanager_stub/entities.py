"""The records SDAManager keeps.  Plain data: the rules live in rules/."""

from __future__ import annotations

import enum
from collections.abc import Callable
from dataclasses import dataclass, field, fields
from operator import attrgetter
from typing import Any


class Watched:
    """A field of a record whose every change is told to the record's watcher.

    An index gives each record it indexes a `_touch` callable (the scheduler's
    index of idle devices each device and backend, scheduler.py; the job index
    each live job, rules/index.py); assigning a watched field calls it, so no
    change of what an index counts escapes it, whoever makes it.  The value
    lives in the instance's __dict__ under the field's own name and, the
    descriptor having no __get__, is read from there as fast as any attribute.
    The watcher is no field of the record (not compared, copied, shown or
    saved).
    """

    __slots__ = ("name", "default", "factory")

    def __init__(self, default: Any = None, *, factory: Callable[[], Any] | None = None) -> None:
        self.default = default
        self.factory = factory  # makes a default of each record's own (a list)
        self.name = ""

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name

    def __set__(self, obj: Any, value: Any) -> None:
        if value is self:  # the dataclass's __init__ giving the field's default (this descriptor)
            value = self.default if self.factory is None else self.factory()
        state = obj.__dict__
        state[self.name] = value
        touch = state.get("_touch")
        if touch is not None:
            touch()


class _Watchable:
    """A record with watched fields: copies and pickles leave its watcher behind."""

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state.pop("_touch", None)
        return state


class AccessLevel(enum.Enum):
    USER = "USER"
    ADMIN = "ADMIN"
    DEVELOPER = "DEVELOPER"


class BackendStatus(enum.Enum):
    SHUTDOWN = "SHUTDOWN"
    ACTIVE = "ACTIVE"


class DeviceStatus(enum.Enum):
    SHUTDOWN = "SHUTDOWN"
    IDLE = "IDLE"
    PREPARING = "PREPARING"
    PROCESSING = "PROCESSING"
    CLEANING = "CLEANING"


class JobStatus(enum.Enum):
    QUEUED = "QUEUED"
    SUMMITED = "SUMMITED"  # sic: the original's word
    RUNNING = "RUNNING"
    COMPLETED = "COMPLETED"
    RELEASED = "RELEASED"
    CANCELED = "CANCELED"
    FAILED = "FAILED"

    @property
    def live(self) -> bool:
        return self in (JobStatus.QUEUED, JobStatus.SUMMITED, JobStatus.RUNNING)


DEFAULT_BACKEND_GROUP_ID = 0
DEFAULT_BACKEND_GROUP_NAME = "default_backend_group"

# 1 is "off" (the original's maxDuplicates: 0 unlimited, 1 off, n >= 2 n at once).
DUPLICABLE_OFF = 1


@dataclass
class Token:
    value: str
    description: str
    priority: int = 0
    access_level: AccessLevel = AccessLevel.USER
    max_sda: int = 1
    duplicable: int = DUPLICABLE_OFF
    current_sda: int = 0
    env: dict[str, str] = field(default_factory=dict)
    worker_execute_info: str = ""
    created: float = 0.0
    version: str = ""  # the Moreh version the token's VM last asked for devices with


@dataclass
class Sda:
    id: int
    token: str
    model_id: int
    model_group_id: int  # 0: none
    reserved: bool
    description: str
    created: float = 0.0
    # (backend id, device index) pairs a reserved SDA holds while it exists.
    held: list[tuple[int, int]] = field(default_factory=list)


@dataclass
class SdaModel:
    id: int
    name: str
    devices: int
    description: str = ""


@dataclass
class SdaModelGroup:
    id: int
    name: str
    backend_group_id: int
    model_ids: list[int] = field(default_factory=list)


@dataclass
class Device(_Watchable):
    index: int
    status: DeviceStatus = Watched(DeviceStatus.IDLE)  # type: ignore[assignment]
    job_id: int = Watched(0)  # type: ignore[assignment]  # the FeID holding the device
    sda_id: int = Watched(0)  # type: ignore[assignment]  # the reserved SDA holding the device

    @property
    def held(self) -> bool:
        return bool(self.job_id or self.sda_id)


@dataclass
class Backend(_Watchable):
    id: int
    name: str
    ip: str
    status: BackendStatus = Watched(BackendStatus.ACTIVE)  # type: ignore[assignment]
    group_id: int = Watched(DEFAULT_BACKEND_GROUP_ID)  # type: ignore[assignment]
    devices: list[Device] = field(default_factory=list)  # never replaced once the backend exists


@dataclass
class BackendGroup:
    id: int
    name: str


@dataclass
class UserGroup:
    id: int
    name: str
    description: str = ""
    tokens: list[str] = field(default_factory=list)


@dataclass
class Job(_Watchable):
    feid: int
    token: str
    sda_id: int
    model_id: int
    priority: int
    device_count: int
    backend_group_id: int
    client_pid: int = 0
    process_name: str = ""
    client: str = ""
    version: str = ""
    status: JobStatus = JobStatus.QUEUED
    request_time: float = 0.0
    start_time: float = 0.0
    end_time: float = 0.0
    end_reason: str = ""
    # (backend id, device index) pairs the job holds.
    placement: list[tuple[int, int]] = Watched(factory=list)  # type: ignore[assignment]

    def state(self) -> tuple[Any, ...]:
        """Every field's value as of now, hashable (the placement as a tuple): what a
        listing takes under the lock, converts outside it, and knows a job's message by."""
        return (*_JOB_FIELDS(self), tuple(self.placement))

    @classmethod
    def from_state(cls, state: tuple[Any, ...]) -> Job:
        return cls.record(*state[:-1], list(state[-1]))  # the placement is the last field, as in `state`

    @classmethod
    def record(cls, *values: Any) -> Job:
        """A job of every field's value, in their order, made as a record read back is (an
        ended job from the archive, a state taken): set straight into its __dict__, which is
        what __init__ does but for the watched fields' calls (a job no index holds yet has
        no watcher to tell), for about two thirds of its cost: a usage report makes
        200,000 of these."""
        job = cls.__new__(cls)
        job.__dict__.update(zip(JOB_NAMES, values))
        return job


JOB_NAMES = tuple(f.name for f in fields(Job))  # as Job.state() orders them (placement last)
_JOB_FIELDS = attrgetter(*(f.name for f in fields(Job) if f.name != "placement"))


def _watch(cls: type, *names: str) -> None:
    """Make fields of dataclass `cls` watched (entities.Watched) once it is made: a field
    without a default cannot be given one (the descriptor) without reordering the fields."""
    for name in names:
        watched = Watched()
        watched.__set_name__(cls, name)
        setattr(cls, name, watched)


# Every field a rule changes while the job is live (the job index keeps each live job's
# state as of its last change: rules/index.py); the rest are fixed once it is made.
_watch(Job, "priority", "status", "start_time", "end_time", "end_reason")


@dataclass
class Version:
    version: str
    path: str
    latest: bool = False
    supported: bool = True
    health_check: str = ""
    query: str = ""
    worker: str = ""
    env: dict[str, str] = field(default_factory=dict)


@dataclass(slots=True)  # (a listing of the log as records makes up to 100,000)
class Event:
    id: int
    time: float
    token: str
    action: str
    request: str
    result: str
    peer: str = ""
