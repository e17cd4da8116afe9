"""Contexts (the config file's named clusters) and the one-shot command line's completion
scripts, as an operator meets them: the console script run as a process against two
simulators, with HOME and XDG_CONFIG_HOME in the test's folder, and the bash (and zsh,
where installed) completion loaded in a real interactive shell."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from sdamanager_stub.testing import running_simulator
from smclient import cli
from smclient.cli import build_parser, config_path
from smclient.commands import GRAMMAR
from smclient.config import ConfigError, load

pexpect = pytest.importorskip("pexpect")

BIN = Path(sys.executable).parent
SCRIPT = BIN / "moreh_smclient"
# What would point the shell elsewhere than the test says.
INHERITED = ("SDAMANAGER_IP", "SDAMANAGER_PORT", "MOREH_SDA_MANAGER_ADDRESS", "SDAMANAGER_ADMIN_SECRET",
             "SDAMANAGER_ADMIN_SECRET_FILE", "SDAMANAGER_TLS_CA", "SMCLIENT_CONFIG", "SMCLIENT_CONTEXT",
             "SMCLIENT_OUTPUT", "SMCLIENT_HISTFILE", "XDG_CONFIG_HOME")


class Clusters:
    """Two simulators, a and b, each with one token whose description names it."""

    def __init__(self, a: Any, b: Any, tmp_path: Path) -> None:
        self.a, self.b = a, b
        self.home = tmp_path / "home"
        self.xdg = tmp_path / "xdg"
        self.home.mkdir()
        self.config = self.xdg / "moreh_smclient" / "config.toml"
        self.config.parent.mkdir(parents=True)

    def env(self, **extra: str) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if k not in INHERITED}
        return {**env, "HOME": str(self.home), "XDG_CONFIG_HOME": str(self.xdg), **extra}

    def write(self, text: str, mode: int = 0o600) -> Path:
        self.config.write_text(text)
        os.chmod(self.config, mode)
        return self.config

    def run(self, *args: str, **extra: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([str(SCRIPT), "--timeout", "5", *args], capture_output=True, text=True, timeout=60,
                              env=self.env(**extra))


def contexts_file(c: Clusters, default: str | None = None, extra_a: str = "", extra_b: str = "") -> str:
    head = f'default-context = "{default}"\n\n' if default else ""
    return (f'{head}[context.a]\naddress = "{c.a.address}"\n{extra_a}\n'
            f'[context.b]\naddress = "{c.b.address}"\n{extra_b}\n')


@pytest.fixture(scope="module")
def simulators() -> Iterator[tuple[Any, Any]]:
    with running_simulator(backends=1, devices=1) as a, running_simulator(backends=1, devices=1) as b:
        a.manager.create_token("cluster-a-token")
        b.manager.create_token("cluster-b-token")
        yield a, b


@pytest.fixture
def clusters(simulators: tuple[Any, Any], tmp_path: Path) -> Clusters:
    return Clusters(*simulators, tmp_path)


def reached(result: subprocess.CompletedProcess[str]) -> str:
    """Which cluster `show token` answered from."""
    assert result.returncode == 0, result.stderr
    found = re.findall(r"cluster-(\w)-token", result.stdout)
    assert len(found) == 1, result.stdout
    return found[0]


def one_line_error(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 2, (result.stdout, result.stderr)
    assert result.stdout == ""
    assert "Traceback" not in result.stderr
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    return lines[0]


# ---------------------------------------------------------------- choosing a context

def test_each_context_reaches_its_own_cluster(clusters):
    clusters.write(contexts_file(clusters))
    assert reached(clusters.run("--context", "a", "--command", "show token")) == "a"
    assert reached(clusters.run("--context", "b", "--command", "show token")) == "b"


def test_smclient_context_chooses_and_the_flag_wins_over_it(clusters):
    clusters.write(contexts_file(clusters))
    assert reached(clusters.run("-c", "show token", SMCLIENT_CONTEXT="b")) == "b"
    assert reached(clusters.run("--context", "a", "-c", "show token", SMCLIENT_CONTEXT="b")) == "a"


def test_the_default_context_is_used_when_none_is_named(clusters):
    clusters.write(contexts_file(clusters, default="b"))
    assert reached(clusters.run("-c", "show token")) == "b"
    assert reached(clusters.run("--context", "a", "-c", "show token")) == "a"
    assert reached(clusters.run("-c", "show token", SMCLIENT_CONTEXT="a")) == "a"


def test_smclient_config_names_another_file(clusters, tmp_path):
    other = tmp_path / "elsewhere.toml"
    other.write_text(f'default-context = "a"\n[context.a]\naddress = "{clusters.a.address}"\n')
    other.chmod(0o600)
    clusters.write(contexts_file(clusters, default="b"))
    assert reached(clusters.run("-c", "show token", SMCLIENT_CONFIG=str(other))) == "a"


# ---------------------------------------------------------------- precedence: flag > environment > context > default

def test_flags_win_over_the_context(clusters):
    clusters.write(contexts_file(clusters))
    assert reached(clusters.run("--context", "a", "--port", str(clusters.b.port), "-c", "show token")) == "b"
    # --ip wins over the context's host; the context's port stays.
    clusters.write(f'[context.a]\naddress = "nowhere.invalid:{clusters.a.port}"\n')
    assert reached(clusters.run("--context", "a", "--ip", "127.0.0.1", "-c", "show token")) == "a"


def test_environment_wins_over_the_context(clusters):
    clusters.write(contexts_file(clusters))
    assert reached(clusters.run("--context", "a", "-c", "show token", SDAMANAGER_PORT=str(clusters.b.port))) == "b"
    assert reached(clusters.run("--context", "a", "-c", "show token",
                                MOREH_SDA_MANAGER_ADDRESS=clusters.b.address)) == "b"
    # ... and a flag over the environment.
    assert reached(clusters.run("--context", "a", "--port", str(clusters.a.port), "-c", "show token",
                                SDAMANAGER_PORT=str(clusters.b.port))) == "a"


def test_output_from_the_context_and_what_wins_over_it(clusters):
    clusters.write(contexts_file(clusters, extra_a='output = "json"'))
    result = clusters.run("--context", "a", "-c", "show token")
    assert json.loads(result.stdout)[0]["description"] == "cluster-a-token"
    assert clusters.run("--context", "a", "-c", "show token", SMCLIENT_OUTPUT="csv").stdout.startswith("Token,")
    assert clusters.run("--context", "a", "-o", "table", "-c", "show token").stdout.startswith("+")


def test_an_unknown_format_in_the_context_names_the_key(clusters):
    clusters.write(contexts_file(clusters, extra_a='output = "nope"'))
    line = one_line_error(clusters.run("--context", "a", "-c", "show token"))
    assert line.startswith(f"moreh_smclient: {clusters.config}: context.a.output: Unknown output format 'nope'")


def test_admin_secret_file_from_the_context_relative_to_the_config_file(tmp_path):
    with running_simulator(backends=1, devices=1, admin_secret="s3cret-value") as sim:
        sim.manager.create_token("cluster-s-token")
        c = Clusters(sim, sim, tmp_path)
        (c.config.parent / "s.secret").write_text("s3cret-value\n")
        (c.config.parent / "s.secret").chmod(0o600)
        c.write(f'[context.s]\naddress = "{sim.address}"\nadmin-secret-file = "s.secret"\n'
                f'[context.nosecret]\naddress = "{sim.address}"\n')
        assert reached(c.run("--context", "s", "-c", "show token")) == "s"
        refused = c.run("--context", "nosecret", "-c", "show token")
        assert refused.returncode != 0 and "secret" in refused.stderr
        # $SDAMANAGER_ADMIN_SECRET wins over the context's file.
        wrong = c.run("--context", "s", "-c", "show token", SDAMANAGER_ADMIN_SECRET="wrong")
        assert wrong.returncode != 0


def run_main(monkeypatch, clusters: Clusters, *args: str, **extra: str) -> dict[str, Any]:
    """cli.main in this process, with what it would hand to the one-shot runner captured."""
    for name in INHERITED:
        monkeypatch.delenv(name, raising=False)
    for name, value in clusters.env(**extra).items():
        monkeypatch.setenv(name, value)
    seen: dict[str, Any] = {}

    def fake_run_script(connection, lines, **options):  # type: ignore[no-untyped-def]
        seen.update(options, address=str(connection.address))
        return 0

    monkeypatch.setattr(cli, "run_script", fake_run_script)
    assert cli.main(list(args)) == 0
    return seen


def test_pager_from_the_context_feeds_the_options_and_no_pager_wins(monkeypatch, clusters):
    clusters.write(contexts_file(clusters, extra_a='pager = "ON"', extra_b='pager = "off"'))
    assert run_main(monkeypatch, clusters, "--context", "a", "-c", "help")["pager"] == "on"
    assert run_main(monkeypatch, clusters, "--context", "b", "-c", "help")["pager"] == "off"
    assert run_main(monkeypatch, clusters, "--context", "a", "--no-pager", "-c", "help")["pager"] == "off"
    clusters.write(contexts_file(clusters))
    seen = run_main(monkeypatch, clusters, "--context", "a", "-c", "help")
    assert seen["pager"] == "auto" and seen["address"] == clusters.a.address


def test_history_file_from_the_context_and_smclient_histfile_wins(monkeypatch, clusters, tmp_path):
    from smclient.history import default_path

    clusters.write(contexts_file(clusters, extra_a='history-file = "~/a_history"'))
    run_main(monkeypatch, clusters, "--context", "a", "-c", "help")
    assert default_path() == clusters.home / "a_history"
    run_main(monkeypatch, clusters, "--context", "a", "-c", "help", SMCLIENT_HISTFILE=str(tmp_path / "mine"))
    assert default_path() == tmp_path / "mine"


def test_the_interactive_shell_keeps_history_in_the_contexts_file(clusters):
    clusters.write(contexts_file(clusters, extra_b='history-file = "b_history"'))
    env = clusters.env(TERM="xterm", PROMPT_TOOLKIT_NO_CPR="1", SMCLIENT_PAGER="cat")
    child = pexpect.spawn(str(SCRIPT), ["--context", "b"], encoding="utf-8", timeout=20, dimensions=(40, 200),
                          env=env)
    try:
        child.expect(f"Connect to {re.escape(clusters.b.address)}")
        child.expect(">")
        child.sendline("show token")
        child.expect("cluster-b-token")
        child.expect(">")
        child.sendline("exit")
        child.expect(pexpect.EOF)
    finally:
        child.close()
    history = clusters.config.parent / "b_history"
    assert "+show token\n" in history.read_text()
    assert history.stat().st_mode & 0o777 == 0o600


# ---------------------------------------------------------------- a bad file: one line, exit 2

def test_a_syntax_error_names_the_file_and_the_line(clusters):
    clusters.write(f'[context.a]\naddress = "{clusters.a.address}"\npager = \n')
    line = one_line_error(clusters.run("--context", "a", "-c", "show token"))
    assert line.startswith(f"moreh_smclient: {clusters.config}:3: Invalid value")


@pytest.mark.parametrize(("text", "line_no", "expected"), [
    ('[context.a]\naddress = "h"\nadress = "x"\n', 3, "unknown key context.a.adress (known: address, tls-ca"),
    ('contexts = 1\n', 1, "unknown key contexts"),
    ('[context.a]\naddress = 30105\n', 2, "context.a.address must be a string, not an integer"),
    ('[context.a]\npager = "sometimes"\n', 2, "context.a.pager 'sometimes': expected on, off or auto"),
    ('[context.a]\naddress = "h:99999"\n', 2, "context.a.address 'h:99999': invalid port 99999"),
    ('default-context = "c"\n[context.a]\n', 1, "default-context 'c' names no [context.NAME] table"),
])
def test_a_wrong_key_or_value_is_named(clusters, text, line_no, expected):
    clusters.write(text)
    line = one_line_error(clusters.run("-c", "show token"))
    assert line.startswith(f"moreh_smclient: {clusters.config}:{line_no}: {expected}"), line


@pytest.mark.parametrize("text", ['[context.a]\nadmin-secret = "hunter2"\n', 'admin_secret = "hunter2"\n',
                                  '[context.a]\npassword = "hunter2"\n'])
def test_a_secret_value_is_refused(clusters, text):
    clusters.write(text)
    line = one_line_error(clusters.run("--list-contexts"))
    assert "never holds a secret's value" in line and "admin-secret-file" in line
    assert "hunter2" not in line


@pytest.mark.parametrize(("mode", "who"), [(0o602, "others"), (0o620, "group"), (0o666, "group and others")])
def test_a_file_others_can_write_is_refused(clusters, mode, who):
    path = clusters.write(contexts_file(clusters, default="a"), mode=mode)
    line = one_line_error(clusters.run("-c", "show token"))
    assert line.startswith(f"moreh_smclient: {path} is writable by {who}")
    assert line.endswith(f"run chmod go-w {path}")
    os.chmod(path, 0o644)  # readable by all is fine
    assert reached(clusters.run("-c", "show token")) == "a"


def test_an_unknown_context_name(clusters):
    clusters.write(contexts_file(clusters))
    line = one_line_error(clusters.run("--context", "c", "-c", "show token"))
    assert line == f"moreh_smclient: {clusters.config}: no context 'c' (--context; contexts: a, b)"
    line = one_line_error(clusters.run("-c", "show token", SMCLIENT_CONTEXT="zz"))
    assert "no context 'zz' ($SMCLIENT_CONTEXT" in line


def test_a_context_without_a_config_file(clusters):
    line = one_line_error(clusters.run("--context", "a", "-c", "show token"))
    assert line == f"moreh_smclient: no context 'a' (--context): there is no config file {clusters.config}"
    missing = clusters.home / "nope.toml"
    line = one_line_error(clusters.run("-c", "show token", SMCLIENT_CONFIG=str(missing)))
    assert line == f"moreh_smclient: cannot read the config file {missing}: No such file or directory"


def test_load_is_pure_and_takes_paths_from_the_files_folder(tmp_path):
    path = tmp_path / "c.toml"
    path.write_text('[context.x]\ntls-ca = "ca.pem"\nadmin-secret-file = "/abs/s"\nhistory-file = ""\n')
    path.chmod(0o600)
    config = load(str(path))
    x = config.select("x")
    assert (x.tls_ca, x.admin_secret_file, x.history_file) == (str(tmp_path / "ca.pem"), "/abs/s", "")
    assert config.select(None) is None
    with pytest.raises(ConfigError):
        config.select("y")


# ---------------------------------------------------------------- listing contexts, start-up cost

def test_list_contexts(clusters):
    clusters.write(contexts_file(clusters, default="b"))
    result = clusters.run("--list-contexts")
    assert (result.returncode, result.stdout, result.stderr) == (0, "a\nb\n", "")
    # An unknown $SMCLIENT_CONTEXT does not stop the listing (completion runs it).
    assert clusters.run("--list-contexts", SMCLIENT_CONTEXT="zz").stdout == "a\nb\n"
    clusters.config.unlink()
    result = clusters.run("--list-contexts")
    assert (result.returncode, result.stdout, result.stderr) == (0, "", "")


def test_config_path():
    assert config_path({"SMCLIENT_CONFIG": "/x.toml", "XDG_CONFIG_HOME": "/c"}) == ("/x.toml", True)
    assert config_path({"XDG_CONFIG_HOME": "/c", "HOME": "/h"}) == ("/c/moreh_smclient/config.toml", False)
    assert config_path({"XDG_CONFIG_HOME": "rel", "HOME": "/h"}) == ("/h/.config/moreh_smclient/config.toml", False)
    assert config_path({"HOME": "/h"}) == ("/h/.config/moreh_smclient/config.toml", False)


def test_without_a_config_file_neither_config_nor_tomllib_is_imported(clusters):
    probe = ("import sys; from smclient.cli import main; status = main(['--port', '1', '-c', 'help']); "
             "print('config' if 'smclient.config' in sys.modules else '', "
             "'tomllib' if 'tomllib' in sys.modules else '', file=sys.stderr)")
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60,
                            env=clusters.env())
    assert result.returncode == 0 and result.stderr.strip() == "", result.stderr


# ---------------------------------------------------------------- completion scripts

def command_first_words() -> set[str]:
    return {key[0] for key, topic in GRAMMAR.by_words.items() if not topic.command.hidden}


def test_the_scripts_come_from_the_parser_and_the_command_table(clusters):
    bash = clusters.run("--completion", "bash")
    zsh = clusters.run("--completion", "zsh")
    assert bash.returncode == zsh.returncode == 0
    options = {o for action in build_parser()._actions for o in action.option_strings}
    declared = re.search(r"^_moreh_smclient_options=\((.*)\)$", bash.stdout, re.M)
    assert declared and set(declared.group(1).split()) == options
    for word in command_first_words():
        assert re.search(rf"[ (']{word}[ ')]", bash.stdout.split("_moreh_smclient_commands=(")[1].split("\n")[0])
    for option in options:
        assert f"{option}[" in zsh.stdout or f"{option}=[" in zsh.stdout or f"{option}+[" in zsh.stdout
    assert subprocess.run(["bash", "-n"], input=bash.stdout, text=True).returncode == 0


def line_words(child: Any, prompt: str) -> list[str]:
    """Run `printf` on the line typed so far instead of the command: its words, one by one."""
    child.send("\x01")  # Ctrl-A: the line's start
    child.send("printf 'ARG<%s>' ")
    child.sendline("")
    child.expect(r"((?:ARG<[^>%]*>)+)")
    words = re.findall(r"ARG<([^>]*)>", child.match.group(1))
    child.expect_exact(prompt)
    return words


class Bash:
    """An interactive bash with the completion loaded, on a pseudo-terminal."""

    PROMPT = "READY> "

    def __init__(self, env: dict[str, str], script: str) -> None:
        env = {**env, "PATH": f"{BIN}{os.pathsep}{env.get('PATH', '')}", "TERM": "dumb", "PS1": self.PROMPT,
               "INPUTRC": "/dev/null"}
        self.child = pexpect.spawn("bash", ["--norc", "--noprofile", "-i"], encoding="utf-8", timeout=20,
                                   env=env, dimensions=(30, 250))
        self.child.expect_exact(self.PROMPT)
        self.child.sendline(script)
        self.child.expect_exact(self.PROMPT)

    def complete(self, typed: str, tabs: int = 1) -> None:
        self.child.send(typed)
        for _ in range(tabs):
            self.child.send("\t")

    def words(self) -> list[str]:
        """The command line's words as typed and completed (the shell's own splitting)."""
        return line_words(self.child, self.PROMPT)

    def cancel(self) -> None:
        self.child.sendcontrol("c")
        self.child.expect_exact(self.PROMPT)

    def close(self) -> None:
        self.child.sendline("exit")
        self.child.expect(pexpect.EOF)
        self.child.close()


@pytest.fixture
def bash(clusters) -> Iterator[Bash]:
    if shutil.which("bash") is None:
        pytest.skip("bash is not installed")
    clusters.write('[context.prod-east]\naddress = "10.0.0.1"\n[context.staging]\naddress = "10.0.0.2"\n')
    shell = Bash(clusters.env(), "source <(moreh_smclient --completion bash)")
    yield shell
    shell.close()


def test_bash_completes_the_context_names_from_the_config_file(bash):
    bash.complete("moreh_smclient --context ", tabs=2)
    bash.child.expect(r"prod-east\s+staging")
    bash.cancel()
    bash.complete("moreh_smclient --context st")
    assert bash.words() == ["moreh_smclient", "--context", "staging"]


def test_bash_completes_options_and_formats(bash):
    bash.complete("moreh_smclient --list-con")
    assert bash.words() == ["moreh_smclient", "--list-contexts"]
    bash.complete("moreh_smclient -o js")
    assert bash.words() == ["moreh_smclient", "-o", "json"]


def test_bash_completes_the_commands_inside_the_quotes(bash):
    bash.complete("moreh_smclient --command 'sh")
    bash.child.send("token'")  # after 'show ' the quote is still open
    assert bash.words() == ["moreh_smclient", "--command", "show token"]
    bash.complete("moreh_smclient --command 'show token; del")
    bash.child.send("token X'")
    assert bash.words() == ["moreh_smclient", "--command", "show token; delete token X"]
    # One command that takes arguments: its name, the quote kept open, and its usage on the next Tab.
    bash.complete("moreh_smclient --command 'create tok", tabs=3)
    bash.child.expect(r"create token \{description\} \{priority : optional\}")
    bash.cancel()
    bash.complete("moreh_smclient --command 'create tok")
    bash.child.send("alice 5'")
    assert bash.words() == ["moreh_smclient", "--command", "create token alice 5"]
    # Not quoted yet: the completion opens the quote.
    bash.complete("moreh_smclient -c sh")
    bash.child.send("sdamodel'")
    assert bash.words() == ["moreh_smclient", "-c", "show sdamodel"]
    # A command that takes nothing more is closed.
    bash.complete("moreh_smclient -c 'show server v")
    assert bash.words() == ["moreh_smclient", "-c", "show server version"]


def test_zsh_completes_the_context_names_and_commands(clusters):
    zsh = shutil.which("zsh")
    if zsh is None:
        pytest.skip("zsh is not installed here: the script's generation is tested above, not its use")
    script = clusters.run("--completion", "zsh").stdout
    assert subprocess.run([zsh, "-n"], input=script, text=True).returncode == 0
    clusters.write('[context.prod-east]\naddress = "10.0.0.1"\n[context.staging]\naddress = "10.0.0.2"\n')
    env = {**clusters.env(), "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}", "TERM": "dumb"}
    child = pexpect.spawn(zsh, ["-f", "-i"], encoding="utf-8", timeout=20, env=env, dimensions=(30, 250))
    try:
        child.sendline("PS1='READY> '; bindkey -e; autoload -U compinit; compinit -u; "
                       "source <(moreh_smclient --completion zsh)")
        child.expect_exact("READY> ")
        child.send("moreh_smclient --context \t")
        child.expect(r"prod-east\s+staging")
        child.sendcontrol("c")
        child.expect_exact("READY> ")
        child.send("moreh_smclient --command 'update tok\tpri\t")
        child.send("T 1; sh\tsdam\t'")
        assert line_words(child, "READY> ") == ["moreh_smclient", "--command",
                                                "update token priority T 1; show sdamodel"]
        child.sendline("exit")
        child.expect(pexpect.EOF)
    finally:
        child.close()
