"""Watching the calls the simulator answers: faults injected on demand, the calls
kept for a test's assertions (and the metrics, metrics.py).

The server's Guard (calls.py) tells each observer when a call has its request
(`started`, which may delay it or end it with a status: a fault) and when it
has ended (`ended`, with its status code and how long it took).  Observers are
passed to the server as it is built (server.build_simulator); none costs
anything when there are none.

- `Faults`: rules such as "the next 2 GetToken calls fail UNAVAILABLE", "every
  ListJobs waits 3 s", "RequestDevices of token T fails after 5 calls".  A rule
  matches a method by its name (`GetToken`) or its full path, and on the VM side
  the caller's token (the request's `token`).  `times` bounds how often it
  fires (0: always), `after` lets that many matching calls through first.
  Every injected fault is logged as injected.  `load_faults` reads the same
  rules from a JSON or TOML file (`serve --faults FILE`, reloaded on SIGHUP).
- `CallLog`: each call's method, request (the message), status code and time,
  in order, for a test to assert on (`sim.calls`), bounded (oldest dropped).
"""

from __future__ import annotations

import asyncio
import collections
import json
import logging
import threading
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import grpc
import grpc.aio

log = logging.getLogger(__name__)


@dataclass
class CallInfo:
    """One call as the Guard sees it once its request is read."""

    method: str  # /sdamanager.v1.SDAManager/GetToken
    request: Any  # the request message (None for a streamed request)
    context: grpc.aio.ServicerContext[Any, Any]
    started: float = field(default_factory=time.time)

    @property
    def name(self) -> str:
        """GetToken."""
        return self.method.rsplit("/", 1)[-1]


class CallObserver(Protocol):
    async def started(self, call: CallInfo) -> None:
        """The call has its request; may delay it, or end it (context.abort)."""

    def ended(self, call: CallInfo, code: grpc.StatusCode, seconds: float) -> None:
        """The call ended with `code` after `seconds` (from its arrival at the Guard)."""


# ---------------------------------------------------------------- faults

CODES = {code.name: code for code in grpc.StatusCode if code is not grpc.StatusCode.OK}


@dataclass
class Fault:
    """A rule: calls of `method` (and of `token`, when given) are delayed `delay` seconds,
    then fail with `code` (or go on, without a code); `after` matching calls pass first;
    it fires `times` times (0: every time)."""

    method: str
    code: str = ""
    delay: float = 0.0
    times: int = 0
    after: int = 0
    token: str = ""
    message: str = ""
    seen: int = 0  # matching calls so far
    fired: int = 0

    def __post_init__(self) -> None:
        if not isinstance(self.method, str) or not self.method:
            raise ValueError("a fault needs a method (GetToken, or /sdamanager.v1.SDAManager/GetToken)")
        if self.code and self.code.upper() not in CODES:
            raise ValueError(f"unknown status code {self.code!r}: expected one of {', '.join(CODES)}")
        self.code = self.code.upper()
        for name in ("delay",):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= 3600:
                raise ValueError(f"{name} must be seconds from 0 to 3600, not {value!r}")
        for name in ("times", "after"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise ValueError(f"{name} must be a whole number of calls, not {value!r}")
        if not self.code and not self.delay:
            raise ValueError("a fault needs a code to fail with, a delay, or both")

    def matches(self, call: CallInfo) -> bool:
        if self.method not in (call.name, call.method):
            return False
        return not self.token or getattr(call.request, "token", None) == self.token

    @property
    def spent(self) -> bool:
        return bool(self.times) and self.fired >= self.times


class Faults:
    """The rules in force (`add`, `clear`, `replace`); an observer of the server's calls."""

    def __init__(self) -> None:
        self._rules: list[Fault] = []
        self._lock = threading.Lock()  # rules change from a test's thread or a signal, calls read on the loop

    def add(self, method: str, code: str = "", *, delay: float = 0.0, times: int = 0, after: int = 0,
            token: str = "", message: str = "") -> Fault:
        fault = Fault(method, code, delay, times, after, token, message)
        with self._lock:
            self._rules.append(fault)
        return fault

    def clear(self) -> None:
        with self._lock:
            self._rules = []

    def replace(self, faults: list[Fault]) -> None:
        with self._lock:
            self._rules = list(faults)

    def __iter__(self) -> Iterator[Fault]:
        with self._lock:
            return iter(list(self._rules))

    def __len__(self) -> int:
        return len(self._rules)

    def _firing(self, call: CallInfo) -> Fault | None:
        with self._lock:
            for fault in self._rules:
                if fault.spent or not fault.matches(call):
                    continue
                fault.seen += 1
                if fault.seen <= fault.after:
                    continue
                fault.fired += 1
                return fault
        return None

    async def started(self, call: CallInfo) -> None:
        if not self._rules:
            return
        fault = self._firing(call)
        if fault is None:
            return
        what = " and ".join(filter(None, [f"{fault.delay:g} s delay" if fault.delay else "",
                                         fault.code or ""]))
        log.warning("sdamanager-stub: injected fault into %s: %s", call.name, what)
        if fault.delay:
            await asyncio.sleep(fault.delay)
        if fault.code:
            await call.context.abort(CODES[fault.code], fault.message or f"Injected fault: {fault.code}.")

    def ended(self, call: CallInfo, code: grpc.StatusCode, seconds: float) -> None:
        pass


def load_faults(path: str | Path) -> list[Fault]:
    """The rules of a JSON or TOML file: a list of rules, or `{"faults": [...]}` (TOML:
    `[[faults]]` tables); each rule the keywords of `Faults.add`.  ValueError names
    the file and what is wrong."""
    from smclient.api.secret import read_small_file

    text = read_small_file(str(path), "the faults file").decode("utf-8", "replace")
    try:
        if str(path).endswith(".toml"):
            from smclient import toml

            data: Any = toml.loads(text)
        else:
            data = json.loads(text)
    except ValueError as err:
        raise ValueError(f"{path}: {err}") from None
    rules = data.get("faults") if isinstance(data, Mapping) else data
    if not isinstance(rules, list):
        raise ValueError(f"{path}: expected a list of faults (or a faults table)")
    faults = []
    for number, rule in enumerate(rules, 1):
        if not isinstance(rule, Mapping):
            raise ValueError(f"{path}: fault {number} is not a table of keywords")
        unknown = set(rule) - {"method", "code", "delay", "times", "after", "token", "message"}
        if unknown:
            raise ValueError(f"{path}: fault {number}: unknown key(s) {', '.join(sorted(unknown))}")
        try:
            faults.append(Fault(**rule))
        except (TypeError, ValueError) as err:
            raise ValueError(f"{path}: fault {number}: {err}") from None
    return faults


# ---------------------------------------------------------------- the calls, for assertions


@dataclass(frozen=True)
class Call:
    method: str  # GetToken
    request: Any  # the request message
    code: str  # OK, UNAVAILABLE, ...
    time: float  # when it began (seconds since the epoch)
    seconds: float  # how long it took
    peer: str


class CallLog:
    """The calls the server answered, in the order they ended (the last `limit` of them)."""

    def __init__(self, limit: int = 100_000) -> None:
        self._calls: collections.deque[Call] = collections.deque(maxlen=limit)

    async def started(self, call: CallInfo) -> None:
        pass

    def ended(self, call: CallInfo, code: grpc.StatusCode, seconds: float) -> None:
        try:
            peer = call.context.peer() or ""
        except Exception:  # noqa: BLE001 - a record must not fail the call
            peer = ""
        self._calls.append(Call(call.name, call.request, code.name, call.started, seconds, peer))

    def __iter__(self) -> Iterator[Call]:
        return iter(list(self._calls))

    def __len__(self) -> int:
        return len(self._calls)

    def __getitem__(self, index: int) -> Call:
        return list(self._calls)[index]

    def of(self, method: str) -> list[Call]:
        """The calls of one method (`GetToken`)."""
        return [c for c in self._calls if c.method == method]

    def clear(self) -> None:
        self._calls.clear()
