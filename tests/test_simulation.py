"""What only the simulator has: a virtual clock, processes, and a clear error instead of a hang."""

from __future__ import annotations

import greenstalk
import pytest

import stalksim


def test_two_simulations_never_share_state():
    a, b = stalksim.Simulation(), stalksim.Simulation()
    assert a.client().put("x") == 1
    assert b.client().put("y") == 1
    a.advance(5)
    assert (a.now, b.now) == (5.0, 0.0)
    assert b.client().stats()["total-jobs"] == 1


def test_a_blocking_reserve_with_nothing_to_come_says_so_instead_of_hanging():
    sim = stalksim.Simulation()
    c = sim.client()
    with pytest.raises(stalksim.WouldWaitForever) as e:
        c.reserve()
    assert isinstance(e.value, greenstalk.TimedOutError)
    assert "wait forever" in str(e.value) and "real beanstalkd" in str(e.value)
    assert sim.now == 0.0  # no time jump
    c.put("now there is one")  # the client is usable again: its wait was withdrawn
    assert c.reserve().body == "now there is one"
    assert c.stats()["current-waiting"] == 0


def test_a_blocking_reserve_runs_virtual_time_until_a_delay_matures():
    sim = stalksim.Simulation()
    c = sim.client()
    c.put("later", delay=90)
    assert c.reserve().body == "later"
    assert sim.now == 90.0


def test_reserve_with_timeout_advances_at_most_the_timeout():
    sim = stalksim.Simulation()
    c = sim.client()
    c.put("too late", delay=10)
    with pytest.raises(greenstalk.TimedOutError):
        c.reserve(timeout=4)
    assert sim.now == 4.0
    assert c.reserve(timeout=10).body == "too late"
    assert sim.now == 10.0


def test_processes_and_synchronous_clients_mix():
    sim = stalksim.Simulation(seed=1)
    done = []

    def worker(conn):
        while True:
            job = yield conn.reserve()
            yield sim.timeout(2)
            conn.delete(job)
            done.append((job.body, sim.now))

    sim.process(worker(sim.connect("w1", watch="orders")))
    producer = sim.client(use="orders")
    producer.put("a")
    producer.put("b")
    sim.advance(5)
    assert done == [("a", 2.0), ("b", 4.0)]
    actors = {r.actor for r in sim.trace if r.cause == "reserve"}
    assert actors == {"w1"}


def test_a_process_reserve_that_times_out_fails_its_event():
    sim = stalksim.Simulation()
    seen = []

    def worker(conn):
        try:
            yield conn.reserve(timeout=3)
        except greenstalk.TimedOutError:
            seen.append(sim.now)

    sim.process(worker(sim.connect("w")))
    sim.run()
    assert seen == [3.0]


def test_connection_names_are_unique_and_bad_arguments_are_refused():
    sim = stalksim.Simulation()
    sim.connect("w")
    with pytest.raises(ValueError, match="already exists"):
        sim.connect("w")
    with pytest.raises(ValueError, match="seconds"):
        sim.advance(-1)
    with pytest.raises(ValueError, match="max_job_size"):
        stalksim.Simulation(max_job_size=-5)


def test_the_same_seed_gives_the_same_trace():
    from stalksim.scenarios import run_scenario

    one = run_scenario("many-workers", seed=4, until=30).trace
    two = run_scenario("many-workers", seed=4, until=30).trace
    assert list(one) == list(two) and len(one) > 50


def test_deleted_ready_jobs_are_not_kept_alive() -> None:
    """Deleting ready (or kicking delayed) jobs from the middle of a tube leaves stale heap
    entries; they are dropped once they outnumber the live ones, and the order is kept."""
    sim = stalksim.Simulation(trace=False)
    c = sim.client(encoding=None)
    keep = [c.put(b"k", priority=p) for p in (5, 1, 3)]
    for _ in range(10_000):
        c.delete(c.put(b"x", priority=2))
    delayed = [c.put(b"d", delay=60) for _ in range(500)]
    for id in delayed[:-1]:
        c.kick_job(id)
        c.delete(id)
    tube = sim.server.tube_by_name["default"]
    assert len(tube.ready) <= 2 * tube.ready_n + 65 and len(tube.delayed) <= 66
    assert [c.reserve(timeout=0).id for _ in keep] == [keep[1], keep[2], keep[0]]
