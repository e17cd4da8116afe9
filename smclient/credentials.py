"""TLS trust for the shell's channel (the admin secret is read by smclient.api.secret)."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # (grpc is imported only for TLS)
    import grpc

TLS_CA_ENV = "SDAMANAGER_TLS_CA"


def tls_credentials(ca_path: str | None = None) -> grpc.ChannelCredentials | None:
    """Channel credentials trusting the CA in `ca_path` (or $SDAMANAGER_TLS_CA); None for plain text."""
    ca_path = ca_path or os.environ.get(TLS_CA_ENV)
    if not ca_path:
        return None
    import grpc

    from .api.secret import read_certificates

    return grpc.ssl_channel_credentials(root_certificates=read_certificates(ca_path, "the TLS CA file"))
