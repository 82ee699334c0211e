"""Property: under random workloads and random crash/hang faults no job is lost or duplicated.

Every put job ends deleted or in exactly one state, the trace replays (strictly) to the
simulator's final state, and deliveries to workers equal reserve events in the trace.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from stalksim import Simulation
from stalksim.core import BURIED, DELAYED, READY, RESERVED
from stalksim.scenarios import run_scenario
from stalksim.trace import RESERVE_CAUSES, replay
from stalksim.workers import (
    Constant,
    Crash,
    Exponential,
    Hang,
    PoisonJob,
    Producer,
    SlowWorker,
    Toucher,
    Uniform,
    Worker,
)

TUBES = ["a", "b"]
UNTIL = 30.0

times = st.floats(0.0, 25.0, allow_nan=False).map(lambda t: round(t, 2))
fault = st.one_of(
    st.builds(Crash, at=times),
    st.builds(Crash, after_jobs=st.integers(0, 3)),
    st.builds(Hang, at=times, for_=st.one_of(st.none(), st.floats(0.1, 15.0))),
    st.builds(Hang, after_jobs=st.integers(0, 3), for_=st.one_of(st.none(), st.floats(0.1, 9))),
    st.just(PoisonJob("poison", tries=2, backoff=1)),
)
service = st.one_of(st.builds(Constant, st.floats(0.05, 5.0)),
                    st.builds(Exponential, st.floats(0.1, 3.0)),
                    st.builds(Uniform, st.just(0.1), st.floats(0.2, 6.0)))
producer = st.fixed_dictionaries({
    "tube": st.sampled_from(TUBES),
    "count": st.integers(1, 6),
    "interval": st.floats(0.0, 3.0),
    "priority": st.integers(0, 2000),
    "delay": st.integers(0, 3),
    "ttr": st.integers(1, 6),
    "poison": st.booleans(),
})
worker = st.fixed_dictionaries({
    "kind": st.sampled_from([Worker, Worker, SlowWorker, Toucher]),
    "tubes": st.lists(st.sampled_from(TUBES), min_size=1, max_size=2, unique=True),
    "service": service,
    "faults": st.lists(fault, max_size=2),
    "start": st.floats(0.0, 5.0),
})


def build(seed: int, producers: list[dict[str, Any]], workers: list[dict[str, Any]]
          ) -> tuple[Simulation, list[Worker]]:
    sim = Simulation(seed=seed)
    for p in producers:
        poison = p["poison"]
        Producer(p["tube"], interval=p["interval"], count=p["count"], priority=p["priority"],
                 delay=p["delay"], ttr=p["ttr"],
                 body=lambda n, poison=poison: "poison" if poison and n % 2 else f"job {n}"
                 ).start(sim)
    ws = []
    for w in workers:
        extra = {"every": 0.7} if w["kind"] is Toucher else {}
        ws.append(w["kind"](w["tubes"], service=w["service"], faults=w["faults"],
                            start=w["start"], **extra).start(sim))
    return sim, ws


def check(sim: Simulation, workers: list[Worker]) -> None:
    raw = sim.trace.raw
    final = replay(raw, strict=True)  # every transition starts where the last one ended
    puts = Counter(ev[1] for ev in raw if ev[5] == "put")
    assert set(puts) == set(final) == set(range(1, sim.server.next_id))
    assert set(puts.values()) <= {1}

    live = sim.server.jobs
    assert {j for j, s in final.items() if s != "deleted"} == set(live)
    for id, job in live.items():
        assert final[id] == job.state
    sim.server.check()  # each job in one place matching its state, holders live, counters
    snap = sim.server.snapshot()
    where = Counter(j.id for t in snap.tubes.values()
                    for jobs in (t.ready, t.delayed, t.buried, t.reserved) for j in jobs)
    for c in snap.conns.values():
        assert all(j.holder == c.number and j.state == RESERVED for j in c.reserved)
    assert set(where.values()) <= {1} and set(where) == set(live)  # exactly one place each
    counts = Counter(job.state for job in live.values())
    assert sum(t.ready_n for t in sim.server.tubes) == counts[READY]
    assert sum(t.delayed_n for t in sim.server.tubes) == counts[DELAYED]
    assert sum(t.buried_n for t in sim.server.tubes) == counts[BURIED]

    reserves = Counter(ev[1] for ev in raw if ev[5] in RESERVE_CAUSES)
    assert sum(reserves.values()) == sum(w.deliveries for w in workers)
    for id, job in live.items():
        assert job.reserves == reserves[id]
    expired = sum(ev[5] == "ttr-expired" for ev in raw)
    assert sim.server.job_timeouts == expired


@settings(max_examples=150, deadline=None, database=None,
          suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 2**16), producers=st.lists(producer, min_size=1, max_size=3),
       workers=st.lists(worker, min_size=1, max_size=3))
def test_no_job_is_lost_or_duplicated(seed, producers, workers):
    sim, ws = build(seed, producers, workers)
    sim.run(until=UNTIL / 2)
    check(sim, ws)  # holds mid-run, with jobs in flight
    sim.run(until=UNTIL)
    check(sim, ws)


def test_a_crash_heavy_run_still_accounts_for_every_job():
    sim, ws = build(1, [{"tube": "a", "count": 6, "interval": 0.3, "priority": 5, "delay": 0,
                         "ttr": 2, "poison": False}] * 3,
                    [{"kind": Worker, "tubes": ["a"], "service": Constant(1.0),
                      "faults": [Crash(after_jobs=1)], "start": 0.0}] * 2
                    + [{"kind": Worker, "tubes": ["a"], "service": Constant(1.0),
                        "faults": [Hang(at=3.0)], "start": 0.0}])
    sim.run(until=UNTIL)
    check(sim, ws)
    assert {w.state for w in ws} == {"crashed", "hung"}
    left = [ev for ev in sim.trace.raw if ev[5] == "connection-closed"]
    assert len(left) == 2


def test_named_scenarios_account_for_every_job():
    for name in ("crashed-consumer", "hung-consumer", "short-ttr", "poison", "many-workers"):
        r = run_scenario(name, until=40)
        workers = [a for a in r.actors if isinstance(a, Worker)]
        check(r.sim, workers)
