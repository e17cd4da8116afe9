"""The customer's side: what `moreh-smi` and `moreh-switch-model` do on a VM.

A VM holds one token and sees only what is the token's: its SDAs (its
"devices", numbered from 0 in SDA id order), their models, its live jobs.
Every change here is one of the admin rules applied for the token, so Max
SDA, memberships and the SDAs' live jobs limit the customer exactly as they
limit an operator's `create sda` / `update sda` / `delete sda` /
`update token sda cur` / `release` (rules/tokens.py, sdas.py, jobs.py).  Two
things are the customer's own: the refusals while an SDA's job is live say
what a customer can do (wait, or `moreh-smi --reset`), and a switch of model
waits for them too (an operator's `update sda` does not); and a new SDA
becomes the current one, as Moreh's `moreh-smi device --add` shows.
"""

from __future__ import annotations

from typing import NamedTuple

from ..audit import change, query
from ..entities import Job, JobStatus, Sda, SdaModel, SdaModelGroup, Token
from ..errors import FailedPrecondition
from ..state import State
from .base import Operations, Service
from .jobs import JobRules
from .scheduling import Scheduler
from .sdas import SdaRules
from .tokens import TokenRules
from .users import UserRules
from .versions import VersionRules


class CustomerDevice(NamedTuple):
    """One of the token's SDAs, as its VM sees it."""

    sda: Sda
    model: SdaModel | None  # None: its model was deleted under it
    group: SdaModelGroup | None
    current: bool
    jobs: list[Job]  # live, oldest first


class DeviceView(NamedTuple):
    token: Token
    devices: list[CustomerDevice]
    current_version: str  # the Moreh version the token's VM last asked with
    latest_version: str


class ModelChoice(NamedTuple):
    model: SdaModel
    group: SdaModelGroup | None  # None: the token is not restricted to groups
    current: bool


class ModelMenu(NamedTuple):
    choices: list[ModelChoice]
    current: CustomerDevice | None  # the token's current SDA


def _by_size(model: SdaModel) -> tuple[int, int]:
    return model.devices, model.id


class CustomerRules(Service):
    """The VM's view of its token, and the changes its tools make."""

    def __init__(self, ops: Operations, state: State, scheduler: Scheduler, tokens: TokenRules,
                 sdas: SdaRules, jobs: JobRules, users: UserRules, versions: VersionRules) -> None:
        super().__init__(ops, state)
        self.scheduler = scheduler
        self.tokens = tokens
        self.sdas = sdas
        self.jobs = jobs
        self.users = users
        self.versions = versions

    def _device(self, tok: Token, sda: Sda) -> CustomerDevice:
        return CustomerDevice(sda, self.state.models.get(sda.model_id), self.state.model_groups.get(sda.model_group_id),
                              sda.id == tok.current_sda, self.state.sda_jobs(sda.id))

    def _target_sda(self, tok: Token, sda_id: int) -> Sda:
        """The token's SDA `sda_id`, or its current one when 0."""
        if sda_id:
            return self.jobs.customer_sda(tok, sda_id)
        if not tok.current_sda:
            raise FailedPrecondition("The token has no SDA: add one first (moreh-smi device --add).")
        return self.state.sda(tok.current_sda)

    @query
    def device_view(self, token: str) -> DeviceView:
        tok = self.state.token(token)
        return DeviceView(tok, [self._device(tok, sda) for sda in self.state.token_sdas(token)],
                          tok.version, self.versions.latest_version())

    @query
    def model_menu(self, token: str) -> ModelMenu:
        """The models the token may use: every model by size when it is not restricted,
        else each allowed SDA model group's models (in the group's order), group by group."""
        tok = self.state.token(token)
        sda = self.state.sdas.get(tok.current_sda)
        groups = self.users.allowed_model_groups(token)
        entries: list[tuple[SdaModel, SdaModelGroup | None]]
        if groups is None:
            entries = [(m, None) for m in sorted(self.state.models.values(), key=_by_size)]
        else:
            entries = [(self.state.models[i], self.state.model_groups[g]) for g in groups
                       for i in self.state.model_groups[g].model_ids if i in self.state.models]
        choices = [ModelChoice(m, g, sda is not None and sda.model_id == m.id
                               and (g is None or sda.model_group_id in (0, g.id)))
                   for m, g in entries]
        return ModelMenu(choices, self._device(tok, sda) if sda is not None else None)

    def _refuse_if_busy(self, sda: Sda, doing: str) -> None:
        live = self.state.sda_jobs(sda.id)
        if live:
            job = live[0]
            raise FailedPrecondition(
                f"SDA {sda.id} is in use by job {job.feid} ({job.status.value}): {doing} when it ends, "
                "or stop it with moreh-smi --reset."
            )

    @change
    def switch_model(self, token: str, model_id: int, model_group_id: int = 0, sda_id: int = 0) -> Sda:
        """moreh-switch-model: the SDA (default: the current one) takes another model."""
        tok = self.state.token(token)
        sda = self._target_sda(tok, sda_id)
        self._refuse_if_busy(sda, "switch its model")
        return self.sdas.update_sda(token, model_id, model_group_id, sda.id)

    @change
    def add_device(self, token: str, model_id: int, model_group_id: int = 0) -> Sda:
        """moreh-smi device --add: a new SDA of the token, which becomes its current one."""
        tok = self.state.token(token)
        sda = self.sdas.create_sda(token, "", model_id, model_group_id)
        tok.current_sda = sda.id
        return sda

    @change
    def remove_device(self, token: str, sda_id: int) -> list[int]:
        """moreh-smi device --rm: delete one of the token's SDAs."""
        sda = self.jobs.customer_sda(self.state.token(token), sda_id)
        self._refuse_if_busy(sda, "remove it")
        return self.sdas.delete_sda(token, sda.id)

    @change
    def switch_device(self, token: str, sda_id: int) -> Token:
        """moreh-smi device --switch: another of the token's SDAs becomes its current one."""
        return self.tokens.update_token_current_sda(token, self.jobs.customer_sda(self.state.token(token), sda_id).id)

    @change
    def reset_device(self, token: str, sda_id: int = 0) -> list[int]:
        """moreh-smi --reset: end the live jobs of the SDA (default: the current one) now."""
        tok = self.state.token(token)
        sda = self._target_sda(tok, sda_id)
        live = self.state.sda_jobs(sda.id)
        if not live:
            raise FailedPrecondition("Not running job.")
        for job in live:
            self.scheduler.end_job(job, JobStatus.RELEASED, "released by the VM (moreh-smi --reset)", self.ops.now)
        return [job.feid for job in live]
