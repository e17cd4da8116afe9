"""The rules of SDAManager: tokens, SDAs, models, backends, groups, memberships.

Nothing here knows about gRPC.  Every public method is one operation of the
API; it validates its arguments, checks the rules against the current state,
changes the state or raises a DomainError with the reason, and records the
attempt in the event log.  One re-entrant lock serialises every operation, so
concurrent callers never see or leave a half-made change.
"""

from __future__ import annotations

import base64
import ipaddress
import logging
import secrets
import sqlite3
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any, TypeVar

from . import validate
from .audit import change, plural, query, request_peer
from .entities import (
    DEFAULT_BACKEND_GROUP_ID,
    DEFAULT_BACKEND_GROUP_NAME,
    DUPLICABLE_OFF,
    AccessLevel,
    Backend,
    BackendGroup,
    BackendStatus,
    Device,
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
from .errors import (
    AlreadyExists,
    DomainError,
    FailedPrecondition,
    Internal,
    InvalidArgument,
    NotFound,
    ResourceExhausted,
)
from .jobs import JobRules
from .scheduler import choose_devices

if TYPE_CHECKING:
    from .store import Store

log = logging.getLogger(__name__)

R = TypeVar("R")

EVENT_LOG_LIMIT = 100_000

# The catalogue of `show sdamodel` in the operator's guide: (id, name, devices).
DEFAULT_MODELS: tuple[tuple[int, str, int], ...] = (
    (1, "Small.64GB", 1),
    (2, "Medium.128GB", 2),
    (3, "Large.256GB", 4),
    (4, "xLarge.512GB", 8),
    (5, "2xLarge.1024GB", 16),
    (6, "3xLarge.1536GB", 24),
    (7, "4xLarge.2048GB", 32),
    (8, "6xLarge.3072GB", 48),
    (9, "8xLarge.4096GB", 64),
    (10, "12xLarge.6144GB", 96),
    (11, "24xLarge.12288GB", 192),
    (12, "48xLarge.24576GB", 384),
    (52, "1.5xLarge.768GB", 12),
)

class SDAManager(JobRules):
    """The whole state of one SDAManager and the operations on it."""

    def __init__(self, clock: Callable[[], float] = time.time,
                 randbelow: Callable[[int], int] = secrets.randbelow,
                 prepare_seconds: float = 0.0, clean_seconds: float = 0.0) -> None:
        self.clock = clock
        # Tests pass a seeded generator so their transcripts show fixed tokens.
        self._randbelow = randbelow
        self.lock = threading.RLock()
        self.started = clock()
        self.tokens: dict[str, Token] = {}
        self.sdas: dict[int, Sda] = {}
        self.models: dict[int, SdaModel] = {}
        self.model_groups: dict[int, SdaModelGroup] = {}
        self.backends: dict[int, Backend] = {}
        self.backend_groups: dict[int, BackendGroup] = {
            DEFAULT_BACKEND_GROUP_ID: BackendGroup(DEFAULT_BACKEND_GROUP_ID, DEFAULT_BACKEND_GROUP_NAME)
        }
        self.user_groups: dict[int, UserGroup] = {}
        # user group id -> SDA model group ids, in the order they were added
        self.memberships: dict[int, list[int]] = {}
        self.jobs: dict[int, Job] = {}  # live jobs by FeID
        self.history: list[Job] = []  # ended jobs, oldest first
        self.versions: dict[str, Version] = {}
        self.events: deque[Event] = deque(maxlen=EVENT_LOG_LIMIT)
        self._next = {"sda": 1, "model": 1, "model_group": 1, "backend": 1, "backend_group": 1,
                      "user_group": 1, "job": 1, "event": 1}
        JobRules.__init__(self, prepare_seconds, clean_seconds)
        self.journal: Store | None = None  # the durable journal; None keeps the state in memory only
        self.replay_token: str | None = None  # while replaying: the token value create_token made then
        self.journal_broken = ""  # why the journal failed; changes are refused from then on
        self.busy = 0  # operations under way in this thread (they hold the lock)

    def read(self, fn: Callable[[], R]) -> R:
        """`fn()` under the lock, with time brought up to date first: one consistent view of now.

        Inside an operation the time is already up to date (and a change's own
        transitions must not run half-way through it), so nested reads only read.
        """
        with self.lock:
            if not self.busy:
                self.advance()
            self.busy += 1
            try:
                return fn()
            finally:
                self.busy -= 1

    # ------------------------------------------------------------------ helpers

    def _new_id(self, kind: str) -> int:
        value = self._next[kind]
        self._next[kind] = value + 1
        return value

    def _record(self, action: str, token: str, request: str, result: str) -> None:
        """One event of the log; `request` is the change's arguments as JSON."""
        self.events.append(Event(self._new_id("event"), self.clock(), token, action, request, result,
                                 request_peer.get()))

    def restore_event(self, when: float, token: str, action: str, request: str, result: str, peer: str) -> None:
        """Put a refused attempt read back from the journal into the event log."""
        self.events.append(Event(self._new_id("event"), when, token, action, request, result, peer))

    def _journal(self, when: float, kind: str, action: str, request: str, **extra: str) -> None:
        assert self.journal is not None
        try:
            self.journal.record(when, kind, action, request, **extra)
        except sqlite3.Error as err:
            if kind == "refused":  # nothing changed: the refusal's own reason stands
                log.error("could not save a refused attempt to the state file: %s", err)
                return
            self.journal_broken = str(err)
            raise Internal(f"The state could not be saved ({err}): the change is not acknowledged.") from None

    def token(self, value: str) -> Token:
        try:
            return self.tokens[value]
        except KeyError:
            raise NotFound(f"Token {value!r} does not exist.") from None

    def sda(self, sda_id: int) -> Sda:
        try:
            return self.sdas[sda_id]
        except KeyError:
            raise NotFound(f"SDA {sda_id} does not exist.") from None

    def model(self, model_id: int) -> SdaModel:
        try:
            return self.models[model_id]
        except KeyError:
            raise NotFound(f"SDAModel {model_id} does not exist.") from None

    def model_group(self, group_id: int) -> SdaModelGroup:
        try:
            return self.model_groups[group_id]
        except KeyError:
            raise NotFound(f"SDAModel group {group_id} does not exist.") from None

    def backend(self, backend_id: int) -> Backend:
        try:
            return self.backends[backend_id]
        except KeyError:
            raise NotFound(f"Backend {backend_id} does not exist.") from None

    def backend_group(self, group_id: int) -> BackendGroup:
        try:
            return self.backend_groups[group_id]
        except KeyError:
            raise NotFound(f"Backend group {group_id} does not exist.") from None

    def user_group(self, group_id: int) -> UserGroup:
        try:
            return self.user_groups[group_id]
        except KeyError:
            raise NotFound(f"User group {group_id} does not exist.") from None

    def token_sdas(self, token: str) -> list[Sda]:
        return [s for s in self.sdas.values() if s.token == token]

    def token_user_groups(self, token: str) -> list[UserGroup]:
        return [g for g in self.user_groups.values() if token in g.tokens]

    def allowed_model_groups(self, token: str) -> list[int] | None:
        """The SDA model groups a token may use, or None when it is not restricted.

        A token is restricted once one of its user groups has a membership.
        """
        allowed: list[int] = []
        restricted = False
        for group in self.token_user_groups(token):
            linked = self.memberships.get(group.id, [])
            if linked:
                restricted = True
                allowed.extend(g for g in linked if g not in allowed)
        return sorted(allowed) if restricted else None

    def allowed_models(self, token: str) -> list[SdaModel]:
        """`show sdamodel {token}`: the models the token may use."""
        with self.lock:
            self.token(token)
            groups = self.allowed_model_groups(token)
            if groups is None:
                return self.list_models()
            ids = {m for g in groups for m in self.model_groups[g].model_ids}
            return [m for m in self.list_models() if m.id in ids]

    def backends_in_group(self, group_id: int) -> list[Backend]:
        return [b for b in self.backends.values() if b.group_id == group_id]

    def backend_group_of(self, sda: Sda) -> int:
        if sda.model_group_id and sda.model_group_id in self.model_groups:
            return self.model_groups[sda.model_group_id].backend_group_id
        return DEFAULT_BACKEND_GROUP_ID

    def _unique_name(self, what: str, value: str, existing: Iterable[Any], skip: Any = None) -> None:
        for item in existing:
            if item is not skip and item.name == value:
                raise AlreadyExists(f"{what} named {value!r} already exists (id {item.id}).")

    def _generate_token(self, description: str) -> str:
        # The original's shape: base64 of the description's first four
        # characters and a 13-digit number (a millisecond timestamp there).
        # The digits here are random, so a token cannot be guessed from the
        # time it was made.  The URL-safe alphabet keeps a token usable as a
        # file name (VMs keep it as /etc/moreh/{token}); for ASCII letters and
        # digits it is the same text as standard base64.
        if self.replay_token is not None:
            return self.replay_token
        prefix = description[:4]
        for _ in range(1000):
            digits = str(self._randbelow(9 * 10**12) + 10**12)
            value = base64.urlsafe_b64encode((prefix + digits).encode()).decode()
            if value not in self.tokens:
                return value
        raise ResourceExhausted("Could not make a new unique token: try again.")

    # ------------------------------------------------------------------ tokens

    @change
    def create_token(self, description: str, priority: int = 0) -> Token:
        validate.text("Description", description, allow_empty=False)
        validate.priority(priority)
        token = Token(value=self._generate_token(description), description=description,
                      priority=priority, created=self.clock())
        self.tokens[token.value] = token
        return token

    @change
    def delete_token(self, token: str) -> None:
        tok = self.token(token)
        sdas = self.token_sdas(tok.value)
        if sdas:
            raise FailedPrecondition(
                f"The token still has {plural(len(sdas), 'SDA')}: "
                f"delete {'it' if len(sdas) == 1 else 'them'} first."
            )
        live = [j.feid for j in self.jobs.values() if j.token == token]
        if live:
            raise FailedPrecondition(
                f"The token still has live jobs ({', '.join(map(str, live))}): release them first."
            )
        for group in self.user_groups.values():
            if token in group.tokens:
                group.tokens.remove(token)
        del self.tokens[token]

    @change
    def update_token_priority(self, token: str, priority: int) -> Token:
        tok = self.token(token)
        tok.priority = validate.priority(priority)
        return tok

    @change
    def update_token_description(self, token: str, description: str) -> Token:
        tok = self.token(token)
        tok.description = validate.text("Description", description, allow_empty=False)
        return tok

    @change
    def update_token_access_level(self, token: str, access_level: AccessLevel) -> Token:
        tok = self.token(token)
        if not isinstance(access_level, AccessLevel):
            raise InvalidArgument("Access level must be USER, ADMIN or DEVELOPER.")
        tok.access_level = access_level
        return tok

    @change
    def update_token_max_sda(self, token: str, max_sda: int) -> Token:
        tok = self.token(token)
        validate.int_range("Max SDA", max_sda, 1, validate.MAX_SDA_LIMIT)
        count = len(self.token_sdas(token))
        if max_sda < count:
            raise FailedPrecondition(
                f"The token has {plural(count, 'SDA')}: Max SDA cannot be less than that."
            )
        if max_sda > 1 and tok.duplicable != DUPLICABLE_OFF:
            raise FailedPrecondition("The token's SDA is duplicable: set duplicable to 1 (off) first.")
        tok.max_sda = max_sda
        return tok

    @change
    def update_token_current_sda(self, token: str, sda_id: int) -> Token:
        tok = self.token(token)
        sda = self.sda(sda_id)
        if sda.token != token:
            raise FailedPrecondition(f"SDA {sda_id} does not belong to the token.")
        tok.current_sda = sda_id
        return tok

    @change
    def update_token_duplicable(self, token: str, duplicable: int) -> Token:
        tok = self.token(token)
        validate.int_range("Duplicable", duplicable, 0, validate.DUPLICABLE_LIMIT)
        if duplicable != DUPLICABLE_OFF and tok.max_sda != 1:
            raise FailedPrecondition(
                f"Max SDA of the token is {tok.max_sda}: set it to 1 first (update token sda max)."
            )
        tok.duplicable = duplicable
        return tok

    @change
    def add_token_env(self, token: str, name: str, value: str) -> Token:
        tok = self.token(token)
        tok.env[validate.env_name(name)] = validate.env_value(value)
        return tok

    @change
    def remove_token_env(self, token: str, name: str) -> Token:
        tok = self.token(token)
        if name not in tok.env:
            raise NotFound(f"The token has no environment variable {name!r}.")
        del tok.env[name]
        return tok

    def list_tokens(self, running_only: bool = False) -> list[Token]:
        with self.lock:
            tokens = list(self.tokens.values())
            if running_only:
                running = {j.token for j in self.holding_jobs()}
                tokens = [t for t in tokens if t.value in running]
            return tokens

    # ------------------------------------------------------------------ SDAs

    def _check_model_access(self, token: str, model_id: int, model_group_id: int) -> int:
        """Return the model group to record for an SDA, enforcing memberships."""
        self.model(model_id)
        allowed = self.allowed_model_groups(token)
        if model_group_id:
            group = self.model_group(model_group_id)
            if model_id not in group.model_ids:
                raise FailedPrecondition(
                    f"SDAModel {model_id} is not in SDAModel group {group.id} ({group.name})."
                )
            if allowed is not None and model_group_id not in allowed:
                raise FailedPrecondition(
                    f"The token's user groups have no membership with SDAModel group {group.id} ({group.name})."
                )
            return model_group_id
        if allowed is None:
            return 0
        for group_id in allowed:
            if model_id in self.model_groups[group_id].model_ids:
                return group_id
        raise FailedPrecondition(
            f"The token may not use SDAModel {model_id}: it is in none of the SDAModel groups "
            f"of the token's memberships (see show sdamodel {token})."
        )

    @change
    def create_sda(self, token: str, description: str, model_id: int,
                   model_group_id: int = 0, reserved: bool = False) -> Sda:
        tok = self.token(token)
        validate.text("SDA description", description)
        count = len(self.token_sdas(token))
        if count >= tok.max_sda:
            raise FailedPrecondition(
                f"The token already has {plural(count, 'SDA')} (Max SDA {tok.max_sda}): "
                "raise Max SDA or delete an SDA first."
            )
        group_id = self._check_model_access(token, model_id, model_group_id)
        # The id is taken only once the reservation succeeds, so a refusal uses none up.
        sda = Sda(id=self._next["sda"], token=token, model_id=model_id, model_group_id=group_id,
                  reserved=reserved, description=description, created=self.clock())
        if reserved:
            sda.held = self._reserve_devices(sda)
        self._new_id("sda")
        self.sdas[sda.id] = sda
        if not tok.current_sda:
            tok.current_sda = sda.id
        return sda

    def _reserve_devices(self, sda: Sda) -> list[tuple[int, int]]:
        """Hold devices for a reserved SDA (placed as a job would be), or refuse."""
        need = self.models[sda.model_id].devices
        group_id = self.backend_group_of(sda)
        held = choose_devices(self.backends_in_group(group_id), need)
        if held is None:
            idle = sum(1 for b in self.backends_in_group(group_id) if b.status is BackendStatus.ACTIVE
                       for d in b.devices if d.status is DeviceStatus.IDLE and not d.held)
            raise FailedPrecondition(
                f"Not enough idle devices in backend group {group_id} for SDAModel "
                f"{sda.model_id} ({need} needed, {idle} idle)."
            )
        for backend_id, index in held:
            self.backends[backend_id].devices[index].sda_id = sda.id
        return held

    def _release_reserved(self, sda: Sda) -> None:
        for backend_id, index in sda.held:
            backend = self.backends.get(backend_id)
            if backend and index < len(backend.devices) and backend.devices[index].sda_id == sda.id:
                backend.devices[index].sda_id = 0
        sda.held = []

    def _live_jobs_of_sda(self, sda_id: int) -> list[int]:
        return [j.feid for j in self.jobs.values() if j.sda_id == sda_id]

    @change
    def update_sda(self, token: str, model_id: int, model_group_id: int = 0, sda_id: int = 0) -> Sda:
        tok = self.token(token)
        if sda_id:
            sda = self.sda(sda_id)
            if sda.token != token:
                raise FailedPrecondition(f"SDA {sda_id} does not belong to the token.")
        else:
            if not tok.current_sda:
                raise FailedPrecondition("The token has no SDA: create one first (create sda).")
            sda = self.sda(tok.current_sda)
        if not model_group_id and sda.model_group_id in self.model_groups \
                and model_id in self.model_groups[sda.model_group_id].model_ids:
            model_group_id = sda.model_group_id  # no group given: it stays in its own if it can
        group_id = self._check_model_access(token, model_id, model_group_id)
        if sda.reserved and (model_id, group_id) != (sda.model_id, sda.model_group_id):
            self._move_reservation(sda, model_id, group_id)
        sda.model_id, sda.model_group_id = model_id, group_id
        return sda

    def _move_reservation(self, sda: Sda, model_id: int, group_id: int) -> None:
        """Re-reserve devices for a reserved SDA's new model, or leave it as it was."""
        busy = self._live_jobs_of_sda(sda.id)
        if busy:
            raise FailedPrecondition(f"Reserved SDA {sda.id} is in use by job {busy[0]}: release it first.")
        old = (sda.model_id, sda.model_group_id, list(sda.held))
        self._release_reserved(sda)
        sda.model_id, sda.model_group_id = model_id, group_id
        try:
            sda.held = self._reserve_devices(sda)
        except DomainError:
            sda.model_id, sda.model_group_id, sda.held = old
            for backend_id, index in sda.held:
                self.backends[backend_id].devices[index].sda_id = sda.id
            raise

    @change
    def delete_sda(self, token: str, sda_id: int = 0) -> list[int]:
        tok = self.token(token)
        if sda_id:
            sda = self.sda(sda_id)
            if sda.token != token:
                raise FailedPrecondition(f"SDA {sda_id} does not belong to the token.")
            targets = [sda]
        else:
            targets = self.token_sdas(token)
            if not targets:
                raise NotFound("The token has no SDA.")
        for sda in targets:
            busy = self._live_jobs_of_sda(sda.id)
            if busy:
                raise FailedPrecondition(
                    f"SDA {sda.id} has live jobs ({', '.join(map(str, busy))}): release them first."
                )
        for sda in targets:
            self._release_reserved(sda)
            del self.sdas[sda.id]
        if tok.current_sda not in self.sdas:
            rest = self.token_sdas(token)
            tok.current_sda = rest[0].id if rest else 0
        return [s.id for s in targets]

    def list_sdas(self, token: str = "", running_only: bool = False, by_token: bool = False) -> list[Sda]:
        with self.lock:
            if token:
                self.token(token)
            sdas = [s for s in self.sdas.values() if not token or s.token == token]
            if running_only:
                running = {j.sda_id for j in self.holding_jobs()}
                sdas = [s for s in sdas if s.id in running]
            if by_token:
                sdas.sort(key=lambda s: (s.token, s.id))
            return sdas

    # ------------------------------------------------------------------ SDA models

    def list_models(self) -> list[SdaModel]:
        with self.lock:
            return list(self.models.values())

    def add_default_models(self) -> None:
        with self.lock:
            for model_id, name, devices in DEFAULT_MODELS:
                self.models[model_id] = SdaModel(model_id, name, devices)
            self._next["model"] = max(self._next["model"], max(self.models) + 1)

    @change
    def create_sdamodel(self, name: str, devices: int, description: str = "") -> SdaModel:
        validate.name("SDAModel name", name)
        validate.int_range("Devices", devices, 1, validate.MODEL_DEVICES_LIMIT)
        validate.text("Description", description)
        self._unique_name("An SDAModel", name, self.models.values())
        model = SdaModel(self._new_id("model"), name, devices, description)
        self.models[model.id] = model
        return model

    @change
    def delete_sdamodel(self, model_id: int) -> None:
        self.model(model_id)
        users = sorted(s.id for s in self.sdas.values() if s.model_id == model_id)
        if users:
            shown = ", ".join(map(str, users[:10])) + (", ..." if len(users) > 10 else "")
            one = len(users) == 1
            raise FailedPrecondition(
                f"{plural(len(users), 'SDA')} still {'uses' if one else 'use'} SDAModel {model_id} ({shown}): "
                f"change or delete {'it' if one else 'them'} first."
            )
        for group in self.model_groups.values():
            if model_id in group.model_ids:
                group.model_ids.remove(model_id)
        del self.models[model_id]

    # ------------------------------------------------------------------ SDA model groups

    def _model_list(self, model_ids: list[int]) -> list[int]:
        validate.list_size("SDAModel list", model_ids)
        for model_id in model_ids:
            self.model(model_id)
        return list(model_ids)

    @change
    def create_sdamodelgroup(self, name: str, backend_group_id: int,
                             model_ids: list[int] | None = None) -> SdaModelGroup:
        validate.name("SDAModel group name", name)
        self.backend_group(backend_group_id)
        self._unique_name("An SDAModel group", name, self.model_groups.values())
        models = self._model_list(list(model_ids or []))
        group = SdaModelGroup(self._new_id("model_group"), name, backend_group_id, models)
        self.model_groups[group.id] = group
        return group

    @change
    def delete_sdamodelgroup(self, group_id: int, force: bool = False) -> None:
        group = self.model_group(group_id)
        members = [ug for ug, mgs in self.memberships.items() if group_id in mgs]
        users = [s.id for s in self.sdas.values() if s.model_group_id == group_id]
        if (members or users) and not force:
            what = []
            if members:
                what.append(f"{plural(len(members), 'membership')}")
            if users:
                what.append(f"{plural(len(users), 'SDA')}")
            raise FailedPrecondition(
                f"SDAModel group {group_id} ({group.name}) is still used by {' and '.join(what)}: "
                "use force true to delete it anyway."
            )
        for ug in members:
            self.memberships[ug].remove(group_id)
            if not self.memberships[ug]:
                del self.memberships[ug]
        for sda_id in users:
            self.sdas[sda_id].model_group_id = 0
        del self.model_groups[group_id]

    @change
    def rename_sdamodelgroup(self, group_id: int, name: str) -> SdaModelGroup:
        group = self.model_group(group_id)
        validate.name("SDAModel group name", name)
        self._unique_name("An SDAModel group", name, self.model_groups.values(), skip=group)
        group.name = name
        return group

    @change
    def set_sdamodelgroup_backendgroup(self, group_id: int, backend_group_id: int) -> SdaModelGroup:
        group = self.model_group(group_id)
        self.backend_group(backend_group_id)
        group.backend_group_id = backend_group_id
        return group

    @change
    def set_sdamodelgroup_models(self, group_id: int, model_ids: list[int]) -> SdaModelGroup:
        group = self.model_group(group_id)
        group.model_ids = self._model_list(list(model_ids))
        return group

    @change
    def add_sdamodelgroup_model(self, group_id: int, model_id: int) -> SdaModelGroup:
        group = self.model_group(group_id)
        self.model(model_id)
        if model_id in group.model_ids:
            raise AlreadyExists(f"SDAModel {model_id} is already in SDAModel group {group_id}.")
        group.model_ids.append(model_id)
        return group

    @change
    def remove_sdamodelgroup_model(self, group_id: int, model_id: int) -> SdaModelGroup:
        group = self.model_group(group_id)
        if model_id not in group.model_ids:
            raise NotFound(f"SDAModel {model_id} is not in SDAModel group {group_id}.")
        group.model_ids.remove(model_id)
        return group

    def list_model_groups(self, group_id: int | None = None) -> list[SdaModelGroup]:
        with self.lock:
            if group_id is not None:
                return [self.model_group(group_id)]
            return list(self.model_groups.values())

    # ------------------------------------------------------------------ backends and devices

    def add_default_cluster(self, backends: int, devices: int, first_ip: str = "192.168.110.0") -> None:
        """The guide's cluster: back01..backNN with consecutive ips."""
        base = int(ipaddress.ip_address(first_ip))
        width = max(2, len(str(backends)))
        with self.lock:
            for i in range(backends):
                backend = Backend(self._new_id("backend"), f"back{i + 1:0{width}d}",
                                  str(ipaddress.ip_address(base + i)),
                                  devices=[Device(k) for k in range(devices)])
                self.backends[backend.id] = backend

    @change
    def create_backend(self, name: str, ip: str, device_count: int) -> Backend:
        validate.name("Host name", name)
        ip = validate.ip(ip)
        validate.int_range("Device count", device_count, 1, validate.DEVICES_PER_BACKEND_LIMIT)
        self._unique_name("A backend", name, self.backends.values())
        self._unique_ip(ip)
        backend = Backend(self._new_id("backend"), name, ip, devices=[Device(k) for k in range(device_count)])
        self.backends[backend.id] = backend
        return backend

    def _unique_ip(self, ip: str, skip: Backend | None = None) -> None:
        for b in self.backends.values():
            if b is not skip and b.ip == ip:
                raise AlreadyExists(f"Backend {b.id} ({b.name}) already has ip {ip}.")

    def _holders(self, backend: Backend) -> list[str]:
        held = []
        for d in backend.devices:
            if d.job_id:
                held.append(f"device {d.index} by job {d.job_id}")
            elif d.sda_id:
                held.append(f"device {d.index} by reserved SDA {d.sda_id}")
        return held

    @change
    def delete_backend(self, backend_id: int) -> None:
        backend = self.backend(backend_id)
        held = self._holders(backend)
        if held:
            raise FailedPrecondition(
                f"Backend {backend_id} ({backend.name}) has devices in use ({'; '.join(held[:4])}"
                f"{'; ...' if len(held) > 4 else ''}): release them first."
            )
        del self.backends[backend_id]

    @change
    def update_backend_host(self, backend_id: int, name: str) -> Backend:
        backend = self.backend(backend_id)
        validate.name("Host name", name)
        self._unique_name("A backend", name, self.backends.values(), skip=backend)
        backend.name = name
        return backend

    @change
    def update_backend_ip(self, backend_id: int, ip: str) -> Backend:
        backend = self.backend(backend_id)
        ip = validate.ip(ip)
        self._unique_ip(ip, skip=backend)
        backend.ip = ip
        return backend

    @change
    def update_backend_status(self, backend_id: int, status: BackendStatus) -> Backend:
        backend = self.backend(backend_id)
        if not isinstance(status, BackendStatus):
            raise InvalidArgument("Backend status must be SHUTDOWN or ACTIVE.")
        # Jobs already on the node keep their devices; a SHUTDOWN node only
        # stops receiving new work (the scheduler skips it).
        backend.status = status
        return backend

    @change
    def update_backend_group(self, backend_id: int, group_id: int) -> Backend:
        backend = self.backend(backend_id)
        self.backend_group(group_id)
        backend.group_id = group_id
        return backend

    def _set_device(self, backend: Backend, device: Device, status: DeviceStatus) -> None:
        if not isinstance(status, DeviceStatus):
            raise InvalidArgument("Device status must be SHUTDOWN, IDLE, PREPARING, PROCESSING or CLEANING.")
        # A job's devices are PREPARING or PROCESSING; nothing else may be forced on them.
        if device.job_id and status not in (DeviceStatus.PREPARING, DeviceStatus.PROCESSING):
            raise FailedPrecondition(
                f"Device {device.index} of backend {backend.id} is held by job {device.job_id}: "
                f"release the job first (release {device.job_id})."
            )
        device.status = status

    @change
    def update_device_status(self, backend_id: int, index: int, status: DeviceStatus) -> Backend:
        backend = self.backend(backend_id)
        if not 0 <= index < len(backend.devices):
            raise NotFound(
                f"Backend {backend_id} has no device {index} (devices 0..{len(backend.devices) - 1})."
            )
        self._set_device(backend, backend.devices[index], status)
        return backend

    @change
    def update_all_device_status(self, backend_id: int, status: DeviceStatus) -> Backend:
        backend = self.backend(backend_id)
        if status not in (DeviceStatus.PREPARING, DeviceStatus.PROCESSING):
            held = [d for d in backend.devices if d.job_id]
            if held:  # all or nothing: refuse before changing any device
                self._set_device(backend, held[0], status)
        for device in backend.devices:
            self._set_device(backend, device, status)
        return backend

    def list_backends(self, order: str = "id", backend_id: int | None = None,
                      group_id: int | None = None, name: str = "") -> list[Backend]:
        with self.lock:
            if backend_id is not None:
                return [self.backend(backend_id)]
            backends = list(self.backends.values())
            if group_id is not None:
                self.backend_group(group_id)
                backends = [b for b in backends if b.group_id == group_id]
            if name:
                backends = [b for b in backends if b.name == name]
                if not backends:
                    raise NotFound(f"No backend is named {name!r}.")
            if order == "group":
                backends.sort(key=lambda b: (b.group_id, b.name))
            elif order == "name":
                backends.sort(key=lambda b: b.name)
            return backends

    # ------------------------------------------------------------------ backend groups

    def _backend_list(self, group_id: int, backend_ids: list[int]) -> list[Backend]:
        """Backends for a group's list: each must be in the default group or already in this one."""
        validate.list_size("Backend list", backend_ids)
        backends = [self.backend(b) for b in backend_ids]
        for b in backends:
            if b.group_id not in (DEFAULT_BACKEND_GROUP_ID, group_id):
                other = self.backend_groups[b.group_id]
                raise FailedPrecondition(
                    f"Backend {b.id} ({b.name}) is in backend group {other.id} ({other.name}): "
                    "only backends of the default group or of this group can be listed."
                )
        return backends

    def _not_default(self, group_id: int) -> BackendGroup:
        group = self.backend_group(group_id)
        if group_id == DEFAULT_BACKEND_GROUP_ID:
            raise FailedPrecondition(
                f"Backend group 0 ({DEFAULT_BACKEND_GROUP_NAME}) holds every backend of no other group "
                "and cannot be changed."
            )
        return group

    @change
    def create_backendgroup(self, name: str, backend_ids: list[int] | None = None) -> BackendGroup:
        validate.name("Backend group name", name)
        self._unique_name("A backend group", name, self.backend_groups.values())
        group_id = self._next["backend_group"]
        backends = self._backend_list(group_id, list(backend_ids or []))
        group = BackendGroup(self._new_id("backend_group"), name)
        self.backend_groups[group.id] = group
        for b in backends:
            b.group_id = group.id
        return group

    @change
    def delete_backendgroup(self, group_id: int, force: bool = False) -> None:
        group = self._not_default(group_id)
        backends = self.backends_in_group(group_id)
        users = [g for g in self.model_groups.values() if g.backend_group_id == group_id]
        if (backends or users) and not force:
            what = []
            if backends:
                what.append(plural(len(backends), "backend"))
            if users:
                what.append(plural(len(users), "SDAModel group"))
            raise FailedPrecondition(
                f"Backend group {group_id} ({group.name}) still has {' and '.join(what)}: "
                "use force true to delete it anyway."
            )
        for b in backends:
            b.group_id = DEFAULT_BACKEND_GROUP_ID
        for g in users:
            g.backend_group_id = DEFAULT_BACKEND_GROUP_ID
        del self.backend_groups[group_id]

    @change
    def rename_backendgroup(self, group_id: int, name: str) -> BackendGroup:
        group = self._not_default(group_id)
        validate.name("Backend group name", name)
        self._unique_name("A backend group", name, self.backend_groups.values(), skip=group)
        group.name = name
        return group

    @change
    def set_backendgroup_backends(self, group_id: int, backend_ids: list[int]) -> BackendGroup:
        group = self._not_default(group_id)
        backends = self._backend_list(group_id, list(backend_ids))
        keep = {b.id for b in backends}
        for b in self.backends_in_group(group_id):
            if b.id not in keep:
                b.group_id = DEFAULT_BACKEND_GROUP_ID
        for b in backends:
            b.group_id = group_id
        return group

    @change
    def add_backendgroup_backend(self, group_id: int, backend_id: int) -> BackendGroup:
        group = self._not_default(group_id)
        backend = self.backend(backend_id)
        if backend.group_id == group_id:
            raise AlreadyExists(f"Backend {backend_id} is already in backend group {group_id}.")
        self._backend_list(group_id, [backend_id])
        backend.group_id = group_id
        return group

    @change
    def remove_backendgroup_backend(self, group_id: int, backend_id: int) -> BackendGroup:
        group = self._not_default(group_id)
        backend = self.backend(backend_id)
        if backend.group_id != group_id:
            raise NotFound(f"Backend {backend_id} is not in backend group {group_id}.")
        backend.group_id = DEFAULT_BACKEND_GROUP_ID
        return group

    def list_backend_groups(self, group_id: int | None = None) -> list[BackendGroup]:
        with self.lock:
            if group_id is not None:
                return [self.backend_group(group_id)]
            return sorted(self.backend_groups.values(), key=lambda g: g.id)

    # ------------------------------------------------------------------ user groups

    def _token_list(self, tokens: list[str]) -> list[str]:
        validate.list_size("Token list", tokens)
        for t in tokens:
            self.token(t)
        return list(tokens)

    @change
    def create_usergroup(self, name: str, description: str = "", tokens: list[str] | None = None) -> UserGroup:
        validate.name("User group name", name)
        validate.text("Description", description)
        self._unique_name("A user group", name, self.user_groups.values())
        members = self._token_list(list(tokens or []))
        group = UserGroup(self._new_id("user_group"), name, description, members)
        self.user_groups[group.id] = group
        return group

    @change
    def delete_usergroup(self, group_id: int, force: bool = False) -> None:
        group = self.user_group(group_id)
        links = self.memberships.get(group_id, [])
        if (group.tokens or links) and not force:
            what = []
            if group.tokens:
                what.append(plural(len(group.tokens), "token"))
            if links:
                what.append(plural(len(links), "membership"))
            raise FailedPrecondition(
                f"User group {group_id} ({group.name}) still has {' and '.join(what)}: "
                "use force true to delete it anyway."
            )
        self.memberships.pop(group_id, None)
        del self.user_groups[group_id]

    @change
    def rename_usergroup(self, group_id: int, name: str) -> UserGroup:
        group = self.user_group(group_id)
        validate.name("User group name", name)
        self._unique_name("A user group", name, self.user_groups.values(), skip=group)
        group.name = name
        return group

    @change
    def set_usergroup_tokens(self, group_id: int, tokens: list[str]) -> UserGroup:
        group = self.user_group(group_id)
        group.tokens = self._token_list(list(tokens))
        return group

    @change
    def add_usergroup_token(self, group_id: int, token: str) -> UserGroup:
        group = self.user_group(group_id)
        self.token(token)
        if token in group.tokens:
            raise AlreadyExists(f"The token is already in user group {group_id} ({group.name}).")
        group.tokens.append(token)
        return group

    @change
    def remove_usergroup_token(self, group_id: int, token: str) -> UserGroup:
        group = self.user_group(group_id)
        if token not in group.tokens:
            raise NotFound(f"The token is not in user group {group_id} ({group.name}).")
        group.tokens.remove(token)
        return group

    def list_user_groups(self, group_id: int | None = None) -> list[UserGroup]:
        with self.lock:
            if group_id is not None:
                return [self.user_group(group_id)]
            return list(self.user_groups.values())

    # ------------------------------------------------------------------ memberships

    @change
    def add_membership(self, user_group_id: int, model_group_id: int) -> list[int]:
        self.user_group(user_group_id)
        self.model_group(model_group_id)
        links = self.memberships.setdefault(user_group_id, [])
        if model_group_id in links:
            raise AlreadyExists(
                f"User group {user_group_id} already has a membership with SDAModel group {model_group_id}."
            )
        links.append(model_group_id)
        return list(links)

    @change
    def remove_membership(self, user_group_id: int, model_group_id: int) -> list[int]:
        self.user_group(user_group_id)
        self.model_group(model_group_id)
        links = self.memberships.get(user_group_id, [])
        if model_group_id not in links:
            raise NotFound(
                f"User group {user_group_id} has no membership with SDAModel group {model_group_id}."
            )
        links.remove(model_group_id)
        if not links:
            del self.memberships[user_group_id]
        return list(links)

    def list_memberships(self, user_group_id: int | None = None) -> list[tuple[UserGroup, list[SdaModelGroup]]]:
        """Each user group with the SDA model groups it may use (relationships build on this)."""
        with self.lock:
            groups = self.list_user_groups(user_group_id)
            return [(g, [self.model_groups[m] for m in self.memberships.get(g.id, [])]) for g in groups]

    # ------------------------------------------------------------------ versions

    def version(self, version: str) -> Version:
        try:
            return self.versions[version]
        except KeyError:
            raise NotFound(f"Version {version!r} does not exist.") from None

    @change
    def create_version(self, version: str, path: str) -> Version:
        validate.version(version)
        validate.text("Installed path", path, allow_empty=False, limit=validate.COMMAND_MAX)
        if version in self.versions:
            raise AlreadyExists(f"Version {version} already exists.")
        record = Version(version, path)
        self.versions[version] = record
        return record

    @change
    def delete_version(self, version: str) -> None:
        self.version(version)
        del self.versions[version]

    def _set_version_text(self, version: str, field: str, value: str) -> Version:
        record = self.version(version)
        validate.text(field.replace("_", " ").capitalize(), value, limit=validate.COMMAND_MAX)
        setattr(record, field, value)
        return record

    @change
    def update_version_health_check(self, version: str, value: str) -> Version:
        return self._set_version_text(version, "health_check", value)

    @change
    def update_version_path(self, version: str, value: str) -> Version:
        if not value:
            raise InvalidArgument("Installed path must not be empty.")
        return self._set_version_text(version, "path", value)

    @change
    def update_version_query(self, version: str, value: str) -> Version:
        return self._set_version_text(version, "query", value)

    @change
    def update_version_worker(self, version: str, value: str) -> Version:
        return self._set_version_text(version, "worker", value)

    @change
    def update_version_support(self, version: str, supported: bool) -> Version:
        record = self.version(version)
        record.supported = bool(supported)
        return record

    @change
    def set_latest_version(self, version: str) -> Version:
        record = self.version(version)
        for other in self.versions.values():
            other.latest = False
        record.latest = True
        return record

    @change
    def add_worker_env(self, version: str, name: str, value: str) -> Version:
        record = self.version(version)
        record.env[validate.env_name(name)] = validate.env_value(value)
        return record

    @change
    def remove_worker_env(self, version: str, name: str) -> Version:
        record = self.version(version)
        if name not in record.env:
            raise NotFound(f"Version {version} has no worker environment variable {name!r}.")
        del record.env[name]
        return record

    def list_versions(self, version: str = "") -> list[Version]:
        with self.lock:
            if version:
                return [self.version(version)]
            return sorted(self.versions.values(), key=lambda v: v.version)

    # ------------------------------------------------------------------ audit

    @query
    def latest_version(self) -> str:
        """The version marked latest, or "" (`show server version`)."""
        return next((v.version for v in self.versions.values() if v.latest), "")

    def list_events(self, token: str = "", action: str = "", count: int = 0) -> list[Event]:
        with self.lock:
            events = [e for e in self.events
                      if (not token or e.token == token) and (not action or e.action == action.upper())]
            return events[-count:] if count > 0 else events


def new_manager(backends: int = 60, devices: int = 8, clock: Callable[[], float] = time.time,
                randbelow: Callable[[int], int] = secrets.randbelow,
                prepare_seconds: float = 0.0, clean_seconds: float = 0.0) -> SDAManager:
    """A manager with the guide's model catalogue and a cluster of `backends` x `devices`."""
    manager = SDAManager(clock=clock, randbelow=randbelow, prepare_seconds=prepare_seconds,
                         clean_seconds=clean_seconds)
    manager.add_default_models()
    manager.add_default_cluster(backends, devices)
    return manager


__all__ = ["SDAManager", "new_manager", "request_peer", "DEFAULT_MODELS", "JobStatus"]
