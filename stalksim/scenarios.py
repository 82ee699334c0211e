"""Named, seeded scenarios: the tutorial and its follow-ups, each a small story in a trace.

    result = run_scenario("hung-consumer", seed=0)
    result.summary()          # numbers from stalksim.metrics.summary
    result.story()            # what happened, in plain English

Every scenario is a function of its seed and parameters alone. Most keep to a handful of jobs
and two or three workers, so a plot reads at a glance; `many-workers` is the exception.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from stalksim import metrics
from stalksim.simulation import Simulation
from stalksim.workers import (
    Crash,
    Exponential,
    FlakyJob,
    Hang,
    PoisonJob,
    Producer,
    Toucher,
    Uniform,
    Worker,
    call_at,
)

if TYPE_CHECKING:
    from stalksim.trace import Trace

Progress = Callable[[float, float], None]
"""Called as `progress(virtual_time_done, until)` after each chunk of a run."""


@dataclass(frozen=True)
class Scenario:
    """A named story: `build(sim, **params)` starts its producers and workers."""

    name: str
    title: str
    description: str
    build: Callable[..., Any]
    default_until: float
    params: dict[str, Any] = field(default_factory=dict)
    long: bool = False  # worth a progress bar


@dataclass
class Result:
    """A finished run: the simulation, its trace (with scenario/seed/params in `meta`)."""

    scenario: Scenario
    sim: Simulation
    seed: int
    until: float
    params: dict[str, Any]
    actors: Any = None
    _trace: Trace | None = None

    @property
    def trace(self) -> Trace:
        if self._trace is None:
            self._trace = self.sim.trace
            self._trace.meta.update(scenario=self.scenario.name, seed=self.seed,
                                    until=self.until, params=self.params)
        return self._trace

    def summary(self) -> dict[str, Any]:
        """`stalksim.metrics.summary` of the trace."""
        return metrics.summary(self.trace)

    def story(self, limit: int = 4) -> list[str]:
        """Plain-English lines for each crash, hang and lost delete (see `explain`)."""
        return explain(self.trace, limit)


# ---- plain-English explanations -------------------------------------------------------------

def _s(t: float) -> str:
    return f"{round(t, 3):g} s"


def explain(trace: Trace, limit: int = 4) -> list[str]:
    """One line per crash, hang, and delete that came too late, from the trace alone."""
    h = metrics.handoffs(trace)
    nxt = {(j, c, a): (by, at) for j, c, a, by, at in zip(
        h["job"], h["cause"], h["lost_by"], h["next_by"], h["next_at"], strict=True)}
    lost: dict[tuple[int, str], tuple[float, float]] = {}  # (job, worker) -> (reserved, lost)
    held_since: dict[int, float] = {}
    hung: set[tuple[int, str]] = set()
    lines: list[str] = []
    for r in trace:
        if r.dst == "reserved" and r.cause != "touch":
            held_since[r.job] = r.time
        elif r.src == "reserved" and r.cause == "ttr-expired":
            lost[r.job, r.actor] = (held_since.get(r.job, r.time), r.time)
        if r.cause == "crash":
            lines.append(_crash_line(r, nxt) if r.job else f"{r.actor} crashed at {_s(r.time)} "
                         "holding no job: nothing to give back.")
        elif r.cause == "hang" and r.job:
            hung.add((r.job, r.actor))
            lines.append(_hang_line(r, nxt, trace, held_since.get(r.job)))
        elif r.cause == "not-found" and r.job:
            since, at = lost.get((r.job, r.actor), (None, None))
            why = (f"its TTR had expired at {_s(at)}" if at is not None else
                   "it was no longer reserved by this worker")
            woke = "woke up and" if (r.job, r.actor) in hung else "finished and"
            lines.append(f"{r.actor} {woke} tried to delete job {r.job} at {_s(r.time)}: "
                         f"NOT_FOUND, because {why}"
                         + (" and another worker had it: the work was done twice."
                            if (r.job, "ttr-expired", r.actor) in nxt else "."))
    if len(lines) > limit:
        lines = [*lines[:limit], f"... and {len(lines) - limit} more like these."]
    return lines


def _crash_line(r: Any, nxt: dict) -> str:
    then = nxt.get((r.job, "connection-closed", r.actor))
    after = f"; {then[0]} reserved it at {_s(then[1])}." if then else "."
    return (f"{r.actor} crashed at {_s(r.time)} holding job {r.job}: its connection closed, "
            f"so beanstalkd made job {r.job} ready again at once ({_s(r.time)}){after}")


def _hang_line(r: Any, nxt: dict, trace: Trace, since: float | None) -> str:
    back = next((e for e in trace.for_job(r.job) if e.time >= r.time and e.src == "reserved"
                 and e.cause == "ttr-expired" and e.actor == r.actor), None)
    if back is None:
        return (f"{r.actor} hung at {_s(r.time)} holding job {r.job} with its connection "
                f"open: the job stays reserved until its TTR runs out.")
    then = nxt.get((r.job, "ttr-expired", r.actor))
    after = f", then {then[0]} reserved it at {_s(then[1])}" if then else ""
    since = back.time if since is None else since
    return (f"{r.actor} hung at {_s(r.time)} holding job {r.job} with its connection still "
            f"open: job {r.job} stayed reserved until its TTR expired at {_s(back.time)} "
            f"({_s(back.time - since)} after {r.actor} reserved it at {_s(since)}){after}.")


# ---- the scenarios ---------------------------------------------------------------------------

def _tutorial(sim: Simulation, *, jobs: int = 3) -> list[Any]:
    return [
        Producer("orders", interval=1.5, count=jobs, body="order {n}", name="shop").start(sim),
        Producer("emails", interval=2.0, start=0.5, count=jobs, body="email {n}",
                 name="newsletter").start(sim),
        Producer("default", at=[1.0, 4.0], body="hello {n}", name="hello").start(sim),
        Worker("orders", service=Uniform(0.5, 2.0), name="orders-worker").start(sim),
        Worker("emails", service=Uniform(1.0, 3.0), name="emails-worker").start(sim),
        Worker("default", service=0.5, name="default-worker").start(sim),
    ]


def _priorities(sim: Simulation) -> list[Any]:
    pris = [1024, 10, 500, 0, 2000, 10]
    return [
        Producer("tasks", at=[0.0] * len(pris), priority=_seq(pris),
                 body="task {n}", name="producer").start(sim),
        Worker("tasks", service=1.0, name="worker", start=1.0).start(sim),
    ]


def _seq(values: list[int]) -> Callable[[Any], int]:
    """A priority 'draw' that hands out `values` in order (for a fixed story)."""
    it = iter(values)
    return lambda _rng: next(it)


def _handshake(sim: Simulation) -> list[Any]:
    return [Producer(at=[0.0, 1.0, 1.5], body="job {n}", name="producer").start(sim),
            Worker(service=1.0, name="worker").start(sim)]


def _fault_story(sim: Simulation, fault: Crash | Hang, ttr: int) -> list[Any]:
    """Shared by crashed-consumer and hung-consumer, so the two differ only in the fault."""
    return [
        Producer("orders", at=[0.0, 1.0, 2.0, 3.0], ttr=ttr, body="order {n}",
                 name="shop").start(sim),
        Worker("orders", service=2.0, name="worker-1", faults=[fault]).start(sim),
        Worker("orders", service=2.0, name="worker-2").start(sim),
    ]


def _crashed(sim: Simulation, *, at: float = 3.5, ttr: int = 5) -> list[Any]:
    return _fault_story(sim, Crash(at=at), ttr)


def _hung(sim: Simulation, *, at: float = 3.5, ttr: int = 5, for_: float | None = 8.0
          ) -> list[Any]:
    return _fault_story(sim, Hang(at=at, for_=for_), ttr)


def _delays(sim: Simulation) -> list[Any]:
    return [
        Producer("reminders", at=[0.0], delay=5, body="remind in 5 s", name="scheduler"
                 ).start(sim),
        Producer("reminders", at=[0.5, 1.0], body="flaky call {n}", name="app").start(sim),
        Worker("reminders", service=0.5, name="worker",
               faults=[FlakyJob("flaky call 1", fails_first=2, backoff=1)]).start(sim),
    ]


def _poison(sim: Simulation, *, kick_at: float = 12.0) -> list[Any]:
    ops = sim.connect("operator", use="jobs")
    call_at(sim, kick_at, lambda: ops.kick(10))
    return [
        Producer("jobs", at=[0.0, 0.5, 1.0], body=lambda n: "poison" if n == 2 else f"job {n}",
                 name="producer").start(sim),
        Worker("jobs", service=0.5, name="worker",
               faults=[PoisonJob("poison", tries=3, backoff=1, fixed_at=10.0)]).start(sim),
    ]


def _pause(sim: Simulation, *, pause_at: float = 2.5, pause_for: int = 5) -> list[Any]:
    ops = sim.connect("operator", use="emails")
    call_at(sim, pause_at, lambda: ops.pause_tube("emails", pause_for))
    return [Producer("emails", interval=1.0, count=8, body="email {n}", name="app").start(sim),
            Worker("emails", service=0.5, name="worker").start(sim)]


def _many(sim: Simulation, *, workers: int = 4, rate: float = 8.0, mean: float = 0.4
          ) -> list[Any]:
    out: list[Any] = [Producer("work", rate=rate, name="arrivals").start(sim)]
    out += [Worker("work", service=Exponential(mean), name=f"worker-{i}").start(sim)
            for i in range(1, workers + 1)]
    return out


def _short_ttr(sim: Simulation, *, ttr: int = 2, touch: bool = False) -> list[Any]:
    kind = Toucher if touch else Worker
    extra = {"every": ttr / 2} if touch else {}
    return [Producer("reports", at=[0.0, 0.2, 0.4], ttr=ttr, body="report {n}",
                     name="producer").start(sim),
            *(kind("reports", service=Uniform(1.0, 3.0), name=f"worker-{i}", **extra
                   ).start(sim) for i in (1, 2))]


SCENARIOS: dict[str, Scenario] = {s.name: s for s in (
    Scenario("tutorial", "orders and emails tubes, each with its own consumer",
             "Two producers fill the orders and emails tubes, a third uses default; each tube "
             "has its own worker, so a slow email never delays an order.", _tutorial, 12.0,
             {"jobs": 3}),
    Scenario("priorities", "lower priority number first",
             "Six jobs with mixed priorities wait before a worker starts; it takes them most "
             "urgent (smallest number) first, ties in put order.", _priorities, 8.0),
    Scenario("handshake", "reserve, work, delete",
             "One producer, one worker: each job goes ready -> reserved -> deleted; the job "
             "is gone only once the worker deletes it.", _handshake, 5.0),
    Scenario("crashed-consumer", "a crashed worker's job is ready again at once",
             "worker-1 crashes mid-job; its connection closes, so beanstalkd puts the job back "
             "to ready at the crash time and worker-2 picks it up.", _crashed, 15.0,
             {"at": 3.5, "ttr": 5}),
    Scenario("hung-consumer", "a hung worker's job waits for its TTR",
             "worker-1 hangs mid-job with its connection open; the job stays reserved until "
             "its TTR expires, worker-2 redoes it, and worker-1 wakes to a NOT_FOUND delete.",
             _hung, 15.0, {"at": 3.5, "ttr": 5, "for_": 8.0}),
    Scenario("delays", "delayed jobs and release-with-delay back-off",
             "A reminder is put with a 5 s delay; a flaky call fails twice and is released "
             "with 1 s then 2 s back-off before it succeeds.", _delays, 10.0),
    Scenario("poison", "bury a poison job, kick it after the fix",
             "A job that always fails is retried with back-off, buried on its third try, and "
             "kicked back by an operator once a fix is deployed.", _poison, 16.0,
             {"kick_at": 12.0}),
    Scenario("pause", "pausing a tube holds its jobs",
             "The operator pauses the emails tube for 5 s: jobs pile up as ready and drain "
             "when the pause ends.", _pause, 12.0, {"pause_at": 2.5, "pause_for": 5}),
    Scenario("many-workers", "an M/M/c queue: 4 workers at 80% load",
             "Poisson arrivals (8 jobs/s) and exponential service (mean 0.4 s) across 4 "
             "workers; waits are short on average with a long tail.", _many, 300.0,
             {"workers": 4, "rate": 8.0, "mean": 0.4}, long=True),
    Scenario("short-ttr", "a TTR shorter than the work: jobs done twice",
             "Jobs take 1-3 s but have a 2 s TTR: when work overruns, the job is handed to the "
             "other worker and the first one's delete fails. touch=True fixes it.",
             _short_ttr, 12.0, {"ttr": 2, "touch": False}),
)}


def find(name: str) -> Scenario:
    """The scenario called `name`; a KeyError says which names come close."""
    if name in SCENARIOS:
        return SCENARIOS[name]
    close = [n for n in SCENARIOS if n.startswith(name) or name in n] if name else []
    close = close or difflib.get_close_matches(name, SCENARIOS, n=2, cutoff=0.5)
    hint = f"; did you mean {' or '.join(repr(c) for c in close[:2])}?" if close else ""
    raise KeyError(f"unknown scenario {name!r}{hint} (python -m stalksim list shows them all)")


def run_scenario(name: str, *, seed: int = 0, until: float | None = None,
                 progress: Progress | None = None, chunks: int = 50, **params: Any) -> Result:
    """Build and run a scenario to `until` (default: its own), deterministic per seed.

    With `progress`, the run goes in `chunks` slices of virtual time and reports after each;
    slicing never changes the result (simpy keeps its event order across `run` calls).
    """
    sc = find(name)
    unknown = set(params) - set(sc.params)
    if unknown:
        raise TypeError(f"scenario {name!r} has no parameter(s) {', '.join(sorted(unknown))}; "
                        f"it takes: {', '.join(sc.params) or 'none'}")
    until = sc.default_until if until is None else until
    if not until >= 0:
        raise ValueError(f"until must be >= 0 seconds, not {until!r}")
    sim = Simulation(seed=seed)
    actors = sc.build(sim, **params)
    if progress is not None and until > 0:
        for k in range(1, chunks):
            sim.env.run(until=until * k / chunks)
            progress(sim.now, until)
    sim.run(until=until)
    if progress is not None:
        progress(until, until)
    return Result(sc, sim, seed, until, {**sc.params, **params}, actors)
