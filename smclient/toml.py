"""TOML reading on every Python the project supports: the standard library's tomllib
from 3.11, the tomli package (the same parser, where tomllib came from) on 3.10.
Imported only when a TOML file is read (a context file, a faults file)."""

from __future__ import annotations

import sys

if sys.version_info >= (3, 11):
    from tomllib import TOMLDecodeError, loads
else:
    from tomli import TOMLDecodeError, loads

__all__ = ["TOMLDecodeError", "loads"]
