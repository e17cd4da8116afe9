"""The admin secret and TLS trust, for the shell (and read the same way by the simulator).

A secret is never taken from the command line, where `ps` would show it: it
comes from a file (`--admin-secret-file`, or $SDAMANAGER_ADMIN_SECRET_FILE)
or from $SDAMANAGER_ADMIN_SECRET.
"""

from __future__ import annotations

import os

SECRET_ENV = "SDAMANAGER_ADMIN_SECRET"
SECRET_FILE_ENV = "SDAMANAGER_ADMIN_SECRET_FILE"
TLS_CA_ENV = "SDAMANAGER_TLS_CA"


def read_secret(path: str | None = None) -> str | None:
    """The admin secret from a file (its first line) or the environment; None if none is set."""
    path = path or os.environ.get(SECRET_FILE_ENV)
    if path:
        with open(path, encoding="utf-8") as file:  # not pathlib: this runs at every start
            secret = file.read().strip()
        if not secret:
            raise ValueError(f"the admin secret file {path} is empty")
        return secret
    return os.environ.get(SECRET_ENV) or None


def tls_credentials(ca_path: str | None = None):  # type: ignore[no-untyped-def]
    """Channel credentials trusting the CA in `ca_path` (or $SDAMANAGER_TLS_CA); None for plain text."""
    ca_path = ca_path or os.environ.get(TLS_CA_ENV)
    if not ca_path:
        return None
    import grpc

    with open(ca_path, "rb") as file:
        return grpc.ssl_channel_credentials(root_certificates=file.read())
