"""Output formats: `--output`/`-o`, `$SMCLIENT_OUTPUT` and `set output`;
csv, tsv and tabulate's formats print the same rows and values as the original's
table; the default format loads neither the formats module nor tabulate."""

from __future__ import annotations

import csv
import datetime
import io
import json
import subprocess
import sys

import pytest
from test_every_command import EXAMPLES, world  # noqa: F401 - the fixture

from smclient.cli import main
from smclient.executor import Executor
from smclient.formats import field, names, snake
from smclient.render import render
from smclient.results import Placement, Table

LISTINGS = sorted(name for name in EXAMPLES if name.split()[0] in ("show", "get"))


def frame_rows(text: str) -> list[list[str]]:
    """The data rows of the original's frame, cell text stripped (single-line rows)."""
    lines = text.splitlines()
    return [[cell.strip() for cell in line.split("|")[1:-1]] for line in lines[3:-1]]


@pytest.mark.parametrize("name", LISTINGS)
@pytest.mark.parametrize("fmt", ["csv", "tsv"])
def test_every_listing_in_csv_and_tsv_has_the_tables_rows_and_values(world, name, fmt):  # noqa: F811
    executor, tokens, _ = world
    line = EXAMPLES[name].format(**tokens)
    result = executor.execute_line(line).result
    tables = result if isinstance(result, list) else [result]  # get job token: a table per job
    assert tables and all(isinstance(table, Table) for table in tables), name
    text = render(Executor(executor.connection, output=fmt).execute_line(line).result, fmt)
    blocks = text.split("\n\n") if len(tables) > 1 else [text]
    assert len(blocks) == len(tables)
    for table, block in zip(tables, blocks):
        parsed = list(csv.reader(io.StringIO(block), delimiter="," if fmt == "csv" else "\t"))
        # One column per header: a backend's two Device columns are one, its pairs in index order.
        plain = [j for j, column in enumerate(table.columns) if column.kind != "devices"]
        devices = [j for j, column in enumerate(table.columns) if column.kind == "devices"]
        assert parsed[0] == [table.columns[j].header for j in plain] + ["Device"] * bool(devices)
        rows = table.rows[: len(table.rows) - table.totals]  # show usage's Total: a script sums
        expected = []
        for row in rows:
            pairs = sorted((pair for j in devices for pair in row[j]), key=lambda pair: int(pair[0]))
            expected.append([field(row[j]) for j in plain] + [";".join(f"{i} {s}" for i, s in pairs)] * bool(devices))
        assert parsed[1:] == expected
        # Where every cell is one line, the values are the frame's, as printed.
        if all(isinstance(cell, str) for row in table.rows for cell in row):
            assert [[value.strip() for value in row] for row in parsed[1:]] == frame_rows(render(table))[:len(rows)]


@pytest.mark.parametrize("fmt", ["github", "grid", "psql", "plain", "html", "rst"])
def test_tabulate_formats_show_every_value(world, fmt):  # noqa: F811
    executor, tokens, m = world
    executor.output = fmt
    text = render(executor.execute_line("show token").result, fmt)
    for token in m.tokens:
        assert token in text
    assert "Max SDA" in text


def test_cells_are_neutralised_in_every_format(world):  # noqa: F811
    executor, tokens, m = world
    # This simulator refuses such text; another SDAManager may send it.
    m.tokens[tokens["U"]].description = "evil\x1b[31m\u202ered"
    for fmt in ("csv", "github"):
        text = render(executor.execute_line(f"get token {tokens['U']}").result, fmt)
        assert "\x1b" not in text and "\u202e" not in text and "evil" in text


def test_set_output_changes_the_sessions_format_and_says_which(world):  # noqa: F811
    executor, _, _ = world
    assert render(executor.execute_line("set output").result) == "Output format: table"
    assert render(executor.execute_line("set output CSV").result) == "Output format: csv"
    assert executor.output == "csv"
    bad = executor.execute_line("set output nope")
    assert bad.status == 2 and executor.output == "csv"
    assert render(bad.result).startswith("Unknown output format 'nope': expected one of table, json, csv, tsv, ")


def test_the_flag_and_the_environment_choose_the_format(sdamanager, capsys, monkeypatch):
    assert main(["--port", str(sdamanager.port), "-o", "csv", "--command", "show sdamodel"]) == 0
    assert capsys.readouterr().out.splitlines()[:2] == ["ID,Name,Devices", "1,Small.64GB,1"]
    monkeypatch.setenv("SMCLIENT_OUTPUT", "tsv")
    assert main(["--port", str(sdamanager.port), "--command", "show sdamodel"]) == 0
    assert capsys.readouterr().out.splitlines()[0] == "ID\tName\tDevices"
    assert main(["--port", str(sdamanager.port), "--output", "table", "--command", "show sdamodel"]) == 0
    assert capsys.readouterr().out.startswith("+---")


def test_an_unknown_format_is_a_usage_error_listing_the_valid_ones(capsys):
    assert main(["--port", "1", "-o", "yaml", "--command", "show token"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("moreh_smclient: Unknown output format 'yaml': expected one of table, json, csv, tsv, ")
    assert "github" in err and "unsafehtml" not in err and err.count("\n") == 1
    assert "unsafehtml" not in names()


def test_the_default_format_loads_no_format_module(sdamanager):
    code = ("import sys; from smclient.cli import main; status = main(['--port', sys.argv[1], '--command', "
            "'show sdamodel']); print(status, 'tabulate' in sys.modules, 'smclient.formats' in sys.modules, "
            "file=sys.stderr)")
    result = subprocess.run([sys.executable, "-c", code, str(sdamanager.port)], capture_output=True, text=True,
                            timeout=30)
    assert result.stderr.split() == ["0", "False", "False"]


# ---------------------------------------------------------------- json


@pytest.mark.parametrize("name", LISTINGS)
def test_every_listing_in_json_has_the_tables_rows_as_typed_objects(world, name):  # noqa: F811
    executor, tokens, _ = world
    line = EXAMPLES[name].format(**tokens)
    result = executor.execute_line(line).result
    tables = result if isinstance(result, list) else [result]
    printed = json.loads(render(Executor(executor.connection, output="json").execute_line(line).result, "json"))
    documents = printed if isinstance(result, list) else [printed]
    assert len(documents) == len(tables)
    for table, document in zip(tables, documents):
        headers = [column.header for column in table.columns]
        if table.record and headers == ["Name", "Value"]:  # one record, keyed by its names
            names = [snake(name) for name, _ in table.rows if not isinstance(name, Placement)]
            # a job's backends are nested under devices (backend -> indexes), never keys of their own
            assert list(document) == names + ["devices"] * ("frontend_id" in names)
            continue
        objects = [document] if table.record else document
        assert isinstance(objects, list) and len(objects) == len(table.rows) - table.totals
        keys = list(dict.fromkeys("devices" if c.kind == "devices" else snake(c.header) for c in table.columns))
        for obj, row in zip(objects, table.rows):
            assert list(obj) == keys
            for column, cell in zip(table.columns, row):
                got = obj["devices" if column.kind == "devices" else snake(column.header)]
                if cell == "":
                    assert got is None, (column.header, got)
                elif column.kind == "int":
                    assert got == int(cell)
                elif column.kind == "bool":
                    assert got is (cell == "True")
                elif column.kind == "time":
                    assert datetime.datetime.fromisoformat(got).astimezone().strftime("%Y-%m-%d %H:%M:%S") \
                        == cell[:19]
                elif column.kind == "text":
                    assert got == field(cell)


def test_json_types_multi_valued_cells(world):  # noqa: F811
    executor, tokens, m = world
    executor.output = "json"
    token = json.loads(render(executor.execute_line(f"get token {tokens['T']}").result, "json"))
    assert token["env_value"] == {"MOREH_ENV": "1"} and token["max_sda"] == 1 and token["cur_sda"] == 1
    backends = json.loads(render(executor.execute_line("show backend").result, "json"))
    assert [d["index"] for d in backends[0]["devices"]] == list(range(8))
    assert {d["status"] for b in backends for d in b["devices"]} <= {"IDLE", "PREPARING", "PROCESSING", "CLEANING",
                                                                    "SHUTDOWN"}
    groups = json.loads(render(executor.execute_line("show usergroup").result, "json"))
    assert groups[0]["childs"] == [tokens["T"]]
    sdas = json.loads(render(executor.execute_line(f"get sda {tokens['T']}").result, "json"))
    assert sdas[0]["be_id"] and all(isinstance(i, int) for i in sdas[0]["be_id"])
    assert all(isinstance(i, int) for devices in sdas[0]["device_id"] for i in devices)


def test_json_messages_and_errors(sdamanager, capsys):
    port = str(sdamanager.port)
    assert main(["--port", port, "-o", "json", "--command", "create token team 3"]) == 0
    made = json.loads(capsys.readouterr().out)
    assert made["message"].startswith("Create SDA Success (Token : ")
    assert main(["--port", port, "-o", "json", "--command", "get token nope"]) == 1
    out, err = capsys.readouterr()
    assert out == ""
    assert json.loads(err) == {"error": "Get Token information failed. (Token 'nope' does not exist.)", "exit": 1}
    assert main(["--port", port, "-o", "json", "--command", "create token"]) == 2
    assert json.loads(capsys.readouterr().err)["exit"] == 2
