"""Backends (nodes), their devices, and backend groups.

A backend holds devices; jobs and reserved SDAs hold devices (rules/jobs.py,
rules/sdas.py), and what they hold cannot be forced into another state or
deleted.  A backend is in one backend group, the default one (0) unless put in
another; SDA model groups name the backend group their jobs run on, so
deleting a backend group sends those back to the default one.
"""

from __future__ import annotations

import ipaddress

from .. import validate
from ..audit import change, query
from ..entities import DEFAULT_BACKEND_GROUP_ID, Backend, BackendGroup, BackendStatus, Device, DeviceStatus
from ..errors import AlreadyExists, FailedPrecondition, InvalidArgument, NotFound
from ..state import State
from .base import Operations, Service
from .groups import BackendGroups


class BackendRules(Service):
    """Backends, devices and backend groups."""

    def __init__(self, ops: Operations, state: State) -> None:
        super().__init__(ops, state)
        self.groups = BackendGroups(state)

    def backend_group(self, group_id: int) -> BackendGroup:
        return self.groups.find(group_id)

    # ------------------------------------------------------------------ backends and devices

    def add_default_cluster(self, backends: int, devices: int, first_ip: str = "192.168.110.0") -> None:
        """The guide's cluster: back01..backNN with consecutive ips (part of every new manager,
        so not a change of its own)."""
        base = int(ipaddress.ip_address(first_ip))
        width = max(2, len(str(backends)))
        with self.ops.lock:
            for i in range(backends):
                backend = Backend(self.state.new_id("backend"), f"back{i + 1:0{width}d}",
                                  str(ipaddress.ip_address(base + i)),
                                  devices=[Device(k) for k in range(devices)])
                self.state.backends[backend.id] = backend

    @change
    def create_backend(self, name: str, ip: str, device_count: int) -> Backend:
        validate.name("Host name", name)
        ip = validate.ip(ip)
        validate.int_range("Device count", device_count, 1, validate.DEVICES_PER_BACKEND_LIMIT)
        validate.unique_name("A backend", name, self.state.backends.values())
        self._unique_ip(ip)
        backend = Backend(self.state.new_id("backend"), name, ip, devices=[Device(k) for k in range(device_count)])
        self.state.backends[backend.id] = backend
        return backend

    def _unique_ip(self, ip: str, skip: Backend | None = None) -> None:
        for b in self.state.backends.values():
            if b is not skip and b.ip == ip:
                raise AlreadyExists(f"Backend {b.id} ({b.name}) already has ip {ip}.")

    def _holders(self, backend: Backend) -> list[str]:
        held = []
        for d in backend.devices:
            if d.job_id:
                held.append(f"device {d.index} by job {d.job_id}")
            elif d.sda_id:
                held.append(f"device {d.index} by reserved SDA {d.sda_id}")
        return held

    @change
    def delete_backend(self, backend_id: int) -> None:
        backend = self.state.backend(backend_id)
        held = self._holders(backend)
        if held:
            raise FailedPrecondition(
                f"Backend {backend_id} ({backend.name}) has devices in use ({'; '.join(held[:4])}"
                f"{'; ...' if len(held) > 4 else ''}): release them first."
            )
        del self.state.backends[backend_id]

    @change
    def update_backend_host(self, backend_id: int, name: str) -> Backend:
        backend = self.state.backend(backend_id)
        validate.name("Host name", name)
        validate.unique_name("A backend", name, self.state.backends.values(), skip=backend)
        backend.name = name
        return backend

    @change
    def update_backend_ip(self, backend_id: int, ip: str) -> Backend:
        backend = self.state.backend(backend_id)
        ip = validate.ip(ip)
        self._unique_ip(ip, skip=backend)
        backend.ip = ip
        return backend

    @change
    def update_backend_status(self, backend_id: int, status: BackendStatus) -> Backend:
        backend = self.state.backend(backend_id)
        if not isinstance(status, BackendStatus):
            raise InvalidArgument("Backend status must be SHUTDOWN or ACTIVE.")
        # Jobs already on the node keep their devices; a SHUTDOWN node only
        # stops receiving new work (the scheduler skips it).
        backend.status = status
        return backend

    @change
    def update_backend_group(self, backend_id: int, group_id: int) -> Backend:
        backend = self.state.backend(backend_id)
        self.backend_group(group_id)
        backend.group_id = group_id
        return backend

    def _set_device(self, backend: Backend, device: Device, status: DeviceStatus) -> None:
        if not isinstance(status, DeviceStatus):
            raise InvalidArgument("Device status must be SHUTDOWN, IDLE, PREPARING, PROCESSING or CLEANING.")
        # A job's devices are PREPARING or PROCESSING; nothing else may be forced on them.
        if device.job_id and status not in (DeviceStatus.PREPARING, DeviceStatus.PROCESSING):
            raise FailedPrecondition(
                f"Device {device.index} of backend {backend.id} is held by job {device.job_id}: "
                f"release the job first (release {device.job_id})."
            )
        device.status = status

    @change
    def update_device_status(self, backend_id: int, index: int, status: DeviceStatus) -> Backend:
        backend = self.state.backend(backend_id)
        if not 0 <= index < len(backend.devices):
            raise NotFound(
                f"Backend {backend_id} has no device {index} (devices 0..{len(backend.devices) - 1})."
            )
        self._set_device(backend, backend.devices[index], status)
        return backend

    @change
    def update_all_device_status(self, backend_id: int, status: DeviceStatus) -> Backend:
        backend = self.state.backend(backend_id)
        if status not in (DeviceStatus.PREPARING, DeviceStatus.PROCESSING):
            held = [d for d in backend.devices if d.job_id]
            if held:  # all or nothing: refuse before changing any device
                self._set_device(backend, held[0], status)
        for device in backend.devices:
            self._set_device(backend, device, status)
        return backend

    @query
    def list_backends(self, order: str = "id", backend_id: int | None = None,
                      group_id: int | None = None, name: str = "") -> list[Backend]:
        if backend_id is not None:
            return [self.state.backend(backend_id)]
        backends = list(self.state.backends.values())
        if group_id is not None:
            self.backend_group(group_id)
            backends = [b for b in backends if b.group_id == group_id]
        if name:
            backends = [b for b in backends if b.name == name]
            if not backends:
                raise NotFound(f"No backend is named {name!r}.")
        if order == "group":
            backends.sort(key=lambda b: (b.group_id, b.name))
        elif order == "name":
            backends.sort(key=lambda b: b.name)
        return backends

    # ------------------------------------------------------------------ backend groups

    @change
    def create_backendgroup(self, name: str, backend_ids: list[int] | None = None) -> BackendGroup:
        return self.groups.create(name, list(backend_ids or []),
                                               lambda group_id: BackendGroup(group_id, name))

    @change
    def delete_backendgroup(self, group_id: int, force: bool = False) -> None:
        group = self.groups.changeable(group_id)
        backends = self.state.backends_in_group(group_id)
        users = [g for g in self.state.model_groups.values() if g.backend_group_id == group_id]
        self.groups.delete(group, force, {"backend": len(backends), "SDAModel group": len(users)})
        for b in backends:
            b.group_id = DEFAULT_BACKEND_GROUP_ID
        for g in users:
            g.backend_group_id = DEFAULT_BACKEND_GROUP_ID

    @change
    def rename_backendgroup(self, group_id: int, name: str) -> BackendGroup:
        return self.groups.rename(group_id, name)

    @change
    def set_backendgroup_backends(self, group_id: int, backend_ids: list[int]) -> BackendGroup:
        return self.groups.set_members(group_id, list(backend_ids))

    @change
    def add_backendgroup_backend(self, group_id: int, backend_id: int) -> BackendGroup:
        return self.groups.add_member(group_id, backend_id)

    @change
    def remove_backendgroup_backend(self, group_id: int, backend_id: int) -> BackendGroup:
        return self.groups.remove_member(group_id, backend_id)

    @query
    def list_backend_groups(self, group_id: int | None = None) -> list[BackendGroup]:
        if group_id is not None:
            return [self.backend_group(group_id)]
        return sorted(self.state.backend_groups.values(), key=lambda g: g.id)
