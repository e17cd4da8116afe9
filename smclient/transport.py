"""The connection to SDAManager, and the one place gRPC errors are translated.

Everything above this module sees ServerError or Unreachable, never
grpc.RpcError.  The channel is made on first use, so commands that need no
server (help, `?`, usage errors) never touch the network.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import Any

from .api import ADMIN_SECRET_METADATA
from .api.address import Address
from .errors import ServerError, Unreachable

DEFAULT_TIMEOUT = 5.0
MAX_MESSAGE_BYTES = 64 * 1024 * 1024

STREAM_LIMIT = 600.0

# gRPC's default reconnect backoff grows to two minutes, so an interactive
# shell would keep failing long after SDAManager is back.  Keep it short, and
# after an "unreachable" error start the next call on a fresh channel.  The
# channel's own subchannel pool makes that fresh channel dial at once: from the
# global pool it could pick up the old connection, still waiting out its backoff.
_CHANNEL_OPTIONS = [
    ("grpc.max_receive_message_length", MAX_MESSAGE_BYTES),
    ("grpc.enable_http_proxy", 0),
    ("grpc.use_local_subchannel_pool", 1),
    ("grpc.initial_reconnect_backoff_ms", 250),
    ("grpc.min_reconnect_backoff_ms", 250),
    ("grpc.max_reconnect_backoff_ms", 2000),
]

# Codes meaning "the server did not answer", as opposed to "it refused".  CANCELLED
# comes from a server stopping mid-call, maybe after it applied the change: the
# outcome is unknown, as after a timeout, so it is no refusal either.
_UNREACHABLE = {"UNAVAILABLE", "DEADLINE_EXCEEDED", "CANCELLED"}
# gRPC's words when a server that had the call stops (UNAVAILABLE): the same unknown outcome.
_SERVER_STOPPED = "Cancelling all calls"


class Connection:
    """A lazily opened channel to SDAManager with bounded call times.

    Calls go through generic multicallables made from the API's descriptor,
    one per method on first use, rather than the generated stub: a one-shot
    command then neither imports the stub module nor builds a callable for
    each of the API's methods.
    """

    def __init__(self, address: Address, timeout: float = DEFAULT_TIMEOUT,
                 credentials: Any = None, admin_secret: str | None = None, channel: Any = None) -> None:
        self.address = address
        self.timeout = timeout
        self._credentials = credentials
        self._admin_secret = admin_secret
        self._metadata = ((ADMIN_SECRET_METADATA, admin_secret),) if admin_secret else None
        # A grpc.Channel once opened; given, it is used as it is (a test double of SDAManager's side).
        self._channel: Any = channel
        self._methods: dict[str, Any] = {}
        self._lock = threading.Lock()

    def clone(self, timeout: float | None = None) -> Connection:
        """Another connection to the same server, on its own channel (for background work)."""
        return Connection(self.address, self.timeout if timeout is None else timeout, self._credentials,
                          self._admin_secret)

    def _method(self, name: str) -> Any:
        import grpc  # here, not at the top: help, `?` and usage errors never load gRPC

        with self._lock:
            if self._channel is None:
                target = str(self.address)
                if self._credentials is not None:
                    self._channel = grpc.secure_channel(target, self._credentials, options=_CHANNEL_OPTIONS)
                else:
                    self._channel = grpc.insecure_channel(target, options=_CHANNEL_OPTIONS)
                self._methods = {}
            method = self._methods.get(name)
            if method is None:
                method = self._methods[name] = _multicallable(self._channel, name)
            return method

    def close(self) -> None:
        with self._lock:
            channel, self._channel, self._methods = self._channel, None, {}
        if channel is not None:
            channel.close()

    def call(self, method: str, request: Any) -> Any:
        """One unary call; raises ServerError or Unreachable."""
        import grpc

        try:
            return self._method(method)(request, timeout=self.timeout, metadata=self._metadata)
        except grpc.RpcError as err:
            raise self._translate(err) from None

    def stream(self, method: str, request: Any) -> Iterator[Any]:
        """Pages of a server-streaming call.  A big listing may stream for a
        while, so the bound is per page: each page must come within the
        timeout (and the whole listing within STREAM_LIMIT)."""
        import grpc

        call = self._method(method)(request, timeout=STREAM_LIMIT, metadata=self._metadata)
        watchdog = _Watchdog(self.timeout, call.cancel)
        try:
            for page in call:
                watchdog.reset()
                yield page
        except grpc.RpcError as err:
            if watchdog.expired:
                self.close()  # the next call dials again at once, not after the old channel's backoff
                raise Unreachable(f"SDAManager at {self.address} did not answer within {self.timeout:g} s.") \
                    from None
            raise self._translate(err) from None
        finally:
            watchdog.stop()
            # Ctrl-C, or a reader that stopped early: end the server's side too (a no-op once complete).
            call.cancel()

    def _translate(self, err: Any) -> Exception:
        code = err.code() if hasattr(err, "code") else None
        name = code.name if code is not None else "UNKNOWN"
        detail = (err.details() if hasattr(err, "details") else "") or ""
        if name in _UNREACHABLE:
            self.close()  # the next call dials again at once, not after the old channel's backoff
            if name == "DEADLINE_EXCEEDED":
                return Unreachable(f"SDAManager at {self.address} did not answer within {self.timeout:g} s.")
            if name == "CANCELLED" or detail == _SERVER_STOPPED:
                return Unreachable(f"SDAManager at {self.address} stopped before answering: "
                                   "the command may or may not have been applied.")
            hint = " It answers with TLS: give --tls-ca PEM (or $SDAMANAGER_TLS_CA)." \
                if self._credentials is None and speaks_tls(self.address.host, self.address.port) else ""
            return Unreachable(f"Cannot connect to SDAManager at {self.address}.{hint}")
        if name == "UNIMPLEMENTED":
            return ServerError("This SDAManager does not support the request.", code="UNIMPLEMENTED")
        if name == "UNAUTHENTICATED":
            return ServerError(detail or "SDAManager refused the credentials.", code="UNAUTHENTICATED")
        return ServerError(_one_line(detail) or f"SDAManager answered {name}.", code=name)


def _multicallable(channel: Any, name: str) -> Any:
    """The callable for method `name` of sdamanager.v1.SDAManager on `channel`."""
    from google.protobuf.message_factory import GetMessageClass

    from .api import sdamanager_pb2 as pb

    method = pb.DESCRIPTOR.services_by_name["SDAManager"].methods_by_name[name]
    path = f"/{method.containing_service.full_name}/{name}"
    request_cls = GetMessageClass(method.input_type)
    response_cls = GetMessageClass(method.output_type)
    make = channel.unary_stream if method.server_streaming else channel.unary_unary
    return make(path, request_serializer=request_cls.SerializeToString,
                response_deserializer=response_cls.FromString)


def _one_line(text: str) -> str:
    """Server text is shown on one line, without control characters."""
    return " ".join("".join(c if c.isprintable() else " " for c in text).split())


class _Watchdog:
    """Calls `expire` unless reset within `seconds`; one thread per listing."""

    def __init__(self, seconds: float, expire: Any) -> None:
        self._seconds = seconds
        self._expire = expire
        self._deadline = time.monotonic() + seconds
        self._done = threading.Event()
        self.expired = False
        threading.Thread(target=self._watch, daemon=True, name="smclient-watchdog").start()

    def reset(self) -> None:
        self._deadline = time.monotonic() + self._seconds

    def stop(self) -> None:
        self._done.set()

    def _watch(self) -> None:
        while not self._done.wait(max(0.0, self._deadline - time.monotonic())):
            if time.monotonic() >= self._deadline:
                self.expired = True
                self._expire()
                return


def speaks_tls(host: str, port: int, timeout: float = 1.0) -> bool:
    """Whether a TLS handshake with host:port succeeds (its certificate unchecked): said
    when a plain connection failed, so a missing --tls-ca is named as the reason."""
    import socket
    import ssl

    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    try:
        with socket.create_connection((host, port), timeout=timeout) as raw, \
                context.wrap_socket(raw, server_hostname=host):
            return True
    except (OSError, ValueError):
        return False
