"""Lesson 5: many workers. Choosing a TTR from the service times; sizing a worker pool."""

from __future__ import annotations

import functools
import math
import random
from collections.abc import Generator
from dataclasses import dataclass
from typing import Any

import greenstalk

from stalksim.exercises._core import Exercise, Feedback, failed, kind, passed, register
from stalksim.exercises._harness import Run, run_workers
from stalksim.metrics import duplicate_work, waits
from stalksim.simulation import Simulation

Z99 = 2.3263  # the standard normal's 99th percentile


def _step(sim: Simulation, service_of: Any) -> Any:
    """Work for `service_of(job)` seconds; then delete, unless the TTR ran out meanwhile."""
    def step(conn: Any, job: Any, name: str) -> Generator[Any, Any, None]:
        yield sim.timeout(service_of(job))
        try:
            conn.delete(job)
        except greenstalk.NotFoundError:  # the TTR ran out: another worker has it now
            sim.mark(name, "not-found", job.id)
    return step


def as_seconds(ex: str, answer: Any, what: str, low: int, high: int) -> int | Feedback:
    if isinstance(answer, bool) or not isinstance(answer, int):
        hint = ("round it to a whole number of seconds (beanstalkd takes whole seconds)."
                if isinstance(answer, float) else f"write it like `answer = {low + 9}`.")
        return failed(ex, f"the answer must be an int ({what}), not {kind(answer)}.", hint)
    if not low <= answer <= high:
        return failed(ex, f"{answer} is out of range: {what} must be from {low} to {high}.",
                      "pick a sensible number of seconds." if what == "a TTR" else
                      "pick a sensible number of workers.")
    return answer


# ---- choosing a TTR -----------------------------------------------------------------------------
@dataclass(frozen=True)
class TtrTask:
    ex: str
    mu: float
    sigma: float
    jobs: int = 2000
    workers: int = 50
    seed: int = 5

    @property
    def median(self) -> float:
        return math.exp(self.mu)

    @property
    def p99(self) -> float:
        return math.exp(self.mu + Z99 * self.sigma)

    @property
    def limit(self) -> int:
        return math.floor(3 * self.p99)

    def run(self, ttr: int) -> tuple[float, Run]:
        """Fraction of jobs worked more than once (TTR expiry) with this TTR."""
        sim = Simulation(seed=self.seed)
        producer = sim.client()
        for i in range(self.jobs):
            producer.put(f"job-{i}", ttr=ttr)
        rng = random.Random(self.seed)
        step = _step(sim, lambda job: rng.lognormvariate(self.mu, self.sigma))
        run = run_workers(Run(sim), step, [f"w{i}" for i in range(1, self.workers + 1)],
                          until=20_000, max_events=400_000)
        return len(duplicate_work(run.trace)["jobs"]) / self.jobs, run

    def check(self, answer: Any) -> Feedback:
        ttr = as_seconds(self.ex, answer, "a TTR", 1, 2**32 - 1)
        if isinstance(ttr, Feedback):
            return ttr
        dup, run = self.run(ttr)
        about = (f"The 99th percentile of the service time is about {self.p99:.1f} s (median "
                 f"{self.median:g} s).")
        if dup >= 0.01:
            return failed(self.ex, f"with TTR={ttr} s, {dup:.1%} of {self.jobs} jobs were "
                          f"worked more than once: their work took longer than the TTR, the "
                          f"server gave them to a second worker.", "the TTR must be longer than "
                          "almost every service time, not the typical one: look at the 99th "
                          "percentile, exp(mu + 2.33 * sigma), and round up.", trace=run.trace)
        if ttr > self.limit:
            return failed(self.ex, f"TTR={ttr} s is far too long: more than 3 times the 99th "
                          f"percentile ({self.limit} s at most).", f"a long TTR has a cost: "
                          f"when a worker hangs, its job waits the whole TTR before another "
                          f"worker may take it. {about} Pick a TTR a little above that.",
                          right=f"No more than {dup:.1%} of jobs were worked twice.",
                          trace=run.trace)
        return passed(self.ex, f"Right: with TTR={ttr} s only {dup:.2%} of {self.jobs} jobs "
                      f"were worked twice, and a hung worker's job comes back within {ttr} s. "
                      f"{about}", trace=run.trace)


def _ttr_instructions(t: TtrTask) -> str:
    return f"""Service times are **log-normal** with `mu = ln({t.median:g})` and
`sigma = {t.sigma:g}`: the median job takes {t.median:g} s, but the tail is long
(`random.lognormvariate(mu, sigma)` draws one). Every job is put with the same TTR.

**Answer:** an int TTR in seconds such that fewer than 1% of jobs are worked twice (their TTR
runs out while a worker still works on them), but not absurdly large: at most 3 times the
99th percentile of the service time. The check runs {t.jobs} jobs on {t.workers} workers in a
seeded simulation and counts jobs reserved again after their TTR expired."""


TTR_SOLUTION = '''import math

mu, sigma = math.log({median:g}), {sigma:g}
p99 = math.exp(mu + 2.3263 * sigma)   # the 99th percentile of the service time
answer = math.ceil(p99 * 1.1)         # a little above it
'''
for task in (TtrTask("l5-ttr-choice", math.log(4), 0.5), TtrTask("ex-ttr", math.log(2), 1.0)):
    register(Exercise(
        task.ex, 5, "Choose a TTR" if task.ex == "l5-ttr-choice" else "A TTR for a long tail",
        _ttr_instructions(task), "answer = 0  # your TTR in seconds\n",
        TTR_SOLUTION.format(median=task.median, sigma=task.sigma), task.check,
        explanation=f"TTR must exceed ~99% of service times: p99 = exp(mu + 2.33 sigma) "
                    f"= {task.p99:.1f} s. A bit above it keeps duplicates under 1% while a "
                    f"hung worker's job still comes back soon."))

# ---- sizing a worker pool ----------------------------------------------------------------------
RATE, MEAN_SERVICE, TARGET, HORIZON = 2.0, 2.5, 1.0, 600.0


def mean_wait(workers: int, seed: int = 11) -> float:
    """Mean wait (put to first reserve) with Poisson arrivals and exponential service."""
    sim = Simulation(seed=seed)
    rng = random.Random(seed)
    service: list[float] = []

    def produce() -> Generator[Any, Any, None]:
        producer = sim.connect("producer")
        while sim.now < HORIZON:
            yield sim.timeout(rng.expovariate(RATE))
            service.append(rng.expovariate(1 / MEAN_SERVICE))
            producer.put(str(len(service) - 1))

    sim.process(produce())
    step = _step(sim, lambda job: service[int(job.body)])
    run = Run(sim)
    run_workers(run, step, [f"w{i}" for i in range(1, workers + 1)], until=2 * HORIZON)
    ws = waits(run.trace)
    backlog = len(service) - len(ws)  # never reserved: count them as waiting HORIZON s
    return (sum(ws) + backlog * HORIZON) / max(1, len(service))


@functools.cache
def smallest_pool() -> tuple[int, dict[int, float]]:
    """The smallest pool that meets the target, and the mean wait of each pool tried."""
    tried: dict[int, float] = {}
    k = math.floor(RATE * MEAN_SERVICE)
    while True:
        tried[k] = mean_wait(k)
        if tried[k] <= TARGET:
            return k, tried
        k += 1


def check_size(answer: Any) -> Feedback:
    ex = "ex-size-workers"
    k = as_seconds(ex, answer, "a number of workers", 1, 200)
    if isinstance(k, Feedback):
        return k
    best, tried = smallest_pool()
    w = tried.get(k) if k in tried else mean_wait(k)
    load = RATE * MEAN_SERVICE
    busy = f"each worker is busy {min(1.0, load / k):.0%} of the time"
    if w > TARGET:
        return failed(ex, f"with {k} workers the mean wait was {w:.1f} s (target "
                      f"{TARGET:g} s); {busy}.", f"the workers must keep up first: jobs arrive "
                      f"at {RATE:g}/s and take {MEAN_SERVICE:g} s, so {load:g} workers are "
                      f"busy all the time and the queue never drains; add workers until the "
                      f"simulated wait is under {TARGET:g} s.")
    if k > best + 1:
        return failed(ex, f"{k} workers meet the target (mean wait {w:.2f} s), but so do "
                      f"{best} (mean wait {tried[best]:.2f} s); {busy}.", "you were asked for "
                      "the smallest pool that is enough: every extra worker costs money and "
                      "sits idle.", right=f"{k} workers are enough.")
    return passed(ex, f"Right: with {k} workers the mean wait is {w:.2f} s "
                  f"(target {TARGET:g} s); {best} is the smallest pool that meets it, "
                  f"{best - 1} gives {tried.get(best - 1, mean_wait(best - 1)):.1f} s.")


register(Exercise(
    "ex-size-workers", 5, "How many workers?",
    f"""Jobs arrive at random (Poisson) at {RATE:g} jobs per second; each takes an
exponentially distributed {MEAN_SERVICE:g} s of work on average. Each worker handles one job
at a time.

**Answer:** the smallest number of workers (an int) for which a job waits on average at most
{TARGET:g} s between put and reserve. The check simulates {HORIZON:g} s of traffic with your
number of workers (the smallest sufficient number, or one more, passes). Work out first how
many workers are busy on average; the feedback tells you the simulated wait.""",
    "answer = 0  # number of workers\n",
    "answer = 7\n",
    check_size,
    explanation=f"{RATE:g} jobs/s × {MEAN_SERVICE:g} s = {RATE * MEAN_SERVICE:g} workers "
                f"busy on average; with exactly that many the queue never drains. A couple "
                f"more give short waits; the simulation finds the smallest."))
