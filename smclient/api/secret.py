"""What the shell and the simulator read the same way to trust each other:
the shared admin secret, TLS certificates, and which hosts are loopback.

A secret is never taken from the command line, where `ps` would show it: it
comes from a file (`--admin-secret-file`, or $SDAMANAGER_ADMIN_SECRET_FILE)
or from $SDAMANAGER_ADMIN_SECRET.  Calls carry it as ADMIN_SECRET_METADATA.
"""

from __future__ import annotations

import os

SECRET_ENV = "SDAMANAGER_ADMIN_SECRET"
SECRET_FILE_ENV = "SDAMANAGER_ADMIN_SECRET_FILE"


def read_secret(path: str | None = None) -> str | None:
    """The admin secret from a file (its one line) or the environment; None if none is set.

    A secret no call could carry is refused here, at start, with ValueError:
    accepted, it would lock every client out with no hint why.
    """
    path = path or os.environ.get(SECRET_FILE_ENV)
    if path:
        where = f"the admin secret file {path}"
        try:
            # errors="replace": bytes that are not UTF-8 become U+FFFD, refused below with the file named.
            with open(path, encoding="utf-8", errors="replace") as file:  # not pathlib: this runs at every start
                secret = file.read().strip()
        except OSError as err:
            raise ValueError(f"{where} cannot be read ({err.strerror or err})") from None
        if not secret:
            raise ValueError(f"{where} is empty")
    else:
        secret, where = os.environ.get(SECRET_ENV, ""), f"${SECRET_ENV}"
        if not secret:
            return None
    if "\n" in secret or "\r" in secret:
        raise ValueError(f"{where} has several lines; the admin secret is one line")
    if not all(" " <= c <= "~" for c in secret):
        raise ValueError(f"{where} holds characters gRPC metadata cannot carry (printable ASCII only)")
    return secret


def read_certificates(path: str, what: str) -> bytes:
    """The PEM certificates in `path` (`what` names the file in errors: "the TLS CA file").

    gRPC takes any bytes and fails only at the handshake, as "cannot connect";
    checking here makes it a clear ValueError at start.
    """
    import ssl

    with open(path, "rb") as file:
        data = file.read()
    try:
        ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT).load_verify_locations(cadata=data.decode("ascii"))
    except (UnicodeDecodeError, ssl.SSLError):
        raise ValueError(f"{what} {path} is not a PEM certificate") from None
    return data


def is_loopback(host: str) -> bool:
    """True for hosts only this machine reaches (127.0.0.0/8, ::1, localhost)."""
    if host.lower() == "localhost":
        return True
    import ipaddress  # here: every one-shot start reads this module, few ask this

    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:  # a name: it may resolve anywhere
        return False
