"""M/M/c through a simulated beanstalkd, in ciw, and as a bare simpy Resource: same queue.

Each function runs one queue for `until` virtual seconds and returns (customers served,
wall seconds, mean wait). The wait is the time from arrival to the start of service
(put -> reserve for beanstalkd).
"""

from __future__ import annotations

import math
import random
import time

import simpy

import stalksim


def stalksim_mmc(lam: float, mu: float, c: int, until: float, *, seed: int = 1,
                 trace: bool = False, measure_wait: bool = True) -> tuple[int, float, float]:
    """One producer putting at rate lam; c workers reserve, work Exp(mu), delete (TTR 60)."""
    sim = stalksim.Simulation(seed=seed, trace=trace)
    arrivals = random.Random(seed)
    producer = sim.connect("producer")
    env = sim.env
    put_at: dict[int, float] = {}
    waits = [0.0, 0]

    def produce():
        while True:
            yield env.timeout(arrivals.expovariate(lam))
            id = producer.put(b"job", ttr=60)
            if measure_wait:
                put_at[id] = env.now

    def work(conn, rng):
        while True:
            job = yield conn.reserve()
            if measure_wait:
                waits[0] += env.now - put_at.pop(job.id)
                waits[1] += 1
            yield env.timeout(rng.expovariate(mu))
            conn.delete(job)

    sim.process(produce())
    for i in range(c):
        sim.process(work(sim.connect(f"worker-{i}"), random.Random(seed * 1000 + i)))
    t0 = time.perf_counter()
    sim.run(until=until)
    wall = time.perf_counter() - t0
    done = sim.server.ops.get("delete", 0)
    return done, wall, waits[0] / max(waits[1], 1)


def simpy_mmc(lam: float, mu: float, c: int, until: float, *,
              seed: int = 1) -> tuple[int, float, float]:
    """The same queue as a bare simpy Resource with c servers."""
    env = simpy.Environment()
    servers = simpy.Resource(env, capacity=c)
    rng = random.Random(seed)
    stats = [0, 0.0, 0]

    def customer():
        arrived = env.now
        with servers.request() as req:
            yield req
            stats[1] += env.now - arrived
            stats[2] += 1
            yield env.timeout(rng.expovariate(mu))
        stats[0] += 1

    def source():
        while True:
            yield env.timeout(rng.expovariate(lam))
            env.process(customer())

    env.process(source())
    t0 = time.perf_counter()
    env.run(until=until)
    return stats[0], time.perf_counter() - t0, stats[1] / max(stats[2], 1)


def ciw_mmc(lam: float, mu: float, c: int, until: float, *,
            seed: int = 1) -> tuple[int, float, float]:
    """The same queue in ciw (imported here: a benchmark-only dependency)."""
    import ciw

    network = ciw.create_network(
        arrival_distributions=[ciw.dists.Exponential(rate=lam)],
        service_distributions=[ciw.dists.Exponential(rate=mu)],
        number_of_servers=[c],
    )
    ciw.seed(seed)
    q = ciw.Simulation(network)
    t0 = time.perf_counter()
    q.simulate_until_max_time(until)
    wall = time.perf_counter() - t0
    records = q.get_all_records()
    waits = [r.waiting_time for r in records]
    return len(records), wall, sum(waits) / max(len(waits), 1)


def erlang_c_wait(lam: float, mu: float, c: int) -> float:
    """Mean wait in queue of M/M/c (Erlang C), the analytic value all three should agree on."""
    a = lam / mu
    rho = a / c
    top = a**c / math.factorial(c) / (1 - rho)
    p_wait = top / (sum(a**k / math.factorial(k) for k in range(c)) + top)
    return p_wait / (c * mu - lam)
