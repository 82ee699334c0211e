"""Lesson 7, when the server restarts: `LiveSession.restart` on a real beanstalkd -b DIR agrees
with `Simulation.restart`; the lesson's sim-only cell (the -f window) shows what its text says,
and that text matches `beanstalkd -h`; the exercise's story holds on the real server too."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import greenstalk
import nbformat
import pytest

import stalksim
import stalksim.exercises as ex
from stalksim.exercises import durability
from stalksim.live.session import LiveSession
from tests.lesson_cells import code_cells, run_cell
from tests.realserver import require_beanstalkd
from tests.test_exercises import learner

LESSON = Path(__file__).resolve().parents[1] / "notebooks" / "07-when-the-server-restarts.ipynb"


def story(session: Any) -> list[str]:
    """Jobs in every state, a restart with the binlog, then one without: what a client sees."""
    seen = []
    c = session.client(use="t", watch="t")
    ids = [c.put("a"), c.put("b", delay=30), c.put("c"), c.put("d"), c.put("e", priority=0)]
    c.delete(c.reserve())  # e
    held = c.reserve()  # a: reserved, then released (not logged: restored as ready anyway)
    c.bury(c.reserve())  # c: buried
    c.reserve()  # d: reserved when the server goes down
    c.release(held)
    session.advance(1)
    session.restart(binlog=True)
    with pytest.raises(ConnectionError):
        c.stats()
    c = session.client(use="t")
    for i in ids:
        try:
            st = c.stats_job(i)
            seen.append(f"{i} {st['state']} {st['pri']} {st['reserves']} {st['buries']}")
        except greenstalk.NotFoundError:
            seen.append(f"{i} gone")
    seen.append(f"next id {c.put('x')}")
    session.restart()
    c = session.client(use="t")
    seen.append(f"empty: {c.stats()['current-jobs-ready']} ready, next id {c.put('y')}")
    return seen


@pytest.mark.real
def test_live_restart_matches_the_simulated_one() -> None:
    require_beanstalkd()
    with LiveSession(binlog=True) as live:
        port, pid = live.server.port, live.server.pid
        real = story(live)
        assert live.server.port == port and live.server.pid != pid and live.restarts == 2
    simulated = story(stalksim.Simulation(seed=1, binlog=True))
    assert real == simulated
    assert simulated[:5] == ["1 ready 65536 0 0", "2 delayed 65536 0 0", "3 buried 65536 1 2",
                             "4 ready 65536 0 0", "5 gone"]


@pytest.mark.real
def test_live_restart_refuses_what_it_cannot_do() -> None:
    require_beanstalkd()
    with LiveSession() as plain:
        with pytest.raises(ValueError, match="keeps no binlog"):
            plain.restart(binlog=True)
        plain.client().put("x")
        plain.restart()  # a crash without -b: nothing comes back
        assert plain.client().stats()["current-jobs-ready"] == 0
        with pytest.raises(ValueError, match="not ours"):
            LiveSession(plain.address, binlog=True)
        with pytest.raises(ValueError, match="not ours to stop"):
            LiveSession(plain.address).restart()
    with LiveSession(binlog=True) as live, pytest.raises(ValueError, match="simulator only"):
        live.restart(binlog=True, lost_ms=50)


@pytest.mark.real
def test_the_fsync_text_is_beanstalkds_own() -> None:
    """The lesson's -f / -f0 / -F sentence, against the installed beanstalkd's help."""
    help_text = subprocess.run([require_beanstalkd(), "-h"], capture_output=True, text=True,
                               timeout=10)
    out = " ".join((help_text.stdout + help_text.stderr).split())
    assert "-f MS fsync at most once every MS milliseconds (default is 50ms)" in out
    assert 'use -f0 for "always fsync"' in out and "-F never fsync" in out
    text = " ".join(" ".join(c.source.split()) for c in nbformat.read(LESSON, 4).cells
                    if c.cell_type == "markdown")
    assert "at most once every `-f MS` milliseconds (50 ms unless you say otherwise" in text
    assert "`-f0` fsyncs after every write, `-F` never; see `beanstalkd -h`" in text


def run_everything_on_the_simulator() -> tuple[dict[str, Any], dict[int, str]]:
    """Every cell but figures and exercises, sim-only ones included."""
    ns: dict[str, Any] = {"__name__": "__lesson__"}
    outputs = {}
    for index, tags, source in code_cells(LESSON):
        if not {"plot", "widgets", "exercise"} & set(tags):
            outputs[index] = run_cell(source, ns)
    return ns, outputs


def test_the_fsync_window_cell_shows_a_lost_put_and_a_deleted_job_back() -> None:
    ns, outputs = run_everything_on_the_simulator()
    cell = next(i for i, tags, src in code_cells(LESSON) if "lost_ms=50" in src)
    assert "sim-only" in dict((i, t) for i, t, _ in code_cells(LESSON))[cell]
    assert outputs[cell] == "  job 1 (order 41): ready\n  job 2 (order 42): gone\n"
    events = [(e.job, e.src, e.dst, e.cause) for e in ns["sim"].trace
              if e.cause in ("restored", "lost")]
    assert sorted(events) == [(1, "deleted", "ready", "restored"),
                              (2, "ready", "deleted", "lost")]


def test_every_lesson_sentence_on_beanstalkd_cites_a_claim_cell() -> None:
    """Each section's beanstalkd behaviour is shown by a claim cell, in the lesson's order."""
    tags = [t for _i, ts, _s in code_cells(LESSON) for t in ts if t.startswith("claim:")]
    assert tags == ["claim:l7-no-binlog-all-gone", "claim:l7-binlog-restores",
                    "claim:l7-delay-goes-on", "claim:l7-reserved-done-twice",
                    "claim:l7-idempotent-once", "claim:l7-process-crash-loses-nothing"]


@pytest.mark.real
def test_the_exercise_story_holds_on_a_real_beanstalkd() -> None:
    """The starter sends an email twice on the real server too; the solution sends each once;
    keyed on job ids it misses the emails of the empty server."""
    require_beanstalkd()
    e = ex.exercise("l7-idempotent")
    by_id = e.solution.replace("job.body not in done", "job.id not in done").replace(
        "done.add(job.body)", "done.add(job.id)")
    for code, twice, missing in ((e.starter, ["email:bob"], []), (e.solution, [], []),
                                 (by_id, [], durability.LATER)):
        with LiveSession(binlog=True) as live:
            real = durability.run(learner(code), live)
        simulated = durability.run(learner(code), stalksim.Simulation(binlog=True))
        for out in (real, simulated):
            assert sorted(b for b, n in out.sent.items() if n > 1) == twice
            assert [b for b in durability.FIRST + durability.LATER if not out.sent[b]] == \
                missing
            assert out.left == 0 and out.drops >= 1
    assert "on a real beanstalkd" in ex.check("l7-idempotent", learner(e.solution)).right
