"""Sixteen clients at once, admin commands and VMs mixed, against a simulator
with a state file: every call is answered (done or refused by the rules),
afterwards the state is consistent, and the file holds exactly the state the
server ended with.  Each client makes a fixed number of calls, so what is
checked does not depend on the machine's speed; how many calls a second the
same mix gets is bench/bench_concurrency.py's figure."""

from __future__ import annotations

import os
import random
import threading
from pathlib import Path

import grpc
from invariants import assert_consistent

from sdamanager_stub import snapshot
from sdamanager_stub.manager import SDAManager, new_manager
from sdamanager_stub.server import create_server
from sdamanager_stub.store import Store
from smclient.api import sdamanager_pb2 as pb
from smclient.api import sdamanager_pb2_grpc as pb_grpc

CLIENTS = 16
CALLS = int(os.environ.get("CONCURRENCY_CALLS", "120"))  # each client's
# PERMISSION_DENIED: finishing a job another client released (no longer a live job of the token).
REFUSALS = {grpc.StatusCode.INVALID_ARGUMENT, grpc.StatusCode.NOT_FOUND, grpc.StatusCode.ALREADY_EXISTS,
            grpc.StatusCode.FAILED_PRECONDITION, grpc.StatusCode.PERMISSION_DENIED}


def client(port: int, seed: int, calls: int | None, stop: threading.Event, counts: dict[str, int],
           errors: list[str]) -> None:
    """`calls` calls of the mix (None: until `stop` is set), each counted as "ok" or "refused"
    (by the rules); anything else ends the client with a line in `errors`."""
    rng = random.Random(seed)
    mine: list[str] = []
    jobs: list[tuple[int, str]] = []  # (feid, its token)
    made = 0
    with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
        stub = pb_grpc.SDAManagerStub(channel)
        while not stop.is_set() and (calls is None or made < calls):
            made += 1
            op = rng.choice(["token", "sda", "request", "request", "finish", "release", "priority", "group",
                             "member", "backend", "device", "delete_sda", "list", "env", "model_group"])
            try:
                if op == "token" or not mine:
                    mine.append(stub.CreateToken(pb.CreateTokenRequest(description=f"c{seed}", priority=
                                                                       rng.randint(-5, 5)), timeout=10).value)
                elif op == "sda":
                    stub.CreateSda(pb.CreateSdaRequest(token=rng.choice(mine), model_id=rng.choice([1, 2, 3, 4, 52]),
                                                       reserved=rng.random() < 0.1), timeout=10)
                elif op == "request":
                    token = rng.choice(mine)
                    jobs.append((stub.RequestDevices(pb.RequestDevicesRequest(token=token, client_pid=seed,
                                                                              process_name="p"), timeout=10).feid,
                                 token))
                elif op == "finish" and jobs:
                    feid, token = jobs.pop(rng.randrange(len(jobs)))
                    stub.FinishJob(pb.FinishJobRequest(feid=feid, token=token), timeout=10)
                elif op == "release":
                    stub.Release(pb.ReleaseRequest(feid=rng.randint(1, 400)), timeout=10)
                elif op == "priority":
                    stub.UpdateJobPriority(pb.UpdateJobPriorityRequest(feid=rng.randint(1, 400),
                                                                       priority=rng.randint(-9, 9)), timeout=10)
                elif op == "group":
                    stub.CreateUserGroup(pb.CreateUserGroupRequest(name=f"g{seed}_{rng.randrange(50)}",
                                                                   tokens=rng.sample(mine, min(2, len(mine)))),
                                         timeout=10)
                elif op == "member":
                    stub.AddTokenToUserGroup(pb.UserGroupMemberRequest(id=rng.randint(1, 40),
                                                                       token=rng.choice(mine)), timeout=10)
                elif op == "backend":
                    status = rng.choice([pb.BACKEND_STATUS_ACTIVE] * 2 + [pb.BACKEND_STATUS_SHUTDOWN])
                    stub.UpdateBackendStatus(pb.UpdateBackendStatusRequest(id=rng.randint(1, 8), status=status),
                                             timeout=10)
                elif op == "device":
                    stub.UpdateDeviceStatus(pb.UpdateDeviceStatusRequest(
                        backend_id=rng.randint(1, 8), index=rng.randrange(8),
                        status=rng.choice([pb.DEVICE_STATUS_IDLE, pb.DEVICE_STATUS_SHUTDOWN])), timeout=10)
                elif op == "delete_sda":
                    stub.DeleteSda(pb.DeleteSdaRequest(token=rng.choice(mine)), timeout=10)
                elif op == "env":
                    stub.AddTokenEnv(pb.AddTokenEnvRequest(token=rng.choice(mine), name="MOREH_X", value="1"),
                                     timeout=10)
                elif op == "model_group":
                    stub.SetSdaModelGroupModels(pb.SetSdaModelGroupModelsRequest(
                        id=1, model_ids=rng.sample([1, 2, 3, 4, 52], 2)), timeout=10)
                else:
                    for _ in stub.ListJobs(pb.ListJobsRequest(), timeout=10):
                        pass
                counts["ok"] += 1
            except grpc.RpcError as err:
                if err.code() in REFUSALS:
                    counts["refused"] += 1
                else:
                    errors.append(f"{op}: {err.code()} {err.details()}")
                    return


def cluster(path: Path | None) -> SDAManager:
    """8 backends x 8 devices, a backend group and a model group; journalled to `path` if given."""
    manager = new_manager(backends=8, devices=8)
    if path is not None:
        Store(path).attach(manager)
    manager.create_backendgroup("bg1", [7, 8])
    manager.create_sdamodelgroup("mg1", 1, [1, 2])
    return manager


def run_clients(port: int, calls: int | None, stop: threading.Event) -> tuple[dict[str, int], list[str]]:
    """CLIENTS clients of the mix at once, until each has made `calls` calls or `stop` is set."""
    each = [{"ok": 0, "refused": 0} for _ in range(CLIENTS)]  # a client's own: no count shared by threads
    errors: list[str] = []
    threads = [threading.Thread(target=client, args=(port, seed, calls, stop, each[seed], errors))
               for seed in range(CLIENTS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not any(t.is_alive() for t in threads), "a client did not finish within 120 s"
    return {kind: sum(counts[kind] for counts in each) for kind in ("ok", "refused")}, errors


def test_sixteen_clients_leave_a_consistent_state(tmp_path):
    path = tmp_path / "state.db"
    manager = cluster(path)
    server, port = create_server("127.0.0.1:0", manager)
    server.start()
    try:
        counts, errors = run_clients(port, CALLS, threading.Event())
    finally:
        server.stop(0)
    assert not errors, errors[:5]
    assert counts["ok"] + counts["refused"] == CLIENTS * CALLS, counts  # every call answered, none lost
    assert counts["ok"] > counts["refused"], counts  # the mix mostly succeeds (it did 2:1 when measured)
    assert_consistent(manager)
    assert manager.history and manager.jobs  # the mix did run and finish jobs
    final = snapshot.capture(manager)
    manager.journal.close()
    again = new_manager(backends=8, devices=8)
    Store(path).attach(again)
    assert snapshot.capture(again) == final
    print(f"\nconcurrency: {CLIENTS} clients x {CALLS} calls, {counts['ok']} answered OK, "
          f"{counts['refused']} refused by the rules, {len(manager.jobs) + len(manager.history)} jobs")
