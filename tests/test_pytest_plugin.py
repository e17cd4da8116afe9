"""The `sdamanager` fixture (sdamanager_stub/pytest_plugin.py, entry point pytest11) as
another project sees it, through pytester; and sdamanager_stub.testing outside pytest."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import grpc
import pytest

from sdamanager_stub.testing import OPTIONS, check_options, running_simulator
from smclient.api import sdamanager_pb2 as pb
from smclient.api.sdamanager_pb2_grpc import SDAManagerStub

pytest_plugins = ["pytester"]


def run(pytester: pytest.Pytester, *args: str) -> pytest.RunResult:
    # -p no:cacheprovider: nothing written beside the test files; the plugin itself
    # comes from the installed entry point, as in any other project.
    return pytester.runpytest_subprocess("-p", "no:cacheprovider", "-p", "no:randomly", *args, timeout=300)


def test_a_project_gets_a_running_simulator_with_an_admin_client(pytester):
    pytester.makepyfile(test_tool="""
        import os, subprocess, sys, grpc
        from smclient.api import sdamanager_pb2 as pb

        SHELL = os.path.join(os.path.dirname(sys.executable), "moreh_smclient")

        def test_it(sdamanager):
            assert sdamanager.address == f"127.0.0.1:{sdamanager.port}" and sdamanager.port > 0
            assert (len(sdamanager.manager.backends), sdamanager.admin_secret) == (4, None)
            status, out, err = sdamanager.admin.run("show sdamodel")
            assert status == 0 and "Small.64GB" in out and out.endswith("\\n") and err == ""
            assert len(sdamanager.admin.stub.ListSdaModels(pb.ListSdaModelsRequest()).models) == 13
            status, out, err = sdamanager.admin.run("create token alice 10")
            assert status == 0 and out.startswith("Create SDA Success (Token : ")
            assert len(sdamanager.manager.tokens) == 1
            assert sdamanager.admin.run("delete token nosuch").status == 1
            assert sdamanager.admin.run("show tokn").status == 2

        def test_a_subprocess_finds_it_through_its_environment(sdamanager):
            sdamanager.manager.create_token("bob", 5)
            done = subprocess.run([SHELL, "--command", "show token"],
                                  env=sdamanager.environ(), capture_output=True, text=True, timeout=60)
            assert done.returncode == 0 and "bob" in done.stdout, done.stderr
    """)
    result = run(pytester, "--strict-markers")
    result.assert_outcomes(passed=2)


def test_the_marker_sets_the_cluster_and_the_delays(pytester):
    pytester.makepyfile("""
        import pytest

        @pytest.mark.sdamanager(backends=2, devices=3, prepare_seconds=5, clean_seconds=7)
        def test_small(sdamanager):
            manager = sdamanager.manager
            assert len(manager.backends) == 2
            assert all(len(b.devices) == 3 for b in manager.backends.values())
            assert (manager.prepare_seconds, manager.clean_seconds) == (5, 7)
            assert sdamanager.admin.run("show backend").stdout.count("ACTIVE") == 2

        @pytest.mark.sdamanager(backends=0)
        def test_empty(sdamanager):
            assert len(sdamanager.manager.backends) == 0

        def test_default(sdamanager):
            assert len(sdamanager.manager.backends) == 4
            assert (sdamanager.manager.prepare_seconds, sdamanager.manager.clean_seconds) == (0, 0)
    """)
    run(pytester, "--strict-markers").assert_outcomes(passed=3)


def test_an_admin_secret_is_required_of_other_callers_and_carried_by_the_admin_client(pytester):
    pytester.makepyfile("""
        import grpc, os, pytest, subprocess, sys
        from smclient.api import sdamanager_pb2 as pb
        from smclient.api.sdamanager_pb2_grpc import SDAManagerStub

        SHELL = os.path.join(os.path.dirname(sys.executable), "moreh_smclient")

        @pytest.mark.sdamanager(admin_secret="s3cret")
        def test_secret(sdamanager, monkeypatch):
            assert sdamanager.admin.run("show sdamodel").status == 0
            assert sdamanager.admin.stub.ListSdaModels(pb.ListSdaModelsRequest()).models
            assert sdamanager.admin.run("create token alice 3").status == 0
            listed = [t.description for page in sdamanager.admin.stub.ListTokens(pb.ListTokensRequest(), timeout=5)
                      for t in page.tokens]
            assert listed == ["alice"]  # a streamed listing carries the secret too
            with grpc.insecure_channel(sdamanager.address) as channel:
                with pytest.raises(grpc.RpcError) as refused:
                    SDAManagerStub(channel).ListSdaModels(pb.ListSdaModelsRequest(), timeout=5)
            assert refused.value.code() == grpc.StatusCode.UNAUTHENTICATED
            # environ() replaces an inherited secret file and address with its own.
            monkeypatch.setenv("SDAMANAGER_ADMIN_SECRET_FILE", "/nonexistent")
            monkeypatch.setenv("MOREH_SDA_MANAGER_ADDRESS", "192.0.2.1:1")
            done = subprocess.run([SHELL, "--command", "show sdamodel"],
                                  env=sdamanager.environ(), capture_output=True, text=True, timeout=60)
            assert done.returncode == 0, done.stderr
    """)
    run(pytester).assert_outcomes(passed=1)


def test_bad_options_fail_the_test_with_one_clear_line(pytester):
    pytester.makepyfile("""
        import pytest

        @pytest.mark.sdamanager(gpus=8)
        def test_unknown(sdamanager): pass

        @pytest.mark.sdamanager(4)
        def test_positional(sdamanager): pass

        @pytest.mark.sdamanager(backends=-1)
        def test_negative(sdamanager): pass

        @pytest.mark.sdamanager(admin_secret="two\\nlines")
        def test_secret(sdamanager): pass
    """)
    result = run(pytester)
    result.assert_outcomes(errors=4)
    result.stdout.fnmatch_lines([
        "*sdamanager fixture: unknown simulator option(s) gpus; the options are backends, devices, "
        "prepare_seconds, clean_seconds, admin_secret, clock",
        "*@pytest.mark.sdamanager takes keywords only, e.g. @pytest.mark.sdamanager(backends=4)",
        "*sdamanager fixture: backends must be a whole number 0-100000, not -1",
        "*sdamanager fixture: admin_secret must be None or a non-empty line of printable ASCII*",
    ])
    output = result.stdout.str()
    assert "Traceback" not in output and "def sdamanager(" not in output and "another exception" not in output


def test_each_test_gets_its_own_simulator_stopped_after_it(pytester):
    pytester.makepyfile("""
        import grpc
        from smclient.api import sdamanager_pb2 as pb
        from smclient.api.sdamanager_pb2_grpc import SDAManagerStub

        seen = []

        def test_first(sdamanager):
            sdamanager.admin.run("create token first 1")
            seen.append(sdamanager)

        def test_second(sdamanager):
            (first,) = seen
            assert not first.running and sdamanager.running
            assert sdamanager.port != first.port
            assert len(sdamanager.manager.tokens) == 0
            with grpc.insecure_channel(first.address) as channel:
                try:
                    SDAManagerStub(channel).ListSdaModels(pb.ListSdaModelsRequest(), timeout=2)
                except grpc.RpcError as err:
                    assert err.code() in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED)
                else:
                    raise AssertionError("the first test's simulator still answers")
    """)
    run(pytester).assert_outcomes(passed=2)


def test_a_directory_sets_options_by_overriding_sdamanager_options_and_the_marker_wins(pytester):
    pytester.makeconftest("""
        import pytest

        @pytest.fixture
        def sdamanager_options():
            return {"backends": 6, "devices": 2}
    """)
    pytester.makepyfile("""
        import pytest

        def test_directory(sdamanager):
            assert len(sdamanager.manager.backends) == 6

        @pytest.mark.sdamanager(backends=1)
        def test_marker(sdamanager):
            assert len(sdamanager.manager.backends) == 1
            assert all(len(b.devices) == 2 for b in sdamanager.manager.backends.values())
    """)
    run(pytester).assert_outcomes(passed=2)


def test_the_plugin_is_registered_and_documents_its_marker(pytester):
    result = run(pytester, "--markers")
    result.stdout.fnmatch_lines(["@pytest.mark.sdamanager(backends=4, devices=8, prepare_seconds=0, clean_seconds=0, "
                                 "admin_secret=None): *"])
    result = run(pytester, "--fixtures")
    result.stdout.fnmatch_lines(["sdamanager -- *", "*A running SDAManager simulator*"])


def test_loading_the_plugin_loads_neither_grpc_nor_the_simulator():
    """Every pytest run where this package is installed loads the plugin: it must cost nothing."""
    code = ("import sys, sdamanager_stub.pytest_plugin; "
            "print(sorted(m for m in sys.modules if m.split('.')[0] in ('grpc', 'smclient') "
            "or m.startswith('sdamanager_stub.') and m != 'sdamanager_stub.pytest_plugin'))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert (done.returncode, done.stdout.strip(), done.stderr) == (0, "[]", "")


# --- sdamanager_stub.testing, outside pytest ---

def test_the_testing_api_works_in_a_plain_script(tmp_path):
    script = tmp_path / "tool_check.py"
    script.write_text(textwrap.dedent("""
        import grpc
        from sdamanager_stub.testing import running_simulator
        from smclient.api import sdamanager_pb2 as pb
        from smclient.api.sdamanager_pb2_grpc import SDAManagerStub

        with running_simulator(backends=3, devices=2, admin_secret="k") as sim:
            status, out, err = sim.admin.run("create token scripted 3")
            assert status == 0, err
            token = out.split(": ", 1)[1].rstrip(")\\n")
            assert sim.admin.stub.GetToken(pb.GetTokenRequest(token=token)).description == "scripted"
            assert len(sim.manager.backends) == 3
            address = sim.address
        assert not sim.running
        sim.stop()  # again: nothing happens
        with grpc.insecure_channel(address) as channel:
            try:
                SDAManagerStub(channel).ListSdaModels(pb.ListSdaModelsRequest(), timeout=2)
            except grpc.RpcError as err:
                print("stopped", err.code().name)
        manual = running_simulator()
        print(manual.admin.run("show sdamodel").status, repr(manual).startswith("<RunningSimulator 127.0.0.1:"))
        manual.stop()
    """))
    done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() in (["stopped UNAVAILABLE", "0 True"], ["stopped DEADLINE_EXCEEDED", "0 True"])


@pytest.mark.parametrize("options, message", [
    ({"gpus": 1}, "unknown simulator option(s) gpus; the options are backends, devices, prepare_seconds, "
                  "clean_seconds, admin_secret, clock"),
    ({"clock": "fast"}, "clock must be 'wall' or 'manual', not 'fast'"),
    ({"devices": "8"}, "devices must be a whole number 0-1024, not '8'"),
    ({"devices": 1025}, "devices must be a whole number 0-1024, not 1025"),
    ({"backends": True}, "backends must be a whole number 0-100000, not True"),
    ({"prepare_seconds": -1}, "prepare_seconds must be a number of seconds 0-86400, not -1"),
    ({"clean_seconds": float("nan")}, "clean_seconds must be a number of seconds 0-86400, not nan"),
    ({"admin_secret": ""}, "admin_secret must be None or a non-empty line of printable ASCII "
                           "(what gRPC metadata can carry)"),
])
def test_bad_options_are_one_clear_value_error(options, message):
    with pytest.raises(ValueError) as refused:
        running_simulator(**options)
    assert str(refused.value) == message


def test_the_defaults_are_a_small_cluster_without_delays_or_secret():
    assert check_options({}) == dict(OPTIONS) == {"backends": 4, "devices": 8, "prepare_seconds": 0.0,
                                                   "clean_seconds": 0.0, "admin_secret": None, "clock": "wall"}
    with running_simulator() as sim, grpc.insecure_channel(sim.address) as channel:
        assert len(SDAManagerStub(channel).ListSdaModels(pb.ListSdaModelsRequest(), timeout=5).models) == 13
        assert sim.environ({"PATH": "/bin", "SDAMANAGER_ADMIN_SECRET": "stale"}) == {
            "PATH": "/bin", "SDAMANAGER_IP": "127.0.0.1", "SDAMANAGER_PORT": str(sim.port)}


def test_the_projects_own_suite_runs_on_the_fixture_it_ships(sdamanager, simulator, stub, request):
    """This project's tests use the plugin as other projects get it (the pytest11 entry
    point): conftest.py's `simulator` and `stub` are the same simulator, not a second one."""
    assert request.config.pluginmanager.has_plugin("sdamanager")
    assert simulator is sdamanager and stub is sdamanager.admin.stub
    assert sdamanager.admin.run("create token alice 3").status == 0
    assert [t.description for t in sdamanager.manager.list_tokens()] == ["alice"]


def test_vm_environ_is_a_customers_vm_for_the_customer_tools():
    """`vm_environ(token)`: moreh-smi reaches the simulator as the VM holding that token, and
    the admin secret of the parent's environment is not in reach of the customer's tool."""
    with running_simulator(admin_secret="s3cret") as sim:
        token = sim.manager.create_token("customer", 0).value
        sim.manager.create_sda(token, "vm", 4)
        base = {"PATH": "/usr/bin", "SDAMANAGER_ADMIN_SECRET": "s3cret", "MOREH_SDA_TOKEN": "someone-else",
                "MOREH_SDA_MANAGER_ADDRESS": "10.0.0.1:1"}
        env = sim.vm_environ(token, base)
        assert env == {"PATH": "/usr/bin", "MOREH_SDA_MANAGER_ADDRESS": sim.address, "MOREH_SDA_TOKEN": token}
        done = subprocess.run([str(Path(sys.executable).parent / "moreh-smi")], env=env, capture_output=True,
                              text=True, timeout=60)
        assert (done.returncode, done.stderr) == (0, ""), done
        assert "|  * 0     |      Moreh SDA      |  xLarge.512GB    |" in done.stdout
