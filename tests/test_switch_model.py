"""moreh-switch-model beyond the golden transcripts: the console script reading a real
pipe (`printf '2\\nq\\n' | moreh-switch-model`), the end of input, Ctrl-C, and a
restriction that changes while the menu is open (the server has the last word)."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from pathlib import Path

import pytest

from smclient.vm import switch_model

BIN = Path(sys.executable).parent


@pytest.fixture
def grouped(sdamanager, monkeypatch):
    """The seed's setup: models small and large in SDA model group mg1, the token's
    user group a member of it, its SDA of small in mg1."""
    m = sdamanager.manager
    token = m.create_token("customer", 0).value
    small, large = m.create_sdamodel("small", 1).id, m.create_sdamodel("large", 2).id
    group = m.create_sdamodelgroup("mg1", 0, [small, large]).id
    users = m.create_usergroup("ug1", "", [token]).id
    m.add_membership(users, group)
    m.create_sda(token, "vm", small, group)
    for name in ("SDAMANAGER_IP", "SDAMANAGER_PORT"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("MOREH_SDA_MANAGER_ADDRESS", sdamanager.address)
    monkeypatch.setenv("MOREH_SDA_TOKEN", token)
    return token, users, group, large


MENU = ["Current Moreh SDA: small at mg1", "", "1. small mg1 *", "2. large mg1", ""]


def test_a_pipe_drives_the_menu(sdamanager, grouped):
    token, _, _, large = grouped
    env = {k: v for k, v in os.environ.items() if not k.startswith("SDAMANAGER_")}
    # Bytes that are not UTF-8 are an invalid selection like any other.
    proc = subprocess.run(f"printf '\\377\\n2\\nq\\n' | '{BIN / 'moreh-switch-model'}'", shell=True, env=env,
                          capture_output=True, timeout=30)
    assert proc.returncode == 0, proc
    assert proc.stdout.decode().splitlines() == [
        *MENU,
        "Selection (1-2, q, Q): \ufffd",
        "Selection (1-2, q, Q): 2",
        'The Moreh SDA model is successfully switched to  "large".',
        "", "1. small mg1", "2. large mg1 *", "",
        "Selection (1-2, q, Q): q",
    ]
    assert proc.stderr.decode() == "Invalid selection '\ufffd': enter 1-2, q or Q.\n"
    assert sdamanager.manager.sda(1).model_id == large


def run(monkeypatch, capsys, stdin, argv=()) -> tuple[int, list[str], str]:
    monkeypatch.setattr(sys, "stdin", stdin)
    status = switch_model.main(list(argv))
    out, err = capsys.readouterr()
    return status, out.splitlines(), err


def test_end_of_input_ends_the_menu_with_exit_0(grouped, monkeypatch, capsys):
    assert run(monkeypatch, capsys, io.StringIO("")) == (0, [*MENU, "Selection (1-2, q, Q): "], "")


def test_ctrl_c_at_the_prompt_is_no_traceback(grouped, monkeypatch, capsys):
    class Interrupted(io.StringIO):
        def readline(self, *args):  # type: ignore[override]
            raise KeyboardInterrupt

    status, out, err = run(monkeypatch, capsys, Interrupted())
    assert (status, out[-1], err) == (130, "Selection (1-2, q, Q): ", "")


def test_a_model_taken_out_of_the_group_while_the_menu_is_open_is_refused(sdamanager, grouped, monkeypatch, capsys):
    token, users, group, large = grouped
    m = sdamanager.manager

    class OperatorActsFirst(io.StringIO):
        """The operator takes `large` out of mg1 while the customer reads the menu."""

        def readline(self, *args):  # type: ignore[override]
            if self.tell() == 0:
                m.remove_sdamodelgroup_model(group, large)
            return super().readline(*args)

    status, out, err = run(monkeypatch, capsys, OperatorActsFirst("2\nq\n"))
    assert status == 1
    assert out == [*MENU, "Selection (1-2, q, Q): 2", "Selection (1-2, q, Q): q"]
    assert err == "Switch model failed. (SDAModel 54 is not in SDAModel group 1 (mg1).)\n"
    assert m.sda(1).model_id != large
    status, out, _ = run(monkeypatch, capsys, io.StringIO("q\n"))
    assert (status, out) == (0, [*MENU[:3], "", "Selection (1-1, q, Q): q"])
    # Without the membership the token is no longer restricted: every model, none in a group.
    m.remove_membership(users, group)
    status, out, _ = run(monkeypatch, capsys, io.StringIO("q\n"))
    assert out[0] == "Current Moreh SDA: small at mg1" and "2. small  *" in out and "mg1" not in "".join(out[1:])


def test_the_token_option_wins_over_the_environment(sdamanager, grouped, monkeypatch, capsys):
    other = sdamanager.manager.create_token("other", 0).value
    monkeypatch.setenv("MOREH_SDA_TOKEN", other)
    assert run(monkeypatch, capsys, io.StringIO(""), ["-M", "1"])[0] == 1  # `other` has no SDA
    status, out, err = run(monkeypatch, capsys, io.StringIO(""), ["--token", grouped[0], "-M", "2"])
    assert (status, out, err) == (0, ['The Moreh SDA model is successfully switched to  "large".'], "")
