"""JobWatch's reading of stats-job (what moved a job, from the server's counters), its words,
and LiveView(watch=...): the kill -9 / stop / continue buttons and the jobs it draws."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any

import greenstalk
import pytest

from stalksim import live
from stalksim.live.jobview import html
from stalksim.live.process import Report
from stalksim.live.watch import COUNTERS, JobWatch, Seen
from stalksim.trace import replay
from tests.realserver import RealBeanstalkd

pytestmark = pytest.mark.real


@pytest.fixture(scope="module")
def server() -> Iterator[RealBeanstalkd]:
    with RealBeanstalkd() as b:
        yield b


@pytest.fixture
def idle(server: RealBeanstalkd) -> Iterator[JobWatch]:
    """A watch whose poller never gets to look: the test feeds it stats-job answers."""
    with JobWatch(server.address, tube=f"w-{secrets.token_hex(3)}", interval=3600) as w:
        yield w


def stats(state: str, **counts: int) -> dict[str, Any]:
    return {"state": state, **{k: counts.get(k, 0) for k in COUNTERS}}


def feed(watch: JobWatch, *answers: dict[str, Any] | None) -> list[tuple[str, str, str]]:
    """A new job, put ready, then seen as each stats-job answer says (None: NOT_FOUND), one
    look a second; its moves (src, dst, cause) after the put, as recorded."""
    job = max(watch.jobs, default=6) + 1
    with watch._cond:  # as the poller holds it
        seen = watch.jobs[job] = Seen(watch.tube, "x", 5, "ready")
        watch._emit(0.0, job, "new", "ready", "put", "producer")
        for t, answer in enumerate(answers, 1):
            watch._observe(job, seen, answer, float(t))
    trace = watch.trace()
    replay(trace)  # every move starts where the job was
    return [(r.src, r.dst, r.cause) for r in trace if r.job == job and r.dst][1:]


def test_a_hand_back_is_named_by_the_counter_that_moved(idle: JobWatch) -> None:
    assert feed(idle, stats("reserved", reserves=1), stats("ready", reserves=1)) == [
        ("ready", "reserved", "reserve"), ("reserved", "ready", "connection-closed")]
    assert feed(idle, stats("reserved", reserves=1),
                stats("ready", reserves=1, timeouts=1)) == [
        ("ready", "reserved", "reserve"), ("reserved", "ready", "ttr-expired")]
    assert feed(idle, stats("reserved", reserves=1),
                stats("delayed", reserves=1, releases=1)) == [
        ("ready", "reserved", "reserve"), ("reserved", "delayed", "release")]
    assert feed(idle, stats("reserved", reserves=1), stats("buried", reserves=1, buries=1),
                stats("ready", reserves=1, buries=1, kicks=1)) == [
        ("ready", "reserved", "reserve"), ("reserved", "buried", "bury"),
        ("buried", "ready", "kick")]


def test_moves_between_two_looks_are_all_recorded(idle: JobWatch) -> None:
    """Taken back by its TTR and reserved again by a waiting worker within one look."""
    assert feed(idle, stats("reserved", reserves=1), stats("reserved", reserves=2, timeouts=1),
                None) == [("ready", "reserved", "reserve"), ("reserved", "ready", "ttr-expired"),
                          ("ready", "reserved", "reserve"), ("reserved", "deleted", "delete")]


def test_who_reserved_is_the_worker_that_reported_that_reserve(idle: JobWatch) -> None:
    feed(idle, stats("reserved", reserves=1), stats("reserved", reserves=2))
    for n, name in ((1, "a"), (2, "b")):
        worker = SimpleNamespace(name=name)  # all the watch reads of the worker
        idle.reported(worker, Report(idle.t0 + 0.5 * n, "reserved", 7, reserves=n, ttr=5))
    actors = [(r.cause, r.actor) for r in idle.trace() if r.job == 7 and r.dst]
    assert actors == [("put", "producer"), ("reserve", "a"), ("connection-closed", "a"),
                      ("reserve", "b")]
    assert idle.holder(7) == "b"


def test_the_view_has_buttons_that_signal_and_show_what_followed(server: RealBeanstalkd
                                                                 ) -> None:
    pytest.importorskip("ipywidgets")
    with JobWatch(server.address, tube=f"v-{secrets.token_hex(3)}") as watch:
        a = watch.worker("worker-a", work=60)
        job = watch.put("resize photo 7", ttr=30)
        a.wait_for("reserved", job)
        view = live.LiveView(watch=watch)
        try:
            assert view.only == [watch.tube] and view.address == watch.address
            (row,) = view.controls.rows
            assert {w: b.disabled for w, b in row.buttons.items()} == {
                "kill": False, "stop": False, "cont": True}
            assert "worker-a</b> pid" in row.label.value and f"holds job {job}" in \
                row.label.value
            row.buttons["stop"].click()
            assert a.state == "stopped" and not row.buttons["cont"].disabled
            row.buttons["cont"].click()
            assert a.state == "running"
            row.buttons["kill"].click()  # kill -9 from the button
            assert a.state == "killed" and watch.state(job) == "ready"
            assert all(b.disabled for b in row.buttons.values())
            assert "ready again at once" in view.jobs.value
            assert "stalk-chg" in view.jobs.value  # what the kill changed, highlighted
            snapshot = view.refresh().data  # a cell's static copy has the jobs too
            assert "worker-a (pid" in snapshot and "killed" in snapshot
            b = watch.worker("worker-b", work=0.1)
            view.refresh()
            assert len(view.controls.rows) == 2 and view.controls.rows[1].worker is b
        finally:
            view.close()


def test_a_button_on_a_process_that_ended_says_so(server: RealBeanstalkd) -> None:
    pytest.importorskip("ipywidgets")
    with JobWatch(server.address, tube=f"v-{secrets.token_hex(3)}") as watch:
        a = watch.worker("worker-a", work=60)
        controls = live.WorkerControls(watch)
        a.close()
        controls.act(a, "kill")
        assert "worker-a" in controls.error.value and "exited" in controls.error.value


def test_history_and_drawing_of_a_kill(server: RealBeanstalkd) -> None:
    with JobWatch(server.address, tube=f"v-{secrets.token_hex(3)}") as watch:
        a = watch.worker("worker-a", work=60)
        job = watch.put("resize photo 7", ttr=30)
        a.wait_for("reserved", job)
        a.kill()
        watch.wait_for(job, "ready")
        lines = watch.history(job).splitlines()
        drawn, count = html(watch)
    assert lines[0] == f"job {job} 'resize photo 7' (TTR 30 s), as beanstalkd showed it:"
    assert [line.split("  ", 2)[-1] for line in lines[1:3]] == ["put: ready",
                                                               "reserved by worker-a"]
    assert "worker-a: SIGKILL (kill -9) (holding it)" in lines[3]
    assert "ready again at once, " in lines[4] and "after the SIGKILL: worker-a's connection " \
        "closed (" in lines[4] and "s of TTR left)" in lines[4]
    assert count == 4 and drawn.count("class='stalk-chg'") == 4  # all new at the first look
    assert "stalk-strip" in drawn and "worker-a" in drawn


def test_the_watch_cleans_up_its_jobs(server: RealBeanstalkd) -> None:
    tube = f"v-{secrets.token_hex(3)}"
    with JobWatch(server.address, tube=tube) as watch:
        job = watch.put("left over", ttr=5)
    with greenstalk.Client(server.address) as c:
        with pytest.raises(greenstalk.NotFoundError):
            c.stats_job(job)
    assert watch._thread is not None and not watch._thread.is_alive()
