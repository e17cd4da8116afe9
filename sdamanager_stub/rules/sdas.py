"""SDAs: a token's virtual device sets, each of one SDA model.

A token may use a model only as its memberships allow (rules/users.py, which
builds on the models'), up to its Max SDA.  A reserved SDA holds devices of
its backend group for as long as it exists, placed as a job's would be (the
scheduler's placement, from its index of idle devices); an SDA with live jobs cannot be deleted or
moved (rules/jobs.py runs those jobs).
"""

from __future__ import annotations

from .. import validate
from ..audit import change, plural, query
from ..entities import Sda
from ..errors import DomainError, FailedPrecondition, NotFound
from ..state import State
from .base import Operations, Service
from .models import ModelRules
from .users import UserRules


class SdaRules(Service):
    """SDAs and their reservations."""

    def __init__(self, ops: Operations, state: State, models: ModelRules, users: UserRules) -> None:
        super().__init__(ops, state)
        self.models = models
        self.users = users

    def owned_sda(self, token: str, sda_id: int) -> Sda:
        sda = self.state.sda(sda_id)
        if sda.token != token:
            raise FailedPrecondition(f"SDA {sda_id} does not belong to the token.")
        return sda

    def check_model_access(self, token: str, model_id: int, model_group_id: int) -> int:
        """Return the model group to record for an SDA, enforcing memberships."""
        self.state.model(model_id)
        allowed = self.users.allowed_model_groups(token)
        if model_group_id:
            group = self.models.model_group(model_group_id)
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
            if model_id in self.state.model_groups[group_id].model_ids:
                return group_id
        raise FailedPrecondition(
            f"The token may not use SDAModel {model_id}: it is in none of the SDAModel groups "
            f"of the token's memberships (see show sdamodel {token})."
        )

    @change
    def create_sda(self, token: str, description: str, model_id: int,
                   model_group_id: int = 0, reserved: bool = False) -> Sda:
        tok = self.state.token(token)
        validate.text("SDA description", description)
        count = len(self.state.token_sdas(token))
        if count >= tok.max_sda:
            raise FailedPrecondition(
                f"The token already has {plural(count, 'SDA')} (Max SDA {tok.max_sda}): "
                "raise Max SDA or delete an SDA first."
            )
        group_id = self.check_model_access(token, model_id, model_group_id)
        # The id is taken only once the reservation succeeds, so a refusal uses none up.
        sda = Sda(id=self.state.next["sda"], token=token, model_id=model_id, model_group_id=group_id,
                  reserved=reserved, description=description, created=self.ops.now)
        if reserved:
            sda.held = self._reserve_devices(sda)
        self.state.new_id("sda")
        self.state.sdas[sda.id] = sda
        if not tok.current_sda:
            tok.current_sda = sda.id
        return sda

    def _reserve_devices(self, sda: Sda) -> list[tuple[int, int]]:
        """Hold devices for a reserved SDA (placed as a job would be), or refuse."""
        need = self.state.models[sda.model_id].devices
        group_id = self.state.backend_group_of(sda)
        held = self.state.idle.choose(group_id, need)
        if held is None:
            idle = self.state.idle.idle_count(group_id)
            raise FailedPrecondition(
                f"Not enough idle devices in backend group {group_id} for SDAModel "
                f"{sda.model_id} ({need} needed, {idle} idle)."
            )
        for backend_id, index in held:
            self.state.backends[backend_id].devices[index].sda_id = sda.id
        return held

    def _release_reserved(self, sda: Sda) -> None:
        for backend_id, index in sda.held:
            backend = self.state.backends.get(backend_id)
            if backend and index < len(backend.devices) and backend.devices[index].sda_id == sda.id:
                backend.devices[index].sda_id = 0
        sda.held = []

    def _live_jobs_of_sda(self, sda_id: int) -> list[int]:
        return self.state.job_index.of_sda(sda_id)

    @change
    def update_sda(self, token: str, model_id: int, model_group_id: int = 0, sda_id: int = 0) -> Sda:
        tok = self.state.token(token)
        if sda_id:
            sda = self.owned_sda(token, sda_id)
        else:
            if not tok.current_sda:
                raise FailedPrecondition("The token has no SDA: create one first (create sda).")
            sda = self.state.sda(tok.current_sda)
        if not model_group_id and sda.model_group_id in self.state.model_groups \
                and model_id in self.state.model_groups[sda.model_group_id].model_ids:
            model_group_id = sda.model_group_id  # no group given: it stays in its own if it can
        group_id = self.check_model_access(token, model_id, model_group_id)
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
                self.state.backends[backend_id].devices[index].sda_id = sda.id
            raise

    @change
    def delete_sda(self, token: str, sda_id: int = 0) -> list[int]:
        tok = self.state.token(token)
        if sda_id:
            targets = [self.owned_sda(token, sda_id)]
        else:
            targets = self.state.token_sdas(token)
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
            del self.state.sdas[sda.id]
        if tok.current_sda not in self.state.sdas:
            rest = self.state.token_sdas(token)
            tok.current_sda = rest[0].id if rest else 0
        return [s.id for s in targets]

    @query
    def list_sdas(self, token: str = "", running_only: bool = False, by_token: bool = False) -> list[Sda]:
        if token:
            self.state.token(token)
        sdas = [s for s in self.state.sdas.values() if not token or s.token == token]
        if running_only:
            running = self.state.job_index.sdas_holding()
            sdas = [s for s in sdas if s.id in running]
        if by_token:
            sdas.sort(key=lambda s: (s.token, s.id))
        return sdas
