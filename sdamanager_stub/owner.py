"""The state's one owner: an event loop on a thread of its own.

Every call the server answers runs its rules on this loop, one operation at a
time and to the end (an operation never awaits), so the rules' lock is never
contended by the server itself; it stays only for code in the same process
that reaches the manager from another thread (a test's fast setup through
`RunningSimulator.manager`).  What may take long happens around the
operations, as waiting that costs no thread: a request still arriving, a
client taking its reply, the disk (the store's committer thread commits, and
`durably` waits for it with a future, not a blocked thread).
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, TypeVar

from .journal import JournalError
from .rules.base import Operations, Unsaved

R = TypeVar("R")


async def durably(manager: Operations, operation: Callable[[], R]) -> R:
    """`operation()` (one or more operations of `manager`), answered once what it journalled
    is on disk: the rules' `sync` without blocking the loop.  A change the journal could
    not save raises Internal instead of returning (it is not acknowledged)."""
    try:
        with manager.deferred_saving():
            return operation()
    finally:
        await _saved(manager, manager.take_unsaved())


async def _saved(manager: Operations, unsaved: Unsaved | None) -> None:
    journal = manager.journal
    if unsaved is None or journal is None:  # nothing journalled, or saved as it was recorded
        return
    loop = asyncio.get_running_loop()
    answer: asyncio.Future[JournalError | None] = loop.create_future()

    def settle(error: JournalError | None) -> None:
        if not answer.done():  # the caller may have gone (cancelled)
            answer.set_result(error)

    def tell(error: JournalError | None) -> None:  # from the committer's thread
        loop.call_soon_threadsafe(settle, error)

    journal.when_durable(unsaved.entry, tell)
    manager.saved(unsaved, await answer)


class Owner:
    """An event loop running on a thread of its own until `close()`."""

    def __init__(self, name: str = "sdamanager-server") -> None:
        self.loop = asyncio.new_event_loop()
        self._tasks: set[asyncio.Task[Any]] = set()  # the loop keeps only weak references to tasks
        self.thread = threading.Thread(target=self._run, name=name, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)
        try:
            self.loop.run_forever()
        finally:
            self.loop.close()

    def call(self, coroutine: Coroutine[Any, Any, R], timeout: float | None = None) -> R:
        """Run `coroutine` on the loop and wait for its result here (another thread)."""
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(timeout)

    def _start(self, make: Callable[[], Awaitable[Any]]) -> None:
        """(On the loop.) `make()` as a task the loop keeps (it holds tasks only weakly)."""
        task = asyncio.ensure_future(make())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def post(self, make: Callable[[], Awaitable[Any]]) -> None:
        """Start `make()` as a task of the loop, from any thread (the loop's own too), without
        waiting for it; `close()` cancels it."""
        self.loop.call_soon_threadsafe(self._start, make)

    def spawn(self, make: Callable[[], Awaitable[Any]]) -> None:
        """Start `make()` as a task of the loop, started when this returns; `close()` cancels it."""
        async def start() -> None:
            self._start(make)

        self.call(start())

    def close(self) -> None:
        """Cancel what still runs on the loop, stop it and wait for its thread (idempotent)."""
        if not self.thread.is_alive():
            return

        async def cancel_the_rest() -> None:
            this = asyncio.current_task()
            rest = [task for task in asyncio.all_tasks() if task is not this]
            for task in rest:
                task.cancel()
            await asyncio.gather(*rest, return_exceptions=True)

        try:
            self.call(cancel_the_rest(), timeout=10)
        finally:
            self.loop.call_soon_threadsafe(self.loop.stop)
            self.thread.join()
