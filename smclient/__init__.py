"""moreh_smclient: the SDAManager admin shell (an open re-implementation)."""

__version__ = "0.1.0"
