"""Workers, producers, distributions and faults, each in a tiny simulation."""

from __future__ import annotations

import random

import pytest

from stalksim import Simulation
from stalksim.workers import (
    Constant,
    Crash,
    Exponential,
    FlakyJob,
    Hang,
    LogNormal,
    PoisonJob,
    Producer,
    SlowWorker,
    Toucher,
    Uniform,
    Worker,
    rng_for,
)


def causes(sim: Simulation, job: int | None = None) -> list[tuple[float, str, str]]:
    return [(round(r.time, 3), r.cause, r.actor) for r in sim.trace
            if job is None or r.job == job]


@pytest.mark.parametrize("dist, mean", [(Constant(2.0), 2.0), (Exponential(0.5), 0.5),
                                        (Uniform(1.0, 3.0), 2.0), (LogNormal(1.0, 0.5), 1.0)])
def test_distributions_are_seeded_and_have_the_right_mean(dist, mean):
    a = [dist.sample(random.Random(7)) for _ in range(3)]
    assert a == [dist.sample(random.Random(7)) for _ in range(3)]
    rng = random.Random(1)
    xs = [dist.sample(rng) for _ in range(20000)]
    assert min(xs) >= 0 and sum(xs) / len(xs) == pytest.approx(mean, rel=0.05)


def test_each_actor_draws_from_its_own_generator():
    sim = Simulation(seed=3)
    assert rng_for(sim, "w").random() == rng_for(sim, "w").random()
    assert rng_for(sim, "w").random() != rng_for(sim, "v").random()

    def service_of_w1(extra_workers: int) -> list[float]:
        sim = Simulation(seed=3)
        Producer(rate=2.0, count=30).start(sim)
        w1 = Worker(service=Exponential(1.0), name="w1").start(sim)
        for i in range(extra_workers):
            Worker(service=Exponential(1.0), name=f"extra-{i}").start(sim)
        return [w1.service.sample(w1.rng) for _ in range(5)]

    assert service_of_w1(0) == service_of_w1(3)


def test_producer_times_bodies_and_draws():
    sim = Simulation(seed=1)
    p = Producer("t", interval=2.0, start=1.0, count=3, priority=lambda rng: rng.randint(0, 9),
                 delay=1, ttr=7, body="x{n}").start(sim)
    sim.run(until=20)
    c = sim.client()
    puts = [(r.time, r.job) for r in sim.trace if r.cause == "put"]
    assert puts == [(1.0, 1), (3.0, 2), (5.0, 3)] and p.ids == [1, 2, 3]
    assert c.peek(2).body == "x2" and c.stats_job(2)["ttr"] == 7
    assert p.name == "producer-1" and {r.actor for r in sim.trace} == {"producer-1", ""}
    with pytest.raises(ValueError):
        Producer(rate=1.0, interval=1.0)


def test_poisson_producer_is_deterministic_per_seed():
    def times(seed: int) -> list[float]:
        sim = Simulation(seed=seed)
        Producer(rate=5.0, count=20).start(sim)
        sim.run(until=100)
        return [r.time for r in sim.trace]

    assert times(1) == times(1) != times(2)
    assert len(times(1)) == 20


def test_worker_loop_reserve_work_delete_with_named_connection():
    sim = Simulation(seed=0)
    Producer(at=[0.0, 0.0], name="p").start(sim)
    w = Worker(service=1.5, name="alice").start(sim)
    sim.run(until=10)
    assert causes(sim) == [(0.0, "put", "p"), (0.0, "put", "p"), (0.0, "reserve", "alice"),
                           (1.5, "delete", "alice"), (1.5, "reserve", "alice"),
                           (3.0, "delete", "alice")]
    assert (w.done, w.deliveries, w.state) == (2, 2, "idle")


def test_crash_returns_the_job_at_the_crash_time():
    sim = Simulation(seed=0)
    Producer(at=[0.0], ttr=30).start(sim)
    w = Worker(service=10.0, name="w", faults=[Crash(at=4.0)]).start(sim)
    Worker(service=1.0, name="v", start=1.0).start(sim)
    sim.run(until=60)
    assert causes(sim, 1) == [(0.0, "put", "producer-1"), (0.0, "reserve", "w"),
                              (4.0, "crash", "w"), (4.0, "connection-closed", "w"),
                              (4.0, "reserve", "v"), (5.0, "delete", "v")]
    assert w.state == "crashed" and w.done == 0


def test_hang_returns_the_job_at_reserve_time_plus_ttr_and_wake_finds_it_gone():
    sim = Simulation(seed=0)
    Producer(at=[1.0], ttr=6).start(sim)
    w = Worker(service=3.0, name="w", faults=[Hang(at=2.0, for_=20.0)]).start(sim)
    Worker(service=1.0, name="v", start=0.5).start(sim)
    sim.run(until=8.0)
    c = sim.client()
    assert c.stats_job(1)["timeouts"] == 1 and c.stats()["job-timeouts"] == 1
    sim.run(until=60)
    assert causes(sim, 1) == [(1.0, "put", "producer-1"), (1.0, "reserve", "w"),
                              (2.0, "hang", "w"), (7.0, "ttr-expired", "w"),
                              (7.0, "reserve", "v"), (8.0, "delete", "v"),
                              (22.0, "wake", "w"), (22.0, "not-found", "w")]
    assert (w.not_found, w.done, w.state) == (1, 0, "idle")


def test_hang_forever_keeps_the_connection_and_a_crash_can_still_end_it():
    sim = Simulation(seed=0)
    Producer(at=[0.0], ttr=100).start(sim)
    w = Worker(service=5.0, name="w", faults=[Hang(at=1.0), Crash(at=50.0)]).start(sim)
    sim.run(until=40)
    assert w.state == "hung" and sim.client().stats_job(1)["state"] == "reserved"
    sim.run(until=60)
    assert causes(sim, 1)[-2:] == [(50.0, "crash", "w"), (50.0, "connection-closed", "w")]


def test_faults_after_jobs_strike_halfway_through_the_next_job():
    sim = Simulation(seed=0)
    Producer(at=[0.0, 0.0, 0.0]).start(sim)
    w = Worker(service=2.0, name="w", faults=[Crash(after_jobs=1)]).start(sim)
    sim.run(until=30)
    assert causes(sim, 2)[-2:] == [(3.0, "crash", "w"), (3.0, "connection-closed", "w")]
    assert w.done == 1
    with pytest.raises(ValueError):
        Crash()
    with pytest.raises(ValueError):
        Hang(at=1.0, after_jobs=2)


def test_a_hang_while_idle_still_receives_a_job_it_cannot_work_on():
    sim = Simulation(seed=0)
    w = Worker(service=1.0, name="w", faults=[Hang(at=1.0)]).start(sim)
    Producer(at=[2.0], ttr=3).start(sim)
    sim.run(until=4.0)
    assert w.deliveries == 1 and w.state == "hung"
    sim.run(until=6.0)
    assert [c for _, c, _ in causes(sim, 1)] == ["put", "reserve", "ttr-expired"]


def test_slow_worker_scales_service_time():
    sim = Simulation(seed=0)
    Producer(at=[0.0]).start(sim)
    SlowWorker(service=2.0, factor=3.0).start(sim)
    sim.run(until=10)
    assert causes(sim, 1)[-1] == (6.0, "delete", "slow-worker-1")


def test_toucher_keeps_a_long_job_that_a_plain_worker_loses():
    def run(kind: type[Worker], **kw: float) -> Simulation:
        sim = Simulation(seed=0)
        Producer(at=[0.0], ttr=3).start(sim)
        kind(service=10.0, name="w", **kw).start(sim)
        sim.run(until=30)
        return sim

    touched = run(Toucher, every=2.0)
    assert [c for _, c, _ in causes(touched)].count("touch") == 4
    assert causes(touched)[-1] == (10.0, "delete", "w")
    plain = run(Worker)
    assert [c for _, c, _ in causes(plain)] == ["put", "reserve", "ttr-expired", "delete"]
    # beanstalkd lets anyone delete a ready job: the late delete works only because no other
    # worker took the job meanwhile
    assert [r.src for r in plain.trace][-1] == "ready"


def test_poison_job_is_retried_with_backoff_then_buried():
    sim = Simulation(seed=0)
    Producer(at=[0.0], body="poison").start(sim)
    w = Worker(service=0.5, name="w", faults=[PoisonJob("poison", tries=3, backoff=1)]
               ).start(sim)
    sim.run(until=30)
    assert causes(sim, 1) == [
        (0.0, "put", "producer-1"), (0.0, "reserve", "w"), (0.5, "release", "w"),
        (1.5, "delay-matured", ""), (1.5, "reserve", "w"), (2.0, "release", "w"),
        (4.0, "delay-matured", ""), (4.0, "reserve", "w"), (4.5, "bury", "w")]
    assert (w.released, w.buried, w.done) == (2, 1, 0)
    assert sim.client().stats_job(1)["reserves"] == 3


def test_flaky_job_succeeds_after_its_failures():
    sim = Simulation(seed=0)
    Producer(at=[0.0], body="flaky").start(sim)
    w = Worker(service=0.5, name="w", faults=[FlakyJob("flaky", fails_first=1)]).start(sim)
    sim.run(until=30)
    assert (w.released, w.done) == (1, 1)
    assert PoisonJob(lambda b: b.startswith("x")).matches("xy")
