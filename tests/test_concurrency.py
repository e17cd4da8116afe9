"""Sixteen clients at once, admin commands and VMs mixed, against a simulator
with a state file: afterwards the state is consistent, and the file holds
exactly the state the server ended with."""

from __future__ import annotations

import os
import random
import threading
import time

import grpc
from invariants import assert_consistent

from sdamanager_stub import snapshot
from sdamanager_stub.manager import new_manager
from sdamanager_stub.server import create_server
from sdamanager_stub.store import Store
from smclient.api import sdamanager_pb2 as pb
from smclient.api import sdamanager_pb2_grpc as pb_grpc

CLIENTS = 16
SECONDS = float(os.environ.get("CONCURRENCY_SECONDS", "4"))
# PERMISSION_DENIED: finishing a job another client released (no longer a live job of the token).
REFUSALS = {grpc.StatusCode.INVALID_ARGUMENT, grpc.StatusCode.NOT_FOUND, grpc.StatusCode.ALREADY_EXISTS,
            grpc.StatusCode.FAILED_PRECONDITION, grpc.StatusCode.PERMISSION_DENIED}


def client(port: int, seed: int, stop: threading.Event, counts: dict[str, int], errors: list[str]) -> None:
    rng = random.Random(seed)
    mine: list[str] = []
    jobs: list[tuple[int, str]] = []  # (feid, its token)
    with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
        stub = pb_grpc.SDAManagerStub(channel)
        while not stop.is_set():
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


def test_sixteen_clients_leave_a_consistent_state(tmp_path):
    path = tmp_path / "state.db"
    manager = new_manager(backends=8, devices=8)
    Store(path).attach(manager)
    manager.create_backendgroup("bg1", [7, 8])
    manager.create_sdamodelgroup("mg1", 1, [1, 2])
    server, port = create_server("127.0.0.1:0", manager)
    server.start()
    stop = threading.Event()
    counts = {"ok": 0, "refused": 0}
    errors: list[str] = []
    threads = [threading.Thread(target=client, args=(port, seed, stop, counts, errors)) for seed in range(CLIENTS)]
    for t in threads:
        t.start()
    time.sleep(SECONDS)
    stop.set()
    for t in threads:
        t.join(timeout=30)
    server.stop(0)
    assert not errors, errors[:5]
    assert counts["ok"] > 200, counts
    assert_consistent(manager)
    assert manager.history and manager.jobs  # the mix did run and finish jobs
    final = snapshot.capture(manager)
    manager.journal.close()
    again = new_manager(backends=8, devices=8)
    Store(path).attach(again)
    assert snapshot.capture(again) == final
    print(f"\nconcurrency: {CLIENTS} clients, {SECONDS:g} s, {counts['ok']} calls answered OK, "
          f"{counts['refused']} refused by the rules, {len(manager.jobs) + len(manager.history)} jobs")
