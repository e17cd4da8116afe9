"""Metrics (`serve --metrics-port`, sdamanager_stub/metrics.py) and JSON logs (`--log-format json`).

The metrics are scraped over HTTP as Prometheus scrapes them and parsed with
prometheus_client's own parser: the calls by method and code equal the calls
made (OK, NOT_FOUND, an injected UNAVAILABLE, RESOURCE_EXHAUSTED beyond a
bound, a stream cancelled), each with the type the proto declares; the gauges
equal the state; a scrape during a load parses and its counts only grow; the
store's commits and snapshots are counted; and the same from a `serve`
process, whose log lines are JSON.
"""

from __future__ import annotations

import json
import logging
import os
import selectors
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc
from helpers import wait_for
from prometheus_client.parser import text_string_to_metric_families

from sdamanager_stub.entities import BackendStatus, DeviceStatus, JobStatus
from sdamanager_stub.logs import JsonFormatter
from sdamanager_stub.manager import new_manager
from sdamanager_stub.metrics import Metrics, MetricsServer
from sdamanager_stub.observe import CallLog, Faults
from sdamanager_stub.server import build_simulator
from sdamanager_stub.store import Store
from sdamanager_stub.testing import RunningSimulator
from smclient.api import sdamanager_pb2 as pb
from smclient.api import sdamanager_pb2_grpc as pb_grpc

BIN = Path(sys.executable).parent
SERVICE = "sdamanager.v1.SDAManager"

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def scrape(url: str) -> Samples:
    """Every sample of one scrape: (name, sorted labels) -> value."""
    with urllib.request.urlopen(url, timeout=10) as reply:
        assert reply.status == 200
        assert reply.headers["Content-Type"].startswith("text/plain")
        text = reply.read().decode()
    samples: Samples = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            samples[sample.name, tuple(sorted(sample.labels.items()))] = sample.value
    return samples


def of(samples: Samples, name: str, **labels: str) -> dict[tuple[tuple[str, str], ...], float]:
    """The samples named `name` whose labels include `labels`, by their labels."""
    return {key: value for (sample, key), value in samples.items()
            if sample == name and labels.items() <= dict(key).items()}


def handled(samples: Samples) -> dict[tuple[str, str, str], float]:
    """(grpc_method, grpc_code, grpc_type) -> calls handled."""
    return {(dict(k)["grpc_method"], dict(k)["grpc_code"], dict(k)["grpc_type"]): v
            for k, v in of(samples, "grpc_server_handled_total").items()}


def by(samples: Samples, name: str, label: str) -> dict[str, float]:
    return {dict(k)[label]: v for k, v in of(samples, name).items()}


class Served:
    """A simulator in this process with metrics (first among its observers), faults and the call log."""

    def __init__(self, backends: int = 2, devices: int = 8, store: Store | None = None, prepare_seconds: float = 0.0,
                 **options: object) -> None:
        self.manager = new_manager(backends, devices, prepare_seconds=prepare_seconds)
        self.metrics = Metrics(self.manager)
        if store is not None:
            self.metrics.watch_store(store)
            store.attach(self.manager)
        self.faults, self.calls = Faults(), CallLog()
        simulator = build_simulator("127.0.0.1:0", self.manager, observers=(self.metrics, self.faults, self.calls),
                                    **options)  # type: ignore[arg-type]
        simulator.start()
        self.sim = RunningSimulator(simulator, None, None, self.faults, self.calls)
        self.http = MetricsServer(self.metrics.registry, "127.0.0.1", 0)
        self.url = self.http.url
        self.stub = self.sim.admin.stub

    def close(self) -> None:
        self.http.close()
        self.sim.stop()


@pytest.fixture
def served() -> Iterator[Served]:
    s = Served()
    yield s
    s.close()


def test_calls_are_counted_by_method_code_and_type(served):
    token = served.manager.create_token("alice").value
    stub = served.stub
    for _ in range(3):
        stub.GetToken(pb.GetTokenRequest(token=token), timeout=10)
    for _ in range(2):
        with pytest.raises(grpc.RpcError) as refused:
            stub.GetToken(pb.GetTokenRequest(token="no-such-token"), timeout=10)
        assert refused.value.code() is grpc.StatusCode.NOT_FOUND
    served.faults.add("GetToken", "UNAVAILABLE", times=1)
    with pytest.raises(grpc.RpcError) as refused:
        stub.GetToken(pb.GetTokenRequest(token=token), timeout=10)
    assert refused.value.code() is grpc.StatusCode.UNAVAILABLE
    for _ in range(4):
        list(stub.ListTokens(pb.ListTokensRequest(), timeout=10))
    health = health_pb2_grpc.HealthStub(served.sim.admin.channel)
    health.Check(health_pb2.HealthCheckRequest(), timeout=10)
    reflection = reflection_pb2_grpc.ServerReflectionStub(served.sim.admin.channel)
    list(reflection.ServerReflectionInfo(iter([reflection_pb2.ServerReflectionRequest(list_services="")]),
                                         timeout=10))
    expected = {
        ("GetToken", "OK", "unary"): 3,
        ("GetToken", "NOT_FOUND", "unary"): 2,
        ("GetToken", "UNAVAILABLE", "unary"): 1,
        ("ListTokens", "OK", "server_stream"): 4,
        ("Check", "OK", "unary"): 1,
        ("ServerReflectionInfo", "OK", "bidi_stream"): 1,
    }
    # A call's end is told just after its reply went out: wait for the last one.
    wait_for(lambda: handled(scrape(served.url)) == expected, what=lambda: f"{handled(scrape(served.url))}")
    samples = scrape(served.url)
    assert by(samples, "grpc_server_started_total", "grpc_method") == {
        "GetToken": 6, "ListTokens": 4, "Check": 1, "ServerReflectionInfo": 1}
    assert by(samples, "grpc_server_handling_seconds_count", "grpc_method") == {
        "GetToken": 6, "ListTokens": 4, "Check": 1, "ServerReflectionInfo": 1}
    services = {dict(k)["grpc_method"]: dict(k)["grpc_service"] for k in of(samples, "grpc_server_started_total")}
    assert services == {"GetToken": SERVICE, "ListTokens": SERVICE, "Check": "grpc.health.v1.Health",
                        "ServerReflectionInfo": "grpc.reflection.v1alpha.ServerReflection"}
    # The histogram's buckets are cumulative and end with every call.
    buckets = of(samples, "grpc_server_handling_seconds_bucket", grpc_method="GetToken")
    counts = [v for _, v in sorted(((float(dict(k)["le"]), v) for k, v in buckets.items()))]
    assert counts == sorted(counts) and counts[-1] == 6
    # What the call log kept agrees.
    assert Counter((c.method, c.code) for c in served.calls) == Counter(
        {(m, c): n for (m, c, _), n in expected.items()})


def test_a_call_refused_beyond_its_bound_or_cancelled_is_started_and_handled():
    served = Served(max_streams=1)
    try:
        health = health_pb2_grpc.HealthStub(served.sim.admin.channel)
        watching = health.Watch(health_pb2.HealthCheckRequest(), timeout=30)
        assert next(watching).status == health_pb2.HealthCheckResponse.SERVING  # holds the one stream
        with pytest.raises(grpc.RpcError) as refused:
            next(health.Watch(health_pb2.HealthCheckRequest(), timeout=10))
        assert refused.value.code() is grpc.StatusCode.RESOURCE_EXHAUSTED
        wait_for(lambda: handled(scrape(served.url)) == {("Watch", "RESOURCE_EXHAUSTED", "server_stream"): 1})
        # The watching stream is started and not handled yet; then its client goes.
        assert by(scrape(served.url), "grpc_server_started_total", "grpc_method") == {"Watch": 2}
        watching.cancel()
        wait_for(lambda: handled(scrape(served.url)) == {("Watch", "RESOURCE_EXHAUSTED", "server_stream"): 1,
                                                        ("Watch", "CANCELLED", "server_stream"): 1})
        assert by(scrape(served.url), "grpc_server_started_total", "grpc_method") == {"Watch": 2}
    finally:
        served.close()


def test_the_gauges_are_the_state():
    served = Served(prepare_seconds=3600)  # jobs stay SUMMITED, their devices PREPARING
    try:
        gauges_are_the_state(served)
    finally:
        served.close()


def gauges_are_the_state(served: Served) -> None:
    m = served.manager  # 2 backends x 8 devices
    tokens = [m.create_token(f"t{i}").value for i in range(6)]
    for token in tokens:
        m.create_sda(token, "four devices", 3)  # Large.256GB: 4 devices
    done = m.request_devices(tokens[0])
    m.report_running(done.feid, tokens[0])
    m.finish_job(done.feid, token=tokens[0])  # COMPLETED
    running = m.request_devices(tokens[1])
    m.report_running(running.feid, tokens[1])  # RUNNING
    for token in tokens[2:5]:
        m.request_devices(token)  # SUMMITED, preparing: all 16 devices taken
    m.request_devices(tokens[5])  # QUEUED
    cancelled = m.request_devices(tokens[0])
    m.finish_job(cancelled.feid, token=tokens[0])  # CANCELED before it ran
    group = m.create_backendgroup("empty_group")
    samples = scrape(served.url)
    assert by(samples, "sdamanager_jobs", "status") == {"QUEUED": 1, "SUMMITED": 3, "RUNNING": 1, "COMPLETED": 1,
                                                        "RELEASED": 0, "CANCELED": 1, "FAILED": 0}
    with m.lock:
        jobs = Counter(j.status.value for j in [*m.jobs.values(), *m.history])
        devices = Counter(d.status.value for b in m.backends.values() for d in b.devices)
    assert by(samples, "sdamanager_jobs", "status") == {s.value: jobs[s.value] for s in JobStatus}
    assert by(samples, "sdamanager_devices", "state") == {s.value: devices[s.value] for s in DeviceStatus}
    assert sum(by(samples, "sdamanager_devices", "state").values()) == 16
    assert by(samples, "sdamanager_devices", "state") == {"IDLE": 0, "PREPARING": 12, "PROCESSING": 4, "CLEANING": 0,
                                                          "SHUTDOWN": 0}
    assert of(samples, "sdamanager_queue_length") == {
        (("backend_group", "default_backend_group"), ("backend_group_id", "0")): 1,
        (("backend_group", "empty_group"), ("backend_group_id", str(group.id))): 0}
    assert samples["sdamanager_reserved_queue_length", ()] == 0
    assert by(samples, "sdamanager_backends", "status") == {"ACTIVE": 2, "SHUTDOWN": 0}
    assert samples["sdamanager_tokens", ()] == 6
    assert samples["sdamanager_sdas", ()] == 6
    # The next scrape sees the next state: a backend shut down, the last job released.
    m.update_backend_status(2, BackendStatus.SHUTDOWN)
    samples = scrape(served.url)
    with m.lock:
        devices = Counter(d.status.value for b in m.backends.values() for d in b.devices)
    assert by(samples, "sdamanager_backends", "status") == {"ACTIVE": 1, "SHUTDOWN": 1}
    assert by(samples, "sdamanager_devices", "state") == {s.value: devices[s.value] for s in DeviceStatus}


def test_a_scrape_during_a_load_parses_and_its_counts_only_grow(served):
    token = served.manager.create_token("load").value
    threads, calls = 6, 150
    errors: list[BaseException] = []

    def client() -> None:
        try:
            with grpc.insecure_channel(served.sim.address) as channel:
                stub = pb_grpc.SDAManagerStub(channel)
                for i in range(calls):
                    try:
                        stub.GetToken(pb.GetTokenRequest(token=token if i % 2 else "nope"), timeout=10)
                    except grpc.RpcError as err:
                        assert err.code() is grpc.StatusCode.NOT_FOUND
        except BaseException as err:  # noqa: BLE001 - reported below
            errors.append(err)

    scrapes: list[Samples] = []
    stop = threading.Event()

    def scraper() -> None:
        try:
            while not stop.is_set():
                scrapes.append(scrape(served.url))
        except BaseException as err:  # noqa: BLE001
            errors.append(err)

    watcher = threading.Thread(target=scraper)
    watcher.start()
    workers = [threading.Thread(target=client) for _ in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    half = threads * calls // 2
    expected = {("GetToken", "OK", "unary"): half, ("GetToken", "NOT_FOUND", "unary"): half}
    wait_for(lambda: handled(scrape(served.url)) == expected, what=lambda: f"{handled(scrape(served.url))}")
    stop.set()
    watcher.join()
    assert not errors, errors
    assert len(scrapes) >= 3, "the scrapes did not overlap the load"
    assert any(0 < sum(handled(s).values()) < 2 * half for s in scrapes), "no scrape saw the load under way"
    scrapes.append(scrape(served.url))
    counters = ("_total", "_count", "_sum", "_bucket")
    for before, after in zip(scrapes, scrapes[1:]):
        for (name, labels), value in before.items():
            if name.startswith("grpc_server_") and name.endswith(counters):
                assert after.get((name, labels), 0) >= value, (name, labels)
    last = scrapes[-1]
    assert by(last, "grpc_server_started_total", "grpc_method") == {"GetToken": 2 * half}
    assert by(last, "grpc_server_handling_seconds_count", "grpc_method") == {"GetToken": 2 * half}
    assert handled(last) == expected


def test_two_simulators_in_one_process_count_apart():
    first, second = Served(), Served()
    try:
        with pytest.raises(grpc.RpcError):
            first.stub.GetToken(pb.GetTokenRequest(token="x"), timeout=10)
        wait_for(lambda: handled(scrape(first.url)) == {("GetToken", "NOT_FOUND", "unary"): 1})
        assert handled(scrape(second.url)) == {}
    finally:
        first.close()
        second.close()


def test_the_stores_commits_and_snapshots_are_counted(tmp_path):
    store = Store(tmp_path / "state.db")
    served = Served(store=store)
    try:
        samples = scrape(served.url)
        assert samples["sdamanager_snapshot_seconds_count", ()] == 1  # start-up's
        for i in range(20):
            served.stub.CreateToken(pb.CreateTokenRequest(description=f"t{i}"), timeout=10)
        with pytest.raises(grpc.RpcError):  # a refused change is journalled too (the event log)
            served.stub.DeleteToken(pb.DeleteTokenRequest(token="nope"), timeout=10)
        wait_for(lambda: scrape(served.url)["sdamanager_journal_commit_ops_sum", ()] == 21)
        samples = scrape(served.url)
        commits = samples["sdamanager_journal_commit_seconds_count", ()]
        assert 1 <= commits <= 21 and samples["sdamanager_journal_commit_ops_count", ()] == commits
        assert samples["sdamanager_journal_commit_seconds_sum", ()] > 0
    finally:
        served.close()
        store.close()


# ---------------------------------------------------------------- the process


def read_lines(process: subprocess.Popen[str], count: int, timeout: float = 30) -> list[str]:
    """The first `count` lines of the process's stdout, read from its pipe unbuffered (the
    pipe's text wrapper would read ahead, out of the selector's sight)."""
    data = b""
    deadline = time.monotonic() + timeout
    fd = process.stdout.fileno()  # type: ignore[union-attr]
    with selectors.DefaultSelector() as selector:
        selector.register(fd, selectors.EVENT_READ)
        while data.count(b"\n") < count:
            if not selector.select(max(0.0, deadline - time.monotonic())):
                raise AssertionError(f"the server printed {data!r} and then nothing (exit {process.poll()})")
            chunk = os.read(fd, 4096)
            if not chunk:
                raise AssertionError(f"the server ended after {data!r}: {process.stderr.read()}")  # type: ignore
            data += chunk
    return data.decode().splitlines()[:count]


def terminate(server: subprocess.Popen[str]) -> tuple[str, str]:
    """SIGTERM, as the kubelet sends it: (stdout, stderr) once the server has stopped."""
    server.send_signal(signal.SIGTERM)
    try:
        return server.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        server.kill()
        server.communicate()
        raise


def test_serve_with_metrics_and_json_logs(tmp_path):
    faults = tmp_path / "faults.json"
    faults.write_text(json.dumps([{"method": "GetToken", "code": "UNAVAILABLE", "times": 1}]))
    server = subprocess.Popen([str(BIN / "sdamanager-stub"), "serve", "--memory", "--port", "0", "--backends", "2",
                               "--devices", "4", "--metrics-port", "0", "--log-format", "json",
                               "--faults", str(faults)],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        listening, metrics = read_lines(server, 2)
        assert listening.startswith("SDAManager simulator listening on 127.0.0.1:")
        assert metrics.startswith("metrics on http://127.0.0.1:") and metrics.endswith("/metrics")
        url = metrics.removeprefix("metrics on ")
        with grpc.insecure_channel(listening.rsplit(" ", 1)[1]) as channel:
            stub = pb_grpc.SDAManagerStub(channel)
            token = stub.CreateToken(pb.CreateTokenRequest(description="p"), timeout=10).value
            codes = []
            for value in (token, token, token, "nope"):
                try:
                    stub.GetToken(pb.GetTokenRequest(token=value), timeout=10)
                    codes.append("OK")
                except grpc.RpcError as err:
                    codes.append(err.code().name)
            assert codes == ["UNAVAILABLE", "OK", "OK", "NOT_FOUND"]
        expected = {("CreateToken", "OK", "unary"): 1, ("GetToken", "UNAVAILABLE", "unary"): 1,
                    ("GetToken", "OK", "unary"): 2, ("GetToken", "NOT_FOUND", "unary"): 1}
        wait_for(lambda: handled(scrape(url)) == expected, what=lambda: f"{handled(scrape(url))}")
        samples = scrape(url)
        assert by(samples, "sdamanager_devices", "state") == {"IDLE": 8, "SHUTDOWN": 0, "PREPARING": 0,
                                                            "PROCESSING": 0, "CLEANING": 0}
        assert samples["sdamanager_tokens", ()] == 1
    finally:
        out, err = terminate(server)
    assert server.returncode == 0, err
    assert out == ""
    entries = [json.loads(line) for line in err.splitlines()]
    assert entries and all(set(e) == {"time", "level", "logger", "message"} for e in entries), err
    assert [e["message"] for e in entries] == ["sdamanager-stub: injected fault into GetToken: UNAVAILABLE"]
    assert entries[0]["level"] == "WARNING" and entries[0]["logger"] == "sdamanager_stub.observe"
    assert entries[0]["time"].endswith("Z")


def test_serve_json_logs_its_own_lines_and_text_stays_as_it_was():
    """The exposure warning is one of serve's own lines: a JSON record, or the same words as before."""
    argv = [str(BIN / "sdamanager-stub"), "serve", "--memory", "--host", "0.0.0.0", "--port", "0", "--backends", "1",
            "--devices", "1"]
    for log_format in ("json", "text"):
        server = subprocess.Popen([*argv, "--log-format", log_format], stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, text=True)
        try:
            (listening,) = read_lines(server, 1)
        finally:
            out, err = terminate(server)
        warning = (f"warning: listening on {listening.rsplit(' ', 1)[1]} without TLS and without an admin secret "
                   "(set --tls-cert/--tls-key and --admin-secret-file, or listen on 127.0.0.1)")
        if log_format == "json":
            (entry,) = [json.loads(line) for line in err.splitlines()]
            assert (entry["level"], entry["logger"], entry["message"]) == ("WARNING", "sdamanager_stub.cli", warning)
        else:
            assert err.splitlines() == [warning]


def test_a_metrics_port_in_use_is_one_line_and_exit_1():
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = subprocess.run([str(BIN / "sdamanager-stub"), "serve", "--memory", "--port", "0", "--backends", "1",
                               "--devices", "1", "--metrics-port", str(port)],
                              capture_output=True, text=True, timeout=60)
    assert (done.returncode, done.stdout) == (1, "")
    assert done.stderr.splitlines() == [f"sdamanager-stub: cannot serve metrics on 127.0.0.1:{port}: "
                                        "Address already in use"]


def test_a_json_log_record_with_a_traceback_is_one_line():
    try:
        raise ValueError("bad\nvalue")
    except ValueError:
        record = logging.LogRecord("sdamanager_stub.store", logging.ERROR, __file__, 1, "could not %s", ("commit",),
                                   sys.exc_info())
    line = JsonFormatter().format(record)
    assert "\n" not in line
    entry = json.loads(line)
    assert entry["message"] == "could not commit" and entry["level"] == "ERROR"
    assert entry["exception"].startswith("Traceback") and "ValueError: bad\nvalue" in entry["exception"]


def test_the_jobs_gauge_counts_the_live_jobs_and_the_ended_ones_the_history_keeps():
    """Jobs by status: the live ones, and the ended ones by the archive's count, which keeps
    the newest only (here 50 of 200): against a count of what the history lists."""
    import random

    from sdamanager_stub.archive import Limits, in_memory
    from sdamanager_stub.manager import SDAManager
    from sdamanager_stub.metrics import StateCollector

    rng = random.Random(26)
    m = SDAManager(archive=in_memory(Limits(history=50)))
    m.add_default_models()
    m.add_default_cluster(2, 8)
    token = m.create_token("t", 0).value
    m.create_sda(token, "", 1)
    m.update_token_duplicable(token, 0)
    for _ in range(200):
        job = m.request_devices(token, 1, "p")
        step = rng.random()
        if step < 0.4:
            m.finish_job(job.feid, failed=step < 0.1)
        elif step < 0.8:
            m.release(job.feid)
    assert len(m.history) == 50 and len(m.jobs) > 0
    (family,) = [f for f in StateCollector(m).collect() if f.name == "sdamanager_jobs"]
    shown = {sample.labels["status"]: sample.value for sample in family.samples}
    expected = Counter(job.status.value for job in [*m.history, *m.jobs.values()])
    assert shown == {status.value: expected[status.value] for status in JobStatus}
