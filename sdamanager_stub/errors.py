"""Errors of the SDAManager rules.

The domain raises these with a reason a person can act on; the servicer maps
each class to one gRPC status code and sends the reason as the status detail.
"""

from __future__ import annotations


class DomainError(Exception):
    """A request the rules refuse.  ``str(err)`` is the human reason."""


class InvalidArgument(DomainError):
    """A value out of range or of the wrong shape."""


class NotFound(DomainError):
    """An id, token, name or version that does not exist."""


class PermissionDenied(DomainError):
    """The caller's credential does not cover what it names (a VM's token, another customer's job)."""


class AlreadyExists(DomainError):
    """A name or relation that must be unique already exists."""


class FailedPrecondition(DomainError):
    """The request is well-formed but the current state forbids it."""


class ResourceExhausted(DomainError):
    """Not enough devices, or a limit reached."""


class Internal(DomainError):
    """The simulator itself failed (its state file could not be written)."""
