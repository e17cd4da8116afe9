"""What one call may cost the server: a place among a bounded number of calls of
its kind, its request within a deadline of its arrival, and each message of its
reply taken by the client within a deadline of being offered.

On grpc.aio a call that waits (a request that does not come, a client that
does not read, a health Watch stream) is a coroutine waiting: it holds no
thread, so no kind of call can take another's workers.  What a waiting call
holds is memory (its state in gRPC, a few KB; for a reply the client does not
take, the one message it is stuck on), and that is what the bounds protect:
beyond them a call is answered RESOURCE_EXHAUSTED at once, never queued.
Streams (listings, Watch, reflection) have bounds of their own, lower, since
they may last and each may hold a page: a crowd of them never takes the place
of a unary call.

Every method is served as a streaming-request method (the same bytes on the
wire: a unary request is a stream of one message), so the call's coroutine
starts as the call arrives and reads its own request, within the deadline,
and a second request message is refused rather than dropped.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import AbstractAsyncContextManager
from typing import Any

import grpc
import grpc.aio

from .observe import CallInfo, CallObserver
from .security import ADMIN_PREFIX, VM_METHODS, ServerInterceptor

log = logging.getLogger(__name__)

REQUEST_DEADLINE = 10.0  # seconds for a call's request to arrive, from the call's arrival
REPLY_DEADLINE = 30.0  # seconds for a client to take each message of a streamed reply
MAX_CALLS = 2048  # unary calls of one kind at once (admin, VM side, open)
MAX_STREAMS = 256  # streamed calls of one side at once (admin listings; health Watch and reflection)

if sys.version_info >= (3, 11):
    _timeout: Callable[[float], AbstractAsyncContextManager[Any]] = asyncio.timeout
else:  # pragma: no cover - Python 3.10
    from contextlib import asynccontextmanager

    @asynccontextmanager
    async def _timeout(seconds: float) -> AsyncIterator[None]:
        task = asyncio.current_task()
        assert task is not None
        handle = asyncio.get_running_loop().call_later(seconds, task.cancel)
        try:
            yield
        except asyncio.CancelledError:
            if handle.cancelled():
                raise
            raise asyncio.TimeoutError from None
        finally:
            handle.cancel()


def side_of(method: str) -> str:
    """admin, vm (the customer's VM and tools) or open (health, reflection)."""
    if not method.startswith(ADMIN_PREFIX):
        return "open"
    return "vm" if method[len(ADMIN_PREFIX):] in VM_METHODS else "admin"


def _peer(context: grpc.aio.ServicerContext[Any, Any]) -> str:
    try:
        return context.peer() or "an unknown peer"
    except Exception:  # noqa: BLE001 - a log line must not fail
        return "an unknown peer"


class _Timed:
    """A call's context whose writes (for a handler that writes its reply itself, as the
    health service's Watch does) go through the reply deadline."""

    def __init__(self, context: grpc.aio.ServicerContext[Any, Any], write: Callable[[Any], Awaitable[None]]) -> None:
        self._context = context
        self.write = write

    def __getattr__(self, name: str) -> Any:
        return getattr(self._context, name)


class Guard(ServerInterceptor):
    """Serves every method within its kind's bound and the two deadlines (see the module)."""

    def __init__(self, request_deadline: float = REQUEST_DEADLINE, reply_deadline: float = REPLY_DEADLINE,
                 max_calls: int = MAX_CALLS, max_streams: int = MAX_STREAMS,
                 observers: Sequence[CallObserver] = ()) -> None:
        self.observers = tuple(observers)  # told of every call (observe.py): faults, the call log, metrics
        self.request_deadline = request_deadline
        self.reply_deadline = reply_deadline
        self.bounds = {"admin": max_calls, "vm": max_calls, "open": max_calls,
                       "admin stream": max_streams, "open stream": max_streams}
        self.in_flight = dict.fromkeys(self.bounds, 0)  # touched by the loop's thread only
        self.finished = 0  # calls ended, ever
        self._wrapped: dict[str, tuple[Any, Any]] = {}  # method -> (its handler, that handler served so)

    async def intercept_service(self, continuation: Callable[[Any], Awaitable[Any]],
                                details: grpc.HandlerCallDetails) -> Any:
        handler = await continuation(details)
        if handler is None:
            return None
        method = details.method or ""
        known = self._wrapped.get(method)
        if known is not None and known[0] is handler:  # the same method handler as last time: its wrapping
            return known[1]
        wrapped = self._wrap(method, handler)
        self._wrapped[method] = (handler, wrapped)
        return wrapped

    def _wrap(self, method: str, handler: Any) -> Any:
        side = side_of(method)
        kind = f"{side} stream" if handler.response_streaming and side != "vm" else side
        behaviour = (handler.unary_unary or handler.unary_stream or handler.stream_unary
                     or handler.stream_stream)
        request_streaming, response_streaming = handler.request_streaming, handler.response_streaming
        generator = inspect.isasyncgenfunction(behaviour)  # else it writes its messages itself (Watch)

        async def serve(requests: Any, context: grpc.aio.ServicerContext[Any, Any]) -> Any:
            if not self.observers:
                return await answer(requests, context, None)
            call = CallInfo(method, None, context)
            began = time.monotonic()
            failed: grpc.StatusCode | None = None
            try:
                return await answer(requests, context, call)
            except asyncio.CancelledError:
                failed = grpc.StatusCode.CANCELLED
                raise
            except Exception:
                failed = grpc.StatusCode.UNKNOWN  # unless an abort set the code (read below)
                raise
            finally:
                code = _code(context) or failed or grpc.StatusCode.OK
                for observer in self.observers:
                    observer.ended(call, code, time.monotonic() - began)

        async def answer(requests: Any, context: grpc.aio.ServicerContext[Any, Any], call: CallInfo | None) -> Any:
            if self.in_flight[kind] >= self.bounds[kind]:
                await context.abort(grpc.StatusCode.RESOURCE_EXHAUSTED,
                                    f"This SDAManager is answering {self.bounds[kind]} {kind} calls already; "
                                    "try again shortly.")
            self.in_flight[kind] += 1
            try:
                request = (self._received(requests, context) if request_streaming
                           else await self._request(requests, context))
                if call is not None:
                    call.request = None if request_streaming else request
                    for observer in self.observers:
                        await observer.started(call)
                if not response_streaming:
                    return await behaviour(request, context)
                if generator:
                    async for message in behaviour(request, context):
                        await self._write(context, message)
                else:
                    await behaviour(request, _Timed(context, lambda m: self._write(context, m)))
                return None
            finally:
                self.in_flight[kind] -= 1
                self.finished += 1

        make = grpc.stream_stream_rpc_method_handler if response_streaming else grpc.stream_unary_rpc_method_handler
        return make(serve, handler.request_deserializer, handler.response_serializer)

    async def _cancel(self, context: grpc.aio.ServicerContext[Any, Any], what: str, seconds: float) -> None:
        """End the call: it waited too long for what it had to do."""
        log.warning("sdamanager-stub: cancelled a call from %s: %s within %g s", _peer(context), what, seconds)
        await context.abort(grpc.StatusCode.CANCELLED, f"The call was cancelled: {what} within {seconds:g} s.")

    async def _request(self, requests: Any, context: grpc.aio.ServicerContext[Any, Any]) -> Any:
        """The one request of a unary-request method, and the end of the stream after it."""
        try:
            async with _timeout(self.request_deadline):
                request = await requests.__anext__()
                more = True
                try:
                    await requests.__anext__()
                except StopAsyncIteration:
                    more = False
        except StopAsyncIteration:
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, "The call ended without a request.")
        except asyncio.TimeoutError:
            await self._cancel(context, "its request did not arrive", self.request_deadline)
        if more:
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT,
                                "This method takes one request message; the call sent more.")
        return request

    async def _received(self, requests: Any, context: grpc.aio.ServicerContext[Any, Any]) -> AsyncIterator[Any]:
        """A streamed request: each message within the deadline (a stream kept idle ends so)."""
        while True:
            try:
                async with _timeout(self.request_deadline):
                    request = await requests.__anext__()
            except StopAsyncIteration:
                return
            except asyncio.TimeoutError:
                await self._cancel(context, "its next request did not arrive", self.request_deadline)
            yield request

    async def _write(self, context: grpc.aio.ServicerContext[Any, Any], message: Any) -> None:
        """One message of a streamed reply, taken by the client within the deadline.

        The wait is for this message only: a client that reads slowly but steadily
        takes each in time, however long the whole listing lasts.  A client that
        stops reading has its call ended; gRPC's asyncio server cannot reset a
        stream, so the status waits behind the message the client did not take,
        and the call keeps its place among its kind's until the client reads or goes.
        """
        try:
            async with _timeout(self.reply_deadline):
                await context.write(message)
        except asyncio.TimeoutError:
            await self._cancel(context, "it did not take its reply", self.reply_deadline)


def _code(context: grpc.aio.ServicerContext[Any, Any]) -> grpc.StatusCode | None:
    """The status a call's handler set (or an abort did), if any."""
    try:
        code: object = context.code()  # None until a status is set (grpc-stubs say a StatusCode)
    except Exception:  # noqa: BLE001 - an observer's record must not fail the call
        return None
    if code is None or isinstance(code, grpc.StatusCode):
        return code
    return next((c for c in grpc.StatusCode if c.value[0] == code), None)


def _malloc_trim() -> Callable[[int], int] | None:
    """glibc's malloc_trim, where there is one."""
    import ctypes
    import ctypes.util

    name = ctypes.util.find_library("c")
    try:
        return ctypes.CDLL(name).malloc_trim if name else None
    except (OSError, AttributeError):
        return None


async def give_back_memory(guard: Guard, every: float = 5.0, calls: int = 1000) -> None:
    """Return the memory of calls that ended to the system, every `every` seconds in which
    at least `calls` calls ended.  glibc keeps freed memory in the arenas of the threads
    that used it (gRPC's own among them): after a crowd of stalled calls or a flood ends,
    the process would otherwise stay at its peak (224 MB after 3,000 half-open calls,
    83 MB once trimmed, in one measurement).  The trim runs off the loop."""
    trim = _malloc_trim()
    if trim is None:
        return
    loop = asyncio.get_running_loop()
    seen = guard.finished
    while True:
        await asyncio.sleep(every)
        if guard.finished - seen >= calls:
            seen = guard.finished
            await loop.run_in_executor(None, trim, 0)
