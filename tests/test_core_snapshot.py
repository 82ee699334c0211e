"""The core's read API (`snapshot`, `check`) and its one trace writer (issue 13)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

import stalksim
from stalksim.core import SEC, Inconsistent, Server
from stalksim.trace import FIELDS

CORE = Path(stalksim.__file__).parent / "core"


def busy() -> tuple[Server, list]:
    """A server with jobs in every state, a paused tube and a waiting connection."""
    s = Server(trace=[])
    p, w, idle = s.connect(0, "p"), s.connect(0, "w"), s.connect(0, "idle")
    for pri in (5, 1, 3, 1):
        s.put(p, 0, pri, 0, 60, b"r%d" % pri)
    s.put(p, 0, 0, 10, 60, b"late")
    s.put(p, 0, 0, 5, 60, b"soon")
    held = s.reserve(w, 0)
    s.bury(w, 0, held.id, 7)
    s.reserve(w, 0)
    s.use(p, 0, "other")
    s.pause_tube(p, 0, "other", 30)
    s.watch(idle, 0, "empty")
    s.ignore(idle, 0, "default")
    assert s.reserve(idle, 0) is None
    return s, [p, w, idle]


def test_snapshot_lists_jobs_in_the_servers_orders() -> None:
    s, (p, w, idle) = busy()
    snap = s.snapshot()
    d = snap.tubes["default"]
    assert [j.id for j in d.ready] == [3, 1]  # (pri, id): 3 p3, 1 p5 (2 buried, 4 reserved)
    assert [j.id for j in d.delayed] == [6, 5]  # by deadline
    assert [(j.id, j.pri) for j in d.buried] == [(2, 7)]
    assert [(j.id, j.holder) for j in d.reserved] == [(4, w.number)]
    assert snap.tubes["other"].paused_until == 30 * SEC
    assert snap.tubes["empty"].waiting == (idle.number,)
    assert snap.conns[idle.number].waiting and snap.conns[idle.number].watch == ("empty",)
    assert snap.conns[w.number].reserved[0].deadline == 60 * SEC
    # the orders are the ones the server acts in: reserve takes ready jobs in this order
    s.delete(w, 0, d.reserved[0].id)
    assert [s.reserve(w, 0).id for _ in d.ready] == [j.id for j in d.ready]


def test_a_snapshot_is_values_not_live_records() -> None:
    s, (p, w, _) = busy()
    snap = s.snapshot()
    s.kick(p, 0, 10)  # p uses "other": nothing buried there, nothing delayed
    s.use(p, 0, "default")
    s.kick(p, 0, 10)
    assert [j.id for j in snap.tubes["default"].buried] == [2]
    assert s.snapshot().tubes["default"].buried == ()


def test_check_passes_on_a_busy_server_and_after_timers() -> None:
    s, _ = busy()
    s.check()
    for t in (5, 30, 61, 200):
        s.advance(t * SEC)
        s.check()


@pytest.mark.parametrize("corrupt, what", [
    (lambda s: setattr(s.tube_by_name["default"], "ready_n", 9), "ready count"),
    (lambda s: setattr(s.jobs[1], "state", "buried"), "job 1"),
    (lambda s: setattr(s.jobs[4], "reserver", None), "job 4"),
    (lambda s: setattr(s, "waiting_n", 0), "waiting count"),
    (lambda s: setattr(s, "_due", 1 << 62), "before the next wake-up"),
    (lambda s: s.tube_by_name["empty"].waiting.items.clear(), "waiting sets"),
])
def test_check_finds_a_broken_invariant(corrupt, what: str) -> None:
    s, _ = busy()
    corrupt(s)
    with pytest.raises(Inconsistent, match=what):
        s.check()


def test_the_trace_has_one_writer() -> None:
    """Only `State.emit` appends to the trace; the simulation's marks go through it too."""
    sources = {p.name: p.read_text() for p in CORE.glob("*.py")}
    writes = {n: len(re.findall(r"trace\.append\(", t)) for n, t in sources.items()}
    assert sum(writes.values()) == 1 and writes["state.py"] == 1
    sim_src = (CORE.parent / "simulation.py").read_text()
    assert "_events.append" not in sim_src and "server.emit(" in sim_src


def test_events_are_laid_out_as_the_trace_declares() -> None:
    sim = stalksim.Simulation()
    c = sim.client()
    sim.advance(1.5)
    id = c.put(b"x", ttr=5)
    job = c.reserve()
    c.touch(job)
    c.pause_tube("default", 2)
    sim.mark("me", "hang", id, "default")
    c.delete(job)
    named = [dict(zip(FIELDS, ev, strict=True)) for ev in sim.trace.raw]
    t = round(1.5 * SEC)
    assert named == [
        dict(time=t, job=id, tube="default", src="new", dst="ready", cause="put",
             actor=c.name),
        dict(time=t, job=id, tube="default", src="ready", dst="reserved", cause="reserve",
             actor=c.name),
        dict(time=t, job=id, tube="default", src="reserved", dst="reserved", cause="touch",
             actor=c.name),
        dict(time=t, job=0, tube="default", src="", dst="", cause="pause", actor=c.name),
        dict(time=t, job=id, tube="default", src="", dst="", cause="hang", actor="me"),
        dict(time=t, job=id, tube="default", src="reserved", dst="deleted", cause="delete",
             actor=c.name),
    ]
    assert all(type(ev[0]) is int for ev in sim.trace.raw)
