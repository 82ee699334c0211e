"""`Simulation.restart`: a server crash and restart in virtual time, with or without a binlog,
and the `-f` window of lost writes. Plus the trace it leaves and the views that read it."""

from __future__ import annotations

import greenstalk
import matplotlib
import pytest

matplotlib.use("Agg")

from stalksim import views  # noqa: E402
from stalksim.simulation import LOST_MS_MAX, Simulation  # noqa: E402
from stalksim.trace import replay  # noqa: E402
from stalksim.workers import Crash, Producer, Worker  # noqa: E402


def jobs_of(sim: Simulation) -> dict[int, tuple]:
    """Every job by the core's snapshot: (tube, state, pri, delay, ttr, deadline, body)."""
    out = {}
    for t in sim.server.snapshot().tubes.values():
        for j in (*t.ready, *t.delayed, *t.buried, *t.reserved):
            out[j.id] = (j.tube, j.state, j.pri, j.delay, j.ttr, j.deadline, j.body)
    return out


def test_restart_with_binlog_brings_jobs_back() -> None:
    sim = Simulation(seed=1, binlog=True)
    c = sim.client(use="orders", watch="orders")
    a = c.put("a", priority=5)
    b = c.put("b", delay=100)
    r = c.put("r", ttr=30)
    gone = c.put("gone")
    assert c.reserve().id == a
    c.bury(greenstalk.Job(a, "a"), priority=7)
    assert c.reserve().id == r
    c.delete(gone)
    sim.advance(10)
    sim.restart(binlog=True)
    got = jobs_of(sim)
    assert got == {a: ("orders", "buried", 7, 0, 60, 0, b"a"),
                   b: ("orders", "delayed", 65536, 100, 60, 100 * 10**9, b"b"),
                   r: ("orders", "ready", 65536, 0, 30, 0, b"r")}
    assert sim.server.jobs[a].buries == 2  # beanstalkd counts a restored bury again
    with pytest.raises(ConnectionError, match="Unexpected EOF"):
        c.put("after")
    c2 = sim.client(use="orders", watch="orders")
    assert c2.put("next") == gone + 1
    assert c2.reserve().id == r
    sim.advance(95)
    assert c2.peek_ready().id == b  # what was left of its delay: 90 s
    sim.server.check()
    assert sim.server.snapshot().conns.keys() == {c2._conn.number}


def test_restart_without_binlog_loses_everything() -> None:
    sim = Simulation(seed=2, binlog=True)
    c = sim.client()
    ids = [c.put(f"{i}") for i in range(3)]
    c.reserve()
    sim.restart()
    assert jobs_of(sim) == {}
    c2 = sim.client()
    assert c2.put("x") == 1  # a fresh beanstalkd starts at id 1
    assert c2.stats()["total-jobs"] == 1 and c2.stats()["total-connections"] == 1
    lost = [(e.job, e.src, e.cause) for e in sim.trace if e.cause in ("lost", "restored")]
    assert lost == [(ids[0], "reserved", "lost"), (ids[1], "ready", "lost"),
                    (ids[2], "ready", "lost")]
    assert c2.name != c.name  # connection names stay unique across the restart


def test_lost_window_undoes_the_last_writes() -> None:
    """-f 100: writes of the last 100 ms are lost: a put is gone, a delete undone, a bury
    undone (the job as its earlier write left it), older writes stand."""
    sim = Simulation(seed=3, binlog=True)
    c = sim.client()
    old = c.put("old")
    doomed = c.put("deleted late")
    buried = c.put("buried late")
    sim.advance(1)
    c.delete(doomed)
    job = c.reserve()
    assert job.id == old
    c.release(job)  # not logged: no loss either way
    job = c.reserve()
    assert job.id == old
    c2 = sim.client()
    got = c2.reserve()
    assert got.id == buried
    c2.bury(got)
    late = c.put("late")
    sim.advance(0.05)
    sim.restart(binlog=True, lost_ms=100)
    got_jobs = jobs_of(sim)
    assert set(got_jobs) == {old, doomed, buried}
    assert got_jobs[doomed][1] == "ready" and got_jobs[buried][1] == "ready"
    events = {(e.job, e.src, e.dst, e.cause) for e in sim.trace if e.time == sim.now and e.job}
    assert events == {(old, "reserved", "ready", "restored"),
                      (doomed, "deleted", "ready", "restored"),
                      (buried, "buried", "ready", "restored"),
                      (late, "ready", "deleted", "lost")}
    assert replay(sim.trace) == {old: "ready", doomed: "ready", buried: "ready",
                                 late: "deleted"}
    c3 = sim.client()
    assert c3.put("x") == late  # the lost put's id is given again, as beanstalkd would


def test_lost_ms_checked() -> None:
    sim = Simulation(binlog=True)
    with pytest.raises(ValueError):
        sim.restart(binlog=True, lost_ms=-1)
    with pytest.raises(ValueError, match="keeps"):
        sim.restart(binlog=True, lost_ms=LOST_MS_MAX + 1)


def test_workers_die_with_the_connection_and_the_views_draw() -> None:
    """A worker waiting in reserve, or working, loses its connection: its process ends
    (greenstalk's ConnectionError, no reconnect loop); the simulation goes on; a worker
    started after the restart takes the restored jobs; the views draw the trace."""
    sim = Simulation(seed=4, binlog=True)
    p = Producer(interval=1.0, count=10).start(sim)
    w1 = Worker(service=1.5).start(sim)
    w2 = Worker(service=0.5, faults=[Crash(at=100)]).start(sim)
    sim.advance(4.2)
    sim.restart(binlog=True)
    sim.advance(2)  # each one finds out at its next command (or at once, waiting in reserve)
    assert not (p.process.is_alive or w1.process.is_alive or w2.process.is_alive)
    restored = set(sim.server.jobs)
    assert restored
    w3 = Worker(service=0.1).start(sim)
    sim.advance(30)
    assert w3.done == len(restored) and not sim.server.jobs
    states = replay(sim.trace)
    assert set(states.values()) == {"deleted"}
    views.job_timeline(sim.trace)
    views.worker_swimlanes(sim.trace)
    views.tube_depth(sim.trace)
    views.overview(sim.trace)


def test_process_waiting_in_reserve_gets_connection_error() -> None:
    sim = Simulation(seed=5, binlog=True)
    conn = sim.connect("waiter")
    seen = []

    def waiter():
        try:
            yield conn.reserve()
        except ConnectionError as e:
            seen.append((sim.now, str(e)))

    sim.process(waiter())
    sim.advance(2)
    sim.restart()
    sim.run()
    assert seen == [(2.0, "Unexpected EOF")]


def test_other_errors_still_stop_the_simulation() -> None:
    sim = Simulation(binlog=True)

    def broken():
        yield sim.timeout(1)
        raise ConnectionError("not from a restart")

    sim.process(broken())
    with pytest.raises(ConnectionError):
        sim.run()


def test_a_simulation_without_binlog_model() -> None:
    sim = Simulation(binlog=False)
    sim.client().put("x")
    with pytest.raises(ValueError, match="needs a Simulation"):
        sim.restart(binlog=True)
    sim.restart()
    assert not sim.server.jobs and sim.server.journal is None


def test_restored_jobs_survive_the_next_restart_too() -> None:
    """Jobs a restart brought back are on disk: a second restart, even with a window, keeps
    them (a buried job counts one more bury each time, as beanstalkd's does)."""
    sim = Simulation(seed=6, binlog=True)
    c = sim.client()
    a, b = c.put("a"), c.put("b", delay=50)
    c.bury(c.reserve())
    sim.advance(1)
    sim.restart(binlog=True)
    sim.advance(0.001)
    sim.restart(binlog=True, lost_ms=1000)
    got = jobs_of(sim)
    assert {i: v[1] for i, v in got.items()} == {a: "buried", b: "delayed"}
    assert got[b][5] == 50 * 10**9 and sim.server.jobs[a].buries == 3
    c2 = sim.client()
    assert c2.put("c") == b + 1


def test_a_restart_trace_is_well_formed() -> None:
    from stalksim.trace import check_event

    sim = Simulation(seed=7, binlog=True)
    c = sim.client()
    kept, gone = c.put("kept"), c.put("gone")
    sim.advance(1)
    c.put("in the window")
    sim.restart(binlog=True, lost_ms=500)
    raw = sim.trace.raw
    for ev in raw:
        check_event(ev)  # restart, restored and lost are declared words of the schema
    after = raw[next(i for i, ev in enumerate(raw) if ev[5] == "restart"):]
    assert [(ev[1], ev[5]) for ev in after] == [(0, "restart"), (3, "lost"),
                                                 (kept, "restored"), (gone, "restored")]
    assert replay(sim.trace) == {kept: "ready", gone: "ready", 3: "deleted"}


def test_the_default_simulation_keeps_no_binlog_as_beanstalkd_without_b() -> None:
    sim = Simulation()
    sim.client().put("x")
    with pytest.raises(ValueError, match="Simulation\\(binlog=True\\)"):
        sim.restart(binlog=True)
    sim.restart()  # without one: everything is gone
    assert sim.client().stats()["current-jobs-ready"] == 0


def test_a_process_reserving_after_a_restart_gets_connection_error() -> None:
    sim = Simulation(binlog=True)
    conn = sim.connect("late")
    seen: list[str] = []

    def late_reserver():
        yield sim.timeout(2)
        try:
            yield conn.reserve()
        except ConnectionError as e:
            seen.append(str(e))

    sim.process(late_reserver())
    sim.advance(1)
    sim.restart(binlog=True)
    sim.advance(2)
    assert seen == ["Unexpected EOF"]


def test_the_views_show_the_restart_and_what_was_lost() -> None:
    sim = Simulation(seed=8, binlog=True)
    c = sim.client()
    for n in range(4):
        c.put(f"job {n}")
    c.delete(c.reserve())
    sim.advance(2)
    c.put("late")
    sim.advance(0.1)
    sim.restart(binlog=True, lost_ms=500)  # "late" was put 0.1 s before: lost
    sim.advance(1)
    for fig in (views.job_timeline(sim.trace), views.worker_swimlanes(sim.trace),
                views.tube_depth(sim.trace)):
        ax = fig.axes[0]
        lines = [a for a in ax.lines if a.get_gid() == "restart"]
        assert [line.get_xdata()[0] for line in lines] == [pytest.approx(2.1)]
        labels = [t.get_text() for t in ax.get_legend().get_texts()]
        assert "server restart" in labels
    timeline = views.job_timeline(sim.trace).axes[0]
    lost = [a for a in timeline.lines if a.get_gid() == "lost"]
    assert len(lost) == 1 and list(lost[0].get_xdata()) == [pytest.approx(2.1)]
