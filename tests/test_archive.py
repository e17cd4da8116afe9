"""The archive (sdamanager_stub/archive.py): the history and the event log in SQLite,
read a page at a time, kept within their limits."""

from __future__ import annotations

import random

import pytest

from sdamanager_stub import archive
from sdamanager_stub.archive import Limits, in_memory
from sdamanager_stub.entities import Event, Job, JobStatus

TOKENS = ["alpha", "beta", "gamma"]


def ended(feid: int, token: str) -> Job:
    return Job(feid, token, 1, 1, 0, 1, 0, client_pid=feid, process_name=f"p{feid}", status=JobStatus.COMPLETED,
               request_time=1.0 + feid, start_time=2.0 + feid, end_time=3.0 + feid, placement=[(1, feid % 8)])


@pytest.mark.parametrize("seed", range(4))
def test_pages_are_the_newest_count_oldest_first_whatever_the_page_size(monkeypatch, seed):
    """Against the list they are the newest part of: every count, token and action, pages
    of 1 to 7 rows (so every boundary), the oldest rows dropped at the limit."""
    rng = random.Random(seed)
    monkeypatch.setattr(archive, "PAGE_ROWS", rng.randrange(1, 8))
    store = in_memory(Limits(history=40, events=30))
    jobs: list[Job] = []
    events: list[Event] = []
    for n in range(1, 80):
        token = rng.choice(TOKENS)
        job = ended(n, token)
        event = Event(n, 1.0 + n, token, rng.choice(["RELEASE", "FINISH_JOB"]), "{}", "SUCCESS")
        store.add_job(job)
        store.add_event(event)
        jobs.append(job)
        events.append(event)
    jobs, events = jobs[-40:], events[-30:]
    for count in (0, 1, 2, 5, 29, 30, 31, 100):
        assert store.history(count) == (jobs[-count:] if count else jobs)
        for token in TOKENS:
            mine = [j for j in jobs if j.token == token]
            assert store.history(count, token) == (mine[-count:] if count else mine)
            for action in ("", "RELEASE"):
                logged = [e for e in events if e.token == token and (not action or e.action == action)]
                assert store.events(token, action, count) == (logged[-count:] if count else logged)
    assert store.history(0, "nobody") == [] and store.events("nobody") == []


def test_a_listing_is_its_rows_as_of_its_start(monkeypatch):
    """The bounds are taken when the listing is asked for (in the rules' read); rows added
    while it is read are not in it, and the oldest that leave meanwhile are left out."""
    monkeypatch.setattr(archive, "PAGE_ROWS", 3)
    store = in_memory(Limits(history=10))
    for n in range(1, 11):
        store.add_job(ended(n, "alpha"))
    listing = store.history_pages(6)  # jobs 5 to 10
    first = next(listing)
    assert first.feid == 5
    for n in range(11, 14):  # jobs 1 to 3 leave, 11 to 13 come: none is in the listing's range
        store.add_job(ended(n, "alpha"))
    assert [first.feid, *(job.feid for job in listing)] == [5, 6, 7, 8, 9, 10]
    listing = store.history_pages()  # all: jobs 4 to 13
    assert next(listing).feid == 4
    for n in range(14, 18):  # jobs 4 to 7 leave: 5 and 6 were read with 4 (a page of 3), 7 is left out
        store.add_job(ended(n, "alpha"))
    assert [job.feid for job in listing] == [5, 6, 8, 9, 10, 11, 12, 13]


def test_an_empty_listing_reads_nothing():
    store = in_memory()
    assert list(store.history_pages()) == [] and list(store.event_pages(count=5)) == []


def test_a_listed_ended_job_is_the_message_its_conversion_makes_with_the_names_of_now():
    """What the archive keeps of an ended job (its message but for the names and the
    placement) and what a listing adds is the job's whole message, as Converter.job makes
    it, whatever was renamed since it ended."""
    from sdamanager_stub.convert import Converter, Names
    from sdamanager_stub.manager import new_manager
    from smclient.api import sdamanager_pb2 as pb

    m = new_manager(backends=2, devices=8)
    token = m.create_token("before", 3).value
    m.update_token_duplicable(token, 0)
    m.create_sda(token, "", 2)
    for n in range(4):
        job = m.request_devices(token, n, f"p{n}")
        (m.finish_job if n % 2 else m.release)(job.feid)
    m.update_token_description(token, "after")
    m.update_backend_host(1, "renamed-backend")
    converter = Converter(m, Names.of(m))
    listed = [pb.Job.FromString(converter.ended_job(entry)) for entry in m.history_listing()]
    assert listed == [converter.job(job) for job in m.list_history()]
    assert {j.token_description for j in listed} == {"after"} and all(j.backend_group for j in listed)
    assert "renamed-backend" in {p.backend_name for j in listed for p in j.placement}
