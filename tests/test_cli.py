"""The console script as an operator runs it: one-shot mode, piped input,
addresses, exit statuses, and an unreachable or silent server."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from smclient.api.address import Address, resolve_address
from smclient.cli import main
from smclient.executor import split_commands

SCRIPT = Path(sys.executable).with_name("moreh_smclient")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run_script(*args: str, stdin: str | None = None, env: dict[str, str] | None = None,
               timeout: float = 30) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(SCRIPT), *args], input=stdin, capture_output=True, text=True, timeout=timeout,
                          env={**os.environ, **(env or {})})


def test_one_shot_prints_only_the_output(sdamanager):
    result = run_script("--port", str(sdamanager.port), "--command", "create token babukk89@gmail.com_doc")
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    token = sdamanager.manager.list_tokens()[0].value
    assert result.stdout == f"Create SDA Success (Token : {token})\n"


def test_a_chain_stops_at_its_first_failure_with_its_status(sdamanager, capsys):
    status = main(["--port", str(sdamanager.port), "--command",
                   "create token first; delete token nope; create token 'second one' 3"])
    out, err = capsys.readouterr()
    assert status == 1
    assert out.count("Create SDA Success (Token : ") == 1
    assert err == "Delete Token failed. (Token 'nope' does not exist.)\n"
    assert [t.description for t in sdamanager.manager.list_tokens()] == ["first"]


def test_a_forced_chain_runs_everything_and_exits_with_the_first_failure(sdamanager, capsys):
    status = main(["--port", str(sdamanager.port), "--force", "--command",
                   "create token first; delete token nope; create token; create token 'second one' 3"])
    out, err = capsys.readouterr()
    assert status == 1  # the first failure's (1), not the last's (2: the usage error)
    assert out.count("Create SDA Success (Token : ") == 2
    assert err.splitlines() == ["Delete Token failed. (Token 'nope' does not exist.)",
                                "Invalid arguments. (usages : create token {description} {priority : optional})"]
    assert [t.description for t in sdamanager.manager.list_tokens()] == ["first", "second one"]


SCRIPT_TEXT = """# tokens for the new team
create token team-a 3

   # an indented comment, then a blank line
create token
create token team-b 1
"""


@pytest.mark.parametrize("force", [False, True], ids=["stops", "forced"])
def test_a_script_runs_as_typed_and_names_the_failing_line(sdamanager, tmp_path, force):
    path = tmp_path / "tokens.smc"
    path.write_text(SCRIPT_TEXT)
    result = run_script("--port", str(sdamanager.port), "--file", str(path), *(["--force"] if force else []))
    assert result.returncode == 2
    assert result.stderr == (f"{path}:5: Invalid arguments. (usages : create token {{description}} "
                             "{priority : optional})\n")
    made = [t.description for t in sdamanager.manager.list_tokens()]
    assert made == (["team-a", "team-b"] if force else ["team-a"])
    assert result.stdout.count("Create SDA Success") == len(made)


def test_a_script_on_standard_input(sdamanager):
    result = run_script("--port", str(sdamanager.port), "--file", "-", stdin="show sdamodel\nget token nope\n")
    assert result.returncode == 1
    assert "48xLarge.24576GB" in result.stdout
    assert result.stderr == "<stdin>:2: Get Token information failed. (Token 'nope' does not exist.)\n"


@pytest.mark.parametrize(("args", "message"), [
    (["--file", "/nonexistent/script"], "moreh_smclient: cannot read /nonexistent/script: No such file or directory"),
    (["--force"], "moreh_smclient: error: --force goes with --command or --file"),
    (["--file", "-", "--command", "show token"],
     "moreh_smclient: error: --command and --file go alone: give one of them"),
])
def test_script_options_that_cannot_work_are_one_line_and_exit_2(args, message):
    result = run_script("--port", "1", *args)
    assert result.returncode == 2
    assert result.stderr.splitlines()[-1] == message


def test_output_to_a_full_disk_is_one_line_not_a_traceback(sdamanager):
    with open("/dev/full", "w") as full:
        result = subprocess.run([str(SCRIPT), "--port", str(sdamanager.port), "--command", "show membership"],
                                stdout=full, stderr=subprocess.PIPE, text=True, timeout=30)
    assert result.returncode == 1
    assert result.stderr == "moreh_smclient: cannot write the output: No space left on device\n"


def test_usage_errors_exit_2_and_name_help(sdamanager, capsys):
    assert main(["--port", str(sdamanager.port), "--command", "shwo token"]) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert err == "Unknown command: 'shwo token'. Type 'help' to list the commands.\n"


def test_unreachable_server_exits_3_with_one_line_naming_the_address():
    port = free_port()
    started = time.monotonic()
    result = run_script("--port", str(port), "--timeout", "2", "--command", "show sdamodel")
    assert time.monotonic() - started < 10
    assert result.returncode == 3
    assert result.stdout == ""
    assert result.stderr == f"Cannot connect to SDAManager at 127.0.0.1:{port}.\n"


def test_a_server_that_never_answers_times_out_with_exit_3(capsys):
    # A socket that accepts connections and never speaks HTTP/2.
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    port = listener.getsockname()[1]
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        listener.settimeout(0.2)
        while not stop.is_set():
            try:
                held.append(listener.accept()[0])
            except OSError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        started = time.monotonic()
        status = main(["--port", str(port), "--timeout", "1", "--command", "show token"])
        elapsed = time.monotonic() - started
    finally:
        stop.set()
        thread.join()
        for conn in held:
            conn.close()
        listener.close()
    out, err = capsys.readouterr()
    assert status == 3
    assert elapsed < 5
    assert out == ""
    assert err.count("\n") == 1 and f"127.0.0.1:{port}" in err


def test_piped_input_prints_only_command_output(sdamanager):
    result = run_script("--port", str(sdamanager.port), stdin="show sdamodel\nexit\nshow token\n")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].startswith("+---") and "|  ID  |        Name        |  Devices  |" in lines
    assert len(lines) == 13 + 4  # the 13 models in their frame; nothing after `exit`
    assert "SDAManager's Client" not in result.stdout


def test_piped_input_exits_with_the_last_failure(sdamanager):
    result = run_script("--port", str(sdamanager.port), stdin="get token nope\nshow sdamodel\n")
    assert result.returncode == 1
    assert result.stderr == "Get Token information failed. (Token 'nope' does not exist.)\n"


def test_bad_port_is_a_usage_error(capsys):
    assert main(["--port", "abc", "--command", "show token"]) == 2
    assert capsys.readouterr().err == "moreh_smclient: invalid port 'abc': expected a number 1-65535\n"


@pytest.mark.parametrize(("env", "flags", "expected"), [
    ({}, (None, None), Address("127.0.0.1", 30105)),
    ({"SDAMANAGER_IP": "10.0.0.5", "SDAMANAGER_PORT": "50052"}, (None, None), Address("10.0.0.5", 50052)),
    ({"MOREH_SDA_MANAGER_ADDRESS": "192.168.64.103:50052"}, (None, None), Address("192.168.64.103", 50052)),
    ({"MOREH_SDA_MANAGER_ADDRESS": "sdamanager.maf"}, (None, None), Address("sdamanager.maf", 30105)),
    ({"MOREH_SDA_MANAGER_ADDRESS": "[fd00::1]:7000"}, (None, None), Address("fd00::1", 7000)),
    ({"SDAMANAGER_IP": "10.0.0.5", "MOREH_SDA_MANAGER_ADDRESS": "10.9.9.9:1234"}, (None, None),
     Address("10.0.0.5", 1234)),
    ({"SDAMANAGER_IP": "10.0.0.5", "SDAMANAGER_PORT": "1"}, ("127.0.0.2", "30106"), Address("127.0.0.2", 30106)),
])
def test_address_resolution(env, flags, expected):
    assert resolve_address(*flags, env=env) == expected


def test_ipv6_address_is_bracketed():
    assert str(Address("fd00::1", 7000)) == "[fd00::1]:7000"


@pytest.mark.parametrize(("text", "parts"), [
    ("show token; show job", ["show token", "show job"]),
    ("create token 'a;b' 1;show token;", ["create token 'a;b' 1", "show token"]),
    ('create token "x \\" ; y"', ['create token "x \\" ; y"']),
    ("  ;  ; ", []),
])
def test_split_commands(text, parts):
    assert split_commands(text) == parts


def test_piped_bytes_that_are_not_utf8_are_one_usage_line(sdamanager):
    result = subprocess.run([str(SCRIPT), "--port", str(sdamanager.port)],
                            input=b"create token \xff\xfe\nshow sdamodel\n", capture_output=True, timeout=30)
    assert result.returncode == 2
    assert result.stderr == b"The line has bytes that are not valid UTF-8.\n"
    assert b"Small.64GB" in result.stdout


def test_a_reader_that_goes_away_is_no_traceback(sdamanager):
    sdamanager.manager.add_default_cluster(400, 8)  # a listing far bigger than a pipe's buffer
    shell = subprocess.Popen([str(SCRIPT), "--port", str(sdamanager.port), "--command", "show backend"],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    first = shell.stdout.readline()
    shell.stdout.close()  # like `| head -1`
    assert shell.wait(timeout=30) == 0
    assert first.startswith(b"+---")
    assert shell.stderr.read() == b""
    shell.stderr.close()


def test_a_terminal_that_cannot_show_korean_gets_replacements_not_a_traceback(sdamanager):
    sdamanager.manager.create_token("한국어 고객", 0)
    result = run_script("--port", str(sdamanager.port), "--command", "show token",
                        env={"PYTHONIOENCODING": "latin-1"})
    assert (result.returncode, result.stderr) == (0, "")
    assert "?" in result.stdout
