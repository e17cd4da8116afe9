"""Server-side deadlines: a call's request must arrive, and each message of its reply
must be taken by the client, within a bound; otherwise the call is cancelled.

gRPC's synchronous server gives a call a worker of its pool as soon as the
call's headers arrive.  For a unary request the worker then waits for the
request's body, and for a streamed reply it waits while the client does not
read (HTTP/2 flow control).  A client that stalls, by accident or on purpose,
would hold that worker for ever, and a pool's worth of them stops every call
of that kind.  The caller's own deadline does not help: a stalled caller sets
none.

So every method is served as a streaming-request method (the same bytes on
the wire: a unary request is a stream of one message), which lets the worker
read the request itself, and one watchdog thread per kind of wait cancels the
calls whose request or whose taking of a reply is overdue.  Cancelling a call
wakes its worker, which then lets go of it.  What a stall can still cost is
bounded: a worker of its own kind (server.py gives each kind its own
workers), for at most the deadline.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from typing import Any

import grpc

log = logging.getLogger(__name__)

REQUEST_DEADLINE = 10.0  # seconds for a call's request to arrive once its headers have
REPLY_DEADLINE = 30.0  # seconds for a client to take each message of a streamed reply


class _Watch:
    __slots__ = ("due", "context", "what", "armed")

    def __init__(self, due: float, context: grpc.ServicerContext, what: str) -> None:
        self.due, self.context, self.what, self.armed = due, context, what, True


class Watchdog:
    """Cancels a call when a wait armed for it outlasts `seconds`.

    Every wait lasts the same, so waits fall due in the order they were armed:
    a FIFO is the whole schedule (arming and disarming cost O(1)), and one
    thread sleeps until the oldest is due.
    """

    def __init__(self, seconds: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.seconds = seconds
        self._clock = clock
        self._waits: deque[_Watch] = deque()
        self._changed = threading.Condition(threading.Lock())
        self._thread: threading.Thread | None = None
        self._stopped = False

    def arm(self, context: grpc.ServicerContext, what: str) -> _Watch:
        watch = _Watch(self._clock() + self.seconds, context, what)
        with self._changed:
            if self._thread is None and not self._stopped:
                self._thread = threading.Thread(target=self._run, name="sdamanager-deadlines", daemon=True)
                self._thread.start()
            self._waits.append(watch)
            if len(self._waits) == 1:
                self._changed.notify()
        return watch

    @staticmethod
    def disarm(watch: _Watch) -> None:
        watch.armed = False  # left in the FIFO until it comes due: cheaper than finding it

    def stop(self) -> None:
        with self._changed:
            self._stopped = True
            self._changed.notify()
        if self._thread is not None:
            self._thread.join()

    def _run(self) -> None:
        waits = self._waits
        while True:
            with self._changed:
                while not self._stopped and (not waits or waits[0].due > self._clock()):
                    self._changed.wait(waits[0].due - self._clock() if waits else None)
                if self._stopped:
                    return
                watch = waits.popleft()
            if watch.armed:
                log.warning("sdamanager-stub: cancelled a call from %s: %s within %g s",
                            _peer(watch.context), watch.what, self.seconds)
                watch.context.cancel()


def _peer(context: grpc.ServicerContext) -> str:
    try:
        return context.peer() or "an unknown peer"
    except Exception:  # noqa: BLE001 - a log line must not fail
        return "an unknown peer"


class Deadlines(grpc.ServerInterceptor):
    """Serves every method with a deadline on its request and on each message of its reply.

    Put it first among the interceptors: it then also bounds the handlers the
    others answer with (a refusal still waits for nothing it does not read).
    """

    def __init__(self, request_seconds: float = REQUEST_DEADLINE, reply_seconds: float = REPLY_DEADLINE) -> None:
        self.requests = Watchdog(request_seconds)
        self.replies = Watchdog(reply_seconds)

    def stop(self) -> None:
        self.requests.stop()
        self.replies.stop()

    def intercept_service(self, continuation: Callable[[Any], Any], details: grpc.HandlerCallDetails) -> Any:
        handler = continuation(details)
        if handler is None:
            return None
        behaviour = (handler.unary_unary or handler.unary_stream or handler.stream_unary
                     or handler.stream_stream)

        if handler.request_streaming:
            def take(requests: Iterator[Any], context: grpc.ServicerContext) -> Iterator[Any]:
                return self._received(requests, context)
        else:
            def take(requests: Iterator[Any], context: grpc.ServicerContext) -> Any:
                return self._request(requests, context)

        if handler.response_streaming:
            def serve(requests: Iterator[Any], context: grpc.ServicerContext) -> Iterator[Any]:
                yield from self._taken(behaviour(take(requests, context), context), context)

            make = grpc.stream_stream_rpc_method_handler
        else:
            def serve(requests: Iterator[Any], context: grpc.ServicerContext) -> Any:  # type: ignore[misc]
                return behaviour(take(requests, context), context)

            make = grpc.stream_unary_rpc_method_handler
        pool = getattr(behaviour, "experimental_thread_pool", None)
        if pool is not None:  # the method keeps the workers of its kind
            serve.experimental_thread_pool = pool  # type: ignore[attr-defined]
        return make(serve, handler.request_deserializer, handler.response_serializer)

    def _request(self, requests: Iterator[Any], context: grpc.ServicerContext) -> Any:
        """The one request of a unary-request method, read before the deadline or the call is cancelled."""
        watch = self.requests.arm(context, "its request did not arrive")
        try:
            return next(requests)
        except StopIteration:
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, "The call ended without a request.")
        finally:
            Watchdog.disarm(watch)

    def _received(self, requests: Iterator[Any], context: grpc.ServicerContext) -> Iterator[Any]:
        """A streamed request: each message before the deadline (a stream kept idle ends so)."""
        while True:
            watch = self.requests.arm(context, "its next request did not arrive")
            try:
                request = next(requests)
            except StopIteration:
                return
            finally:
                Watchdog.disarm(watch)
            yield request

    def _taken(self, replies: Iterator[Any], context: grpc.ServicerContext) -> Iterator[Any]:
        """A streamed reply: gRPC asks for the next message once the client has taken this one."""
        for reply in replies:  # making a message is the server's work: not watched
            watch = self.replies.arm(context, "it did not take its reply")
            try:
                yield reply
            finally:
                Watchdog.disarm(watch)
