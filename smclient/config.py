"""The config file: named clusters ("contexts") an operator picks with `--context NAME`.

    default-context = "prod"

    [context.prod]
    address = "10.0.0.5:30105"
    tls-ca = "~/certs/prod-ca.pem"
    admin-secret-file = "~/.secrets/prod"

Where it is: `$SMCLIENT_CONFIG`, else `$XDG_CONFIG_HOME/moreh_smclient/config.toml`,
else `~/.config/moreh_smclient/config.toml` (cli.config_path: a one-shot command with
no config file never imports this module).  Reading it is pure: `load(path)`
gives a Config or raises ConfigError, whose text is the one line to print (the file,
and the line or the key at fault).  The file holds paths, never a secret's value, and
a file that someone else could write is refused (as ssh refuses its config): it says
where the admin secret is read from and where the shell connects.

Deciding what wins (flag > environment > context > default) is the caller's (cli.py);
this module only says what a context holds.  TOML (smclient/toml.py) is imported only to read a file.
"""

from __future__ import annotations

import os
import re
import stat
from typing import Any, NamedTuple

from .errors import UsageError

# A context's keys (the file's spelling) -> Context's fields.
KEYS = {
    "address": "address",
    "tls-ca": "tls_ca",
    "admin-secret-file": "admin_secret_file",
    "output": "output",
    "pager": "pager",
    "history-file": "history_file",
}
PATH_KEYS = ("tls-ca", "admin-secret-file", "history-file")
PAGER_MODES = ("on", "off", "auto")
# Keys that would hold a secret's value: refused, with what to write instead.
SECRET_KEYS = frozenset({"admin-secret", "admin_secret", "adminsecret", "secret", "password", "token"})
TOP_KEYS = ("default-context", "context")


class ConfigError(UsageError):
    """The config file cannot be used: the message is one line naming the file (exit 2)."""


class Context(NamedTuple):
    """One cluster.  None: the file does not set it.  Paths are absolute (`~` expanded,
    a relative path taken from the config file's folder), except history-file "",
    which keeps history in memory only (as an empty $SMCLIENT_HISTFILE does)."""

    name: str
    address: str | None = None
    tls_ca: str | None = None
    admin_secret_file: str | None = None
    output: str | None = None
    pager: str | None = None
    history_file: str | None = None


class Config(NamedTuple):
    path: str
    contexts: dict[str, Context]  # in the file's order
    default: str | None = None

    def select(self, name: str | None, source: str = "--context") -> Context | None:
        """The context `name` (else the default one, else None); ConfigError for a name
        the file does not define (`source` says where the name came from)."""
        if name is None:
            name, source = self.default, "default-context"
        if name is None:
            return None
        if name not in self.contexts:
            known = ", ".join(self.contexts) or "none"
            raise ConfigError(f"{self.path}: no context {_shown(name)} ({source}; contexts: {known})")
        return self.contexts[name]


def load(path: str) -> Config:
    """Read and check the config file at `path`."""
    from .api.secret import read_small_file

    try:
        info = os.stat(path)
        mode = info.st_mode
        if stat.S_ISREG(mode) and mode & 0o022:
            who = "group and others" if mode & 0o022 == 0o022 else "others" if mode & 0o002 else "group"
            raise ConfigError(f"{path} is writable by {who}, refused (it says where to connect and which "
                              f"secret to send): run chmod go-w {path}")
        if stat.S_ISREG(mode) and info.st_uid not in (os.getuid(), 0):
            raise ConfigError(f"{path} belongs to another user (uid {info.st_uid}), refused: use a file of "
                              f"your own")
        data = read_small_file(path, "the config file")
    except OSError as err:
        raise ConfigError(f"cannot read the config file {path}: {err.strerror or err}") from None
    except ValueError as err:
        raise ConfigError(str(err)) from None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as err:
        line = data[: err.start].count(b"\n") + 1
        raise ConfigError(f"{path}:{line}: not UTF-8 text") from None
    from . import toml

    try:
        document = toml.loads(text)
    except toml.TOMLDecodeError as err:
        message = str(err)
        found = re.search(r"\s*\(at line (\d+), column (\d+)\)$", message)
        if found:
            message = f"{found.group(1)}: {message[: found.start()]} (column {found.group(2)})"
        else:
            message = f" {message}"
        raise ConfigError(f"{path}:{message}") from None
    return _check(path, text, document)


def _check(path: str, text: str, document: dict[str, Any]) -> Config:
    def fail(keys: tuple[str, ...], message: str) -> ConfigError:
        line = _line_of(text, keys)
        return ConfigError(f"{path}:{line}: {message}" if line else f"{path}: {message}")

    for key in document:
        if key.lower() in SECRET_KEYS:
            raise fail((key,), _secret_message(key))
        if key not in TOP_KEYS:
            raise fail((key,), f"unknown key {_dotted((key,))} (the file has default-context and "
                               f"[context.NAME] tables)")
    tables = document.get("context", {})
    if not isinstance(tables, dict):
        raise fail(("context",), f"'context' must be tables [context.NAME], not {_kind(tables)}")
    contexts: dict[str, Context] = {}
    folder = os.path.dirname(os.path.abspath(path))
    for name, table in tables.items():
        where = ("context", name)
        if not name or not name.isprintable() or any(c.isspace() for c in name) or name.startswith("-"):
            raise fail(where, f"context name {_shown(name)}: a name has no spaces or control characters "
                              f"and does not start with '-'")
        if not isinstance(table, dict):
            raise fail(where, f"{_dotted(where)} must be a table [{_dotted(where)}], not {_kind(table)}")
        values: dict[str, str] = {}
        for key, value in table.items():
            keys = (*where, key)
            if key.lower() in SECRET_KEYS:
                raise fail(keys, _secret_message(_dotted(keys)))
            if key not in KEYS:
                raise fail(keys, f"unknown key {_dotted(keys)} (known: {', '.join(KEYS)})")
            if not isinstance(value, str):
                raise fail(keys, f"{_dotted(keys)} must be a string, not {_kind(value)}")
            try:
                values[KEYS[key]] = _value(key, value, folder)
            except ValueError as err:
                raise fail(keys, f"{_dotted(keys)} {_shown(value)}: {err}") from None
        contexts[name] = Context(name, **values)
    default = document.get("default-context")
    if default is not None:
        if not isinstance(default, str):
            raise fail(("default-context",), f"default-context must be a string, not {_kind(default)}")
        if default not in contexts:
            known = ", ".join(contexts) or "none"
            raise fail(("default-context",), f"default-context {_shown(default)} names no [context.NAME] table "
                                             f"(contexts: {known})")
    return Config(path, contexts, default)


def _value(key: str, value: str, folder: str) -> str:
    """A value checked and made usable (paths absolute, the pager mode lower case);
    ValueError saying what is wrong with it."""
    if key == "address":
        from .api.address import DEFAULT_PORT, split_host_port

        host, _ = split_host_port(value, DEFAULT_PORT)
        if not host:
            raise ValueError("expected host[:port]")
        return value.strip()
    if key == "pager":
        mode = value.strip().lower()
        if mode not in PAGER_MODES:
            raise ValueError("expected on, off or auto")
        return mode
    if key == "output":
        if not value.strip():
            raise ValueError("expected a format's name (table, json, csv, ...)")
        return value  # the name is checked when the context is used (formats.check)
    if key in PATH_KEYS:
        if not value.strip():
            if key == "history-file":
                return ""  # history in memory only
            raise ValueError("expected a file's path")
        return os.path.join(folder, os.path.expanduser(value))
    return value


def _secret_message(key: str) -> str:
    return (f"{key}: the config file never holds a secret's value; put the secret in a file of its own "
            f"(chmod 600) and give its path as admin-secret-file")


def _line_of(text: str, keys: tuple[str, ...]) -> int | None:
    """The line that sets `keys` (`("context", "a", "address")`): best effort, for the
    message only; None when not found (an inline table, an unusual spelling)."""
    table: tuple[str, ...] = ()
    header = re.compile(r"\s*\[\[?\s*(.+?)\s*\]\]?\s*(#.*)?$")
    for number, line in enumerate(text.splitlines(), 1):
        found = header.match(line)
        if found:
            table = _split_dotted(found.group(1))
            if table == keys:
                return number
            continue
        key, sep, _ = line.partition("=")
        if sep and key.strip():
            if (*table, *_split_dotted(key.strip())) == keys:
                return number
    return None


def _split_dotted(text: str) -> tuple[str, ...]:
    return tuple(part.strip().strip("\"'") for part in re.findall(r'"[^"]*"|\'[^\']*\'|[^.]+', text))


def _dotted(keys: tuple[str, ...]) -> str:
    return ".".join(k if re.fullmatch(r"[A-Za-z0-9_-]+", k) else f'"{k}"' for k in keys)


def _kind(value: Any) -> str:
    names = {bool: "a boolean", int: "an integer", float: "a float", list: "an array", dict: "a table",
             str: "a string"}
    return names.get(type(value), "a date or time")


def _shown(text: str) -> str:
    """A name from the file or the environment, safe in one line."""
    return repr(text[:60] + ("..." if len(text) > 60 else ""))
