"""Who may call: an optional shared admin secret, sent by the shell as call
metadata, and optional TLS.  Health checks, reflection and the VM side (which
authenticates with the customer's token itself) never need the secret."""

from __future__ import annotations

import hmac
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

import grpc
import grpc.aio

from smclient.api import ADMIN_SECRET_METADATA as SECRET_METADATA
from smclient.api.secret import read_certificates, read_small_file

# The VM side: a customer's VM and its tools (moreh-smi, moreh-switch-model).
VM_METHODS = frozenset({"RequestDevices", "ReportRunning", "FinishJob", "GetDevices", "ListModelChoices",
                        "SwitchModel", "AddDevice", "RemoveDevice", "SwitchDevice", "ResetDevice"})
ADMIN_PREFIX = "/sdamanager.v1.SDAManager/"

if TYPE_CHECKING:  # generic in grpc-stubs (request, response: here any method's messages), not at run time
    ServerInterceptor = grpc.aio.ServerInterceptor[Any, Any]
else:
    ServerInterceptor = grpc.aio.ServerInterceptor


MISSING_SECRET = ("This SDAManager needs the admin secret: set SDAMANAGER_ADMIN_SECRET "
                  "or --admin-secret-file on the client.")
WRONG_SECRET = ("This SDAManager refused the admin secret sent: it is not the one the server was given "
                "(check SDAMANAGER_ADMIN_SECRET or --admin-secret-file on the client).")


class AdminSecret(ServerInterceptor):
    """Refuses admin calls without the shared secret: UNAUTHENTICATED, at once."""

    def __init__(self, secret: str) -> None:
        self._secret = secret.encode()

    async def intercept_service(self, continuation: Callable[[Any], Awaitable[Any]],
                                details: grpc.HandlerCallDetails) -> Any:
        method = details.method or ""
        if not method.startswith(ADMIN_PREFIX) or method[len(ADMIN_PREFIX):] in VM_METHODS:
            return await continuation(details)
        sent = dict(details.invocation_metadata or ()).get(SECRET_METADATA, "")
        if isinstance(sent, str) and hmac.compare_digest(sent.encode(), self._secret):
            return await continuation(details)
        handler = await continuation(details)
        if handler is None:
            return None

        reason = (WRONG_SECRET if sent else MISSING_SECRET)

        async def deny(requests: Any, context: grpc.aio.ServicerContext[Any, Any]) -> Any:
            # Takes the request as a stream and never reads it: a refusal waits for nothing.
            await context.abort(grpc.StatusCode.UNAUTHENTICATED, reason)

        make = (grpc.stream_stream_rpc_method_handler if handler.response_streaming
                else grpc.stream_unary_rpc_method_handler)
        return make(deny, handler.request_deserializer, handler.response_serializer)


def server_credentials(cert_path: str, key_path: str) -> grpc.ServerCredentials:
    """TLS with this certificate and key, checked here: gRPC itself fails only when
    it binds the port, in a way that cannot be told from a port in use."""
    import ssl

    certificate = read_certificates(cert_path, "the TLS certificate")
    key = read_small_file(key_path, "the TLS key")
    try:  # an encrypted key must fail, not prompt on the terminal: the empty password
        ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER).load_cert_chain(cert_path, key_path, password=lambda: b"")
    except ssl.SSLError as err:
        if err.reason == "KEY_VALUES_MISMATCH":
            raise ValueError(f"the TLS key {key_path} does not match the certificate {cert_path}") from None
        raise ValueError(f"the TLS key {key_path} is not an unencrypted PEM private key") from None
    return grpc.ssl_server_credentials([(key, certificate)])
