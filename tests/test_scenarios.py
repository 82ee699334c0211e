"""Named scenarios: golden traces, the crash/hang timings, determinism and the registry."""

from __future__ import annotations

import json

import pytest

from stalksim.scenarios import SCENARIOS, Scenario, explain, find, run_scenario
from tests.update_golden import event_lines, golden, path

EXPECTED = {"tutorial", "priorities", "handshake", "crashed-consumer", "hung-consumer",
            "delays", "poison", "pause", "many-workers", "short-ttr"}


def test_registry():
    assert set(SCENARIOS) == EXPECTED
    for name, sc in SCENARIOS.items():
        assert isinstance(sc, Scenario) and sc.name == name and sc.title and sc.description
        assert sc.default_until > 0


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_golden_trace(name):
    """Regenerate with `python -m tests.update_golden NAME` and review the diff."""
    stored = json.loads(path(name).read_text(encoding="utf-8"))
    assert golden(name) == stored


@pytest.mark.parametrize("name", sorted(EXPECTED - {"many-workers"}))
def test_small_scenarios_stay_small_and_finish_their_jobs(name):
    r = run_scenario(name)
    s = r.summary()
    assert 0 < s["jobs_put"] <= 10 and len(r.trace.actors()) <= 6
    assert s["jobs_done"] == s["jobs_put"]


def test_crash_puts_the_job_back_to_ready_at_the_crash_time():
    r = run_scenario("crashed-consumer", at=3.5)
    (crash,) = [e for e in r.trace if e.cause == "crash"]
    back = [e for e in r.trace.for_job(crash.job) if e.cause == "connection-closed"]
    assert crash.time == 3.5 and [(e.time, e.src, e.dst) for e in back] == [
        (3.5, "reserved", "ready")]
    assert r.sim.client().stats()["job-timeouts"] == 0
    s = r.summary()
    assert (s["redeliveries_connection_closed"], s["redeliveries_ttr_expired"]) == (1, 0)


@pytest.mark.parametrize("ttr", [5, 7])
def test_hang_returns_the_job_at_reserve_time_plus_ttr(ttr):
    r = run_scenario("hung-consumer", ttr=ttr, until=2 + ttr + 0.5)
    (hang,) = [e for e in r.trace if e.cause == "hang"]
    events = list(r.trace.for_job(hang.job))
    reserved = next(e for e in events if e.cause == "reserve" and e.actor == hang.actor)
    expired = next(e for e in events if e.cause == "ttr-expired")
    assert expired.time == pytest.approx(reserved.time + ttr, abs=1e-6) and expired.time > hang.time
    assert expired.actor == hang.actor == "worker-1"
    stats = r.sim.client().stats_job(hang.job)
    assert stats["timeouts"] == 1 and stats["reserves"] == 2


def test_hung_worker_wakes_to_not_found_and_duplicate_work_is_counted():
    r = run_scenario("hung-consumer")
    marks = [(e.cause, e.actor) for e in r.trace if not e.dst and e.job]
    assert marks == [("hang", "worker-1"), ("wake", "worker-1"), ("not-found", "worker-1")]
    s = r.summary()
    assert (s["redeliveries_ttr_expired"], s["duplicate_work"], s["jobs_done"]) == (1, 1, 4)
    assert r.sim.client().stats()["job-timeouts"] == 1
    story = " ".join(r.story())
    assert "connection still open" in story and "NOT_FOUND" in story


def test_short_ttr_shows_duplicate_work_and_touch_fixes_it():
    assert run_scenario("short-ttr").summary()["duplicate_work"] >= 1
    fixed = run_scenario("short-ttr", touch=True).summary()
    assert fixed["duplicate_work"] == 0 and fixed["jobs_done"] == 3


def test_poison_is_buried_then_kicked():
    causes = [e.cause for e in run_scenario("poison").trace.for_job(2)]
    assert causes.count("release") == 2 and causes[-3:] == ["kick", "reserve", "delete"]
    assert "bury" in causes


def test_pause_holds_jobs_until_the_pause_ends():
    tr = run_scenario("pause").trace
    ended = next(e.time for e in tr if e.cause == "pause-ended")
    assert ended == 7.5
    assert all(e.time >= ended for e in tr if e.cause == "reserve" and e.job >= 4)


def test_many_workers_is_an_mmc_queue():
    r = run_scenario("many-workers", until=60)
    s = r.summary()
    assert s["jobs_put"] > 300 and s["redeliveries"] == 0
    assert s["wait_p50"] <= s["wait_p90"] <= s["wait_p99"]
    assert len([a for a in r.trace.actors() if a.startswith("worker-")]) == 4


def test_determinism_per_seed_and_chunking_changes_nothing():
    a = run_scenario("tutorial", seed=5).trace
    b = run_scenario("tutorial", seed=5, progress=lambda done, total: None, chunks=7).trace
    assert a.raw == b.raw and event_lines(a) != event_lines(run_scenario("tutorial", seed=6)
                                                              .trace)
    seen: list[float] = []
    run_scenario("handshake", progress=lambda done, total: seen.append(done), chunks=4)
    assert seen == sorted(seen) and seen[-1] == 5.0


def test_trace_meta_names_the_run():
    r = run_scenario("handshake", seed=3)
    assert r.trace.meta["scenario"] == "handshake" and r.trace.meta["seed"] == 3


def test_bad_names_and_params():
    with pytest.raises(KeyError, match="did you mean 'hung-consumer'"):
        find("hung")
    with pytest.raises(KeyError, match="did you mean 'priorities'"):
        find("priorites")
    with pytest.raises(TypeError, match="no parameter"):
        run_scenario("handshake", speed=2)
    with pytest.raises(ValueError):
        run_scenario("handshake", until=-1)


def test_explain_caps_the_story():
    r = run_scenario("short-ttr")
    assert len(explain(r.trace, limit=1)) == 2 and "more" in explain(r.trace, limit=1)[-1]
