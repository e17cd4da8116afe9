"""The big listings (jobs, history, events) take a consistent view under the
manager's lock and are converted outside it (servicer.py, issue 13): other
callers go on while a listing is converted, and what the listing shows is
still one state of the server."""

from __future__ import annotations

import threading

import grpc
import pytest

from sdamanager_stub.convert import Converter
from sdamanager_stub.entities import JobStatus
from smclient.api import sdamanager_pb2 as pb


def fill(manager, jobs: int = 300, history: int = 300) -> str:  # type: ignore[no-untyped-def]
    """A token with `history` ended jobs and `jobs` live ones (running or queued)."""
    token = manager.create_token("phase-0", 0).value
    manager.create_sda(token, "", 1)
    manager.update_token_duplicable(token, 0)
    for _ in range(history):
        manager.finish_job(manager.request_devices(token, 1, "old").feid, token=token)
    for _ in range(jobs):
        manager.request_devices(token, 1, "train")
    return token


def listed(stub, method: str, request) -> list:  # type: ignore[no-untyped-def]
    return [item for page in getattr(stub, method)(request, timeout=30)
            for item in (page.jobs if hasattr(page, "jobs") else page.events)]


@pytest.mark.cluster(backends=2, devices=8)
@pytest.mark.parametrize(("method", "request_"), [("ListJobs", pb.ListJobsRequest()),
                                                  ("ListHistory", pb.ListHistoryRequest(count=0))],
                         ids=["jobs", "history"])
def test_other_callers_go_on_while_a_listing_is_converted(simulator, stub, monkeypatch, method, request_):
    token = fill(simulator.manager)
    paused, resume = threading.Event(), threading.Event()
    convert = Converter.job

    def slow_job(self, job):  # type: ignore[no-untyped-def]
        if job.feid % 100 == 50 and not resume.is_set():
            paused.set()
            resume.wait(20)  # the listing stops here, mid-way through its conversion
        return convert(self, job)

    monkeypatch.setattr(Converter, "job", slow_job)
    result: list = []
    lister = threading.Thread(target=lambda: result.extend(listed(stub, method, request_)))
    lister.start()
    try:
        assert paused.wait(20)
        # Under the lock, these would wait for the listing: they are answered now.
        assert stub.GetToken(pb.GetTokenRequest(token=token), timeout=5).value == token
        stub.UpdateTokenDescription(pb.UpdateTokenDescriptionRequest(token=token, description="phase-1"), timeout=5)
    finally:
        resume.set()
        lister.join(30)
    assert len(result) == 300
    # The listing shows the state it was taken in: the description as it was then.
    assert {job.token_description for job in result} == {"phase-0"}


@pytest.mark.cluster(backends=2, devices=8)
@pytest.mark.parametrize(("method", "request_"), [("ListJobs", pb.ListJobsRequest()),
                                                  ("ListHistory", pb.ListHistoryRequest(count=0))],
                         ids=["jobs", "history"])
def test_a_listing_during_changes_is_one_state(simulator, stub, method, request_):
    """Changes rename the token every job names and re-prioritise a waiting job;
    a listing taken meanwhile shows every job with the same description."""
    m = simulator.manager
    token = fill(m, jobs=1500, history=1500)
    waiting = next(feid for feid, job in m.jobs.items() if job.status is JobStatus.QUEUED)
    stop = threading.Event()
    failures: list[Exception] = []

    def change() -> None:
        phase = 0
        try:
            while not stop.is_set():
                phase += 1
                m.update_token_description(token, f"phase-{phase}")
                m.update_job_priority(waiting, phase % 9)
        except Exception as err:  # noqa: BLE001 - reported by the test below
            failures.append(err)

    writer = threading.Thread(target=change)
    writer.start()
    try:
        for _ in range(5):
            jobs = listed(stub, method, request_)
            assert len(jobs) == 1500
            assert len({job.token_description for job in jobs}) == 1
    finally:
        stop.set()
        writer.join()
    assert not failures


def test_a_failure_while_converting_outside_the_lock_is_internal(simulator, stub, monkeypatch, caplog):
    fill(simulator.manager, jobs=5, history=0)

    def broken(self, job):  # type: ignore[no-untyped-def]
        raise RuntimeError("a bug")

    monkeypatch.setattr(Converter, "job", broken)
    with pytest.raises(grpc.RpcError) as failed:
        listed(stub, "ListJobs", pb.ListJobsRequest())
    assert failed.value.code() == grpc.StatusCode.INTERNAL
    assert failed.value.details() == "Internal error in ListJobs: see the simulator's log."
