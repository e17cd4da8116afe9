"""SDAManager simulator: the gRPC server moreh_smclient talks to, with the real rules."""

__version__ = "0.1.0"
