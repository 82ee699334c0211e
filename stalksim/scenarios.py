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
from stalksim.stories import explain, job_list, secs
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


Texts = Callable[[dict[str, Any]], tuple[str, str]]
"""`texts(params)` -> (title, description) of a run with these parameters (and `until`)."""


@dataclass(frozen=True)
class Scenario:
    """A named story: `build(sim, **params)` starts its producers and workers; `texts` says
    what a run with given parameters sets up, `outcome` adds what its trace shows."""

    name: str
    texts: Texts
    build: Callable[..., Any]
    default_until: float
    params: dict[str, Any] = field(default_factory=dict)
    long: bool = False  # worth a progress bar
    labels: dict[str, str] = field(default_factory=dict)  # parameter -> label for a control
    outcome: Callable[[Result], list[str]] | None = None

    @property
    def title(self) -> str:
        """The title with the default parameters."""
        return self.texts({**self.params, "until": self.default_until})[0]

    @property
    def description(self) -> str:
        """The description with the default parameters."""
        return self.texts({**self.params, "until": self.default_until})[1]

    def label(self, param: str) -> str:
        """A human label for a parameter ("hang for (s)" for `for_`)."""
        return self.labels.get(param) or COMMON_LABELS.get(param) or param.rstrip("_")


COMMON_LABELS = {"seed": "seed", "until": "run for (s)", "ttr": "TTR (s)"}


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

    @property
    def title(self) -> str:
        """The scenario's title for this run's parameters."""
        return self.scenario.texts({**self.params, "until": self.until})[0]

    @property
    def description(self) -> str:
        """What this run sets up, with its parameters."""
        return self.scenario.texts({**self.params, "until": self.until})[1]

    def summary(self) -> dict[str, Any]:
        """`stalksim.metrics.summary` of the trace."""
        return metrics.summary(self.trace)

    def story(self, limit: int = 4) -> list[str]:
        """Plain-English lines for each crash, hang, TTR that ran out and command that came
        too late (see `explain`)."""
        return explain(self.trace, limit)

    def outcome(self) -> list[str]:
        """What this run's trace came to, in the scenario's own terms (the reserve order,
        who waited for a pause, measured waits...); empty when the story says it all."""
        return self.scenario.outcome(self) if self.scenario.outcome else []


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


# ---- what each scenario sets up (from its parameters) and what came of it (from its trace) ----

def _g(x: Any) -> str:
    return f"{x:g}" if isinstance(x, int | float) else str(x)


def _unless_after_end(t: float, p: dict[str, Any], what: str) -> str:
    return (f" ({what} at {_g(t)} s comes after this run ends at {_g(p['until'])} s, so it "
            f"does not happen here)" if t >= p["until"] else "")


def _tutorial_texts(p: dict[str, Any]) -> tuple[str, str]:
    return ("orders and emails tubes, each with its own consumer",
            f"A shop puts an order every 1.5 s and a newsletter an email every 2 s ({p['jobs']} "
            f"of each, as far as the run lasts), and two hello jobs go to default; each tube "
            f"has its own worker, which watches only that tube, so a slow email never "
            f"delays an order.")


PRIORITIES = [1024, 10, 500, 0, 2000, 10]


def _priorities_texts(p: dict[str, Any]) -> tuple[str, str]:
    return ("lower priority number first",
            f"Six jobs with priorities {', '.join(map(str, PRIORITIES))} are put at 0 s; the "
            f"worker starts at 1 s and reserves the most urgent (smallest number) first, "
            f"equal priorities by job id (oldest first).")


def _priorities_outcome(r: Result) -> list[str]:
    order = [f"{e.job} (p{PRIORITIES[e.job - 1]})" for e in r.trace if e.cause == "reserve"]
    return [f"The worker reserved jobs in this order: {', '.join(order)}."] if order else []


def _handshake_texts(p: dict[str, Any]) -> tuple[str, str]:
    return ("reserve, work, delete",
            "One producer puts jobs at 0, 1 and 1.5 s; one worker reserves each, works 1 s "
            "and deletes it: ready -> reserved -> deleted. A job is gone only once the worker "
            "deletes it.")


def _fault_setup(p: dict[str, Any]) -> str:
    short = (f" A TTR of {p['ttr']} s is shorter than the 2 s of work, so jobs also time out."
             if p["ttr"] < 2 else "")
    return (f"Four orders with a TTR of {p['ttr']} s are put at 0, 1, 2 and 3 s; worker-1 and "
            f"worker-2 take 2 s per order.{short}")


def _crashed_texts(p: dict[str, Any]) -> tuple[str, str]:
    return (f"worker-1 crashes at {_g(p['at'])} s (TTR {p['ttr']} s): a crashed worker's job "
            f"is ready again at once",
            f"{_fault_setup(p)} worker-1 crashes at {_g(p['at'])} s: its connection closes, "
            f"so beanstalkd makes any job it holds ready at once, whatever the TTR; worker-2 "
            f"reserves it when it is free.{_unless_after_end(p['at'], p, 'the crash')}")


def _hung_texts(p: dict[str, Any]) -> tuple[str, str]:
    span = "for good" if p["for_"] is None else f"for {_g(p['for_'])} s"
    return (f"worker-1 hangs at {_g(p['at'])} s {span} (TTR {p['ttr']} s): a hung worker "
            f"keeps its job until the TTR or until it wakes",
            f"{_fault_setup(p)} worker-1 hangs at {_g(p['at'])} s {span} with its connection "
            f"open: a job it holds stays reserved to it until the job's TTR runs out ("
            f"{p['ttr']} s after it was reserved) or worker-1 wakes, whichever comes first; "
            f"only then can worker-2 have it.{_unless_after_end(p['at'], p, 'the hang')}")


def _delays_texts(p: dict[str, Any]) -> tuple[str, str]:
    return ("delayed jobs and release-with-delay back-off",
            "A reminder is put with a 5 s delay, so it is ready only at 5 s; a flaky call "
            "fails twice and is released with a 1 s, then a 2 s delay before it succeeds.")


def _poison_texts(p: dict[str, Any]) -> tuple[str, str]:
    return (f"bury a poison job, kick it at {_g(p['kick_at'])} s",
            f"Job 2 fails until a fix is deployed at 10 s: the worker releases it with a 1 s, "
            f"then a 2 s delay (a kick ends a delay early) and buries it on its third "
            f"reserve. An operator kicks the tube at {_g(p['kick_at'])} s: a kicked job is "
            f"ready again (and fails again if the fix is not out yet)."
            f"{_unless_after_end(p['kick_at'], p, 'the kick')}")


def _bury_outcome(r: Result) -> list[str]:
    buried = sorted({e.job for e in r.trace if e.cause == "bury"})
    return [f"Job {j}: " + ", ".join(f"{e.cause} at {secs(e.time)}" for e in r.trace.for_job(j)
                                     if e.cause in ("bury", "kick", "reserve", "delete"))
            + "." for j in buried]


def _pause_texts(p: dict[str, Any]) -> tuple[str, str]:
    end = p["pause_at"] + p["pause_for"]
    return (f"emails paused at {_g(p['pause_at'])} s for {p['pause_for']} s: its jobs wait",
            f"The app puts an email every second (8 in all, from 0 s); the worker takes 0.5 s "
            f"each. At {_g(p['pause_at'])} s the operator pauses the emails tube for "
            f"{p['pause_for']} s: until {_g(end)} s nobody can reserve from it, so its jobs "
            f"stay ready, and the worker takes them once the pause ends."
            f"{_unless_after_end(p['pause_at'], p, 'the pause')}")


def _pause_outcome(r: Result) -> list[str]:
    tr = list(r.trace)
    start = next((e.time for e in tr if e.cause == "pause"), None)
    end = next((e.time for e in tr if e.cause == "pause-ended"), None)
    if start is None:
        return []
    if end is None:
        return [f"The pause started at {secs(start)} and had not ended when the run did."]
    waited = sorted({e.job for e in tr if e.cause == "reserve" and e.time == end}
                    | {e.job for e in tr if e.cause == "put" and start <= e.time < end})
    return [f"The pause lasted from {secs(start)} to {secs(end)}; "
            + (f"{job_list(waited)} waited for it to end." if waited else
               "no job was waiting meanwhile, so nothing was held up.")]


def _load(p: dict[str, Any]) -> float:
    return p["rate"] * p["mean"] / p["workers"]


def _many_texts(p: dict[str, Any]) -> tuple[str, str]:
    load, w = _load(p), p["workers"]
    rule = (" Below 100% the workers keep up on average, but waits grow steeply as the "
            "load nears 100%." if load < 1 else " At 100% or more, work arrives faster than "
            "the workers can do it: the queue keeps growing as long as the run lasts.")
    return (f"an {'overloaded ' if load >= 1 else ''}M/M/c queue: {w} worker"
            f"{'s' if w != 1 else ''} at {load:.0%} load",
            f"Poisson arrivals ({_g(p['rate'])} jobs/s) and exponential service (mean "
            f"{_g(p['mean'])} s) across {w} workers: the load is {_g(p['rate'])} x "
            f"{_g(p['mean'])} / {w} = {load:.0%}.{rule}")


def _many_outcome(r: Result) -> list[str]:
    s = r.summary()
    waits = ("no job was reserved" if s["wait_mean"] is None else
             f"mean wait {s['wait_mean']:.3g} s, 90% of jobs waited at most "
             f"{s['wait_p90']:.3g} s")
    return [f"In {_g(r.until)} s: {s['jobs_put']} jobs put, {s['jobs_done']} done, "
            f"{s['jobs_left']} still queued or in progress at the end; {waits}."]


def _short_ttr_texts(p: dict[str, Any]) -> tuple[str, str]:
    ttr = p["ttr"]
    setup = (f"Three reports with a TTR of {ttr} s are put at 0, 0.2 and 0.4 s; two workers "
             f"take 1 to 3 s each (uniformly drawn).")
    if p["touch"]:
        return (f"TTR {ttr} s, workers touch every {_g(ttr / 2)} s: no TTR runs out",
                f"{setup} The workers touch their job every {_g(ttr / 2)} s while they work; "
                f"touch restarts the TTR, so it never runs out and no job is done twice.")
    if ttr >= 3:
        return (f"TTR {ttr} s for 1 to 3 s of work: no TTR runs out",
                f"{setup} No job takes longer than its {ttr} s TTR, so none is taken away.")
    return (f"TTR {ttr} s for 1 to 3 s of work: the TTR can run out",
            f"{setup} When work takes longer than {ttr} s the job is ready again: if the "
            f"other worker reserves it, the work is done twice and the slow worker's delete "
            f"gets NOT_FOUND; if nobody has, the slow worker's delete succeeds (DELETED: any "
            f"client may delete a ready job).")


def _short_ttr_outcome(r: Result) -> list[str]:
    expired = sum(e.cause == "ttr-expired" for e in r.trace)
    touches = sum(e.cause == "touch" for e in r.trace)
    done = f"{touches} touches; " if r.params["touch"] else ""
    since: dict[int, float] = {}
    longest = 0.0
    for e in r.trace:
        if e.cause == "reserve":
            since[e.job] = e.time
        elif e.cause == "delete" and e.src == "reserved":
            longest = max(longest, e.time - since[e.job])
    return [f"In all: {done}a TTR ran out {expired} time(s); the longest reservation that "
            f"ended in a delete lasted {secs(longest)} (TTR {r.params['ttr']} s)."]


SCENARIOS: dict[str, Scenario] = {s.name: s for s in (
    Scenario("tutorial", _tutorial_texts, _tutorial, 12.0, {"jobs": 3},
             labels={"jobs": "jobs per tube"}),
    Scenario("priorities", _priorities_texts, _priorities, 8.0, outcome=_priorities_outcome),
    Scenario("handshake", _handshake_texts, _handshake, 5.0),
    Scenario("crashed-consumer", _crashed_texts, _crashed, 15.0, {"at": 3.5, "ttr": 5},
             labels={"at": "crash at (s)"}),
    Scenario("hung-consumer", _hung_texts, _hung, 15.0, {"at": 3.5, "ttr": 5, "for_": 8.0},
             labels={"at": "hang at (s)", "for_": "hang for (s)"}),
    Scenario("delays", _delays_texts, _delays, 10.0),
    Scenario("poison", _poison_texts, _poison, 16.0, {"kick_at": 12.0},
             labels={"kick_at": "kick at (s)"}, outcome=_bury_outcome),
    Scenario("pause", _pause_texts, _pause, 12.0, {"pause_at": 2.5, "pause_for": 5},
             labels={"pause_at": "pause at (s)", "pause_for": "pause for (s)"},
             outcome=_pause_outcome),
    Scenario("many-workers", _many_texts, _many, 300.0,
             {"workers": 4, "rate": 8.0, "mean": 0.4}, long=True,
             labels={"workers": "workers", "rate": "arrivals (jobs/s)",
                     "mean": "mean service (s)"}, outcome=_many_outcome),
    Scenario("short-ttr", _short_ttr_texts, _short_ttr, 12.0, {"ttr": 2, "touch": False},
             labels={"touch": "workers touch their job"}, outcome=_short_ttr_outcome),
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
