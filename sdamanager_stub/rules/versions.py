"""Versions of the client software: where each is installed, its worker and checks, which is latest.

Jobs name the version they run with (rules/jobs.py reads its worker command);
nothing here depends on another entity.
"""

from __future__ import annotations

from .. import validate
from ..audit import change, query
from ..entities import Version
from ..errors import AlreadyExists, InvalidArgument, NotFound
from .base import Service


class VersionRules(Service):
    """Versions."""

    @change
    def create_version(self, version: str, path: str) -> Version:
        validate.version(version)
        validate.text("Installed path", path, allow_empty=False, limit=validate.COMMAND_MAX)
        if version in self.state.versions:
            raise AlreadyExists(f"Version {version} already exists.")
        record = Version(version, path)
        self.state.versions[version] = record
        return record

    @change
    def delete_version(self, version: str) -> None:
        self.state.version(version)
        del self.state.versions[version]

    def _set_version_text(self, version: str, field: str, value: str) -> Version:
        record = self.state.version(version)
        validate.text(field.replace("_", " ").capitalize(), value, limit=validate.COMMAND_MAX)
        setattr(record, field, value)
        return record

    @change
    def update_version_health_check(self, version: str, value: str) -> Version:
        return self._set_version_text(version, "health_check", value)

    @change
    def update_version_path(self, version: str, value: str) -> Version:
        if not value:
            raise InvalidArgument("Installed path must not be empty.")
        return self._set_version_text(version, "path", value)

    @change
    def update_version_query(self, version: str, value: str) -> Version:
        return self._set_version_text(version, "query", value)

    @change
    def update_version_worker(self, version: str, value: str) -> Version:
        return self._set_version_text(version, "worker", value)

    @change
    def update_version_support(self, version: str, supported: bool) -> Version:
        record = self.state.version(version)
        record.supported = bool(supported)
        return record

    @change
    def set_latest_version(self, version: str) -> Version:
        record = self.state.version(version)
        for other in self.state.versions.values():
            other.latest = False
        record.latest = True
        return record

    @change
    def add_worker_env(self, version: str, name: str, value: str) -> Version:
        record = self.state.version(version)
        record.env[validate.env_name(name)] = validate.env_value(value)
        return record

    @change
    def remove_worker_env(self, version: str, name: str) -> Version:
        record = self.state.version(version)
        if name not in record.env:
            raise NotFound(f"Version {version} has no worker environment variable {name!r}.")
        del record.env[name]
        return record

    @query
    def list_versions(self, version: str = "") -> list[Version]:
        if version:
            return [self.state.version(version)]
        return sorted(self.state.versions.values(), key=lambda v: v.version)

    @query
    def latest_version(self) -> str:
        """The latest version's name, or "" when none is marked latest (GetServerVersion)."""
        return next((v.version for v in self.state.versions.values() if v.latest), "")
