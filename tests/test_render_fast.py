"""The fast paths of listings against the slow, obvious way to the same text
(tests/reference.py: the frame's general path, cell by cell, and `views.when`).

Big listings are measured, padded and written in bulk, and their times are
formatted with a per-minute cache; the text must not move by one byte.  So
big generated listings (odd widths, wide and East-Asian text, control
characters, empty and multi-line cells, short and long rows) and times
across time-zone changes (DST, half-hour and local-mean-time offsets, a day
skipped, leap seconds) are rendered both ways and compared.  (The general
path's own bytes are held to the original's by the golden transcripts,
tests/test_golden.py.)
"""

from __future__ import annotations

import calendar
import io
import os
import random
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace

import pytest
from google.protobuf.timestamp_pb2 import Timestamp
from hypothesis import given, settings
from hypothesis import strategies as st
from reference import event_rows, history_rows, job_rows, render_reference

from smclient import cli, views
from smclient.api import sdamanager_pb2 as pb
from smclient.render import _CHUNK_LINES, render, render_chunks, render_table, table_lines
from smclient.results import RIGHT, Column, Message, Success, Table

ZONEINFO = Path("/usr/share/zoneinfo")

# Cell texts that take the general path: each breaks one assumption of the fast one.
ODD_TEXTS = [
    "여기 추가", "설명 テスト 中文", "ｆｕｌｌｗｉｄｔｈ", "\U0001F600 emoji", "e\u0301 combining",
    "zwj\u200d", "a\u200bb", "tab\there", "new\nline", "esc\x1b[31mred", "del\x7f", "nel\x85",
    "bidi\u202eevil", "iso\u2066late", "lrm\u200e", "sep\u2028line", "lone\ud800surrogate",
    "nbsp\u00a0x", "café", "नमस्ते", "ก่", "",
]
PROTO_TEXTS = [text for text in ODD_TEXTS if "\ud800" not in text]  # protobuf strings are UTF-8


def ascii_text(rng: random.Random, longest: int = 30) -> str:
    return "".join(rng.choice("abcdefghijklmnopqrstuvwxyzABC0123456789 -_./,:=%{}") for _ in
                   range(rng.randrange(longest + 1)))


def random_cell(rng: random.Random, odd_share: float) -> object:
    roll = rng.random()
    if roll >= odd_share:
        return ascii_text(rng)
    kind = rng.randrange(7)
    if kind == 0:
        return rng.choice(ODD_TEXTS)
    if kind == 1:
        return ascii_text(rng, 5) + rng.choice(ODD_TEXTS) + ascii_text(rng, 5)
    if kind == 2:  # several lines
        return [rng.choice([ascii_text(rng, 8), rng.choice(ODD_TEXTS)]) for _ in range(rng.randrange(4))]
    if kind == 3:  # a pair in a plain column
        return (ascii_text(rng, 4), rng.choice(ODD_TEXTS))
    if kind == 4:  # not a str at all
        return rng.choice([7, -3, 2**70, None, 1.5])
    if kind == 5:
        return ""
    return [ascii_text(rng, 10)]  # one line in a list


def random_table(rng: random.Random, nrows: int, odd_share: float, parts: bool = False) -> Table:
    ncol = rng.randrange(1, 8)
    columns = [Column(rng.choice(["ID", "Name", "x", "", "이름", "Process Name", "A" * rng.randrange(1, 40)]),
                      rng.choice(["L", RIGHT])) for _ in range(ncol)]
    if parts:
        columns.append(Column("Device", parts=2))
    rows: list = []
    for _ in range(nrows):
        row = [random_cell(rng, odd_share) for _ in range(ncol)]
        if parts:
            row.append([(str(rng.randrange(8)), rng.choice(["IDLE", "PROCESSING", "준비"]))
                        for _ in range(rng.randrange(3))])
        if rng.random() < odd_share / 4:
            row = row[:rng.randrange(len(row) + 1)] if rng.random() < 0.5 else [*row, "extra", "cells"]
        rows.append(tuple(row) if rng.random() < 0.5 else row)
    return Table(columns, rows)


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("odd_share", [0.0, 0.001, 0.05, 0.5])
def test_big_generated_table_renders_as_the_general_path(seed: int, odd_share: float) -> None:
    rng = random.Random(seed * 1000 + int(odd_share * 1000))
    table = random_table(rng, nrows=rng.choice([0, 1, 3, _CHUNK_LINES, 3 * _CHUNK_LINES + 17]),
                         odd_share=odd_share, parts=seed % 3 == 0)
    expected = render_table(table, general=True)
    assert render_table(table) == expected
    assert list(table_lines(table)) == expected
    assert render(table) == "\n".join(expected)
    assert "".join(render_chunks(table)) == "\n".join(expected)


def test_results_and_lists_of_them_render_as_the_reference() -> None:
    rng = random.Random(7)
    results = [random_table(rng, 50, 0.1), Message("hello\tthere"), None, Success("Update SDA", "a note"),
               [random_table(rng, 5000, 0.0), None, Message("")], Message(""), random_table(rng, 0, 0.0)]
    expected = render_reference(results)
    assert render(results) == expected
    assert "".join(render_chunks(results)) == expected
    for item in results:
        assert render(item) == render_reference(item)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.lists(st.one_of(st.text(max_size=12), st.lists(st.text(max_size=6), max_size=3),
                                   st.integers(), st.tuples(st.text(max_size=4), st.text(max_size=4)),
                                   st.lists(st.tuples(st.text(max_size=4), st.text(max_size=4)), max_size=3)),
                         min_size=0, max_size=4), max_size=8),
       st.lists(st.tuples(st.text(max_size=8), st.sampled_from(["L", RIGHT]), st.sampled_from([1, 1, 2])),
                min_size=0, max_size=4))
def test_any_table_renders_as_the_general_path(rows: list, headers: list) -> None:
    table = Table([Column(h, a, parts) for h, a, parts in headers], rows)
    assert render_table(table) == render_table(table, general=True)


def test_tables_with_no_columns_or_no_rows_render_as_the_general_path() -> None:
    for table in [Table([], [["a"], [], ("b", "c")]), Table([], []), Table([Column("A")], []),
                  Table([Column("A"), Column("B", RIGHT)], [[], ("x",)])]:
        assert render_table(table) == render_table(table, general=True)


def test_printable_ascii_is_what_isprintable_says() -> None:
    # The fast path's check of a column's text stands for str.isprintable below 0x80.
    from smclient.render import _PRINTABLE_ASCII

    assert {c for c in range(128) if chr(c).isprintable()} == set(_PRINTABLE_ASCII)


# ---------------------------------------------------------------- the one-shot writer

def test_emit_writes_what_render_makes(monkeypatch: pytest.MonkeyPatch) -> None:
    rng = random.Random(3)
    for result in [random_table(rng, 3 * _CHUNK_LINES, 0.01), [Message(""), Message("")], Message(""), None,
                   [random_table(rng, 10, 0.2), Success("Delete SDA")]]:
        out = io.StringIO()
        monkeypatch.setattr("sys.stdout", out)
        cli._emit(result)
        text = render_reference(result) if result is not None else ""
        assert out.getvalue() == (text + "\n" if text else "")


# ---------------------------------------------------------------- times

@pytest.fixture
def zone(monkeypatch: pytest.MonkeyPatch) -> Iterator:
    """Set the process's time zone for a test (and restore it after)."""

    def set_zone(name: str) -> None:
        if name != "UTC" and not (ZONEINFO / name).exists():
            pytest.skip(f"no zoneinfo for {name}")
        monkeypatch.setenv("TZ", name)
        time.tzset()

    yield set_zone
    monkeypatch.undo()
    time.tzset()


def stamp(seconds: int, nanos: int = 0) -> SimpleNamespace:
    return SimpleNamespace(seconds=seconds, nanos=nanos)


def transitions(start_year: int, end_year: int) -> Iterator[int]:
    """Instants where the local zone's offset changes, found day by day then bisected."""
    t = calendar.timegm((start_year, 1, 1, 0, 0, 0))
    end = calendar.timegm((end_year, 1, 1, 0, 0, 0))
    day = 86400
    previous = time.localtime(t).tm_gmtoff
    while t < end:
        offset = time.localtime(t + day).tm_gmtoff
        if offset != previous:
            lo, hi = t, t + day  # offset(lo) == previous != offset(hi)
            while hi - lo > 1:
                mid = (lo + hi) // 2
                if time.localtime(mid).tm_gmtoff == previous:
                    lo = mid
                else:
                    hi = mid
            yield hi
            previous = offset
        t += day


def assert_same_times(instants: list[int], rng: random.Random) -> None:
    fast = views.time_formatter()
    for seconds in instants:
        nanos = rng.choice([0, 1, 9_999_999, 10_000_000, 505_000_000, 999_999_999])
        ts = stamp(seconds, nanos)
        assert fast(ts) == views.when(ts), (os.environ.get("TZ"), seconds, nanos)


ZONES = {
    # zone: (first year, last year) to search for offset changes
    "UTC": (1970, 1971),
    "America/New_York": (1960, 2040),  # DST, one hour
    "Europe/London": (1940, 2030),  # double summer time in the 1940s
    "Australia/Lord_Howe": (1980, 2030),  # DST of half an hour
    "Asia/Kolkata": (1900, 1950),  # +05:30, and local mean time before
    "Asia/Kathmandu": (1980, 1990),  # +05:45
    "America/St_Johns": (1900, 2030),  # -03:30 with DST, and -03:30:52 once
    "Europe/Amsterdam": (1900, 1945),  # +00:19:32: an offset with seconds
    "Pacific/Apia": (2010, 2013),  # skipped 30 December 2011
    "Africa/Monrovia": (1900, 1975),  # -00:44:30 until 1972
}


@pytest.mark.parametrize("name", sorted(ZONES))
def test_times_across_zone_changes_format_as_when_does(zone, name: str) -> None:
    zone(name)
    rng = random.Random(name)
    first, last = ZONES[name]
    instants: list[int] = []
    changes = list(transitions(first, last))
    if name != "UTC":
        assert changes, f"no offset change found in {name}: the test would prove nothing"
    for change in changes:
        instants.extend(range(change - 150, change + 150))
    # And times anywhere, in and out of order, repeated (the cache's hits).
    instants += [rng.randrange(-2**31, 2**33) for _ in range(3000)]
    instants += [calendar.timegm((first, 6, 1, 0, 0, 0)) + rng.randrange(86400 * 3) for _ in range(3000)]
    rng.shuffle(instants)
    assert_same_times(instants + instants[:500], rng)


def test_leap_seconds_format_as_when_does(zone) -> None:
    zone("right/UTC")
    rng = random.Random(5)
    instants: list[int] = []
    for year in range(1972, 2018):
        for month in (1, 7):
            near = calendar.timegm((year, month, 1, 0, 0, 0))
            instants.extend(range(near - 60, near + 90))
    assert any(time.localtime(t).tm_sec == 60 for t in instants), "no leap second in the sample"
    assert_same_times(instants, rng)


def test_unset_odd_and_out_of_range_times_as_when_does(zone) -> None:
    zone("America/New_York")
    fast = views.time_formatter()
    for seconds, nanos in [(0, 0), (0, 5), (5, 0), (-1, 0), (-61, 999_999_999), (1, -1), (1, -10_000_001),
                           (1, 2_000_000_000), (-62135596800, 0), (253402300799, 990_000_000)]:
        assert fast(stamp(seconds, nanos)) == views.when(stamp(seconds, nanos)), (seconds, nanos)
    for seconds in (2**62, -2**62, 2**63 - 1):
        with pytest.raises(Exception) as old:
            views.when(stamp(seconds, 0))
        with pytest.raises(Exception) as new:
            fast(stamp(seconds, 0))
        assert (type(new.value), str(new.value)) == (type(old.value), str(old.value))


def test_a_new_listing_sees_a_new_zone(zone) -> None:
    zone("Asia/Seoul")
    ts = stamp(1_700_000_000, 120_000_000)
    assert views.time_formatter()(ts) == "2023-11-15 07:13:20.12"
    zone("America/New_York")
    assert views.time_formatter()(ts) == views.when(ts) == "2023-11-14 17:13:20.12"


# ---------------------------------------------------------------- listings, end to end

def random_job(rng: random.Random, feid: int, base: int) -> pb.Job:
    def ts(seconds: int) -> dict:
        return {"seconds": seconds, "nanos": rng.choice([0, 10_000_000, 990_000_000, rng.randrange(10**9)])}

    job = pb.Job(feid=feid, token=rng.choice(["YmVuY2gxNzAxNjg5MDAwMDAw", "토큰", "", "t\x1bk"]),
                 priority=rng.randrange(-99, 100), status=rng.choice([1, 2, 3, 4, 5, 6, 7, 99]),
                 client_pid=rng.randrange(0, 2**31),
                 process_name=rng.choice([ascii_text(rng, 60), *PROTO_TEXTS]) if rng.random() < 0.3
                 else f"python train.py --epochs {feid % 90}",
                 device_count=rng.randrange(9))
    start = base + rng.randrange(-3 * 3600, 3 * 3600)
    if rng.random() < 0.95:
        job.request_time.CopyFrom(Timestamp(**ts(start)))
    if rng.random() < 0.9:
        job.start_time.CopyFrom(Timestamp(**ts(start + 2)))
    if rng.random() < 0.9:
        job.end_time.CopyFrom(Timestamp(**ts(start + rng.randrange(9000))))
    for _ in range(rng.randrange(3)):
        job.placement.add(backend_id=rng.randrange(1, 100), backend_name=rng.choice(["", "node-1", "노드"]),
                          device_indexes=rng.sample(range(8), rng.randrange(1, 4)))
    return job


@pytest.mark.parametrize("name", ["America/New_York", "Australia/Lord_Howe", "Europe/London"])
def test_big_history_and_job_listings_render_as_the_reference_rows(zone, name: str) -> None:
    zone(name)
    rng = random.Random(name)
    # Around the zone's change of offset in the spring and in the autumn of 2024.
    bases = list(transitions(2024, 2025))
    jobs = [random_job(rng, feid, rng.choice(bases)) for feid in range(1, 8001)]
    # As the client gets them: bytes parsed into pages.
    pages = [pb.JobPage.FromString(pb.JobPage(jobs=jobs[i:i + 1000]).SerializeToString()) for i in range(0, 8000, 1000)]

    def stream() -> Iterator[pb.Job]:
        for page in pages:
            yield from page.jobs

    for devices in (False, True):
        assert render(views.history_table(stream(), devices)) == render_reference(history_rows(jobs, devices))
    assert render(views.jobs_table(stream())) == render_reference(job_rows(jobs))
    events = [pb.Event(id=i, token=j.token, action="CreateSDA", request=j.process_name, result="ok",
                       time=j.start_time) for i, j in enumerate(jobs)]
    assert render(views.events_table(events)) == render_reference(event_rows(events))


# ---------------------------------------------------------------- the console script, end to end

SCRIPT = Path(sys.executable).with_name("moreh_smclient")


@pytest.mark.cluster(backends=4, devices=8)
def test_one_shot_listings_print_what_the_reference_makes(simulator, stub, zone) -> None:
    """`--command 'show history N'` and `show job` through the console script (streamed rows,
    the writer in pieces) against the reference rows and renderer on the same stream."""
    m = simulator.manager
    token = m.create_token("e2e", 0).value
    m.create_sda(token, "e2e", 1)
    m.update_token_duplicable(token, 0)  # unlimited: many live jobs on one SDA
    # The simulator takes printable text only (control characters are the unit tests' part).
    names = [text for text in [*PROTO_TEXTS, "python train.py --epochs 3", "x" * 77, "", "%s %d {}"]
             if text.isprintable()]
    for i in range(3 * _CHUNK_LINES):
        job = m.request_devices(token, client_pid=i, process_name=names[i % len(names)])
        m.finish_job(job.feid, token=token, failed=i % 5 == 0)
    for i in range(700):
        m.request_devices(token, client_pid=i, process_name=names[i % len(names)])
    zone("America/New_York")
    env = {**os.environ, "TZ": "America/New_York"}

    def listing(method: str, request: object) -> list:
        return [job for page in getattr(stub, method)(request, timeout=30) for job in page.jobs]

    history = listing("ListHistory", pb.ListHistoryRequest(count=100000))
    live = listing("ListJobs", pb.ListJobsRequest())
    for command, expected in [("show history 100000", render_reference(history_rows(history))),
                              ("show history device 100000",
                               render_reference(history_rows(history, devices=True))),
                              ("show job", render_reference(job_rows(live)))]:
        result = subprocess.run([str(SCRIPT), "--port", str(simulator.port), "--command", command],
                                capture_output=True, timeout=60, env=env)
        assert (result.returncode, result.stderr) == (0, b"")
        assert result.stdout == (expected + "\n").encode(), command
