"""The simulator's optional admin secret and TLS."""

from __future__ import annotations

import shutil
import subprocess

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from sdamanager_stub.manager import new_manager
from sdamanager_stub.security import SECRET_METADATA, server_credentials
from sdamanager_stub.server import create_server
from sdamanager_stub.testing import running_simulator
from smclient.api import sdamanager_pb2 as pb
from smclient.api import sdamanager_pb2_grpc as pb_grpc
from smclient.api.secret import read_secret

SECRET = "s3cr3t-for-tests"


@pytest.fixture
def guarded():
    # Its own channel, not the admin client's: these calls must carry no secret but their own.
    with running_simulator(backends=1, devices=2, admin_secret=SECRET) as sim, \
            grpc.insecure_channel(sim.address) as channel:
        token = sim.manager.create_token("vm", 0).value
        sim.manager.create_sda(token, "", 1)
        yield pb_grpc.SDAManagerStub(channel), channel, token


def test_admin_calls_without_the_secret_are_unauthenticated(guarded):
    stub, _, _ = guarded
    for call in (lambda: stub.CreateToken(pb.CreateTokenRequest(description="x"), timeout=5),
                 lambda: list(stub.ListTokens(pb.ListTokensRequest(), timeout=5)),
                 lambda: stub.CreateToken(pb.CreateTokenRequest(description="x"), timeout=5,
                                          metadata=[(SECRET_METADATA, "wrong")])):
        with pytest.raises(grpc.RpcError) as info:
            call()
        assert info.value.code() == grpc.StatusCode.UNAUTHENTICATED
        assert "admin secret" in info.value.details()


def test_admin_calls_with_the_secret_work(guarded):
    stub, _, _ = guarded
    reply = stub.CreateToken(pb.CreateTokenRequest(description="x"), timeout=5, metadata=[(SECRET_METADATA, SECRET)])
    assert reply.description == "x" and reply.value


def test_vms_and_probes_need_no_secret(guarded):
    stub, channel, token = guarded
    job = stub.RequestDevices(pb.RequestDevicesRequest(token=token, process_name="p"), timeout=5)
    assert stub.FinishJob(pb.FinishJobRequest(feid=job.feid, token=token), timeout=5).status == pb.JOB_STATUS_COMPLETED
    health = health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(), timeout=5)
    assert health.status == health_pb2.HealthCheckResponse.SERVING


def test_the_secret_comes_from_a_file_or_the_environment(tmp_path, monkeypatch):
    monkeypatch.delenv("SDAMANAGER_ADMIN_SECRET", raising=False)
    monkeypatch.delenv("SDAMANAGER_ADMIN_SECRET_FILE", raising=False)
    assert read_secret(None) is None
    monkeypatch.setenv("SDAMANAGER_ADMIN_SECRET", "from-env")
    assert read_secret(None) == "from-env"
    path = tmp_path / "secret"
    path.write_text("from-file\n")
    assert read_secret(str(path)) == "from-file"
    path.write_text("\n")
    with pytest.raises(ValueError, match="empty"):
        read_secret(str(path))


@pytest.fixture(scope="module")
def certificate(tmp_path_factory):
    if shutil.which("openssl") is None:
        pytest.skip("openssl is not installed")
    where = tmp_path_factory.mktemp("tls")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
                    "-keyout", str(where / "key.pem"), "-out", str(where / "cert.pem"), "-subj", "/CN=localhost",
                    "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1"],
                   check=True, capture_output=True)
    return where / "cert.pem", where / "key.pem"


def test_tls(certificate):
    cert, key = certificate
    server, port = create_server("127.0.0.1:0", new_manager(1, 2),
                                 credentials=server_credentials(str(cert), str(key)))
    server.start()
    try:
        credentials = grpc.ssl_channel_credentials(root_certificates=cert.read_bytes())
        with grpc.secure_channel(f"127.0.0.1:{port}", credentials) as channel:
            models = pb_grpc.SDAManagerStub(channel).ListSdaModels(pb.ListSdaModelsRequest(), timeout=5)
            assert len(models.models) == 13
        with grpc.insecure_channel(f"127.0.0.1:{port}") as channel, pytest.raises(grpc.RpcError) as info:
            pb_grpc.SDAManagerStub(channel).ListSdaModels(pb.ListSdaModelsRequest(), timeout=5)
        assert info.value.code() == grpc.StatusCode.UNAVAILABLE
    finally:
        server.stop(0)


def test_the_shell_sends_the_secret_and_trusts_the_ca(certificate, tmp_path, monkeypatch, capsys):
    from smclient.cli import main

    cert, key = certificate
    server, port = create_server("127.0.0.1:0", new_manager(1, 2), admin_secret=SECRET,
                                 credentials=server_credentials(str(cert), str(key)))
    server.start()
    monkeypatch.delenv("SDAMANAGER_ADMIN_SECRET", raising=False)
    monkeypatch.delenv("SDAMANAGER_ADMIN_SECRET_FILE", raising=False)
    try:
        secret_file = tmp_path / "secret"
        secret_file.write_text(SECRET + "\n")
        base = ["--ip", "localhost", "--port", str(port), "--tls-ca", str(cert)]
        assert main([*base, "--admin-secret-file", str(secret_file), "--command", "create token tls_user"]) == 0
        assert capsys.readouterr().out.startswith("Create SDA Success (Token : ")
        # without the secret: refused, exit 1, the reason on one line
        assert main([*base, "--command", "show token"]) == 1
        assert capsys.readouterr().err == ("Print list of Tokens failed. (This SDAManager needs the admin secret: "
                                          "set SDAMANAGER_ADMIN_SECRET or --admin-secret-file on the client.)\n")
        monkeypatch.setenv("SDAMANAGER_ADMIN_SECRET", SECRET)
        assert main([*base, "--command", "show token"]) == 0
        assert "tls_user" in capsys.readouterr().out
        # with another secret: refused, and told so (not "needs the secret")
        monkeypatch.setenv("SDAMANAGER_ADMIN_SECRET", "not-" + SECRET)
        assert main([*base, "--command", "show token"]) == 1
        assert capsys.readouterr().err == (
            "Print list of Tokens failed. (This SDAManager refused the admin secret sent: it is not the one the "
            "server was given (check SDAMANAGER_ADMIN_SECRET or --admin-secret-file on the client).)\n")
        # without TLS the server cannot be reached, and the shell says TLS is what is missing
        assert main(["--port", str(port), "--timeout", "2", "--command", "show token"]) == 3
        assert capsys.readouterr().err == (f"Cannot connect to SDAManager at 127.0.0.1:{port}. It answers with TLS: "
                                           "give --tls-ca PEM (or $SDAMANAGER_TLS_CA).\n")
        server.stop(0)
        # nothing there at all: no hint
        assert main(["--port", str(port), "--timeout", "2", "--command", "show token"]) == 3
        assert capsys.readouterr().err == f"Cannot connect to SDAManager at 127.0.0.1:{port}.\n"
    finally:
        server.stop(0)


def test_job_submit_finds_the_server_as_the_shell_does_and_speaks_tls(certificate, tmp_path):
    import os
    import sys
    from pathlib import Path

    cert, key = certificate
    manager = new_manager(1, 8)
    token = manager.create_token("vm", 0).value
    manager.create_sda(token, "s", 1)
    server, port = create_server("127.0.0.1:0", manager, credentials=server_credentials(str(cert), str(key)))
    server.start()
    stub_cli = str(Path(sys.executable).with_name("sdamanager-stub"))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SDAMANAGER_", "MOREH_SDA"))}
    try:
        env.update(MOREH_SDA_MANAGER_ADDRESS=f"localhost:{port}", SDAMANAGER_TLS_CA=str(cert))
        done = subprocess.run([stub_cli, "job", "submit", "--token", token, "--process", "python a.py"],
                              env=env, capture_output=True, text=True, timeout=60)
        assert (done.returncode, done.stdout, done.stderr) == (0, "1\n", "")
        done = subprocess.run([stub_cli, "job", "submit", "--token", token, "--process", "p", "--tls-ca",
                               str(tmp_path / "missing.pem")], env=env, capture_output=True, text=True, timeout=60)
        assert done.returncode == 2 and len(done.stderr.splitlines()) == 1 and "missing.pem" in done.stderr
    finally:
        server.stop(0)
