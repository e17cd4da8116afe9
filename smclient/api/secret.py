"""What the shell and the simulator read the same way to trust each other:
the shared admin secret, TLS certificates, and which hosts are loopback.

A secret is never taken from the command line, where `ps` would show it: it
comes from a file (`--admin-secret-file`, or $SDAMANAGER_ADMIN_SECRET_FILE)
or from $SDAMANAGER_ADMIN_SECRET.  Calls carry it as ADMIN_SECRET_METADATA.
"""

from __future__ import annotations

import os
import stat

SECRET_ENV = "SDAMANAGER_ADMIN_SECRET"
SECRET_FILE_ENV = "SDAMANAGER_ADMIN_SECRET_FILE"
# What these files hold is small: a secret, a few certificates, a key.  Anything
# bigger (or not a file: /dev/zero, a FIFO) is a mistake, refused before it is read.
MAX_FILE_BYTES = 64 * 1024
# gRPC refuses a call whose metadata passes its limits (8 KB by default, a hard limit
# above): a secret that long would be accepted at start and lock every client out.
MAX_SECRET_CHARS = 4096


def read_small_file(path: str, what: str) -> bytes:
    """The bytes of `path`, a regular file of at most MAX_FILE_BYTES (`what` names it in
    errors: "the TLS CA file"); OSError if it cannot be opened, ValueError if it is not
    such a file.  Opened without blocking, so a FIFO is refused rather than waited on."""
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise ValueError(f"{what} {path} is not a regular file")
        chunks, size = [], 0
        while size <= MAX_FILE_BYTES:
            chunk = os.read(fd, MAX_FILE_BYTES + 1 - size)
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
        if size > MAX_FILE_BYTES:
            raise ValueError(f"{what} {path} is bigger than {MAX_FILE_BYTES // 1024} KB")
        return b"".join(chunks)
    finally:
        os.close(fd)


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
            secret = read_small_file(path, where).decode("utf-8", errors="replace").strip()
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
    if len(secret) > MAX_SECRET_CHARS:
        raise ValueError(f"{where} is {len(secret):,} characters; gRPC metadata carries a secret of at most "
                         f"{MAX_SECRET_CHARS:,}")
    return secret


def read_certificates(path: str, what: str) -> bytes:
    """The PEM certificates in `path` (`what` names the file in errors: "the TLS CA file").

    gRPC takes any bytes and fails only at the handshake, as "cannot connect";
    checking here makes it a clear ValueError at start.
    """
    import ssl

    data = read_small_file(path, what)
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
