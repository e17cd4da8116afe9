"""Make tests/data/state-2.db: a state file in which every kind of change is an op.

It was run once, by the simulator of schema version 2 (December 2026), and the
file it wrote is kept as it was: test_state_file.py loads it with today's
simulator and checks that every listing shows what that simulator showed
(state-2.listings.txt, written here too).  Run it again only to make the
file of a new schema version (under a new name; keep the old one):

    .venv/bin/python tests/data/make_state_file.py

The file holds the snapshot taken when it was opened (the default catalogue on
a 4 x 8 cluster), then one op per change below, each at its own instant, with
devices that take time to prepare and clean, and some refused attempts.
"""

from __future__ import annotations

import shutil
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE.parent.parent), str(HERE.parent)]

from helpers import FakeClock, seeded_manager  # noqa: E402
from test_state_file import STATE_FILE, listings  # noqa: E402

from sdamanager_stub.audit import request_peer  # noqa: E402
from sdamanager_stub.entities import AccessLevel, BackendStatus, DeviceStatus  # noqa: E402
from sdamanager_stub.errors import DomainError  # noqa: E402
from sdamanager_stub.store import Store  # noqa: E402

START = 1_767_258_000.0  # 2026-01-01 09:00 UTC


def make(path: Path) -> None:
    clock = FakeClock(START)
    m = seeded_manager(clock, backends=4, devices=8, prepare=5.0, clean=7.0)
    store = Store(path)
    store.attach(m)

    def step(seconds: float = 1.0) -> None:
        clock.advance(seconds)

    def refused(call: Callable[[], object]) -> None:
        try:
            call()
        except DomainError:
            pass
        else:
            raise AssertionError("expected a refusal")

    request_peer.set("ipv4:10.0.0.7:50312")
    alice = m.create_token("alice", 5).value
    step()
    bob = m.create_token("bob").value
    step()
    carol = m.create_token("carol", 1).value
    step()
    m.update_token_priority(bob, 3)
    m.update_token_description(bob, "bob's team")
    m.update_token_access_level(carol, AccessLevel.ADMIN)
    m.update_token_max_sda(alice, 3)
    m.update_token_duplicable(bob, 0)
    m.add_token_env(alice, "MOREH_LOG", "debug")
    m.add_token_env(alice, "GONE", "x")
    m.remove_token_env(alice, "GONE")
    step()
    model = m.create_sdamodel("Tiny-4", 4, "four devices")
    spare = m.create_sdamodel("Spare-2", 2)
    m.delete_sdamodel(spare.id)
    step()
    backend = m.create_backend("extra-1", "10.1.0.1", 8)
    doomed = m.create_backend("extra-2", "10.1.0.2", 4)
    m.delete_backend(doomed.id)
    m.update_backend_host(backend.id, "extra-one")
    m.update_backend_ip(backend.id, "10.1.0.11")
    group = m.create_backendgroup("team-a", [backend.id])
    other = m.create_backendgroup("team-b")
    m.rename_backendgroup(other.id, "team-b2")
    m.set_backendgroup_backends(other.id, [2])
    m.add_backendgroup_backend(other.id, 3)
    m.remove_backendgroup_backend(other.id, 3)
    m.update_backend_group(3, group.id)
    m.delete_backendgroup(other.id, True)
    m.update_backend_status(4, BackendStatus.SHUTDOWN)
    m.update_device_status(1, 7, DeviceStatus.SHUTDOWN)
    m.update_all_device_status(4, DeviceStatus.SHUTDOWN)
    step()
    mg = m.create_sdamodelgroup("tiny-team", group.id, [model.id])
    mg2 = m.create_sdamodelgroup("scratch", 1, [1])
    m.rename_sdamodelgroup(mg2.id, "scratch2")
    m.set_sdamodelgroup_backendgroup(mg2.id, group.id)
    m.set_sdamodelgroup_models(mg2.id, [1, 2])
    m.add_sdamodelgroup_model(mg.id, 1)
    m.remove_sdamodelgroup_model(mg2.id, 2)
    step()
    users = m.create_usergroup("team-a-users", "the A team", [alice])
    scratch = m.create_usergroup("scratch-users")
    m.rename_usergroup(scratch.id, "scratch-users2")
    m.set_usergroup_tokens(scratch.id, [bob])
    m.add_usergroup_token(scratch.id, carol)
    m.remove_usergroup_token(scratch.id, carol)
    m.add_membership(users.id, mg.id)
    m.add_membership(scratch.id, mg2.id)
    m.remove_membership(scratch.id, mg2.id)
    m.delete_usergroup(scratch.id, True)
    m.delete_sdamodelgroup(mg2.id, True)
    step()
    m.create_version("1.2.0", "/opt/moreh/1.2.0")
    m.create_version("1.3.0", "/opt/moreh/1.3.0")
    m.update_version_health_check("1.3.0", "/health")
    m.update_version_path("1.3.0", "/opt/moreh/1.3.0-b")
    m.update_version_query("1.3.0", "q=1")
    m.update_version_worker("1.3.0", "worker-2")
    m.update_version_support("1.2.0", False)
    m.set_latest_version("1.3.0")
    m.add_worker_env("1.3.0", "OMP_NUM_THREADS", "8")
    m.add_worker_env("1.3.0", "GONE", "1")
    m.remove_worker_env("1.3.0", "GONE")
    m.create_version("0.9.0", "/opt/moreh/0.9.0")
    m.delete_version("0.9.0")
    step()
    sda_a = m.create_sda(alice, "alice's", 1)
    sda_a2 = m.create_sda(alice, "alice's tiny", model.id, mg.id)
    m.update_token_current_sda(alice, sda_a.id)
    m.update_sda(alice, model.id, mg.id, sda_a.id)
    sda_b = m.create_sda(bob, "bob's", 4)
    sda_c = m.create_sda(carol, "carol's", 1)
    m.delete_sda(carol, sda_c.id)
    m.update_token_max_sda(carol, 3)
    sda_c2 = m.create_sda(carol, "carol's second", 1)
    step()
    request_peer.set("ipv4:10.0.0.8:40100")
    job1 = m.request_devices(alice, 1001, "train.py", "vm-a", "1.3.0", sda_a.id)
    job2 = m.request_devices(bob, 2002, "serve.py", "vm-b", "1.3.0", sda_b.id)
    m.request_devices(alice, 1003, "eval.py", "vm-a", "1.3.0", sda_a2.id)
    step(6)
    m.report_running(job1.feid, alice)
    m.report_running(job2.feid)
    step(30)
    m.finish_job(job1.feid, False, "", alice)
    sweep = [m.request_devices(bob, 1100 + n, "sweep.py", "vm-b", "1.3.0", sda_b.id) for n in range(3)]
    m.update_job_priority(next(j for j in sweep if j.status.value == "QUEUED").feid, 9)
    job4 = m.request_devices(bob, 2004, "bench.py", "vm-b", "1.3.0", sda_b.id)
    job5 = m.request_devices(carol, 3005, "probe.py", "vm-c", "1.2.0")
    step(2)
    m.finish_job(job4.feid, True, "out of memory")
    m.release(job2.feid)
    step(10)
    m.request_devices(bob, 2006, "again.py", "vm-b", "1.3.0", sda_b.id)
    m.release(0, carol)
    step(3)
    request_peer.set("ipv4:10.0.0.9:40200")
    m.switch_model(carol, 2, 0, sda_c2.id)
    dev = m.add_device(carol, 1)
    m.switch_device(carol, dev.id)
    m.request_devices(carol, 3010, "try.py", "vm-c", "1.3.0", dev.id)
    m.reset_device(carol, dev.id)
    m.remove_device(carol, dev.id)
    step(20)
    refused(lambda: m.create_sda("no-such-token", "x", 1))
    refused(lambda: m.update_token_max_sda(alice, -1))
    refused(lambda: m.delete_backend(999))
    step(5)
    m.delete_sda(carol)
    m.delete_token(carol)
    step(5)
    m.request_devices(alice, 1007, "last.py", "vm-a", "1.3.0", sda_a.id)
    step(1)
    m.release_all()
    step(3)
    del job5
    store.close()


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        made = Path(tmp) / "state.db"
        make(made)
        shutil.copyfile(made, STATE_FILE)
        # Listed from a copy: opening a file takes a snapshot into it.
        copy = Path(tmp) / "copy.db"
        shutil.copyfile(made, copy)
        STATE_FILE.with_suffix(".listings.txt").write_text(listings(copy))
    print(f"wrote {STATE_FILE} and its listings")


if __name__ == "__main__":
    main()
