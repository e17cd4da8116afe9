"""The image's pod without Kubernetes: the project installed as the image installs
it, the server started as the image starts it, the shell run as `kubectl exec` runs it.

A fake root directory stands for the container's filesystem: the project is
installed (built from a copy of what the Dockerfile COPYs, not editable) into
a fresh venv at ROOT/app, the volume is ROOT/var/lib/sdamanager, the mounted
secret ROOT/etc/sdamanager/admin-secret, HOME ROOT/tmp.  The server's command
line and environment are read from the Dockerfile (its last stage's CMD and
ENV) with only the paths moved under ROOT and the port 30105 made 0 (a free
one: this machine's 30105 may be taken; in a pod it is the container's own).
The shell then gets the container's environment and nothing else, plus
SDAMANAGER_PORT for that port, and no flags.

The venv is fresh but offline: its dependencies (grpcio and the rest) are
made visible through a .pth line naming this test run's site-packages, so
nothing is downloaded; the project itself is built and installed into it
with pip --no-index --no-build-isolation, and a test checks that it is that
copy, not this checkout, which the venv imports.
"""

from __future__ import annotations

import os
import selectors
import shutil
import signal
import site
import socket
import stat
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from test_deploy_manifests import DOCKERFILE, ROOT, stages

from sdamanager_stub.testing import running_simulator

BASE_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"  # the python image's PATH
SECRET = "pod-test-secret-0123456789abcdef"

# One pod for the module (its venv takes seconds to build, its server is shared, the last
# test stops it): in a parallel run (make test) all of its tests go to one worker.
pytestmark = pytest.mark.xdist_group("deploy_pod")


@dataclass
class Pod:
    root: Path  # the container's "/"
    env: dict[str, str]  # the container's environment, paths under root
    server: subprocess.Popen[str]
    port: int
    metrics_url: str

    def inside(self, path: str) -> Path:
        return self.root / path.lstrip("/")

    def shell(self, *args: str, env: dict[str, str] | None = None, stdin: str = "") -> subprocess.CompletedProcess[str]:
        """/app/bin/moreh_smclient as kubectl exec starts it: the container's environment, cwd its WORKDIR."""
        env = dict(self.env if env is None else env)
        env["SDAMANAGER_PORT"] = str(self.port)  # the pod's 30105
        return subprocess.run([str(self.inside("/app/bin/moreh_smclient")), *args], input=stdin, env=env,
                              cwd=self.inside("/tmp"), capture_output=True, text=True, timeout=60)


def container_env(root: Path, env: dict[str, str]) -> dict[str, str]:
    """The image's ENV with its absolute paths under `root` ($PATH is the base image's)."""
    moved = {}
    for name, value in env.items():
        parts = []
        for part in value.split(":") if name == "PATH" else [value]:
            if part == "$PATH":
                parts.append(BASE_PATH)
            else:
                parts.append(str(root / part.lstrip("/")) if part.startswith("/") else part)
        moved[name] = ":".join(parts)
    return moved


def install_app(root: Path, work: Path) -> None:
    """A fresh venv at root/app with the project installed as the image's build stage does."""
    build, _final = stages(DOCKERFILE.read_text())
    source = work / "src"
    source.mkdir()
    for copy in build.copies:
        *sources, dest = copy
        for name in sources:
            origin = ROOT / name
            # As Docker copies: into a destination ending in "/" by the source's own name.
            target = source / (dest + Path(name).name if dest.endswith("/") else dest)
            if origin.is_dir():
                shutil.copytree(origin, target, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
            else:
                shutil.copy2(origin, target)
    app = root / "app"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(app)], check=True, timeout=120)
    (purelib,) = app.glob("lib/python*/site-packages")
    (purelib / "_test_run_dependencies.pth").write_text("\n".join(site.getsitepackages()) + "\n")
    done = subprocess.run([sys.executable, "-m", "pip", "--python", str(app / "bin" / "python"), "install",
                           "--quiet", "--no-index", "--no-build-isolation", "--no-deps",
                           # the test run's own (editable) install is visible through the .pth: leave it be
                           "--ignore-installed", str(source)],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr


def first_line(process: subprocess.Popen[str], timeout: float) -> str:
    with selectors.DefaultSelector() as selector:
        selector.register(process.stdout, selectors.EVENT_READ)  # type: ignore[arg-type]
        if not selector.select(timeout):
            return ""
    return process.stdout.readline()  # type: ignore[union-attr]


def start_server(root: Path, env: dict[str, str], cmd: list[str]) -> subprocess.Popen[str]:
    argv = [str(root / cmd[0].lstrip("/")), *cmd[1:]]
    argv[argv.index("--port") + 1] = "0"
    argv[argv.index("--metrics-port") + 1] = "0"
    return subprocess.Popen(argv, env=env, cwd=root / "tmp", stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)


@pytest.fixture(scope="module")
def pod(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Pod]:
    work = tmp_path_factory.mktemp("pod")
    root = work / "root"
    (root / "tmp").mkdir(parents=True)
    install_app(root, work)
    final = stages(DOCKERFILE.read_text())[-1]
    env = container_env(root, final.env)
    # The image makes the volume's directory 0700 for its user; Kubernetes mounts the secret file.
    for volume in final.volumes:
        (root / volume.lstrip("/")).mkdir(mode=0o700, parents=True)
    secret_file = Path(env["SDAMANAGER_ADMIN_SECRET_FILE"])
    secret_file.parent.mkdir(parents=True)
    secret_file.write_text(SECRET + "\n")  # as `openssl rand -hex 32 > admin-secret` writes it
    secret_file.chmod(0o440)
    server = start_server(root, env, final.cmd)
    try:
        line = first_line(server, 30)
        assert line.startswith("SDAManager simulator listening on 0.0.0.0:"), (line, server.poll())
        port = int(line.rsplit(":", 1)[1])
        metrics = server.stdout.readline()  # type: ignore[union-attr]  # printed right after the first
        assert metrics.startswith("metrics on http://0.0.0.0:") and metrics.endswith("/metrics\n"), metrics
        yield Pod(root, env, server, port, metrics.split()[-1].replace("0.0.0.0", "127.0.0.1"))
    finally:
        if server.poll() is None:
            server.send_signal(signal.SIGTERM)
            try:
                server.wait(15)
            except subprocess.TimeoutExpired:  # pragma: no cover - reported by the last test
                server.kill()
                server.wait()


def test_the_venv_runs_the_installed_copy_not_this_checkout(pod):
    done = subprocess.run([str(pod.inside("/app/bin/python")), "-c",
                           "import smclient, sdamanager_stub; print(smclient.__file__, sdamanager_stub.__file__)"],
                          env=pod.env, cwd=pod.inside("/tmp"), capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    for path in done.stdout.split():
        assert Path(path).is_relative_to(pod.inside("/app/lib")), path
    assert pod.inside("/app/bin/sdamanager-stub").is_file()


def test_the_shell_with_no_flags_shows_the_sda_models(pod):
    with running_simulator() as reference:
        expected = reference.admin.run("show sdamodel")
    assert expected.status == 0 and "Small.64GB" in expected.stdout
    # kubectl exec -it ... -- /app/bin/moreh_smclient --command 'show sdamodel'
    done = pod.shell("--command", "show sdamodel")
    assert (done.returncode, done.stdout, done.stderr) == (0, expected.stdout, "")
    # kubectl exec -i ... -- /app/bin/moreh_smclient < commands: no flags at all
    done = pod.shell(stdin="show sdamodel\n")
    assert (done.returncode, done.stdout, done.stderr) == (0, expected.stdout, "")


def test_a_change_is_kept_on_the_volume_in_a_private_file(pod):
    done = pod.shell("--command", "create token podtest 10")
    assert done.returncode == 0 and done.stdout.startswith("Create SDA Success (Token : "), done.stderr
    token = done.stdout.split(": ", 1)[1].rstrip(")\n")
    state = Path(pod.env["SDAMANAGER_STATE"])
    assert stat.S_IMODE(state.stat().st_mode) == 0o600
    assert token.encode() in state.read_bytes() + Path(f"{state}-wal").read_bytes()
    assert pod.shell("--command", f"get token {token}").returncode == 0


def test_without_the_secret_file_the_shell_is_refused(pod):
    env = {k: v for k, v in pod.env.items() if k != "SDAMANAGER_ADMIN_SECRET_FILE"}
    done = pod.shell("--command", "show sdamodel", env=env)
    assert done.returncode == 1 and done.stdout == ""
    assert done.stderr.splitlines() == ["Print list of SDAModels failed. (This SDAManager needs the admin secret: "
                                        "set SDAMANAGER_ADMIN_SECRET or --admin-secret-file on the client.)"]


def test_with_another_secret_the_shell_is_refused(pod, tmp_path):
    wrong = tmp_path / "admin-secret"
    wrong.write_text("not-the-secret\n")
    done = pod.shell("--command", "show sdamodel", env={**pod.env, "SDAMANAGER_ADMIN_SECRET_FILE": str(wrong)})
    assert done.returncode == 1 and done.stdout == ""
    assert len(done.stderr.splitlines()) == 1 and "secret" in done.stderr.lower(), done.stderr


def test_the_images_healthcheck_passes_on_the_running_server_and_fails_without_one(pod):
    """The Dockerfile's HEALTHCHECK command, run as Docker runs it in the container (its
    environment, exit 0 healthy, 1 unhealthy), against the pod's server, then against a
    port where nothing listens."""
    command = stages(DOCKERFILE.read_text())[-1].healthcheck
    argv = [str(pod.inside(command[0])), *command[1:]]

    def run(port: int) -> subprocess.CompletedProcess[str]:
        argv[argv.index("--port") + 1] = str(port)
        return subprocess.run(argv, env=pod.env, cwd=pod.inside("/tmp"), capture_output=True, text=True, timeout=60)

    healthy = run(pod.port)
    assert (healthy.returncode, healthy.stdout, healthy.stderr) == (0, "SERVING\n", "")
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        unhealthy = run(closed.getsockname()[1])  # bound, not listening: refused
    assert unhealthy.returncode == 1
    assert unhealthy.stdout == ""
    assert unhealthy.stderr.startswith("sdamanager-stub: the health check of SDAManager at 127.0.0.1:")
    assert unhealthy.stderr.count("\n") == 1


def test_the_pod_serves_its_metrics(pod):
    """What Prometheus scrapes on the metrics port, parsed by prometheus_client's parser."""
    from prometheus_client.parser import text_string_to_metric_families

    assert pod.shell("--command", "show sdamodel").returncode == 0
    with urllib.request.urlopen(pod.metrics_url, timeout=10) as reply:
        families = {f.name: f for f in text_string_to_metric_families(reply.read().decode())}
    handled = {(s.labels["grpc_method"], s.labels["grpc_code"]): s.value
               for s in families["grpc_server_handled"].samples if s.name == "grpc_server_handled_total"}
    assert handled.get(("ListSdaModels", "OK"), 0) >= 1
    devices = {s.labels["state"]: s.value for s in families["sdamanager_devices"].samples}
    assert sum(devices.values()) == 60 * 8  # serve's default cluster
    assert families["sdamanager_journal_commit_seconds"].type == "histogram"  # the state file's


def test_the_server_refuses_to_start_without_its_secret_file(pod, tmp_path):
    """Listening on 0.0.0.0, the image fails closed: no mounted secret, no server."""
    final = stages(DOCKERFILE.read_text())[-1]
    root = tmp_path / "root"
    (root / "tmp").mkdir(parents=True)
    (root / "app").symlink_to(pod.inside("/app"))
    env = container_env(root, final.env)  # the secret's path points at nothing here
    server = start_server(root, env, final.cmd)
    out, err = server.communicate(timeout=60)
    assert server.returncode == 1 and out == ""
    assert err.splitlines() == [err.strip()] and env["SDAMANAGER_ADMIN_SECRET_FILE"] in err, err


def test_the_server_warns_only_about_tls_and_stops_cleanly_on_sigterm(pod):
    """Its secret was read (the warning names only TLS as missing), and SIGTERM, as the kubelet
    sends it, stops it with status 0 well within the pod's grace period."""
    assert pod.server.poll() is None, "the server died"
    started = time.monotonic()
    pod.server.send_signal(signal.SIGTERM)
    out, err = pod.server.communicate(timeout=15)
    assert pod.server.returncode == 0 and time.monotonic() - started < 10
    # (The warning names the port it listens on: a free one here, 30105 in the image.)
    assert err.splitlines() == [f"warning: listening on 0.0.0.0:{pod.port} without TLS "
                                "(set --tls-cert/--tls-key, or listen on 127.0.0.1)"]
    assert out == ""
    assert os.listdir(pod.inside("/tmp")) == [], "nothing but HOME's history may go to /tmp, and none was made"
