"""A demo cluster for trying the shell: tokens, SDAs, groups and memberships
shaped like the operator's guide, and a steady synthetic workload of VMs
asking for devices and finishing, so `show job` and `show backend` move."""

from __future__ import annotations

import asyncio
import random

from .entities import JobStatus
from .errors import DomainError, Internal
from .manager import SDAManager
from .owner import durably

PROCESSES = (
    "python train.py --dataset inat --load-checkpoint ./checkpoint/162 --save-model model.pt",
    "python main_train_pmlffnet_v1_sat_ms_comp_pan_comp.py",
    "python train.py --model-cfg ./models/yolov5x6.yaml --save-model model.pt -b 128 -e 300 --img 1280",
    "python train_imagenet.py",
    "python train_tudl_non_ddp.py --cls=dragon",
    "python train.py --save-model model.pt -b 64 -e 100",
    "python train.py -b 128 --num-workers 4",
    "python train.py --save-model bart.pt -b 32 -e 1",
    "python train_moreh.py --cfg moreh.reduce_en",
)
CLIENT = "pytorch-1.13.1+cu116.moreh23.9.2"
VERSION = "23.9.2"


def seed_demo(manager: SDAManager, customers: int = 24, seed: int = 7) -> list[str]:
    """Fill a fresh manager (default models and cluster) with demo data; returns the customers' tokens."""
    m = manager
    rng = random.Random(seed)
    named = [m.create_token(desc, prio) for desc, prio in (
        ("user@gmail.com_promo-vm-16", 0),
        ("hac-worker01", 0),
        ("hac-worker02", 0),
        ("kt.datalake@gmail.com_vpn-hac05", 1),
        ("moreh-server-0", -1),
    )]
    more = [m.create_token(f"customer{i:02d}@example.com_vm-{i:02d}", 0) for i in range(customers - len(named))]
    tokens = named + more
    # Mostly small and medium SDAs, a few multi-node ones (the guide's big customer).
    for token in tokens:
        model = rng.choice((1, 1, 2, 2, 3, 3, 4, 4, 52, 5))
        m.create_sda(token.value, f"{token.description}-sda", model)
    m.add_token_env(named[0].value, "MOREH_WHOLE_SYSTEM_PROFILING_MODE", "1")

    backend_ids = sorted(m.backends)
    bg1 = m.create_backendgroup("bg1", backend_ids[-4:]) if len(backend_ids) >= 8 else None
    mg1 = m.create_sdamodelgroup("mg1", 0, [1, 2, 3])
    mg2 = m.create_sdamodelgroup("mg2", bg1.id if bg1 else 0, [3, 4, 52])
    ug1 = m.create_usergroup("ug1", "small customers", [named[1].value, named[2].value])
    ug2 = m.create_usergroup("ug2", "large customers", [named[3].value])
    m.add_membership(ug1.id, mg1.id)
    m.add_membership(ug2.id, mg1.id)
    m.add_membership(ug2.id, mg2.id)
    m.create_version(VERSION, f"/opt/moreh/{VERSION}")
    m.set_latest_version(VERSION)
    return [t.value for t in tokens]


class Workload:
    """Synthetic VMs: each customer runs one job at a time, for a random while."""

    def __init__(self, manager: SDAManager, tokens: list[str], *, seed: int = 11,
                 mean_seconds: float = 90.0, busy: float = 0.8) -> None:
        self.m = manager
        self.tokens = tokens
        self._mine = set(tokens)
        self.rng = random.Random(seed)
        self.mean = mean_seconds
        self.busy = busy  # chance an idle customer submits on a step
        self._ends: dict[int, float] = {}  # feid -> when its VM finishes it

    def step(self) -> None:
        """One round of the VMs, as one consistent view of now (their changes happen at its instant)."""
        self.m.read(self._step)

    def _step(self) -> None:
        m, rng = self.m, self.rng
        now = m.now
        live = {j.token for j in m.jobs.values()}
        for job in m.jobs.values():  # jobs from before a restart get a VM that ends them too
            if job.feid not in self._ends and job.token in self._mine:
                self._ends[job.feid] = now + rng.expovariate(1 / self.mean)
        for feid, end in list(self._ends.items()):
            held = m.jobs.get(feid)
            if held is None:
                del self._ends[feid]  # released by an operator
            elif held.status is JobStatus.RUNNING and now >= end:
                m.finish_job(feid, failed=rng.random() < 0.05, token=held.token)
                del self._ends[feid]
        for token in self.tokens:
            if token in live or token not in m.tokens or rng.random() > self.busy:
                continue
            try:
                job = m.request_devices(token, rng.randrange(1000, 40000), rng.choice(PROCESSES), CLIENT, VERSION)
            except DomainError:
                continue  # an operator changed the token or its SDA: skip it
            self._ends[job.feid] = now + rng.expovariate(1 / self.mean)

    async def run(self, interval: float = 1.0) -> None:
        """Step every `interval` seconds, on the server's loop (the state's owner), until
        cancelled (the server stopping); each step answered once its changes are on disk."""
        while True:
            try:
                await durably(self.m.ops, self.step)
            except Internal:  # the state file failed (logged by the rules): no change until a restart
                return
            await asyncio.sleep(interval)
