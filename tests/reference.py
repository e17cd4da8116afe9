"""What the fast paths of big listings are tested against: the slow, obvious way to the
same text (tests/test_render_fast.py, tests/test_listing_stream.py).

- `render_reference(result)`: `render(result)` with every table through the general
  path of the frame, cell by cell (render.render_table(table, general=True)).
- `job_rows`, `history_rows`, `event_rows`: the rows of `show job`, `show history`
  and `show eventlog` made message by message, each field's text as the listing's
  columns define it (views.read_listing): str of an integer, the text itself, a
  JobStatus's name, a caller's host, and a Timestamp by `views.when`, the plain
  localtime/strftime formatting that the per-minute one (views.time_formatter,
  views._TimeColumn) stands in for.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from smclient.render import render_chunks, render_table
from smclient.results import RIGHT, Column, Table
from smclient.views import HISTORY_COLUMNS, JOB_COLUMNS, JOB_STATUS, peer_host, when


def render_reference(result: Any) -> str:
    """render(result), each table's lines made by the general path: None shows nothing,
    a list is its items' texts one per line, anything else is rendered as render does."""
    if isinstance(result, Table):
        return "\n".join(render_table(result, general=True))
    if type(result) in (list, tuple):  # (not a result that is a named tuple)
        return "\n".join(render_reference(item) for item in result if item is not None)
    return "".join(render_chunks(result))


def _job_cells(j: Any) -> list[Any]:
    return [str(j.feid), j.token, str(j.priority), JOB_STATUS[j.status], str(j.client_pid), j.process_name]


def job_rows(jobs: Iterable[Any]) -> Table:
    return Table(JOB_COLUMNS, [[*_job_cells(j), when(j.start_time)] for j in jobs])


def history_rows(jobs: Iterable[Any], devices: bool = False) -> Table:
    columns = list(HISTORY_COLUMNS)
    if devices:
        columns += [Column("Device count", RIGHT), Column("Device Information")]
    rows = []
    for j in jobs:
        row = [*_job_cells(j), when(j.request_time), when(j.start_time), when(j.end_time)]
        if devices:
            row += [str(j.device_count), [f"{p.backend_name or p.backend_id} | {','.join(map(str, p.device_indexes))}"
                                          for p in j.placement]]
        rows.append(row)
    return Table(columns, rows)


def event_rows(events: Iterable[Any]) -> Table:
    rows = [[str(e.id), when(e.time), e.token, e.action, e.request, e.result, peer_host(e.peer)] for e in events]
    return Table([Column("ID", RIGHT), Column("Time"), Column("Token"), Column("Action"), Column("Request"),
                  Column("Result"), Column("Peer")], rows)
