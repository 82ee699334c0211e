"""Going live: connect() to a real beanstalkd (or a one-line message), a private server
started and stopped by process id, LiveView, and run_live recording a real run's trace."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import greenstalk
import pytest

from stalksim import live
from stalksim.live import driver
from stalksim.scenarios import run_scenario
from stalksim.trace import replay
from tests.realserver import RealBeanstalkd, free_port, require_beanstalkd

pytestmark = pytest.mark.real


@pytest.fixture(scope="module")
def server() -> object:
    with RealBeanstalkd() as b:
        yield b


def test_connect_says_how_to_start_beanstalkd(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BEANSTALKD_HOST", "127.0.0.1")
    monkeypatch.setenv("BEANSTALKD_PORT", str(free_port()))
    with pytest.raises(live.NoServer) as err:
        live.connect()
    message = str(err.value)
    assert "\n" not in message
    for words in ("apt-get install beanstalkd", "brew install beanstalkd", "Binder",
                  "start_private"):
        assert words in message
    assert err.value._render_traceback_() == [f"\x1b[31m{message}\x1b[0m"]  # no traceback


def test_connect_uses_the_environment(server: RealBeanstalkd,
                                      monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BEANSTALKD_HOST", server.host)
    monkeypatch.setenv("BEANSTALKD_PORT", str(server.port))
    with live.connect(use="t") as c:
        assert c.using() == "t"


def test_start_private_starts_and_stops_by_pid() -> None:
    require_beanstalkd()
    private = live.start_private()
    try:
        assert private.running()
        os.kill(private.pid, 0)  # the process exists
        with private.client() as c:
            assert c.put("x") == 1
    finally:
        private.stop()
    assert not private.running()
    with pytest.raises(OSError):
        greenstalk.Client(private.address)


def test_private_server_stops_at_interpreter_exit(tmp_path: object) -> None:
    require_beanstalkd()
    code = ("import stalksim.live as l; s = l.start_private(); print(s.pid, flush=True)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, timeout=30, env={**os.environ, "PYTHONPATH": os.getcwd()})
    pid = int(out.stdout.split()[0])
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)


def test_connect_start_falls_back_to_a_private_server(monkeypatch: pytest.MonkeyPatch) -> None:
    require_beanstalkd()
    monkeypatch.setenv("BEANSTALKD_PORT", str(free_port()))
    c = live.connect(start=True)
    try:
        assert c.put("hello") >= 1
    finally:
        c.close()
        live._private[-1].stop()


def test_live_view_refreshes_and_highlights_changes(server: RealBeanstalkd) -> None:
    pytest.importorskip("ipywidgets")
    with greenstalk.Client(server.address, use="lv") as c:
        view = live.LiveView(c, match="lv")
        try:
            assert view.counts["lv"]["current-jobs-ready"] == 0
            c.put("a")
            view.button.click()
            assert view.counts["lv"]["current-jobs-ready"] == 1
            assert ("lv", "current-jobs-ready") in view.changed
            assert "stalk-chg" in view.table.value and "(+1)" in view.table.value
            view.refresh()
            assert not view.changed
            view.interval = 0.05
            view.auto.value = True
            assert view._thread is not None and view._thread.is_alive()
        finally:
            view.close()
        assert view._thread is None


def test_run_live_records_a_crash(server: RealBeanstalkd) -> None:
    trace = live.run_live("crashed-consumer", speed=5, until=10, address=server.address)
    causes = [r.cause for r in trace]
    assert trace.meta["live"] and trace.meta["scenario"] == "crashed-consumer"
    assert causes.count("put") == 4 and causes.count("delete") == 4
    assert "crash" in causes and causes.count("connection-closed") == 1
    assert "ttr-expired" not in causes
    crash = next(r for r in trace if r.cause == "crash")
    closed = next(r for r in trace if r.cause == "connection-closed")
    assert crash.time == closed.time == pytest.approx(3.5)
    assert set(replay(trace).values()) == {"deleted"}
    with greenstalk.Client(server.address) as c:  # the run cleaned up after itself
        assert not [t for t in c.tubes() if t.startswith("live-")]


def stories(trace) -> dict[int, list[tuple[str, str]]]:
    """Each job's moves: (cause, actor), in order."""
    out: dict[int, list[tuple[str, str]]] = {}
    for r in trace:
        if r.dst:
            out.setdefault(r.job, []).append((r.cause, r.actor))
    return out


def _slow_connect(monkeypatch: pytest.MonkeyPatch) -> None:
    connect = driver.LiveRun.client

    def slow(self, **kw):
        time.sleep(0.15)  # a loaded machine: each connection takes a while
        return connect(self, **kw)

    monkeypatch.setattr(driver.LiveRun, "client", slow)


def _slow_thread(monkeypatch: pytest.MonkeyPatch) -> None:
    main = driver.LiveWorker.main

    def slow(self):
        time.sleep(0.3)  # a loaded machine: the thread gets to its first reserve late
        return main(self)

    monkeypatch.setattr(driver.LiveWorker, "main", slow)


@pytest.mark.parametrize("load", [_slow_connect, _slow_thread], ids=["connect", "thread"])
def test_a_slow_start_leaves_the_story_as_planned(server: RealBeanstalkd, load,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    # CI: the clock started before the workers were in place, so the puts at t=0 and t=1
    # went out while they connected; worker-2 took job 3 and worker-1 crashed holding none
    load(monkeypatch)
    trace = live.run_live("crashed-consumer", speed=5, until=10, address=server.address)
    planned = run_scenario("crashed-consumer", seed=0, until=10).trace
    assert stories(trace) == stories(planned)
    assert stories(trace)[3] == [("put", "shop"), ("reserve", "worker-1"),
                                 ("connection-closed", "worker-1"), ("reserve", "worker-2"),
                                 ("delete", "worker-2")]


def test_run_live_records_bury_kick_and_release(server: RealBeanstalkd) -> None:
    # at speed 2.5 the 2 s back-off is a 1 s delay on the wire (the 1 s one rounds to 0)
    trace = live.run_live("poison", speed=2.5, until=13, address=server.address)
    causes = [r.cause for r in trace]
    assert causes.count("release") == 2 and causes.count("bury") == 1
    assert causes.count("kick") == 1 and "delay-matured" in causes
    assert {r.src for r in trace if r.cause == "reserve"} == {"ready"}
    assert set(replay(trace).values()) == {"deleted"}


def test_run_live_infers_ttr_expiry_from_a_second_reserve(server: RealBeanstalkd) -> None:
    trace = live.run_live("short-ttr", speed=1, until=8, address=server.address, ttr=2)
    causes = [r.cause for r in trace]
    assert "ttr-expired" in causes and "not-found" in causes
    replay(trace)  # consistent: every transition starts where the job was
    # the same story as the simulation: a delete after the TTR ran out (job ready again, nobody
    # took it) succeeds and comes after a ttr-expired; 1.12's late release does not show
    keep = {"ttr-expired", "not-found", "delete"}
    simulated = run_scenario("short-ttr", until=8, ttr=2).trace
    story = [(r.job, r.cause, r.actor) for r in trace if r.cause in keep]
    assert story == [(r.job, r.cause, r.actor) for r in simulated if r.cause in keep]
    expired = [r.time for r in trace if r.cause == "ttr-expired"]
    assert expired == pytest.approx([r.time for r in simulated if r.cause == "ttr-expired"],
                                    abs=0.15)
