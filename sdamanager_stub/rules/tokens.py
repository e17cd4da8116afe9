"""Tokens: who uses SDAManager, with a priority, limits on their SDAs and an environment.

A token's SDAs (rules/sdas.py, which these rules build on) bound its Max SDA
and its current SDA; its live jobs and SDAs keep it from being deleted, and
deleting it takes it out of its user groups.
"""

from __future__ import annotations

import base64
import secrets
from collections.abc import Callable

from .. import validate
from ..audit import change, plural, query
from ..entities import DUPLICABLE_OFF, AccessLevel, Token
from ..errors import FailedPrecondition, InvalidArgument, NotFound, ResourceExhausted
from ..state import State
from .base import Operations, Service
from .sdas import SdaRules


class TokenRules(Service):
    """Tokens; a new token's digits come from `randbelow` (tests pass a seeded one, so their
    transcripts show fixed tokens)."""

    def __init__(self, ops: Operations, state: State, sdas: SdaRules,
                 randbelow: Callable[[int], int] = secrets.randbelow) -> None:
        super().__init__(ops, state)
        self.sdas = sdas
        self._randbelow = randbelow

    def _generate_token(self, description: str) -> str:
        # The original's shape: base64 of the description's first four
        # characters and a 13-digit number (a millisecond timestamp there).
        # The digits here are random, so a token cannot be guessed from the
        # time it was made.  The URL-safe alphabet keeps a token usable as a
        # file name (VMs keep it as /etc/moreh/{token}); for ASCII letters and
        # digits it is the same text as standard base64.
        if self.ops.made:  # replaying: the value it made the first time
            return self.ops.made
        prefix = description[:4]
        for _ in range(1000):
            digits = str(self._randbelow(9 * 10**12) + 10**12)
            value = base64.urlsafe_b64encode((prefix + digits).encode()).decode()
            # (a departed token keeps its history, and so its value)
            if value not in self.state.tokens and value not in self.state.departed:
                self.ops.made = value  # the journal keeps it: random is not replayable
                return value
        raise ResourceExhausted("Could not make a new unique token: try again.")

    @change
    def create_token(self, description: str, priority: int = 0) -> Token:
        validate.text("Description", description, allow_empty=False)
        validate.priority(priority)
        token = Token(value=self._generate_token(description), description=description,
                      priority=priority, created=self.ops.now)
        self.state.tokens[token.value] = token
        return token

    @change
    def delete_token(self, token: str) -> None:
        tok = self.state.token(token)
        sdas = self.state.token_sdas(tok.value)
        if sdas:
            raise FailedPrecondition(
                f"The token still has {plural(len(sdas), 'SDA')}: "
                f"delete {'it' if len(sdas) == 1 else 'them'} first."
            )
        live = self.state.job_index.of_token(token)
        if live:
            raise FailedPrecondition(
                f"The token still has live jobs ({', '.join(map(str, live))}): release them first."
            )
        for group in self.state.token_user_groups(token):
            group.tokens.remove(token)
        del self.state.tokens[token]
        self.state.departed[token] = tok.description

    @change
    def update_token_priority(self, token: str, priority: int) -> Token:
        tok = self.state.token(token)
        tok.priority = validate.priority(priority)
        return tok

    @change
    def update_token_description(self, token: str, description: str) -> Token:
        tok = self.state.token(token)
        tok.description = validate.text("Description", description, allow_empty=False)
        return tok

    @change
    def update_token_access_level(self, token: str, access_level: AccessLevel) -> Token:
        tok = self.state.token(token)
        if not isinstance(access_level, AccessLevel):
            raise InvalidArgument("Access level must be USER, ADMIN or DEVELOPER.")
        tok.access_level = access_level
        return tok

    @change
    def update_token_max_sda(self, token: str, max_sda: int) -> Token:
        tok = self.state.token(token)
        validate.int_range("Max SDA", max_sda, 1, validate.MAX_SDA_LIMIT)
        count = len(self.state.token_sdas(token))
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
        tok = self.state.token(token)
        self.sdas.owned_sda(token, sda_id)
        tok.current_sda = sda_id
        return tok

    @change
    def update_token_duplicable(self, token: str, duplicable: int) -> Token:
        tok = self.state.token(token)
        validate.int_range("Duplicable", duplicable, 0, validate.DUPLICABLE_LIMIT)
        if duplicable != DUPLICABLE_OFF and tok.max_sda != 1:
            raise FailedPrecondition(
                f"Max SDA of the token is {tok.max_sda}: set it to 1 first (update token sda max)."
            )
        tok.duplicable = duplicable
        return tok

    @change
    def add_token_env(self, token: str, name: str, value: str) -> Token:
        tok = self.state.token(token)
        tok.env[validate.env_name(name)] = validate.env_value(value)
        return tok

    @change
    def remove_token_env(self, token: str, name: str) -> Token:
        tok = self.state.token(token)
        if name not in tok.env:
            raise NotFound(f"The token has no environment variable {name!r}.")
        del tok.env[name]
        return tok

    @query
    def list_tokens(self, running_only: bool = False) -> list[Token]:
        tokens = list(self.state.tokens.values())
        if running_only:
            running = self.state.job_index.tokens_holding()
            tokens = [t for t in tokens if t.value in running]
        return tokens
