"""SDAManager simulator: the gRPC server moreh_smclient talks to, with the real rules."""

# One version for the project, written in smclient/__init__.py (the build reads it there too).
from smclient import __version__

__all__ = ["__version__"]
