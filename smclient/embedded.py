"""`moreh_smclient --simulator`: an SDAManager simulator in this process, with a demo cluster."""

from __future__ import annotations

from .api.address import Address


class EmbeddedSimulator:
    def __init__(self) -> None:
        from sdamanager_stub.demo import Workload, seed_demo
        from sdamanager_stub.manager import new_manager
        from sdamanager_stub.server import build_simulator

        manager = new_manager(prepare_seconds=2.0, clean_seconds=2.0)
        self._workload = Workload(manager, seed_demo(manager))
        self._simulator = build_simulator("127.0.0.1:0", manager)
        self._simulator.start()
        self._simulator.spawn(self._workload.run)
        self.address = Address("127.0.0.1", self._simulator.port)

    def stop(self) -> None:
        self._simulator.stop(grace=0)  # the workload with it

