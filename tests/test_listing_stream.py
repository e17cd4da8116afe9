"""Big listings kept by column (views.Listing, issue 22): the rows of `show job`,
`show history` and `show eventlog` are stored column by column and rendered from
the columns (render._listing_blocks).  Whatever the data, the listing must read as
the rows made message by message (tests/reference.py) and render byte for byte as
those rows do through the general path of the frame: wide and control text, blank
and odd times, numbers of every sign and size, unknown statuses, block boundaries,
empty listings.  And the errors a listing's times raise are the ones the row by row
reading raised, first first.
"""

from __future__ import annotations

import random
from collections.abc import Iterator

import pytest
from google.protobuf.timestamp_pb2 import Timestamp
from reference import event_rows, history_rows, job_rows
from test_render_fast import PROTO_TEXTS, ascii_text, transitions, zone  # noqa: F401  (zone: a fixture)

from smclient import formats, views
from smclient.api import sdamanager_pb2 as pb
from smclient.render import render, render_chunks, render_table
from smclient.results import Table
from smclient.views import LISTING_BLOCK, Listing

WIDE = ["여기 추가", "설명 テスト 中文", "ｆｕｌｌｗｉｄｔｈ", "\U0001F600", "e\u0301", "zwj\u200d", "a\u200bb", "नमस्ते"]
CONTROL = ["tab\there", "new\nline", "esc\x1b[31mred", "del\x7f", "nel\x85", "bidi\u202eevil", "sep\u2028x"]
INT64 = [0, 1, -1, 9, 10, -10, 99_999, -(2**63), 2**63 - 1]


def stamp(seconds: int, nanos: int = 0) -> Timestamp:
    return Timestamp(seconds=seconds, nanos=nanos)


def job(rng: random.Random, feid: int, base: int, odd: float) -> pb.Job:
    """A job as the client gets it; `odd`: the share of odd values in each field."""

    def pick(common: object, rare: list) -> object:
        return rng.choice(rare) if rng.random() < odd else common

    def when(seconds: int) -> Timestamp | None:
        roll = rng.random()
        if roll < odd / 3:
            return None  # unset
        if roll < odd * 2 / 3:
            return stamp(*rng.choice([(0, 5), (5, 0), (seconds, -1), (seconds, 1_500_000_000), (-61, 999_999_999),
                                      (-62135596800, 0), (253402300799, 990_000_000), (seconds, 999_999_999)]))
        return stamp(seconds, rng.choice([0, 10_000_000, 990_000_000, rng.randrange(10**9)]))

    message = pb.Job(feid=pick(feid, INT64), token=pick("YmVuY2gxNzAxNjg5MDAwMDAw", ["토큰", "", "t\x1bk", "tok%s"]),
                     priority=pick(feid % 7 - 3, [-(2**31), 2**31 - 1, 0, 100]),
                     status=pick(10, [1, 3, 11, 12, 13, 0, 99, -4]),
                     client_pid=pick(1000 + feid % 300, INT64),
                     process_name=pick(f"python train.py --epochs {feid % 90} --save-model m{feid}.pt",
                                       [*WIDE, *CONTROL, "", "x" * 90, "%s %d %%", ascii_text(rng, 60)]))
    start = base + rng.randrange(-3 * 3600, 3 * 3600)
    for name, seconds in [("request_time", start), ("start_time", start + 2), ("end_time", start + 500)]:
        value = when(seconds)
        if value is not None:
            getattr(message, name).CopyFrom(value)
    return message


def stream(jobs: list[pb.Job]) -> Iterator[pb.Job]:
    """The jobs as the client reads them: pages parsed from bytes."""
    for i in range(0, len(jobs), 1000):
        yield from pb.JobPage.FromString(pb.JobPage(jobs=jobs[i:i + 1000]).SerializeToString()).jobs


def general(table: Table) -> Table:
    """The same table with its rows in a list: the frame's path for rows that are not a Listing."""
    return Table(table.columns, [list(row) for row in table.rows])


def assert_same(table: Table, expected_rows: Table) -> None:
    assert isinstance(table.rows, Listing)
    assert len(table.rows) == len(expected_rows.rows)
    assert [list(row) for row in table.rows] == [list(row) for row in expected_rows.rows]
    expected = render_table(expected_rows, general=True)
    assert render_table(general(table)) == expected  # the general path, as a check of the check
    assert render_table(table) == expected
    assert "".join(render_chunks(table)) == "\n".join(expected)


@pytest.mark.parametrize("odd", [0.0, 0.001, 0.05, 0.5])
@pytest.mark.parametrize("count", [0, 1, LISTING_BLOCK - 1, LISTING_BLOCK, 2 * LISTING_BLOCK + 3])
def test_listings_read_and_render_as_the_rows_did(zone, odd: float, count: int) -> None:  # noqa: F811
    zone("America/New_York")
    rng = random.Random(f"{odd} {count}")
    bases = list(transitions(2024, 2025))  # around the changes of offset
    jobs = [job(rng, feid, rng.choice(bases), odd) for feid in range(1, count + 1)]
    assert_same(views.history_table(stream(jobs)), history_rows(jobs))
    assert_same(views.jobs_table(stream(jobs)), job_rows(jobs))
    events = [pb.Event(id=j.feid, token=j.token, action=rng.choice(["CREATE_TOKEN", "RELEASE", "삭제"]),
                       request=j.process_name, result=rng.choice(["SUCCESS", j.process_name]), time=j.end_time,
                       peer=rng.choice(["ipv4:10.0.0.5:41822", "ipv6:[::1]:5000", "unix:/run/x", "", j.token]))
              for j in jobs]
    assert_same(views.events_table(events), event_rows(events))


def test_one_odd_value_in_a_block_of_plain_ones(zone) -> None:  # noqa: F811
    """Each column's odd case alone, in the middle of blocks of plain rows: widths and
    padding of the whole listing follow it, other blocks take the fast format."""
    zone("Europe/London")
    rng = random.Random(3)
    base = 1_700_000_000
    for field, values in [("process_name", [*WIDE, *CONTROL]), ("token", ["토큰", "t\x1bk", "x" * 40]),
                          ("feid", [-(2**63), 2**63 - 1]), ("status", [99, 0]),
                          ("request_time", [stamp(0, 0), stamp(-62135596800), stamp(base, -10_000_001)])]:
        for value in values:
            jobs = [job(rng, feid, base, 0.0) for feid in range(1, 3 * LISTING_BLOCK)]
            target = jobs[LISTING_BLOCK + 5]
            if isinstance(value, Timestamp):
                target.request_time.CopyFrom(value)
            else:
                setattr(target, field, value)
            assert_same(views.history_table(stream(jobs)), history_rows(jobs))


def test_runs_of_unset_times(zone) -> None:  # noqa: F811
    """Queued jobs have no start: whole batches of unset times, a column with none set,
    a run that ends in the middle of a batch and of a block."""
    zone("Asia/Seoul")
    rng = random.Random(11)
    jobs = [job(rng, feid, 1_700_000_000, 0.0) for feid in range(1, 3 * LISTING_BLOCK + 7)]
    for k, message in enumerate(jobs):
        message.ClearField("end_time")
        if 100 <= k < 2 * LISTING_BLOCK + 300:
            message.ClearField("start_time")
    assert_same(views.history_table(stream(jobs)), history_rows(jobs))
    assert_same(views.jobs_table(stream(jobs)), job_rows(jobs))
    assert_same(views.jobs_table(stream(jobs[150:1700])), job_rows(jobs[150:1700]))


def test_times_in_irregular_minutes_and_zones(zone) -> None:  # noqa: F811
    """Times around offset changes (DST, local mean time with seconds, a skipped day),
    leap seconds: the minute's text shared where it may be, `when`'s text elsewhere."""
    for name, instants in [("Europe/Amsterdam", [-1_000_000_000 + k * 37 for k in range(3000)]),
                           ("Pacific/Apia", [t + k for t in transitions(2011, 2012) for k in range(-300, 300)]),
                           ("right/UTC", [78796800 + k for k in range(-200, 200)]),
                           ("Africa/Monrovia", [0, 1, 59, 60, 63072000 + 7])]:
        zone(name)
        rng = random.Random(name)
        jobs = [job(rng, k + 1, 0, 0.0) for k in range(len(instants))]
        for j, seconds in zip(jobs, instants):
            j.request_time.CopyFrom(stamp(seconds, rng.choice([0, 990_000_000])))
            j.start_time.CopyFrom(stamp(seconds))
            j.ClearField("end_time") if seconds % 3 else j.end_time.CopyFrom(stamp(0, 7))
        assert_same(views.history_table(stream(jobs)), history_rows(jobs))


@pytest.mark.parametrize("new_year", [-30610224000, -62135596800, -62167219200, 253402300799 - 59],
                         ids=["999-1000", "0-1", "-1-0", "9999"])
def test_times_across_years_of_other_digits(zone, new_year: int) -> None:  # noqa: F811
    """A minute's text is as long as its year's digits: across 999/1000 or -1/0 in one
    batch, and a column whose times are all in one such year, the widths follow."""
    zone("UTC")
    rng = random.Random(new_year)
    jobs = [job(rng, feid, 0, 0.0) for feid in range(1, 700)]
    for k, message in enumerate(jobs):
        message.request_time.CopyFrom(stamp(new_year - 1800 + 7 * k, 990_000_000))
        message.start_time.CopyFrom(stamp(new_year - 3600 + k % 50))  # before it only
        message.end_time.CopyFrom(stamp(new_year + 50 - k % 40 if k % 3 else new_year - 2000 + k))
    assert_same(views.history_table(stream(jobs)), history_rows(jobs))


def test_a_time_that_cannot_be_shown_raises_as_when_does(zone) -> None:  # noqa: F811
    """A time localtime cannot take fails the listing with the error the row by row
    reading raised (the listing reads a block column by column, then, on an error,
    the block row by row again to raise the first)."""
    zone("UTC")
    rng = random.Random(9)
    for bad in [(2**62, 0, "end_time"), (-(2**62), 0, "start_time"), (2**63 - 1, 5, "request_time")]:
        jobs = [job(rng, feid, 1_700_000_000, 0.0) for feid in range(1, LISTING_BLOCK + 10)]
        getattr(jobs[LISTING_BLOCK + 3], bad[2]).CopyFrom(stamp(*bad[:2]))
        jobs[LISTING_BLOCK + 4].request_time.CopyFrom(stamp(2**60))
        with pytest.raises(Exception) as old:
            history_rows(jobs)
        with pytest.raises(Exception) as new:
            views.history_table(stream(jobs))
        assert (type(new.value), str(new.value)) == (type(old.value), str(old.value))


def test_a_listing_is_a_sequence_of_its_rows() -> None:
    rng = random.Random(4)
    jobs = [job(rng, feid, 1_700_000_000, 0.2) for feid in range(1, 2 * LISTING_BLOCK + 50)]
    rows = views.history_table(stream(jobs)).rows
    expected = [tuple(row) for row in history_rows(jobs).rows]
    assert len(rows) == len(expected)
    assert list(rows) == expected
    assert rows == expected and rows == tuple(expected) and rows != expected[:-1]
    for i in [0, 1, LISTING_BLOCK - 1, LISTING_BLOCK, len(expected) - 1, -1, -len(expected)]:
        assert rows[i] == expected[i]
    for cut in [slice(None), slice(5, 9), slice(LISTING_BLOCK - 3, LISTING_BLOCK + 3), slice(-10, None),
                slice(None, None, 7), slice(40, 10), slice(None, -(len(expected) + 5))]:
        assert rows[cut] == expected[cut], cut
    for i in [len(expected), -len(expected) - 1]:
        with pytest.raises(IndexError):
            rows[i]
    assert all(type(cell) is str for row in rows for cell in row)
    assert Table(views.HISTORY_COLUMNS, rows) == Table(views.HISTORY_COLUMNS, expected)


@pytest.mark.parametrize("fmt", ["json", "csv", "tsv", "github"])
def test_other_formats_read_a_listing_as_they_read_rows(fmt: str) -> None:
    rng = random.Random(fmt)
    jobs = [job(rng, feid, 1_700_000_000, 0.05) for feid in range(1, 500)]
    # json reads times back with strptime, which takes 4-digit years and hundredths only (formats.py)
    sane = [j for j in jobs if all(10**9 < t.seconds < 2 * 10**9 and 0 <= t.nanos < 10**9
                                   for t in (j.request_time, j.start_time, j.end_time))]
    for jobs_ in ([sane] if fmt == "json" else [jobs, sane]):
        table = views.history_table(stream(jobs_))
        assert render(table, fmt) == render(general(table), fmt)
    table = views.jobs_table(stream(sane))
    assert formats.records(table) == formats.records(general(table))
