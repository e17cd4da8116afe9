"""SDAManager addresses: `host:port`, `[v6]:port`, and where a client finds one."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from typing import NamedTuple

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 30105


class Address(NamedTuple):
    host: str
    port: int

    def __str__(self) -> str:
        return f"[{self.host}]:{self.port}" if ":" in self.host else f"{self.host}:{self.port}"


def split_host_port(text: str, default_port: int) -> tuple[str, int]:
    """`host`, `host:port` or `[v6]:port`; a missing port is `default_port`."""
    text = text.strip()
    if text.startswith("["):  # [v6]:port
        host, _, rest = text[1:].partition("]")
        port = rest.lstrip(":")
    elif text.count(":") == 1:
        host, port = text.split(":")
    else:
        host, port = text, ""
    return host, parse_port(port) if port else default_port


def parse_port(text: str | int) -> int:
    try:
        value = int(text)
    except ValueError:
        raise ValueError(f"invalid port {text!r}: expected a number 1-65535") from None
    if not 0 < value < 65536:
        raise ValueError(f"invalid port {value}: expected 1-65535")
    return value


def resolve_address(ip: str | None, port: str | int | None, env: Mapping[str, str] | None = None) -> Address:
    """--ip/--port, else SDAMANAGER_IP/SDAMANAGER_PORT, else MOREH_SDA_MANAGER_ADDRESS, else 127.0.0.1:30105."""
    env = os.environ if env is None else env
    host, default_port = DEFAULT_HOST, DEFAULT_PORT
    combined = env.get("MOREH_SDA_MANAGER_ADDRESS", "").strip()
    if combined:
        host, default_port = split_host_port(combined, DEFAULT_PORT)
        check_host(host, "MOREH_SDA_MANAGER_ADDRESS")
    if ip:
        host = check_host(ip, "--ip")
    elif env.get("SDAMANAGER_IP"):
        host = check_host(env["SDAMANAGER_IP"], "SDAMANAGER_IP")
    chosen = port if port not in (None, "") else env.get("SDAMANAGER_PORT") or default_port
    return Address(host, parse_port(chosen))


_HOST = re.compile(r"[A-Za-z0-9._-]+|\[?[0-9A-Fa-f:.]*:[0-9A-Fa-f:.%A-Za-z]*\]?")


def check_host(host: str, where: str) -> str:
    """A host name, an IPv4 address or an IPv6 one (bare or in brackets); ValueError says what
    is wrong, the text shown by repr, which escapes what is not printable (a U+202E in it
    cannot reorder the message)."""
    if host.count(":") == 1:  # host:port where a host goes
        name, _, port = host.partition(":")
        raise ValueError(f"invalid {where} {host!r}: give the host alone "
                         f"({name!r}) and the port with --port ({port!r})"
                         if where == "--ip" else f"invalid {where} {host!r}: expected a host")
    if not _HOST.fullmatch(host):
        raise ValueError(f"invalid {where} {host!r}: expected a host name or an IP address")
    return host.strip("[]")
