"""The three kinds of group: SDA model groups, backend groups and user groups.

They differ in how messages name them and where their members are kept (a
model group lists models, a user group lists tokens, a backend names its one
backend group); everything else is one collection here: find a group by id,
keep names unique, create, rename and delete groups, set, add and remove
members.  A group lists its members in their own order, as the original does
(the guide's `add usergroup 28 your_token_1` on a group holding your_token_2
shows `your_token_1, your_token_2`), not in the order they joined: tokens
oldest first (the order of the state's `tokens`), models as `show sdamodel`
lists them (by size: devices, then id), backends by id.
The records stay in the state's plain dicts (`model_groups`,
`backend_groups`, `user_groups`, state.py), which the gRPC face and the
snapshot read and a restored snapshot replaces, so a collection reaches them
through the state at every call.  What deleting a group does to the rest (the
memberships, the SDAs, the backends) is the rule's, in its entity's module.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from typing import ClassVar, Generic, TypeVar

from .. import validate
from ..audit import plural
from ..entities import (
    DEFAULT_BACKEND_GROUP_ID,
    DEFAULT_BACKEND_GROUP_NAME,
    BackendGroup,
    SdaModelGroup,
    Token,
    UserGroup,
)
from ..errors import AlreadyExists, FailedPrecondition, NotFound
from ..state import State

G = TypeVar("G", SdaModelGroup, BackendGroup, UserGroup)
K = TypeVar("K", int, str)  # a member: a model id, a backend id or a token


class Groups(ABC, Generic[G, K]):
    """One kind of group: what every kind does alike, and what each must say."""

    kind: ClassVar[str]  # its id counter
    noun: ClassVar[str]  # "User group 3 does not exist."
    a_noun: ClassVar[str]  # "A user group named 'x' already exists"
    in_use: ClassVar[str]  # "User group 3 (x) still has 2 tokens"
    list_label: ClassVar[str]  # "Token list has more than ... entries."

    def __init__(self, state: State) -> None:
        self.state = state

    @abstractmethod
    def records(self) -> dict[int, G]:
        """The state's dict of this kind."""

    @abstractmethod
    def members(self, group: G) -> list[K]: ...

    @abstractmethod
    def _admit(self, key: K, group_id: int | None) -> None:
        """Refuse a member that does not exist or may not join group `group_id` (None: a new one)."""

    @abstractmethod
    def _assign(self, group: G, keys: list[K]) -> None: ...

    @abstractmethod
    def _member(self, key: K) -> str:
        """A member as a message's subject: "SDAModel 3", "The token"."""

    @abstractmethod
    def _where(self, group: G) -> str:
        """A group as a message names it after "is already in"."""

    def ordered(self, keys: list[K]) -> list[K]:
        """`keys` in their entity's own order, the order a group lists its members in (ids
        ascending unless the kind says otherwise), whatever order they were given or joined in."""
        return sorted(keys)

    def _join(self, group: G, key: K) -> None:
        self._assign(group, self.ordered(self.members(group) + [key]))

    def _leave(self, group: G, key: K) -> None:
        self.members(group).remove(key)

    def _known(self, key: K) -> None:
        """Refuse a member that does not exist, before saying it is not in a group."""

    # ------------------------------------------------------------------ the rules of every kind

    def find(self, group_id: int) -> G:
        try:
            return self.records()[group_id]
        except KeyError:
            raise NotFound(f"{self.noun} {group_id} does not exist.") from None

    def changeable(self, group_id: int) -> G:
        """The group, if it may be renamed, deleted or given other members."""
        return self.find(group_id)

    def create(self, name: str, members: list[K], build: Callable[[int], G],
               check: Callable[[], object] | None = None) -> G:
        """A new group `build(id)` with `members`; `check` checks the kind's own fields
        (between the name's form and its uniqueness, as the original does)."""
        validate.name(f"{self.noun} name", name)
        if check is not None:
            check()
        validate.unique_name(self.a_noun, name, self.records().values())
        keys = self._admitted(members, None)
        # The id is taken only once every check passed, so a refusal uses none up.
        group = build(self.state.new_id(self.kind))
        self.records()[group.id] = group
        self._assign(group, keys)
        return group

    def rename(self, group_id: int, name: str) -> G:
        group = self.changeable(group_id)
        validate.name(f"{self.noun} name", name)
        validate.unique_name(self.a_noun, name, self.records().values(), skip=group)
        group.name = name
        return group

    def delete(self, group: G, force: bool, uses: dict[str, int]) -> None:
        """Delete `group` unless something still uses it (`uses`: how many of what) and not `force`."""
        what = [plural(count, word) for word, count in uses.items() if count]
        if what and not force:
            raise FailedPrecondition(
                f"{self.noun} {group.id} ({group.name}) {self.in_use} {' and '.join(what)}: "
                "use force true to delete it anyway."
            )
        del self.records()[group.id]

    def set_members(self, group_id: int, keys: list[K]) -> G:
        group = self.changeable(group_id)
        self._assign(group, self._admitted(keys, group.id))
        return group

    def add_member(self, group_id: int, key: K) -> G:
        group = self.changeable(group_id)
        self._admit(key, group.id)
        if key in self.members(group):
            raise AlreadyExists(f"{self._member(key)} is already in {self._where(group)}.")
        self._join(group, key)
        return group

    def remove_member(self, group_id: int, key: K) -> G:
        group = self.changeable(group_id)
        self._known(key)
        if key not in self.members(group):
            raise NotFound(f"{self._member(key)} is not in {self._where(group)}.")
        self._leave(group, key)
        return group

    def _admitted(self, keys: list[K], group_id: int | None) -> list[K]:
        validate.list_size(self.list_label, keys)
        for key in keys:
            self._admit(key, group_id)
        return self.ordered(list(keys))


class ModelGroups(Groups[SdaModelGroup, int]):
    """SDA model groups: each lists the SDA models its SDAs may use."""

    kind = "model_group"
    noun = "SDAModel group"
    a_noun = "An SDAModel group"
    in_use = "is still used by"
    list_label = "SDAModel list"

    def records(self) -> dict[int, SdaModelGroup]:
        return self.state.model_groups

    def members(self, group: SdaModelGroup) -> list[int]:
        return group.model_ids

    def _admit(self, key: int, group_id: int | None) -> None:
        self.state.model(key)

    def ordered(self, keys: list[int]) -> list[int]:
        """As `show sdamodel` and the VMs' model menus list models: by size (devices), then id
        (the guide's and the manual's lists all put model 52, 12 devices, between 4 and 5)."""
        models = self.state.models

        def size(key: int) -> tuple[int, int]:
            model = models.get(key)  # (always there: a deleted model leaves its groups)
            return (model.devices if model is not None else 0, key)

        return sorted(keys, key=size)

    def _assign(self, group: SdaModelGroup, keys: list[int]) -> None:
        group.model_ids = keys

    def _member(self, key: int) -> str:
        return f"SDAModel {key}"

    def _where(self, group: SdaModelGroup) -> str:
        return f"SDAModel group {group.id}"


class UserGroups(Groups[UserGroup, str]):
    """User groups: each lists tokens (their memberships are the state's `memberships`)."""

    kind = "user_group"
    noun = "User group"
    a_noun = "A user group"
    in_use = "still has"
    list_label = "Token list"

    def __init__(self, state: State) -> None:
        super().__init__(state)
        self._numbered: dict[str, Token] | None = None  # the `tokens` that `_number` numbers
        self._number: dict[str, int] = {}

    def records(self) -> dict[int, UserGroup]:
        return self.state.user_groups

    def members(self, group: UserGroup) -> list[str]:
        return group.tokens

    def _admit(self, key: str, group_id: int | None) -> None:
        self.state.token(key)

    def ordered(self, keys: list[str]) -> list[str]:
        """Oldest token first: the order of the state's `tokens` (which keeps the order
        they were made in), not of `created`, which two tokens made at once share."""
        if len(keys) < 2:
            return list(keys)
        number = self._numbers()
        last = len(number)  # (a token no longer there, which only a hand-made state file holds)
        return sorted(keys, key=lambda key: number.get(key, last))

    def _numbers(self) -> dict[str, int]:
        """Each token's place in the state's `tokens`, without a pass over them all per
        change: tokens are only added at the end, and a deleted one is never made again, so a
        number once given stays right; only the tokens made since are numbered.  Another
        dict (a restored state) is numbered afresh."""
        tokens = self.state.tokens
        if self._numbered is not tokens:
            self._numbered, self._number = tokens, {}
        number = self._number
        new = []
        for value in reversed(tokens):
            if value in number:
                break
            new.append(value)
        for value in reversed(new):
            number[value] = len(number)
        return number

    def _assign(self, group: UserGroup, keys: list[str]) -> None:
        group.tokens = keys

    def _member(self, key: str) -> str:
        return "The token"

    def _where(self, group: UserGroup) -> str:
        return f"user group {group.id} ({group.name})"


class BackendGroups(Groups[BackendGroup, int]):
    """Backend groups: a backend is in exactly one, the default group (0) when in no other.

    The default group is whatever is left, so it cannot be changed by hand, and a
    backend joins another group only from the default one.
    """

    kind = "backend_group"
    noun = "Backend group"
    a_noun = "A backend group"
    in_use = "still has"
    list_label = "Backend list"

    def records(self) -> dict[int, BackendGroup]:
        return self.state.backend_groups

    def members(self, group: BackendGroup) -> list[int]:
        return [b.id for b in self.state.backends_in_group(group.id)]

    def changeable(self, group_id: int) -> BackendGroup:
        group = self.find(group_id)
        if group_id == DEFAULT_BACKEND_GROUP_ID:
            raise FailedPrecondition(
                f"Backend group 0 ({DEFAULT_BACKEND_GROUP_NAME}) holds every backend of no other group "
                "and cannot be changed."
            )
        return group

    def _admit(self, key: int, group_id: int | None) -> None:
        backend = self.state.backend(key)
        if backend.group_id not in (DEFAULT_BACKEND_GROUP_ID, group_id):
            other = self.records()[backend.group_id]
            raise FailedPrecondition(
                f"Backend {backend.id} ({backend.name}) is in backend group {other.id} ({other.name}): "
                "only backends of the default group or of this group can be listed."
            )

    def _assign(self, group: BackendGroup, keys: list[int]) -> None:
        keep = set(keys)
        for backend in self.state.backends_in_group(group.id):
            if backend.id not in keep:
                backend.group_id = DEFAULT_BACKEND_GROUP_ID
        for key in keys:
            self.state.backend(key).group_id = group.id

    def _join(self, group: BackendGroup, key: int) -> None:
        self.state.backend(key).group_id = group.id

    def _leave(self, group: BackendGroup, key: int) -> None:
        self.state.backend(key).group_id = DEFAULT_BACKEND_GROUP_ID

    def _known(self, key: int) -> None:
        self.state.backend(key)

    def _member(self, key: int) -> str:
        return f"Backend {key}"

    def _where(self, group: BackendGroup) -> str:
        return f"backend group {group.id}"
