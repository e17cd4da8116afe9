import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class AccessLevel(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    ACCESS_LEVEL_UNSPECIFIED: _ClassVar[AccessLevel]
    ACCESS_LEVEL_USER: _ClassVar[AccessLevel]
    ACCESS_LEVEL_ADMIN: _ClassVar[AccessLevel]
    ACCESS_LEVEL_DEVELOPER: _ClassVar[AccessLevel]

class BackendStatus(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    BACKEND_STATUS_UNSPECIFIED: _ClassVar[BackendStatus]
    BACKEND_STATUS_SHUTDOWN: _ClassVar[BackendStatus]
    BACKEND_STATUS_ACTIVE: _ClassVar[BackendStatus]

class DeviceStatus(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    DEVICE_STATUS_UNSPECIFIED: _ClassVar[DeviceStatus]
    DEVICE_STATUS_SHUTDOWN: _ClassVar[DeviceStatus]
    DEVICE_STATUS_IDLE: _ClassVar[DeviceStatus]
    DEVICE_STATUS_PREPARING: _ClassVar[DeviceStatus]
    DEVICE_STATUS_PROCESSING: _ClassVar[DeviceStatus]
    DEVICE_STATUS_CLEANING: _ClassVar[DeviceStatus]

class JobStatus(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    JOB_STATUS_UNSPECIFIED: _ClassVar[JobStatus]
    JOB_STATUS_QUEUED: _ClassVar[JobStatus]
    JOB_STATUS_SUMMITED: _ClassVar[JobStatus]
    JOB_STATUS_RUNNING: _ClassVar[JobStatus]
    JOB_STATUS_COMPLETED: _ClassVar[JobStatus]
    JOB_STATUS_RELEASED: _ClassVar[JobStatus]
    JOB_STATUS_CANCELED: _ClassVar[JobStatus]
    JOB_STATUS_FAILED: _ClassVar[JobStatus]

class SdaOrder(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    SDA_ORDER_ID: _ClassVar[SdaOrder]
    SDA_ORDER_TOKEN: _ClassVar[SdaOrder]

class BackendOrder(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    BACKEND_ORDER_ID: _ClassVar[BackendOrder]
    BACKEND_ORDER_GROUP: _ClassVar[BackendOrder]
    BACKEND_ORDER_NAME: _ClassVar[BackendOrder]
ACCESS_LEVEL_UNSPECIFIED: AccessLevel
ACCESS_LEVEL_USER: AccessLevel
ACCESS_LEVEL_ADMIN: AccessLevel
ACCESS_LEVEL_DEVELOPER: AccessLevel
BACKEND_STATUS_UNSPECIFIED: BackendStatus
BACKEND_STATUS_SHUTDOWN: BackendStatus
BACKEND_STATUS_ACTIVE: BackendStatus
DEVICE_STATUS_UNSPECIFIED: DeviceStatus
DEVICE_STATUS_SHUTDOWN: DeviceStatus
DEVICE_STATUS_IDLE: DeviceStatus
DEVICE_STATUS_PREPARING: DeviceStatus
DEVICE_STATUS_PROCESSING: DeviceStatus
DEVICE_STATUS_CLEANING: DeviceStatus
JOB_STATUS_UNSPECIFIED: JobStatus
JOB_STATUS_QUEUED: JobStatus
JOB_STATUS_SUMMITED: JobStatus
JOB_STATUS_RUNNING: JobStatus
JOB_STATUS_COMPLETED: JobStatus
JOB_STATUS_RELEASED: JobStatus
JOB_STATUS_CANCELED: JobStatus
JOB_STATUS_FAILED: JobStatus
SDA_ORDER_ID: SdaOrder
SDA_ORDER_TOKEN: SdaOrder
BACKEND_ORDER_ID: BackendOrder
BACKEND_ORDER_GROUP: BackendOrder
BACKEND_ORDER_NAME: BackendOrder

class Ack(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class EnvVar(_message.Message):
    __slots__ = ("name", "value")
    NAME_FIELD_NUMBER: _ClassVar[int]
    VALUE_FIELD_NUMBER: _ClassVar[int]
    name: str
    value: str
    def __init__(self, name: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...

class ServerVersion(_message.Message):
    __slots__ = ("name", "version", "api_version", "start_time", "latest_client_version")
    NAME_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    API_VERSION_FIELD_NUMBER: _ClassVar[int]
    START_TIME_FIELD_NUMBER: _ClassVar[int]
    LATEST_CLIENT_VERSION_FIELD_NUMBER: _ClassVar[int]
    name: str
    version: str
    api_version: str
    start_time: _timestamp_pb2.Timestamp
    latest_client_version: str
    def __init__(self, name: _Optional[str] = ..., version: _Optional[str] = ..., api_version: _Optional[str] = ..., start_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., latest_client_version: _Optional[str] = ...) -> None: ...

class Token(_message.Message):
    __slots__ = ("value", "description", "priority", "access_level", "max_sda", "current_sda", "sda_count", "duplicable", "env", "worker_execute_info", "create_time", "user_group_ids", "running_jobs")
    VALUE_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    PRIORITY_FIELD_NUMBER: _ClassVar[int]
    ACCESS_LEVEL_FIELD_NUMBER: _ClassVar[int]
    MAX_SDA_FIELD_NUMBER: _ClassVar[int]
    CURRENT_SDA_FIELD_NUMBER: _ClassVar[int]
    SDA_COUNT_FIELD_NUMBER: _ClassVar[int]
    DUPLICABLE_FIELD_NUMBER: _ClassVar[int]
    ENV_FIELD_NUMBER: _ClassVar[int]
    WORKER_EXECUTE_INFO_FIELD_NUMBER: _ClassVar[int]
    CREATE_TIME_FIELD_NUMBER: _ClassVar[int]
    USER_GROUP_IDS_FIELD_NUMBER: _ClassVar[int]
    RUNNING_JOBS_FIELD_NUMBER: _ClassVar[int]
    value: str
    description: str
    priority: int
    access_level: AccessLevel
    max_sda: int
    current_sda: int
    sda_count: int
    duplicable: int
    env: _containers.RepeatedCompositeFieldContainer[EnvVar]
    worker_execute_info: str
    create_time: _timestamp_pb2.Timestamp
    user_group_ids: _containers.RepeatedScalarFieldContainer[int]
    running_jobs: int
    def __init__(self, value: _Optional[str] = ..., description: _Optional[str] = ..., priority: _Optional[int] = ..., access_level: _Optional[_Union[AccessLevel, str]] = ..., max_sda: _Optional[int] = ..., current_sda: _Optional[int] = ..., sda_count: _Optional[int] = ..., duplicable: _Optional[int] = ..., env: _Optional[_Iterable[_Union[EnvVar, _Mapping]]] = ..., worker_execute_info: _Optional[str] = ..., create_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., user_group_ids: _Optional[_Iterable[int]] = ..., running_jobs: _Optional[int] = ...) -> None: ...

class DevicePlacement(_message.Message):
    __slots__ = ("backend_id", "backend_name", "device_indexes")
    BACKEND_ID_FIELD_NUMBER: _ClassVar[int]
    BACKEND_NAME_FIELD_NUMBER: _ClassVar[int]
    DEVICE_INDEXES_FIELD_NUMBER: _ClassVar[int]
    backend_id: int
    backend_name: str
    device_indexes: _containers.RepeatedScalarFieldContainer[int]
    def __init__(self, backend_id: _Optional[int] = ..., backend_name: _Optional[str] = ..., device_indexes: _Optional[_Iterable[int]] = ...) -> None: ...

class Sda(_message.Message):
    __slots__ = ("id", "token", "model_id", "model_name", "model_group_id", "reserved", "description", "placement", "device_count", "running", "create_time")
    ID_FIELD_NUMBER: _ClassVar[int]
    TOKEN_FIELD_NUMBER: _ClassVar[int]
    MODEL_ID_FIELD_NUMBER: _ClassVar[int]
    MODEL_NAME_FIELD_NUMBER: _ClassVar[int]
    MODEL_GROUP_ID_FIELD_NUMBER: _ClassVar[int]
    RESERVED_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    PLACEMENT_FIELD_NUMBER: _ClassVar[int]
    DEVICE_COUNT_FIELD_NUMBER: _ClassVar[int]
    RUNNING_FIELD_NUMBER: _ClassVar[int]
    CREATE_TIME_FIELD_NUMBER: _ClassVar[int]
    id: int
    token: str
    model_id: int
    model_name: str
    model_group_id: int
    reserved: bool
    description: str
    placement: _containers.RepeatedCompositeFieldContainer[DevicePlacement]
    device_count: int
    running: bool
    create_time: _timestamp_pb2.Timestamp
    def __init__(self, id: _Optional[int] = ..., token: _Optional[str] = ..., model_id: _Optional[int] = ..., model_name: _Optional[str] = ..., model_group_id: _Optional[int] = ..., reserved: _Optional[bool] = ..., description: _Optional[str] = ..., placement: _Optional[_Iterable[_Union[DevicePlacement, _Mapping]]] = ..., device_count: _Optional[int] = ..., running: _Optional[bool] = ..., create_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class SdaModel(_message.Message):
    __slots__ = ("id", "name", "devices", "description")
    ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    DEVICES_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    id: int
    name: str
    devices: int
    description: str
    def __init__(self, id: _Optional[int] = ..., name: _Optional[str] = ..., devices: _Optional[int] = ..., description: _Optional[str] = ...) -> None: ...

class SdaModelGroup(_message.Message):
    __slots__ = ("id", "name", "backend_group_id", "backend_group_name", "models")
    ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    BACKEND_GROUP_ID_FIELD_NUMBER: _ClassVar[int]
    BACKEND_GROUP_NAME_FIELD_NUMBER: _ClassVar[int]
    MODELS_FIELD_NUMBER: _ClassVar[int]
    id: int
    name: str
    backend_group_id: int
    backend_group_name: str
    models: _containers.RepeatedCompositeFieldContainer[SdaModel]
    def __init__(self, id: _Optional[int] = ..., name: _Optional[str] = ..., backend_group_id: _Optional[int] = ..., backend_group_name: _Optional[str] = ..., models: _Optional[_Iterable[_Union[SdaModel, _Mapping]]] = ...) -> None: ...

class Device(_message.Message):
    __slots__ = ("index", "status", "job_id", "sda_id")
    INDEX_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    JOB_ID_FIELD_NUMBER: _ClassVar[int]
    SDA_ID_FIELD_NUMBER: _ClassVar[int]
    index: int
    status: DeviceStatus
    job_id: int
    sda_id: int
    def __init__(self, index: _Optional[int] = ..., status: _Optional[_Union[DeviceStatus, str]] = ..., job_id: _Optional[int] = ..., sda_id: _Optional[int] = ...) -> None: ...

class Backend(_message.Message):
    __slots__ = ("id", "name", "ip", "status", "group_id", "group_name", "devices")
    ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    IP_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    GROUP_ID_FIELD_NUMBER: _ClassVar[int]
    GROUP_NAME_FIELD_NUMBER: _ClassVar[int]
    DEVICES_FIELD_NUMBER: _ClassVar[int]
    id: int
    name: str
    ip: str
    status: BackendStatus
    group_id: int
    group_name: str
    devices: _containers.RepeatedCompositeFieldContainer[Device]
    def __init__(self, id: _Optional[int] = ..., name: _Optional[str] = ..., ip: _Optional[str] = ..., status: _Optional[_Union[BackendStatus, str]] = ..., group_id: _Optional[int] = ..., group_name: _Optional[str] = ..., devices: _Optional[_Iterable[_Union[Device, _Mapping]]] = ...) -> None: ...

class BackendRef(_message.Message):
    __slots__ = ("id", "name")
    ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    id: int
    name: str
    def __init__(self, id: _Optional[int] = ..., name: _Optional[str] = ...) -> None: ...

class BackendGroup(_message.Message):
    __slots__ = ("id", "name", "backends")
    ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    BACKENDS_FIELD_NUMBER: _ClassVar[int]
    id: int
    name: str
    backends: _containers.RepeatedCompositeFieldContainer[BackendRef]
    def __init__(self, id: _Optional[int] = ..., name: _Optional[str] = ..., backends: _Optional[_Iterable[_Union[BackendRef, _Mapping]]] = ...) -> None: ...

class UserGroup(_message.Message):
    __slots__ = ("id", "name", "description", "tokens")
    ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    TOKENS_FIELD_NUMBER: _ClassVar[int]
    id: int
    name: str
    description: str
    tokens: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, id: _Optional[int] = ..., name: _Optional[str] = ..., description: _Optional[str] = ..., tokens: _Optional[_Iterable[str]] = ...) -> None: ...

class GroupRef(_message.Message):
    __slots__ = ("id", "name")
    ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    id: int
    name: str
    def __init__(self, id: _Optional[int] = ..., name: _Optional[str] = ...) -> None: ...

class Membership(_message.Message):
    __slots__ = ("user_group", "model_groups")
    USER_GROUP_FIELD_NUMBER: _ClassVar[int]
    MODEL_GROUPS_FIELD_NUMBER: _ClassVar[int]
    user_group: GroupRef
    model_groups: _containers.RepeatedCompositeFieldContainer[GroupRef]
    def __init__(self, user_group: _Optional[_Union[GroupRef, _Mapping]] = ..., model_groups: _Optional[_Iterable[_Union[GroupRef, _Mapping]]] = ...) -> None: ...

class Relationship(_message.Message):
    __slots__ = ("user_group", "links")
    class Link(_message.Message):
        __slots__ = ("model_group", "backend_group")
        MODEL_GROUP_FIELD_NUMBER: _ClassVar[int]
        BACKEND_GROUP_FIELD_NUMBER: _ClassVar[int]
        model_group: GroupRef
        backend_group: GroupRef
        def __init__(self, model_group: _Optional[_Union[GroupRef, _Mapping]] = ..., backend_group: _Optional[_Union[GroupRef, _Mapping]] = ...) -> None: ...
    USER_GROUP_FIELD_NUMBER: _ClassVar[int]
    LINKS_FIELD_NUMBER: _ClassVar[int]
    user_group: GroupRef
    links: _containers.RepeatedCompositeFieldContainer[Relationship.Link]
    def __init__(self, user_group: _Optional[_Union[GroupRef, _Mapping]] = ..., links: _Optional[_Iterable[_Union[Relationship.Link, _Mapping]]] = ...) -> None: ...

class Job(_message.Message):
    __slots__ = ("feid", "token", "token_description", "sda_id", "model_id", "priority", "status", "client", "client_pid", "process_name", "backend_group", "request_time", "start_time", "end_time", "version", "device_count", "placement", "end_reason")
    FEID_FIELD_NUMBER: _ClassVar[int]
    TOKEN_FIELD_NUMBER: _ClassVar[int]
    TOKEN_DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    SDA_ID_FIELD_NUMBER: _ClassVar[int]
    MODEL_ID_FIELD_NUMBER: _ClassVar[int]
    PRIORITY_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    CLIENT_FIELD_NUMBER: _ClassVar[int]
    CLIENT_PID_FIELD_NUMBER: _ClassVar[int]
    PROCESS_NAME_FIELD_NUMBER: _ClassVar[int]
    BACKEND_GROUP_FIELD_NUMBER: _ClassVar[int]
    REQUEST_TIME_FIELD_NUMBER: _ClassVar[int]
    START_TIME_FIELD_NUMBER: _ClassVar[int]
    END_TIME_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    DEVICE_COUNT_FIELD_NUMBER: _ClassVar[int]
    PLACEMENT_FIELD_NUMBER: _ClassVar[int]
    END_REASON_FIELD_NUMBER: _ClassVar[int]
    feid: int
    token: str
    token_description: str
    sda_id: int
    model_id: int
    priority: int
    status: JobStatus
    client: str
    client_pid: int
    process_name: str
    backend_group: str
    request_time: _timestamp_pb2.Timestamp
    start_time: _timestamp_pb2.Timestamp
    end_time: _timestamp_pb2.Timestamp
    version: str
    device_count: int
    placement: _containers.RepeatedCompositeFieldContainer[DevicePlacement]
    end_reason: str
    def __init__(self, feid: _Optional[int] = ..., token: _Optional[str] = ..., token_description: _Optional[str] = ..., sda_id: _Optional[int] = ..., model_id: _Optional[int] = ..., priority: _Optional[int] = ..., status: _Optional[_Union[JobStatus, str]] = ..., client: _Optional[str] = ..., client_pid: _Optional[int] = ..., process_name: _Optional[str] = ..., backend_group: _Optional[str] = ..., request_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., start_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., end_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., version: _Optional[str] = ..., device_count: _Optional[int] = ..., placement: _Optional[_Iterable[_Union[DevicePlacement, _Mapping]]] = ..., end_reason: _Optional[str] = ...) -> None: ...

class Version(_message.Message):
    __slots__ = ("version", "path", "latest", "supported", "health_check", "query", "worker", "env")
    VERSION_FIELD_NUMBER: _ClassVar[int]
    PATH_FIELD_NUMBER: _ClassVar[int]
    LATEST_FIELD_NUMBER: _ClassVar[int]
    SUPPORTED_FIELD_NUMBER: _ClassVar[int]
    HEALTH_CHECK_FIELD_NUMBER: _ClassVar[int]
    QUERY_FIELD_NUMBER: _ClassVar[int]
    WORKER_FIELD_NUMBER: _ClassVar[int]
    ENV_FIELD_NUMBER: _ClassVar[int]
    version: str
    path: str
    latest: bool
    supported: bool
    health_check: str
    query: str
    worker: str
    env: _containers.RepeatedCompositeFieldContainer[EnvVar]
    def __init__(self, version: _Optional[str] = ..., path: _Optional[str] = ..., latest: _Optional[bool] = ..., supported: _Optional[bool] = ..., health_check: _Optional[str] = ..., query: _Optional[str] = ..., worker: _Optional[str] = ..., env: _Optional[_Iterable[_Union[EnvVar, _Mapping]]] = ...) -> None: ...

class UsageEntry(_message.Message):
    __slots__ = ("token", "description", "min", "max", "average", "min_percentage", "max_percentage", "average_percentage")
    TOKEN_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    MIN_FIELD_NUMBER: _ClassVar[int]
    MAX_FIELD_NUMBER: _ClassVar[int]
    AVERAGE_FIELD_NUMBER: _ClassVar[int]
    MIN_PERCENTAGE_FIELD_NUMBER: _ClassVar[int]
    MAX_PERCENTAGE_FIELD_NUMBER: _ClassVar[int]
    AVERAGE_PERCENTAGE_FIELD_NUMBER: _ClassVar[int]
    token: str
    description: str
    min: int
    max: int
    average: float
    min_percentage: float
    max_percentage: float
    average_percentage: float
    def __init__(self, token: _Optional[str] = ..., description: _Optional[str] = ..., min: _Optional[int] = ..., max: _Optional[int] = ..., average: _Optional[float] = ..., min_percentage: _Optional[float] = ..., max_percentage: _Optional[float] = ..., average_percentage: _Optional[float] = ...) -> None: ...

class UsageReport(_message.Message):
    __slots__ = ("begin", "end", "total_devices", "total", "entries")
    BEGIN_FIELD_NUMBER: _ClassVar[int]
    END_FIELD_NUMBER: _ClassVar[int]
    TOTAL_DEVICES_FIELD_NUMBER: _ClassVar[int]
    TOTAL_FIELD_NUMBER: _ClassVar[int]
    ENTRIES_FIELD_NUMBER: _ClassVar[int]
    begin: _timestamp_pb2.Timestamp
    end: _timestamp_pb2.Timestamp
    total_devices: int
    total: UsageEntry
    entries: _containers.RepeatedCompositeFieldContainer[UsageEntry]
    def __init__(self, begin: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., end: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., total_devices: _Optional[int] = ..., total: _Optional[_Union[UsageEntry, _Mapping]] = ..., entries: _Optional[_Iterable[_Union[UsageEntry, _Mapping]]] = ...) -> None: ...

class Event(_message.Message):
    __slots__ = ("id", "time", "token", "action", "request", "result", "peer")
    ID_FIELD_NUMBER: _ClassVar[int]
    TIME_FIELD_NUMBER: _ClassVar[int]
    TOKEN_FIELD_NUMBER: _ClassVar[int]
    ACTION_FIELD_NUMBER: _ClassVar[int]
    REQUEST_FIELD_NUMBER: _ClassVar[int]
    RESULT_FIELD_NUMBER: _ClassVar[int]
    PEER_FIELD_NUMBER: _ClassVar[int]
    id: int
    time: _timestamp_pb2.Timestamp
    token: str
    action: str
    request: str
    result: str
    peer: str
    def __init__(self, id: _Optional[int] = ..., time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., token: _Optional[str] = ..., action: _Optional[str] = ..., request: _Optional[str] = ..., result: _Optional[str] = ..., peer: _Optional[str] = ...) -> None: ...

class TokenPage(_message.Message):
    __slots__ = ("tokens",)
    TOKENS_FIELD_NUMBER: _ClassVar[int]
    tokens: _containers.RepeatedCompositeFieldContainer[Token]
    def __init__(self, tokens: _Optional[_Iterable[_Union[Token, _Mapping]]] = ...) -> None: ...

class SdaPage(_message.Message):
    __slots__ = ("sdas",)
    SDAS_FIELD_NUMBER: _ClassVar[int]
    sdas: _containers.RepeatedCompositeFieldContainer[Sda]
    def __init__(self, sdas: _Optional[_Iterable[_Union[Sda, _Mapping]]] = ...) -> None: ...

class BackendPage(_message.Message):
    __slots__ = ("backends",)
    BACKENDS_FIELD_NUMBER: _ClassVar[int]
    backends: _containers.RepeatedCompositeFieldContainer[Backend]
    def __init__(self, backends: _Optional[_Iterable[_Union[Backend, _Mapping]]] = ...) -> None: ...

class JobPage(_message.Message):
    __slots__ = ("jobs",)
    JOBS_FIELD_NUMBER: _ClassVar[int]
    jobs: _containers.RepeatedCompositeFieldContainer[Job]
    def __init__(self, jobs: _Optional[_Iterable[_Union[Job, _Mapping]]] = ...) -> None: ...

class EventPage(_message.Message):
    __slots__ = ("events",)
    EVENTS_FIELD_NUMBER: _ClassVar[int]
    events: _containers.RepeatedCompositeFieldContainer[Event]
    def __init__(self, events: _Optional[_Iterable[_Union[Event, _Mapping]]] = ...) -> None: ...

class GetServerVersionRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class CreateTokenRequest(_message.Message):
    __slots__ = ("description", "priority")
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    PRIORITY_FIELD_NUMBER: _ClassVar[int]
    description: str
    priority: int
    def __init__(self, description: _Optional[str] = ..., priority: _Optional[int] = ...) -> None: ...

class DeleteTokenRequest(_message.Message):
    __slots__ = ("token",)
    TOKEN_FIELD_NUMBER: _ClassVar[int]
    token: str
    def __init__(self, token: _Optional[str] = ...) -> None: ...

class GetTokenRequest(_message.Message):
    __slots__ = ("token",)
    TOKEN_FIELD_NUMBER: _ClassVar[int]
    token: str
    def __init__(self, token: _Optional[str] = ...) -> None: ...

class ListTokensRequest(_message.Message):
    __slots__ = ("running_only", "page_size")
    RUNNING_ONLY_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    running_only: bool
    page_size: int
    def __init__(self, running_only: _Optional[bool] = ..., page_size: _Optional[int] = ...) -> None: ...

class UpdateTokenPriorityRequest(_message.Message):
    __slots__ = ("token", "priority")
    TOKEN_FIELD_NUMBER: _ClassVar[int]
    PRIORITY_FIELD_NUMBER: _ClassVar[int]
    token: str
    priority: int
    def __init__(self, token: _Optional[str] = ..., priority: _Optional[int] = ...) -> None: ...

class UpdateTokenDescriptionRequest(_message.Message):
    __slots__ = ("token", "description")
    TOKEN_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    token: str
    description: str
    def __init__(self, token: _Optional[str] = ..., description: _Optional[str] = ...) -> None: ...

class UpdateTokenAccessLevelRequest(_message.Message):
    __slots__ = ("token", "access_level")
    TOKEN_FIELD_NUMBER: _ClassVar[int]
    ACCESS_LEVEL_FIELD_NUMBER: _ClassVar[int]
    token: str
    access_level: AccessLevel
    def __init__(self, token: _Optional[str] = ..., access_level: _Optional[_Union[AccessLevel, str]] = ...) -> None: ...

class UpdateTokenMaxSdaRequest(_message.Message):
    __slots__ = ("token", "max_sda")
    TOKEN_FIELD_NUMBER: _ClassVar[int]
    MAX_SDA_FIELD_NUMBER: _ClassVar[int]
    token: str
    max_sda: int
    def __init__(self, token: _Optional[str] = ..., max_sda: _Optional[int] = ...) -> None: ...

class UpdateTokenCurrentSdaRequest(_message.Message):
    __slots__ = ("token", "sda_id")
    TOKEN_FIELD_NUMBER: _ClassVar[int]
    SDA_ID_FIELD_NUMBER: _ClassVar[int]
    token: str
    sda_id: int
    def __init__(self, token: _Optional[str] = ..., sda_id: _Optional[int] = ...) -> None: ...

class UpdateTokenDuplicableRequest(_message.Message):
    __slots__ = ("token", "duplicable")
    TOKEN_FIELD_NUMBER: _ClassVar[int]
    DUPLICABLE_FIELD_NUMBER: _ClassVar[int]
    token: str
    duplicable: int
    def __init__(self, token: _Optional[str] = ..., duplicable: _Optional[int] = ...) -> None: ...

class AddTokenEnvRequest(_message.Message):
    __slots__ = ("token", "name", "value")
    TOKEN_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    VALUE_FIELD_NUMBER: _ClassVar[int]
    token: str
    name: str
    value: str
    def __init__(self, token: _Optional[str] = ..., name: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...

class RemoveTokenEnvRequest(_message.Message):
    __slots__ = ("token", "name")
    TOKEN_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    token: str
    name: str
    def __init__(self, token: _Optional[str] = ..., name: _Optional[str] = ...) -> None: ...

class CreateSdaRequest(_message.Message):
    __slots__ = ("token", "description", "model_id", "model_group_id", "reserved")
    TOKEN_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    MODEL_ID_FIELD_NUMBER: _ClassVar[int]
    MODEL_GROUP_ID_FIELD_NUMBER: _ClassVar[int]
    RESERVED_FIELD_NUMBER: _ClassVar[int]
    token: str
    description: str
    model_id: int
    model_group_id: int
    reserved: bool
    def __init__(self, token: _Optional[str] = ..., description: _Optional[str] = ..., model_id: _Optional[int] = ..., model_group_id: _Optional[int] = ..., reserved: _Optional[bool] = ...) -> None: ...

class UpdateSdaRequest(_message.Message):
    __slots__ = ("token", "sda_id", "model_id", "model_group_id")
    TOKEN_FIELD_NUMBER: _ClassVar[int]
    SDA_ID_FIELD_NUMBER: _ClassVar[int]
    MODEL_ID_FIELD_NUMBER: _ClassVar[int]
    MODEL_GROUP_ID_FIELD_NUMBER: _ClassVar[int]
    token: str
    sda_id: int
    model_id: int
    model_group_id: int
    def __init__(self, token: _Optional[str] = ..., sda_id: _Optional[int] = ..., model_id: _Optional[int] = ..., model_group_id: _Optional[int] = ...) -> None: ...

class DeleteSdaRequest(_message.Message):
    __slots__ = ("token", "sda_id")
    TOKEN_FIELD_NUMBER: _ClassVar[int]
    SDA_ID_FIELD_NUMBER: _ClassVar[int]
    token: str
    sda_id: int
    def __init__(self, token: _Optional[str] = ..., sda_id: _Optional[int] = ...) -> None: ...

class DeleteSdaResponse(_message.Message):
    __slots__ = ("deleted_ids",)
    DELETED_IDS_FIELD_NUMBER: _ClassVar[int]
    deleted_ids: _containers.RepeatedScalarFieldContainer[int]
    def __init__(self, deleted_ids: _Optional[_Iterable[int]] = ...) -> None: ...

class ListSdasRequest(_message.Message):
    __slots__ = ("token", "running_only", "order", "page_size")
    TOKEN_FIELD_NUMBER: _ClassVar[int]
    RUNNING_ONLY_FIELD_NUMBER: _ClassVar[int]
    ORDER_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    token: str
    running_only: bool
    order: SdaOrder
    page_size: int
    def __init__(self, token: _Optional[str] = ..., running_only: _Optional[bool] = ..., order: _Optional[_Union[SdaOrder, str]] = ..., page_size: _Optional[int] = ...) -> None: ...

class CreateSdaModelRequest(_message.Message):
    __slots__ = ("name", "devices", "description")
    NAME_FIELD_NUMBER: _ClassVar[int]
    DEVICES_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    name: str
    devices: int
    description: str
    def __init__(self, name: _Optional[str] = ..., devices: _Optional[int] = ..., description: _Optional[str] = ...) -> None: ...

class DeleteSdaModelRequest(_message.Message):
    __slots__ = ("id",)
    ID_FIELD_NUMBER: _ClassVar[int]
    id: int
    def __init__(self, id: _Optional[int] = ...) -> None: ...

class ListSdaModelsRequest(_message.Message):
    __slots__ = ("token",)
    TOKEN_FIELD_NUMBER: _ClassVar[int]
    token: str
    def __init__(self, token: _Optional[str] = ...) -> None: ...

class ListSdaModelsResponse(_message.Message):
    __slots__ = ("models",)
    MODELS_FIELD_NUMBER: _ClassVar[int]
    models: _containers.RepeatedCompositeFieldContainer[SdaModel]
    def __init__(self, models: _Optional[_Iterable[_Union[SdaModel, _Mapping]]] = ...) -> None: ...

class CreateSdaModelGroupRequest(_message.Message):
    __slots__ = ("name", "backend_group_id", "model_ids")
    NAME_FIELD_NUMBER: _ClassVar[int]
    BACKEND_GROUP_ID_FIELD_NUMBER: _ClassVar[int]
    MODEL_IDS_FIELD_NUMBER: _ClassVar[int]
    name: str
    backend_group_id: int
    model_ids: _containers.RepeatedScalarFieldContainer[int]
    def __init__(self, name: _Optional[str] = ..., backend_group_id: _Optional[int] = ..., model_ids: _Optional[_Iterable[int]] = ...) -> None: ...

class DeleteSdaModelGroupRequest(_message.Message):
    __slots__ = ("id", "force")
    ID_FIELD_NUMBER: _ClassVar[int]
    FORCE_FIELD_NUMBER: _ClassVar[int]
    id: int
    force: bool
    def __init__(self, id: _Optional[int] = ..., force: _Optional[bool] = ...) -> None: ...

class ListSdaModelGroupsRequest(_message.Message):
    __slots__ = ("id",)
    ID_FIELD_NUMBER: _ClassVar[int]
    id: int
    def __init__(self, id: _Optional[int] = ...) -> None: ...

class ListSdaModelGroupsResponse(_message.Message):
    __slots__ = ("groups",)
    GROUPS_FIELD_NUMBER: _ClassVar[int]
    groups: _containers.RepeatedCompositeFieldContainer[SdaModelGroup]
    def __init__(self, groups: _Optional[_Iterable[_Union[SdaModelGroup, _Mapping]]] = ...) -> None: ...

class RenameSdaModelGroupRequest(_message.Message):
    __slots__ = ("id", "name")
    ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    id: int
    name: str
    def __init__(self, id: _Optional[int] = ..., name: _Optional[str] = ...) -> None: ...

class SetSdaModelGroupBackendGroupRequest(_message.Message):
    __slots__ = ("id", "backend_group_id")
    ID_FIELD_NUMBER: _ClassVar[int]
    BACKEND_GROUP_ID_FIELD_NUMBER: _ClassVar[int]
    id: int
    backend_group_id: int
    def __init__(self, id: _Optional[int] = ..., backend_group_id: _Optional[int] = ...) -> None: ...

class SetSdaModelGroupModelsRequest(_message.Message):
    __slots__ = ("id", "model_ids")
    ID_FIELD_NUMBER: _ClassVar[int]
    MODEL_IDS_FIELD_NUMBER: _ClassVar[int]
    id: int
    model_ids: _containers.RepeatedScalarFieldContainer[int]
    def __init__(self, id: _Optional[int] = ..., model_ids: _Optional[_Iterable[int]] = ...) -> None: ...

class SdaModelGroupMemberRequest(_message.Message):
    __slots__ = ("id", "model_id")
    ID_FIELD_NUMBER: _ClassVar[int]
    MODEL_ID_FIELD_NUMBER: _ClassVar[int]
    id: int
    model_id: int
    def __init__(self, id: _Optional[int] = ..., model_id: _Optional[int] = ...) -> None: ...

class CreateBackendRequest(_message.Message):
    __slots__ = ("name", "ip", "device_count")
    NAME_FIELD_NUMBER: _ClassVar[int]
    IP_FIELD_NUMBER: _ClassVar[int]
    DEVICE_COUNT_FIELD_NUMBER: _ClassVar[int]
    name: str
    ip: str
    device_count: int
    def __init__(self, name: _Optional[str] = ..., ip: _Optional[str] = ..., device_count: _Optional[int] = ...) -> None: ...

class DeleteBackendRequest(_message.Message):
    __slots__ = ("id",)
    ID_FIELD_NUMBER: _ClassVar[int]
    id: int
    def __init__(self, id: _Optional[int] = ...) -> None: ...

class ListBackendsRequest(_message.Message):
    __slots__ = ("order", "id", "group_id", "name", "page_size")
    ORDER_FIELD_NUMBER: _ClassVar[int]
    ID_FIELD_NUMBER: _ClassVar[int]
    GROUP_ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    order: BackendOrder
    id: int
    group_id: int
    name: str
    page_size: int
    def __init__(self, order: _Optional[_Union[BackendOrder, str]] = ..., id: _Optional[int] = ..., group_id: _Optional[int] = ..., name: _Optional[str] = ..., page_size: _Optional[int] = ...) -> None: ...

class UpdateBackendHostRequest(_message.Message):
    __slots__ = ("id", "name")
    ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    id: int
    name: str
    def __init__(self, id: _Optional[int] = ..., name: _Optional[str] = ...) -> None: ...

class UpdateBackendIpRequest(_message.Message):
    __slots__ = ("id", "ip")
    ID_FIELD_NUMBER: _ClassVar[int]
    IP_FIELD_NUMBER: _ClassVar[int]
    id: int
    ip: str
    def __init__(self, id: _Optional[int] = ..., ip: _Optional[str] = ...) -> None: ...

class UpdateBackendStatusRequest(_message.Message):
    __slots__ = ("id", "status")
    ID_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    id: int
    status: BackendStatus
    def __init__(self, id: _Optional[int] = ..., status: _Optional[_Union[BackendStatus, str]] = ...) -> None: ...

class UpdateBackendGroupRequest(_message.Message):
    __slots__ = ("id", "group_id")
    ID_FIELD_NUMBER: _ClassVar[int]
    GROUP_ID_FIELD_NUMBER: _ClassVar[int]
    id: int
    group_id: int
    def __init__(self, id: _Optional[int] = ..., group_id: _Optional[int] = ...) -> None: ...

class UpdateDeviceStatusRequest(_message.Message):
    __slots__ = ("backend_id", "index", "status")
    BACKEND_ID_FIELD_NUMBER: _ClassVar[int]
    INDEX_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    backend_id: int
    index: int
    status: DeviceStatus
    def __init__(self, backend_id: _Optional[int] = ..., index: _Optional[int] = ..., status: _Optional[_Union[DeviceStatus, str]] = ...) -> None: ...

class UpdateAllDeviceStatusRequest(_message.Message):
    __slots__ = ("backend_id", "status")
    BACKEND_ID_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    backend_id: int
    status: DeviceStatus
    def __init__(self, backend_id: _Optional[int] = ..., status: _Optional[_Union[DeviceStatus, str]] = ...) -> None: ...

class CreateBackendGroupRequest(_message.Message):
    __slots__ = ("name", "backend_ids")
    NAME_FIELD_NUMBER: _ClassVar[int]
    BACKEND_IDS_FIELD_NUMBER: _ClassVar[int]
    name: str
    backend_ids: _containers.RepeatedScalarFieldContainer[int]
    def __init__(self, name: _Optional[str] = ..., backend_ids: _Optional[_Iterable[int]] = ...) -> None: ...

class DeleteBackendGroupRequest(_message.Message):
    __slots__ = ("id", "force")
    ID_FIELD_NUMBER: _ClassVar[int]
    FORCE_FIELD_NUMBER: _ClassVar[int]
    id: int
    force: bool
    def __init__(self, id: _Optional[int] = ..., force: _Optional[bool] = ...) -> None: ...

class ListBackendGroupsRequest(_message.Message):
    __slots__ = ("id",)
    ID_FIELD_NUMBER: _ClassVar[int]
    id: int
    def __init__(self, id: _Optional[int] = ...) -> None: ...

class ListBackendGroupsResponse(_message.Message):
    __slots__ = ("groups",)
    GROUPS_FIELD_NUMBER: _ClassVar[int]
    groups: _containers.RepeatedCompositeFieldContainer[BackendGroup]
    def __init__(self, groups: _Optional[_Iterable[_Union[BackendGroup, _Mapping]]] = ...) -> None: ...

class RenameBackendGroupRequest(_message.Message):
    __slots__ = ("id", "name")
    ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    id: int
    name: str
    def __init__(self, id: _Optional[int] = ..., name: _Optional[str] = ...) -> None: ...

class SetBackendGroupBackendsRequest(_message.Message):
    __slots__ = ("id", "backend_ids")
    ID_FIELD_NUMBER: _ClassVar[int]
    BACKEND_IDS_FIELD_NUMBER: _ClassVar[int]
    id: int
    backend_ids: _containers.RepeatedScalarFieldContainer[int]
    def __init__(self, id: _Optional[int] = ..., backend_ids: _Optional[_Iterable[int]] = ...) -> None: ...

class BackendGroupMemberRequest(_message.Message):
    __slots__ = ("id", "backend_id")
    ID_FIELD_NUMBER: _ClassVar[int]
    BACKEND_ID_FIELD_NUMBER: _ClassVar[int]
    id: int
    backend_id: int
    def __init__(self, id: _Optional[int] = ..., backend_id: _Optional[int] = ...) -> None: ...

class CreateUserGroupRequest(_message.Message):
    __slots__ = ("name", "description", "tokens")
    NAME_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    TOKENS_FIELD_NUMBER: _ClassVar[int]
    name: str
    description: str
    tokens: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, name: _Optional[str] = ..., description: _Optional[str] = ..., tokens: _Optional[_Iterable[str]] = ...) -> None: ...

class DeleteUserGroupRequest(_message.Message):
    __slots__ = ("id", "force")
    ID_FIELD_NUMBER: _ClassVar[int]
    FORCE_FIELD_NUMBER: _ClassVar[int]
    id: int
    force: bool
    def __init__(self, id: _Optional[int] = ..., force: _Optional[bool] = ...) -> None: ...

class ListUserGroupsRequest(_message.Message):
    __slots__ = ("id",)
    ID_FIELD_NUMBER: _ClassVar[int]
    id: int
    def __init__(self, id: _Optional[int] = ...) -> None: ...

class ListUserGroupsResponse(_message.Message):
    __slots__ = ("groups",)
    GROUPS_FIELD_NUMBER: _ClassVar[int]
    groups: _containers.RepeatedCompositeFieldContainer[UserGroup]
    def __init__(self, groups: _Optional[_Iterable[_Union[UserGroup, _Mapping]]] = ...) -> None: ...

class RenameUserGroupRequest(_message.Message):
    __slots__ = ("id", "name")
    ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    id: int
    name: str
    def __init__(self, id: _Optional[int] = ..., name: _Optional[str] = ...) -> None: ...

class SetUserGroupTokensRequest(_message.Message):
    __slots__ = ("id", "tokens")
    ID_FIELD_NUMBER: _ClassVar[int]
    TOKENS_FIELD_NUMBER: _ClassVar[int]
    id: int
    tokens: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, id: _Optional[int] = ..., tokens: _Optional[_Iterable[str]] = ...) -> None: ...

class UserGroupMemberRequest(_message.Message):
    __slots__ = ("id", "token")
    ID_FIELD_NUMBER: _ClassVar[int]
    TOKEN_FIELD_NUMBER: _ClassVar[int]
    id: int
    token: str
    def __init__(self, id: _Optional[int] = ..., token: _Optional[str] = ...) -> None: ...

class MembershipRequest(_message.Message):
    __slots__ = ("user_group_id", "model_group_id")
    USER_GROUP_ID_FIELD_NUMBER: _ClassVar[int]
    MODEL_GROUP_ID_FIELD_NUMBER: _ClassVar[int]
    user_group_id: int
    model_group_id: int
    def __init__(self, user_group_id: _Optional[int] = ..., model_group_id: _Optional[int] = ...) -> None: ...

class ListMembershipsRequest(_message.Message):
    __slots__ = ("user_group_id",)
    USER_GROUP_ID_FIELD_NUMBER: _ClassVar[int]
    user_group_id: int
    def __init__(self, user_group_id: _Optional[int] = ...) -> None: ...

class ListMembershipsResponse(_message.Message):
    __slots__ = ("memberships",)
    MEMBERSHIPS_FIELD_NUMBER: _ClassVar[int]
    memberships: _containers.RepeatedCompositeFieldContainer[Membership]
    def __init__(self, memberships: _Optional[_Iterable[_Union[Membership, _Mapping]]] = ...) -> None: ...

class ListRelationshipsRequest(_message.Message):
    __slots__ = ("user_group_id",)
    USER_GROUP_ID_FIELD_NUMBER: _ClassVar[int]
    user_group_id: int
    def __init__(self, user_group_id: _Optional[int] = ...) -> None: ...

class ListRelationshipsResponse(_message.Message):
    __slots__ = ("relationships",)
    RELATIONSHIPS_FIELD_NUMBER: _ClassVar[int]
    relationships: _containers.RepeatedCompositeFieldContainer[Relationship]
    def __init__(self, relationships: _Optional[_Iterable[_Union[Relationship, _Mapping]]] = ...) -> None: ...

class ListJobsRequest(_message.Message):
    __slots__ = ("status", "token", "page_size")
    STATUS_FIELD_NUMBER: _ClassVar[int]
    TOKEN_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    status: JobStatus
    token: str
    page_size: int
    def __init__(self, status: _Optional[_Union[JobStatus, str]] = ..., token: _Optional[str] = ..., page_size: _Optional[int] = ...) -> None: ...

class GetJobRequest(_message.Message):
    __slots__ = ("feid",)
    FEID_FIELD_NUMBER: _ClassVar[int]
    feid: int
    def __init__(self, feid: _Optional[int] = ...) -> None: ...

class UpdateJobPriorityRequest(_message.Message):
    __slots__ = ("feid", "priority")
    FEID_FIELD_NUMBER: _ClassVar[int]
    PRIORITY_FIELD_NUMBER: _ClassVar[int]
    feid: int
    priority: int
    def __init__(self, feid: _Optional[int] = ..., priority: _Optional[int] = ...) -> None: ...

class ReleaseRequest(_message.Message):
    __slots__ = ("feid", "token", "sda_id")
    FEID_FIELD_NUMBER: _ClassVar[int]
    TOKEN_FIELD_NUMBER: _ClassVar[int]
    SDA_ID_FIELD_NUMBER: _ClassVar[int]
    feid: int
    token: str
    sda_id: int
    def __init__(self, feid: _Optional[int] = ..., token: _Optional[str] = ..., sda_id: _Optional[int] = ...) -> None: ...

class ReleaseAllRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class ReleaseResponse(_message.Message):
    __slots__ = ("released_feids",)
    RELEASED_FEIDS_FIELD_NUMBER: _ClassVar[int]
    released_feids: _containers.RepeatedScalarFieldContainer[int]
    def __init__(self, released_feids: _Optional[_Iterable[int]] = ...) -> None: ...

class ListHistoryRequest(_message.Message):
    __slots__ = ("count", "token", "page_size")
    COUNT_FIELD_NUMBER: _ClassVar[int]
    TOKEN_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    count: int
    token: str
    page_size: int
    def __init__(self, count: _Optional[int] = ..., token: _Optional[str] = ..., page_size: _Optional[int] = ...) -> None: ...

class GetHistoryRequest(_message.Message):
    __slots__ = ("feid",)
    FEID_FIELD_NUMBER: _ClassVar[int]
    feid: int
    def __init__(self, feid: _Optional[int] = ...) -> None: ...

class CreateVersionRequest(_message.Message):
    __slots__ = ("version", "path")
    VERSION_FIELD_NUMBER: _ClassVar[int]
    PATH_FIELD_NUMBER: _ClassVar[int]
    version: str
    path: str
    def __init__(self, version: _Optional[str] = ..., path: _Optional[str] = ...) -> None: ...

class DeleteVersionRequest(_message.Message):
    __slots__ = ("version",)
    VERSION_FIELD_NUMBER: _ClassVar[int]
    version: str
    def __init__(self, version: _Optional[str] = ...) -> None: ...

class ListVersionsRequest(_message.Message):
    __slots__ = ("version",)
    VERSION_FIELD_NUMBER: _ClassVar[int]
    version: str
    def __init__(self, version: _Optional[str] = ...) -> None: ...

class ListVersionsResponse(_message.Message):
    __slots__ = ("versions",)
    VERSIONS_FIELD_NUMBER: _ClassVar[int]
    versions: _containers.RepeatedCompositeFieldContainer[Version]
    def __init__(self, versions: _Optional[_Iterable[_Union[Version, _Mapping]]] = ...) -> None: ...

class UpdateVersionTextRequest(_message.Message):
    __slots__ = ("version", "value")
    VERSION_FIELD_NUMBER: _ClassVar[int]
    VALUE_FIELD_NUMBER: _ClassVar[int]
    version: str
    value: str
    def __init__(self, version: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...

class UpdateVersionSupportRequest(_message.Message):
    __slots__ = ("version", "supported")
    VERSION_FIELD_NUMBER: _ClassVar[int]
    SUPPORTED_FIELD_NUMBER: _ClassVar[int]
    version: str
    supported: bool
    def __init__(self, version: _Optional[str] = ..., supported: _Optional[bool] = ...) -> None: ...

class SetLatestVersionRequest(_message.Message):
    __slots__ = ("version",)
    VERSION_FIELD_NUMBER: _ClassVar[int]
    version: str
    def __init__(self, version: _Optional[str] = ...) -> None: ...

class AddWorkerEnvRequest(_message.Message):
    __slots__ = ("version", "name", "value")
    VERSION_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    VALUE_FIELD_NUMBER: _ClassVar[int]
    version: str
    name: str
    value: str
    def __init__(self, version: _Optional[str] = ..., name: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...

class RemoveWorkerEnvRequest(_message.Message):
    __slots__ = ("version", "name")
    VERSION_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    version: str
    name: str
    def __init__(self, version: _Optional[str] = ..., name: _Optional[str] = ...) -> None: ...

class GetUsageRequest(_message.Message):
    __slots__ = ("begin", "end", "token")
    BEGIN_FIELD_NUMBER: _ClassVar[int]
    END_FIELD_NUMBER: _ClassVar[int]
    TOKEN_FIELD_NUMBER: _ClassVar[int]
    begin: _timestamp_pb2.Timestamp
    end: _timestamp_pb2.Timestamp
    token: str
    def __init__(self, begin: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., end: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., token: _Optional[str] = ...) -> None: ...

class ListEventsRequest(_message.Message):
    __slots__ = ("token", "action", "count", "page_size")
    TOKEN_FIELD_NUMBER: _ClassVar[int]
    ACTION_FIELD_NUMBER: _ClassVar[int]
    COUNT_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    token: str
    action: str
    count: int
    page_size: int
    def __init__(self, token: _Optional[str] = ..., action: _Optional[str] = ..., count: _Optional[int] = ..., page_size: _Optional[int] = ...) -> None: ...

class RequestDevicesRequest(_message.Message):
    __slots__ = ("token", "client_pid", "process_name", "client", "version", "sda_id")
    TOKEN_FIELD_NUMBER: _ClassVar[int]
    CLIENT_PID_FIELD_NUMBER: _ClassVar[int]
    PROCESS_NAME_FIELD_NUMBER: _ClassVar[int]
    CLIENT_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    SDA_ID_FIELD_NUMBER: _ClassVar[int]
    token: str
    client_pid: int
    process_name: str
    client: str
    version: str
    sda_id: int
    def __init__(self, token: _Optional[str] = ..., client_pid: _Optional[int] = ..., process_name: _Optional[str] = ..., client: _Optional[str] = ..., version: _Optional[str] = ..., sda_id: _Optional[int] = ...) -> None: ...

class ReportRunningRequest(_message.Message):
    __slots__ = ("feid", "token")
    FEID_FIELD_NUMBER: _ClassVar[int]
    TOKEN_FIELD_NUMBER: _ClassVar[int]
    feid: int
    token: str
    def __init__(self, feid: _Optional[int] = ..., token: _Optional[str] = ...) -> None: ...

class FinishJobRequest(_message.Message):
    __slots__ = ("feid", "failed", "reason", "token")
    FEID_FIELD_NUMBER: _ClassVar[int]
    FAILED_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    TOKEN_FIELD_NUMBER: _ClassVar[int]
    feid: int
    failed: bool
    reason: str
    token: str
    def __init__(self, feid: _Optional[int] = ..., failed: _Optional[bool] = ..., reason: _Optional[str] = ..., token: _Optional[str] = ...) -> None: ...

class GetDevicesRequest(_message.Message):
    __slots__ = ("token",)
    TOKEN_FIELD_NUMBER: _ClassVar[int]
    token: str
    def __init__(self, token: _Optional[str] = ...) -> None: ...

class ListModelChoicesRequest(_message.Message):
    __slots__ = ("token",)
    TOKEN_FIELD_NUMBER: _ClassVar[int]
    token: str
    def __init__(self, token: _Optional[str] = ...) -> None: ...

class SwitchModelRequest(_message.Message):
    __slots__ = ("token", "model_id", "model_group_id", "sda_id")
    TOKEN_FIELD_NUMBER: _ClassVar[int]
    MODEL_ID_FIELD_NUMBER: _ClassVar[int]
    MODEL_GROUP_ID_FIELD_NUMBER: _ClassVar[int]
    SDA_ID_FIELD_NUMBER: _ClassVar[int]
    token: str
    model_id: int
    model_group_id: int
    sda_id: int
    def __init__(self, token: _Optional[str] = ..., model_id: _Optional[int] = ..., model_group_id: _Optional[int] = ..., sda_id: _Optional[int] = ...) -> None: ...

class AddDeviceRequest(_message.Message):
    __slots__ = ("token", "model_id", "model_group_id")
    TOKEN_FIELD_NUMBER: _ClassVar[int]
    MODEL_ID_FIELD_NUMBER: _ClassVar[int]
    MODEL_GROUP_ID_FIELD_NUMBER: _ClassVar[int]
    token: str
    model_id: int
    model_group_id: int
    def __init__(self, token: _Optional[str] = ..., model_id: _Optional[int] = ..., model_group_id: _Optional[int] = ...) -> None: ...

class RemoveDeviceRequest(_message.Message):
    __slots__ = ("token", "sda_id")
    TOKEN_FIELD_NUMBER: _ClassVar[int]
    SDA_ID_FIELD_NUMBER: _ClassVar[int]
    token: str
    sda_id: int
    def __init__(self, token: _Optional[str] = ..., sda_id: _Optional[int] = ...) -> None: ...

class SwitchDeviceRequest(_message.Message):
    __slots__ = ("token", "sda_id")
    TOKEN_FIELD_NUMBER: _ClassVar[int]
    SDA_ID_FIELD_NUMBER: _ClassVar[int]
    token: str
    sda_id: int
    def __init__(self, token: _Optional[str] = ..., sda_id: _Optional[int] = ...) -> None: ...

class ResetDeviceRequest(_message.Message):
    __slots__ = ("token", "sda_id")
    TOKEN_FIELD_NUMBER: _ClassVar[int]
    SDA_ID_FIELD_NUMBER: _ClassVar[int]
    token: str
    sda_id: int
    def __init__(self, token: _Optional[str] = ..., sda_id: _Optional[int] = ...) -> None: ...

class ModelChoice(_message.Message):
    __slots__ = ("model", "model_group_id", "model_group_name", "current")
    MODEL_FIELD_NUMBER: _ClassVar[int]
    MODEL_GROUP_ID_FIELD_NUMBER: _ClassVar[int]
    MODEL_GROUP_NAME_FIELD_NUMBER: _ClassVar[int]
    CURRENT_FIELD_NUMBER: _ClassVar[int]
    model: SdaModel
    model_group_id: int
    model_group_name: str
    current: bool
    def __init__(self, model: _Optional[_Union[SdaModel, _Mapping]] = ..., model_group_id: _Optional[int] = ..., model_group_name: _Optional[str] = ..., current: _Optional[bool] = ...) -> None: ...

class ModelChoices(_message.Message):
    __slots__ = ("choices", "current_sda", "current_model_name", "current_model_group_name")
    CHOICES_FIELD_NUMBER: _ClassVar[int]
    CURRENT_SDA_FIELD_NUMBER: _ClassVar[int]
    CURRENT_MODEL_NAME_FIELD_NUMBER: _ClassVar[int]
    CURRENT_MODEL_GROUP_NAME_FIELD_NUMBER: _ClassVar[int]
    choices: _containers.RepeatedCompositeFieldContainer[ModelChoice]
    current_sda: int
    current_model_name: str
    current_model_group_name: str
    def __init__(self, choices: _Optional[_Iterable[_Union[ModelChoice, _Mapping]]] = ..., current_sda: _Optional[int] = ..., current_model_name: _Optional[str] = ..., current_model_group_name: _Optional[str] = ...) -> None: ...

class DeviceTelemetry(_message.Message):
    __slots__ = ("backend_id", "backend_name", "index", "temperature_c", "memory_temperature_c", "utilization_percent", "memory_utilization_percent", "memory_used_mib", "memory_total_mib")
    BACKEND_ID_FIELD_NUMBER: _ClassVar[int]
    BACKEND_NAME_FIELD_NUMBER: _ClassVar[int]
    INDEX_FIELD_NUMBER: _ClassVar[int]
    TEMPERATURE_C_FIELD_NUMBER: _ClassVar[int]
    MEMORY_TEMPERATURE_C_FIELD_NUMBER: _ClassVar[int]
    UTILIZATION_PERCENT_FIELD_NUMBER: _ClassVar[int]
    MEMORY_UTILIZATION_PERCENT_FIELD_NUMBER: _ClassVar[int]
    MEMORY_USED_MIB_FIELD_NUMBER: _ClassVar[int]
    MEMORY_TOTAL_MIB_FIELD_NUMBER: _ClassVar[int]
    backend_id: int
    backend_name: str
    index: int
    temperature_c: int
    memory_temperature_c: int
    utilization_percent: int
    memory_utilization_percent: int
    memory_used_mib: int
    memory_total_mib: int
    def __init__(self, backend_id: _Optional[int] = ..., backend_name: _Optional[str] = ..., index: _Optional[int] = ..., temperature_c: _Optional[int] = ..., memory_temperature_c: _Optional[int] = ..., utilization_percent: _Optional[int] = ..., memory_utilization_percent: _Optional[int] = ..., memory_used_mib: _Optional[int] = ..., memory_total_mib: _Optional[int] = ...) -> None: ...

class DeviceJob(_message.Message):
    __slots__ = ("feid", "status", "client_pid", "process_name", "measured", "memory_used_mib", "memory_total_mib", "utilization_percent", "devices")
    FEID_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    CLIENT_PID_FIELD_NUMBER: _ClassVar[int]
    PROCESS_NAME_FIELD_NUMBER: _ClassVar[int]
    MEASURED_FIELD_NUMBER: _ClassVar[int]
    MEMORY_USED_MIB_FIELD_NUMBER: _ClassVar[int]
    MEMORY_TOTAL_MIB_FIELD_NUMBER: _ClassVar[int]
    UTILIZATION_PERCENT_FIELD_NUMBER: _ClassVar[int]
    DEVICES_FIELD_NUMBER: _ClassVar[int]
    feid: int
    status: JobStatus
    client_pid: int
    process_name: str
    measured: bool
    memory_used_mib: int
    memory_total_mib: int
    utilization_percent: int
    devices: _containers.RepeatedCompositeFieldContainer[DeviceTelemetry]
    def __init__(self, feid: _Optional[int] = ..., status: _Optional[_Union[JobStatus, str]] = ..., client_pid: _Optional[int] = ..., process_name: _Optional[str] = ..., measured: _Optional[bool] = ..., memory_used_mib: _Optional[int] = ..., memory_total_mib: _Optional[int] = ..., utilization_percent: _Optional[int] = ..., devices: _Optional[_Iterable[_Union[DeviceTelemetry, _Mapping]]] = ...) -> None: ...

class TokenDevice(_message.Message):
    __slots__ = ("sda_id", "model_id", "model_name", "model_group_id", "model_group_name", "device_count", "current", "jobs")
    SDA_ID_FIELD_NUMBER: _ClassVar[int]
    MODEL_ID_FIELD_NUMBER: _ClassVar[int]
    MODEL_NAME_FIELD_NUMBER: _ClassVar[int]
    MODEL_GROUP_ID_FIELD_NUMBER: _ClassVar[int]
    MODEL_GROUP_NAME_FIELD_NUMBER: _ClassVar[int]
    DEVICE_COUNT_FIELD_NUMBER: _ClassVar[int]
    CURRENT_FIELD_NUMBER: _ClassVar[int]
    JOBS_FIELD_NUMBER: _ClassVar[int]
    sda_id: int
    model_id: int
    model_name: str
    model_group_id: int
    model_group_name: str
    device_count: int
    current: bool
    jobs: _containers.RepeatedCompositeFieldContainer[DeviceJob]
    def __init__(self, sda_id: _Optional[int] = ..., model_id: _Optional[int] = ..., model_name: _Optional[str] = ..., model_group_id: _Optional[int] = ..., model_group_name: _Optional[str] = ..., device_count: _Optional[int] = ..., current: _Optional[bool] = ..., jobs: _Optional[_Iterable[_Union[DeviceJob, _Mapping]]] = ...) -> None: ...

class DeviceReport(_message.Message):
    __slots__ = ("token", "max_sda", "current_sda", "duplicable", "devices", "current_version", "latest_version", "server_version")
    TOKEN_FIELD_NUMBER: _ClassVar[int]
    MAX_SDA_FIELD_NUMBER: _ClassVar[int]
    CURRENT_SDA_FIELD_NUMBER: _ClassVar[int]
    DUPLICABLE_FIELD_NUMBER: _ClassVar[int]
    DEVICES_FIELD_NUMBER: _ClassVar[int]
    CURRENT_VERSION_FIELD_NUMBER: _ClassVar[int]
    LATEST_VERSION_FIELD_NUMBER: _ClassVar[int]
    SERVER_VERSION_FIELD_NUMBER: _ClassVar[int]
    token: str
    max_sda: int
    current_sda: int
    duplicable: int
    devices: _containers.RepeatedCompositeFieldContainer[TokenDevice]
    current_version: str
    latest_version: str
    server_version: str
    def __init__(self, token: _Optional[str] = ..., max_sda: _Optional[int] = ..., current_sda: _Optional[int] = ..., duplicable: _Optional[int] = ..., devices: _Optional[_Iterable[_Union[TokenDevice, _Mapping]]] = ..., current_version: _Optional[str] = ..., latest_version: _Optional[str] = ..., server_version: _Optional[str] = ...) -> None: ...
