"""SDA models (what an SDA is: a number of devices) and SDA model groups.

A model group lists models and names the backend group whose devices its
SDAs' jobs run on; user groups reach models through memberships with model
groups (rules/users.py).  Deleting a model or a model group reaches into the
SDAs and the memberships that use it.
"""

from __future__ import annotations

from .. import validate
from ..audit import change, plural, query
from ..entities import SdaModel, SdaModelGroup
from ..errors import FailedPrecondition
from ..state import State
from .backends import BackendRules
from .base import Operations, Service
from .groups import ModelGroups

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


class ModelRules(Service):
    """SDA models and SDA model groups."""

    def __init__(self, ops: Operations, state: State, backends: BackendRules) -> None:
        super().__init__(ops, state)
        self.backends = backends
        self.groups = ModelGroups(state)

    def model_group(self, group_id: int) -> SdaModelGroup:
        return self.groups.find(group_id)

    # ------------------------------------------------------------------ SDA models

    @query
    def list_models(self) -> list[SdaModel]:
        return list(self.state.models.values())

    def add_default_models(self) -> None:
        """The guide's catalogue (part of every new manager, so not a change of its own)."""
        with self.ops.lock:
            for model_id, name, devices in DEFAULT_MODELS:
                self.state.models[model_id] = SdaModel(model_id, name, devices)
            self.state.next["model"] = max(self.state.next["model"], max(self.state.models) + 1)

    @change
    def create_sdamodel(self, name: str, devices: int, description: str = "") -> SdaModel:
        validate.name("SDAModel name", name)
        validate.int_range("Devices", devices, 1, validate.MODEL_DEVICES_LIMIT)
        validate.text("Description", description)
        validate.unique_name("An SDAModel", name, self.state.models.values())
        model = SdaModel(self.state.new_id("model"), name, devices, description)
        self.state.models[model.id] = model
        return model

    @change
    def delete_sdamodel(self, model_id: int) -> None:
        self.state.model(model_id)
        users = sorted(s.id for s in self.state.sdas.values() if s.model_id == model_id)
        if users:
            shown = ", ".join(map(str, users[:10])) + (", ..." if len(users) > 10 else "")
            one = len(users) == 1
            raise FailedPrecondition(
                f"{plural(len(users), 'SDA')} still {'uses' if one else 'use'} SDAModel {model_id} "
                f"({'SDA ID' if one else 'SDA IDs'} {shown}): "
                f"change or delete {'it' if one else 'them'} first."
            )
        for group in self.state.model_groups.values():
            if model_id in group.model_ids:
                group.model_ids.remove(model_id)
        del self.state.models[model_id]

    # ------------------------------------------------------------------ SDA model groups

    @change
    def create_sdamodelgroup(self, name: str, backend_group_id: int,
                             model_ids: list[int] | None = None) -> SdaModelGroup:
        return self.groups.create(
            name, list(model_ids or []), lambda group_id: SdaModelGroup(group_id, name, backend_group_id),
            check=lambda: self.backends.backend_group(backend_group_id))

    @change
    def delete_sdamodelgroup(self, group_id: int, force: bool = False) -> None:
        group = self.model_group(group_id)
        members = [ug for ug, mgs in self.state.memberships.items() if group_id in mgs]
        users = [s.id for s in self.state.sdas.values() if s.model_group_id == group_id]
        self.groups.delete(group, force, {"membership": len(members), "SDA": len(users)})
        for ug in members:
            self.state.memberships[ug].remove(group_id)
            if not self.state.memberships[ug]:
                del self.state.memberships[ug]
        for sda_id in users:
            self.state.sdas[sda_id].model_group_id = 0

    @change
    def rename_sdamodelgroup(self, group_id: int, name: str) -> SdaModelGroup:
        return self.groups.rename(group_id, name)

    @change
    def set_sdamodelgroup_backendgroup(self, group_id: int, backend_group_id: int) -> SdaModelGroup:
        group = self.model_group(group_id)
        self.backends.backend_group(backend_group_id)
        group.backend_group_id = backend_group_id
        return group

    @change
    def set_sdamodelgroup_models(self, group_id: int, model_ids: list[int]) -> SdaModelGroup:
        return self.groups.set_members(group_id, list(model_ids))

    @change
    def add_sdamodelgroup_model(self, group_id: int, model_id: int) -> SdaModelGroup:
        return self.groups.add_member(group_id, model_id)

    @change
    def remove_sdamodelgroup_model(self, group_id: int, model_id: int) -> SdaModelGroup:
        return self.groups.remove_member(group_id, model_id)

    @query
    def list_model_groups(self, group_id: int | None = None) -> list[SdaModelGroup]:
        if group_id is not None:
            return [self.model_group(group_id)]
        return list(self.state.model_groups.values())
