"""The shared admin secret, read the same way by the shell and the simulator.

A secret is never taken from the command line, where `ps` would show it: it
comes from a file (`--admin-secret-file`, or $SDAMANAGER_ADMIN_SECRET_FILE)
or from $SDAMANAGER_ADMIN_SECRET.  Calls carry it as ADMIN_SECRET_METADATA.
"""

from __future__ import annotations

import os

SECRET_ENV = "SDAMANAGER_ADMIN_SECRET"
SECRET_FILE_ENV = "SDAMANAGER_ADMIN_SECRET_FILE"


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
