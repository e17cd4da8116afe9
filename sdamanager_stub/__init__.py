"""SDAManager simulator: the gRPC server moreh_smclient talks to, with the real rules."""

from __future__ import annotations


def __getattr__(name: str) -> str:
    # One version for the project, written in smclient/__init__.py (the build reads it there
    # too); looked up only when asked, so that loading the pytest plugin imports nothing more.
    if name == "__version__":
        from smclient import __version__

        return __version__
    raise AttributeError(f"module 'sdamanager_stub' has no attribute {name!r}")
