"""The big listings (jobs, history, events) take a consistent view in one read
and are converted page by page as they go out (servicer.py, issues 13 and 21):
other callers are served between pages while a listing is converted, and what
the listing shows is still one state of the server."""

from __future__ import annotations

import asyncio
import threading
import time

import grpc
import pytest

from sdamanager_stub import archive
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


@pytest.mark.sdamanager(backends=2, devices=8)
@pytest.mark.parametrize(("method", "request_", "slowed"), [
    ("ListJobs", pb.ListJobsRequest(), (Converter, "placement")),  # (a part of every live job's conversion)
    ("ListHistory", pb.ListHistoryRequest(count=0), (archive, "_listed")),  # (each ended job read from its table)
], ids=["jobs", "history"])
def test_other_callers_go_on_while_a_listing_is_converted(sdamanager, stub, monkeypatch, method, request_, slowed):
    """Making a job's message takes 2 ms here, so the listing takes at least 0.6 s in pages
    of 25 (50 ms each): a call made meanwhile waits for one page at most, not the listing."""
    token = fill(sdamanager.manager)
    started = threading.Event()
    where, name = slowed
    original = getattr(where, name)

    def slow(*args):  # type: ignore[no-untyped-def]
        started.set()
        time.sleep(0.002)
        return original(*args)

    monkeypatch.setattr(where, name, slow)
    request_.page_size = 25
    result: list = []
    lister = threading.Thread(target=lambda: result.extend(listed(stub, method, request_)))
    lister.start()
    try:
        assert started.wait(20)
        began = time.monotonic()
        assert stub.GetToken(pb.GetTokenRequest(token=token), timeout=5).value == token
        stub.UpdateTokenDescription(pb.UpdateTokenDescriptionRequest(token=token, description="phase-1"), timeout=5)
        took = time.monotonic() - began
        assert lister.is_alive()  # both answered while the listing went on
        assert took < 0.3, took
    finally:
        lister.join(30)
    assert len(result) == 300
    # The listing shows the state it was taken in: the description as it was then.
    assert {job.token_description for job in result} == {"phase-0"}


@pytest.mark.sdamanager(backends=2, devices=8)
@pytest.mark.parametrize(("method", "request_"), [("ListJobs", pb.ListJobsRequest()),
                                                  ("ListHistory", pb.ListHistoryRequest(count=0))],
                         ids=["jobs", "history"])
def test_a_listing_during_changes_is_one_state(sdamanager, stub, method, request_):
    """Changes rename the token every job names and re-prioritise a waiting job;
    a listing taken meanwhile shows every job with the same description."""
    m = sdamanager.manager
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


def test_a_failure_while_converting_outside_the_lock_is_internal(sdamanager, stub, monkeypatch, caplog):
    fill(sdamanager.manager, jobs=5, history=0)

    def broken(self, job):  # type: ignore[no-untyped-def]
        raise RuntimeError("a bug")

    monkeypatch.setattr(Converter, "job", broken)
    with pytest.raises(grpc.RpcError) as failed:
        listed(stub, "ListJobs", pb.ListJobsRequest())
    assert failed.value.code() == grpc.StatusCode.INTERNAL
    assert failed.value.details() == "Internal error in ListJobs: see the simulator's log."


# ---------------------------------------------------------------- records that never change, kept serialized


def test_pages_of_kept_bytes_are_the_pages_a_message_would_make():
    from sdamanager_stub.servicer import PAGE_BYTES, RPCS, _byte_pages

    for name, row in RPCS.items():
        if getattr(row, "key", None) is not None:  # messages kept serialized: of records taken out of the read
            assert row.detach is not None, name
        if getattr(row, "key", None) is not None:  # their page messages hold the items in field 1
            page = row.page([])
            assert [f.number for f in page.DESCRIPTOR.fields] == [1], name
    async def collect(blobs: list[bytes], size: int) -> list[bytes]:
        return [page async for page in _byte_pages(blobs, size)]

    jobs = [pb.Job(feid=i, token="t" * (i % 7), process_name="p" * (i * 997 % 4000)) for i in range(1, 3000)]
    blobs = [job.SerializeToString() for job in jobs]
    for size in (0, 1, 7, 1000):
        pages = [pb.JobPage.FromString(page) for page in asyncio.run(collect(blobs, size))]
        assert [job for page in pages for job in page.jobs] == jobs
        assert all(len(page.jobs) <= (size or 1000) for page in pages)
        assert all(page.ByteSize() <= PAGE_BYTES + 8000 for page in pages)
    assert asyncio.run(collect([], 10)) == [b""]  # an empty listing is one empty page


@pytest.mark.sdamanager(backends=2, devices=8)
def test_kept_history_messages_follow_renames(sdamanager, stub):
    m = sdamanager.manager
    token = fill(m, jobs=0, history=50)
    first = listed(stub, "ListHistory", pb.ListHistoryRequest(count=0))
    assert listed(stub, "ListHistory", pb.ListHistoryRequest(count=0)) == first  # the second from the kept bytes
    m.update_token_description(token, "renamed")
    again = listed(stub, "ListHistory", pb.ListHistoryRequest(count=0))
    assert [j.feid for j in again] == [j.feid for j in first]
    assert {j.token_description for j in again} == {"renamed"}
    events = listed(stub, "ListEvents", pb.ListEventsRequest())
    assert listed(stub, "ListEvents", pb.ListEventsRequest()) == events


def test_a_jobs_state_is_all_of_it_and_gives_the_job_back():
    from dataclasses import fields

    from sdamanager_stub.entities import Job

    job = Job(7, "tok", 3, 1, 2, 4, 0, client_pid=9, process_name="p", status=JobStatus.RUNNING,
              start_time=5.5, placement=[(1, 0), (1, 1)])
    assert fields(Job)[-1].name == "placement"  # from_state relies on it
    state = job.state()
    assert len(state) == len(fields(Job))
    assert {state: "kept"}[job.state()] == "kept"  # hashable, and a second look finds the same key
    assert Job.from_state(state) == job
    job.placement.append((2, 0))  # the state taken is not reached by later changes
    assert Job.from_state(state).placement == [(1, 0), (1, 1)]
    assert job.state() != state  # ... and a changed job is a new key


@pytest.mark.sdamanager(backends=2, devices=8)
def test_kept_live_job_messages_follow_every_change_of_the_job(sdamanager, stub):
    m = sdamanager.manager
    fill(m, jobs=40, history=0)
    before = {j.feid: j for j in listed(stub, "ListJobs", pb.ListJobsRequest())}
    waiting = next(f for f, j in m.jobs.items() if j.status is JobStatus.QUEUED)
    m.update_job_priority(waiting, 7)
    running = next(f for f, j in m.jobs.items() if j.status is not JobStatus.QUEUED)
    m.finish_job(running, token=m.jobs[running].token)  # its devices go to the head of the queue
    after = {j.feid: j for j in listed(stub, "ListJobs", pb.ListJobsRequest())}
    assert after[waiting].priority == 7 and before[waiting].priority != 7
    assert running not in after
    fresh = [Converter(m).job(job) for job in m.jobs.values()]
    assert list(after.values()) == fresh  # every message as a conversion now makes it


@pytest.mark.sdamanager(backends=2, devices=8)
def test_a_listing_of_more_live_jobs_than_the_kept_limit_is_not_converted_again(sdamanager, stub, monkeypatch):
    """Wire keeps as many messages as a listing lists (twice over): a second listing of more
    live jobs than its limit converts none of them again."""
    from sdamanager_stub.servicer import Wire

    monkeypatch.setattr(Wire, "LIMIT", 10)
    fill(sdamanager.manager, jobs=40, history=0)
    converted = []
    real = Converter.job

    def counting(self, job):  # type: ignore[no-untyped-def]
        converted.append(job.feid)
        return real(self, job)

    monkeypatch.setattr(Converter, "job", counting)
    first = listed(stub, "ListJobs", pb.ListJobsRequest())
    assert len(first) == 40 and len(converted) == 40
    assert listed(stub, "ListJobs", pb.ListJobsRequest()) == first
    assert len(converted) == 40  # none made again
