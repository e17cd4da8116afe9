"""User groups (of tokens) and their memberships with SDA model groups.

Memberships restrict tokens: a token is restricted once one of its user
groups has a membership, and may then use only the models of the model groups
its user groups are members of.  SDAs are made under that rule (rules/sdas.py);
`show sdamodel {token}` lists what it allows, so these rules build on the
models' (rules/models.py).
"""

from __future__ import annotations

from .. import validate
from ..audit import change, query
from ..entities import SdaModel, SdaModelGroup, UserGroup
from ..errors import AlreadyExists, NotFound
from ..state import State
from .base import Operations, Service
from .groups import UserGroups
from .models import ModelRules


class UserRules(Service):
    """User groups, memberships, and which models they allow a token."""

    def __init__(self, ops: Operations, state: State, models: ModelRules) -> None:
        super().__init__(ops, state)
        self.models = models
        self.groups = UserGroups(state)

    def user_group(self, group_id: int) -> UserGroup:
        return self.groups.find(group_id)

    # ------------------------------------------------------------------ user groups

    @change
    def create_usergroup(self, name: str, description: str = "", tokens: list[str] | None = None) -> UserGroup:
        return self.groups.create(
            name, list(tokens or []), lambda group_id: UserGroup(group_id, name, description),
            check=lambda: validate.text("Description", description))

    @change
    def delete_usergroup(self, group_id: int, force: bool = False) -> None:
        group = self.user_group(group_id)
        links = self.state.memberships.get(group_id, [])
        self.groups.delete(group, force, {"token": len(group.tokens), "membership": len(links)})
        self.state.memberships.pop(group_id, None)

    @change
    def rename_usergroup(self, group_id: int, name: str) -> UserGroup:
        return self.groups.rename(group_id, name)

    @change
    def set_usergroup_tokens(self, group_id: int, tokens: list[str]) -> UserGroup:
        return self.groups.set_members(group_id, list(tokens))

    @change
    def add_usergroup_token(self, group_id: int, token: str) -> UserGroup:
        return self.groups.add_member(group_id, token)

    @change
    def remove_usergroup_token(self, group_id: int, token: str) -> UserGroup:
        return self.groups.remove_member(group_id, token)

    @query
    def list_user_groups(self, group_id: int | None = None) -> list[UserGroup]:
        if group_id is not None:
            return [self.user_group(group_id)]
        return list(self.state.user_groups.values())

    # ------------------------------------------------------------------ memberships

    @change
    def add_membership(self, user_group_id: int, model_group_id: int) -> list[int]:
        self.user_group(user_group_id)
        self.models.model_group(model_group_id)
        links = self.state.memberships.setdefault(user_group_id, [])
        if model_group_id in links:
            raise AlreadyExists(
                f"User group {user_group_id} already has a membership with SDAModel group {model_group_id}."
            )
        links.append(model_group_id)
        links.sort()  # a user group lists its SDA model groups by id, not in the order they joined
        return list(links)

    @change
    def remove_membership(self, user_group_id: int, model_group_id: int) -> list[int]:
        self.user_group(user_group_id)
        self.models.model_group(model_group_id)
        links = self.state.memberships.get(user_group_id, [])
        if model_group_id not in links:
            raise NotFound(
                f"User group {user_group_id} has no membership with SDAModel group {model_group_id}."
            )
        links.remove(model_group_id)
        if not links:
            del self.state.memberships[user_group_id]
        return list(links)

    @query
    def list_memberships(self, user_group_id: int | None = None) -> list[tuple[UserGroup, list[SdaModelGroup]]]:
        """Each user group with the SDA model groups it may use (relationships build on this)."""
        groups = self.list_user_groups(user_group_id)
        return [(g, [self.state.model_groups[m] for m in self.state.memberships.get(g.id, [])]) for g in groups]

    # ------------------------------------------------------------------ what memberships allow

    def allowed_model_groups(self, token: str) -> list[int] | None:
        """The SDA model groups a token may use, or None when it is not restricted."""
        allowed: list[int] = []
        restricted = False
        for group in self.state.token_user_groups(token):
            linked = self.state.memberships.get(group.id, [])
            if linked:
                restricted = True
                allowed.extend(g for g in linked if g not in allowed)
        return sorted(allowed) if restricted else None

    @query
    def allowed_models(self, token: str) -> list[SdaModel]:
        """`show sdamodel {token}`: the models the token may use."""
        self.state.token(token)
        groups = self.allowed_model_groups(token)
        if groups is None:
            return self.models.list_models()
        ids = {m for g in groups for m in self.state.model_groups[g].model_ids}
        return [m for m in self.models.list_models() if m.id in ids]
