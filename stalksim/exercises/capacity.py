"""Lesson 5: many workers. Choosing a TTR from the service times; sizing a worker pool."""

from __future__ import annotations

import functools
import math
import random
from collections.abc import Generator
from dataclasses import dataclass
from typing import Any

from stalksim.exercises._core import Exercise, Feedback, Hint, failed, kind, passed, register
from stalksim.exercises._harness import Run, run_workers
from stalksim.metrics import duplicate_work, waits
from stalksim.simulation import Simulation

Z99 = 2.3263  # the standard normal's 99th percentile


def as_seconds(ex: str, answer: Any, what: str, low: int, high: int) -> int | Feedback:
    if isinstance(answer, bool) or not isinstance(answer, int):
        hint = ("round it up to a whole number of seconds (beanstalkd takes whole seconds)."
                if isinstance(answer, float) else
                Hint("write it as a whole number (an int), without quotes.",
                     f"write it like `answer = {low + 9}`."))
        return failed(ex, f"the answer must be an int ({what}), not {kind(answer)}.", hint)
    if not low <= answer <= high:
        return failed(ex, f"{answer} is out of range: {what} must be from {low} to {high}.",
                      "a TTR is a whole number of seconds, at least 1: start from the "
                      "service times in the instructions." if what == "a TTR" else
                      Hint("start from how many workers are busy on average (the instructions "
                           "give the arrival rate and the service time), and add workers "
                           "from there.", "start from how many workers are busy on average "
                           "(arrival rate times service time) and add workers from there."))
    return answer


# ---- choosing a TTR -----------------------------------------------------------------------------
#: The check passes when at most this fraction of jobs is reserved again after its TTR ran out.
#: The target is 1% (a TTR at the 99th percentile); the extra half point allows for the luck of
#: the draw in a sample of 2000 jobs (one standard deviation is about 0.2%).
DUP_LIMIT = 0.015
HINT_P99 = Hint(
    "the TTR must be longer than almost every service time, not the typical one: with a long "
    "tail, a few jobs take many times the median. Look at the tail of the distribution the "
    "instructions give: the time that 99 jobs in 100 finish within (lesson 5 finds it from "
    "many draws).",
    "the TTR must be longer than almost every service time, not the typical one: compute the "
    "99th percentile, exp(mu + 2.33 * sigma), and round it up to whole seconds.")
HINT_TOO_LONG = Hint(
    "a long TTR has a cost: when a worker hangs, its job waits the whole TTR before another "
    "worker may take it. Aim just above the time that 99 jobs in 100 finish within.",
    "a long TTR has a cost: when a worker hangs, its job waits the whole TTR before another "
    "worker may take it. Compute the 99th percentile, exp(mu + 2.33 * sigma), and pick a TTR "
    "a little above it.")


class Redelivered:
    """The jobs `metrics.duplicate_work` counts (reserved again after their TTR ran out),
    counted as a run goes: each call reads only the trace events that are new."""

    def __init__(self, raw: list[Any]) -> None:
        self.raw, self.read = raw, 0
        self.expired: set[int] = set()
        self.jobs: set[int] = set()
        self.taken: set[int] = set()
        """Jobs reserved at least once."""

    def count(self) -> int:
        raw = self.raw
        for i in range(self.read, len(raw)):
            _, job, _, src, dst, cause, _ = raw[i]
            if not job or not dst or cause == "touch":
                continue
            if dst == "reserved":
                self.taken.add(job)
                if job in self.expired:
                    self.expired.discard(job)
                    self.jobs.add(job)
            elif src == "reserved" and cause == "ttr-expired":
                self.expired.add(job)
        self.read = len(raw)
        return len(self.jobs)


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

    def service_times(self) -> list[list[float]]:
        """Per job, the service time of its 1st, 2nd, 3rd and later attempts (seeded)."""
        rng = random.Random(self.seed)
        return [[rng.lognormvariate(self.mu, self.sigma) for _ in range(4)]
                for _ in range(self.jobs)]

    def run(self, ttr: int, early: bool = True) -> tuple[float, Run]:
        """Fraction of jobs reserved again after their TTR expired, with this TTR, and the run.

        With `early`, the run stops as soon as that fraction is over DUP_LIMIT
        (`run.stopped == "verdict"`): it only grows, so the verdict is then certain, and the
        fraction returned is the one so far. Each job's service times are drawn once per job
        (not in the order workers happen to reserve), so a longer TTR never gives more
        duplicates."""
        sim = Simulation(seed=self.seed)
        producer = sim.client()
        for i in range(self.jobs):
            producer.put(f"job-{i}", ttr=ttr)
        draws = self.service_times()
        attempts: dict[str, int] = {}

        def service_of(job: Any) -> float:
            k = attempts[job.body] = attempts.get(job.body, -1) + 1
            return draws[int(job.body.removeprefix("job-"))][min(k, 3)]

        seen = Redelivered(sim.trace.raw)
        # the workers delete each job after its work; NOT_FOUND (the TTR ran out and another
        # worker has it now) is marked in the trace
        run = run_workers(Run(sim), None, [f"w{i}" for i in range(1, self.workers + 1)],
                          service=service_of, until=20_000, max_events=400_000,
                          stop=(lambda: seen.count() / self.jobs > DUP_LIMIT) if early else None)
        return len(duplicate_work(run.trace)["jobs"]) / self.jobs, run

    def check(self, answer: Any) -> Feedback:
        ttr = as_seconds(self.ex, answer, "a TTR", 1, 2**32 - 1)
        if isinstance(ttr, Feedback):
            return ttr
        dup, run = self.run(ttr)
        if dup > DUP_LIMIT:
            seen = Redelivered(run.trace.raw)
            dups, taken = seen.count(), len(seen.taken)
            return failed(self.ex, f"with TTR={ttr} s, {dups} of the first {taken} jobs "
                          f"the workers took were already reserved again after their TTR ran "
                          f"out: more than the {DUP_LIMIT:.1%} of all {self.jobs} jobs that "
                          f"the check accepts, so it stopped there. Their work took longer "
                          f"than the TTR, so the server gave them to a second worker.",
                          HINT_P99, trace=run.trace)
        if ttr > self.limit:
            return failed(self.ex, f"TTR={ttr} s is far too long: more than 3 times the 99th "
                          f"percentile of the service time.", HINT_TOO_LONG,
                          right=f"Only {dup:.2%} of jobs were worked twice.", trace=run.trace)
        return passed(self.ex, f"Right: with TTR={ttr} s only {dup:.2%} of {self.jobs} jobs "
                      f"were worked twice, and a hung worker's job comes back within {ttr} s. "
                      f"The 99th percentile of the service time is {self.p99:.1f} s (median "
                      f"{self.median:g} s).", trace=run.trace)


def _ttr_instructions(t: TtrTask) -> str:
    return f"""Service times are **log-normal** with `mu = ln({t.median:g})` and
`sigma = {t.sigma:g}`: the median job takes {t.median:g} s, but the tail is long
(`random.lognormvariate(mu, sigma)` draws one). Every job is put with the same TTR.

**Answer:** a TTR (an int, in seconds) above almost every service time: its 99th percentile
or a little more, but not absurdly large (at most 3 times the 99th percentile).

**What the check measures:** it runs {t.jobs} jobs on {t.workers} workers in a seeded
simulation and counts the jobs reserved again after their TTR ran out (a worker was still
working on them). With a TTR at the 99th percentile about 1% of jobs are; the check passes up
to {DUP_LIMIT:.1%}, to allow for the luck of the draw. It stops as soon as more than
{DUP_LIMIT:.1%} of the {t.jobs} jobs have been (the verdict is certain then), and says how many
of the jobs taken so far."""


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
                    f"= {task.p99:.1f} s. That, rounded up, or a bit above it keeps duplicates "
                    f"near 1% while a hung worker's job still comes back soon."))

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
    run = Run(sim)
    run_workers(run, None, [f"w{i}" for i in range(1, workers + 1)],
                service=lambda job: service[int(job.body)], until=2 * HORIZON)
    ws = waits(run.trace)
    backlog = len(service) - len(ws)  # never reserved: count them as waiting HORIZON s
    return (sum(ws) + backlog * HORIZON) / max(1, len(service))


@functools.cache
def mean_wait_of(workers: int) -> float:
    """`mean_wait(workers)`, each pool simulated once per kernel."""
    return mean_wait(workers)


def smallest_pool(upto: int | None = None) -> int:
    """The smallest pool from RATE * MEAN_SERVICE workers up that meets the target (None: up
    to any size; else only pools up to `upto` are tried, and `upto + 1` means none of them)."""
    k = math.floor(RATE * MEAN_SERVICE)
    while mean_wait_of(k) > TARGET and (upto is None or k <= upto):
        k += 1
    return k


def check_size(answer: Any) -> Feedback:
    ex = "ex-size-workers"
    k = as_seconds(ex, answer, "a number of workers", 1, 200)
    if isinstance(k, Feedback):
        return k
    w = mean_wait_of(k)
    load = RATE * MEAN_SERVICE
    busy = f"each worker is busy {min(1.0, load / k):.0%} of the time"
    if w > TARGET and k <= load:
        return failed(ex, f"with {k} workers the mean wait was {w:.1f} s (target "
                      f"{TARGET:g} s); {busy}.", Hint(
                          "the workers must keep up first: with only as many workers as are "
                          "busy on average (from the arrival rate and the service time), or "
                          "fewer, the queue never drains. Add workers beyond that until the "
                          "simulated wait is on target.",
                          f"the workers must keep up first: jobs arrive at {RATE:g}/s and take "
                          f"{MEAN_SERVICE:g} s, so {load:g} workers are busy all the time and "
                          f"with that many or fewer the queue never drains; add workers until "
                          f"the simulated wait is under {TARGET:g} s."))
    if w > TARGET:
        return failed(ex, f"with {k} workers the mean wait was {w:.1f} s (target "
                      f"{TARGET:g} s); {busy}.", "the workers keep up, but jobs still wait "
                      "whenever all of them are busy at once; add workers one at a time until "
                      f"the simulated wait is under {TARGET:g} s.")
    # the answer meets the target: is a pool two smaller enough too? (pools are tried from
    # the smallest up, as far as needed, and each only once)
    best = smallest_pool(upto=k - 2)
    if k > best + 1:
        return failed(ex, f"{k} workers meet the target (mean wait {w:.2f} s), but a smaller "
                      f"pool meets it too; {busy}.", "you were asked for the smallest pool "
                      "that is enough: every extra worker costs money and sits idle. Take "
                      "workers away one at a time while the wait stays on target.",
                      right=f"{k} workers are enough.")
    best = smallest_pool()
    return passed(ex, f"Right: with {k} workers the mean wait is {w:.2f} s "
                  f"(target {TARGET:g} s); {best} is the smallest pool that meets it, "
                  f"{best - 1} gives {mean_wait_of(best - 1):.1f} s.")


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
