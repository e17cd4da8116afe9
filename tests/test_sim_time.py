"""A clock the test moves (issue 26): `running_simulator(clock="manual")` and the
`sdamanager` fixture's marker keep the simulator's time still until `advance`,
which runs every transition that falls due, in order, each at its own instant;
`serve --speed N` runs time faster for demos."""

from __future__ import annotations

import datetime
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from sdamanager_stub.testing import running_simulator


@pytest.mark.sdamanager(clock="manual", prepare_seconds=5, clean_seconds=3)
def test_a_job_is_seen_preparing_then_running_as_the_test_moves_time(sdamanager):
    m = sdamanager.manager
    token = m.create_token("clocked", 0).value
    m.create_sda(token, "s", 1)
    start = sdamanager.now
    feid = m.request_devices(token, 1, "python train.py").feid
    time.sleep(0.05)  # wall time passes; the simulator's does not
    assert m.jobs[feid].status.value == "SUMMITED" and sdamanager.now == start
    sdamanager.advance(4.9)
    assert sdamanager.admin.run(f"show job where feid={feid} and status=SUMMITED").stdout.count("python") == 1
    sdamanager.advance(0.1)
    out = sdamanager.admin.run("show job where status=RUNNING").stdout
    assert "python train.py" in out
    assert m.jobs[feid].start_time == start + 5  # at its own instant, not at the advance's
    m.finish_job(feid)
    backend, index = m.history[-1].placement[0]
    assert m.backends[backend].devices[index].status.value == "CLEANING"
    sdamanager.advance(3)
    assert m.backends[backend].devices[index].status.value == "IDLE"


def test_a_day_of_usage_without_waiting_a_day():
    with running_simulator(backends=1, devices=8, clock="manual") as sim:
        m = sim.manager
        token = m.create_token("all day", 0).value
        m.create_sda(token, "s", 4)  # 8 devices: the whole cluster
        begin = datetime.datetime.fromtimestamp(sim.now).replace(microsecond=0) + datetime.timedelta(seconds=1)
        sim.advance_to(begin.astimezone())
        m.request_devices(token, 1, "python long.py")
        sim.advance(86_400)  # at once: the day's transitions run as it moves, nothing sleeps
        end = begin + datetime.timedelta(days=1)
        line = f"show usage {begin:%Y-%m-%d %H:%M:%S} {end:%Y-%m-%d %H:%M:%S} {token}"
        sim.admin.run("set output json")
        usage, = json.loads(sim.admin.run(line).stdout)
        assert (usage["max"], usage["average"], usage["average_percent"]) == (8, 8.0, 100.0)


def test_advance_needs_the_manual_clock_and_never_goes_back():
    with running_simulator(backends=0, devices=0) as sim:
        with pytest.raises(RuntimeError, match='clock="manual"'):
            sim.advance(1)
    with running_simulator(backends=0, devices=0, clock="manual") as sim:
        now = sim.now
        with pytest.raises(ValueError, match="does not go back"):
            sim.advance_to(now - 1)
        with pytest.raises(ValueError, match="aware datetime"):
            sim.advance_to(datetime.datetime(2030, 1, 1))
        with pytest.raises(ValueError):
            sim.advance(-1)
        sim.advance_to(datetime.datetime(2030, 1, 1, tzinfo=datetime.timezone.utc))
        assert sim.now == datetime.datetime(2030, 1, 1, tzinfo=datetime.timezone.utc).timestamp()
    with pytest.raises(ValueError, match="clock must be 'wall' or 'manual'"):
        running_simulator(clock="fast")


def test_serve_speed_runs_time_faster_and_only_in_memory(tmp_path):
    stub = str(Path(sys.executable).with_name("sdamanager-stub"))
    refused = subprocess.run([stub, "serve", "--speed", "60", "--state", str(tmp_path / "s.db"), "--port", "0"],
                             capture_output=True, text=True, timeout=60)
    assert refused.returncode == 2 and "--speed goes with --memory" in refused.stderr
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SDAMANAGER_", "MOREH_SDA"))}
    server = subprocess.Popen([stub, "serve", "--speed", "3600", "--memory", "--port", "0", "--backends", "1"],
                              stdout=subprocess.PIPE, text=True, env=env)
    try:
        port = server.stdout.readline().rsplit(":", 1)[1].strip()
        shell = [str(Path(sys.executable).with_name("moreh_smclient")), "--port", port, "-o", "json", "--command"]

        def times() -> list[float]:
            events = json.loads(subprocess.run([*shell, "show eventlog"], capture_output=True, text=True,
                                               timeout=60, env=env).stdout)
            return [datetime.datetime.fromisoformat(e["time"]).timestamp() for e in events]

        wall = time.monotonic()
        subprocess.run([*shell, "create token first"], check=True, capture_output=True, timeout=60, env=env)
        time.sleep(0.5)
        subprocess.run([*shell, "create token second"], check=True, capture_output=True, timeout=60, env=env)
        wall = time.monotonic() - wall  # from before the first change to after the second
        first, second = times()
        assert second - first >= 3600 * 0.5  # at least half an hour of simulated time in half a second
        assert second - first <= 3600 * wall
    finally:
        server.terminate()
        server.wait(30)


# ---------------------------------------------------------------- the wall clock set back

class Clocks:
    """A wall clock and a monotonic one that a test moves: `step` sets the wall clock
    (as NTP or `date -s` would), `elapse` lets seconds pass on both."""

    def __init__(self, wall: float = 1_700_000_000.0) -> None:
        self.wall, self.monotonic = wall, 50.0

    def step(self, seconds: float) -> None:
        self.wall += seconds

    def elapse(self, seconds: float) -> None:
        self.wall += seconds
        self.monotonic += seconds


def test_a_steady_clock_runs_on_when_the_wall_clock_is_set_back_and_follows_it_forward():
    from sdamanager_stub.clock import SteadyClock

    clocks = Clocks()
    steady = SteadyClock(lambda: clocks.wall, lambda: clocks.monotonic)
    start = steady()
    clocks.elapse(10)
    assert steady() == start + 10
    clocks.step(-3600)  # set back an hour
    clocks.elapse(2)
    assert steady() == start + 12  # never backwards, never standing still
    clocks.step(7200)  # set forward past it (or a resume from suspend)
    assert steady() == clocks.wall
    steady.not_before(clocks.wall + 100)
    assert steady() == clocks.wall + 100


@pytest.mark.parametrize("clock", ["wall", "steady"])
def test_devices_prepare_and_clean_in_their_seconds_when_the_wall_clock_is_set_back(clock):
    """The probe's finding: set back an hour, devices stayed PREPARING or CLEANING for
    about 3,600 s on wall time.  On the server's clock (new_manager's default), they
    take their seconds.  (The "wall" case shows what the finding was, on a manager
    given the wall clock itself.)"""
    from sdamanager_stub.clock import SteadyClock
    from sdamanager_stub.manager import new_manager

    clocks = Clocks()
    wall = lambda: clocks.wall  # noqa: E731
    m = new_manager(backends=1, devices=2, prepare_seconds=2, clean_seconds=3,
                    clock=wall if clock == "wall" else SteadyClock(wall, lambda: clocks.monotonic))
    token = m.create_token("t", 0).value
    m.create_sda(token, "s", 1)
    first = m.request_devices(token, 1, "python a.py")
    clocks.step(-3600)
    clocks.elapse(2.5)
    running = m.job(first.feid).status.value == "RUNNING"
    m.finish_job(first.feid)
    clocks.step(-3600)
    clocks.elapse(3.5)
    m.advance()  # (what every query does first)
    idle = [d.status.value for d in m.backend(1).devices] == ["IDLE", "IDLE"]
    assert (running, idle) == ((False, False) if clock == "wall" else (True, True))


def test_the_server_runs_on_a_steady_clock():
    from sdamanager_stub.clock import SteadyClock
    from sdamanager_stub.manager import new_manager

    assert isinstance(new_manager(backends=1, devices=1).clock, SteadyClock)
