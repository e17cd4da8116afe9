"""The VM-side calls of moreh-smi and moreh-switch-model: one method per RPC, each
returning the API's message (or raising ServerError / Unreachable, from
smclient.transport).  Every request carries the customer's token; the
connection carries no admin secret."""

from __future__ import annotations

from typing import Any

from ..api import sdamanager_pb2 as pb
from ..transport import Connection


class VmClient:
    def __init__(self, connection: Connection, token: str) -> None:
        self.connection = connection
        self.token = token

    def devices(self) -> Any:
        """DeviceReport: the token's SDAs (devices 0, 1, ...), live jobs, versions."""
        return self.connection.call("GetDevices", pb.GetDevicesRequest(token=self.token))

    def choices(self) -> Any:
        """ModelChoices: the menu of models the token may use."""
        return self.connection.call("ListModelChoices", pb.ListModelChoicesRequest(token=self.token))

    def switch_model(self, choice: Any, sda_id: int | None = None) -> Any:
        """Switch the current SDA (or `sda_id`) to the model of menu entry `choice`; the menu after it."""
        request = pb.SwitchModelRequest(token=self.token, model_id=choice.model.id)
        if choice.model_group_id:
            request.model_group_id = choice.model_group_id
        if sda_id is not None:
            request.sda_id = sda_id
        return self.connection.call("SwitchModel", request)

    def add_device(self, choice: Any) -> Any:
        """A new SDA of menu entry `choice`'s model; the DeviceReport after it."""
        request = pb.AddDeviceRequest(token=self.token, model_id=choice.model.id)
        if choice.model_group_id:
            request.model_group_id = choice.model_group_id
        return self.connection.call("AddDevice", request)

    def remove_device(self, sda_id: int) -> Any:
        return self.connection.call("RemoveDevice", pb.RemoveDeviceRequest(token=self.token, sda_id=sda_id))

    def switch_device(self, sda_id: int) -> Any:
        return self.connection.call("SwitchDevice", pb.SwitchDeviceRequest(token=self.token, sda_id=sda_id))

    def reset_device(self, sda_id: int | None = None) -> Any:
        """End the live jobs of the current SDA (or `sda_id`); ReleaseResponse."""
        request = pb.ResetDeviceRequest(token=self.token)
        if sda_id is not None:
            request.sda_id = sda_id
        return self.connection.call("ResetDevice", request)
